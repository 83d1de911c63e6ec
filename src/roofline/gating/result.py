"""The result of a gate: one row per entry × metric with its verdict, and the exit code.

One object feeds every renderer (table, JSON, Markdown, JUnit, annotations); its JSON form is the
``roofline gate --format json`` contract (docs/gate.md). The exit policy lives here, not in the
command line: 0 pass (warnings allowed), 1 regression, 2 nothing could be compared.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, computed_field


from roofline.version import __version__
from roofline.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_REGRESSION
from roofline.presentable import Presentable

GATE_SCHEMA_VERSION = 1

Verdict = Literal[
    "regressed", "improved", "unchanged", "not significant", "new", "missing", "not comparable", "ignored", "changed"
]
# fail: breaks the build; warn: shown and annotated; info: shown; ok: counted.
RowLevel = Literal["fail", "warn", "info", "ok"]

LEVEL_ORDER = {"fail": 0, "warn": 1, "info": 2, "ok": 3}
VERDICT_ORDER = {
    "regressed": 0, "missing": 1, "changed": 2, "improved": 3, "not significant": 4, "not comparable": 5,
    "new": 6, "ignored": 7, "unchanged": 8,
}
# Whole-entry rows (an entry only one run has) use this metric name.
WHOLE_ENTRY = "*"


class Row(BaseModel):
    name: str
    group: str
    metric: str
    unit: str = ""
    verdict: Verdict
    level: RowLevel
    baseline: float | None = None
    current: float | None = None
    baseline_label: str | None = None
    current_label: str | None = None
    delta: float | None = Field(default=None, description="current − baseline, in the metric's unit")
    delta_rel: float | None = Field(default=None, description="delta / |baseline| as a fraction; null when the baseline is 0")
    direction: str | None = None
    threshold: str = Field(default="", description="the limits applied, for people")
    rule: str | None = Field(default=None, description="where the limits came from: default, exact margin, rules[i]")
    p_value: float | None = None
    test: str | None = Field(default=None, description="mann-whitney exact | mann-whitney normal | separation")
    n_baseline: int | None = None
    n_current: int | None = None
    reason: str = ""

    def sort_key(self) -> tuple:
        magnitude = abs(self.delta_rel) if self.delta_rel is not None else (float("inf") if self.delta else 0.0)
        return (LEVEL_ORDER[self.level], VERDICT_ORDER[self.verdict], -magnitude, self.name, self.metric)


class Side(BaseModel):
    path: str
    kind: str
    sources: list[str]
    steps: int | None = None
    fingerprint: dict[str, str]


class GateResult(Presentable, BaseModel):
    schema_version: int = GATE_SCHEMA_VERSION
    tool: str = f"roofline {__version__}"
    baseline: Side
    current: Side
    thresholds: str | None = None
    fail_on_improvement: bool = False
    comparable: bool = True
    refusal: str | None = Field(default=None, description="why nothing was compared, when comparable is false")
    notes: list[str] = Field(default_factory=list)
    rows: list[Row]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            counts[row.verdict] = counts.get(row.verdict, 0) + 1
        return dict(sorted(counts.items(), key=lambda item: VERDICT_ORDER[item[0]]))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failures(self) -> int:
        return sum(1 for row in self.rows if row.level == "fail")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> int:
        return sum(1 for row in self.rows if row.level == "warn")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Literal["pass", "fail", "not comparable"]:
        if not self.comparable:
            return "not comparable"
        return "fail" if self.failures else "pass"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> int:
        # Refusing to compare is bad input (2), never a pass and never "regression" (1).
        if not self.comparable:
            return EXIT_BAD_INPUT
        return EXIT_REGRESSION if self.failures else EXIT_OK

    @property
    def return_code(self) -> int:
        return self.exit_code
