"""Plot-ready model of a trace's timeline: one row per device (busy by bound, then each idle state:
launch wait, host stall, lead-in, graph gaps, other idle) and one per stream (busy by bound), on a time axis from the start of the accounted span.
Built from the timeline model (``roofline.analysis.timeline.timeline_segments``) and the verdicts;
``roofline.report.charts.timeline_mpl`` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from roofline.analysis.result import ClassifyResult
from roofline.analysis.timeline import DeviceSegments, Segment
from roofline.report.charts.roofline import BOUND_COLOURS, source_name
from roofline.report.matching import VerdictIndex
from roofline.units import fmt_percent, fmt_seconds

# Busy time in the colours of its bound; idle time in neutral greys, so an orange is always a
# launch-bound kernel (idle waiting for the host was a second orange next to it). The wait for
# the host is hatched: idle, but idle with a cause the plan can remove.
CATEGORY_COLOURS = {
    **BOUND_COLOURS,
    # Idle states are neutral greys told apart by their hatching: the wait for the host (the
    # launch-bound gaps) hatched darkest, beside but never confused with launch-bound kernels.
    "launch_wait": "#EEEEEE",
    "host_stall": "#F2F2F2",
    "lead_in": "#FFFFFF",
    "graph_gap": "#E6E6E6",
    "other_idle": "#DDDDDD",
}
CATEGORY_HATCHES = {"launch_wait": "////", "host_stall": "\\\\", "lead_in": "....", "graph_gap": "xxx"}
HATCH_COLOUR = "#8A8A8A"
CATEGORY_LABELS = {
    "compute": "busy · compute-bound kernels",
    "memory": "busy · memory-bound kernels",
    "launch": "busy · launch-bound kernels",
    "latency": "busy · latency-bound kernels",
    "communication": "busy · collectives",
    "unknown": "busy · bound unknown",
    "launch_wait": "idle · waiting for the host to launch",
    "host_stall": "idle · host stall (nothing launched)",
    "lead_in": "idle · lead-in (work queued, not yet running)",
    "graph_gap": "idle · inside CUDA-graph replays",
    "other_idle": "idle · other (dependencies, sync, tail)",
}
# Beyond this many bars in a row, draw the dominant state of each of MAX_BARS // 2 equal time bins:
# finer detail is below a pixel, and a million rectangles would make a useless, huge file.
MAX_BARS = 4000


@dataclass(frozen=True)
class Bar:
    start_s: float  # from the start of the span
    end_s: float
    category: str  # a bound (compute | memory | launch | unknown) or an idle kind (timeline.IDLE_KINDS)


@dataclass(frozen=True)
class TimelineRow:
    label: str
    bars: list[Bar]
    binned: bool = False


@dataclass(frozen=True)
class TimelineFigure:
    title: str
    subtitle: str
    span_s: float
    rows: list[TimelineRow]
    steps: list[tuple[str, float]]  # (label, start from span start in s)
    totals: list[tuple[str, float, float]]  # (category, seconds, share of span)

    @property
    def categories(self) -> list[str]:
        present = {bar.category for row in self.rows for bar in row.bars}
        return [c for c in CATEGORY_COLOURS if c in present]


def _busy_category(segment: Segment, index: VerdictIndex) -> str:
    """The bound holding most of this busy piece's kernel time."""
    seconds: dict[str, int] = {}
    for event in segment.members:
        verdict = index.for_event(event)
        bound = verdict.bound.value if verdict is not None else "unknown"
        seconds[bound] = seconds.get(bound, 0) + event.dur_ns
    if not seconds:
        return "unknown"
    return max(seconds, key=lambda bound: (seconds[bound], bound != "unknown"))


def _bars(segments: list[Segment], origin_ns: int, index: VerdictIndex) -> list[Bar]:
    bars: list[Bar] = []
    for segment in segments:
        category = _busy_category(segment, index) if segment.kind == "busy" else segment.kind
        start = (segment.start_ns - origin_ns) * 1e-9
        end = (segment.end_ns - origin_ns) * 1e-9
        if bars and bars[-1].category == category and bars[-1].end_s == start:
            bars[-1] = Bar(bars[-1].start_s, end, category)  # one bar for back-to-back work of one kind
        else:
            bars.append(Bar(start, end, category))
    return bars


def _binned(bars: list[Bar], span_s: float, bins: int) -> list[Bar]:
    """Dominant category per time bin; empty bins (no bar at all, e.g. an idle stream) stay empty."""
    width = span_s / bins
    time: list[dict[str, float]] = [{} for _ in range(bins)]
    for bar in bars:
        first = min(int(bar.start_s / width), bins - 1)
        last = min(int(bar.end_s / width), bins - 1)
        for b in range(first, last + 1):
            overlap = min(bar.end_s, (b + 1) * width) - max(bar.start_s, b * width)
            if overlap > 0:
                time[b][bar.category] = time[b].get(bar.category, 0.0) + overlap
    out: list[Bar] = []
    for b, shares in enumerate(time):
        if not shares:
            continue
        category = max(shares, key=lambda c: (shares[c], c))
        start = b * width
        if out and out[-1].category == category and abs(out[-1].end_s - start) < width * 1e-6:
            out[-1] = Bar(out[-1].start_s, start + width, category)
        else:
            out.append(Bar(start, start + width, category))
    return out


def _row(label: str, bars: list[Bar], span_s: float, max_bars: int) -> TimelineRow:
    if len(bars) > max_bars and span_s > 0:
        return TimelineRow(label, _binned(bars, span_s, max(max_bars // 2, 1)), binned=True)
    return TimelineRow(label, bars)


def timeline_figure(
    result: ClassifyResult,
    devices: list[DeviceSegments],
    steps: list[tuple[int, int, int]],
    *,
    max_bars: int = MAX_BARS,
) -> TimelineFigure:
    """``devices`` from ``timeline_segments`` of the same events and steps the result came from."""
    index = VerdictIndex(result)
    rows: list[TimelineRow] = []
    origin = min((d.span_start_ns for d in devices), default=0)
    span_ns = max((d.span_end_ns for d in devices), default=0) - origin
    span_s = span_ns * 1e-9
    for device in devices:
        rows.append(_row(f"GPU {device.device}", _bars(device.segments, origin, index), span_s, max_bars))
        for stream, segments in device.streams.items():
            rows.append(_row(f"  stream {stream}", _bars(segments, origin, index), span_s, max_bars))
    s = result.summary
    totals = [("busy", s.gpu_busy_s, s.gpu_busy_s / s.span_s if s.span_s else 0.0)]
    idle = {"launch_wait": s.launch_wait_s, "host_stall": s.host_stall_s, "lead_in": s.lead_in_s,
            "graph_gap": s.graph_gap_s, "other_idle": s.other_idle_s}
    totals += [(kind, seconds, seconds / s.span_s if s.span_s else 0.0) for kind, seconds in idle.items()]
    step_marks = [(f"step {number}", (start - origin) * 1e-9) for number, start, _ in steps if start >= origin]
    words = {"launch_wait": "launch wait", "host_stall": "host stall", "lead_in": "lead-in", "graph_gap": "graph gaps",
             "other_idle": "other idle"}
    shown = [f"{words[kind]} {fmt_percent(share)}" for kind, seconds, share in totals[1:]
             if seconds > 0 or kind in ("launch_wait", "other_idle")]
    subtitle = (
        f"{source_name(result)} · span {fmt_seconds(s.span_s)}: busy {fmt_percent(totals[0][2])}, "
        f"{', '.join(shown)} · verdict {s.verdict}"
    )
    return TimelineFigure(
        title=f"GPU timeline · {result.hardware.display_name}",
        subtitle=subtitle,
        span_s=span_s,
        rows=rows,
        steps=step_marks,
        totals=totals,
    )
