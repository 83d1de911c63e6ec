"""Classify an input: read it, pick the device, group and classify its kernels, account its
timeline and host synchronisations. What ``roofline classify``, ``plot``, ``report``, the gate's
adapters, the fleet runner and ``roofline.classify()`` all run."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.event_table import distinct, rows_where
from roofline.analysis.events import GpuEvent
from roofline.analysis.result import ClassifyResult, build_result, hardware_used, summarize_trace
from roofline.analysis.timeline import analyse_timeline, group_events, timeline_segments
from roofline.errors import InputError
from roofline.gcpause import paused_gc
from roofline.hardware.registry import Registry, normalize_name, resolve_roofs
from roofline.hardware.trace_device import identify_trace_device
from roofline.opcost.model_layer import ModelLayer
from roofline.sources import LoadedInput, read_input
from roofline.units import fmt_percent, fmt_seconds, short_kernel_name

Reader = Callable[[Path], LoadedInput]


def pick_device(requested: str, loaded: LoadedInput, registry: Registry) -> str:
    if requested.lower() != "auto":
        return requested
    properties = loaded.extra.get("device_properties")
    found = identify_trace_device(registry, loaded.device_name, properties if isinstance(properties, list) else None,
                                  loaded.extra.get("device_id"))
    if found is not None:
        if found.warning and found.warning not in loaded.warnings:
            loaded.warnings.append(found.warning)
        return found.name
    if loaded.device_name or properties:
        what = f"names device '{loaded.device_name}'" if loaded.device_name else "lists a device with no name"
        raise InputError(
            f"the input {what}, which matches no registry spec",
            file=loaded.path,
            fix="pass --hw NAME, or add a spec with --hw-file ("
            + registry.suggestion(loaded.device_name or "") + ")",
        )
    raise InputError(
        "the input does not say which device it ran on",
        file=loaded.path,
        place="--hw",
        fix="pass --hw NAME (roofline hw list shows the registry)",
    )


def read_counters(path: Path | None, reader: Reader = read_input) -> LoadedInput | None:
    """An Nsight Compute export given as ``--counters`` (None when not given)."""
    if path is None:
        return None
    loaded = reader(Path(path))
    if loaded.format != "ncu":
        raise InputError(f"is a {loaded.format} input, not an Nsight Compute export", file=path, place="--counters",
                         fix="pass the CSV of 'ncu --csv --page raw --metrics ...'")
    return loaded


def classify_loaded(
    loaded: LoadedInput,
    registry: Registry,
    hw: str,
    ceilings: str | None,
    *,
    step: int | None = None,
    device_index: int | None = None,
    counters: LoadedInput | None = None,
    graph_capture: Path | None = None,
    model: ModelLayer | None = None,
) -> ClassifyResult:
    if model is not None:
        apply_model(loaded, model)
    if graph_capture is not None:
        join_graph_capture(loaded, graph_capture, model)
    if device_index is not None:
        names = loaded.extra.get("devices") or {}
        if isinstance(names, dict) and device_index in names:
            loaded.device_name = names[device_index] or None
            loaded.extra["device_id"] = device_index
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
    events, steps = select_events(loaded, step, device_index)
    with paused_gc():
        works = group_events(events)
        extra: list[str] = []
        if counters is not None:
            works, extra = attach_counters(works, counters)
        verdicts = [classify_kernel(work, roofs) for work in works]
        timeline = analyse_timeline(events, steps)
    syncs = syncs_in_steps(loaded, steps)
    summary = summarize_trace(verdicts, timeline, sync_findings(syncs, steps) + extra, hardware,
                              host_ops=recorded_ops(loaded, steps), launch_floor_s=roofs.launch_floor_eager.value,
                              caveats=list(loaded.extra.get("integrity") or []))
    if steps:
        summary = summary.model_copy(update={"syncs": len(syncs), "sync_s": blocked_s(syncs, steps)})
    return build_result(
        inputs=[str(loaded.path)],
        source_format=loaded.format,
        title=loaded.title,
        hardware=hardware,
        verdicts=verdicts,
        summary=summary,
        warnings=loaded.warnings,
    )


def read_with_model(path: Path, model: ModelLayer | None, reader: Reader = read_input) -> LoadedInput:
    """Read an input with ``model`` active, so engine ops whose weights live in the layer
    (vllm::moe_forward) are costed from it (docs/op-costs.md)."""
    from roofline.opcost.model_layer import using_model

    with using_model(model):
        loaded = reader(path)
    if model is not None:
        loaded.extra["model"] = model
    return loaded


def apply_model(loaded: LoadedInput, model: ModelLayer) -> None:
    """Cost ``loaded`` with ``model``: a trace read without it is read again with it (the op costs
    are computed as it is read). Only PyTorch profiler traces hold the ops the model sizes."""
    if loaded.format != "kineto":
        raise InputError(f"--model sizes the ops of a PyTorch profiler trace; this is a {loaded.format} input",
                         file=loaded.path, place="--model", fix="drop --model, or give the trace itself")
    if loaded.extra.get("model") == model:
        return
    again = read_with_model(loaded.path, model)
    loaded.events, loaded.warnings, loaded.extra = again.events, again.warnings, again.extra


def join_graph_capture(loaded: LoadedInput, capture: Path, model: ModelLayer | None = None) -> None:
    """Give a trace's graph-replayed kernels the ops and costs of the capture profile (once per
    loaded trace: a second call finds them costed), the capture read with ``model`` active."""
    from roofline.opcost.model_layer import using_model
    from roofline.sources.graph_capture import apply_graph_capture, read_graph_capture

    if loaded.events is None or loaded.format != "kineto":
        raise InputError(f"--graph-capture applies to a PyTorch profiler trace, not a {loaded.format} input",
                         file=loaded.path, place="--graph-capture", fix="drop --graph-capture")
    if loaded.extra.get("graph_capture") == str(capture):
        return
    with using_model(model):
        apply_graph_capture(loaded.events, read_graph_capture(Path(capture)), loaded.warnings)
    loaded.extra["graph_capture"] = str(capture)


# Nsight Compute replays each kernel alone, caches flushed and (by default) clocks locked: for the
# same kernel and shapes its time is 0.25-2.5x the trace's in this repository's H200 captures
# (tests/data/ncu against tests/data/h200/kineto). Beyond 10x either way it is not the same launch.
COUNTER_TIME_RATIO = 10.0
# Tile padding lets hardware FLOPs exceed model FLOPs (8x for a one-row GEMV on 128x8 tiles; at most
# a tile's height, 256, for one row). Past 1000x the counters are some other kernel's work.
COUNTER_FLOPS_RATIO = 1000.0
# Disagreeing groups holding more than this share of the matched kernel time: another run's counters.
COUNTER_MISMATCH_SHARE = 0.10
_COUNTERS_FIX = ("export Nsight Compute counters of the same program and inputs as the trace "
                 "(ncu --csv --page raw --metrics ... python SCRIPT), or drop --counters")


def counter_disagreement(work: KernelWork, measured: KernelWork) -> str | None:
    """Why the counters ``measured`` cannot be the calls of trace group ``work`` (None when they
    can): per-call time more than COUNTER_TIME_RATIO apart, or hardware FLOPs past
    COUNTER_FLOPS_RATIO times the model's."""
    trace_s = work.measured_s / work.count if work.measured_s and work.count else None
    counter_s = measured.measured_s / max(measured.count, 1) if measured.measured_s else None
    if trace_s and counter_s and not 1 / COUNTER_TIME_RATIO <= counter_s / trace_s <= COUNTER_TIME_RATIO:
        return f"{fmt_seconds(counter_s)} a call in the counters, {fmt_seconds(trace_s)} in the trace"
    if work.flops and work.count and measured.flops:
        ratio = (measured.flops / max(measured.count, 1)) / (work.flops / work.count)
        if ratio > COUNTER_FLOPS_RATIO:
            return f"{ratio:,.0f}x the model FLOPs of a call"
    return None


def _counter_index(counters: LoadedInput) -> dict[str, KernelWork]:
    by_name: dict[str, KernelWork] = {work.name: work for work in counters.kernels}
    # Profilers spell namespaces differently ("(anonymous namespace)" vs "<unnamed>"): fall back to
    # the short name, but only where it names one kernel of the export.
    shorts = Counter(short_kernel_name(work.name) for work in counters.kernels)
    for work in counters.kernels:
        short = short_kernel_name(work.name)
        if shorts[short] == 1:
            by_name.setdefault(short, work)
    return by_name


def attach_counters(works: list[KernelWork], counters: LoadedInput) -> tuple[list[KernelWork], list[str]]:
    """Give trace kernel groups the hardware FLOPs and inner-level bytes Nsight Compute measured
    for kernels of the same name (per call, scaled to the group's call count), so hardware FLOPs
    (HFU) and model FLOPs (MFU) show side by side.

    Counters of another run are refused (InputError, exit 2): when no kernel group of the trace is
    in them, or when groups whose counters disagree with the trace (counter_disagreement) hold more
    than COUNTER_MISMATCH_SHARE of the matched kernel time. A few disagreeing groups below that
    share keep no counters, and a finding names them.
    """
    by_name = _counter_index(counters)
    kernels = [work for work in works if work.kind == "kernel"]
    total_s = sum(work.measured_s or 0.0 for work in kernels)
    pairs = {id(work): measured for work in kernels
             if (measured := by_name.get(work.name) or by_name.get(short_kernel_name(work.name))) is not None}
    if kernels and not pairs:
        biggest = sorted(kernels, key=lambda w: -(w.measured_s or 0.0))[:3]
        raise InputError(
            f"none of the trace's {len(kernels)} kernel group(s) is in the {len(counters.kernels)} kernel(s) of these "
            f"counters: they are of another program (the trace's largest: "
            f"{', '.join(short_kernel_name(w.name, 50) for w in biggest)})",
            file=counters.path, place="--counters", fix=_COUNTERS_FIX)
    disagree = {id(work): why for work in kernels if id(work) in pairs
                and (why := counter_disagreement(work, pairs[id(work)])) is not None}
    matched_s = sum(work.measured_s or 0.0 for work in kernels if id(work) in pairs)
    disagree_s = sum(work.measured_s or 0.0 for work in kernels if id(work) in disagree)
    named = sorted((w for w in kernels if id(w) in disagree), key=lambda w: -(w.measured_s or 0.0))
    listed = "; ".join(f"{short_kernel_name(w.name, 50)}{f' ({w.op})' if w.op else ''}: {disagree[id(w)]}"
                       for w in named[:3])
    if disagree and (not matched_s or disagree_s > COUNTER_MISMATCH_SHARE * matched_s):
        raise InputError(
            f"these counters are not of this trace's run: {len(disagree)} of {len(pairs)} kernel group(s) matched by "
            f"name disagree with the trace ({fmt_percent(disagree_s / matched_s) if matched_s else 'all'} of the "
            f"matched kernel time; {listed})",
            file=counters.path, place="--counters", fix=_COUNTERS_FIX)
    findings: list[str] = []
    out = []
    for work in works:
        measured = pairs.get(id(work))
        if measured is None or id(work) in disagree:
            out.append(work)
            continue
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
    coverage = f" ({fmt_percent(matched_s / total_s)} of kernel time)" if total_s else ""
    findings.insert(0, f"Nsight Compute counters from {counters.path} matched {len(pairs) - len(disagree)} of "
                       f"{len(works)} kernel groups by name{coverage}.")
    if disagree:
        findings.insert(1, f"{len(disagree)} group(s) matched by name keep no counters, they disagree with the trace: "
                           f"{listed}.")
    return out, findings


def select_events(loaded: LoadedInput, step: int | None, device_index: int | None) -> tuple[list, list]:
    """The events and steps of ``loaded`` that ``--step`` and ``--device`` select."""
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


def recorded_ops(loaded: LoadedInput, steps: list) -> int | None:
    """cpu_ops the profiler recorded in the selected steps (the whole trace without steps); None
    when the reader does not count them (Nsight Systems, Nsight Compute)."""
    counts = loaded.extra.get("host_ops")
    if not isinstance(counts, dict):
        return None
    if not steps:
        return int(counts.get(None, 0))
    return sum(int(counts.get(number, 0)) for number in {s[0] for s in steps})


def blocked_s(syncs: list[tuple[str, int, int]], steps: list) -> float:
    """Host time blocked in the synchronisations inside the steps, except each step's last one
    (the loop's own, which ends the step and waits for all its work)."""
    ordered = sorted((s[1], s[2]) for s in syncs)  # one sort and a binary search per step: long
    starts = [start for start, _ in ordered]  # traces have tens of thousands of both
    blocked = 0
    for _, start, end in steps:
        inside = ordered[bisect.bisect_left(starts, start) : bisect.bisect_right(starts, end)]
        blocked += sum(duration for _, duration in inside[:-1])
    return blocked * 1e-9


def syncs_in_steps(loaded: LoadedInput, steps: list) -> list[tuple[str, int, int]]:
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


def sync_findings(inside: list[tuple[str, int, int]], steps: list) -> list[str]:
    if not steps or not inside:
        return []
    if len(inside) <= len(steps):
        return []  # one synchronize per step (the profiling loop's own) is expected
    return [
        f"{len(inside)} host synchronisations inside {len(steps)} profiled steps "
        f"({', '.join(sorted({s[0] for s in inside}))}): each one drains the GPU queue; remove the ones "
        "the step does not need."
    ]


@dataclass
class Analysed:
    """A classified input and, for traces, the events and steps its result was computed from."""

    result: ClassifyResult
    events: list[GpuEvent] | None = None
    steps: list[tuple[int, int, int]] | None = None
    from_json: bool = False

    def timeline(self):  # type: ignore[no-untyped-def]
        """The timeline chart's data (report.charts.timeline.TimelineFigure), or None without a timeline."""
        if self.events is None:
            return None
        from roofline.report.charts.timeline import timeline_figure

        steps = self.steps or []
        return timeline_figure(self.result, timeline_segments(self.events, steps), steps)


def analyse_path(
    path: Path,
    registry: Registry,
    hw: str,
    ceilings: str | None,
    *,
    step: int | None = None,
    device: int | None = None,
    counters: LoadedInput | None = None,
    reader: Reader = read_input,
    graph_capture: Path | None = None,
    model: ModelLayer | None = None,
) -> list[Analysed]:
    """Classify one input, or read back the results of a ``classify --format json`` file."""
    from roofline.sources.classify_json import load_classify_json, looks_like_classify_json

    path = Path(path)
    if looks_like_classify_json(path):
        results = load_classify_json(path)
        for option, given in (("--ceilings", ceilings), ("--step", step), ("--device", device), ("--counters", counters),
                               ("--graph-capture", graph_capture), ("--model", model)):
            if given is not None:
                raise InputError(f"{option} does not apply to a classify result", file=path,
                                 fix="pass it to roofline classify, or plot the trace itself")
        for result in results:
            if hw.lower() != "auto" and normalize_name(hw) not in {normalize_name(result.hardware.name),
                                                                  normalize_name(result.hardware.display_name)}:
                raise InputError(f"was classified on {result.hardware.name}, not {hw}", file=path, place="--hw",
                                 fix=f"re-run roofline classify --hw {hw} --format json, or drop --hw")
        return [Analysed(result, from_json=True) for result in results]
    loaded = read_with_model(path, model, reader)
    result = classify_loaded(loaded, registry, hw, ceilings, step=step, device_index=device, counters=counters,
                             graph_capture=graph_capture, model=model)
    if loaded.events is None:
        return [Analysed(result)]
    # The same selection classify_loaded made, so the timeline and the verdicts describe one span.
    events, steps = select_events(loaded, step, device)
    return [Analysed(result, events, steps)]
