"""Report sections for a serving plan: the verdict, memory, phases, the ordered steps with their
before/after numbers and rationale, and the plan's charts (steps, batch sweep, roofline of the ops).
Built from the plan result and its plot-ready figures; ``build_report(..., extra_sections=...)``
places them after the classified inputs.
"""

from __future__ import annotations

from collections.abc import Callable

from roofline.planner.result import Metrics, PlanResult
from roofline.report.document.model import Bullets, Cell, Chart, Paragraph, Section, Table, Verdict
from roofline.report.charts.roofline import RooflineFigure
from roofline.report.charts.plan import TERMS, FrontierFigure, PlanStepsFigure
from roofline.units import fmt_bytes, fmt_percent, fmt_seconds


def _drawer(render: str, figure: object) -> Callable[[str], bytes]:
    def draw(fmt: str) -> bytes:
        from roofline.report.charts import plan_mpl, roofline_mpl

        if render == "roofline":
            return roofline_mpl.render_roofline(figure, fmt)  # type: ignore[arg-type]
        if render == "steps":
            return plan_mpl.render_plan_steps(figure, fmt)  # type: ignore[arg-type]
        return plan_mpl.render_frontier(figure, fmt)  # type: ignore[arg-type]

    return draw


def _split(breakdown: dict[str, float]) -> str:
    total = sum(breakdown.values()) or 1.0
    return ", ".join(f"{t} {fmt_percent(breakdown.get(t, 0.0) / total)}" for t in TERMS if breakdown.get(t, 0.0) > 0)


def _slo_mark(m: Metrics, name: str) -> str:
    ratio = m.slo_ratios.get(name)
    return "" if ratio is None else " ✓" if ratio <= 1 else " ✗"


def _metric_cells(m: Metrics) -> tuple[Cell, ...]:
    return (
        Cell(fmt_seconds(m.ttft_s) + _slo_mark(m, "ttft")),
        Cell(fmt_seconds(m.itl_s) + _slo_mark(m, "itl")),
        Cell(f"{m.throughput_tok_s:,.0f} tok/s" + _slo_mark(m, "throughput")),
        Cell(str(m.batch)),
        Cell(str(m.max_batch)),
        Cell(m.decode_bound, tone=m.decode_bound if m.decode_bound != "communication" else None),
    )


def _verdict(result: PlanResult) -> Verdict:
    b, f = result.baseline, result.final
    headline = (f"decode {b.decode_bound}-bound at batch {b.batch}: ITL {fmt_seconds(b.itl_s)}, "
                f"{b.throughput_tok_s:,.0f} tok/s")
    if result.steps:
        headline += (f" → after {len(result.steps)} step(s): ITL {fmt_seconds(f.itl_s)}, "
                     f"{f.throughput_tok_s:,.0f} tok/s at batch {f.batch}")
    detail = (f"unmet SLOs: {', '.join(result.unmet_slos)} ({result.stop_reason})" if result.unmet_slos
              else result.stop_reason)
    return Verdict(b.decode_bound if b.decode_bound != "communication" else "unknown", headline, detail)


def plan_sections(
    result: PlanResult,
    *,
    steps: PlanStepsFigure,
    roofline: RooflineFigure | None,
    frontier: FrontierFigure | None,
    number: int | None = None,
) -> list[Section]:
    prefix = f"plan-{number}-" if number is not None else "plan-"
    mem = result.memory
    source = result.config_file or "serving config"
    summary = (
        _verdict(result),
        Paragraph(
            f"Memory per GPU: weights {fmt_bytes(mem.weight_bytes)} ({mem.weight_bits:g} bits), KV cache "
            f"{fmt_bytes(mem.kv_bytes_per_request)} per {mem.context_tokens}-token request, workspace "
            f"{fmt_bytes(mem.workspace_bytes)}, reserve {fmt_bytes(mem.reserve_bytes)} of "
            f"{fmt_bytes(mem.capacity_bytes)} → at most {mem.max_batch} concurrent requests."
        ),
        Table(
            ("phase (per GPU)", "time", "ideal roofline", "bound", "split", "MFU", "MBU"),
            tuple(
                (Cell(p.phase), Cell(fmt_seconds(p.time_s)), Cell(fmt_seconds(p.ideal_s)),
                 Cell(p.bound, tone=p.bound if p.bound != "communication" else None), Cell(_split(p.breakdown)),
                 Cell(fmt_percent(p.mfu)), Cell(fmt_percent(p.mbu)))
                for p in (result.prefill, result.decode)
            ),
            ("l", "r", "r", "l", "l", "r", "r"),
        ),
        Paragraph(f"Input: {source} ({result.model} on {result.gpus}× {result.hardware}); ceilings: "
                  f"{result.ceilings}; efficiency: {result.efficiency}.", muted=True),
    )
    rows = [(Cell(""), Cell("baseline"), Cell("")) + _metric_cells(result.baseline)]
    rows += [(Cell(str(s.index)), Cell(s.technique), Cell(s.targets)) + _metric_cells(s.after) for s in result.steps]
    plan_blocks: list = [
        Table(("#", "change", "attacks", "TTFT", "ITL", "throughput", "batch", "max batch", "decode bound"),
              tuple(rows), ("r", "l", "l", "r", "r", "r", "r", "r", "l"),
              caption="Each row: the predicted figures after that step, all steps before it applied."),
    ]
    if result.steps:
        plan_blocks.append(Bullets(tuple(
            f"Step {s.index}, {s.technique}: {s.rationale}. Risks: {'; '.join(s.risks) or 'none listed'}. "
            f"Verify: {s.verify}." for s in result.steps
        )))
    plan_blocks.append(Chart(f"{prefix}steps", f"Per-phase time of {source} before and after each plan step, split "
                             "into compute, memory, launch and communication", _drawer("steps", steps)))
    for note in result.notes:
        plan_blocks.append(Paragraph(f"Note: {note}", muted=True))
    sections = [
        Section(f"{prefix}summary", f"Serving plan: {result.model} on {result.gpus}× {result.hardware}", summary),
        Section(f"{prefix}steps", "Plan steps", tuple(plan_blocks), 3),
    ]
    if frontier is not None:
        sections.append(Section(f"{prefix}frontier", "Batch sweep", (
            Chart(f"{prefix}frontier", f"Latency/throughput frontier of {source} over batch sizes",
                  _drawer("frontier", frontier)),
            Paragraph("Each point is one batch size: ITL and throughput predicted by the same model as the plan; "
                      "the shaded region meets the SLOs.", muted=True),
        ), 3))
    if roofline is not None:
        sections.append(Section(f"{prefix}roofline", "Predicted ops on the roofline", (
            Chart(f"{prefix}roofline", f"Roofline of the predicted prefill and decode ops of {source}",
                  _drawer("roofline", roofline)),
        ), 3))
    return sections
