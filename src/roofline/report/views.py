"""Views of result objects for notebooks and the terminal: flat rows (DataFrames), an HTML
fragment (Jupyter's ``_repr_html_``) and a rich renderable (``__rich__``). One view per result
type, registered with ``roofline.presentable.register_view``; ``Presentable`` finds it by type."""

from __future__ import annotations

from typing import Any

from roofline.analysis.fleet import FleetResult, TraceSetResult
from roofline.analysis.result import ClassifyResult
from roofline.gating.result import GateResult
from roofline.planner.result import PlanResult
from roofline.planner.trace_result import TracePlanResult
from roofline.presentable import register_view


view = register_view


def _rich_html(renderable: Any, width: int = 140) -> str:
    """A rich renderable as an HTML fragment (rich escapes the text it exports)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), record=True, width=width, color_system="truecolor")
    console.print(renderable)
    return console.export_html(inline_styles=True, code_format='<pre class="roofline-view" style="font-family:'
                               'ui-monospace,Menlo,Consolas,monospace;font-size:12.5px">{code}</pre>')


# --- classify ---------------------------------------------------------------------------------

def _classify_rows(result: ClassifyResult) -> list[dict[str, Any]]:
    return [{
        "name": k.name, "op": k.op, "kind": k.kind, "bound": k.bound.value, "count": k.count, "total_s": k.total_s,
        "mean_s": k.total_s / k.count if k.count else None, "flops": k.flops, "bytes": k.bytes,
        "hardware_flops": k.hardware_flops, "precision": k.precision, "unit": k.unit, "roof": k.roof, "ai": k.ai,
        "achieved_flops_per_s": k.achieved_flops_per_s, "achieved_bytes_per_s": k.achieved_bytes_per_s,
        "attainable_flops_per_s": k.attainable_flops_per_s, "pct_of_roof": k.pct_of_roof, "source": k.source,
        "in_graph": k.in_graph, "notes": "; ".join(k.notes),
    } for k in result.kernels]


def _classify_html(result: ClassifyResult) -> str:
    from roofline.report.document.html import render_fragment
    from roofline.report.document.classify import ReportItem, classify_sections

    return render_fragment(classify_sections(ReportItem(result), top=15))


def _classify_rich(result: ClassifyResult) -> Any:
    from roofline.report.text.console import classify_renderable

    return classify_renderable(result)


view(ClassifyResult, rows=_classify_rows, html=_classify_html, rich=_classify_rich)


# --- serving plan ------------------------------------------------------------------------------

def _plan_rows(result: PlanResult) -> list[dict[str, Any]]:
    rows = [{"index": 0, "technique": "baseline", "targets": None, "ttft_s": result.baseline.ttft_s,
             "itl_s": result.baseline.itl_s, "throughput_tok_s": result.baseline.throughput_tok_s,
             "max_batch": result.baseline.max_batch, "decode_bound": result.baseline.decode_bound,
             "ttft_pct": None, "itl_pct": None, "throughput_pct": None, "rationale": None}]
    for step in result.steps:
        rows.append({"index": step.index, "technique": step.technique, "targets": step.targets,
                     "ttft_s": step.after.ttft_s, "itl_s": step.after.itl_s,
                     "throughput_tok_s": step.after.throughput_tok_s, "max_batch": step.after.max_batch,
                     "decode_bound": step.after.decode_bound, "ttft_pct": step.delta.ttft_pct,
                     "itl_pct": step.delta.itl_pct, "throughput_pct": step.delta.throughput_pct,
                     "rationale": step.rationale})
    return rows


def _plan_html(result: PlanResult) -> str:
    from roofline.report.document.html import render_fragment
    from roofline.report.charts.plan import plan_steps_figure
    from roofline.report.document.plan import plan_sections

    return render_fragment(plan_sections(result, steps=plan_steps_figure(result), roofline=None, frontier=None))


def _plan_rich(result: PlanResult) -> Any:
    from roofline.report.text.plan import plan_renderable

    return plan_renderable(result)


view(PlanResult, rows=_plan_rows, html=_plan_html, rich=_plan_rich)


# --- trace plan --------------------------------------------------------------------------------

def _trace_plan_rows(result: TracePlanResult) -> list[dict[str, Any]]:
    rows = [{"index": 0, "technique": "baseline (measured)", "rule": None, "targets": None,
             "step_s": result.baseline.step_s, "delta_s": None, "delta_pct": None,
             "critical": result.baseline.critical, "rationale": None}]
    for step in result.steps:
        rows.append({"index": step.index, "technique": step.technique, "rule": step.rule, "targets": step.targets,
                     "step_s": step.after.step_s, "delta_s": step.delta_s, "delta_pct": step.delta_pct,
                     "critical": step.after.critical, "rationale": step.rationale})
    return rows


def _trace_plan_html(result: TracePlanResult) -> str:
    from roofline.report.document.html import render_fragment
    from roofline.report.document.trace_plan import trace_plan_sections

    return render_fragment(trace_plan_sections(result))


def _trace_plan_rich(result: TracePlanResult) -> Any:
    from rich.console import Group

    from roofline.report.text.trace_plan import trace_plan_renderable, verification_renderable

    parts = [trace_plan_renderable(result)]
    if result.verification is not None:
        parts.append(verification_renderable(result.verification))
    return Group(*parts)


view(TracePlanResult, rows=_trace_plan_rows, html=_trace_plan_html, rich=_trace_plan_rich)


# --- gate --------------------------------------------------------------------------------------

def _gate_rows(result: GateResult) -> list[dict[str, Any]]:
    return [row.model_dump(mode="json") for row in result.rows]


def _gate_rich(result: GateResult) -> Any:
    from roofline.gating.render import gate_renderable

    return gate_renderable(result)


view(GateResult, rows=_gate_rows, html=lambda r: _rich_html(_gate_rich(r)), rich=_gate_rich)


# --- fleet -------------------------------------------------------------------------------------

def _fleet_rows(result: FleetResult) -> list[dict[str, Any]]:
    return [rank.model_dump(mode="json") for rank in result.ranks]


def _fleet_rich(result: FleetResult) -> Any:
    from roofline.report.text.fleet import fleet_renderable

    return fleet_renderable(result)


view(FleetResult, rows=_fleet_rows, html=lambda r: _rich_html(_fleet_rich(r)), rich=_fleet_rich)


def _trace_set_rich(result: TraceSetResult) -> Any:
    from roofline.report.text.fleet import trace_set_renderable

    return trace_set_renderable(result)


view(TraceSetResult, rows=lambda r: [t.model_dump(mode="json") for t in r.traces],
     html=lambda r: _rich_html(_trace_set_rich(r)), rich=_trace_set_rich)
