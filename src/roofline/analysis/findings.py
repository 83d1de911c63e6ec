"""Plain-word findings: what the verdicts mean and what class of fix each bound calls for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roofline.analysis.classify import KernelVerdict, TimeByBound
from roofline.analysis.roofline import Bound
from roofline.units import fmt_bytes, fmt_bytes_per_s, fmt_intensity, fmt_percent, fmt_seconds, short_kernel_name

if TYPE_CHECKING:
    from roofline.analysis.timeline_figures import TimelineFigures

MAX_KERNEL_FINDINGS = 5
# The seed: "when profiling reveals that kernel launch gaps constitute more than 10 percent of
# execution time, CUDA Graphs should be the first intervention considered."
LAUNCH_GAP_SHARE = 0.10

_REMEDY = {
    Bound.MEMORY: "cut bytes moved: fuse with neighbouring ops, lower the precision of what is read, "
    "or raise reuse (batch more)",
    Bound.LAUNCH: "too little work per launch: fuse it with its neighbours, batch the calls, or capture the "
    "sequence in a CUDA graph / torch.compile(mode='reduce-overhead')",
    # The GPU time itself is long: graphs would remove only the launch, a third of the cost or less.
    Bound.LATENCY: "too little parallel work for the GPU: give each launch more work — batch the calls, fuse "
    "with neighbours, use larger tiles or split-K for small GEMMs; CUDA graphs will not help, the time is "
    "spent on the GPU, not in the launch",
    Bound.COMMUNICATION: "overlap it with compute (DDP/FSDP bucketing, async collectives), send fewer bytes "
    "(lower-precision gradients), or fewer, larger collectives where latency dominates",
}
# The next lower precision with a faster matrix path, in the order a model would move down.
_LOWER_PRECISION = {
    "fp64": ("fp32", "tf32"), "fp32": ("tf32", "bf16", "fp16"), "tf32": ("bf16", "fp16"),
    "bf16": ("fp8", "int8"), "fp16": ("fp8", "int8"), "fp8": ("fp4", "int4"), "int8": ("int4", "fp4"),
}


def compute_remedy(precision: str | None, matrix_precisions: frozenset[str] | None) -> str:
    """Advice for compute-bound work, naming only a lower precision the device has matrix units for
    (fp8 on Hopper, not on an A100; fp4 on Blackwell, not on Hopper)."""
    if matrix_precisions is None or precision is None:
        return "only more FLOP/s helps: a lower precision on the matrix units where the device has one, or less work"
    lower = [p for p in _LOWER_PRECISION.get(precision, ()) if p in matrix_precisions]
    if not lower:
        return f"only less work helps: this device has no matrix path faster than {precision}"
    quantize = " (quantize weights and activations)" if lower[0].startswith("int") else ""
    return f"only more FLOP/s helps: {lower[0]} on the matrix units{quantize}, or less work"


def _kernel_finding(v: KernelVerdict, matrix_precisions: frozenset[str] | None = None) -> str:
    if v.bound is Bound.COMMUNICATION:
        return _collective_finding(v)
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
    if v.bound is Bound.LATENCY:
        at_roof = max(v.compute_s or 0.0, v.memory_s or 0.0)
        where = (f"measured {fmt_seconds(v.total_s / max(v.count, 1))} per call, over twice the "
                 f"{fmt_seconds(v.launch_s)} launch floor, for {fmt_seconds(at_roof)} of work at the roof")
        if v.blocks_per_call is not None:
            where += f"; {v.blocks_per_call:.0f} blocks per launch"
    if not where and v.memory_s is not None:
        where = f"{fmt_seconds(v.memory_s)} of data movement per call against the {v.roof or 'memory'} roof"
    roof = f", at {fmt_percent(v.pct_of_roof)} of its roof" if v.pct_of_roof is not None else ""
    return f"{_label(v)}: {v.bound.value}-bound ({where}{roof}) — {_remedy(v, matrix_precisions)}."


def _collective_finding(v: KernelVerdict) -> str:
    c = v.collective
    if c is None:
        return f"{_label(v)}: communication-bound — {_REMEDY[Bound.COMMUNICATION]}."
    what = c.type.replace("_", "-") if c.type else "collective"
    group = f" over {c.group_size} ranks" if c.group_size else ""
    if c.busbw_bytes_per_s is None or v.pct_of_roof is None:
        reason = v.notes[0] if v.notes else "sizes not recorded"
        return (f"{_label(v)}: communication-bound ({what}{group}; bus bandwidth unknown — {reason}); "
                f"its {fmt_seconds(v.total_s)} counts where it is exposed.")
    size = (c.message_bytes or 0.0) / max(c.sized_calls, 1)
    return (f"{_label(v)}: communication-bound ({what}{group}, {fmt_bytes(size)} per call: bus bandwidth "
            f"{fmt_bytes_per_s(c.busbw_bytes_per_s)}, algorithm bandwidth {fmt_bytes_per_s(c.algbw_bytes_per_s)}, "
            f"at {fmt_percent(v.pct_of_roof)} of the {c.link or 'interconnect'} roof with "
            f"{fmt_seconds(c.latency_s or 0.0)} latency per call) — {_REMEDY[Bound.COMMUNICATION]}.")


def _label(v: KernelVerdict) -> str:
    name = short_kernel_name(v.name, width=60)
    return f"{name} ({v.op})" if v.op and v.op != v.name else name


def _remedy(v: KernelVerdict, matrix_precisions: frozenset[str] | None = None) -> str:
    if v.kind == "memcpy" and v.bound is Bound.MEMORY and v.roof and not v.roof.startswith("DRAM"):
        return "copy less, from pinned memory, overlapped with compute (non_blocking=True), or keep data on the GPU"
    if v.bound is Bound.COMPUTE:
        if v.unit != "matrix":
            return "only more FLOP/s helps: move the work onto the matrix units (a GEMM formulation), or do less"
        return compute_remedy(v.precision, matrix_precisions)
    return _REMEDY[v.bound]


def findings_for(
    verdicts: list[KernelVerdict], totals: TimeByBound, span_s: float, verdict: Bound,
    matrix_precisions: frozenset[str] | None = None,
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
        findings.append(_kernel_finding(v, matrix_precisions))
    for v in ordered:
        for note in v.notes:
            if note.startswith("above the"):
                findings.append(f"{_label(v)}: {note}.")
    if totals.unknown > 0 and span_s > 0:
        findings.append(
            f"{fmt_percent(totals.unknown / span_s)} of the time ({fmt_seconds(totals.unknown)}) "
            "has no FLOPs/bytes model: its bound is unknown."
        )
    return findings


def trace_findings(
    verdicts: list[KernelVerdict], timeline: TimelineFigures, candidates: dict[str, float], verdict: str,
    matrix_precisions: frozenset[str] | None = None,
    *, profiler_s: float | None = None,
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
    if timeline.lead_in_s / span >= LAUNCH_GAP_SHARE:
        rest = span - timeline.lead_in_s
        findings.append(
            f"{fmt_percent(timeline.lead_in_s / span)} of the span is lead-in: work was queued but had not reached "
            f"the GPU yet (a step's first launch, a graph's submission, a trace opening long before its first "
            f"kernel); of the rest the GPU is busy {fmt_percent(timeline.gpu_busy_s / rest if rest > 0 else 0.0)}."
        )
    if wait_share >= LAUNCH_GAP_SHARE:
        per_gap = timeline.launch_wait_s / max(timeline.launch_gaps, 1)
        text = (f"{fmt_percent(wait_share)} of the span the GPU waits for the host to launch work "
                f"({timeline.launch_gaps} gaps, {fmt_seconds(per_gap)} each on average)")
        if profiler_s and (timeline.launch_wait_s - profiler_s) / span < LAUNCH_GAP_SHARE:
            findings.append(
                f"{text}, but the profiler's own host overhead ({fmt_seconds(profiler_s)}) accounts for most of it: "
                "time the step without the profiler before capturing it in a CUDA graph."
            )
        else:
            overhead = f", of which ≈{fmt_seconds(profiler_s)} is the profiler's own host overhead" if profiler_s else ""
            findings.append(
                f"{text}{overhead}: capture the step in a CUDA graph or use torch.compile(mode='reduce-overhead'), "
                "and fuse small kernels."
            )
    if timeline.host_stall_s / span >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(timeline.host_stall_s / span)} of the span the GPU is idle before a step's first launch "
            f"while the host launches nothing ({fmt_seconds(timeline.host_stall_s)}: data loading, Python between "
            "steps, sleeps): a host stall — overlap the input pipeline with the GPU (DataLoader num_workers, "
            "pin_memory, prefetching); CUDA graphs do not help."
        )
    if timeline.graph_gap_s / span >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(timeline.graph_gap_s / span)} of the span is idle inside CUDA-graph replays, between "
            f"their kernels ({fmt_seconds(timeline.graph_gap_s)}): waits on dependencies or host nodes inside the "
            "graph, not launch overhead."
        )
    if timeline.other_idle_s / span >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(timeline.other_idle_s / span)} of the span the GPU is idle for other reasons "
            "(queued work waiting on a dependency or a synchronisation, host work after the last launch): look at "
            "the CPU side of the step."
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
    latency_kernels = sum(v.total_s for v in verdicts if v.bound is Bound.LATENCY)
    if latency_kernels / kernel_total >= LAUNCH_GAP_SHARE:
        findings.append(
            f"{fmt_percent(latency_kernels / kernel_total)} of kernel time is in latency-bound kernels (each runs "
            "over twice the launch floor yet far below its roof): give each launch more parallel work — batch, "
            "fuse, larger tiles; CUDA graphs would not shorten them."
        )
    ordered = sorted(verdicts, key=lambda v: -v.total_s)
    for v in ordered[:MAX_KERNEL_FINDINGS]:
        findings.append(_kernel_finding(v, matrix_precisions))
    unknown = sum(v.total_s for v in verdicts if v.bound is Bound.UNKNOWN)
    if unknown > 0:
        findings.append(
            f"{fmt_percent(unknown / kernel_total)} of kernel time ({fmt_seconds(unknown)}) has no FLOPs/bytes "
            "model: its bound is unknown (see each kernel's reason)."
        )
    for v in ordered:
        for note in v.notes:
            if note.startswith("above the"):
                findings.append(f"{_label(v)}: {note}.")
    return findings
