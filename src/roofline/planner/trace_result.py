"""The plan of a measured trace as one result object for every renderer; its JSON is the documented
``roofline plan TRACE --format json`` contract (docs/plan-trace.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field


from roofline.version import __version__
from roofline.analysis.profiler_overhead import overhead_basis
from roofline.analysis.result import ClassifyResult
from roofline.planner.engine import PlanOutcome
from roofline.planner.trace import GroupModel, TraceEvaluation, TraceModel
from roofline.planner.verify import Verification
from roofline.presentable import Presentable
from roofline.units import fmt_seconds

TRACE_PLAN_SCHEMA_VERSION = 1
EVIDENCE_LIMIT = 6


class TraceMetrics(BaseModel):
    """Per-step figures of the modelled timeline (seconds per profiled step)."""

    step_s: float
    gpu_busy_s: float
    host_s: float = Field(description="host issue time over the GPU window")
    lead_in_s: float
    launch_wait_s: float
    other_idle_s: float
    kernels_per_step: float
    critical: str = Field(description="'host' or 'gpu': which resource sets the step's pace")
    by_bound_s: dict[str, float]
    host_stall_s: float = 0.0
    graph_gap_s: float = 0.0
    profiler_s: float = Field(0.0, description="the profiler's own host overhead taken out of the measured launch wait")


class Evidence(BaseModel):
    """A kernel group a step changes: where its time was, and how the change models it."""

    name: str
    op: str | None
    calls_per_step: float
    time_per_step_s: float
    bound: str
    pct_of_roof: float | None
    time_after_per_step_s: float | None = Field(None, description="None: the group no longer runs")


class TraceStep(BaseModel):
    index: int
    technique: str
    rule: str
    targets: str = Field(description="the iron-law term it attacks")
    rationale: str
    risks: list[str]
    effort: str
    verify: str
    evidence: list[Evidence]
    evidence_groups: int = Field(description="kernel groups the step changes (evidence lists the largest)")
    before: TraceMetrics
    after: TraceMetrics
    delta_s: float = Field(description="after − before, seconds per step (negative is faster)")
    delta_pct: float
    alternatives: list[dict[str, object]]


class TracePlanResult(Presentable, BaseModel):
    schema_version: int = TRACE_PLAN_SCHEMA_VERSION
    kind: str = "trace-plan"
    tool: str = f"roofline {__version__}"
    inputs: list[str]
    hardware: str
    ceilings: str
    steps_profiled: int
    baseline: TraceMetrics
    steps: list[TraceStep]
    final: TraceMetrics
    stop_reason: str
    notes: list[str] = Field(default_factory=list)
    verification: Verification | None = None


def metrics(e: TraceEvaluation) -> TraceMetrics:
    return TraceMetrics(step_s=e.step_s, gpu_busy_s=e.busy_s, host_s=e.host_s, lead_in_s=e.lead_in_s,
                        launch_wait_s=e.launch_wait_s, other_idle_s=e.other_idle_s, kernels_per_step=e.kernels,
                        critical=e.critical, by_bound_s=e.by_bound, host_stall_s=e.host_stall_s,
                        graph_gap_s=e.graph_gap_s, profiler_s=e.profiler_s)


def _evidence(before: TraceModel, after: TraceModel) -> tuple[list[Evidence], int]:
    """Groups present in ``before`` whose time the step changed or that it removed, largest first
    (a change of launch mode alone shows in the timeline, not in a group's GPU time)."""
    by_key = {(g.name, g.op, g.kind): g for g in after.groups}
    changed = [g for g in before.groups
               if (now := by_key.get((g.name, g.op, g.kind))) is None or now.time_s != g.time_s]
    changed.sort(key=lambda g: -g.time_s)
    n = max(before.steps, 1)

    def row(g: GroupModel) -> Evidence:
        now = by_key.get((g.name, g.op, g.kind))
        return Evidence(name=g.name, op=g.op, calls_per_step=g.count / n, time_per_step_s=g.time_s / n, bound=g.bound,
                        pct_of_roof=g.pct_of_roof, time_after_per_step_s=now.time_s / n if now is not None else None)

    return [row(g) for g in changed[:EVIDENCE_LIMIT]], len(changed)


def build_trace_plan(outcome: PlanOutcome, result: ClassifyResult, notes: list[str] | None = None) -> TracePlanResult:
    steps = []
    for index, record in enumerate(outcome.steps, 1):
        c = record.candidate
        evidence, count = _evidence(record.state_before, record.state_after)
        before, after = metrics(record.before), metrics(record.after)
        steps.append(TraceStep(
            index=index, technique=c.technique, rule=c.rule, targets=c.targets, rationale=c.rationale,
            risks=list(c.risks), effort=c.effort, verify=c.verify, evidence=evidence, evidence_groups=count,
            before=before, after=after, delta_s=after.step_s - before.step_s,
            delta_pct=(after.step_s / before.step_s - 1.0) if before.step_s > 0 else 0.0,
            alternatives=[{"technique": a.technique, "score_gain": a.gain, "note": a.note}
                          for a in record.considered if a.technique != c.technique],
        ))
    hw = result.hardware
    notes = list(notes or [])
    base = outcome.baseline
    if base.profiler_s > 0:
        ops = round((result.summary.host_ops or 0) / max(len(result.summary.steps), 1))
        notes.insert(0, f"measured step {fmt_seconds(base.step_s + base.profiler_s)} under the profiler; planned from "
                        f"the unprofiled estimate {fmt_seconds(base.step_s)}: {fmt_seconds(base.profiler_s)} of the "
                        f"launch wait is the profiler's own host overhead (per step {overhead_basis(ops)}, no lower "
                        "than the launch floor allows)")
    return TracePlanResult(
        inputs=result.inputs, hardware=hw.name,
        ceilings=hw.ceilings + (f" ({hw.ceilings_file})" if hw.ceilings_file else ""),
        steps_profiled=max(len(result.summary.steps), 1),
        baseline=metrics(outcome.baseline), steps=steps, final=metrics(outcome.final),
        stop_reason=outcome.stop_reason, notes=notes,
    )
