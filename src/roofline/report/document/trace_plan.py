"""A measured trace's plan as report sections: the ordered steps with the step time after each,
and per step the evidence, the reason, the risks and how to verify it."""

from __future__ import annotations

from roofline.planner.trace_result import TracePlanResult
from roofline.report.document.model import Bullets, Cell, Paragraph, Section, Table
from roofline.report.text.trace_plan import baseline_label, components_text, evidence_text, split_text
from roofline.units import fmt_seconds


def trace_plan_sections(plan: TracePlanResult, *, number: int | None = None) -> list[Section]:
    prefix = f"trace-plan-{number}-" if number is not None else "trace-plan-"
    b = plan.baseline
    source = ", ".join(plan.inputs)
    blocks: list = [Paragraph(
        f"{baseline_label(b).capitalize()} {fmt_seconds(b.step_s)} ({plan.steps_profiled} profiled step(s) of "
        f"{source}): {components_text(b)}; the {b.critical} sets the pace ({split_text(b)})."
    )]
    if not plan.steps:
        blocks.append(Paragraph(f"Nothing to optimise that the trace shows: {plan.stop_reason}."))
    else:
        rows = [(Cell(""), Cell(baseline_label(b)), Cell(""), Cell(fmt_seconds(b.step_s)), Cell(""), Cell(b.critical))]
        rows += [(Cell(str(s.index)), Cell(s.technique), Cell(s.targets, tone=s.targets if s.targets in
                  ("compute", "memory", "launch", "latency", "communication") else None), Cell(fmt_seconds(s.after.step_s)),
                  Cell(f"{fmt_seconds(s.delta_s)} ({s.delta_pct * 100:+.1f}%)"), Cell(s.after.critical))
                 for s in plan.steps]
        blocks.append(Table(("#", "change", "attacks", "step after", "Δ step", "critical path"), tuple(rows),
                            ("r", "l", "l", "r", "r", "l"),
                            caption="Each row: the modelled step time after that change, all changes before it applied."))
        blocks.append(Bullets(tuple(
            f"Step {s.index}, {s.technique}: {s.rationale}. Evidence: {evidence_text(s)}. Risks: "
            f"{'; '.join(s.risks)}. Verify: {s.verify}." for s in plan.steps)))
    for note in plan.notes:
        blocks.append(Paragraph(f"Note: {note}", muted=True))
    title = "Plan from the trace: what to change first" if number is None else f"Plan from trace {number}: {source}"
    return [Section(f"{prefix}steps", title, tuple(blocks), 2)]
