"""``roofline classify``: label every kernel compute-, memory- or launch-bound, with evidence."""

from __future__ import annotations

import bisect
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from collections import Counter
from dataclasses import replace

from roofline import jsonout
from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.event_table import distinct, rows_where
from roofline.analysis.result import ClassifyResult, build_result, hardware_used, summarize_trace
from roofline.analysis.timeline import analyse_timeline, group_events
from roofline.cli import fleet as fleet_cli
from roofline.cli.common import (
    CeilingsOption,
    HwDirOption,
    HwFileOption,
    handle_errors,
    registry_from_options,
    stderr_console,
    write_output,
)
from roofline.errors import InputError
from roofline.hardware.registry import Registry, resolve_roofs
from roofline.report.console import classify_renderable
from roofline.report.annotate import annotate_trace, check_annotate_target
from roofline.report.markdown import classify_markdown
from roofline.sources import LoadedInput, read_input
from roofline.units import short_kernel_name
from roofline.gcpause import paused_gc


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def pick_device(requested: str, loaded: LoadedInput, registry: Registry) -> str:
    if requested.lower() != "auto":
        return requested
    if loaded.device_name:
        if registry.lookup(loaded.device_name) is None:
            raise InputError(
                f"the input names device '{loaded.device_name}', which is not in the registry",
                file=loaded.path,
                fix="pass --hw NAME, or add a spec with --hw-file (" + registry.suggestion(loaded.device_name) + ")",
            )
        return loaded.device_name
    raise InputError(
        "the input does not say which device it ran on",
        file=loaded.path,
        place="--hw",
        fix="pass --hw NAME (roofline hw list shows the registry)",
    )


def classify_loaded(
    loaded: LoadedInput,
    registry: Registry,
    hw: str,
    ceilings: str | None,
    *,
    step: int | None = None,
    device_index: int | None = None,
    counters: LoadedInput | None = None,
) -> ClassifyResult:
    if device_index is not None:
        names = loaded.extra.get("devices") or {}
        if isinstance(names, dict) and names.get(device_index):
            loaded.device_name = names[device_index]
    device = pick_device(hw, loaded, registry)
    spec, roofs, overlay_path = resolve_roofs(registry, device, ceilings=ceilings)
    hardware = hardware_used(spec, roofs, str(overlay_path) if overlay_path else None)
    if loaded.events is None:
        verdicts = [classify_kernel(work, roofs) for work in loaded.kernels]
        return build_result(
            inputs=[str(loaded.path)],
            source_format=loaded.format,
            title=loaded.title,
            hardware=hardware,
            verdicts=verdicts,
            warnings=loaded.warnings,
        )
    events, steps = _select(loaded, step, device_index)
    with paused_gc():
        works = group_events(events)
        extra: list[str] = []
        if counters is not None:
            works, extra = attach_counters(works, counters)
        verdicts = [classify_kernel(work, roofs) for work in works]
        timeline = analyse_timeline(events, steps)
    syncs = _syncs_in_steps(loaded, steps)
    summary = summarize_trace(verdicts, timeline, _sync_findings(syncs, steps) + extra, hardware)
    if steps:
        summary = summary.model_copy(update={"syncs": len(syncs), "sync_s": _blocked_s(syncs, steps)})
    return build_result(
        inputs=[str(loaded.path)],
        source_format=loaded.format,
        title=loaded.title,
        hardware=hardware,
        verdicts=verdicts,
        summary=summary,
        warnings=loaded.warnings,
    )


def attach_counters(works: list[KernelWork], counters: LoadedInput) -> tuple[list[KernelWork], list[str]]:
    """Give trace kernel groups the hardware FLOPs and inner-level bytes Nsight Compute measured
    for kernels of the same name (per call, scaled to the group's call count), so hardware FLOPs
    (HFU) and model FLOPs (MFU) show side by side.
    """
    by_name: dict[str, KernelWork] = {work.name: work for work in counters.kernels}
    # Profilers spell namespaces differently ("(anonymous namespace)" vs "<unnamed>"): fall back to
    # the short name, but only where it names one kernel of the export.
    shorts = Counter(short_kernel_name(work.name) for work in counters.kernels)
    for work in counters.kernels:
        short = short_kernel_name(work.name)
        if shorts[short] == 1:
            by_name.setdefault(short, work)
    matched = 0
    findings: list[str] = []
    out = []
    for work in works:
        measured = by_name.get(work.name) or by_name.get(short_kernel_name(work.name))
        if measured is None or work.kind != "kernel":
            out.append(work)
            continue
        matched += 1
        per_call = 1.0 / max(measured.count, 1)
        scale = work.count * per_call
        work = replace(
            work,
            hardware_flops=measured.flops * scale if measured.flops is not None else None,
            l2_bytes=measured.l2_bytes * scale if measured.l2_bytes is not None else None,
            l1_bytes=measured.l1_bytes * scale if measured.l1_bytes is not None else None,
        )
        if work.flops and work.hardware_flops and work.hardware_flops > 1.5 * work.flops:
            findings.append(
                f"{short_kernel_name(work.name, 60)}: the hardware executes {work.hardware_flops / work.flops:.1f}x "
                "its model FLOPs (tile padding); counter FLOP/s overstate useful work — judge it by bytes."
            )
        out.append(work)
    findings.insert(
        0, f"Nsight Compute counters from {counters.path} matched {matched} of {len(works)} kernel groups by name."
    )
    return out, findings


def _select(loaded: LoadedInput, step: int | None, device_index: int | None) -> tuple[list, list]:
    events = loaded.events or []
    steps = list(loaded.extra.get("steps") or [])
    if device_index is not None:
        devices = distinct(events, "device")
        events = rows_where(events, "device", device_index)
        if not events:
            raise InputError(
                f"no GPU activity on device {device_index}",
                file=loaded.path,
                place="--device",
                fix=f"devices in this trace: {', '.join(map(str, devices))}",
            )
    if step is not None:
        numbers = [s[0] for s in steps]
        if step not in numbers:
            raise InputError(
                f"no ProfilerStep#{step} in the trace",
                file=loaded.path,
                place="--step",
                fix=f"steps in this trace: {', '.join(map(str, numbers)) or 'none (no step markers)'}",
            )
        steps = [s for s in steps if s[0] == step]
        events = rows_where(events, "step", step)
    return events, steps


def _blocked_s(syncs: list[tuple[str, int, int]], steps: list) -> float:
    """Host time blocked in the synchronisations inside the steps, except each step's last one
    (the loop's own, which ends the step and waits for all its work)."""
    ordered = sorted((s[1], s[2]) for s in syncs)  # one sort and a binary search per step: long
    starts = [start for start, _ in ordered]  # traces have tens of thousands of both
    blocked = 0
    for _, start, end in steps:
        inside = ordered[bisect.bisect_left(starts, start) : bisect.bisect_right(starts, end)]
        blocked += sum(duration for _, duration in inside[:-1])
    return blocked * 1e-9


def _syncs_in_steps(loaded: LoadedInput, steps: list) -> list[tuple[str, int, int]]:
    """Host synchronisation calls (name, start ns, duration ns) that start inside a profiled step."""
    syncs = loaded.extra.get("syncs") or []
    # Merged step spans and a binary search: a long trace has tens of thousands of both.
    spans: list[list[int]] = []
    for _, start, end in sorted(steps, key=lambda s: s[1]):
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    starts = [span[0] for span in spans]
    return [s for s in syncs if (i := bisect.bisect_right(starts, s[1]) - 1) >= 0 and s[1] <= spans[i][1]]


def _sync_findings(inside: list[tuple[str, int, int]], steps: list) -> list[str]:
    if not steps or not inside:
        return []
    if len(inside) <= len(steps):
        return []  # one synchronize per step (the profiling loop's own) is expected
    return [
        f"{len(inside)} host synchronisations inside {len(steps)} profiled steps "
        f"({', '.join(sorted({s[0] for s in inside}))}): each one drains the GPU queue; remove the ones "
        "the step does not need."
    ]


def render(results: list[ClassifyResult], fmt: OutputFormat, top: int | None, plans: list | None = None) -> str | None:
    """JSON or Markdown text (None: the table, printed by the caller). With ``plans``, each result
    carries its trace plan (JSON key ``plan``; a Markdown section after its tables)."""
    if fmt is OutputFormat.json:
        payload = [r.model_dump(mode="json") for r in results]
        for item, plan in zip(payload, plans or []):
            item["plan"] = plan.model_dump(mode="json")
        return jsonout.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n"
    if fmt is OutputFormat.md:
        if plans is None:
            return "\n".join(classify_markdown(r, top=top) for r in results)
        from roofline.report.trace_plan_render import trace_plan_markdown

        return "\n".join(classify_markdown(r, top=top) + "\n" + trace_plan_markdown(p) for r, p in zip(results, plans))
    return None


PROGRESS_MIN_BYTES = 64 * 1024 * 1024


def read_with_progress(path: Path) -> LoadedInput:
    """Read an input, with a progress bar on stderr for large files when stderr is a terminal."""
    console = stderr_console()
    size = path.stat().st_size if path.is_file() else 0
    if size < PROGRESS_MIN_BYTES or not console.is_terminal:
        return read_input(path)
    with Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(path.name, total=size)
        return read_input(path, on_progress=lambda done: progress.update(task, completed=done))


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
) -> None:
    """Classify kernels as compute-, memory- or launch-bound against a device's roofline. Given a
    directory of per-rank traces: each rank, stragglers and the fleet figures (docs/ranks.md)."""
    directory = fleet_cli.check_directory_options(inputs, annotate=annotate, counters=counters, plan=plan)
    if directory is not None:
        fleet_cli.classify_directory(directory, fmt=format.value, output=output, jobs=jobs, backend=backend,
                                     reference=reference, hw=hw, ceilings=ceilings, hw_files=hw_file,
                                     hw_dirs=hw_dir, step=step, device=device)
        return
    if annotate is not None:
        check_annotate_target(annotate, inputs)
    registry = registry_from_options(hw_file, hw_dir)
    counter_input = None
    if counters is not None:
        counter_input = read_input(counters)
        if counter_input.format != "ncu":
            raise InputError(
                f"is a {counter_input.format} input, not an Nsight Compute export",
                file=counters,
                place="--counters",
                fix="pass the CSV of 'ncu --csv --page raw --metrics ...'",
            )
    results = []
    for path in inputs:
        loaded = read_with_progress(path)
        results.append(
            classify_loaded(loaded, registry, hw, ceilings, step=step, device_index=device, counters=counter_input)
        )
        if annotate is not None:
            print(f"roofline: {annotate_trace(loaded, results[-1], annotate).line()}", file=sys.stderr)
    plans = _plans(results) if plan else None
    text = render(results, format, top, plans)
    if text is None:
        console = Console(record=output is not None)
        for index, result in enumerate(results):
            console.print(classify_renderable(result, top=top, width=console.width))
            if plans is not None:
                from roofline.report.trace_plan_render import trace_plan_renderable

                console.print(trace_plan_renderable(plans[index]))
        if output is not None:
            write_output(console.export_text(), output)
        return
    write_output(text, output)


def _plans(results: list[ClassifyResult]) -> list:
    from roofline.cli.plan_trace import trace_plan_of

    for result in results:
        if result.source_format == "declared":
            raise InputError("declared kernels have no measured timeline to plan from", file=result.inputs[0],
                             place="--plan", fix="drop --plan, or plan a serving config with roofline plan CONFIG")
    return [trace_plan_of(result) for result in results]


classify = handle_errors(classify)
