"""Planning from a measured trace: the classified kernel groups and the idle time of the profiled
steps become a modelled timeline; rules propose changes to it (graphs, fusion, precision, fused
attention, fewer synchronisations, overlapped communication); every proposal is applied and the
step time re-evaluated, so later estimates see earlier changes (Amdahl: only the time a change
touches moves).

The step model is a two-resource critical path, measured from the trace:

    step = lead-in + host stall + max(host issue time, GPU busy time) + fixed gaps + graph gaps
           + other idle + added costs

* lead-in: work queued before its first GPU activity (a step's first launch to its first kernel);
* host stall: idle before a step's first launch while the host launches nothing (data loading,
  Python between steps) — no launch-side change removes it;
* graph gaps: idle inside CUDA-graph replays, between their kernels;
* host issue time: when the GPU waited for launches for a tenth of its window or more, the host
  was the bottleneck and its issue time is the whole window (busy + launch wait); otherwise the
  host was hidden behind the GPU and the small launch gaps stay as fixed gaps. The profiler's own
  host overhead per recorded op (analysis/profiler_overhead.py) is taken out of the launch wait
  first: the plan is of the unprofiled step, unless it replays changes between two profiled
  traces (--verify), where both sides carry that overhead;
* a change to the GPU side (fewer bytes, a higher roof) shortens GPU busy time, which only shows
  in the step when the GPU is (or becomes) the critical resource — the bottleneck shifts as it
  does on the machine; a change to the host side (graphs, fewer launches, fewer syncs) shortens
  the host issue time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from roofline.analysis.classify import KernelVerdict
from roofline.analysis.profiler_overhead import removable_overhead_s
from roofline.analysis.result import ClassifyResult
from roofline.analysis.timeline_figures import is_communication

DOMAIN = "trace"
# Host cost of a replayed CUDA graph, per kernel it holds: the H200 decode capture submits 429
# kernels in ~320 µs of lead-in (tests/data/h200/captured/decode_bf16_cudagraph). The serving
# model uses the same constant.
GRAPH_SUBMIT_S = 0.75e-6
# GPU-side gap between consecutive kernels of a replayed graph: 0.42 µs median in the H200 traces
# (the serving model's graph_gap_s).
GRAPH_GAP_S = 0.42e-6
# The GPU waiting for launches this share of its window or more means the host sets the pace.
HOST_BOUND_SHARE = 0.10


@dataclass(frozen=True)
class GroupModel:
    """One kernel group of the trace as the planner models it (times are totals over all steps)."""

    name: str
    op: str | None
    kind: str
    count: int
    time_s: float
    bound: str
    flops: float | None
    bytes: float | None
    precision: str | None
    unit: str
    roof: str | None
    peak_flops_per_s: float | None
    pct_of_roof: float | None
    in_graph: bool
    blocks_per_call: float | None = None
    longest_run: int = 1
    changed_by: tuple[str, ...] = ()

    @classmethod
    def from_verdict(cls, v: KernelVerdict) -> GroupModel:
        return cls(v.name, v.op, v.kind, v.count, v.total_s, v.bound.value, v.flops, v.bytes, v.precision, v.unit,
                   v.roof, v.peak_flops_per_s, v.pct_of_roof, v.in_graph, v.blocks_per_call, v.longest_run)

    @property
    def communication(self) -> bool:
        return self.kind == "kernel" and is_communication(self.name)


@dataclass(frozen=True)
class TraceModel:
    """The profiled steps as the planner models them; seconds are totals over ``steps``."""

    steps: int
    groups: tuple[GroupModel, ...]
    lead_in_s: float
    host_s: float  # host issue time over the GPU window (> busy when the host set the pace)
    fixed_gap_s: float  # launch gaps the host did not cause (GPU-bound steps): kept as they are
    other_idle_s: float
    # GPU busy time / summed kernel time: < 1 when streams overlap, > 1 when busy time includes the
    # gaps between the kernels of a replayed graph (a replay is busy from its first kernel to its last).
    overlap: float
    launch_floor_s: float  # host cost of one eager launch (measured ceilings or the datasheet floor)
    extra_s: float = 0.0  # costs a change adds (graph submission)
    syncs: int = 0  # host synchronisations beyond one per step
    sync_s: float = 0.0  # host time blocked in them
    exposed_communication_s: float = 0.0
    host_stall_s: float = 0.0  # idle before steps' first launches, the host launching nothing
    graph_gap_s: float = 0.0  # idle inside CUDA-graph replays
    profiler_s: float = 0.0  # the profiler's host overhead taken out of the measured launch wait
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def busy_s(self) -> float:
        return sum(g.time_s for g in self.groups) * self.overlap

    @property
    def host_bound(self) -> bool:
        return self.host_s > self.busy_s * (1 + 1e-9)

    @property
    def launch_wait_s(self) -> float:
        return max(self.host_s - self.busy_s, 0.0) + self.fixed_gap_s

    @property
    def total_s(self) -> float:
        return (self.lead_in_s + self.host_stall_s + max(self.host_s, self.busy_s) + self.fixed_gap_s
                + self.graph_gap_s + self.other_idle_s + self.extra_s)

    @property
    def step_s(self) -> float:
        return self.total_s / max(self.steps, 1)

    @property
    def kernels(self) -> int:
        return sum(g.count for g in self.groups if g.kind == "kernel")

    @property
    def eager_kernels(self) -> int:
        return sum(g.count for g in self.groups if g.kind == "kernel" and not g.in_graph)

    def per_step(self, seconds: float) -> float:
        return seconds / max(self.steps, 1)

    def with_groups(self, groups: list[GroupModel], **changes: object) -> TraceModel:
        return replace(self, groups=tuple(groups), **changes)


@dataclass(frozen=True)
class TraceEvaluation:
    """Per-step figures of a modelled timeline."""

    step_s: float
    busy_s: float
    host_s: float
    lead_in_s: float
    launch_wait_s: float
    other_idle_s: float
    by_bound: dict[str, float]
    kernels: float
    critical: str  # "host" or "gpu": which resource sets the pace
    host_stall_s: float = 0.0
    graph_gap_s: float = 0.0
    profiler_s: float = 0.0

    @property
    def launch_share(self) -> float:
        return self.launch_wait_s / self.step_s if self.step_s > 0 else 0.0


@dataclass(frozen=True)
class TraceDiagnosis:
    model: TraceModel
    evaluation: TraceEvaluation
    result: ClassifyResult
    # Replaying changes known to have been made (--verify): rules skip their "worth proposing"
    # thresholds and model whatever they find.
    replay: bool = False

    def worth(self, share: float, threshold: float) -> bool:
        return self.replay or share >= threshold


def trace_model(result: ClassifyResult, *, profiled: bool = False) -> TraceModel:
    """The modelled timeline of a classified trace. ``profiled``: exactly the measured span;
    otherwise the profiler's estimated host overhead is first taken out of the launch wait (an
    unprofiled host issues the same ops faster)."""
    s = result.summary
    steps = max(len(s.steps), 1)
    kernel_time = sum(v.total_s for v in result.kernels)
    overlap = s.gpu_busy_s / kernel_time if kernel_time > 0 else 1.0
    groups = tuple(GroupModel.from_verdict(v) for v in result.kernels)
    busy = s.gpu_busy_s
    floor = result.hardware.launch_floor_eager_s
    eager = sum(v.count for v in result.kernels if v.kind == "kernel" and not v.in_graph)
    profiler = 0.0 if profiled else removable_overhead_s(s.profiler_overhead_s or 0.0, launch_wait_s=s.launch_wait_s,
                                                         busy_s=busy, eager_launches=eager, launch_floor_s=floor)
    wait = s.launch_wait_s - profiler
    host_paced = busy + wait > 0 and wait / (busy + wait) >= HOST_BOUND_SHARE
    # GPU-bound: the host's issue time is hidden; estimate it from the launch floor, so that
    # when a change shrinks the GPU work far enough the host becomes the critical path again.
    hidden_host = min(busy, eager * floor)
    extra_syncs = max((s.syncs or 0) - len(s.steps), 0)
    sync_s = (s.sync_s or 0.0) if extra_syncs else 0.0
    return TraceModel(
        steps=steps,
        groups=groups,
        lead_in_s=s.lead_in_s,
        host_s=busy + wait if host_paced else hidden_host,
        fixed_gap_s=0.0 if host_paced else wait,
        other_idle_s=s.other_idle_s,
        overlap=overlap,
        launch_floor_s=floor,
        syncs=extra_syncs,
        sync_s=sync_s,
        exposed_communication_s=s.exposed_communication_s,
        host_stall_s=s.host_stall_s,
        graph_gap_s=s.graph_gap_s,
        profiler_s=profiler,
    )


def evaluate_trace(model: TraceModel) -> TraceEvaluation:
    n = max(model.steps, 1)
    by_bound: dict[str, float] = {}
    for g in model.groups:
        key = "communication" if g.communication else g.bound
        by_bound[key] = by_bound.get(key, 0.0) + g.time_s * model.overlap / n
    by_bound["lead-in"] = (model.lead_in_s + model.extra_s) / n
    by_bound["launch wait"] = model.launch_wait_s / n
    by_bound["host stall"] = model.host_stall_s / n
    by_bound["graph gaps"] = model.graph_gap_s / n
    by_bound["other idle"] = model.other_idle_s / n
    return TraceEvaluation(
        step_s=model.step_s,
        busy_s=model.busy_s / n,
        host_s=model.host_s / n,
        lead_in_s=model.lead_in_s / n,
        launch_wait_s=model.launch_wait_s / n,
        other_idle_s=model.other_idle_s / n,
        by_bound=by_bound,
        kernels=model.kernels / n,
        critical="host" if model.host_bound else "gpu",
        host_stall_s=model.host_stall_s / n,
        graph_gap_s=model.graph_gap_s / n,
        profiler_s=model.profiler_s / n,
    )


def step_score(evaluation: TraceEvaluation) -> float:
    """What the planner minimises: the log of the step time (a 10% cut scores the same at any size)."""
    return math.log(max(evaluation.step_s, 1e-12))
