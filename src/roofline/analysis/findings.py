"""Plain-word findings: what the verdicts mean and what class of fix each bound calls for."""

from __future__ import annotations

from roofline.analysis.classify import KernelVerdict, TimeByBound
from roofline.analysis.roofline import Bound
from roofline.units import fmt_intensity, fmt_percent, fmt_seconds

MAX_KERNEL_FINDINGS = 5

_REMEDY = {
    Bound.COMPUTE: "only more FLOP/s helps: lower precision on the matrix units (fp8), or less work",
    Bound.MEMORY: "cut bytes moved: fuse with neighbouring ops, lower the precision of what is read, "
    "or raise reuse (batch more)",
    Bound.LAUNCH: "the kernel is shorter than its launch cost: fuse launches or capture the sequence "
    "in a CUDA graph / torch.compile(mode='reduce-overhead')",
}


def _kernel_finding(v: KernelVerdict) -> str:
    if v.bound is Bound.UNKNOWN:
        reason = v.notes[0] if v.notes else "FLOPs or bytes unknown"
        return f"{v.name}: bound unknown — {reason}; its {fmt_seconds(v.total_s)} still counts."
    where = ""
    if v.ai is not None and v.ridge_point is not None:
        side = "above" if v.ai >= v.ridge_point else "below"
        where = (
            f"AI {fmt_intensity(v.ai)} FLOP/B is {side} the {v.roof} ridge of "
            f"{fmt_intensity(v.ridge_point)}"
        )
    if v.bound is Bound.LAUNCH:
        where = (
            f"{fmt_seconds(v.total_s / max(v.count, 1))} per call against a "
            f"{fmt_seconds(v.launch_s)} launch floor"
        )
    roof = f", at {fmt_percent(v.pct_of_roof)} of its roof" if v.pct_of_roof is not None else ""
    return f"{v.name}: {v.bound.value}-bound ({where}{roof}) — {_REMEDY[v.bound]}."


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
                findings.append(f"{v.name}: {note}.")
    if totals.unknown > 0 and span_s > 0:
        findings.append(
            f"{fmt_percent(totals.unknown / span_s)} of the time ({fmt_seconds(totals.unknown)}) "
            "has no FLOPs/bytes model: its bound is unknown."
        )
    return findings
