"""Report sections for classification results: verdict and figures, findings, the roofline chart,
the timeline chart (traces), the kernel table and warnings. Other results (an LLM serving plan)
add their own sections through ``build_report(..., extra_sections=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roofline.version import __version__
from roofline.analysis.result import ClassifyResult
from roofline.report.text.summary import caveat_text
from roofline.errors import InputError
from roofline.report.document.model import Bullets, Cell, Chart, Paragraph, Report, Section, Table, Verdict
from roofline.report.charts.roofline import DEFAULT_LABELS, roofline_figure, source_name
from roofline.report.charts.timeline import TimelineFigure
from roofline.units import (
    fmt_bytes_per_s,
    fmt_flops_per_s,
    fmt_intensity,
    fmt_percent,
    fmt_seconds,
    short_kernel_name,
)

DEFAULT_TOP = 25
_VERDICT_WORDS = {
    "compute": "compute-bound",
    "memory": "memory-bound",
    "launch": "launch-bound",
    "latency": "latency-bound (kernels too small for the GPU, not their launch)",
    "communication": "communication-bound (exposed collectives)",
    "unknown": "bound unknown",
    "idle": "idle-bound (the GPU mostly waits on something other than launches)",
    "host-stall": "host-stalled (before each step the host launches nothing: input pipeline, Python)",
}


@dataclass(frozen=True)
class ReportItem:
    """One analysed input: its result and, for traces, its timeline figure."""

    result: ClassifyResult
    timeline: TimelineFigure | None = None


def _draw_roofline(figure):  # type: ignore[no-untyped-def]
    def draw(fmt: str) -> bytes:
        from roofline.report.charts.roofline_mpl import render_roofline

        return render_roofline(figure, fmt)

    return draw


def _draw_timeline(figure: TimelineFigure):  # type: ignore[no-untyped-def]
    def draw(fmt: str) -> bytes:
        from roofline.report.charts.timeline_mpl import render_timeline

        return render_timeline(figure, fmt)

    return draw


def summary_blocks(result: ClassifyResult) -> tuple:
    s = result.summary
    hw = result.hardware
    headline = f"{_VERDICT_WORDS.get(s.verdict, s.verdict)}"
    detail = f"{fmt_percent(s.verdict_share)} of the {fmt_seconds(s.span_s)} span{caveat_text(s)}"
    tb = s.time_by_bound
    rows = [
        ("span analysed", fmt_seconds(s.span_s)),
        ("GPU busy", f"{fmt_seconds(s.gpu_busy_s)} ({fmt_percent(s.gpu_busy_s / s.span_s) if s.span_s else '—'})"),
    ]
    if s.idle_s > 0 or result.source_format in ("kineto", "nsys"):
        rows += [
            ("idle · waiting for launches", fmt_seconds(s.launch_wait_s)),
            ("idle · host stall (nothing launched)", fmt_seconds(s.host_stall_s)),
            ("idle · lead-in (queued, not yet running)", fmt_seconds(s.lead_in_s)),
            ("idle · inside CUDA-graph replays", fmt_seconds(s.graph_gap_s)),
            ("idle · other", fmt_seconds(s.other_idle_s)),
        ]
        if s.profiler_wait_s:
            rows.append(("of the launch wait, the profiler's own overhead", fmt_seconds(s.profiler_wait_s)))
    rows += [
        ("in compute-bound kernels", fmt_seconds(tb.compute)),
        ("in memory-bound kernels", fmt_seconds(tb.memory)),
        ("in launch-bound kernels", fmt_seconds(tb.launch)),
        *([("in latency-bound kernels", fmt_seconds(tb.latency))] if tb.latency > 0 else []),
        *([("in collectives", fmt_seconds(tb.communication)),
           ("exposed communication", fmt_seconds(s.exposed_communication_s))] if tb.communication > 0 else []),
        ("bound unknown", fmt_seconds(tb.unknown)),
    ]
    if s.utilisation is not None:
        u = s.utilisation
        rows += [("MFU" + (f" ({u.peak_label})" if u.peak_label and u.mfu is not None else ""), fmt_percent(u.mfu)),
                 ("MBU", fmt_percent(u.mbu)), ("kernel time with FLOPs known", fmt_percent(u.flops_coverage))]
    device = f"{hw.display_name} ({hw.name}), {hw.ceilings} ceilings" + (
        f" from {hw.ceilings_file}" if hw.ceilings_file else ""
    )
    device += (
        f"; DRAM {fmt_bytes_per_s(hw.memory_bandwidth_bytes_per_s)}; launch floor "
        f"{fmt_seconds(hw.launch_floor_eager_s)} eager / {fmt_seconds(hw.launch_floor_graph_s)} CUDA graph"
    )
    source = f"{', '.join(result.inputs)} ({result.source_format})" + (f": {result.title}" if result.title else "")
    return (
        Verdict(s.verdict, headline, detail),
        Table(("figure", "value"), tuple((Cell(k), Cell(v)) for k, v in rows), ("l", "r")),
        Paragraph(f"Device: {device}.", muted=True),
        Paragraph(f"Input: {source}.", muted=True),
    )


def kernel_table(result: ClassifyResult, top: int) -> tuple:
    busy = result.summary.gpu_busy_s or result.summary.span_s
    rows = []
    for v in result.kernels[:top]:
        time = fmt_seconds(v.total_s) + ("" if v.time_basis == "measured" else " (predicted)")
        rows.append((
            Cell(short_kernel_name(v.name, 60), hint=v.name),
            Cell(v.op or "—"),
            Cell(str(v.count)),
            Cell(time),
            Cell(fmt_percent(v.total_s / busy) if busy > 0 else "—"),
            Cell(v.bound.value, tone=v.bound.value),
            Cell(fmt_intensity(v.ai)),
            Cell(fmt_flops_per_s(v.achieved_flops_per_s)),
            Cell(fmt_bytes_per_s(v.achieved_bytes_per_s)),
            Cell(fmt_percent(v.pct_of_roof)),
            Cell((v.roof or "—") + (" (measured)" if v.roof_origin == "measured" else "")),
            Cell(v.source),
        ))
    blocks: list = [
        Table(
            ("kernel", "op", "calls", "time", "share", "bound", "AI (FLOP/B)", "FLOP/s", "B/s", "% of roof", "roof",
             "source"),
            tuple(rows),
            ("l", "l", "r", "r", "r", "l", "r", "r", "r", "r", "l", "l"),
        )
    ]
    if len(result.kernels) > top:
        blocks.append(Paragraph(f"{len(result.kernels) - top} more kernel group(s) not shown (--top).", muted=True))
    return tuple(blocks)


def classify_sections(
    item: ReportItem, *, number: int | None = None, top: int = DEFAULT_TOP, labels: int = DEFAULT_LABELS
) -> list[Section]:
    """Sections for one input; ``number`` (several inputs) prefixes ids and nests headings."""
    result = item.result
    prefix = f"input-{number}-" if number is not None else ""
    level = 3 if number is not None else 2
    sections: list[Section] = []
    if number is not None:
        sections.append(Section(f"{prefix}head", f"{number}. {source_name(result)} on {result.hardware.display_name}"))
    sections.append(Section(f"{prefix}summary", "Summary", summary_blocks(result), level))
    if result.summary.findings:
        sections.append(Section(f"{prefix}findings", "Findings", (Bullets(tuple(result.summary.findings)),), level))
    try:
        figure = roofline_figure(result, labels=labels)
        roofline_block: object = Chart(
            f"{prefix}roofline",
            f"Roofline of {source_name(result)} on {result.hardware.display_name}: "
            f"{len(figure.points)} kernel group(s) placed by arithmetic intensity and achieved FLOP/s",
            _draw_roofline(figure),
        )
    except InputError as exc:
        roofline_block = Paragraph(f"No roofline chart: {exc.message}.", muted=True)
    sections.append(Section(f"{prefix}roofline", "Roofline", (roofline_block,), level))  # type: ignore[arg-type]
    if item.timeline is not None:
        sections.append(Section(
            f"{prefix}timeline",
            "GPU timeline",
            (
                Chart(f"{prefix}timeline", f"GPU timeline of {source_name(result)}: busy, launch wait and other "
                      "idle per device and stream", _draw_timeline(item.timeline)),
                Paragraph("Busy time is coloured by the bound of the kernels running; idle time is split into "
                          "waiting for the host to launch work and other idle.", muted=True),
            ),
            level,
        ))
    sections.append(Section(f"{prefix}kernels", "Kernels", kernel_table(result, top), level))
    if result.warnings:
        sections.append(Section(f"{prefix}warnings", "Warnings", (Bullets(tuple(result.warnings)),), level))
    return sections


def build_report(
    items: Sequence[ReportItem],
    *,
    extra_sections: Sequence[Section] = (),
    title: str | None = None,
    top: int = DEFAULT_TOP,
    labels: int = DEFAULT_LABELS,
) -> Report:
    """The report for one or more analysed inputs, followed by ``extra_sections`` (e.g. a plan)."""
    sections: list[Section] = []
    several = len(items) > 1
    for number, item in enumerate(items, start=1):
        sections += classify_sections(item, number=number if several else None, top=top, labels=labels)
    ids = [s.id for s in sections]
    for extra in extra_sections:
        if extra.id in ids:
            raise ValueError(f"duplicate report section id '{extra.id}'")
        ids.append(extra.id)
        sections.append(extra)
    names = ", ".join(source_name(item.result) for item in items) or "no inputs"
    devices = ", ".join(dict.fromkeys(item.result.hardware.display_name for item in items))
    return Report(
        title=title or f"roofline report: {names}",
        subtitle=f"{devices} · generated by roofline {__version__}" if devices else f"roofline {__version__}",
        sections=tuple(sections),
    )

