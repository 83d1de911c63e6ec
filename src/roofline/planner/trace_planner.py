"""The trace planner: the engine (roofline.planner.engine) runs the trace rules
(roofline.planner.trace_rules, registered when this module imports them) over the step model of a
classified trace (roofline.planner.trace). The rules import the model; the model never imports the
rules."""

from __future__ import annotations

import roofline.planner.trace_rules  # noqa: F401  (registers the rules)
from roofline.analysis.result import ClassifyResult
from roofline.planner.engine import PlanOutcome, run_plan
from roofline.planner.trace import DOMAIN, TraceDiagnosis, evaluate_trace, step_score, trace_model


def plan_trace(result: ClassifyResult, *, max_steps: int = 8, only: list[str] | None = None,
               profiled: bool | None = None) -> PlanOutcome:
    """Ordered plan for a classified trace. ``only`` restricts the rules (by name) — what
    ``--verify`` uses to replay the steps a second trace shows were applied, on the profiled step
    as measured (both traces carry the profiler's overhead). ``profiled`` overrides that choice:
    True plans the step as profiled, False with the profiler's overhead out."""
    return run_plan(
        trace_model(result, profiled=only is not None if profiled is None else profiled),
        domain=DOMAIN,
        evaluate=evaluate_trace,
        diagnose=lambda m, e: TraceDiagnosis(m, e, result, replay=only is not None),
        score=step_score,
        satisfied=lambda e: None,
        min_gain=0.01,
        max_steps=len(only) if only is not None else max_steps,
        only=only,
    )
