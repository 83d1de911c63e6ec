"""Draw roofline charts (one device with its kernels, or several devices compared) from the
plot-ready models in ``roofline.report.charts.roofline``. Nothing is computed about the workload here.

Every drawn element carries a ``gid`` (an ``id`` in SVG): ``roof-…``, ``slope-…``, ``ridge-…``,
``points-<bound>``, ``label-<n>``, ``hier-<n>``; tests and the HTML report rely on them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from roofline.report.charts import mpl
from roofline.report.charts.roofline import (
    BOUND_COLOURS,
    BOUND_LABELS,
    BOUNDS,
    CompareFigure,
    KernelPoint,
    RoofLine,
    RooflineFigure,
)
from roofline.units import fmt_bytes_per_s, fmt_flops_per_s, fmt_intensity

ROOF_COLOUR = "#222222"
REFERENCE_COLOUR = "#9A9A9A"
ABOVE_ROOF_COLOUR = "#D00000"
DEVICE_COLOURS = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Not a diamond for launch-bound: the diamond marks ridge points.
BOUND_MARKERS = {"compute": "^", "memory": "o", "launch": "s", "latency": "D", "communication": "P", "unknown": "X"}
LEVEL_MARKERS = {"L1": "v", "L2": "s"}
FIG_SIZE = (12.0, 7.2)
AXES_RECT = (0.07, 0.15, 0.655, 0.72)
# Label offsets tried around a point, nearest first (points; angles in degrees).
_RADII = (6, 14, 26, 42, 62, 86)
_ANGLES = (35, 145, -35, -145, 90, -90, 0, 180)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def marker_size(share: float) -> float:
    """Marker area in pt² grows with the share of time, so big consumers dominate the eye."""
    return 22.0 + 900.0 * max(share, 0.0)


def _si_tick(value: float, _pos: Any = None) -> str:
    if value <= 0:
        return ""
    for scale, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{prefix}"
    return f"{value:g}"


def _decade_floor(value: float) -> float:
    return 10.0 ** math.floor(math.log10(value))


def _decade_ceil(value: float) -> float:
    return 10.0 ** math.ceil(math.log10(value))


def _setup_axes(figure: Any, title: str, subtitle: str) -> Any:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax = figure.add_axes(AXES_RECT)
    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(LogLocator(base=10.0, numticks=30))
        # Minor ticks at 2 and 5 of each decade (1-2-5): enough to read a value between decades;
        # matplotlib's default eight per decade were ~140 tick artists, half the time of a chart.
        axis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0), numticks=30))
        axis.set_major_formatter(FuncFormatter(_si_tick))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("Arithmetic intensity (FLOP/byte of DRAM traffic)")
    ax.set_ylabel("Performance (FLOP/s)")
    ax.grid(True, which="major", color="#E4E4E4", linewidth=0.7)
    ax.set_axisbelow(True)
    figure.text(AXES_RECT[0], 0.955, title, fontsize=13, fontweight="bold", gid="title")
    figure.text(AXES_RECT[0], 0.915, subtitle, fontsize=9, color="#444444", gid="subtitle")
    return ax


class _Boxes(list):
    """Display-space boxes (matplotlib Bboxes), with their extents as one array: a label tries
    48 offsets against hundreds of boxes, and testing them one Bbox at a time took 8 s a chart."""

    def extents(self) -> Any:
        import numpy as np

        cached = getattr(self, "_cache", None)
        if cached is None or cached[0] != len(self):
            array = np.array([(b.x0, b.y0, b.x1, b.y1) for b in self], dtype=float).reshape(-1, 4)
            cached = (len(self), array)
            self._cache = cached
        return cached[1]

    def overlap_area(self, box: Any, pad: float) -> float:
        """Summed area by which ``box``, grown by ``pad``, overlaps these boxes."""
        import numpy as np

        e = self.extents()
        w = np.minimum(box.x1 + pad, e[:, 2]) - np.maximum(box.x0 - pad, e[:, 0])
        h = np.minimum(box.y1 + pad, e[:, 3]) - np.maximum(box.y0 - pad, e[:, 1])
        return float(np.where((w > 0) & (h > 0), w * h, 0.0).sum())

    def containing(self, points: Any) -> int:
        """How many (point, box) pairs have the point inside the box, edges included (Bbox.contains)."""
        import numpy as np

        e = self.extents()
        if not len(points) or not len(e):
            return 0
        xy = np.asarray(points, dtype=float)
        x, y = xy[:, :1], xy[:, 1:]
        x_lo, x_hi = np.minimum(e[:, 0], e[:, 2]), np.maximum(e[:, 0], e[:, 2])
        y_lo, y_hi = np.minimum(e[:, 1], e[:, 3]), np.maximum(e[:, 1], e[:, 3])
        return int(((x_lo <= x) & (x <= x_hi) & (y_lo <= y) & (y <= y_hi)).sum())


class _Placer:
    """Greedy, deterministic label placement in display space: each label takes the nearest
    candidate offset whose box stays inside the axes and clear of earlier labels and markers.
    """

    def __init__(self, ax: Any) -> None:
        self.ax = ax
        self.renderer = ax.figure.canvas.get_renderer()
        self.frame = ax.get_window_extent(self.renderer)
        self.taken = _Boxes()
        self.labels = _Boxes()  # placed label boxes: a leader line must not cross them
        self.leaders = _Boxes()  # small boxes along placed leader lines: no label may sit on one
        self.lines = _Boxes()  # small boxes along roofs and slopes: text struck through is hard to read

    def block(self, x: float, y: float, radius_pt: float) -> None:
        from matplotlib.transforms import Bbox

        cx, cy = self.ax.transData.transform((x, y))
        # A square between the circle's inscribed (0.71 r) and bounding one: a label may touch the
        # corners of a round marker's box without touching the marker.
        r = 0.8 * radius_pt * self.ax.figure.dpi / 72.0
        self.taken.append(Bbox.from_extents(cx - r, cy - r, cx + r, cy + r))

    def block_line(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        """Mark a straight line (in display space, so any straight line of a log-log chart) taken."""
        from matplotlib.transforms import Bbox

        (x0, y0), (x1, y1) = self.ax.transData.transform([start, end])
        steps = max(int(math.hypot(x1 - x0, y1 - y0) / 6.0), 1)
        for i in range(steps + 1):
            x = x0 + (x1 - x0) * i / steps
            y = y0 + (y1 - y0) * i / steps
            if self.frame.x0 - 3 <= x <= self.frame.x1 + 3 and self.frame.y0 - 3 <= y <= self.frame.y1 + 3:
                self.lines.append(Bbox.from_extents(x - 3, y - 1.5, x + 3, y + 1.5))

    def cost(self, box: Any) -> float:
        pad = 2.0
        cost = 0.0
        # Text over text is the worst outcome: a label box weighs ten times a marker or a line.
        for weight, boxes in ((1.0, self.taken), (9.0, self.labels), (40.0, self.leaders), (4.0, self.lines)):
            cost += weight * boxes.overlap_area(box, pad)
        f = self.frame
        outside = (max(f.x0 - box.x0, 0) + max(box.x1 - f.x1, 0)) * box.height
        outside += (max(f.y0 - box.y0, 0) + max(box.y1 - f.y1, 0)) * box.width
        return cost + 10.0 * outside

    def place(
        self,
        text: str,
        xy: tuple[float, float],
        offsets: Sequence[tuple[float, float]],
        *,
        gid: str,
        leader: bool = True,
        **style: Any,
    ) -> Any:
        best: tuple[float, int] | None = None
        # A label's box moves with its offset and changes only with its alignment (left, centre,
        # right × bottom, centre, top): measure it once per alignment, then translate it.
        measured: dict[tuple[str, str], tuple[Any, float, float]] = {}
        points_to_pixels = self.ax.figure.dpi / 72.0
        for index, (dx, dy) in enumerate(offsets):
            alignment = _alignment(dx, dy)
            if alignment not in measured:
                annotation = self._annotate(text, xy, dx, dy, None, gid, style)
                measured[alignment] = (annotation.get_window_extent(self.renderer), dx, dy)
                annotation.remove()
            first, dx0, dy0 = measured[alignment]
            box = first.translated((dx - dx0) * points_to_pixels, (dy - dy0) * points_to_pixels)
            cost = self.cost(box)
            if leader and math.hypot(dx, dy) > 16:
                cost += self._leader_cost(xy, box)
            if cost == 0.0:
                best = (0.0, index)
                break
            if best is None or cost < best[0]:
                best = (cost, index)
        assert best is not None
        dx, dy = offsets[best[1]]
        arrow = None
        if leader and math.hypot(dx, dy) > 16:
            arrow = {"arrowstyle": "-", "color": "#777777", "linewidth": 0.6, "shrinkA": 0, "shrinkB": 3}
        from matplotlib.text import Text

        annotation = self._annotate(text, xy, dx, dy, arrow, gid, style)
        # The text's own box: an Annotation's extent would also cover its leader's bounding rectangle
        # (measuring the Annotation first brings its text position up to date).
        annotation.get_window_extent(self.renderer)
        box = Text.get_window_extent(annotation, self.renderer)
        self.taken.append(box)
        self.labels.append(box)
        if arrow is not None:
            from matplotlib.transforms import Bbox

            # Later labels keep clear of this leader line.
            self.leaders += [Bbox.from_extents(x - 2, y - 2, x + 2, y + 2) for x, y in self._leader_samples(xy, box)]
        return annotation

    def _leader_samples(self, xy: tuple[float, float], box: Any) -> list[tuple[float, float]]:
        """Points every few pixels along a leader, from the data point to its label, outside both."""
        px, py = self.ax.transData.transform(xy)
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        steps = max(int(math.hypot(cx - px, cy - py) / 4.0), 1)
        samples = []
        for i in range(2, steps):
            x, y = px + (cx - px) * i / steps, py + (cy - py) * i / steps
            if not box.contains(x, y):
                samples.append((x, y))
        return samples

    def _leader_cost(self, xy: tuple[float, float], box: Any) -> float:
        """A leader crossing another label makes both ambiguous: as costly as a large overlap. One
        crossing roofs and slopes is merely harder to follow."""
        samples = self._leader_samples(xy, box)
        crossing_labels = self.labels.containing(samples)
        crossing_lines = self.lines.containing(samples)
        return 1000.0 * crossing_labels + 150.0 * crossing_lines

    def _annotate(self, text: str, xy: tuple[float, float], dx: float, dy: float, arrow: Any, gid: str,
                  style: dict[str, Any]) -> Any:
        ha, va = _alignment(dx, dy)
        return self.ax.annotate(
            text, xy=xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, arrowprops=arrow,
            gid=gid, annotation_clip=False, **style,
        )


def _alignment(dx: float, dy: float) -> tuple[str, str]:
    """A label to the right of its point is left-aligned, one above it bottom-aligned, and so on."""
    ha = "left" if dx > 1 else "right" if dx < -1 else "center"
    va = "bottom" if dy > 1 else "top" if dy < -1 else "center"
    return ha, va


def _around(radius_pt: float) -> list[tuple[float, float]]:
    return [
        (round((radius_pt + r) * math.cos(math.radians(a)), 2), round((radius_pt + r) * math.sin(math.radians(a)), 2))
        for r in _RADII
        for a in _ANGLES
    ]


def _limits(figure: RooflineFigure) -> tuple[float, float, float, float]:
    ridges = [r.ridge_point for r in figure.roofs]
    peaks = [r.flops_per_s for r in figure.roofs]
    dram_ai = [p.ai for p in figure.points]
    ys = [p.flops_per_s for p in figure.points]
    x_lo = _decade_floor(min(dram_ai + [min(ridges) / 100.0]) / 1.5)
    # Inner-level AI can be huge (a GEMM barely touching L1); those points are pinned to the edge.
    x_hi = _decade_ceil(max(dram_ai + [max(ridges) * 10.0]) * 1.5)
    y_hi = _decade_ceil(max(peaks + ys) * 1.6)
    y_lo = _decade_floor(min(ys + [max(peaks) / 1e4]) / 1.6)
    return x_lo, x_hi, y_lo, y_hi


def render_roofline(figure: RooflineFigure, fmt: str) -> bytes:
    with mpl.styled():
        return mpl.save(draw_roofline(figure), fmt)


def draw_roofline(figure: RooflineFigure) -> Any:
    """The matplotlib Figure (call inside ``mpl.styled()``, and save inside it too)."""
    fig = mpl.new_figure(*FIG_SIZE)
    ax = _setup_axes(fig, figure.title, figure.subtitle)
    x_lo, x_hi, y_lo, y_hi = _limits(figure)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    placer = _Placer(ax)
    # Order matters for label placement: markers first, then roof labels, then kernel labels.
    _draw_roofs(ax, placer, figure, x_lo, x_hi, y_lo)
    _draw_points(ax, placer, figure.points, x_lo, x_hi)
    _label_roofs(ax, placer, figure, x_lo, x_hi)
    _label_points(placer, figure.points)
    _legend(fig, figure)
    notes = list(figure.notes)
    notes.insert(0, "x: FLOPs ÷ DRAM bytes · y: FLOPs ÷ time · a point's gap below its roof is its headroom")
    fig.text(AXES_RECT[0], 0.015, "\n".join(notes), fontsize=7.5, color="#555555", va="bottom", gid="notes")
    return fig


def _draw_roofs(ax: Any, placer: _Placer, figure: RooflineFigure, x_lo: float, x_hi: float, y_lo: float) -> None:
    for slope in figure.slopes:
        paired = [r for r in figure.roofs if r.bandwidth_bytes_per_s == slope.bytes_per_s]
        top = max((r.ridge_point for r in paired), default=x_hi)
        colour = REFERENCE_COLOUR if slope.reference else ROOF_COLOUR
        style = "--" if slope.origin == "measured" else "-"
        ax.plot([x_lo, top], [x_lo * slope.bytes_per_s, top * slope.bytes_per_s], color=colour, linestyle=style,
                linewidth=1.2 if slope.reference else 1.8, gid=f"slope-{slug(slope.label)}-{slope.origin}",
                zorder=2)
        placer.block_line((x_lo, x_lo * slope.bytes_per_s), (top, top * slope.bytes_per_s))
    for roof in figure.roofs:
        colour = REFERENCE_COLOUR if roof.reference else ROOF_COLOUR
        style = "--" if roof.origin == "measured" else "-"
        key = _roof_key(roof)
        ax.plot([roof.ridge_point, x_hi], [roof.flops_per_s] * 2, color=colour, linestyle=style,
                linewidth=1.2 if roof.reference else 1.8, gid=f"roof-{key}", zorder=2)
        ax.plot([roof.ridge_point], [roof.flops_per_s], marker="D", markersize=4.5, color=colour, linestyle="none",
                gid=f"ridge-{key}", zorder=3)
        placer.block_line((roof.ridge_point, roof.flops_per_s), (x_hi, roof.flops_per_s))
        ax.plot([roof.ridge_point] * 2, [y_lo, roof.flops_per_s], color=colour, linestyle=":", linewidth=0.7,
                zorder=1, gid=f"ridge-line-{key}")
        placer.block(roof.ridge_point, roof.flops_per_s, 4)


def _roof_key(roof: RoofLine) -> str:
    return f"{slug(roof.label)}-{'reference' if roof.reference else roof.origin}"


def _label_roofs(ax: Any, placer: _Placer, figure: RooflineFigure, x_lo: float, x_hi: float) -> None:
    # Right-aligned on the roof, above or below it, sliding left when the spot is taken.
    offsets = [(-4.0 - 30.0 * k, dy) for k in range(16) for dy in (3.0, -3.0)]
    # A datasheet roof beside the measured one that replaced it goes unlabelled: the measured
    # roof's label quotes its datasheet peak, and four labels in half a decade cannot all be read.
    used = set().union(*(r.names for r in figure.roofs if not r.reference))
    for roof in figure.roofs:
        if roof.reference and roof.names <= used:
            continue
        colour = REFERENCE_COLOUR if roof.reference else ROOF_COLOUR
        placer.place(roof.text, (x_hi, roof.flops_per_s), offsets, gid=f"roof-label-{_roof_key(roof)}",
                     leader=False, fontsize=8, color=colour)
    for slope in figure.slopes:
        if slope.reference:
            continue
        # Along the slope, at its on-screen angle (measured once the limits are fixed), where it is
        # clearest of the points.
        first_ridge = min(r.ridge_point for r in figure.roofs if r.bandwidth_bytes_per_s == slope.bytes_per_s)
        origin = " (measured)" if slope.origin == "measured" else ""
        text = f"DRAM {fmt_bytes_per_s(slope.bytes_per_s)}{origin}"
        span = math.log10(first_ridge / x_lo)
        best = None
        for step in range(1, 10):
            x = x_lo * 10 ** (span * step / 10.0)
            (x0, y0), (x1, y1) = ax.transData.transform([(x, x * slope.bytes_per_s), (x * 2, x * 2 * slope.bytes_per_s)])
            angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
            artist = ax.text(x, x * slope.bytes_per_s * 1.3, text, rotation=angle, rotation_mode="anchor", fontsize=8,
                             color=ROOF_COLOUR, gid=f"slope-label-{slope.origin}")
            cost = placer.cost(artist.get_window_extent(placer.renderer))
            artist.remove()
            if best is None or cost < best[0]:
                best = (cost, x, angle)
            if cost == 0:
                break
        assert best is not None
        _, x, angle = best
        artist = ax.text(x, x * slope.bytes_per_s * 1.3, text, rotation=angle, rotation_mode="anchor", fontsize=8,
                         color=ROOF_COLOUR, gid=f"slope-label-{slope.origin}")
        placer.labels.append(artist.get_window_extent(placer.renderer))


def _draw_points(ax: Any, placer: _Placer, points: list[KernelPoint], x_lo: float, x_hi: float) -> None:
    for index, point in enumerate(points):
        if not point.levels:
            continue
        xs = sorted([ai for _, ai in point.levels] + [point.ai])
        xs = [min(max(x, x_lo), x_hi) for x in xs]
        ax.plot(xs, [point.flops_per_s] * len(xs), color=BOUND_COLOURS[point.bound], linewidth=1.0, alpha=0.7,
                gid=f"hier-{index}", zorder=3)
        placer.block_line((xs[0], point.flops_per_s), (xs[-1], point.flops_per_s))
        for x in xs:
            placer.block(x, point.flops_per_s, 4.5)
    for level, marker in LEVEL_MARKERS.items():
        inside = [(ai, p) for p in points for lv, ai in p.levels if lv == level and x_lo <= ai <= x_hi]
        if inside:
            ax.scatter([x for x, _ in inside], [p.flops_per_s for _, p in inside], s=34, marker=marker,
                       facecolors="white", edgecolors=[BOUND_COLOURS[p.bound] for _, p in inside], linewidths=1.2,
                       gid=f"level-{level}", zorder=4)
    # An inner-level AI beyond the axis (a GEMM that barely touches L1) is pinned to the edge as an
    # arrowhead rather than stretching the chart over decades nobody needs.
    for side, edge, marker in (("right", x_hi, ">"), ("left", x_lo, "<")):
        beyond = [p for p in points for _, ai in p.levels if (ai > x_hi if side == "right" else ai < x_lo)]
        if beyond:
            ax.scatter([edge] * len(beyond), [p.flops_per_s for p in beyond], s=40, marker=marker,
                       color=[BOUND_COLOURS[p.bound] for p in beyond], gid=f"level-beyond-{side}", zorder=4,
                       clip_on=False)
    for bound in BOUNDS:
        for predicted in (False, True):
            chosen = [p for p in points if p.bound == bound and p.predicted == predicted]
            if not chosen:
                continue
            colour = BOUND_COLOURS[bound]
            ax.scatter([p.ai for p in chosen], [p.flops_per_s for p in chosen],
                       s=[marker_size(p.share) for p in chosen],
                       facecolors="none" if predicted else colour, edgecolors=colour if predicted else "white",
                       linewidths=1.6 if predicted else 0.8, alpha=0.9,
                       gid=f"points-{bound}" + ("-predicted" if predicted else ""), zorder=5)
    above = [p for p in points if p.above_roof]
    if above:
        ax.scatter([p.ai for p in above], [p.flops_per_s for p in above],
                   s=[marker_size(p.share) * 1.9 for p in above], facecolors="none",
                   edgecolors=ABOVE_ROOF_COLOUR, linewidths=1.4, gid="above-roof", zorder=6)
    for point in points:
        placer.block(point.ai, point.flops_per_s, math.sqrt(marker_size(point.share)) / 2)


def _label_points(placer: _Placer, points: list[KernelPoint]) -> None:
    for index, point in enumerate(points):
        if point.label is None:
            continue
        radius = math.sqrt(marker_size(point.share)) / 2
        placer.place(point.label, (point.ai, point.flops_per_s), _around(radius), gid=f"label-{index}", fontsize=8,
                     color="#111111",
                     bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _legend(fig: Any, figure: RooflineFigure) -> None:
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    present = {p.bound for p in figure.points}
    for bound in BOUNDS:
        if bound in present:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=9, markerfacecolor=BOUND_COLOURS[bound],
                                  markeredgecolor="white", label=BOUND_LABELS[bound]))
    for share in (0.5, 0.05):
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=math.sqrt(marker_size(share)),
                              markerfacecolor="#BBBBBB", markeredgecolor="white",
                              label=f"area ∝ share of time ({share:.0%})"))
    if any(p.predicted for p in figure.points):
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=9, markerfacecolor="none",
                              markeredgecolor="#555555", label="predicted (no measured time)"))
    if any(p.above_roof for p in figure.points):
        handles.append(Line2D([], [], marker="o", linestyle="none", markersize=11, markerfacecolor="none",
                              markeredgecolor=ABOVE_ROOF_COLOUR, label="above its roof: check the model"))
    if figure.hierarchical:
        for level, marker in LEVEL_MARKERS.items():
            handles.append(Line2D([], [], marker=marker, linestyle="none", markersize=6, markerfacecolor="white",
                                  markeredgecolor="#555555", label=f"same kernel at {level} bytes"))
        handles.append(Line2D([], [], color="#555555", linewidth=1.0, label="joins one kernel's L1 · L2 · DRAM AI"))
        handles.append(Line2D([], [], marker=">", linestyle="none", markersize=6, color="#555555",
                              label="inner-level AI beyond the axis"))
    measured = any(r.origin == "measured" for r in figure.roofs) or any(s.origin == "measured" for s in figure.slopes)
    if measured:
        handles.append(Line2D([], [], color=ROOF_COLOUR, linestyle="--", label="measured ceiling (used)"))
        handles.append(Line2D([], [], color=REFERENCE_COLOUR, linestyle="-", label="datasheet roof"))
    else:
        handles.append(Line2D([], [], color=ROOF_COLOUR, linestyle="-", label="datasheet roof (dense)"))
    handles.append(Line2D([], [], marker="D", linestyle="none", markersize=5, color=ROOF_COLOUR,
                          label="ridge point = peak ÷ bandwidth"))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.745, AXES_RECT[1] + AXES_RECT[3]),
                        frameon=False, title="How to read", alignment="left", labelspacing=0.9, borderaxespad=0)
    legend.set_gid("legend")


def _label_workload_lines(ax: Any, figure: CompareFigure, y_lo: float, y_hi: float) -> list[Any]:
    """Each kernel's name along its dashed AI line, reading upward, in the emptier of the two ends
    (under the slowest device or over the fastest): the line is its leader, so no label can be
    mistaken for another's. Lines too close to tell apart share one label."""
    kernels = sorted(figure.kernels, key=lambda k: k[1])
    groups: list[list[tuple[str, float]]] = []
    for kernel, ai in kernels:
        x = ax.transData.transform((ai, y_lo))[0]
        if groups and x - ax.transData.transform((groups[-1][-1][1], y_lo))[0] < 13:
            groups[-1].append((kernel, ai))
        else:
            groups.append([(kernel, ai)])
    style = {"rotation": 90, "ha": "center", "fontsize": 7.5, "color": "#111111", "zorder": 6,
             "bbox": {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}}
    renderer = ax.figure.canvas.get_renderer()
    texts, lengths = [], []
    for members in groups:
        texts.append(" · ".join(name for name, _ in members))
        probe = ax.text(1, 1, texts[-1], **style)
        lengths.append(probe.get_window_extent(renderer).height + 12)
        probe.remove()
    axis_px = ax.get_window_extent(renderer).height
    sides = []
    # A label longer than the room at either end of its line adds a decade at the roomier end.
    for _ in range(3):
        px_per_decade = axis_px / math.log10(y_hi / y_lo)
        sides, short = [], None
        for members, length in zip(groups, lengths):
            names = {name for name, _ in members}
            ys = [p.flops_per_s for p in figure.points if p.kernel in names]
            below, above = math.log10(min(ys) / y_lo), math.log10(y_hi / max(ys))
            at_top = above > below
            sides.append(at_top)
            if max(above, below) * px_per_decade < length and short is None:
                short = at_top
        if short is None:
            break
        if short:
            y_hi *= 10.0
        else:
            y_lo /= 10.0
        ax.set_ylim(y_lo, y_hi)
    labels = []
    for index, (members, text, at_top) in enumerate(zip(groups, texts, sides)):
        ai = math.exp(sum(math.log(a) for _, a in members) / len(members))
        labels.append(ax.text(ai, y_hi / 1.25 if at_top else y_lo * 1.25, text, va="top" if at_top else "bottom",
                              gid=f"label-{index}", **style))
    return labels


def render_compare(figure: CompareFigure, fmt: str) -> bytes:
    with mpl.styled():
        return mpl.save(draw_compare(figure), fmt)


def draw_compare(figure: CompareFigure) -> Any:
    """The matplotlib Figure (call inside ``mpl.styled()``, and save inside it too)."""
    fig = mpl.new_figure(*FIG_SIZE)
    ax = _setup_axes(fig, figure.title, figure.subtitle)
    ridges = [d.ridge_point for d in figure.devices]
    peaks = [d.flops_per_s for d in figure.devices]
    ais = [ai for _, ai in figure.kernels]
    x_lo = _decade_floor(min(ais + [min(ridges) / 300.0]) / 1.5)
    x_hi = _decade_ceil(max(ais + [max(ridges) * 20.0]) * 1.5)
    y_hi = _decade_ceil(max(peaks) * 1.6)
    y_lo = _decade_floor(min([p.flops_per_s for p in figure.points] + [min(peaks) / 1e3]) / 1.6)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    # First, as they may add a decade to the chart; then the device labels keep clear of them.
    workload_labels = _label_workload_lines(ax, figure, y_lo, y_hi)
    y_lo, y_hi = ax.get_ylim()
    placer = _Placer(ax)
    placer.labels += [label.get_window_extent(placer.renderer) for label in workload_labels]
    colours = {d.name: DEVICE_COLOURS[i % len(DEVICE_COLOURS)] for i, d in enumerate(figure.devices)}
    from matplotlib.lines import Line2D

    handles: list[Any] = []
    for device in figure.devices:
        colour = colours[device.name]
        bw = device.bandwidth_bytes_per_s
        ax.plot([x_lo, device.ridge_point, x_hi], [x_lo * bw, device.flops_per_s, device.flops_per_s],
                color=colour, linewidth=2.0, gid=f"device-{slug(device.name)}", zorder=3)
        ax.plot([device.ridge_point], [device.flops_per_s], marker="D", markersize=5, color=colour,
                linestyle="none", gid=f"ridge-{slug(device.name)}", zorder=4)
        ax.plot([device.ridge_point] * 2, [y_lo, device.flops_per_s], color=colour, linestyle=":",
                linewidth=0.8, zorder=1)
        placer.block_line((x_lo, x_lo * bw), (device.ridge_point, device.flops_per_s))
        placer.block_line((device.ridge_point, device.flops_per_s), (x_hi, device.flops_per_s))
        placer.place(f"{device.name} · ridge {fmt_intensity(device.ridge_point)}",
                     (x_hi, device.flops_per_s), [(-4, 3), (-4, -3), (-4, 12), (-4, -12)],
                     gid=f"device-label-{slug(device.name)}", leader=False, fontsize=8.5, color=colour)
        handles.append(Line2D([], [], color=colour, linewidth=2.0,
                              label=f"{device.display_name}\n{fmt_flops_per_s(device.flops_per_s)} · "
                                    f"{fmt_bytes_per_s(bw)} · ridge {fmt_intensity(device.ridge_point)}"))
    for index, (kernel, ai) in enumerate(figure.kernels):
        ax.axvline(ai, color="#BBBBBB", linestyle="--", linewidth=0.7, zorder=1, gid=f"workload-line-{index}")
    for device in figure.devices:
        for bound in BOUNDS:
            chosen = [p for p in figure.points if p.device == device.name and p.bound == bound]
            if chosen:
                ax.scatter([p.ai for p in chosen], [p.flops_per_s for p in chosen], s=70,
                           marker=BOUND_MARKERS[bound], color=colours[device.name], edgecolors="white",
                           linewidths=0.8, zorder=5, gid=f"compare-points-{slug(device.name)}-{bound}")
                for p in chosen:
                    placer.block(p.ai, p.flops_per_s, 5)
    present = {p.bound for p in figure.points}
    for bound in BOUNDS:
        if bound in present:
            handles.append(Line2D([], [], marker=BOUND_MARKERS[bound], linestyle="none", markersize=8,
                                  color="#555555", label=f"{BOUND_LABELS[bound]} there"))
    handles.append(Line2D([], [], marker="D", linestyle="none", markersize=5, color="#555555",
                          label="ridge point = peak ÷ bandwidth"))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.745, AXES_RECT[1] + AXES_RECT[3]),
                        frameon=False, title="Devices (dense datasheet peaks)", alignment="left",
                        labelspacing=0.9, borderaxespad=0)
    legend.set_gid("legend")
    notes = ["Each workload kernel sits at the same AI on every device, at what that device can attain there."]
    notes += figure.notes
    fig.text(AXES_RECT[0], 0.015, "\n".join(notes[:8]), fontsize=7.5, color="#555555", va="bottom", gid="notes")
    return fig
