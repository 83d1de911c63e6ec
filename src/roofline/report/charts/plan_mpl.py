"""Draw a serving plan's charts (``roofline.report.charts.plan``): stacked per-phase bars after
each step, and the batch sweep's latency/throughput frontier. Element ids: ``bars-<phase>-<term>-<row>``,
``throughput-<row>``, ``slo-<name>``, ``curve-<n>``, ``frontier-points-<n>-<bound>``, ``chosen-<n>``,
``legend``, ``notes``.
"""

from __future__ import annotations

from typing import Any

from roofline.report.charts import mpl
from roofline.report.charts.roofline import BOUND_COLOURS, BOUND_LABELS
from roofline.report.charts.plan import (
    TERM_COLOURS,
    TERM_LABELS,
    TERMS,
    FrontierFigure,
    PlanStepsFigure,
)
from roofline.units import fmt_seconds

SLO_COLOUR = "#C00000"
CURVE_COLOURS = ("#555555", "#009E73")
_FRONTIER_BOUND_COLOURS = {**BOUND_COLOURS, "communication": TERM_COLOURS["communication"]}


def _time_unit(seconds: float) -> tuple[float, str]:
    if seconds >= 2.0:
        return 1.0, "s"
    if seconds >= 2e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def _slo_in_view(slo: float | None, largest: float, factor: float = 4.0) -> bool:
    """An SLO far beyond the data would squash the bars into a sliver: say it in words instead."""
    return slo is not None and slo <= largest * factor


def render_plan_steps(figure: PlanStepsFigure, fmt: str) -> bytes:
    with mpl.styled():
        return mpl.save(draw_plan_steps(figure), fmt)


def draw_plan_steps(figure: PlanStepsFigure) -> Any:
    rows = len(figure.bars)
    height = 2.3 + 0.42 * rows + 0.16 * len(figure.notes)
    fig = mpl.new_figure(12.0, height)
    top = 1.0 - 1.0 / height
    bottom = (0.95 + 0.16 * len(figure.notes)) / height
    panels = (
        ("prefill", "prefill per GPU ≈ TTFT", "ttft", 0.30, 0.25),
        ("decode", "decode step per GPU ≈ ITL", "itl", 0.575, 0.25),
    )
    ys = list(range(rows))
    for index, (phase, heading, slo_name, left, width) in enumerate(panels):
        ax = fig.add_axes((left, bottom, width, top - bottom))
        totals = [sum(getattr(bar, f"{phase}_s").values()) for bar in figure.bars]
        slo = figure.slo.get(slo_name)
        largest = max(totals + ([slo] if _slo_in_view(slo, max(totals)) else []))  # type: ignore[list-item]
        scale, unit = _time_unit(largest)
        lefts = [0.0] * rows
        for term in TERMS:
            widths = [getattr(bar, f"{phase}_s")[term] * scale for bar in figure.bars]
            if not any(widths):
                continue
            bars = ax.barh(ys, widths, left=lefts, height=0.62, color=TERM_COLOURS[term], edgecolor="white",
                           linewidth=0.6)
            for row, patch in enumerate(bars):
                patch.set_gid(f"bars-{phase}-{term}-{row}")  # ids stay unique inside an HTML page
            lefts = [a + b for a, b in zip(lefts, widths)]
        for y, bar, total in zip(ys, figure.bars, totals):
            mark = bar.slo_met.get(slo_name)
            metric = bar.ttft_s if phase == "prefill" else bar.itl_s
            text = fmt_seconds(metric) + ("" if mark is None else " ✓" if mark else " ✗")
            ax.annotate(text, (total * scale, y), xytext=(3, 0), textcoords="offset points", va="center",
                        ha="left", fontsize=8, color="#111111" if mark is not False else SLO_COLOUR,
                        gid=f"total-{phase}-{y}")
        ax.set_xlim(0, largest * scale * 1.42)
        slo_text = _slo_line(ax, slo, scale, max(totals), slo_name.upper())
        _bar_axes(ax, ys, figure.bars if index == 0 else None)
        ax.set_title(heading, fontsize=9.5, loc="left")
        ax.set_xlabel(f"time ({unit}){slo_text}")
    ax = fig.add_axes((0.85, bottom, 0.13, top - bottom))
    values = [bar.throughput_tok_s for bar in figure.bars]
    for row, patch in enumerate(ax.barh(ys, values, height=0.62, color="#8C8C8C", edgecolor="white")):
        patch.set_gid(f"throughput-{row}")
    slo = figure.slo.get("throughput")
    largest = max(values + ([slo] if _slo_in_view(slo, max(values)) else []))  # type: ignore[list-item]
    for y, bar in zip(ys, figure.bars):
        mark = bar.slo_met.get("throughput")
        text = f"{bar.throughput_tok_s:,.0f}" + ("" if mark is None else " ✓" if mark else " ✗")
        ax.annotate(text, (bar.throughput_tok_s, y), xytext=(3, 0), textcoords="offset points", va="center",
                    ha="left", fontsize=8, color="#111111" if mark is not False else SLO_COLOUR,
                    gid=f"total-throughput-{y}")
    ax.set_xlim(0, largest * 1.6)
    slo_text = _slo_line(ax, slo, 1.0, max(values), "throughput")
    _bar_axes(ax, ys, None)
    ax.set_title("throughput, all GPUs", fontsize=9.5, loc="left")
    ax.set_xlabel("tok/s" + slo_text.replace(" tok/s", "").replace(" (off the scale →)", " →"))
    fig.text(0.02, 1.0 - 0.36 / height, figure.title, fontsize=13, fontweight="bold", gid="title")
    fig.text(0.02, 1.0 - 0.62 / height, figure.subtitle, fontsize=9, color="#444444", gid="subtitle")
    _terms_legend(fig, figure, bottom)
    if figure.notes:
        fig.text(0.02, 0.1 / height, "\n".join(figure.notes), fontsize=7.5, color="#555555", va="bottom",
                 gid="notes")
    return fig


def _bar_axes(ax: Any, ys: list[int], bars: Any) -> None:
    ax.set_ylim(len(ys) - 0.5, -0.5)
    if bars is not None:
        ax.set_yticks(ys, [bar.label + (f"  (batch {bar.batch})" if i == 0 or bar.batch != bars[i - 1].batch else "")
                           for i, bar in enumerate(bars)], fontsize=8.5)
    else:
        ax.set_yticks(ys, [""] * len(ys))
        ax.tick_params(axis="y", length=0)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.grid(True, axis="x", color="#E4E4E4", linewidth=0.7)
    ax.set_axisbelow(True)


def _slo_line(ax: Any, slo: float | None, scale: float, largest: float, name: str) -> str:
    """Draws the SLO as a dashed line when it fits the scale; returns what the x label should add."""
    if slo is None:
        return ""
    value = fmt_seconds(slo) if name != "throughput" else f"{slo:,.0f} tok/s"
    if _slo_in_view(slo, largest):
        ax.axvline(slo * scale, color=SLO_COLOUR, linestyle="--", linewidth=1.1, gid=f"slo-{name.lower()}")
        return ""
    return f" · SLO {value} (off the scale →)"


def _terms_legend(fig: Any, figure: PlanStepsFigure, bottom: float) -> None:
    from matplotlib.patches import Patch

    from matplotlib.lines import Line2D

    present = [t for t in TERMS if any(bar.prefill_s[t] or bar.decode_s[t] for bar in figure.bars)]
    handles: list[Any] = [Patch(facecolor=TERM_COLOURS[t], edgecolor="none", label=TERM_LABELS[t]) for t in present]
    if figure.slo:
        handles.append(Line2D([], [], color=SLO_COLOUR, linestyle="--", linewidth=1.1, label="SLO"))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.02, bottom - 0.42 / fig.get_figheight()),
                        ncol=len(handles), frameon=False, fontsize=8, handlelength=1.4, columnspacing=1.6)
    legend.set_gid("legend")


# --- frontier ------------------------------------------------------------------------------------


def render_frontier(figure: FrontierFigure, fmt: str) -> bytes:
    with mpl.styled():
        return mpl.save(draw_frontier(figure), fmt)


def draw_frontier(figure: FrontierFigure) -> Any:
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    notes = figure.notes[:8]
    height = 6.4 + 0.15 * len(notes)
    fig = mpl.new_figure(12.0, height)
    bottom = (0.75 + 0.15 * len(notes)) / height
    top = 1.0 - 1.0 / height
    ax = fig.add_axes((0.08, bottom, 0.64, top - bottom))
    points = [p for c in figure.curves for p in c.points] + [c.chosen for c in figure.curves if c.chosen]
    itls = [p.itl_s for p in points]
    throughputs = [p.throughput_tok_s for p in points]
    slo_itl, slo_tp = figure.slo.get("itl"), figure.slo.get("throughput")
    x_hi = max(itls) * 1.15
    if _slo_in_view(slo_itl, max(itls)):
        x_hi = max(x_hi, slo_itl * 1.08)  # type: ignore[operator]
    scale, unit = _time_unit(x_hi)
    log_y = max(throughputs) / min(throughputs) > 20
    y_lo, y_hi = min(throughputs), max(throughputs)
    if slo_tp is not None and slo_tp <= y_hi * 4:
        y_lo, y_hi = min(y_lo, slo_tp), max(y_hi, slo_tp)
    if log_y:
        ax.set_yscale("log")
        ax.set_ylim(y_lo / 1.8, y_hi * 1.8)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    else:
        ax.set_ylim(0, y_hi * 1.15)
    ax.set_xlim(0, x_hi * scale)
    handles: list[Any] = []
    for n, curve in enumerate(figure.curves):
        colour = CURVE_COLOURS[n % len(CURVE_COLOURS)]
        xs = [p.itl_s * scale for p in curve.points]
        ys = [p.throughput_tok_s for p in curve.points]
        ax.plot(xs, ys, color=colour, linewidth=1.6, zorder=2, gid=f"curve-{n}",
                linestyle="-" if n == 0 else "--")
        handles.append(Line2D([], [], color=colour, linewidth=1.6, linestyle="-" if n == 0 else "--",
                              label=f"{curve.label}: sweep over batch"))
        for bound in _FRONTIER_BOUND_COLOURS:
            chosen = [p for p in curve.points if p.decode_bound == bound]
            if chosen:
                ax.scatter([p.itl_s * scale for p in chosen], [p.throughput_tok_s for p in chosen], s=46,
                           color=_FRONTIER_BOUND_COLOURS[bound], edgecolors="white", linewidths=0.8, zorder=4,
                           gid=f"frontier-points-{n}-{bound}")
        for p in curve.points:
            ax.annotate(f"b={p.batch}", (p.itl_s * scale, p.throughput_tok_s), xytext=(6, -2 if n == 0 else 6),
                        textcoords="offset points", fontsize=7.5, color=colour, va="top" if n == 0 else "bottom")
        if curve.chosen is not None:
            c = curve.chosen
            ax.scatter([c.itl_s * scale], [c.throughput_tok_s], s=190, marker="*" if n else "o",
                       facecolors="none" if n == 0 else colour, edgecolors=colour, linewidths=1.6, zorder=5,
                       gid=f"chosen-{n}")
            what = "the config as given" if n == 0 else "the plan's final config"
            handles.append(Line2D([], [], marker="*" if n else "o", linestyle="none", markersize=11,
                                  markerfacecolor="none" if n == 0 else colour, markeredgecolor=colour,
                                  label=f"{what}: batch {c.batch}\n{fmt_seconds(c.itl_s)} ITL, "
                                        f"{c.throughput_tok_s:,.0f} tok/s"))
    present = {p.decode_bound for c in figure.curves for p in c.points}
    for bound, colour in _FRONTIER_BOUND_COLOURS.items():
        if bound in present:
            handles.append(Line2D([], [], marker="o", linestyle="none", markersize=7, markerfacecolor=colour,
                                  markeredgecolor="white", label=f"decode {BOUND_LABELS.get(bound, bound + '-bound')}"))
    _frontier_slos(ax, figure, slo_itl, slo_tp, scale, x_hi, handles)
    ax.set_xlabel(f"inter-token latency, ITL ({unit}) — lower is better")
    ax.set_ylabel("throughput (tokens/s, all GPUs) — higher is better")
    ax.grid(True, color="#E4E4E4", linewidth=0.7)
    ax.set_axisbelow(True)
    fig.text(0.08, 1.0 - 0.36 / height, figure.title, fontsize=13, fontweight="bold", gid="title")
    fig.text(0.08, 1.0 - 0.62 / height, figure.subtitle, fontsize=9, color="#444444", gid="subtitle")
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.745, top), frameon=False,
                        title="How to read", alignment="left", labelspacing=0.9, fontsize=8.5)
    legend.set_gid("legend")
    if notes:
        fig.text(0.08, 0.1 / height, "\n".join(notes), fontsize=7.5, color="#555555", va="bottom", gid="notes")
    return fig


def _frontier_slos(ax: Any, figure: FrontierFigure, slo_itl: float | None, slo_tp: float | None, scale: float,
                   x_hi: float, handles: list[Any]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    y_lo, y_hi = ax.get_ylim()
    drawn = False
    if slo_itl is not None and slo_itl <= x_hi:
        ax.axvline(slo_itl * scale, color=SLO_COLOUR, linestyle="--", linewidth=1.1, gid="slo-itl")
        drawn = True
    if slo_tp is not None and y_lo <= slo_tp <= y_hi:
        ax.axhline(slo_tp, color=SLO_COLOUR, linestyle="--", linewidth=1.1, gid="slo-throughput")
        drawn = True
    if drawn:
        handles.append(Line2D([], [], color=SLO_COLOUR, linestyle="--", label="SLO (ITL, throughput)"))
    if slo_itl is not None or slo_tp is not None:
        right = min(slo_itl, x_hi) * scale if slo_itl is not None else x_hi * scale
        low = max(slo_tp, y_lo) if slo_tp is not None else y_lo
        if low < y_hi and right > 0:
            ax.fill_between([0, right], [low, low], [y_hi, y_hi], color="#009E73", alpha=0.07, zorder=0,
                            gid="slo-region", linewidth=0)
            handles.append(Patch(facecolor="#009E73", alpha=0.15, edgecolor="none", label="meets the SLOs"))
    missing = []
    if slo_itl is not None and slo_itl > x_hi:
        missing.append(f"ITL SLO {fmt_seconds(slo_itl)} is off the right edge")
    if slo_tp is not None and not (y_lo <= slo_tp <= y_hi):
        missing.append(f"throughput SLO {slo_tp:,.0f} tok/s is off the chart")
    if missing:
        ax.text(0.99, 0.02, "; ".join(missing), transform=ax.transAxes, ha="right", va="bottom", fontsize=7.5,
                color=SLO_COLOUR)
