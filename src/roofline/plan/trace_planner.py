"""The trace planner: the engine (roofline.plan.engine) runs the trace rules
(roofline.plan.trace_rules, registered when this module imports them) over the step model of a
classified trace (roofline.plan.trace). The rules import the model; the model never imports the
rules."""

from __future__ import annotations

import roofline.plan.trace_rules  # noqa: F401  (registers the rules)
from roofline.analysis.result import ClassifyResult
from roofline.plan.engine import PlanOutcome, run_plan
from roofline.plan.trace import DOMAIN, TraceDiagnosis, evaluate_trace, step_score, trace_model


def plan_trace(result: ClassifyResult, *, max_steps: int = 8, only: list[str] | None = None) -> PlanOutcome:
    """Ordered plan for a classified trace. ``only`` restricts the rules (by name) — what
    ``--verify`` uses to replay the steps a second trace shows were applied."""
    return run_plan(
        trace_model(result),
        domain=DOMAIN,
        evaluate=evaluate_trace,
        diagnose=lambda m, e: TraceDiagnosis(m, e, result, replay=only is not None),
        score=step_score,
        satisfied=lambda e: None,
        min_gain=0.01,
        max_steps=len(only) if only is not None else max_steps,
        only=only,
    )
