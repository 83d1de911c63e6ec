"""``roofline report``: one shareable file — self-contained HTML, or Markdown for a PR comment or
``$GITHUB_STEP_SUMMARY`` (charts as PNG files beside it, or left out with --no-images). A serving
config among the inputs adds its plan: steps, per-phase charts, batch sweep.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from roofline.app.classify import analyse_path, read_counters
from roofline.app.model_context import model_layer
from roofline.app.plan import PlannedConfig, is_serving_config, plan_config
from roofline.app.trace_plan import trace_plan_of
from roofline.cli.common import (
    CeilingsOption,
    GraphCaptureOption,
    HwDirOption,
    HwFileOption,
    TraceModelOption,
    check_output,
    handle_errors,
    read_with_progress,
    registry_from_options,
    write_atomic,
)
from roofline.errors import InputError
from roofline.report.charts.roofline import DEFAULT_LABELS
from roofline.report.document.classify import DEFAULT_TOP, ReportItem, build_report

FORMATS = ("html", "htm", "md", "markdown")


def chart_file_names(output: Path, chart_names: list[str]) -> dict[str, str]:
    """PNG names beside the Markdown file: ``report.md`` → ``report.roofline.png``."""
    stem = output.name.rsplit(".", 1)[0]
    return {name: f"{stem}.{name}.png" for name in chart_names}


def _plan_sections(planned: PlannedConfig, number: int | None, sweep: str | None, labels: int) -> list:
    from roofline.report.document.plan import plan_sections

    try:
        roofline = planned.roofline_figure(labels)
    except InputError:
        roofline = None  # nothing with FLOPs to place: the steps and the sweep still stand
    return plan_sections(planned.result, steps=planned.steps_figure(), roofline=roofline,
                         frontier=planned.frontier_figure(sweep), number=number)


def _trace_plan_sections(items: list[ReportItem]) -> list:
    """The plan of every input with a measured timeline (declared kernels have none)."""
    from roofline.report.document.trace_plan import trace_plan_sections

    timed = [item.result for item in items if item.result.source_format != "declared"]
    sections = []
    for number, result in enumerate(timed, start=1):
        sections += trace_plan_sections(trace_plan_of(result), number=number if len(timed) > 1 else None)
    return sections


def report(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Traces, Nsight exports, classify JSON, declared-kernel YAML or serving configs (the "
                       "plan, its steps and batch sweep).", show_default=False),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="report.html (self-contained) or report.md.")],
    hw: Annotated[str, typer.Option("--hw", help="Device name or alias, or 'auto' to read it from the input.")] = "auto",
    top: Annotated[int, typer.Option("--top", min=1, help="Kernel groups listed per input.")] = DEFAULT_TOP,
    labels: Annotated[int, typer.Option("--labels", min=0, help="Kernels labelled on the roofline.")] = DEFAULT_LABELS,
    no_images: Annotated[
        bool, typer.Option("--no-images", help="Markdown: do not write chart PNGs beside the file.")
    ] = False,
    title: Annotated[str | None, typer.Option("--title", help="The report's title.")] = None,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="Serving configs: the frontier's batches, e.g. batch=1,8,32,128 "
                                 "(default: powers of two up to the memory limit).")
    ] = None,
    step: Annotated[int | None, typer.Option("--step", help="Only this ProfilerStep#N of a trace.")] = None,
    device: Annotated[int | None, typer.Option("--device", help="Only this GPU index of a trace.")] = None,
    counters: Annotated[
        Path | None, typer.Option("--counters", help="Nsight Compute CSV of the same kernels.")
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan/--no-plan", help="Traces: add the ordered plan of what to change first.")
    ] = True,
    graph_capture: GraphCaptureOption = None,
    model: TraceModelOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Write a report: verdict, findings, roofline and timeline charts, kernel table, and the plan."""
    fmt = check_output(output, FORMATS)
    registry = registry_from_options(hw_file, hw_dir)
    counter_input = read_counters(counters, read_with_progress)
    configs = [is_serving_config(path) for path in inputs]
    if all(configs) and (graph_capture is not None or model is not None):
        raise InputError("--graph-capture and --model cost the ops of a trace", file=inputs[0],
                         fix="pass the trace, or drop the option (a serving config names its model)")
    layer = model_layer(model) if model is not None else None
    items = []
    plans = []
    for path, config in zip(inputs, configs):
        if config:
            plans.append(plan_config(path, registry, hw=hw, ceilings=ceilings))
            continue
        for analysed in analyse_path(path, registry, hw, ceilings, step=step, device=device, counters=counter_input,
                                     reader=read_with_progress, graph_capture=graph_capture, model=layer):
            items.append(ReportItem(analysed.result, analysed.timeline()))
    if not items and not plans:
        raise InputError("nothing to report", fix="give at least one input")
    extra = []
    for number, planned in enumerate(plans, start=1):
        extra += _plan_sections(planned, number if len(plans) > 1 else None, sweep, labels)
    if plan:
        extra += _trace_plan_sections(items)
    if title is None and plans:
        title = "roofline report: " + ", ".join(path.name for path in inputs)
    document = build_report(items, extra_sections=extra, title=title, top=top, labels=labels)
    if fmt in ("html", "htm"):
        from roofline.report.document.html import render_html

        write_atomic(output, render_html(document).encode("utf-8"))
        return
    from roofline.report.document.markdown import render_markdown

    charts = list(document.charts())
    names = {} if no_images else chart_file_names(output, [chart.name for chart in charts])
    for chart in charts:
        if chart.name in names:
            write_atomic(output.parent / names[chart.name], chart.draw("png"))
    write_atomic(output, render_markdown(document, names).encode("utf-8"))
    if names:
        print(f"roofline: wrote {output} and {len(names)} chart image(s) beside it: {', '.join(names.values())}",
              file=sys.stderr)


report = handle_errors(report)
