"""Snapshot entries from a CPU-only PyTorch profiler trace: what a CI runner without a GPU can gate.

There is no kernel to place on a roofline, but a step still has a wall time, and the framework
ops it runs have host times and — deterministic for one torch version — call counts. Counts are
what a committed baseline can gate across machines: an extra copy, cast or synchronising
``.item()`` per layer adds calls on any CPU, while host times move with the runner.
Pure functions of the collected events, no files.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass

from roofline.gating.snapshot import Entry, exact, measured

HOST_DEVICE = "cpu"


@dataclass(frozen=True)
class HostOp:
    name: str
    start_ns: int
    dur_ns: int


def host_trace_entries(ops: list[HostOp], steps: list[tuple[int, int, int]]) -> list[Entry]:
    """``total`` (wall time and op calls per step) and one entry per op name (host time, calls).
    With ``ProfilerStep`` markers an op belongs to the step its start falls in, and ops outside
    every step are left out; without them the whole trace is one step."""
    ordered = sorted(steps, key=lambda step: step[1])
    if ordered:
        starts = [start for _, start, _ in ordered]
        walls = [(end - start) * 1e-9 for _, start, end in ordered]
    else:
        first = min((op.start_ns for op in ops), default=0)
        last = max((op.start_ns + op.dur_ns for op in ops), default=0)
        starts, walls = [], [(last - first) * 1e-9]
    count = len(walls)
    time_s: dict[str, list[float]] = defaultdict(lambda: [0.0] * count)
    calls: dict[str, list[int]] = defaultdict(lambda: [0] * count)
    total_calls = [0] * count
    for op in ops:
        if ordered:
            index = bisect_right(starts, op.start_ns) - 1
            if index < 0 or op.start_ns > ordered[index][2]:
                continue
        else:
            index = 0
        time_s[op.name][index] += op.dur_ns * 1e-9
        calls[op.name][index] += 1
        total_calls[index] += 1
    entries = [Entry(name="total", group="total", metrics={
        "wall_time_per_step_s": measured(_mean(walls), "s", "lower_is_better", _samples(walls)),
        "host_ops_per_step": exact(_mean(total_calls), "", "lower_is_better"),
    }, notes=["CPU-only trace: host op times and call counts; no GPU kernels"])]
    for name in sorted(time_s):
        entries.append(Entry(name=name, group="op", op=name, metrics={
            # Inclusive of the ops it calls: aten::linear's time holds its aten::mm.
            "host_time_per_step_s": measured(_mean(time_s[name]), "s", "lower_is_better", _samples(time_s[name])),
            "calls_per_step": exact(_mean(calls[name]), "", "lower_is_better"),
        }))
    return entries


def _mean(values: list[float] | list[int]) -> float:
    return sum(values) / len(values)


def _samples(values: list[float]) -> list[float] | None:
    return values if len(values) >= 2 else None
