"""The rule engine: rules recognise a condition in a diagnosis and propose a transform; the planner
applies the best one, re-evaluates the whole model, and repeats. One engine serves every domain
(serving configs here, measured traces elsewhere); rules register per domain.
"""

from roofline.planner.engine import Candidate, PlanOutcome, PlanStepRecord, register_rule, rules_for, run_plan

__all__ = ["Candidate", "PlanOutcome", "PlanStepRecord", "register_rule", "rules_for", "run_plan"]
