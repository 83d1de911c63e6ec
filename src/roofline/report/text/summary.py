"""One-line texts of a classification summary that every renderer shows the same way: the verdict,
what qualifies it (a truncated or damaged trace, a launch wait within the profiler's overhead),
the idle time split by what the GPU waited for, time by bound, utilisation. Text only: the
figures come from the Summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: `hw list` imports this module and must not import the analysis
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


# (Summary field, label), in the order the timeline accounts them.
IDLE_PARTS = (
    ("launch_wait_s", "launch wait"),
    ("host_stall_s", "host stall"),
    ("lead_in_s", "lead-in"),
    ("graph_gap_s", "graph gaps"),
    ("other_idle_s", "other"),
)


def verdict_name(verdict: str) -> str:
    """'memory-bound', 'host-stalled', ... for a Summary.verdict."""
    return {"host-stall": "host-stalled"}.get(verdict, f"{verdict}-bound")


def idle_split(s: Summary) -> str:
    """'launch wait 1 ms, host stall 2 ms, other 3 µs': the idle buckets that hold time (launch wait
    and other always, as before the finer split)."""
    parts = [f"{label} {fmt_seconds(getattr(s, field))}" for field, label in IDLE_PARTS
             if getattr(s, field) > 0 or field in ("launch_wait_s", "other_idle_s")]
    return ", ".join(parts)


def caveat_text(s: Summary) -> str:
    """' — truncated trace: …; …' to end the verdict line with, or ''."""
    return (" — " + "; ".join(s.caveats)) if s.caveats else ""
