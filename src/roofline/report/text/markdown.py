"""Markdown for PR comments and ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from roofline.analysis.result import ClassifyResult
from roofline.report.text.summary import caveat_text, idle_split, time_by_bound_text, utilisation_text, verdict_name
from roofline.units import (
    fmt_bytes_per_s,
    fmt_flops_per_s,
    fmt_intensity,
    fmt_percent,
    fmt_seconds,
    short_kernel_name,
)


def md_escape(text: str) -> str:
    """Escape what would break a Markdown table cell or inject markup/HTML."""
    out = text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    out = out.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ").replace("\r", " ")
    return out


def classify_markdown(result: ClassifyResult, top: int | None = None) -> str:
    s = result.summary
    hw = result.hardware
    lines = [
        f"## roofline classify: {md_escape(result.title or ', '.join(result.inputs))}",
        "",
        f"**Verdict: {verdict_name(s.verdict)}** ({fmt_percent(s.verdict_share)} of the span){md_escape(caveat_text(s))} "
        f"on {md_escape(hw.display_name)} (`{hw.name}`, {hw.ceilings} ceilings).",
        "",
        f"- Span {fmt_seconds(s.span_s)}; GPU busy {fmt_seconds(s.gpu_busy_s)}; idle {fmt_seconds(s.idle_s)}"
        + (
            f" ({idle_split(s)})"
            if s.idle_s > 0
            else ""
        ),
        f"- Time by bound: {time_by_bound_text(s)}",
        *([f"- Exposed communication: {fmt_seconds(s.exposed_communication_s)} of "
           f"{fmt_seconds(s.communication_s)} of communication"] if s.communication_s > 0 else []),
        *([f"- Utilisation: {md_escape(utilisation_text(s))}"] if s.utilisation is not None else []),
        "",
        "| kernel | calls | time | bound | AI (FLOP/B) | FLOP/s | B/s | % of roof | roof | source |",
        "|---|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    kernels = result.kernels if top is None else result.kernels[:top]
    for v in kernels:
        time = fmt_seconds(v.total_s) + ("" if v.time_basis == "measured" else " (predicted)")
        lines.append(
            f"| {md_escape(short_kernel_name(v.name))}{' (' + md_escape(v.op) + ')' if v.op and v.op != v.name else ''} | {v.count} | {time} | {v.bound.value} | {fmt_intensity(v.ai)} | "
            f"{fmt_flops_per_s(v.achieved_flops_per_s)} | {fmt_bytes_per_s(v.achieved_bytes_per_s)} | "
            f"{fmt_percent(v.pct_of_roof)} | {md_escape(v.roof or '—')} | {v.source} |"
        )
    if top is not None and len(result.kernels) > top:
        lines.append(f"\n_{len(result.kernels) - top} more kernel groups not shown (`--top`)._")
    if s.findings:
        lines += ["", "### Findings", ""]
        lines += [f"- {md_escape(f)}" for f in s.findings]
    if result.warnings:
        lines += ["", "### Warnings", ""]
        lines += [f"- {md_escape(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"
