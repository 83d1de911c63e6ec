"""Plain-word findings: what the verdicts mean and what class of fix each bound calls for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roofline.analysis.classify import KernelVerdict, TimeByBound
from roofline.analysis.roofline import Bound
from roofline.units import fmt_intensity, fmt_percent, fmt_seconds, short_kernel_name

if TYPE_CHECKING:
    from roofline.analysis.timeline_figures import TimelineFigures

MAX_KERNEL_FINDINGS = 5
# The seed: "when profiling reveals that kernel launch gaps constitute more than 10 percent of
# execution time, CUDA Graphs should be the first intervention considered."
LAUNCH_GAP_SHARE = 0.10

_REMEDY = {
    Bound.COMPUTE: "only more FLOP/s helps: lower precision on the matrix units (fp8), or less work",
    Bound.MEMORY: "cut bytes moved: fuse with neighbouring ops, lower the precision of what is read, "
    "or raise reuse (batch more)",
    Bound.LAUNCH: "too little work per launch: fuse it with its neighbours, batch the calls, or capture the "
    "sequence in a CUDA graph / torch.compile(mode='reduce-overhead')",
}


def _kernel_finding(v: KernelVerdict) -> str:
    if v.bound is Bound.UNKNOWN:
        reason = v.notes[0] if v.notes else "FLOPs or bytes unknown"
        return f"{_label(v)}: bound unknown — {reason}; its {fmt_seconds(v.total_s)} still counts."
    where = ""
    if v.ai is not None and v.ridge_point is not None:
        side = "above" if v.ai >= v.ridge_point else "below"
        where = (
            f"AI {fmt_intensity(v.ai)} FLOP/B is {side} the {v.roof} ridge of "
            f"{fmt_intensity(v.ridge_point)}"
        )
    if v.bound is Bound.LAUNCH:
        at_roof = max(v.compute_s or 0.0, v.memory_s or 0.0)
        where = (
            f"{fmt_seconds(at_roof)} of work per call at the roof, under the {fmt_seconds(v.launch_s)} launch floor"
        )
        if v.time_basis == "measured":
            where += f"; measured {fmt_seconds(v.total_s / max(v.count, 1))} per call"
    if not where and v.memory_s is not None:
        where = f"{fmt_seconds(v.memory_s)} of data movement per call against the {v.roof or 'memory'} roof"
    roof = f", at {fmt_percent(v.pct_of_roof)} of its roof" if v.pct_of_roof is not None else ""
    return f"{_label(v)}: {v.bound.value}-bound ({where}{roof}) — {_remedy(v)}."


def _label(v: KernelVerdict) -> str:
    name = short_kernel_name(v.name, width=60)
    return f"{name} ({v.op})" if v.op and v.op != v.name else name


def _remedy(v: KernelVerdict) -> str:
    if v.kind == "memcpy" and v.bound is Bound.MEMORY and v.roof and not v.roof.startswith("DRAM"):
        return "copy less, from pinned memory, overlapped with compute (non_blocking=True), or keep data on the GPU"
    return _REMEDY[v.bound]


def findings_for(
    verdicts: list[KernelVerdict], totals: TimeByBound, span_s: float, verdict: Bound
) -> list[str]:
    findings: list[str] = []
    if span_s > 0:
        share = getattr(totals, verdict.value) / span_s
        findings.append(
            f"{fmt_percent(share)} of the time is in {verdict.value}-bound kernels "
            f"({fmt_seconds(getattr(totals, verdict.value))} of {fmt_seconds(span_s)})."
        )
    ordered = sorted(verdicts, key=lambda v: -v.total_s)
    for v in ordered[:MAX_KERNEL_FINDINGS]:
        findings.append(_kernel_finding(v))
    for v in ordered:
        for note in v.notes:
            if note.startswith("above the roof"):
                findings.append(f"{_label(v)}: {note}.")
    if totals.unknown > 0 and span_s > 0:
        findings.append(
            f"{fmt_percent(totals.unknown / span_s)} of the time ({fmt_seconds(totals.unknown)}) "
            "has no FLOPs/bytes model: its bound is unknown."
        )
    return findings


def trace_findings(
    verdicts: list[KernelVerdict], timeline: TimelineFigures, candidates: dict[str, float], verdict: str
) -> list[str]:
    span = timeline.span_s
    findings: list[str] = []
    if span <= 0:
        return findings
    busy_share = timeline.gpu_busy_s / span
    wait_share = timeline.launch_wait_s / span
    findings.append(
        f"The GPU is busy {fmt_percent(busy_share)} of the {fmt_seconds(span)} span "
        f"({timeline.kernels} kernels, {fmt_seconds(timeline.kernel_time_s)} of kernel time)."
    )
    if wait_share >= LAUNCH_GAP_SHARE:
        per_gap = timeline.launch_wait_s / max(timeline.launch_gaps, 1)
        findings.append(
            f"{fmt_percent(wait_share)} of the span the GPU waits for the host to launch work "
            f"({timeline.launch_gaps} gaps, {fmt_seconds(per_gap)} each on average): capture the step in a CUDA "
            "graph or use torch.compile(mode='reduce-overhead'), and fuse small kernels."
        )
    if timeline.other_idle_s / span >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(timeline.other_idle_s / span)} of the span the GPU is idle for other reasons "
            "(host work after the last launch, synchronisation, data loading): look at the CPU side of the step."
        )
    if timeline.exposed_communication_s / span >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(timeline.exposed_communication_s / span)} of the span collectives (NCCL/RCCL) run with no "
            f"other GPU work beside them ({fmt_seconds(timeline.exposed_communication_s)} of "
            f"{fmt_seconds(timeline.communication_s)} of communication): overlap them with compute (DDP/FSDP "
            "bucketing, async collectives)."
        )
    if timeline.graph_kernels:
        findings.append(
            f"{timeline.graph_kernels} kernels were replayed from CUDA graphs; their launch cost is the graph floor."
        )
    kernel_total = sum(v.total_s for v in verdicts) or 1.0
    launch_kernels = sum(v.total_s for v in verdicts if v.bound is Bound.LAUNCH)
    if launch_kernels / kernel_total >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(launch_kernels / kernel_total)} of kernel time is in kernels shorter than the launch "
            "floor: fuse them (torch.compile) so fewer, larger kernels run."
        )
    ordered = sorted(verdicts, key=lambda v: -v.total_s)
    for v in ordered[:MAX_KERNEL_FINDINGS]:
        findings.append(_kernel_finding(v))
    unknown = sum(v.total_s for v in verdicts if v.bound is Bound.UNKNOWN)
    if unknown > 0:
        findings.append(
            f"{fmt_percent(unknown / kernel_total)} of kernel time ({fmt_seconds(unknown)}) has no FLOPs/bytes "
            "model: its bound is unknown (see each kernel's reason)."
        )
    for v in ordered:
        for note in v.notes:
            if note.startswith("above the roof"):
                findings.append(f"{_label(v)}: {note}.")
    return findings
