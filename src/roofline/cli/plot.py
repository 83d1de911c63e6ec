"""``roofline plot``: a roofline chart (PNG, SVG or PDF) of a trace, an Nsight export, a classify
JSON, declared kernels or a serving config; ``--timeline`` for a trace's GPU timeline; ``--steps``
and ``--frontier`` for a serving plan's per-step breakdown and batch sweep; ``--compare`` to overlay
several devices' rooflines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from roofline.analysis.result import hardware_used
from roofline.app.classify import analyse_path, classify_loaded, read_counters
from roofline.app.model_context import model_layer
from roofline.app.plan import is_serving_config, plan_config
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
from roofline.hardware.registry import Registry, resolve_roofs
from roofline.report.charts.roofline import DEFAULT_LABELS, compare_figure, roofline_figure

DEFAULT_COMPARE_OUTPUT = Path("roofline-compare.png")


def _compare(names: list[str], registry: Registry, workload: Path | None, precision: str, output: Path,
             fmt: str) -> None:
    from roofline.report.charts.roofline_mpl import render_compare

    if len(names) < 2:
        raise InputError("--compare needs at least two device names", place="--compare",
                         fix="e.g. roofline plot --compare v100-sxm2 a100-sxm4-80gb h100-sxm b200")
    hardware = []
    for name in names:
        spec, roofs, _ = resolve_roofs(registry, name)
        hardware.append(hardware_used(spec, roofs, None))
    results = None
    if workload is not None:
        loaded = read_with_progress(workload)
        results = [classify_loaded(loaded, registry, hw.name, None) for hw in hardware]
    figure = compare_figure(hardware, precision=precision, results=results)
    write_atomic(output, render_compare(figure, fmt))


def _plot_plan(path: Path, output: Path, fmt: str, chart: str, *, sweep: str | None, labels: int, hw: str,
               ceilings: str | None, registry: Registry) -> None:
    if sweep is not None and chart != "frontier":
        raise InputError("--sweep goes with --frontier", place="--sweep", fix="add --frontier")
    planned = plan_config(path, registry, hw=hw, ceilings=ceilings)
    from roofline.report.charts.plan_mpl import render_frontier, render_plan_steps
    from roofline.report.charts.roofline_mpl import render_roofline

    if chart == "steps":
        data = render_plan_steps(planned.steps_figure(), fmt)
    elif chart == "frontier":
        data = render_frontier(planned.frontier_figure(sweep), fmt)
    else:
        data = render_roofline(planned.roofline_figure(labels), fmt)
    write_atomic(output, data)


def plot(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(help="A PyTorch profiler trace, Nsight Compute/Systems CSV, classify JSON, declared-kernel "
                       "YAML or serving config; with --compare, device names.", show_default=False),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Image to write: .png, .svg or .pdf.")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Overlay the rooflines of the devices named.")] = False,
    workload: Annotated[
        Path | None, typer.Option("--input", help="With --compare: kernels to place on every device's roofline.")
    ] = None,
    precision: Annotated[str, typer.Option("--precision", help="With --compare: the matrix roof to compare.")] = "fp16",
    timeline: Annotated[bool, typer.Option("--timeline", help="Draw a trace's GPU timeline instead.")] = False,
    steps: Annotated[
        bool, typer.Option("--steps", help="Serving config: per-phase time before and after each plan step.")
    ] = False,
    frontier: Annotated[
        bool, typer.Option("--frontier", help="Serving config: the batch sweep's latency/throughput frontier.")
    ] = False,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="With --frontier: batches, e.g. batch=1,8,32,128 (default: powers "
                                 "of two up to the memory limit).")
    ] = None,
    labels: Annotated[int, typer.Option("--labels", min=0, help="Label this many kernels, largest first.")] = (
        DEFAULT_LABELS
    ),
    hw: Annotated[str, typer.Option("--hw", help="Device name or alias, or 'auto' to read it from the input.")] = "auto",
    step: Annotated[int | None, typer.Option("--step", help="Only this ProfilerStep#N of a trace.")] = None,
    device: Annotated[int | None, typer.Option("--device", help="Only this GPU index of a trace.")] = None,
    counters: Annotated[
        Path | None, typer.Option("--counters", help="Nsight Compute CSV of the same kernels (L1/L2 points).")
    ] = None,
    graph_capture: GraphCaptureOption = None,
    model: TraceModelOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Draw a roofline chart: roofs, ridge points and kernels sized by time, coloured by bound."""
    names = list(inputs or [])
    if compare:
        if timeline or steps or frontier or ceilings is not None:
            raise InputError("--compare draws datasheet rooflines only", place="--timeline/--steps/--frontier/--ceilings",
                             fix="drop them, or plot one input without --compare")
        output = output or DEFAULT_COMPARE_OUTPUT
        fmt = check_output(output)
        _compare(names, registry_from_options(hw_file, hw_dir), workload, precision, output, fmt)
        return
    if workload is not None:
        raise InputError("--input goes with --compare", place="--input", fix="give the input as an argument")
    if len(names) != 1:
        raise InputError(f"plot takes one input, got {len(names)}", fix="roofline plot INPUT -o chart.png")
    if output is None:
        raise InputError("no output file", place="-o", fix="add -o chart.png (or .svg, .pdf)")
    fmt = check_output(output)
    path = Path(names[0])
    if sum((timeline, steps, frontier)) > 1:
        raise InputError("--timeline, --steps and --frontier each draw a different chart", place="options",
                         fix="pick one")
    if is_serving_config(path):
        if timeline or counters is not None or step is not None or device is not None or graph_capture is not None \
                or model is not None:
            raise InputError("is a serving config: it has no trace timeline, steps, counters or ops to cost", file=path,
                             place="--timeline/--step/--device/--counters/--graph-capture/--model",
                             fix="plot the config alone, with --steps or --frontier")
        _plot_plan(path, output, fmt, "steps" if steps else "frontier" if frontier else "roofline", sweep=sweep,
                   labels=labels, hw=hw, ceilings=ceilings, registry=registry_from_options(hw_file, hw_dir))
        return
    if steps or frontier or sweep is not None:
        raise InputError("--steps, --frontier and --sweep draw a serving plan", file=path,
                         fix="pass a serving config (docs/plan.md), or drop the option")
    registry = registry_from_options(hw_file, hw_dir)
    analysed = analyse_path(path, registry, hw, ceilings, step=step, device=device,
                            counters=read_counters(counters, read_with_progress), reader=read_with_progress,
                            graph_capture=graph_capture, model=model_layer(model) if model is not None else None)
    if len(analysed) != 1:
        raise InputError(f"holds {len(analysed)} classify results; plot draws one", file=path,
                         fix="write one JSON per input, or use roofline report for several")
    item = analysed[0]
    if timeline:
        figure = item.timeline()
        if figure is None:
            what = "a classify result keeps" if item.from_json else f"a {item.result.source_format} input has"
            raise InputError(f"{what} no timeline", file=path, place="--timeline",
                             fix="pass the PyTorch profiler trace or Nsight Systems export itself")
        from roofline.report.charts.timeline_mpl import render_timeline

        write_atomic(output, render_timeline(figure, fmt))
        return
    from roofline.report.charts.roofline_mpl import render_roofline

    write_atomic(output, render_roofline(roofline_figure(item.result, labels=labels), fmt))


plot = handle_errors(plot)
