"""Plans of measured traces (and their verification) as rich tables and Markdown."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from roofline.planner.trace_result import TraceMetrics, TracePlanResult, TraceStep
from roofline.planner.verify import Verification
from roofline.report.text.fit import Column, FitTable
from roofline.report.text.markdown import md_escape
from roofline.units import fmt_percent, fmt_seconds, short_kernel_name

PARTS = ("compute", "memory", "launch", "latency", "communication", "unknown", "launch wait", "host stall", "lead-in",
         "graph gaps", "other idle")


def baseline_label(m: TraceMetrics) -> str:
    """'measured step', or, with the profiler's overhead taken out, what the step is instead."""
    return "unprofiled step (estimate)" if m.profiler_s > 0 else "measured step"


def components_text(m: TraceMetrics) -> str:
    """GPU busy, host issue and each idle term of a step, the zero idle terms left out."""
    parts = [f"GPU busy {fmt_seconds(m.gpu_busy_s)}", f"host issue {fmt_seconds(m.host_s)}"]
    for label, value in (("lead-in", m.lead_in_s), ("host stall", m.host_stall_s), ("launch wait", m.launch_wait_s),
                         ("graph gaps", m.graph_gap_s), ("other idle", m.other_idle_s)):
        if value > 0 or label == "launch wait":
            parts.append(f"{label} {fmt_seconds(value)}")
    return ", ".join(parts)


def split_text(m: TraceMetrics) -> str:
    total = sum(m.by_bound_s.values()) or 1.0
    parts = [(k, v) for k, v in m.by_bound_s.items() if v > 0]
    parts.sort(key=lambda kv: PARTS.index(kv[0]) if kv[0] in PARTS else len(PARTS))
    return ", ".join(f"{k} {fmt_percent(v / total)}" for k, v in parts)


def _delta(step: TraceStep) -> str:
    return f"{fmt_seconds(step.delta_s)} ({step.delta_pct * 100:+.1f}%)"


def evidence_text(step: TraceStep, limit: int = 3) -> str:
    if not step.evidence:
        return "the timeline (idle/host time), no kernel group"
    rows = []
    for e in step.evidence[:limit]:
        after = "removed" if e.time_after_per_step_s is None else fmt_seconds(e.time_after_per_step_s)
        label = short_kernel_name(e.name, 48) + (f" ({e.op})" if e.op else "")
        rows.append(f"{label}: {e.calls_per_step:.0f}×/step, {fmt_seconds(e.time_per_step_s)} → {after}, {e.bound}")
    more = step.evidence_groups - min(limit, len(step.evidence))
    return "; ".join(rows) + (f"; and {more} more group{'s' if more != 1 else ''}" if more > 0 else "")


TRACE_STEP_COLUMNS = (
    Column("#"),
    Column("change", "left", prose=True, min_width=14),
    Column("attacks", "left", keep=3),
    Column("step\nafter"),
    Column("Δ step", keep=1),
    Column("critical", "left", keep=2),
)


def trace_plan_renderable(result: TracePlanResult) -> Group:
    head = Text()
    head.append("roofline plan", style="bold")
    head.append(f" · {', '.join(result.inputs)} · {result.hardware} · ceilings: {result.ceilings} · "
                f"{result.steps_profiled} profiled step(s)\n")
    b = result.baseline
    head.append(f"{baseline_label(b)} {fmt_seconds(b.step_s)}: {components_text(b)} · "
                f"{b.kernels_per_step:.0f} kernels/step · critical path: {b.critical}\n")
    head.append(f"split: {split_text(b)}")
    rows = [["", baseline_label(b), "", fmt_seconds(b.step_s), "", b.critical]]
    rows += [[str(step.index), step.technique, step.targets, fmt_seconds(step.after.step_s), _delta(step),
              step.after.critical] for step in result.steps]
    table = FitTable(TRACE_STEP_COLUMNS, rows, header_style="bold",
                     title="plan (each step re-evaluated on the timeline the steps before it left)")
    details = Text()
    for step in result.steps:
        details.append(f"{step.index}. {step.technique}\n", style="bold")
        details.append(f"   why: {step.rationale}\n   evidence: {evidence_text(step)}\n")
        details.append(f"   risks: {'; '.join(step.risks)} (effort {step.effort})\n   verify: {step.verify}\n",
                       style="dim")
    tail = Text()
    if result.steps:
        f = result.final
        tail.append(f"after the plan: {fmt_seconds(f.step_s)} per step ({b.step_s / f.step_s:.2f}× faster), "
                    f"critical path {f.critical}; {result.stop_reason}\n", style="bold")
    else:
        tail.append(f"nothing to optimise that the trace shows: {result.stop_reason} — {split_text(b)}\n",
                    style="bold")
    for note in result.notes:
        tail.append(f"note: {note}\n", style="dim")
    return Group(head, table, details, tail) if result.steps else Group(head, tail)


def trace_plan_markdown(result: TracePlanResult) -> str:
    b = result.baseline
    lines = [
        f"## roofline plan: {md_escape(', '.join(result.inputs))} on {md_escape(result.hardware)}",
        "",
        f"{baseline_label(b).capitalize()} **{fmt_seconds(b.step_s)}** ({result.steps_profiled} profiled step(s)): "
        f"{components_text(b)}; critical path **{b.critical}**; {md_escape(split_text(b))}.",
        "",
    ]
    if not result.steps:
        lines += [f"Nothing to optimise that the trace shows ({md_escape(result.stop_reason)}).", ""]
        return "\n".join(lines)
    lines += ["| # | change | attacks | step after | Δ step | critical |", "|---|---|---|---:|---:|---|",
              f"|  | {baseline_label(b)} |  | {fmt_seconds(b.step_s)} |  | {b.critical} |"]
    for step in result.steps:
        lines.append(f"| {step.index} | {md_escape(step.technique)} | {step.targets} | {fmt_seconds(step.after.step_s)} "
                     f"| {_delta(step)} | {step.after.critical} |")
    lines.append("")
    for step in result.steps:
        lines += [
            f"**{step.index}. {md_escape(step.technique)}** — {md_escape(step.rationale)}.",
            f"Evidence: {md_escape(evidence_text(step))}.",
            f"Risks: {md_escape('; '.join(step.risks))}. Verify: {md_escape(step.verify)}.",
            "",
        ]
    f = result.final
    lines.append(f"After the plan: {fmt_seconds(f.step_s)} per step ({b.step_s / f.step_s:.2f}× faster); "
                 f"{md_escape(result.stop_reason)}.")
    lines += [f"Note: {md_escape(n)}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _error(v: Verification) -> str:
    return "—" if v.error_pct is None else f"{v.error_pct * 100:.0f}%"


def _outcome(v: Verification) -> str:
    if not v.significant:
        return "measured Δ inside the step-to-step spread"
    return "within 25%" if v.within_target else "outside 25%"


def verification_renderable(v: Verification) -> Group:
    table = Table(title=f"expected vs actual: {escape(v.before)} → {escape(v.after)}", header_style="bold",
                  show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", overflow="fold")
    for label, value in (
        (f"applied ({'recognised in the traces' if v.detected_by == 'traces' else 'given'})",
         escape(", ".join(v.applied) or "none")),
        ("step before (measured)", fmt_seconds(v.before_step_s)),
        ("step after: predicted / measured", f"{fmt_seconds(v.predicted_after_step_s)} / "
                                             f"{fmt_seconds(v.measured_after_step_s)}"),
        ("Δ step: predicted / measured", f"{fmt_seconds(v.predicted_delta_s)} / {fmt_seconds(v.measured_delta_s)}"),
        ("error of the predicted Δ", _error(v)),
        ("step-to-step spread", fmt_seconds(v.noise_s)),
        ("verdict", _outcome(v)),
    ):
        table.add_row(label, value)
    notes = Text()
    for step in v.steps:
        notes.append(f"  {step.rule}: predicted {fmt_seconds(step.predicted_delta_s)} per step\n")
    for note in v.notes:
        notes.append(f"note: {note}\n", style="dim")
    return Group(table, notes)


def verification_markdown(v: Verification) -> str:
    return "\n".join([
        f"### Expected vs actual: {md_escape(v.before)} → {md_escape(v.after)}",
        "",
        "| applied | before | predicted after | measured after | predicted Δ | measured Δ | error | spread | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {md_escape(', '.join(v.applied) or 'none')} ({v.detected_by}) | {fmt_seconds(v.before_step_s)} | "
        f"{fmt_seconds(v.predicted_after_step_s)} | {fmt_seconds(v.measured_after_step_s)} | "
        f"{fmt_seconds(v.predicted_delta_s)} | {fmt_seconds(v.measured_delta_s)} | {_error(v)} | "
        f"{fmt_seconds(v.noise_s)} | {_outcome(v)} |",
        *[f"\nNote: {md_escape(n)}" for n in v.notes],
        "",
    ])
