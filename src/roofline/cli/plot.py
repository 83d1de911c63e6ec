"""``roofline plot``: a roofline chart (PNG, SVG or PDF) of a trace, an Nsight export, a classify
JSON, declared kernels or a serving config; ``--timeline`` for a trace's GPU timeline; ``--steps``
and ``--frontier`` for a serving plan's per-step breakdown and batch sweep; ``--compare`` to overlay
several devices' rooflines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from roofline.analysis.events import GpuEvent
from roofline.analysis.result import ClassifyResult, hardware_used
from roofline.analysis.timeline import timeline_segments
from roofline.cli.classify import _select, classify_loaded, read_with_progress
from roofline.cli.plan_input import is_serving_config, plan_config
from roofline.cli.common import (
    CeilingsOption,
    HwDirOption,
    HwFileOption,
    handle_errors,
    registry_from_options,
    write_atomic,
)
from roofline.errors import InputError
from roofline.hardware.registry import Registry, normalize_name, resolve_roofs
from roofline.report import mpl
from roofline.report.classify_json import load_classify_json, looks_like_classify_json
from roofline.report.figures import DEFAULT_LABELS, compare_figure, roofline_figure
from roofline.report.timeline_figure import TimelineFigure, timeline_figure
from roofline.sources import LoadedInput, read_input

DEFAULT_COMPARE_OUTPUT = Path("roofline-compare.png")


@dataclass
class Analysed:
    """A classified input and, for traces, the events and steps its result was computed from."""

    result: ClassifyResult
    events: list[GpuEvent] | None = None
    steps: list[tuple[int, int, int]] | None = None
    from_json: bool = False

    def timeline(self) -> TimelineFigure | None:
        if self.events is None:
            return None
        steps = self.steps or []
        return timeline_figure(self.result, timeline_segments(self.events, steps), steps)


def read_counters(path: Path | None) -> LoadedInput | None:
    if path is None:
        return None
    loaded = read_input(path)
    if loaded.format != "ncu":
        raise InputError(f"is a {loaded.format} input, not an Nsight Compute export", file=path, place="--counters",
                         fix="pass the CSV of 'ncu --csv --page raw --metrics ...'")
    return loaded


def analyse_path(
    path: Path,
    registry: Registry,
    hw: str,
    ceilings: str | None,
    *,
    step: int | None = None,
    device: int | None = None,
    counters: LoadedInput | None = None,
) -> list[Analysed]:
    """Classify one input, or read back the results of a ``classify --format json`` file."""
    if looks_like_classify_json(path):
        results = load_classify_json(path)
        for option, given in (("--ceilings", ceilings), ("--step", step), ("--device", device), ("--counters", counters)):
            if given is not None:
                raise InputError(f"{option} does not apply to a classify result", file=path,
                                 fix="pass it to roofline classify, or plot the trace itself")
        for result in results:
            if hw.lower() != "auto" and normalize_name(hw) not in {normalize_name(result.hardware.name),
                                                                  normalize_name(result.hardware.display_name)}:
                raise InputError(f"was classified on {result.hardware.name}, not {hw}", file=path, place="--hw",
                                 fix=f"re-run roofline classify --hw {hw} --format json, or drop --hw")
        return [Analysed(result, from_json=True) for result in results]
    loaded = read_with_progress(path)
    result = classify_loaded(loaded, registry, hw, ceilings, step=step, device_index=device, counters=counters)
    if loaded.events is None:
        return [Analysed(result)]
    # The same selection classify_loaded made, so the timeline and the verdicts describe one span.
    events, steps = _select(loaded, step, device)
    return [Analysed(result, events, steps)]


def check_output(path: Path, allowed: tuple[str, ...] | None = None) -> str:
    """The output format, checked before any work is done: a missing directory or an unknown
    extension should not cost a minute of parsing first."""
    fmt = mpl.format_for(path) if allowed is None else _suffix_in(path, allowed)
    parent = Path(path).parent
    if not parent.is_dir():
        raise InputError("output directory does not exist", file=path, fix="create it first")
    return fmt


def _suffix_in(path: Path, allowed: tuple[str, ...]) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise InputError(f"unsupported extension '{Path(path).suffix or '(none)'}'", file=path,
                         fix="use " + " or ".join("." + a for a in allowed))
    return fmt


def _compare(names: list[str], registry: Registry, workload: Path | None, precision: str, output: Path,
             fmt: str) -> None:
    from roofline.report.plot import render_compare

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
               ceilings: str | None, hw_file: Path | None, hw_dir: Path | None) -> None:
    if sweep is not None and chart != "frontier":
        raise InputError("--sweep goes with --frontier", place="--sweep", fix="add --frontier")
    planned = plan_config(path, hw=hw, ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir)
    from roofline.report.plan_chart import render_frontier, render_plan_steps
    from roofline.report.plot import render_roofline

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
        if timeline or counters is not None or step is not None or device is not None:
            raise InputError("is a serving config: it has no trace timeline, steps or counters", file=path,
                             place="--timeline/--step/--device/--counters",
                             fix="plot the config alone, with --steps or --frontier")
        _plot_plan(path, output, fmt, "steps" if steps else "frontier" if frontier else "roofline", sweep=sweep,
                   labels=labels, hw=hw, ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir)
        return
    if steps or frontier or sweep is not None:
        raise InputError("--steps, --frontier and --sweep draw a serving plan", file=path,
                         fix="pass a serving config (docs/plan.md), or drop the option")
    registry = registry_from_options(hw_file, hw_dir)
    analysed = analyse_path(path, registry, hw, ceilings, step=step, device=device,
                            counters=read_counters(counters))
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
        from roofline.report.timeline_chart import render_timeline

        write_atomic(output, render_timeline(figure, fmt))
        return
    from roofline.report.plot import render_roofline

    write_atomic(output, render_roofline(roofline_figure(item.result, labels=labels), fmt))


plot = handle_errors(plot)
