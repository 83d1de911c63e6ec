"""Snapshot entries from a classified trace or kernel list: pure functions of the classify result
and the timeline events, no files.

Entries are keyed so that the same work matches across runs: ``total``; one per framework op
(``aten::mm``: every kernel it launched, so a kernel swap — nvjet bf16 → SIMT fp32 — still lines
up); one per kernel group, ``op › short kernel name`` (template arguments after the first and
parameter lists dropped, since those change with unrelated edits while the kernel stays the same).
Per-step figures carry per-step samples so the gate can test significance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from roofline.analysis.classify import KernelVerdict
from roofline.analysis.events import GpuEvent
from roofline.analysis.result import ClassifyResult
from roofline.gating.snapshot import Entry, Metric, exact, label, measured
from roofline.units import short_kernel_name

# Wide enough that distinct kernels keep distinct names; the short form only drops the noise.
KEY_WIDTH = 200
SEPARATOR = " › "


def kernel_key(op: str | None, name: str) -> str:
    short = short_kernel_name(name, KEY_WIDTH)
    return f"{op}{SEPARATOR}{short}" if op else short


@dataclass
class _Tally:
    """Per-step sums for one entry. ``flops``/``bytes`` become None once any member is uncosted."""

    time_s: list[float]
    calls: list[int]
    flops: list[float | None]
    bytes: list[float | None]
    roof_s: list[float | None]  # time the work would take at the roof: pct_of_roof = roof_s / time_s
    bounds: Counter = field(default_factory=Counter)  # bound label → seconds
    precisions: Counter = field(default_factory=Counter)
    op: str | None = None  # kernel groups: the op part of the key
    full_names: set = field(default_factory=set)  # distinct demangled kernel names behind the key

    @classmethod
    def empty(cls, steps: int) -> _Tally:
        return cls([0.0] * steps, [0] * steps, [0.0] * steps, [0.0] * steps, [0.0] * steps)

    def add(self, step: int, seconds: float, flops: float | None, num_bytes: float | None,
            roof_s: float | None) -> None:
        self.time_s[step] += seconds
        self.calls[step] += 1
        self.flops[step] = None if flops is None or self.flops[step] is None else self.flops[step] + flops
        self.bytes[step] = None if num_bytes is None or self.bytes[step] is None else self.bytes[step] + num_bytes
        self.roof_s[step] = None if roof_s is None or self.roof_s[step] is None else self.roof_s[step] + roof_s


def _per_call(verdicts: Iterable[KernelVerdict]) -> dict[tuple, tuple[float | None, str, str | None]]:
    """Per classified group (op, kernel name, kind — analysis.timeline.group_events' key less the
    launch mode, which a verdict does not carry): the roof time of one call (pct_of_roof × mean
    call time), its bound and its precision."""
    table = {}
    for v in verdicts:
        roof_s = v.pct_of_roof * v.total_s / max(v.count, 1) if v.pct_of_roof is not None else None
        table[(v.op or "", v.name, v.kind)] = (roof_s, v.bound.value, v.precision)
    return table


def trace_entries(result: ClassifyResult, events: list[GpuEvent], steps: list[tuple[int, int, int]],
                  syncs: list[tuple[str, int, int]]) -> list[Entry]:
    """Entries of a kineto / nsys trace. With ``ProfilerStep`` markers, figures are per step with
    per-step samples; without them the whole trace counts as one step."""
    numbers = [number for number, _, _ in steps]
    index = {number: i for i, number in enumerate(numbers)}
    count = max(len(numbers), 1)
    scoped = [e for e in events if e.step in index] if numbers else list(events)
    per_call = _per_call(result.kernels)
    totals = _Tally.empty(count)
    costed = _Tally.empty(count)  # the total over kernels whose FLOPs and bytes are known
    ops: dict[str, _Tally] = defaultdict(lambda: _Tally.empty(count))
    kernels: dict[str, _Tally] = defaultdict(lambda: _Tally.empty(count))
    for event in scoped:
        step = index[event.step] if numbers else 0
        roof_s, bound, precision = per_call.get((event.op or "", event.name, event.kind), (None, "unknown", None))
        seconds = event.dur_ns * 1e-9
        flops = event.flops if event.bytes is not None else None
        num_bytes = event.bytes if event.flops is not None else None
        key = kernel_key(event.op, event.name)
        if key not in kernels:
            kernels[key].op = event.op
        kernels[key].full_names.add(event.name)
        tallies = [kernels[key], totals]
        if event.op:
            tallies.append(ops[event.op])
        if flops is not None and num_bytes is not None:
            tallies.append(costed)
        for tally in tallies:
            tally.add(step, seconds, flops, num_bytes, roof_s)
            tally.bounds[bound] += seconds
            if precision:
                tally.precisions[precision] += seconds
    entries = [_total_entry(result, totals, costed, steps, syncs)]
    entries += [_group_entry(name, "op", tally) for name, tally in sorted(ops.items())]
    entries += [_group_entry(name, "kernel", tally) for name, tally in sorted(kernels.items())]
    return entries


def _samples(values: list[float]) -> list[float] | None:
    return values if len(values) >= 2 else None


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _work_metrics(tally: _Tally, time_basis: list[float], *, shared: bool = False) -> dict[str, Metric]:
    """FLOPs, bytes, achieved rates and % of roof. Every key is present, ``None`` when unknown, so
    that an absent key in a later run means the metric went missing, not that it was not derived.

    ``shared``: kernel groups. An op that launches several kernels (a GEMM and its split-K
    reduction) has its work shared among them by GPU time (sources/kineto_cost.py), so a kernel's
    FLOPs and bytes move with timings: measured, not exact. Op and total sums stay exact."""
    flops = None if any(f is None for f in tally.flops) else tally.flops
    num_bytes = None if any(b is None for b in tally.bytes) else tally.bytes
    roof = None if any(r is None for r in tally.roof_s) else tally.roof_s
    return {
        "flops_per_step": _work(flops, "FLOP", shared),
        "bytes_per_step": _work(num_bytes, "B", shared),
        "achieved_flops_per_s": _rate_metric(flops, time_basis, "FLOP/s"),  # type: ignore[arg-type]
        "achieved_bytes_per_s": _rate_metric(num_bytes, time_basis, "B/s"),  # type: ignore[arg-type]
        "pct_of_roof": _rate_metric(roof, time_basis, "fraction"),  # type: ignore[arg-type]
    }


def _work(per_step: list[float] | None, unit: str, shared: bool) -> Metric:
    value = _mean(per_step) if per_step else None
    if shared:
        return measured(value, unit, "lower_is_better", _samples(per_step) if per_step else None)
    return exact(value, unit, "lower_is_better")


def _rate_metric(amounts: list[float] | None, times: list[float], unit: str) -> Metric:
    """Per-step amount / time, the value over all steps together; None when unknown, when there
    is nothing to rate (a copy has no FLOPs), or when a step ran none of this work."""
    if amounts is None or not any(amounts) or any(t <= 0 for t in times):
        return measured(None, unit, "higher_is_better")
    samples = [a / t for a, t in zip(amounts, times)]
    return measured(sum(amounts) / sum(times), unit, "higher_is_better", _samples(samples))


def _largest(counter: Counter) -> str | None:
    if not counter:
        return None
    return max(counter, key=lambda key: (counter[key], key != "unknown"))


def _group_entry(name: str, group: str, tally: _Tally) -> Entry:
    metrics = {
        "kernel_time_per_step_s": measured(_mean(tally.time_s), "s", "lower_is_better", _samples(tally.time_s)),
        "calls_per_step": exact(_mean(tally.calls), "", "lower_is_better"),
    }
    metrics.update(_work_metrics(tally, tally.time_s, shared=group == "kernel"))
    metrics["bound"] = label(_largest(tally.bounds))
    metrics["precision"] = label(_largest(tally.precisions))
    # The demangled name, when the key stands for one kernel: what matching across a run whose
    # kernels carry no op (CUDA-graph replays) may use, since the short name alone is too coarse
    # (vectorized_elementwise_kernel<8, …> is add, mul, silu … at once).
    kernel = next(iter(tally.full_names)) if len(tally.full_names) == 1 else None
    return Entry(name=name, group=group, metrics=metrics, op=tally.op, kernel=kernel)


def _total_entry(result: ClassifyResult, tally: _Tally, costed: _Tally, steps: list[tuple[int, int, int]],
                 syncs: list[tuple[str, int, int]]) -> Entry:
    summary = result.summary
    figures = {figure.step: figure for figure in summary.steps}
    ordered = [figures[number] for number, _, _ in steps if number in figures]
    if ordered and len(ordered) == len(steps):
        wall = [f.span_s for f in ordered]
        busy = [f.gpu_busy_s for f in ordered]
        wait_share = [f.launch_wait_s / f.span_s if f.span_s > 0 else 0.0 for f in ordered]
    else:
        wall, busy = [summary.span_s], [summary.gpu_busy_s]
        wait_share = [summary.launch_wait_s / summary.span_s if summary.span_s > 0 else 0.0]
    metrics = {
        "wall_time_per_step_s": measured(_mean(wall), "s", "lower_is_better", _samples(wall)),
        "gpu_busy_per_step_s": measured(_mean(busy), "s", "lower_is_better", _samples(busy)),
        "kernel_time_per_step_s": measured(_mean(tally.time_s), "s", "lower_is_better", _samples(tally.time_s)),
        "launch_wait_share": measured(_mean(wait_share), "fraction", "lower_is_better", _samples(wait_share)),
        "kernels_per_step": exact(_mean(tally.calls), "", "lower_is_better"),
    }
    notes = []
    if steps:
        inside = [sum(1 for _, start, _ in syncs if s_start <= start <= s_end) for _, s_start, s_end in steps]
        metrics["syncs_per_step"] = exact(_mean(inside), "", "lower_is_better")
    # Work totals cover the costed kernels only (a kernel with unknown FLOPs would otherwise make
    # the whole total unknown); the note says how much of the time that is.
    metrics.update(_work_metrics(costed, costed.time_s))
    if sum(costed.time_s) > 0:
        share = sum(costed.time_s) / sum(tally.time_s)
        notes.append(f"FLOPs and bytes known for {100 * share:.0f}% of kernel time; work totals cover that part")
    else:
        for key in ("flops_per_step", "bytes_per_step"):
            metrics[key] = exact(None, metrics[key].unit, "lower_is_better")
    metrics["bound"] = label(summary.verdict)
    return Entry(name="total", group="total", metrics=metrics, notes=notes)


def kernel_list_entries(result: ClassifyResult) -> list[Entry]:
    """Entries of a kernel list without a timeline (Nsight Compute, declared kernels): one per
    kernel group, plus a total. Counter FLOPs are deterministic; DRAM bytes vary a little with
    cache state, so Nsight Compute bytes are measured, not exact."""
    groups: dict[str, list[KernelVerdict]] = defaultdict(list)
    for verdict in result.kernels:
        groups[kernel_key(verdict.op, verdict.name)].append(verdict)
    entries = [_kernels_entry("total", "total", result.kernels)]
    entries += [_kernels_entry(name, "kernel", members) for name, members in sorted(groups.items())]
    return entries


def _kernels_entry(name: str, group: str, members: list[KernelVerdict]) -> Entry:
    time_s = sum(v.total_s for v in members)
    # Declared kernels without a duration are timed by the iron law: a prediction, deterministic.
    predicted = any(v.time_basis == "predicted" for v in members)
    timed = time_s > 0 and not predicted
    flops = sum(v.flops for v in members) if all(v.flops is not None for v in members) else None  # type: ignore[misc]
    num_bytes = sum(v.bytes for v in members) if all(v.bytes is not None for v in members) else None  # type: ignore[misc]
    counters = all(v.source == "counters" for v in members)
    roof_s = (sum(v.pct_of_roof * v.total_s for v in members)  # type: ignore[operator]
              if all(v.pct_of_roof is not None for v in members) else None)
    bounds: Counter = Counter()
    for v in members:
        bounds[v.bound.value] += v.total_s
    return Entry(name=name, group=group, op=members[0].op if group == "kernel" else None, metrics={
        "kernel_time_s": (exact if predicted else measured)(time_s, "s", "lower_is_better"),
        "calls": exact(float(sum(v.count for v in members)), "", "lower_is_better"),
        "flops": exact(flops, "FLOP", "lower_is_better"),
        "bytes": (measured if counters else exact)(num_bytes, "B", "lower_is_better"),
        "achieved_flops_per_s": measured(flops / time_s if timed and flops else None, "FLOP/s", "higher_is_better"),
        "achieved_bytes_per_s": measured(num_bytes / time_s if timed and num_bytes else None, "B/s",
                                         "higher_is_better"),
        "pct_of_roof": measured(roof_s / time_s if timed and roof_s is not None else None, "fraction",
                                "higher_is_better"),
        "bound": label(_largest(bounds)),
    })
