"""The thresholds file (``gate.yaml``): a default rule, rules per metric and per name glob, ignore
entries with a reason, and the fingerprint policy. Loaded with ``yaml.safe_load`` and validated
with ``extra="forbid"`` so a typo is an error naming the file, key and line — a misspelt key
silently ignored would be a gate that checks less than its authors think.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roofline.gating.fmt import fmt_value
from roofline.gating.snapshot import Direction, Metric
from roofline.yamlio import load_yaml, validate

THRESHOLDS_SCHEMA_VERSION = 1
Level = Literal["fail", "warn", "info"]


class Limit(BaseModel):
    """A change counts when it strictly exceeds every bound given: ``relative`` (a fraction of the
    baseline, 0.10 = 10 %) and/or ``absolute`` (in the metric's unit). With both, a change must
    exceed both — a 40 % jump of a 2 µs kernel is not worth failing a build over."""

    model_config = ConfigDict(extra="forbid")

    relative: float | None = Field(default=None, ge=0)
    absolute: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_bound(self) -> Limit:
        if self.relative is None and self.absolute is None:
            raise ValueError("give 'relative' (a fraction, 0.1 = 10%) and/or 'absolute' (in the metric's unit)")
        return self

    def describe(self, unit: str) -> str:
        parts = []
        if self.relative is not None:
            parts.append(f"{100 * self.relative:g}%")
        if self.absolute is not None:
            parts.append(fmt_value(self.absolute, unit) if unit != "fraction" else f"{self.absolute:g}")
        return " & ".join(parts)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    direction: Direction
    fail: Limit | None = None
    warn: Limit | None = None
    alpha: float | None = Field(default=None, gt=0, lt=1, description="significance level of the rank test")


class MetricRule(Rule):
    """A rule for the metrics and entries its globs match; later rules win over earlier ones."""

    name: str = Field(default="*", min_length=1)
    metric: str = Field(default="*", min_length=1)
    group: str | None = Field(default=None, description="total | op | kernel | benchmark | plan")


class Ignore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="*", min_length=1)
    metric: str = Field(default="*", min_length=1)
    group: str | None = None
    reason: str

    @field_validator("reason")
    @classmethod
    def _says_why(cls, reason: str) -> str:
        if not reason.strip():
            raise ValueError("an ignore entry needs a reason (who decided, and why the check is noise)")
        return reason.strip()


class FingerprintPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Fingerprint keys whose values must be equal for rows to be compared at all.
    must_match: list[str] = Field(default_factory=lambda: ["device"])


DEFAULT_RULE = Rule(direction="lower_is_better", fail=Limit(relative=0.10), warn=Limit(relative=0.05), alpha=0.05)

# Rules that encode what trace metrics mean; they sit between the default rule and the file's
# rules, so a file overrides them with a later rule (docs/gate.md lists them as YAML).
BUILTIN_RULES = (
    # Per-step timings of traces also need an absolute floor: a kernel group of 2 µs per step moves
    # by 10 % from clock and cache state alone, and that is not worth failing a build over.
    MetricRule(metric="*_per_step_s", direction="lower_is_better",
               fail=Limit(relative=0.10, absolute=5e-6), warn=Limit(relative=0.05, absolute=2e-6)),
    # Rates and % of roof are ratios of quantities gated on their own (time, FLOPs, bytes): they
    # warn, so that one cause does not fail twice.
    MetricRule(metric="achieved_*_per_s", direction="higher_is_better", fail=None, warn=Limit(relative=0.10)),
    MetricRule(metric="pct_of_roof", direction="higher_is_better", fail=None, warn=Limit(relative=0.10)),
)


class GateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = THRESHOLDS_SCHEMA_VERSION
    # Measured metrics without a more specific rule. Its direction applies to metrics whose sense
    # the snapshot does not record (a user's own benchmark metrics).
    default: Rule = DEFAULT_RULE
    rules: list[MetricRule] = Field(default_factory=list)
    ignore: list[Ignore] = Field(default_factory=list)
    # Deterministic metrics (FLOPs, bytes, counts, predictions): any change beyond this relative
    # margin counts; it only absorbs float rounding of sums.
    exact_margin: float = Field(default=1e-6, ge=0)
    fingerprint: FingerprintPolicy = Field(default_factory=FingerprintPolicy)
    missing: Level = "warn"  # an entry or metric of the baseline absent from the current run
    new: Level = "info"  # an entry or metric only the current run has
    label_change: Level = "warn"  # a bound or precision label that changed (memory → launch)


def load_thresholds(path: Path) -> GateConfig:
    data, node = load_yaml(path, what="thresholds file")
    return validate(GateConfig, data, path=path, node=node, what="thresholds file")


@dataclass(frozen=True)
class EffectiveRule:
    """What applies to one row after layering the default, the matching rules and the metric's own
    sense."""

    direction: Direction
    fail: Limit | None
    warn: Limit | None
    alpha: float
    source: str  # "default", "exact margin", "rules[2]"
    ignored: str | None = None  # the reason, when an ignore entry matches
    direction_note: str | None = None


def _matches(pattern_name: str, pattern_metric: str, group: str | None, name: str, metric: str,
             entry_group: str) -> bool:
    return (fnmatchcase(name, pattern_name) and fnmatchcase(metric, pattern_metric)
            and (group is None or group == entry_group))


def resolve_rule(config: GateConfig, name: str, group: str, metric_name: str, metric: Metric) -> EffectiveRule:
    """Layer, lowest first: the default rule (measured) or the exact margin (deterministic), the
    metric's recorded direction, the built-in rules, then every matching rule in file order, each
    replacing the fields it sets."""
    default = config.default
    if metric.kind == "exact":
        fail: Limit | None = Limit(relative=config.exact_margin)
        warn: Limit | None = None
        source = "exact margin"
    else:
        fail, warn, source = default.fail, default.warn, "default"
    alpha = default.alpha if default.alpha is not None else 0.05
    direction: Direction = metric.direction or default.direction
    note = None
    layers = [(f"built-in[{i}]", rule) for i, rule in enumerate(BUILTIN_RULES)]
    layers += [(f"rules[{i}]", rule) for i, rule in enumerate(config.rules)]
    for where, rule in layers:
        if not _matches(rule.name, rule.metric, rule.group, name, metric_name, group):
            continue
        if metric.kind == "exact" and where.startswith("built-in"):
            continue  # built-in rules are for measured metrics; exact ones keep their margin
        if metric.direction and rule.direction != metric.direction:
            note = f"{where} sets {rule.direction} where the snapshot records {metric.direction}"
        direction = rule.direction
        given = rule.model_fields_set
        if "fail" in given:
            fail = rule.fail
        if "warn" in given:
            warn = rule.warn
        if rule.alpha is not None:
            alpha = rule.alpha
        source = where
    ignored = next((entry.reason for entry in config.ignore
                    if _matches(entry.name, entry.metric, entry.group, name, metric_name, group)), None)
    return EffectiveRule(direction, fail, warn, alpha, source, ignored, note)


def ignore_reason(config: GateConfig, name: str, group: str, metric_name: str) -> str | None:
    return next((entry.reason for entry in config.ignore
                 if _matches(entry.name, entry.metric, entry.group, name, metric_name, group)), None)
