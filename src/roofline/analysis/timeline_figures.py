"""The figures of a GPU timeline (span, busy, each idle bucket, per step and per stream): the types
that the per-event accounting (roofline.analysis.timeline) and the per-column one
(roofline.analysis.timeline_table) both produce, and the arithmetic that turns summed buckets
into them."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from roofline.analysis.collectives import is_collective_kernel

# Segment kinds, in the order charts list them; all but "busy" are idle.
IDLE_KINDS = ("launch_wait", "host_stall", "lead_in", "graph_gap", "other_idle")


@dataclass(frozen=True, slots=True)
class Buckets:
    """A span's accounting in ns: busy, each idle bucket, and the number of launch-wait gaps."""

    busy: int = 0
    launch_wait: int = 0
    host_stall: int = 0
    lead_in: int = 0
    graph_gap: int = 0
    other_idle: int = 0
    launch_gaps: int = 0

    @property
    def idle(self) -> int:
        return self.launch_wait + self.host_stall + self.lead_in + self.graph_gap + self.other_idle

    def __add__(self, other: Buckets) -> Buckets:
        return Buckets(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> tuple[int, ...]:
        return (self.busy, self.launch_wait, self.host_stall, self.lead_in, self.graph_gap, self.other_idle,
                self.launch_gaps)


class StepFigures(BaseModel):
    step: int
    span_s: float
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float
    kernels: int
    kernel_time_s: float
    # The step's first launch call to its first GPU work: work queued, not yet running.
    lead_in_s: float = 0.0
    # The step's start to its first launch call: the host launched nothing (data loading, Python).
    host_stall_s: float = 0.0
    graph_gap_s: float = 0.0


class StreamFigures(BaseModel):
    device: int
    stream: int
    events: int
    busy_s: float


class TimelineFigures(BaseModel):
    span_s: float
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float
    other_idle_s: float
    launch_gaps: int
    kernels: int
    kernel_time_s: float
    graph_kernels: int = 0
    host_stall_s: float = 0.0
    lead_in_s: float = 0.0
    graph_gap_s: float = 0.0
    steps: list[StepFigures] = []
    # Communication (NCCL/RCCL kernels): their busy time, and the part with no other GPU work
    # running beside it (the seed's exposed-communication test).
    communication_s: float = 0.0
    exposed_communication_s: float = 0.0
    streams: list[StreamFigures] = []


def step_figures_of(number: int, start: int, end: int, b: Buckets, kernels: int, kernel_ns: int) -> StepFigures:
    return StepFigures(
        step=number, span_s=(end - start) * 1e-9, gpu_busy_s=b.busy * 1e-9, idle_s=b.idle * 1e-9,
        launch_wait_s=b.launch_wait * 1e-9, kernels=kernels, kernel_time_s=kernel_ns * 1e-9,
        lead_in_s=b.lead_in * 1e-9, host_stall_s=b.host_stall * 1e-9, graph_gap_s=b.graph_gap * 1e-9,
    )


def figures_of(total: Buckets, span_ns: int, *, kernels: int, kernel_ns: int, graph_kernels: int,
               communication_ns: int, exposed_ns: int, steps: list[StepFigures],
               streams: list[StreamFigures]) -> TimelineFigures:
    """TimelineFigures from summed buckets (shared by the event-list and the column paths)."""
    return TimelineFigures(
        span_s=span_ns * 1e-9,
        gpu_busy_s=total.busy * 1e-9,
        idle_s=total.idle * 1e-9,
        launch_wait_s=total.launch_wait * 1e-9,
        other_idle_s=total.other_idle * 1e-9,
        host_stall_s=total.host_stall * 1e-9,
        lead_in_s=total.lead_in * 1e-9,
        graph_gap_s=total.graph_gap * 1e-9,
        launch_gaps=total.launch_gaps,
        kernels=kernels,
        kernel_time_s=kernel_ns * 1e-9,
        graph_kernels=graph_kernels,
        communication_s=communication_ns * 1e-9,
        exposed_communication_s=exposed_ns * 1e-9,
        steps=steps,
        streams=streams,
    )


def is_communication(name: str) -> bool:
    """NCCL/RCCL collective and point-to-point kernels (ncclKernel_AllReduce…, ncclDevKernel_…)."""
    return is_collective_kernel(name)
