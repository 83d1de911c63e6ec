"""The timeline record every trace reader produces: one GPU activity (kernel, memcpy, memset) with
the host launch that issued it and, where an op-cost formula applied, its FLOPs and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from roofline.precision import Precision, Unit


@dataclass(slots=True)
class GpuEvent:
    kind: str  # "kernel" | "memcpy" | "memset"
    name: str
    device: int
    stream: int
    start_ns: int  # relative to the trace's base time, integer nanoseconds
    dur_ns: int
    correlation: int | None = None
    # The host API call that launched it (cudaLaunchKernel, cuLaunchKernelEx, cudaGraphLaunch, …).
    launch_api: str | None = None
    launch_start_ns: int | None = None
    launch_dur_ns: int | None = None
    in_graph: bool = False
    # The framework op that launched it (aten::mm, triton_poi_fused_…), when linked.
    op: str | None = None
    # Work, when a cost model or counters gave it (totals for this one event).
    flops: float | None = None
    bytes: float | None = None
    precision: Precision | None = None
    unit: Unit = Unit.VECTOR
    source: str = "none"  # "shapes" | "counters" | "declared" | "none"
    unknown_reason: str | None = None
    grid: tuple[int, int, int] | None = None
    block: tuple[int, int, int] | None = None
    step: int | None = None  # ProfilerStep number, when inside one

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.dur_ns
