"""``roofline plan CONFIG`` — where a serving config stands, and the ordered steps to its SLOs —
and ``roofline plan TRACE...`` — the ordered steps for what a profiled run shows, with
``--verify AFTER`` checking the predicted deltas against a second trace."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.cli.common import CeilingsOption, HwDirOption, HwFileOption, handle_errors, registry_from_options, write_output
from roofline.errors import InputError
from roofline.hardware.registry import resolve_roofs
from roofline.plan.result import PlanResult, build_plan_result
from roofline.plan.serving import build_context, evaluate, plan_serving
from roofline.report.plan_render import plan_markdown, plan_renderable, sweep_table
from roofline.workload.model import load_model
from roofline.workload.serving import ServingConfig, load_serving_config


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def parse_sweep(text: str) -> list[int]:
    key, _, values = text.partition("=")
    if key.strip() != "batch" or not values:
        raise InputError(f"cannot read sweep '{text}'", place="--sweep", fix="write --sweep batch=1,8,32,128")
    try:
        batches = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"batch sizes must be integers: '{values}'", place="--sweep", fix="e.g. batch=1,8,32") from None
    if not batches or any(b < 1 for b in batches):
        raise InputError("batch sizes must be ≥ 1", place="--sweep", fix="e.g. batch=1,8,32")
    return batches


def run_plan_config(path: Path, *, hw: str | None, ceilings: str | None, hw_file, hw_dir, max_steps: int = 8):
    cfg = load_serving_config(path)
    if hw:
        cfg = cfg.model_copy(update={"hardware": hw})
    registry = registry_from_options(hw_file, hw_dir)
    try:
        spec, roofs, overlay = resolve_roofs(registry, cfg.hardware, ceilings=ceilings)
        arch, ignored = load_model(cfg.model, base=path.parent)
        context = build_context(cfg, arch, spec, roofs, base=path.parent)
        outcome = plan_serving(cfg, context, max_steps=max_steps)
    except InputError as exc:
        raise _in_config(exc, path, hw_given=bool(hw)) from None
    notes = [f"{arch.name}: config keys ignored: {', '.join(ignored)}"] if ignored else []
    origin = "measured" if roofs.uses_measured else "datasheet"
    result = build_plan_result(outcome, config_file=str(path), hardware=spec.name,
                               ceilings=f"{origin}" + (f" ({overlay})" if overlay else ""), notes=notes)
    return result, cfg, context


def _in_config(exc: InputError, path: Path, *, hw_given: bool) -> InputError:
    """An error about a value the serving config gave (its model, hardware, sizes) names the
    config file and the key; one about another file (a config.json) keeps its own."""
    if exc.file is not None:
        return exc
    place = "hardware" if exc.place == "--hw" and not hw_given else exc.place
    return InputError(exc.message, file=path, place=place, fix=exc.fix)


def sweep_rows(cfg: ServingConfig, context, batches: list[int]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for batch in batches:
        trial = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"batch": batch})})
        try:
            p = evaluate(trial, context).prediction
        except InputError as exc:
            rows.append({"batch": batch, "error": exc.message})
            continue
        rows.append({"batch": batch, "ttft_s": p.ttft_s, "itl_s": p.itl_s, "throughput_tok_s": p.throughput_tok_s,
                     "throughput_tok_s_per_gpu": p.throughput_tok_s_per_gpu, "decode_bound": p.decode.bound,
                     "max_batch": p.memory.max_batch})
    return rows


@handle_errors
def plan(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="A serving config YAML (docs/plan.md), or traces: kineto JSON, Nsight Compute/Systems "
                       "CSV, classify JSON (docs/plan-trace.md).", show_default=False),
    ],
    format: Annotated[PlanFormat, typer.Option("--format", "-f", help="table, json or md")] = PlanFormat.table,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Latency/throughput frontier, e.g. batch=1,8,32,128.")] = None,
    hw: Annotated[str | None, typer.Option("--hw", help="Override the config's hardware; for traces the device "
                                           "(default: auto, from the trace).")] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, help="Stop after this many steps.")] = 8,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    verify: Annotated[Path | None, typer.Option("--verify", help="A second trace of the same work after changes: "
                      "compare the plan's predicted step time with it.")] = None,
    applied: Annotated[str | None, typer.Option("--applied", help="With --verify: the plan rules that were applied, "
                       "comma-separated (default: recognised from the two traces).")] = None,
    step: Annotated[int | None, typer.Option("--step", help="Traces: only this ProfilerStep#N.")] = None,
    device: Annotated[int | None, typer.Option("--device", help="Traces: only this GPU index.")] = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Plan what to change first and what it buys: for a serving config (TTFT, ITL, throughput, memory
    against SLOs) or for profiled traces (step time, from the measured timeline)."""
    from roofline.cli.plan_input import is_serving_config

    if len(inputs) == 1 and is_serving_config(inputs[0]):
        for option, given in (("--verify", verify), ("--applied", applied), ("--step", step), ("--device", device)):
            if given is not None:
                raise InputError(f"{option} applies to traces, not to a serving config", file=inputs[0],
                                 fix="drop it, or pass a trace")
        result, cfg, context = run_plan_config(inputs[0], hw=hw, ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir,
                                               max_steps=max_steps)
        rows = sweep_rows(cfg, context, parse_sweep(sweep)) if sweep else None
        render_plan(result, rows, format, output)
        return
    if sweep is not None:
        raise InputError("--sweep varies a serving config's batch", place="--sweep",
                         fix="pass a serving config (docs/plan.md), or drop --sweep")
    from roofline.cli.plan_trace import plan_traces, render_trace_plans

    results = plan_traces(inputs, hw=hw or "auto", ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir, step=step,
                          device=device, max_steps=max_steps, verify=verify, applied=applied)
    render_trace_plans(results, format.value, output)


def render_plan(result: PlanResult, rows: list[dict[str, object]] | None, fmt: PlanFormat, output: Path | None) -> None:
    if fmt is PlanFormat.json:
        payload = result.model_dump(mode="json")
        if rows is not None:
            payload["sweep"] = rows
        write_output(jsonout.dumps(payload, indent=2) + "\n", output)
        return
    if fmt is PlanFormat.md:
        write_output(plan_markdown(result), output)
        return
    console = Console(record=output is not None)
    console.print(plan_renderable(result))
    if rows is not None:
        console.print(sweep_table(rows))
    if output is not None:
        write_output(console.export_text(), output)
