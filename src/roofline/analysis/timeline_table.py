"""Timeline accounting and kernel grouping over an :class:`EventTable`: the same figures as
:mod:`roofline.analysis.timeline`'s event-list functions, computed on whole columns so that a trace
of millions of kernels is analysed without one Python object per kernel.

The sweep of ``timeline._account`` — walk the events in start order with a cursor, put the gap
before each in its bucket (launch wait, host stall, lead-in, graph gap, other idle) and count the
busy time past the cursor — is a prefix maximum: the cursor before event *i* is the largest end
(or clipped start) of the events before it. tests/test_event_table.py checks both give equal
figures on every real trace of the test data; a figure added to one must be added to the other.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from roofline.analysis.classify import KernelWork
from roofline.analysis.collectives import group_collective
from roofline.analysis.event_table import KINDS, LINKS, MISSING, PRECISIONS, SOURCES, UNITS, EventTable
from roofline.analysis.timeline_figures import (
    Buckets,
    StepFigures,
    StreamFigures,
    TimelineFigures,
    figures_of,
    is_communication,
    step_figures_of,
)

_KERNEL = KINDS.index("kernel")


class _Intervals:
    """The rows as sweep intervals, sorted by (start, end) with timeline._sweep_order's tie order,
    with the flags that classify the gap before each: ``opening`` (the first of its step in that
    order; no step is one group) and ``inside`` (a replayed kernel after its replay's first)."""

    def __init__(self, table: EventTable, rows: np.ndarray) -> None:
        start = table.start_ns[rows]
        end = start + table.dur_ns[rows]
        order = np.lexsort((np.arange(len(rows)), end, start))
        self.start, self.end = start[order], end[order]
        self.launch = table.launch_start_ns[rows][order]
        self.step = table.step[rows][order]
        self.opening = np.zeros(len(order), bool)
        if len(order):
            self.opening[np.unique(self.step, return_index=True)[1]] = True
        graph = (table.in_graph[rows] & (table.correlation[rows] != MISSING))[order]
        self.inside = np.zeros(len(order), bool)
        if graph.any():
            g = np.flatnonzero(graph)
            keys = np.stack([table.device[rows][order][g], table.correlation[rows][order][g]], axis=1)
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            # In sweep order the first row of a replay holds its earliest start.
            self.inside[g] = self.start[g] > self.start[g][first][inverse.reshape(-1)]


def account(table: EventTable, rows: np.ndarray, span_start: int, span_end: int) -> Buckets:
    """timeline._account of ``rows`` within [span_start, span_end]."""
    if span_end <= span_start:
        return Buckets()
    iv = _Intervals(table, rows)
    keep = iv.end > span_start
    start, end, launch = iv.start[keep], iv.end[keep], iv.launch[keep]
    opening, inside, step = iv.opening[keep], iv.inside[keep], iv.step[keep]
    clipped_start = np.minimum(np.maximum(start, span_start), span_end)
    clipped_end = np.minimum(end, span_end)
    reach = np.maximum(clipped_start, clipped_end)
    cursor = np.empty(len(start), np.int64)
    if len(start):
        cursor[0] = span_start
        cursor[1:] = np.maximum(np.maximum.accumulate(reach)[:-1], span_start)
    gap = np.maximum(clipped_start - cursor, 0)
    busy = np.maximum(clipped_end - np.maximum(cursor, clipped_start), 0)
    final = max(int(reach.max()), span_start) if len(start) else span_start
    trailing = max(span_end - final, 0)
    graph_gap = inside
    lead_only = ~graph_gap & opening & (step == MISSING)
    rest = ~graph_gap & ~lead_only
    queued = rest & ((launch == MISSING) | (launch < cursor))
    first = rest & ~queued & opening
    waited = rest & ~queued & ~opening & (gap > 0)
    issued = np.minimum(launch, clipped_start)
    stall = np.where(first, np.maximum(issued - cursor, 0), 0)
    lead = np.where(lead_only, gap, 0) + np.where(first, gap - stall, 0)
    return Buckets(
        busy=int(busy.sum()),
        launch_wait=int(gap[waited].sum()),
        host_stall=int(stall.sum()),
        lead_in=int(lead.sum()),
        graph_gap=int(gap[graph_gap].sum()),
        other_idle=int(gap[queued].sum()) + trailing,
        launch_gaps=int(waited.sum()),
    )


def trace_span(table: EventTable, steps: list[tuple[int, int, int]]) -> tuple[int, int]:
    end = table.start_ns + table.dur_ns
    if steps:
        start = min(s[1] for s in steps)
        stop = max(s[2] for s in steps)
        in_steps = table.step != MISSING
        if in_steps.any():
            stop = max(stop, int(end[in_steps].max()))
        return start, stop
    launches = table.launch_start_ns[table.launch_start_ns != MISSING]
    first = int(table.start_ns.min())
    if len(launches):
        first = min(first, int(launches.min()))
    return first, int(end.max())


def analyse_timeline(table: EventTable, steps: list[tuple[int, int, int]]) -> TimelineFigures:
    """timeline.analyse_timeline for a table."""
    if not len(table):
        return TimelineFigures(span_s=0, gpu_busy_s=0, idle_s=0, launch_wait_s=0, other_idle_s=0, launch_gaps=0,
                               kernels=0, kernel_time_s=0)
    span_start, span_end = trace_span(table, steps)
    scoped = table.step != MISSING if steps else np.ones(len(table), bool)
    devices = np.unique(table.device)
    total = Buckets()
    for device in devices.tolist():
        total = total + account(table, np.flatnonzero(scoped & (table.device == device)), span_start, span_end)
    kernel = table.kind == _KERNEL
    step_figures = _steps(table, steps, kernel)
    streams = []
    scoped_rows = np.flatnonzero(scoped)
    pairs = np.unique(np.stack([table.device[scoped_rows], table.stream[scoped_rows]], axis=1), axis=0)
    for device, stream in pairs.tolist():
        members = scoped_rows[(table.device[scoped_rows] == device) & (table.stream[scoped_rows] == stream)]
        busy = account(table, members, span_start, span_end).busy
        streams.append(StreamFigures(device=device, stream=stream, events=len(members), busy_s=busy * 1e-9))
    scoped_kernels = scoped & kernel
    communication, exposed = _communication(table, scoped_rows, span_start, span_end)
    return figures_of(
        total, (span_end - span_start) * max(len(devices), 1), kernels=int(scoped_kernels.sum()),
        kernel_ns=int(table.dur_ns[scoped_kernels].sum()), graph_kernels=int((scoped_kernels & table.in_graph).sum()),
        communication_ns=communication, exposed_ns=exposed, steps=step_figures, streams=streams,
    )


def _steps(table: EventTable, steps: list[tuple[int, int, int]], kernel: np.ndarray) -> list[StepFigures]:
    if not steps:
        return []
    order = np.argsort(table.step, kind="stable")
    numbers = table.step[order]
    out = []
    for number, start, end in steps:
        lo, hi = np.searchsorted(numbers, number, "left"), np.searchsorted(numbers, number, "right")
        members = np.sort(order[lo:hi])
        if len(members):
            end = max(end, int((table.start_ns[members] + table.dur_ns[members]).max()))
        buckets = account(table, members, start, end)
        kernels = members[kernel[members]]
        out.append(step_figures_of(number, start, end, buckets, len(kernels), int(table.dur_ns[kernels].sum())))
    return out


def _communication(table: EventTable, rows: np.ndarray, span_start: int, span_end: int) -> tuple[int, int]:
    """timeline._communication: communication busy time, and the time covered by communication
    and nothing else (union of all − union of all but communication), per device."""
    comm = (table.kind == _KERNEL) & table.name_mask(is_communication)
    if not comm[rows].any():
        return 0, 0
    total = exposed = 0
    for device in np.unique(table.device[rows]).tolist():
        members = rows[table.device[rows] == device]
        total += account(table, members[comm[members]], span_start, span_end).busy
        exposed += (account(table, members, span_start, span_end).busy
                    - account(table, members[~comm[members]], span_start, span_end).busy)
    return total, exposed


def group_events(table: EventTable) -> list[KernelWork]:
    """timeline.group_events for a table: groups of the same op, kernel name, launch mode and kind,
    in order of first appearance."""
    if not len(table):
        return []
    op = table.op.copy()
    if "" in table.ops.codes:
        op[op == table.ops.codes[""]] = 0  # no op and an empty op name are one group
    if len(table.ops) * len(table.names) * 2 * len(KINDS) < 2**62:
        # One int64 per row (op, name, launch mode, kind): a 1-D unique, ~5x faster than rows.
        keys = ((op.astype(np.int64) * len(table.names) + table.name) * 2 + table.in_graph) * len(KINDS) + table.kind
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    else:
        keys = np.stack([op.astype(np.int64), table.name.astype(np.int64), table.in_graph.astype(np.int64),
                         table.kind.astype(np.int64)], axis=1)
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    # Renumber groups by first appearance; order the rows group by group, in trace order within.
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    group = rank[inverse]
    rows = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.r_[True, group[rows][1:] != group[rows][:-1]])
    count = np.diff(np.r_[bounds, len(rows)])

    def total(column: np.ndarray) -> np.ndarray:
        return np.add.reduceat(column[rows], bounds)

    flops, nbytes = table.flops, table.bytes
    known = total((np.isnan(flops) | np.isnan(nbytes)).astype(np.int64)) == 0
    eager_launch = (table.launch_dur_ns != MISSING) & ~table.in_graph
    eager_delay = (table.launch_start_ns != MISSING) & ~table.in_graph
    launch_n = total(eager_launch.astype(np.int64))
    launch_sum = total(np.where(eager_launch, table.launch_dur_ns, 0))
    delay_n = total(eager_delay.astype(np.int64))
    delay_sum = total(np.where(eager_delay, table.start_ns - table.launch_start_ns, 0))
    block_of_grid = np.array([g[0] * g[1] * g[2] if g else 0 for g in table.grids.values], np.float64)
    has_grid = np.array([bool(g) for g in table.grids.values], bool)[table.grid]
    blocks_n = total(has_grid.astype(np.int64))
    blocks_sum = total(block_of_grid[table.grid])
    flops_sum = total(np.nan_to_num(flops))
    bytes_sum = total(np.nan_to_num(nbytes))
    dur_sum = total(table.dur_ns)
    runs = _longest_runs(table, group)
    works = []
    for g, lead in enumerate(rows[bounds].tolist()):
        members = rows[bounds[g] : bounds[g] + count[g]]
        op_name = table.ops.values[op[lead]]
        works.append(KernelWork(
            name=table.names.values[table.name[lead]],
            op=op_name or None,
            count=int(count[g]),
            flops=float(flops_sum[g]) if known[g] else None,
            bytes=float(bytes_sum[g]) if known[g] else None,
            precision=_most_common(table.precision[members], -1, PRECISIONS),
            unit=UNITS[table.unit[lead]],
            measured_s=int(dur_sum[g]) * 1e-9,
            source=SOURCES[table.source[lead]] if known[g] else "none",  # type: ignore[arg-type]
            in_graph=bool(table.in_graph[lead]),
            unknown_reason=None if known[g] else _most_common(table.reason[members], 0, table.reasons.values),
            launch_call_s=(int(launch_sum[g]) / int(launch_n[g])) * 1e-9 if launch_n[g] else None,
            launch_delay_s=(int(delay_sum[g]) / int(delay_n[g])) * 1e-9 if delay_n[g] else None,
            kind=KINDS[table.kind[lead]],
            link=LINKS[table.link[lead]],
            blocks_per_call=float(blocks_sum[g]) / int(blocks_n[g]) if blocks_n[g] else None,
            longest_run=int(runs[g]),
            collective=group_collective(table, members),
        ))
    return works


def _most_common(codes: np.ndarray, absent: int, values: tuple | list) -> object:
    """Counter.most_common over the present codes (ties: first seen), decoded."""
    present = codes[codes != absent]
    if not len(present):
        return None
    if (present == present[0]).all():
        return values[int(present[0])]
    return values[Counter(present.tolist()).most_common(1)[0][0]]


def _longest_runs(table: EventTable, group: np.ndarray) -> np.ndarray:
    """Per group, the most kernels issued back to back on one device with no other kernel between
    (timeline._longest_runs)."""
    runs = np.ones(int(group.max()) + 1, np.int64)
    kernels = np.flatnonzero(table.kind == _KERNEL)
    if not len(kernels):
        return runs
    # Ties in (device, start) keep timeline's generation order: group by group, trace order within.
    generation = np.lexsort((kernels, group[kernels]))
    position = np.empty(len(kernels), np.int64)
    position[generation] = np.arange(len(kernels))
    order = kernels[np.lexsort((position, table.start_ns[kernels], table.device[kernels]))]
    g, device = group[order], table.device[order]
    new_run = np.r_[True, (g[1:] != g[:-1]) | (device[1:] != device[:-1])]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.r_[starts, len(order)])
    np.maximum.at(runs, g[starts], lengths)
    return runs
