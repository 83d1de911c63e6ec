"""The Python API: the same results the command line renders, for notebooks and scripts.

    >>> import roofline
    >>> result = roofline.classify("trace.json.gz")          # ClassifyResult
    >>> result.summary.verdict, result.to_dataframe()
    >>> plan = roofline.plan("llama-3-70b", hardware="h100-sxm", gpus=8, tensor=8, batch=1)
    >>> plan.baseline.itl_s, [step.technique for step in plan.steps]

Every function raises :class:`roofline.InputError` (file, place, fix) for unusable input — never
a traceback from inside. Results offer ``to_dict()`` (the ``--format json`` document),
``to_dataframe()`` (pandas), ``_repr_html_()`` (Jupyter) and ``__rich__`` (the terminal).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

from roofline.errors import InputError

PathLike = Union[str, "os.PathLike[str]"]


def _paths(value: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(value, (str, os.PathLike)):
        return [Path(value)]
    return [Path(v) for v in value]


def registry(hw_files: Sequence[PathLike] | None = None, hw_dirs: Sequence[PathLike] | None = None):  # type: ignore[no-untyped-def]
    """The hardware registry (bundled specs, plus ``hw_files``/``hw_dirs`` and ``$ROOFLINE_HW_PATH``)."""
    from roofline.app.registry import registry_for

    return registry_for(hw_files, hw_dirs)


def device(name: str, *, ceilings: str | None = None, hw_files: Sequence[PathLike] | None = None,
           hw_dirs: Sequence[PathLike] | None = None):  # type: ignore[no-untyped-def]
    """One device's spec and the roofs used to judge kernels on it: ``(spec, roofs)``.
    ``ceilings='measured'`` (or a ceilings YAML) lays measured roofs over the datasheet."""
    from roofline.hardware.registry import resolve_roofs

    spec, roofs, _ = resolve_roofs(registry(hw_files, hw_dirs), name, ceilings=ceilings)
    return spec, roofs


def classify(path_or_paths: PathLike | Sequence[PathLike], hw: str = "auto", step: int | None = None,
             counters: PathLike | None = None, ceilings: str | None = None, *, device: int | None = None,
             hw_files: Sequence[PathLike] | None = None, hw_dirs: Sequence[PathLike] | None = None,
             jobs: int | None = None, backend: str = "local", scheduler: str | None = None,
             one_job: bool = False, reference: PathLike | None = None,
             graph_capture: PathLike | None = None, model: str | None = None):  # type: ignore[no-untyped-def]
    """Classify a trace, an Nsight export, a classify JSON or declared kernels.

    One file gives a :class:`~roofline.analysis.result.ClassifyResult`; several files a list of
    them. A directory gives a :class:`~roofline.analysis.fleet.FleetResult` when its traces say
    they are the ranks of one job (``one_job=True`` forces it), else a
    :class:`~roofline.analysis.fleet.TraceSetResult` of separate traces side by side;
    ``jobs``/``backend``/``scheduler``/``reference`` as ``roofline classify DIR/`` (docs/ranks.md);
    ``graph_capture`` (a capture profile or its directory) costs graph-replayed kernels from the ops
    recorded at capture (docs/op-costs.md); ``model`` (a bundled name, config.json, model directory
    or cached repo id) costs serving-engine ops whose weights live in the layer, such as vLLM's
    ``moe_forward`` (docs/op-costs.md, "Engine ops sized by the model")."""
    from roofline.app.classify import analyse_path, read_counters
    from roofline.app.model_context import model_layer

    paths = _paths(path_or_paths)
    if not paths:
        raise InputError("no input given", fix="pass a trace file, a list of them, or a directory of ranks")
    if any(p.is_dir() for p in paths):
        if len(paths) > 1 or counters is not None or graph_capture is not None or model is not None:
            raise InputError("a directory of ranks is classified alone, without counters", file=paths[0],
                             fix="classify(DIR) or classify([file, ...])")
        from roofline.app.fleet import classify_directory

        return classify_directory(paths[0], jobs=jobs, backend=backend, scheduler=scheduler, one_job=one_job,
                                  reference=Path(reference) if reference is not None else None, hw=hw, ceilings=ceilings,
                                  hw_files=[Path(p) for p in hw_files or []], hw_dirs=[Path(p) for p in hw_dirs or []],
                                  step=step, device=device)
    reg = registry(hw_files, hw_dirs)
    counter_input = read_counters(Path(counters)) if counters is not None else None
    layer = model_layer(str(model)) if model is not None else None
    results = [a.result for path in paths
               for a in analyse_path(path, reg, hw, ceilings, step=step, device=device, counters=counter_input,
                                     graph_capture=Path(graph_capture) if graph_capture is not None else None,
                                     model=layer)]
    return results[0] if len(results) == 1 and isinstance(path_or_paths, (str, os.PathLike)) else results


def calibrate_traces(path_or_paths: PathLike | Sequence[PathLike], *, base: str = "generic", hw: str = "auto",
                     ceilings: str | None = None, hw_files: Sequence[PathLike] | None = None,
                     hw_dirs: Sequence[PathLike] | None = None):  # type: ignore[no-untyped-def]
    """Fit an engine profile to profiler traces of your own prefill and decode steps, as
    ``roofline calibrate TRACE... -o P.yaml``: a :class:`~roofline.app.calibrate_trace.TraceFit` whose
    ``calibration.profile`` is the :class:`~roofline.workload.engine_profile.EngineProfile`,
    ``calibration.constants`` the fit table and ``held_out`` the leave-one-trace-out predictions.
    ``base`` is a bundled engine name or a profile YAML whose other constants are kept."""
    from roofline.app.calibrate_trace import base_profile
    from roofline.app.calibrate_trace import calibrate_traces as fit

    return fit(_paths(path_or_paths), base_profile(base), registry(hw_files, hw_dirs), hw=hw, ceilings=ceilings)


def plan_trace(path: PathLike, *, verify: PathLike | None = None, applied: Sequence[str] | None = None,
               hw: str = "auto", step: int | None = None, device: int | None = None, ceilings: str | None = None,
               max_steps: int = 8, hw_files: Sequence[PathLike] | None = None,
               hw_dirs: Sequence[PathLike] | None = None, graph_capture: PathLike | None = None,
               model: str | PathLike | None = None):  # type: ignore[no-untyped-def]
    """The ordered plan for what a profiled run shows (:class:`~roofline.planner.trace_result.TracePlanResult`);
    ``verify``: a second trace after the change, to check the prediction against; ``graph_capture``
    and ``model`` as in :func:`classify` (the capture joins the planned trace only)."""
    from roofline.app.model_context import model_layer
    from roofline.app.trace_plan import plan_traces

    plans = plan_traces([Path(path)], registry(hw_files, hw_dirs), hw=hw, ceilings=ceilings, step=step,
                        device=device, max_steps=max_steps, verify=Path(verify) if verify is not None else None,
                        applied=list(applied) if applied is not None else None,
                        graph_capture=Path(graph_capture) if graph_capture is not None else None,
                        model=model_layer(str(model)) if model is not None else None)
    if len(plans) != 1:
        raise InputError(f"holds {len(plans)} results", file=path, fix="plan one trace at a time")
    return plans[0]


def plan(config_or_model: PathLike, *, ceilings: str | None = None, max_steps: int = 8,
         hw_files: Sequence[PathLike] | None = None, hw_dirs: Sequence[PathLike] | None = None,
         **overrides: Any):  # type: ignore[no-untyped-def]
    """Plan LLM serving (:class:`~roofline.planner.result.PlanResult`).

    ``config_or_model`` is a serving config YAML, or a model (bundled name, config.json path or
    cached Hugging Face repo id) with the config given as keywords. Keywords name any key of the
    config, top-level (``hardware``, ``gpus``) or inside its sections, by its own name
    (``tensor=8``, ``batch=32``, ``prompt_tokens=2048``, ``kv_cache='int8'``, ``itl_ms=50``,
    ``cuda_graphs=True``) or dotted as a section (``parallelism={'tensor': 8}``)."""
    from roofline.app.plan import is_serving_config, plan_serving_config
    from roofline.workload.serving import ServingConfig, load_serving_config

    reg = registry(hw_files, hw_dirs)
    ref = Path(config_or_model)
    if is_serving_config(ref):
        data = load_serving_config(ref).model_dump(exclude_unset=True)
        base, config_file = ref.parent, ref
    else:
        if ref.suffix.lower() in (".yaml", ".yml") and ref.exists():
            raise InputError("is not a serving config (a YAML mapping with a model key)", file=ref,
                             fix="see docs/plan.md for the serving config")
        data = {"model": str(config_or_model)}
        base, config_file = Path.cwd(), None
    data = _apply_overrides(data, overrides)
    if "hardware" not in data:
        raise InputError("no hardware given", place="hardware", fix="pass hardware='h100-sxm' (roofline hw list)")
    from roofline.yamlio import validate

    cfg = validate(ServingConfig, data, path=config_file or Path("roofline.plan()"), node=None, what="serving config")
    return plan_serving_config(cfg, reg, base=base, config_file=config_file, ceilings=ceilings,
                               max_steps=max_steps).result


def _apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides laid into a serving config's mapping: a top-level key, a section given
    whole (a dict, merged), or a key of one section named alone (it must name exactly one)."""
    from roofline.workload.serving import ServingConfig

    sections = _section_fields(ServingConfig)
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    for key, value in overrides.items():
        if key in sections and isinstance(value, Mapping):
            out[key] = {**(out.get(key) or {}), **value}
            continue
        if key in ServingConfig.model_fields and key not in sections:
            out[key] = value
            continue
        owners = [name for name, fields in sections.items() if key in fields]
        if len(owners) != 1:
            known = sorted({f for fields in sections.values() for f in fields} | set(ServingConfig.model_fields))
            what = "names keys of several sections: " + ", ".join(owners) if owners else "is not a serving-config key"
            raise InputError(f"keyword '{key}' {what}", place=key,
                             fix=("give the section, e.g. " + f"{owners[0]}={{'{key}': ...}}" if owners else
                                  "known keys: " + ", ".join(known)))
        section = out.get(owners[0]) or {}
        out[owners[0]] = {**section, key: value}
    return out


def _section_fields(model: type) -> dict[str, set[str]]:
    """The sections of a config model (fields that are models themselves) and their keys."""
    from pydantic import BaseModel

    found: dict[str, set[str]] = {}
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        annotation = field.annotation
        candidates = getattr(annotation, "__args__", (annotation,))
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found[name] = set(candidate.model_fields)
    return found


def snapshot(path_or_paths: PathLike | Sequence[PathLike], *, hw: str = "auto", ceilings: str | None = None,
             env: Mapping[str, str] | None = None, hw_files: Sequence[PathLike] | None = None,
             hw_dirs: Sequence[PathLike] | None = None):  # type: ignore[no-untyped-def]
    """What the gate compares (:class:`~roofline.gating.snapshot.Snapshot`): per-step times, work,
    rates and bounds of traces, kernel lists, benchmark JSON or serving configs."""
    from roofline.app.gate import snapshot_paths
    from roofline.gating.adapters import SnapshotOptions

    options = SnapshotOptions(hw=hw, ceilings=ceilings, registry=registry(hw_files, hw_dirs), env=dict(env or {}))
    return snapshot_paths(_paths(path_or_paths), options)


def gate(baseline: PathLike, current: PathLike, thresholds: PathLike | None = None, *,
         fail_on_improvement: bool = False, hw: str = "auto", ceilings: str | None = None,
         env: Mapping[str, str] | None = None, hw_files: Sequence[PathLike] | None = None,
         hw_dirs: Sequence[PathLike] | None = None):  # type: ignore[no-untyped-def]
    """Compare ``current`` with ``baseline`` (snapshot files or raw inputs):
    :class:`~roofline.gating.result.GateResult`, whose ``exit_code`` is what ``roofline gate`` exits with."""
    from roofline.app.gate import gate_paths
    from roofline.gating.adapters import SnapshotOptions

    options = SnapshotOptions(hw=hw, ceilings=ceilings, registry=registry(hw_files, hw_dirs), env=dict(env or {}))
    result, _ = gate_paths(Path(baseline), Path(current), options,
                           thresholds=Path(thresholds) if thresholds is not None else None,
                           fail_on_improvement=fail_on_improvement)
    return result
