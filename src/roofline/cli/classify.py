"""``roofline classify``: label every kernel compute-, memory- or launch-bound, with evidence."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from roofline.app.classify import classify_loaded, read_counters
from roofline.app.model_context import model_layer
from roofline.opcost.model_layer import using_model
from roofline.app.trace_plan import trace_plan_of
import roofline.cli.fleet as fleet_cli
from roofline.cli.common import (
    CeilingsOption,
    GraphCaptureOption,
    HwDirOption,
    HwFileOption,
    TraceModelOption,
    handle_errors,
    registry_from_options,
    read_with_progress,
)
from roofline.errors import InputError
from roofline.cli.output import FILE_WIDTH, OutputFormat, classify_text, emit, write_output
from roofline.report.text.console import classify_renderable
from roofline.report.annotate import annotate_trace, check_annotate_target


def classify(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="PyTorch profiler traces (.json/.json.gz), Nsight Compute or Nsight Systems CSV exports, "
            "declared-kernel YAML.",
            show_default=False),
    ],
    hw: Annotated[str, typer.Option("--hw", help="Device name or alias, or 'auto' to read it from the input.")] = "auto",
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or md")] = OutputFormat.table,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N kernel groups with most time.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    step: Annotated[int | None, typer.Option("--step", help="Only this ProfilerStep#N of a trace.")] = None,
    device: Annotated[int | None, typer.Option("--device", help="Only this GPU index of a trace.")] = None,
    counters: Annotated[
        Path | None,
        typer.Option("--counters", help="Nsight Compute CSV of the same kernels: adds hardware FLOPs (HFU vs MFU)."),
    ] = None,
    graph_capture: GraphCaptureOption = None,
    model: TraceModelOption = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
    annotate: Annotated[
        Path | None,
        typer.Option("--annotate", help="Also write the trace with each kernel's verdict in its args and counter "
                     "tracks of the verdict (.json or .json.gz), to open in Perfetto. The input is never modified."),
    ] = None,
    plan: Annotated[
        bool, typer.Option("--plan", help="Also plan what to change first for each trace (as roofline plan TRACE).")
    ] = False,
    jobs: fleet_cli.JobsOption = None,
    backend: fleet_cli.BackendOption = "local",
    reference: fleet_cli.ReferenceOption = None,
    scheduler: fleet_cli.SchedulerOption = None,
    one_job: fleet_cli.OneJobOption = False,
) -> None:
    """Classify kernels as compute-, memory- or launch-bound against a device's roofline. Given a
    directory of per-rank traces: each rank, stragglers and the fleet figures (docs/ranks.md)."""
    directory = fleet_cli.check_directory_options(inputs, annotate=annotate, counters=counters, plan=plan)
    if directory is not None and model is not None:
        raise InputError("--model takes a trace file, not a directory of ranks", file=directory,
                         fix="give one rank's trace file")
    if directory is not None and graph_capture is not None:
        raise InputError("--graph-capture takes a trace file, not a directory of ranks", file=directory,
                         fix="give one rank's trace file")
    if directory is not None:
        fleet_cli.classify_directory(directory, fmt=format.value, output=output, jobs=jobs, backend=backend,
                                     reference=reference, hw=hw, ceilings=ceilings, hw_files=hw_file,
                                     hw_dirs=hw_dir, step=step, device=device, scheduler=scheduler,
                                     one_job=one_job)
        return
    if annotate is not None:
        check_annotate_target(annotate, inputs)
    registry = registry_from_options(hw_file, hw_dir)
    counter_input = read_counters(counters)
    layer = model_layer(model) if model is not None else None
    results = []
    for path in inputs:
        with using_model(layer):
            loaded = read_with_progress(path)
        if layer is not None:
            loaded.extra["model"] = layer
        results.append(
            classify_loaded(loaded, registry, hw, ceilings, step=step, device_index=device, counters=counter_input,
                           graph_capture=graph_capture, model=layer)
        )
        if annotate is not None:
            print(f"roofline: {annotate_trace(loaded, results[-1], annotate).line()}", file=sys.stderr)
    plans = [trace_plan_of(result) for result in results] if plan else None
    text = classify_text(results, format, top, plans)
    if text is not None:
        write_output(text, output)
        return
    width = None if output is None else FILE_WIDTH
    items = []
    for index, result in enumerate(results):
        items.append(classify_renderable(result, top=top))
        if plans is not None:
            from roofline.report.text.trace_plan import trace_plan_renderable

            items.append(trace_plan_renderable(plans[index]))
    emit(items, output, width=width)


classify = handle_errors(classify)
