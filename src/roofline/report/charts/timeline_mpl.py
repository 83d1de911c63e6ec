"""Draw a trace's GPU timeline (``roofline.report.charts.timeline.TimelineFigure``): one lane per
device with busy time coloured by the bound of the kernels running and idle time split into launch
wait (coloured) and the idle states no launch-side change removes (host stall, lead-in, graph gaps,
other: neutral fills, hatched), and one lane per stream. Element ids: ``lane-<n>-<category>``, ``step-<n>``,
``legend``.
"""

from __future__ import annotations

from typing import Any

from roofline.report.charts import mpl
from roofline.report.charts.timeline import (
    CATEGORY_COLOURS,
    CATEGORY_HATCHES,
    CATEGORY_LABELS,
    HATCH_COLOUR,
    TimelineFigure,
)
from roofline.units import fmt_percent, fmt_seconds

LANE_HEIGHT_IN = 0.42
HATCH_COLOUR = "#8C8C8C"  # the hatching of the neutral idle fills
MAX_LANES = 24  # streams beyond this are summarised in a note: a chart of 200 lanes reads as noise


def _time_scale(span_s: float) -> tuple[float, str]:
    if span_s >= 2.0:
        return 1.0, "s"
    if span_s >= 2e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def render_timeline(figure: TimelineFigure, fmt: str) -> bytes:
    rows = figure.rows[:MAX_LANES]
    hidden = len(figure.rows) - len(rows)
    # Room for the title above and the axis label below; at least the legend's height.
    height = max(1.75 + LANE_HEIGHT_IN * len(rows), 3.3)
    with mpl.styled():
        fig = mpl.new_figure(12.0, height)
        top = 1.0 - 0.95 / height
        bottom = 0.75 / height
        ax = fig.add_axes((0.1, bottom, 0.63, top - bottom))
        scale, unit = _time_scale(figure.span_s)
        ax.set_xlim(0, figure.span_s * scale)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.set_yticks(range(len(rows)), [row.label for row in rows])
        ax.set_xlabel(f"time from the start of the profiled span ({unit})")
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        for lane, row in enumerate(rows):
            by_category: dict[str, list[tuple[float, float]]] = {}
            for bar in row.bars:
                by_category.setdefault(bar.category, []).append((bar.start_s * scale, (bar.end_s - bar.start_s) * scale))
            # Device lanes are full height; stream lanes thinner, so the eye groups them under their GPU.
            thickness = 0.7 if not row.label.startswith(" ") else 0.45
            for category, spans in by_category.items():
                hatch = CATEGORY_HATCHES.get(category)
                ax.broken_barh(spans, (lane - thickness / 2, thickness), facecolors=CATEGORY_COLOURS[category],
                               edgecolors=HATCH_COLOUR if hatch else "none", linewidths=0, hatch=hatch,
                               gid=f"lane-{lane}-{category}")
            if row.binned:
                ax.text(1.005, lane, "binned", transform=ax.get_yaxis_transform(), fontsize=7, color="#777777",
                        va="center")
        for index, (label, start_s) in enumerate(figure.steps):
            ax.axvline(start_s * scale, color="#444444", linestyle=":", linewidth=0.8, gid=f"step-{index}")
            ax.text(start_s * scale, -0.5, f" {label}", fontsize=7.5, color="#444444", va="bottom", ha="left")
        fig.text(0.1, 1.0 - 0.32 / height, figure.title, fontsize=13, fontweight="bold", gid="title")
        fig.text(0.1, 1.0 - 0.58 / height, figure.subtitle, fontsize=9, color="#444444", gid="subtitle")
        _legend(fig, figure, top)
        notes = []
        if any(row.binned for row in rows):
            notes.append("binned lanes: each bar is the dominant state of a short time bin (too many kernels to draw)")
        if hidden:
            notes.append(f"{hidden} more stream lane(s) not drawn")
        if notes:
            fig.text(0.1, 0.12 / height, " · ".join(notes), fontsize=7.5, color="#555555", gid="notes")
        return mpl.save(fig, fmt)


def _legend(fig: Any, figure: TimelineFigure, top: float) -> None:
    from matplotlib.patches import Patch

    totals = {name: (seconds, share) for name, seconds, share in figure.totals}
    handles = []
    for category in figure.categories:
        label = CATEGORY_LABELS[category]
        if category in totals:
            seconds, share = totals[category]
            label += f"\n{fmt_seconds(seconds)} ({fmt_percent(share)} of the span)"
        hatch = CATEGORY_HATCHES.get(category)
        handles.append(Patch(facecolor=CATEGORY_COLOURS[category], edgecolor=HATCH_COLOUR if hatch else "none",
                             linewidth=0, hatch=hatch, label=label))
    seconds, share = totals.get("busy", (0.0, 0.0))
    handles.append(Patch(facecolor="white", edgecolor="none",
                         label=f"GPU busy in all: {fmt_seconds(seconds)} ({fmt_percent(share)})"))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.75, top), frameon=False,
                        title="GPU state", alignment="left", fontsize=8)
    legend.set_gid("legend")
