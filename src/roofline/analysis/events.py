"""The timeline record every trace reader produces: one GPU activity (kernel, memcpy, memset) with
the host launch that issued it and, where an op-cost formula applied, its FLOPs and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from roofline.analysis.collectives import CollectiveCall
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
    # Which link bounds a copy: "dram" (device memory), "host" (PCIe / C2C) or "peer" (NVLink).
    link: str = "dram"
    # A collective kernel's call as PyTorch recorded it (type, message size, group size), if it did.
    collective: CollectiveCall | None = None

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.dur_ns


def copy_direction(name: str) -> str:
    """``h2d``, ``d2h``, ``d2d``, ``p2p`` or ``unknown`` from a copy's name as profilers write it
    (kineto: "Memcpy HtoD (Pageable -> Device)"; nsys: "[CUDA memcpy Host-to-Device]" or "… HtoD]").
    """
    text = name.replace("-to-", "to").replace(" ", "").lower()
    for token, direction in (("htod", "h2d"), ("hosttodevice", "h2d"), ("dtoh", "d2h"), ("devicetohost", "d2h"),
                             ("dtod", "d2d"), ("devicetodevice", "d2d"), ("ptop", "p2p"), ("peertopeer", "p2p")):
        if token in text:
            return direction
    return "unknown"


def finish_copy(event: GpuEvent) -> None:
    """Set a copy's bounding link, and its DRAM traffic: a device-to-device copy reads and writes
    device memory, so it moves twice its size through DRAM; host copies are bound by the host link.
    """
    if event.kind != "memcpy":
        return
    direction = copy_direction(event.name)
    if direction in ("h2d", "d2h"):
        event.link = "host"
    elif direction == "p2p":
        event.link = "peer"
    elif direction == "d2d" and event.bytes is not None:
        event.bytes = 2 * event.bytes
