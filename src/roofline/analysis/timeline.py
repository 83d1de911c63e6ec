"""GPU timeline accounting: busy vs idle over the profiled span, idle split into host/launch wait
and other, overlapping streams counted once (union, not sum), CUDA-graph replays counted as busy.
Pure functions of :class:`GpuEvent` lists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from roofline.analysis import timeline_table
from roofline.analysis.classify import KernelWork
from roofline.analysis.event_table import EventTable
from roofline.analysis.events import GpuEvent
from roofline.analysis.timeline_figures import StepFigures, StreamFigures, TimelineFigures, is_communication


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a device's (or a stream's) timeline, in ns relative to the trace origin:
    ``busy`` (with the GPU events that made it busy), ``launch_wait`` or ``other_idle``.
    """

    start_ns: int
    end_ns: int
    kind: str
    members: tuple[GpuEvent, ...] = ()

    @property
    def dur_ns(self) -> int:
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class DeviceSegments:
    """A device's accounted span cut into segments, and each stream's busy segments."""

    device: int
    span_start_ns: int
    span_end_ns: int
    segments: list[Segment]
    streams: dict[int, list[Segment]]


@dataclass
class _Interval:
    start: int
    end: int
    # Host launch time of the work that opened this interval (None: unknown / nsys).
    launch_start: int | None = None
    members: list[GpuEvent] = field(default_factory=list)


def _work_intervals(events: list[GpuEvent]) -> list[_Interval]:
    """One interval per eager event, one per CUDA-graph replay (first kernel start → last end):
    gaps inside a replay are the graph's own scheduling, not idle time.
    """
    intervals: list[_Interval] = []
    replays: dict[tuple[int, int], list[GpuEvent]] = defaultdict(list)
    for event in events:
        if event.in_graph and event.correlation is not None:
            replays[(event.device, event.correlation)].append(event)
        else:
            intervals.append(_Interval(event.start_ns, event.end_ns, event.launch_start_ns, [event]))
    for members in replays.values():
        start = min(e.start_ns for e in members)
        end = max(e.end_ns for e in members)
        launch = members[0].launch_start_ns
        intervals.append(_Interval(start, end, launch, members))
    intervals.sort(key=lambda iv: (iv.start, iv.end))
    return intervals


def _account(
    events: list[GpuEvent], span_start: int, span_end: int, segments: list[Segment] | None = None
) -> tuple[int, int, int, int]:
    """(busy, launch_wait, other_idle, launch_gaps) in ns within [span_start, span_end].

    ``segments``, when given, receives every piece of the span in time order, so charts and the
    annotated trace draw exactly what these totals count (one algorithm, not two).
    """
    if span_end <= span_start:
        return 0, 0, 0, 0
    busy = launch_wait = other = gaps = 0
    cursor = span_start
    for interval in _work_intervals(events):
        start = max(interval.start, span_start)
        end = min(interval.end, span_end)
        if end <= start:
            if interval.end <= span_start:
                continue
        if start > cursor:
            gap = start - cursor
            # The host issued this work only after the GPU had gone idle: the GPU waited on launches.
            if interval.launch_start is not None and interval.launch_start >= cursor:
                launch_wait += gap
                gaps += 1
                kind = "launch_wait"
            else:
                other += gap
                kind = "other_idle"
            if segments is not None:
                segments.append(Segment(cursor, start, kind))
            cursor = start
        if end > cursor:
            busy += end - cursor
            if segments is not None:
                segments.append(Segment(cursor, end, "busy", tuple(interval.members)))
            cursor = end
    if span_end > cursor:
        other += span_end - cursor
        if segments is not None:
            segments.append(Segment(cursor, span_end, "other_idle"))
    return busy, launch_wait, other, gaps


def trace_span(events: list[GpuEvent], steps: list[tuple[int, int, int]]) -> tuple[int, int]:
    """The profiled steps' wall span (extended to the GPU work they launched), or, without step
    markers, from the first launch to the last GPU activity.
    """
    if steps:
        start = min(s[1] for s in steps)
        end = max(s[2] for s in steps)
        in_steps = [e for e in events if e.step is not None]
        if in_steps:
            end = max(end, max(e.end_ns for e in in_steps))
        return start, end
    starts = [e.start_ns for e in events] + [e.launch_start_ns for e in events if e.launch_start_ns is not None]
    return min(starts), max(e.end_ns for e in events)


def analyse_timeline(events: list[GpuEvent], steps: list[tuple[int, int, int]]) -> TimelineFigures:
    if isinstance(events, EventTable):  # a large trace's columns: the same figures, computed per column
        return timeline_table.analyse_timeline(events, steps)
    if not events:
        return TimelineFigures(span_s=0, gpu_busy_s=0, idle_s=0, launch_wait_s=0, other_idle_s=0, launch_gaps=0,
                               kernels=0, kernel_time_s=0)
    by_device: dict[int, list[GpuEvent]] = defaultdict(list)
    for event in events:
        by_device[event.device].append(event)
    span_start, span_end = trace_span(events, steps)
    scoped = [e for e in events if e.step is not None] if steps else events
    # Several devices: account each over the same span and add (GPU-seconds).
    busy = wait = other = gaps = 0
    for device_events in by_device.values():
        device_scoped = [e for e in device_events if (e.step is not None or not steps)]
        b, w, o, g = _account(device_scoped, span_start, span_end)
        busy, wait, other, gaps = busy + b, wait + w, other + o, gaps + g
    devices = max(len(by_device), 1)
    step_figures = []
    by_step: dict[int | None, list[GpuEvent]] = defaultdict(list)
    for event in events:
        by_step[event.step].append(event)
    for number, start, end in steps:
        members = by_step.get(number, [])
        if members:
            end = max(end, max(e.end_ns for e in members))
        b, w, o, _ = _account(members, start, end)
        kernels = [e for e in members if e.kind == "kernel"]
        first = min((e.start_ns for e in members), default=end)
        step_figures.append(
            StepFigures(
                step=number,
                span_s=(end - start) * 1e-9,
                gpu_busy_s=b * 1e-9,
                idle_s=(w + o) * 1e-9,
                launch_wait_s=w * 1e-9,
                kernels=len(kernels),
                kernel_time_s=sum(e.dur_ns for e in kernels) * 1e-9,
                lead_in_s=min(max(first - start, 0), w + o) * 1e-9,
            )
        )
    streams = []
    per_stream: dict[tuple[int, int], list[GpuEvent]] = defaultdict(list)
    for event in scoped:
        per_stream[(event.device, event.stream)].append(event)
    for (device, stream), members in sorted(per_stream.items()):
        b, _, _, _ = _account(members, span_start, span_end)
        streams.append(StreamFigures(device=device, stream=stream, events=len(members), busy_s=b * 1e-9))
    kernels = [e for e in scoped if e.kind == "kernel"]
    communication, exposed = _communication(scoped, span_start, span_end)
    return TimelineFigures(
        span_s=(span_end - span_start) * 1e-9 * devices,
        gpu_busy_s=busy * 1e-9,
        idle_s=(wait + other) * 1e-9,
        launch_wait_s=wait * 1e-9,
        other_idle_s=other * 1e-9,
        launch_gaps=gaps,
        kernels=len(kernels),
        kernel_time_s=sum(e.dur_ns for e in kernels) * 1e-9,
        graph_kernels=sum(1 for e in kernels if e.in_graph),
        communication_s=communication * 1e-9,
        exposed_communication_s=exposed * 1e-9,
        steps=step_figures,
        streams=streams,
    )


def _communication(events: list[GpuEvent], span_start: int, span_end: int) -> tuple[int, int]:
    """(communication busy ns, exposed ns) summed over devices: exposed is the time covered by
    communication kernels and by nothing else, union(all) − union(all but communication)."""
    if not any(is_communication(e.name) for e in events if e.kind == "kernel"):
        return 0, 0
    total = exposed = 0
    per_device: dict[int, list[GpuEvent]] = defaultdict(list)
    for event in events:
        per_device[event.device].append(event)
    for members in per_device.values():
        comm = [e for e in members if e.kind == "kernel" and is_communication(e.name)]
        others = [e for e in members if not (e.kind == "kernel" and is_communication(e.name))]
        total += _account(comm, span_start, span_end)[0]
        exposed += _account(members, span_start, span_end)[0] - _account(others, span_start, span_end)[0]
    return total, exposed


def _longest_runs(groups: dict[tuple, list[GpuEvent]]) -> dict[tuple, int]:
    """Per group, the most calls issued back to back on one device with no other kernel between
    (a Python loop over independent items, e.g. heads or experts, rather than a layer stack)."""
    order = sorted(((e.device, e.start_ns, key) for key, members in groups.items() for e in members
                    if e.kind == "kernel"), key=lambda item: (item[0], item[1]))
    best: dict[tuple, int] = {}
    previous, device, run = None, None, 0
    for dev, _, key in order:
        run = run + 1 if key == previous and dev == device else 1
        previous, device = key, dev
        if run > best.get(key, 0):
            best[key] = run
    return best


def group_events(events: Iterable[GpuEvent]) -> list[KernelWork]:
    """Kernel groups for the table: same op, same kernel name, same launch mode."""
    if isinstance(events, EventTable):
        return timeline_table.group_events(events)
    groups: dict[tuple, list[GpuEvent]] = defaultdict(list)
    for event in events:
        groups[(event.op or "", event.name, event.in_graph, event.kind)].append(event)
    runs = _longest_runs(groups)
    works = []
    for (op, name, in_graph, kind), members in groups.items():
        known = all(e.flops is not None and e.bytes is not None for e in members)
        precisions = Counter(e.precision for e in members if e.precision is not None)
        reasons = Counter(e.unknown_reason for e in members if e.unknown_reason)
        launch_calls = [e.launch_dur_ns for e in members if e.launch_dur_ns is not None and not e.in_graph]
        delays = [e.start_ns - e.launch_start_ns for e in members if e.launch_start_ns is not None and not e.in_graph]
        blocks = [e.grid[0] * e.grid[1] * e.grid[2] for e in members if e.grid]
        works.append(
            KernelWork(
                name=name,
                op=op or None,
                count=len(members),
                flops=sum(e.flops or 0.0 for e in members) if known else None,
                bytes=sum(e.bytes or 0.0 for e in members) if known else None,
                precision=precisions.most_common(1)[0][0] if precisions else None,
                unit=members[0].unit,
                measured_s=sum(e.dur_ns for e in members) * 1e-9,
                source=members[0].source if known else "none",  # type: ignore[arg-type]
                in_graph=in_graph,
                unknown_reason=reasons.most_common(1)[0][0] if reasons and not known else None,
                launch_call_s=(sum(launch_calls) / len(launch_calls)) * 1e-9 if launch_calls else None,
                launch_delay_s=(sum(delays) / len(delays)) * 1e-9 if delays else None,
                kind=kind,
                link=members[0].link,
                blocks_per_call=sum(blocks) / len(blocks) if blocks else None,
                longest_run=runs.get((op, name, in_graph, kind), 1),
            )
        )
    return works


def timeline_segments(events: list[GpuEvent], steps: list[tuple[int, int, int]]) -> list[DeviceSegments]:
    """Per device, the same span and accounting as :func:`analyse_timeline`, as segments in time
    order (busy / launch wait / other idle), plus each stream's busy segments: what a timeline chart
    draws and what the annotated trace's counter tracks follow. Totals equal analyse_timeline's.
    """
    if not events:
        return []
    span_start, span_end = trace_span(events, steps)
    by_device: dict[int, list[GpuEvent]] = {device: [] for device in sorted({e.device for e in events})}
    for event in events:
        if event.step is not None or not steps:
            by_device[event.device].append(event)
    out = []
    for device, members in sorted(by_device.items()):
        segments: list[Segment] = []
        _account(members, span_start, span_end, segments)
        per_stream: dict[int, list[GpuEvent]] = defaultdict(list)
        for event in members:
            per_stream[event.stream].append(event)
        streams: dict[int, list[Segment]] = {}
        for stream, stream_events in sorted(per_stream.items()):
            pieces: list[Segment] = []
            _account(stream_events, span_start, span_end, pieces)
            streams[stream] = [piece for piece in pieces if piece.kind == "busy"]
        out.append(DeviceSegments(device, span_start, span_end, segments, streams))
    return out

