"""GPU timeline accounting: busy vs idle over the profiled span, overlapping streams counted once
(union, not sum), and every idle gap put in one bucket by what the GPU was waiting for:

* ``launch_wait`` — the host issued the next work only after the GPU had gone idle;
* ``host_stall`` — before a step's first GPU work, the host launched nothing (data loading, sleep,
  Python between steps): from the GPU going idle to the step's first launch call;
* ``lead_in`` — work queued before its first GPU activity: the step's first launch call to its first
  kernel, or, without step markers, the start of the span to the first GPU activity;
* ``graph_gap`` — idle inside a CUDA-graph replay (between its kernels): the graph's own scheduling
  and dependencies, not a launch the host was late with;
* ``other_idle`` — the rest: queued work that did not start (dependencies, synchronisation) and the
  tail of the span after the last GPU work.

Busy time is exactly the union of kernel/copy intervals, replayed graphs included. Pure functions
of :class:`GpuEvent` lists.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from roofline.analysis import timeline_table
from roofline.analysis.classify import KernelWork
from roofline.analysis.collectives import events_collective, is_collective_kernel
from roofline.analysis.event_table import EventTable
from roofline.analysis.events import GpuEvent

from roofline.analysis.timeline_figures import (
    IDLE_KINDS,
    Buckets,
    StepFigures,
    StreamFigures,
    TimelineFigures,
    figures_of,
    is_communication,
    step_figures_of,
)


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of a device's (or a stream's) timeline, in ns relative to the trace origin:
    ``busy`` (with the GPU events that made it busy) or one of :data:`IDLE_KINDS`.
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


def _sweep_order(events: list[GpuEvent]) -> tuple[list[GpuEvent], set[int], set[int]]:
    """The events in sweep order (start, end; ties keep input order), the positions of the events
    that open their step (the first in that order of each step number; step None is one group),
    and the positions of replayed kernels that are not the first of their replay (the gap before
    one is inside the replay)."""
    ordered = sorted(events, key=lambda e: (e.start_ns, e.end_ns))
    replay_start: dict[tuple[int, int], int] = {}
    for e in ordered:
        if e.in_graph and e.correlation is not None:
            replay_start.setdefault((e.device, e.correlation), e.start_ns)
    seen: set[int | None] = set()
    opening, inside = set(), set()
    for i, e in enumerate(ordered):
        if e.step not in seen:
            seen.add(e.step)
            opening.add(i)
        if e.in_graph and e.correlation is not None and e.start_ns > replay_start[(e.device, e.correlation)]:
            inside.add(i)
    return ordered, opening, inside


def _gap_kinds(event: GpuEvent, cursor: int, start: int, opening: bool, inside: bool) -> list[tuple[str, int, int]]:
    """The idle [cursor, start) before ``event`` cut into (kind, from, to) pieces."""
    launch = event.launch_start_ns
    if inside:
        return [("graph_gap", cursor, start)]
    if opening and event.step is None:
        return [("lead_in", cursor, start)]  # no step markers: the span opens on the first launch
    if launch is None or launch < cursor:
        return [("other_idle", cursor, start)]  # queued before the GPU went idle, yet not started
    if opening:
        issued = min(launch, start)  # the host's first launch of the step; after it the work is queued
        pieces = [("host_stall", cursor, issued), ("lead_in", issued, start)]
        return [p for p in pieces if p[2] > p[1]]
    return [("launch_wait", cursor, start)]


def _account(
    events: list[GpuEvent], span_start: int, span_end: int, segments: list[Segment] | None = None
) -> Buckets:
    """The accounting of [span_start, span_end]: busy (the union of the events' intervals) and each
    idle bucket, in ns, with the number of launch-wait gaps.

    ``segments``, when given, receives every piece of the span in time order, so charts and the
    annotated trace draw exactly what these totals count (one algorithm, not two).
    """
    if span_end <= span_start:
        return Buckets()
    totals = dict.fromkeys(("busy",) + IDLE_KINDS, 0)
    gaps = 0
    cursor = span_start
    ordered, opening, inside = _sweep_order(events)
    for i, event in enumerate(ordered):
        if event.end_ns <= span_start:
            continue
        start = min(max(event.start_ns, span_start), span_end)
        end = min(event.end_ns, span_end)
        if start > cursor:
            for kind, a, b in _gap_kinds(event, cursor, start, i in opening, i in inside):
                totals[kind] += b - a
                gaps += kind == "launch_wait"
                if segments is not None:
                    segments.append(Segment(a, b, kind))
            cursor = start
        if end > cursor:
            totals["busy"] += end - cursor
            if segments is not None:
                segments.append(Segment(cursor, end, "busy", (event,)))
            cursor = end
    if span_end > cursor:
        totals["other_idle"] += span_end - cursor
        if segments is not None:
            segments.append(Segment(cursor, span_end, "other_idle"))
    return Buckets(totals["busy"], totals["launch_wait"], totals["host_stall"], totals["lead_in"],
                   totals["graph_gap"], totals["other_idle"], gaps)


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
    total = Buckets()
    for device_events in by_device.values():
        device_scoped = [e for e in device_events if (e.step is not None or not steps)]
        total = total + _account(device_scoped, span_start, span_end)
    devices = max(len(by_device), 1)
    step_figures = []
    by_step: dict[int | None, list[GpuEvent]] = defaultdict(list)
    for event in events:
        by_step[event.step].append(event)
    for number, start, end in steps:
        members = by_step.get(number, [])
        if members:
            end = max(end, max(e.end_ns for e in members))
        b = _account(members, start, end)
        kernels = [e for e in members if e.kind == "kernel"]
        step_figures.append(step_figures_of(number, start, end, b, len(kernels), sum(e.dur_ns for e in kernels)))
    streams = []
    per_stream: dict[tuple[int, int], list[GpuEvent]] = defaultdict(list)
    for event in scoped:
        per_stream[(event.device, event.stream)].append(event)
    for (device, stream), members in sorted(per_stream.items()):
        busy = _account(members, span_start, span_end).busy
        streams.append(StreamFigures(device=device, stream=stream, events=len(members), busy_s=busy * 1e-9))
    kernels = [e for e in scoped if e.kind == "kernel"]
    communication, exposed = _communication(scoped, span_start, span_end)
    return figures_of(
        total, (span_end - span_start) * devices, kernels=len(kernels),
        kernel_ns=sum(e.dur_ns for e in kernels), graph_kernels=sum(1 for e in kernels if e.in_graph),
        communication_ns=communication, exposed_ns=exposed, steps=step_figures, streams=streams,
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
        total += _account(comm, span_start, span_end).busy
        exposed += _account(members, span_start, span_end).busy - _account(others, span_start, span_end).busy
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
                collective=events_collective(name, kind, [(e.collective, e.dur_ns) for e in members]),
            )
        )
    return works


def timeline_segments(events: list[GpuEvent], steps: list[tuple[int, int, int]]) -> list[DeviceSegments]:
    """Per device, the same span and accounting as :func:`analyse_timeline`, as segments in time
    order (busy and the idle buckets), plus each stream's busy segments: what a timeline chart
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

