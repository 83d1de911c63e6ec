"""The words every renderer uses for a summary's verdict line: the verdict, what qualifies it
(a truncated or damaged trace, a launch wait within the profiler's overhead), and the idle time
split by what the GPU waited for. Text only: the figures come from the Summary."""

from __future__ import annotations

from roofline.analysis.result import Summary
from roofline.units import fmt_seconds

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
