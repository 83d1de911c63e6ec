"""Domain-independent planner: candidates from registered rules, each applied to the current state
and re-evaluated; the winner becomes the next state, so every later estimate accounts for the
steps before it (gains compound sub-multiplicatively, bottlenecks shift).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from roofline.errors import InputError

S = TypeVar("S")  # the state a transform acts on (a serving config, a modelled timeline)
E = TypeVar("E")  # its evaluation (a prediction)
D = TypeVar("D")  # the diagnosis rules read

Effort = Literal["low", "medium", "high"]
EFFORT_WEIGHT: dict[str, float] = {"low": 1.0, "medium": 1.5, "high": 3.0}


@dataclass(frozen=True)
class Candidate(Generic[S]):
    """A proposed change: what it is, which iron-law term it attacks, why, its costs, how to check it."""

    technique: str
    targets: str  # compute | memory | launch | communication | capacity | latency
    rationale: str
    risks: tuple[str, ...]
    effort: Effort
    tier: int  # 1: runtime switches, libraries, precision; 2: serving policy; 3: new machinery/hardware
    verify: str
    apply: Callable[[S], S]
    rule: str = ""


Rule = Callable[[Any], "Candidate[Any] | Iterable[Candidate[Any]] | None"]
_RULES: dict[str, dict[str, Rule]] = {}


def register_rule(domain: str, name: str) -> Callable[[Rule], Rule]:
    """Register a rule: a function of one diagnosis returning a candidate, several, or None."""

    def decorate(rule: Rule) -> Rule:
        table = _RULES.setdefault(domain, {})
        if name in table:
            raise RuntimeError(f"rule '{name}' registered twice in domain '{domain}'")
        table[name] = rule
        return rule

    return decorate


def rules_for(domain: str) -> dict[str, Rule]:
    return dict(_RULES.get(domain, {}))


@dataclass
class Considered:
    technique: str
    gain: float | None
    note: str


@dataclass
class PlanStepRecord(Generic[S, E]):
    candidate: Candidate[S]
    state_before: S
    state_after: S
    before: E
    after: E
    gain: float
    considered: list[Considered] = field(default_factory=list)


@dataclass
class PlanOutcome(Generic[S, E]):
    baseline_state: S
    baseline: E
    steps: list[PlanStepRecord[S, E]]
    final_state: S
    final: E
    stop_reason: str


def run_plan(
    state: S,
    *,
    domain: str,
    evaluate: Callable[[S], E],
    diagnose: Callable[[S, E], D],
    score: Callable[[E], float],
    satisfied: Callable[[E], str | None],
    max_steps: int = 8,
    min_gain: float = 0.02,
    only: list[str] | None = None,
) -> PlanOutcome[S, E]:
    """``score`` is lower-is-better; ``satisfied`` returns a stop reason once the goals are met.
    Among candidates that improve the score by at least ``min_gain`` (in log units, ~2%), the
    lowest tier wins, then the best gain per unit of effort. ``only`` keeps the rules of those
    names (replaying changes known to have been made: then any gain, even a loss, is taken)."""
    rules = rules_for(domain)
    if only is not None:
        unknown = sorted(set(only) - set(rules))
        if unknown:
            raise ValueError(f"unknown rules in domain '{domain}': {', '.join(unknown)}")
        rules = {name: rule for name, rule in rules.items() if name in only}
        min_gain = -math.inf
    current = evaluate(state)
    baseline_state, baseline = state, current
    steps: list[PlanStepRecord[S, E]] = []
    applied: set[str] = set()
    reason = f"stopped after {max_steps} steps"
    for _ in range(max_steps):
        done = satisfied(current)
        if done:
            reason = done
            break
        diagnosis = diagnose(state, current)
        candidates: list[Candidate[S]] = []
        for name, rule in rules.items():
            proposed = rule(diagnosis)
            if proposed is None:
                continue
            for candidate in [proposed] if isinstance(proposed, Candidate) else list(proposed):
                if candidate.technique not in applied:
                    candidates.append(_named(candidate, name))
        trials: list[tuple[Candidate[S], S, E, float]] = []
        considered: list[Considered] = []
        before_score = score(current)
        for candidate in candidates:
            try:
                new_state = candidate.apply(state)
                new_eval = evaluate(new_state)
            except InputError as exc:  # e.g. the change would not fit in memory
                considered.append(Considered(candidate.technique, None, exc.message))
                continue
            gain = before_score - score(new_eval)
            considered.append(Considered(candidate.technique, gain, ""))
            if gain >= min_gain and math.isfinite(gain):
                trials.append((candidate, new_state, new_eval, gain))
        if not trials:
            reason = "no rule improves the plan further" if candidates else "no rule applies"
            break
        best_tier = min(c.tier for c, *_ in trials)
        chosen = max(
            (t for t in trials if t[0].tier == best_tier),
            key=lambda t: (t[3] / EFFORT_WEIGHT[t[0].effort], t[3]),
        )
        candidate, new_state, new_eval, gain = chosen
        steps.append(PlanStepRecord(candidate, state, new_state, current, new_eval, gain, considered))
        applied.add(candidate.technique)
        state, current = new_state, new_eval
    else:
        done = satisfied(current)
        if done:
            reason = done
    return PlanOutcome(baseline_state, baseline, steps, state, current, reason)


def _named(candidate: Candidate[S], rule: str) -> Candidate[S]:
    if candidate.rule:
        return candidate
    return Candidate(**{**candidate.__dict__, "rule": rule})
