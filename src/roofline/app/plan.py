"""Plan a serving config: load it and its model, resolve the device, evaluate, plan, sweep. What
``roofline plan CONFIG``, ``plot``/``report`` of a config, the gate's plan adapter and
``roofline.plan()`` run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roofline.analysis.result import HardwareUsed, hardware_used
from roofline.errors import InputError
from roofline.hardware.registry import Registry, resolve_roofs
from roofline.planner.result import PlanResult, build_plan_result
from roofline.planner.serving import ServingContext, build_context, evaluate
from roofline.planner.serving_planner import plan_serving
from roofline.workload.hub_cache import hub_cache_dir
from roofline.workload.model import load_model
from roofline.workload.parallel import layout_notes
from roofline.workload.serving import ServingConfig, load_serving_config
from roofline.yamlio import load_yaml

PLAN_CHARTS = ("roofline", "steps", "frontier")


def is_serving_config(path: Path) -> bool:
    """A YAML mapping with a ``model`` and no ``kernels``: a serving config, not declared kernels."""
    if Path(path).suffix.lower() not in (".yaml", ".yml") or not Path(path).is_file():
        return False
    try:
        # The capped loader: a 500-deep '[[[…' was a RecursionError here (exit 3), and a
        # multi-GB YAML was read whole just to sniff it.
        data, _ = load_yaml(Path(path), what="serving config")
    except InputError:
        return False  # the declared-kernel reader gives the precise error
    return isinstance(data, dict) and "model" in data and "kernels" not in data


def parse_sweep(text: str) -> list[int]:
    """``batch=1,8,32`` (sequences run together, must fit) or ``concurrency=1,8,64`` (clients of a
    continuous engine: beyond what fits they queue); sweep_key() says which."""
    key, _, values = text.partition("=")
    if key.strip() not in ("batch", "concurrency") or not values:
        raise InputError(f"cannot read sweep '{text}'", place="--sweep",
                         fix="write --sweep batch=1,8,32,128 or --sweep concurrency=1,16,64")
    try:
        batches = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"batch sizes must be integers: '{values}'", place="--sweep", fix="e.g. batch=1,8,32") from None
    if not batches or any(b < 1 for b in batches):
        raise InputError("batch sizes must be ≥ 1", place="--sweep", fix="e.g. batch=1,8,32")
    return batches


@dataclass
class PlannedConfig:
    """A planned serving config with what it was planned from: the config, the evaluation context
    (model, device, roofs) and the hardware figures the charts need."""

    path: Path | None
    result: PlanResult
    config: ServingConfig
    context: ServingContext
    hardware: HardwareUsed

    def sweep(self, batches: list[int], key: str = "batch") -> list[dict[str, object]]:
        return sweep_rows(self.config, self.context, batches, key)

    def steps_figure(self):  # type: ignore[no-untyped-def]
        from roofline.report.charts.plan import plan_steps_figure

        return plan_steps_figure(self.result)

    def roofline_figure(self, labels: int):  # type: ignore[no-untyped-def]
        from roofline.report.charts.plan import plan_roofline_figure

        return plan_roofline_figure(self.result, self.hardware, decode_steps=self.config.serving.output_tokens,
                                    labels=labels)

    def frontier_figure(self, sweep: str | None):  # type: ignore[no-untyped-def]
        from roofline.report.charts.plan import default_sweep, frontier_figure

        final = ServingConfig.model_validate(self.result.final_config) if self.result.steps else None
        if sweep:
            batches = parse_sweep(sweep)
        else:
            batches = default_sweep([self.result.baseline.max_batch] + ([self.result.final.max_batch] if final else []))
        baseline_rows = sweep_rows(self.config, self.context, batches)
        final_rows = sweep_rows(final, self.context, batches) if final is not None else None
        if not sweep:
            # The default sweep runs up to each config's memory limit: a batch past the other
            # config's limit is not a finding, just the end of that curve.
            baseline_rows = [row for row in baseline_rows if not row.get("error")]
            final_rows = [row for row in final_rows if not row.get("error")] if final_rows is not None else None
        return frontier_figure(self.result, baseline_rows, final_rows)


def plan_serving_config(cfg: ServingConfig, registry: Registry, *, base: Path, config_file: Path | None = None,
                        ceilings: str | None = None, max_steps: int = 8, model: str | None = None) -> PlannedConfig:
    """Plan ``cfg`` (its relative paths resolved against ``base``); ``model`` overrides its model."""
    if model is not None:
        cfg = cfg.model_copy(update={"model": model})
    hub_cache = hub_cache_dir()
    try:
        spec, roofs, overlay = resolve_roofs(registry, cfg.hardware, ceilings=ceilings)
        arch, ignored = load_model(cfg.model, base=base, hub_cache=hub_cache)
        context = build_context(cfg, arch, spec, roofs, base=base, hub_cache=hub_cache)
        outcome = plan_serving(cfg, context, max_steps=max_steps)
    except InputError as exc:
        raise _in_config(exc, config_file) from None
    notes = [f"{arch.name}: config keys ignored: {', '.join(ignored)}"] if ignored else []
    notes += layout_notes(arch, cfg)
    origin = "measured" if roofs.uses_measured else "datasheet"
    result = build_plan_result(outcome, config_file=str(config_file) if config_file else None, hardware=spec.name,
                               ceilings=f"{origin}" + (f" ({overlay})" if overlay else ""), notes=notes,
                               profile=context.profile)
    return PlannedConfig(config_file, result, cfg, context,
                         hardware_used(spec, roofs, str(overlay) if overlay else None))


def plan_config(path: Path, registry: Registry, *, hw: str | None = None, ceilings: str | None = None,
                max_steps: int = 8, model: str | None = None) -> PlannedConfig:
    """Plan the serving config file ``path``; ``hw`` (None or 'auto': the config's own) and
    ``model`` override its keys (a ``model`` path is relative to the working directory, as a
    command-line argument is; the config's own ``model:`` is relative to the config)."""
    path = Path(path)
    if model is not None and not Path(model).is_absolute() and Path(model).exists():
        model = str(Path(model).resolve())
    cfg = load_serving_config(path)
    hw_given = hw is not None and hw.lower() != "auto"
    if hw_given:
        cfg = cfg.model_copy(update={"hardware": hw})
    try:
        return plan_serving_config(cfg, registry, base=path.parent, config_file=path, ceilings=ceilings,
                                   max_steps=max_steps, model=model)
    except InputError as exc:
        if hw_given and exc.file == path and exc.place == "hardware":
            raise InputError(exc.message, file=path, place="--hw", fix=exc.fix) from None
        raise


def _in_config(exc: InputError, path: Path | None) -> InputError:
    """An error about a value the serving config gave (its model, hardware, sizes) names the
    config file and the key; one about another file (a config.json) keeps its own."""
    if exc.file is not None or path is None:
        return exc
    place = "hardware" if exc.place == "--hw" else exc.place
    return InputError(exc.message, file=path, place=place, fix=exc.fix)


def sweep_key(text: str | None) -> str:
    return "concurrency" if text and text.partition("=")[0].strip() == "concurrency" else "batch"


def sweep_rows(cfg: ServingConfig, context: Any, batches: list[int], key: str = "batch") -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for batch in batches:
        trial = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={key: batch})})
        try:
            p = evaluate(trial, context).prediction
        except InputError as exc:
            rows.append({"batch": batch, "error": exc.message})
            continue
        rows.append({"batch": batch if key == "batch" else p.running, "ttft_s": p.ttft_s, "itl_s": p.itl_s,
                     "throughput_tok_s": p.throughput_tok_s,
                     "throughput_tok_s_per_gpu": p.throughput_tok_s_per_gpu, "decode_bound": p.decode.bound,
                     "max_batch": p.memory.max_batch,
                     **({"concurrency": batch, "queued": p.queued} if key == "concurrency" else {})})
    return rows
