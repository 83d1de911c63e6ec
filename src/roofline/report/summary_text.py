"""One-line texts of a classification summary that every renderer shows the same way."""

from __future__ import annotations

from roofline.analysis.result import Summary
from roofline.units import fmt_percent, fmt_seconds


def time_by_bound_text(summary: Summary) -> str:
    """Kernel seconds per bound; latency and communication only where some kernel has them."""
    tb = summary.time_by_bound
    parts = [f"compute {fmt_seconds(tb.compute)}", f"memory {fmt_seconds(tb.memory)}", f"launch {fmt_seconds(tb.launch)}"]
    if tb.latency > 0:
        parts.append(f"latency {fmt_seconds(tb.latency)}")
    if tb.communication > 0:
        parts.append(f"communication {fmt_seconds(tb.communication)}")
    parts.append(f"unknown {fmt_seconds(tb.unknown)}")
    return ", ".join(parts)


def utilisation_text(summary: Summary) -> str:
    """MFU and MBU with the roof they are taken against and what share of the work they rest on."""
    u = summary.utilisation
    if u is None:
        return "—"
    mfu = f"MFU {fmt_percent(u.mfu)}" + (f" of the {u.peak_label} peak" if u.mfu is not None and u.peak_label else "")
    text = f"{mfu}, MBU {fmt_percent(u.mbu)}; FLOPs known for {fmt_percent(u.flops_coverage)} of kernel time"
    if u.notes:
        text += " — " + "; ".join(u.notes)
    return text
