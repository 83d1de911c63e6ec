"""Classify kernels against a device's roofs: bound, intensity, achieved vs attainable, % of roof.

Inputs are :class:`KernelWork` records (from any reader); outputs are plain result models that
renderers turn into tables, JSON or Markdown. No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from roofline.analysis.collectives import CollectiveWork, collective_figures
from roofline.analysis.roofline import (
    Bound,
    IronLawTerms,
    arithmetic_intensity,
    attainable_flops_per_s,
    fraction_of_roof,
    iron_law_terms,
    measured_bound,
)
from roofline.hardware.spec import Roof, Roofs
from roofline.precision import Precision, Unit

Source = Literal["declared", "shapes", "counters", "trace", "none"]

# A point this far above its roof is reported (timer jitter and rounded peaks stay below it).
ABOVE_ROOF_TOLERANCE = 1.05
# A collective under this share of its link roof is slower than any NCCL protocol is modelled to be
# (tuning.cc gives the slowest, LL, a quarter of the link bandwidth): waiting on peers is likelier.
SKEW_SHARE = 0.25

_MATRIX_OPS = ("mm", "matmul", "gemm", "gemv", "linear", "bmm", "conv", "attention", "sdpa", "einsum")


def default_unit(op: str | None) -> Unit:
    """Matrix for GEMM-, convolution- and attention-like ops, vector for everything else."""
    if not op:
        return Unit.VECTOR
    name = op.lower().rsplit("::", 1)[-1]
    return Unit.MATRIX if any(token in name for token in _MATRIX_OPS) else Unit.VECTOR


@dataclass(frozen=True)
class KernelWork:
    """What a kernel (or a group of identical calls) did. FLOPs, bytes and time are totals over
    ``count`` calls; ``None`` means not known (say why in ``unknown_reason``).
    """

    name: str
    op: str | None = None
    count: int = 1
    flops: float | None = None
    bytes: float | None = None
    precision: Precision | None = None
    unit: Unit = Unit.VECTOR
    measured_s: float | None = None
    source: Source = "declared"
    in_graph: bool = False
    unknown_reason: str | None = None
    hardware_flops: float | None = None
    # Bytes at the inner memory levels (Nsight Compute counters), for hierarchical roofline points.
    l2_bytes: float | None = None
    l1_bytes: float | None = None
    # Timeline evidence (traces): mean host cost of one launch call, mean launch→start delay.
    launch_call_s: float | None = None
    launch_delay_s: float | None = None
    kind: str = "kernel"  # kernel | memcpy | memset
    link: str = "dram"  # the memory roof: dram, host (PCIe/C2C) or peer (NVLink)
    # Mean thread blocks per launch (traces record the grid): fewer than the SMs leaves SMs idle.
    blocks_per_call: float | None = None
    # Most calls issued back to back with no other kernel between (a loop over independent items).
    longest_run: int = 1
    # NCCL/RCCL kernels: the collective, its calls and their recorded sizes.
    collective: CollectiveWork | None = None


class CollectiveVerdict(BaseModel):
    """A collective group against the interconnect roof (nccl-tests doc/PERFORMANCE.md)."""

    model_config = ConfigDict(frozen=True)

    type: str | None = Field(description="all_reduce, all_gather, reduce_scatter, all_to_all, broadcast, reduce, "
                             "send_recv, gather, scatter, barrier")
    algorithm: str | None = Field(None, description="NCCL algorithm from the kernel name (RING, TREE, NVLS …)")
    protocol: str | None = Field(None, description="NCCL protocol from the kernel name (LL, LL128, SIMPLE)")
    dtype: str | None = None
    group_size: int | None = Field(description="ranks in the process group (most calls)")
    sized_calls: int = Field(0, description="calls whose message size and group size are recorded")
    message_bytes: float | None = Field(description="S, the whole array, summed over the sized calls")
    bus_bytes: float | None = Field(description="S × the bus factor, summed: what one GPU's link carries")
    algbw_bytes_per_s: float | None = Field(description="S / t over the sized calls")
    busbw_bytes_per_s: float | None = Field(description="algbw × bus factor")
    latency_s: float | None = Field(description="per call: NCCL's ring/LL latency model")
    link: str | None = Field(description="the interconnect roof used")
    link_bandwidth_bytes_per_s: float | None = Field(description="one direction")


class KernelVerdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    op: str | None
    count: int
    total_s: float = Field(description="measured time over all calls, or the iron-law prediction")
    time_basis: Literal["measured", "predicted"]
    flops: float | None
    bytes: float | None
    hardware_flops: float | None = None
    l2_bytes: float | None = None
    l1_bytes: float | None = None
    launch_call_s: float | None = None
    launch_delay_s: float | None = None
    kind: str = "kernel"
    in_graph: bool = False
    blocks_per_call: float | None = None
    longest_run: int = Field(1, description="most calls back to back with no other kernel between")
    precision: str | None
    unit: str
    ai: float | None = Field(description="arithmetic intensity, FLOP/byte")
    bound: Bound
    roof: str | None = Field(description="the compute roof used, e.g. 'bf16 matrix'")
    roof_origin: str | None
    peak_flops_per_s: float | None
    bandwidth_bytes_per_s: float
    ridge_point: float | None
    compute_s: float | None = Field(description="per call: FLOPs / peak")
    memory_s: float | None = Field(description="per call: bytes / bandwidth")
    launch_s: float = Field(description="per call: launch-overhead floor")
    attainable_flops_per_s: float | None
    achieved_flops_per_s: float | None
    achieved_bytes_per_s: float | None
    pct_of_roof: float | None = Field(description="achieved / attainable, as a fraction (1.0 = at the roof)")
    source: str
    notes: list[str] = Field(default_factory=list)
    collective: CollectiveVerdict | None = None


def _fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.3g} µs"


def _carried(work: KernelWork) -> dict:
    """What a verdict carries over from its work unchanged: identity, counters, launch facts."""
    return dict(name=work.name, op=work.op, count=work.count, hardware_flops=work.hardware_flops,
                l2_bytes=work.l2_bytes, l1_bytes=work.l1_bytes, launch_call_s=work.launch_call_s,
                launch_delay_s=work.launch_delay_s, kind=work.kind, in_graph=work.in_graph,
                blocks_per_call=work.blocks_per_call, longest_run=work.longest_run)


def classify_kernel(work: KernelWork, roofs: Roofs) -> KernelVerdict:
    if work.collective is not None:
        return classify_collective(work, work.collective, roofs)
    count = max(work.count, 1)
    launch_floor = roofs.launch_floor(work.in_graph).value
    memory_roof = roofs.link_roof(work.link)
    bandwidth = memory_roof.value
    notes: list[str] = []
    precision = work.precision
    roof = roofs.compute_roof(precision, work.unit) if precision is not None else None
    # Pure data movement (memcpy, memset) needs no compute roof: only the memory term applies.
    data_only = work.flops == 0 and work.bytes is not None

    missing = None if data_only else _missing_inputs(work, roof, roofs)
    if missing:
        total = work.measured_s if work.measured_s is not None else launch_floor * count
        # Launch-bound by its measured time alone: a call shorter than the launch floor did work whose
        # time at the roof is at most that call's time (it ran), so under the floor too — the iron law's
        # launch term is the largest whatever its FLOPs and bytes.
        under_floor = work.measured_s is not None and 0 < work.measured_s / count < launch_floor
        if under_floor:
            missing = (f"launch-bound by its measured time alone: {_fmt_us(work.measured_s / count)} a call, under "
                       f"the {_fmt_us(launch_floor)} launch floor, so its work at the roof is too ({missing})")
        return KernelVerdict(
            **_carried(work),
            total_s=total,
            time_basis="measured" if work.measured_s is not None else "predicted",
            flops=work.flops,
            bytes=work.bytes,
            precision=precision.value if precision else None,
            unit=work.unit.value,
            ai=_safe_ai(work.flops, work.bytes),
            bound=Bound.LAUNCH if under_floor else Bound.UNKNOWN,
            roof=roof.label if roof else None,
            roof_origin=roof.origin if roof else None,
            peak_flops_per_s=roof.value if roof else None,
            bandwidth_bytes_per_s=bandwidth,
            ridge_point=roof.value / bandwidth if roof else None,
            compute_s=None,
            memory_s=None,
            launch_s=launch_floor,
            attainable_flops_per_s=None,
            achieved_flops_per_s=_rate(work.flops, work.measured_s),
            achieved_bytes_per_s=_rate(work.bytes, work.measured_s),
            pct_of_roof=None,
            source=work.source,
            notes=[missing],
        )

    assert work.flops is not None and work.bytes is not None
    if roof is None:  # data_only
        roof = Roof(math.inf, memory_roof.origin, memory_roof.label)
    terms: IronLawTerms = iron_law_terms(
        work.flops / count,
        work.bytes / count,
        peak_flops_per_s=roof.value,
        bandwidth_bytes_per_s=bandwidth,
        launch_floor_s=launch_floor,
    )
    ai = arithmetic_intensity(work.flops, work.bytes)
    attainable = None if data_only else attainable_flops_per_s(ai, roof.value, bandwidth)
    pct: float | None = None
    if work.measured_s is not None and work.measured_s > 0:
        total = work.measured_s
        pct = fraction_of_roof(terms, total / count)
        if pct > ABOVE_ROOF_TOLERANCE:
            notes.append(
                f"above the roof ({100 * pct:.0f}%): the FLOPs/bytes model overestimates the work, "
                "the roofs are too low, or caches served the bytes"
            )
    else:
        total = terms.predicted_s * count
    if data_only:
        if work.link != "dram":
            notes.append(f"a copy bound by the {memory_roof.label}, not DRAM")
    elif work.precision is not None and roof.label.split()[0] != work.precision.value:
        notes.append(f"judged against the {roof.label} roof (no {work.precision.value} {work.unit.value} peak)")
    return KernelVerdict(
        **_carried(work),
        total_s=total,
        time_basis="measured" if work.measured_s is not None and work.measured_s > 0 else "predicted",
        flops=work.flops,
        bytes=work.bytes,
        precision=precision.value if precision else None,
        unit=work.unit.value,
        ai=ai,
        bound=measured_bound(terms, total / count if work.measured_s else None,
                             blocks_per_call=work.blocks_per_call, sm_count=roofs.sm_count),
        roof=roof.label,
        roof_origin=roof.origin,
        peak_flops_per_s=None if data_only else roof.value,
        bandwidth_bytes_per_s=bandwidth,
        ridge_point=None if data_only else roof.value / bandwidth,
        compute_s=terms.compute_s,
        memory_s=terms.memory_s,
        launch_s=terms.launch_s,
        attainable_flops_per_s=attainable,
        achieved_flops_per_s=_rate(work.flops, work.measured_s),
        achieved_bytes_per_s=_rate(work.bytes, work.measured_s),
        pct_of_roof=pct,
        source=work.source,
        notes=notes,
    )


def classify_collective(work: KernelWork, collective: CollectiveWork, roofs: Roofs) -> KernelVerdict:
    """A collective is communication-bound: its roof is latency + S × factor / B_link per call,
    over the calls whose sizes the trace records; % of roof = that time / the measured time."""
    count = max(work.count, 1)
    figures = collective_figures(collective, roofs)
    launch_floor = roofs.launch_floor(work.in_graph).value
    total = work.measured_s if work.measured_s is not None else 0.0
    notes: list[str] = []
    pct = algbw = busbw = None
    if figures.missing:
        notes.append(figures.missing)
    elif figures.sized_s > 0 and figures.roof_s is not None:
        pct = figures.roof_s / figures.sized_s
        algbw = (figures.message_bytes or 0.0) / figures.sized_s
        busbw = (figures.bus_bytes or 0.0) / figures.sized_s
        if pct > ABOVE_ROOF_TOLERANCE:
            notes.append(f"above the interconnect roof ({100 * pct:.0f}%): the link bandwidth in the registry is "
                         "too low for this system, or the message sizes are overstated")
        elif pct < SKEW_SHARE:
            notes.append(f"under {100 * SKEW_SHARE:.0f}% of the link roof: a collective kernel also waits for the "
                         "other ranks to arrive, so skew between ranks (a straggler, uneven work) looks like a slow "
                         "link — compare the ranks (roofline classify DIR/) before tuning NCCL")
    link = figures.roof
    if link is not None and link.note:
        notes.append(link.note)
    sized_calls = sum(p.calls for p in collective.parts if p.group_size and p.message_bytes is not None)
    if figures.latency_s is not None and figures.roof_s and figures.latency_s > figures.roof_s / 2:
        notes.append("latency-dominated: per-call latency is most of its roof time — fewer, larger collectives "
                     "(bucketing, coalescing) cost less")
    verdict = CollectiveVerdict(
        type=collective.collective,
        algorithm=collective.algorithm,
        protocol=collective.protocol,
        dtype=collective.dtype,
        group_size=collective.group_size,
        sized_calls=sized_calls,
        message_bytes=figures.message_bytes,
        bus_bytes=figures.bus_bytes,
        algbw_bytes_per_s=algbw,
        busbw_bytes_per_s=busbw,
        latency_s=figures.latency_s / sized_calls if figures.latency_s is not None and sized_calls else None,
        link=link.bandwidth.label if link else None,
        link_bandwidth_bytes_per_s=link.bandwidth.value if link else None,
    )
    return KernelVerdict(
        **_carried(work),
        total_s=total,
        time_basis="measured",
        flops=None,
        bytes=None,
        precision=None,
        unit=work.unit.value,
        ai=None,
        bound=Bound.COMMUNICATION,
        roof=link.bandwidth.label if link else None,
        roof_origin=link.bandwidth.origin if link else None,
        peak_flops_per_s=None,
        bandwidth_bytes_per_s=link.bandwidth.value if link else roofs.memory_bandwidth.value,
        ridge_point=None,
        compute_s=None,
        memory_s=None,
        launch_s=launch_floor,
        attainable_flops_per_s=None,
        achieved_flops_per_s=None,
        achieved_bytes_per_s=busbw,
        pct_of_roof=pct,
        source="trace" if figures.missing is None else "none",
        notes=notes,
        collective=verdict,
    )


def _missing_inputs(work: KernelWork, roof: object, roofs: Roofs) -> str | None:
    if work.flops is None and work.bytes is None:
        return work.unknown_reason or "FLOPs and bytes unknown"
    if work.flops is None:
        return work.unknown_reason or "FLOPs unknown"
    if work.bytes is None:
        return work.unknown_reason or "bytes unknown"
    if roof is None and work.precision is None:
        return work.unknown_reason or "precision unknown, so no compute roof applies"
    if roof is None:
        return f"{roofs.display_name} has no {work.precision.value} {work.unit.value} peak"
    return None


def _safe_ai(flops: float | None, num_bytes: float | None) -> float | None:
    if flops is None or num_bytes is None:
        return None
    return arithmetic_intensity(flops, num_bytes)


def _rate(amount: float | None, seconds: float | None) -> float | None:
    if amount is None or seconds is None or seconds <= 0:
        return None
    return amount / seconds


class TimeByBound(BaseModel):
    compute: float = 0.0
    memory: float = 0.0
    launch: float = 0.0
    latency: float = 0.0
    communication: float = 0.0
    unknown: float = 0.0

    def add(self, bound: Bound, seconds: float) -> None:
        setattr(self, bound.value, getattr(self, bound.value) + seconds)

    def largest(self) -> Bound:
        shares = {Bound(k): v for k, v in self.model_dump().items()}
        return max(shares, key=lambda b: (shares[b], b is not Bound.UNKNOWN))


def time_by_bound(verdicts: list[KernelVerdict]) -> TimeByBound:
    totals = TimeByBound()
    for verdict in verdicts:
        totals.add(verdict.bound, verdict.total_s)
    return totals


def sort_by_time(verdicts: list[KernelVerdict]) -> list[KernelVerdict]:
    return sorted(verdicts, key=lambda v: (-v.total_s, v.name))


def is_finite(value: float | None) -> bool:
    return value is not None and not math.isinf(value) and not math.isnan(value)
