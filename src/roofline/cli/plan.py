"""``roofline plan CONFIG`` — where a serving config stands, and the ordered steps to its SLOs —
and ``roofline plan TRACE...`` — the ordered steps for what a profiled run shows, with
``--verify AFTER`` checking the predicted deltas against a second trace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from roofline import jsonout
from roofline.app.plan import is_serving_config, parse_sweep, plan_config, sweep_key
from roofline.app.model_context import model_layer
from roofline.app.trace_plan import plan_traces
from roofline.cli.common import (
    CeilingsOption,
    GraphCaptureOption,
    HwDirOption,
    HwFileOption,
    handle_errors,
    read_with_progress,
    registry_from_options,
)
from roofline.cli.output import OutputFormat, emit, render_trace_plans, write_output
from roofline.errors import InputError
from roofline.planner.result import PlanResult


@handle_errors
def plan(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="A serving config YAML (docs/plan.md), or traces: kineto JSON, Nsight Compute/Systems "
                       "CSV, classify JSON (docs/plan-trace.md).", show_default=False),
    ],
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or md")] = OutputFormat.table,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Latency/throughput frontier, e.g. batch=1,8,32,128 "
                                              "or concurrency=1,16,64,256.")] = None,
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
    model: Annotated[str | None, typer.Option("--model", help="Serving config: the model instead of its 'model:' — "
                     "a bundled name, a config.json path, or a Hugging Face repo id in the local cache. Traces: the "
                     "served model, which costs engine ops whose weights live in the layer (vllm::moe_forward).")] = None,
    graph_capture: GraphCaptureOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Plan what to change first and what it buys: for a serving config (TTFT, ITL, throughput, memory
    against SLOs) or for profiled traces (step time, from the measured timeline)."""
    if len(inputs) == 1 and is_serving_config(inputs[0]):
        for option, given in (("--verify", verify), ("--applied", applied), ("--step", step), ("--device", device),
                              ("--graph-capture", graph_capture)):
            if given is not None:
                raise InputError(f"{option} applies to traces, not to a serving config", file=inputs[0],
                                 fix="drop it, or pass a trace")
        planned = plan_config(inputs[0], registry_from_options(hw_file, hw_dir), hw=hw, ceilings=ceilings,
                              max_steps=max_steps, model=model)
        rows = planned.sweep(parse_sweep(sweep), sweep_key(sweep)) if sweep else None
        render_plan(planned.result, rows, format, output)
        return
    missing = [path for path in inputs if not path.exists()]
    if missing:  # before the options that need a serving config: the path is what is wrong
        raise InputError("file not found", file=missing[0], fix="check the path")
    if sweep is not None:
        raise InputError("--sweep varies a serving config's batch", place="--sweep",
                         fix="pass a serving config (docs/plan.md), or drop --sweep")
    rules = [r.strip() for r in applied.split(",") if r.strip()] if applied is not None else None
    results = plan_traces(inputs, registry_from_options(hw_file, hw_dir), hw=hw or "auto", ceilings=ceilings,
                          step=step, device=device, max_steps=max_steps, verify=verify, applied=rules,
                          reader=read_with_progress, graph_capture=graph_capture,
                          model=model_layer(model) if model is not None else None)
    render_trace_plans(results, format.value, output)


def render_plan(result: PlanResult, rows: list[dict[str, object]] | None, fmt: OutputFormat,
                output: Path | None) -> None:
    from roofline.report.text.plan import plan_markdown, plan_renderable, sweep_table

    if fmt is OutputFormat.json:
        payload = result.model_dump(mode="json")
        if rows is not None:
            payload["sweep"] = rows
        write_output(jsonout.dumps(payload, indent=2) + "\n", output)
        return
    if fmt is OutputFormat.md:
        write_output(plan_markdown(result), output)
        return
    emit([plan_renderable(result)] + ([sweep_table(rows)] if rows is not None else []), output)
