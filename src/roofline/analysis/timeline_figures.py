"""The figures of a GPU timeline (span, busy, idle split by cause, per step and per stream): the
types that the per-event accounting (roofline.analysis.timeline) and the per-column one
(roofline.analysis.timeline_table) both produce."""

from __future__ import annotations

from pydantic import BaseModel


class StepFigures(BaseModel):
    step: int
    span_s: float
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float
    kernels: int
    kernel_time_s: float
    # Idle from the step's start to its first GPU work: the host's own prologue (Python, input
    # preparation, a graph's submission) — time that no launch-side change removes.
    lead_in_s: float = 0.0


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
    steps: list[StepFigures] = []
    # Communication (NCCL/RCCL kernels): their busy time, and the part with no other GPU work
    # running beside it (the seed's exposed-communication test).
    communication_s: float = 0.0
    exposed_communication_s: float = 0.0
    streams: list[StreamFigures] = []


def is_communication(name: str) -> bool:
    """NCCL/RCCL collective and point-to-point kernels (ncclKernel_AllReduce…, ncclDevKernel_…)."""
    lowered = name.lower()
    return "nccl" in lowered or "rccl" in lowered
