"""The serving planner: the engine (roofline.planner.engine) runs the serving rules
(roofline.planner.serving_rules, registered when this module imports them) over the serving model
(roofline.planner.serving). The rules import the model; the model never imports the rules."""

from __future__ import annotations

import roofline.planner.serving_rules  # noqa: F401  (registers the rules)
import roofline.planner.serving_rules_moe  # noqa: F401  (and those for MoE, MLA and disaggregation)
from roofline.planner.engine import PlanOutcome, run_plan
from roofline.planner.serving import DOMAIN, Diagnosis, ServingContext, evaluate, satisfied, score
from roofline.workload.serving import ServingConfig


def plan_serving(cfg: ServingConfig, context: ServingContext, *, max_steps: int = 8) -> PlanOutcome:
    return run_plan(
        cfg,
        domain=DOMAIN,
        evaluate=lambda c: evaluate(c, context),
        diagnose=lambda c, e: Diagnosis(c, e, context),
        score=score,
        satisfied=satisfied,
        max_steps=max_steps,
    )
