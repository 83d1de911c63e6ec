"""Threshold semantics and verdicts of the gate's pure core, pinned to hand-computed numbers.

Every expected value below is worked out in the comment beside it from the rule it tests
(docs/gate.md, "Semantics"): strictly exceeding fails and equal passes; with a relative limit and
an absolute floor a change must exceed both; a zero baseline has no relative change; a change
past a limit must also be significant when both sides carry samples.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.errors import InputError
from roofline.gating.compare import GateOptions, compare_snapshots, exceeds
from roofline.gating.render import fmt_rel
from roofline.gating.result import GateResult, Row
from roofline.gating.snapshot import Entry, Metric, Snapshot, exact, label, measured, parse_snapshot, snapshot_json
from roofline.gating.thresholds import GateConfig, Limit, load_thresholds, resolve_rule

# --- helpers ------------------------------------------------------------------------------------


def snapshot(entries: dict[str, dict[str, Metric]], *, kind: str = "benchmark", device: str = "cpu",
             **fingerprint: str) -> Snapshot:
    return Snapshot(kind=kind, fingerprint={"device": device, **fingerprint},  # type: ignore[arg-type]
                    entries=[Entry(name=name, group="benchmark", metrics=metrics) for name, metrics in entries.items()])


def gate(base: dict[str, dict[str, Metric]], cur: dict[str, dict[str, Metric]], config: GateConfig | None = None,
         **options: object) -> GateResult:
    return compare_snapshots(snapshot(base), snapshot(cur), config or GateConfig(), GateOptions(**options))  # type: ignore[arg-type]


def one(result: GateResult, name: str = "b", metric: str = "t") -> Row:
    rows = [r for r in result.rows if r.name == name and r.metric == metric]
    assert len(rows) == 1, [(r.name, r.metric) for r in result.rows]
    return rows[0]


def time_metric(value: float, samples: list[float] | None = None) -> Metric:
    return measured(value, "s", "lower_is_better", samples)


def config(text: str, tmp_path: Path) -> GateConfig:
    path = tmp_path / "gate.yaml"
    path.write_text(text)
    return load_thresholds(path)


# --- limits: strictly exceeding fails, equal passes ----------------------------------------------


def test_a_change_equal_to_the_relative_limit_passes_and_one_past_it_fails() -> None:
    ten_percent = Limit(relative=0.10)
    # 100 → 110: Δ = 10 = 10 % of 100, equal to the limit: not exceeded.
    assert not exceeds(ten_percent, 10.0, 100.0)
    # 100 → 110.001: Δ = 10.001 > 10.
    assert exceeds(ten_percent, 10.001, 100.0)
    # 1.0 → 1.1 in floats is Δ = 0.10000000000000009: rounding, still "equal".
    assert not exceeds(ten_percent, 1.1 - 1.0, 1.0)
    # The sign does not matter to the limit (the direction decides regressed vs improved).
    assert exceeds(ten_percent, -10.001, 100.0) and not exceeds(ten_percent, -10.0, 100.0)


def test_an_absolute_floor_alone() -> None:
    five_us = Limit(absolute=5e-6)
    assert not exceeds(five_us, 5e-6, 1e-3)  # +5 µs = the floor
    assert exceeds(five_us, 5.1e-6, 1e-3)  # +5.1 µs > 5 µs


def test_relative_and_absolute_must_both_be_exceeded() -> None:
    both = Limit(relative=0.10, absolute=5e-6)
    # 20 µs → 25 µs: +25 % > 10 %, but +5 µs is not > 5 µs → passes.
    assert not exceeds(both, 5e-6, 20e-6)
    # 20 µs → 26 µs: +30 % > 10 % and +6 µs > 5 µs → fails.
    assert exceeds(both, 6e-6, 20e-6)
    # 100 µs → 108 µs: +8 µs > 5 µs, but +8 % is not > 10 % → passes.
    assert not exceeds(both, 8e-6, 100e-6)
    # 100 µs → 111 µs: +11 % and +11 µs → fails.
    assert exceeds(both, 11e-6, 100e-6)


def test_a_zero_baseline_has_no_relative_change() -> None:
    # From 0, any change is infinitely many percent: a relative limit alone is exceeded …
    assert exceeds(Limit(relative=0.10), 1.0, 0.0)
    assert not exceeds(Limit(relative=0.10), 0.0, 0.0)
    # … so the absolute floor is what judges it: 0 → 2 with a floor of 2 passes, 0 → 3 fails.
    assert not exceeds(Limit(relative=0.10, absolute=2.0), 2.0, 0.0)
    assert exceeds(Limit(relative=0.10, absolute=2.0), 3.0, 0.0)


def test_a_zero_baseline_in_a_row_says_so() -> None:
    result = gate({"b": {"syncs": exact(0.0, "", "lower_is_better")}},
                  {"b": {"syncs": exact(1.0, "", "lower_is_better")}})
    row = one(result, metric="syncs")
    assert (row.verdict, row.level) == ("regressed", "fail")
    assert row.delta == 1.0 and row.delta_rel is None  # no relative change from 0
    assert "the baseline is 0" in row.reason
    assert fmt_rel(row) == "+∞"
    assert result.exit_code == 1


# --- verdicts of single values under the default rule (fail > 10 %, warn > 5 %) -----------------


@pytest.mark.parametrize(("current", "verdict", "level"), [
    (111.0, "regressed", "fail"),  # +11 % > 10 %
    (110.0, "regressed", "warn"),  # +10 %: equal to the fail limit (passes it), past the 5 % warn limit
    (106.0, "regressed", "warn"),  # +6 % > 5 %
    (105.0, "unchanged", "ok"),  # +5 %: equal to the warn limit
    (100.0, "unchanged", "ok"),
    (94.0, "improved", "info"),  # −6 %: past the warn limit, the better way
    (89.0, "improved", "info"),  # −11 %
])
def test_default_rule_on_a_lower_is_better_time(current: float, verdict: str, level: str) -> None:
    result = gate({"b": {"t": time_metric(100.0)}}, {"b": {"t": time_metric(current)}})
    row = one(result)
    assert (row.verdict, row.level) == (verdict, level)
    assert row.delta == pytest.approx(current - 100.0)
    assert row.delta_rel == pytest.approx((current - 100.0) / 100.0)
    assert result.exit_code == (1 if level == "fail" else 0)


def test_higher_is_better_flips_the_sense() -> None:
    base = {"b": {"ops": measured(100.0, "1/s", "higher_is_better")}}
    assert one(gate(base, {"b": {"ops": measured(89.0, "1/s", "higher_is_better")}}), metric="ops").verdict == "regressed"
    assert one(gate(base, {"b": {"ops": measured(111.0, "1/s", "higher_is_better")}}), metric="ops").verdict == "improved"


def test_fail_on_improvement_fails_an_improvement_past_the_fail_limit() -> None:
    result = gate({"b": {"t": time_metric(100.0)}}, {"b": {"t": time_metric(89.0)}}, fail_on_improvement=True)
    row = one(result)
    assert (row.verdict, row.level) == ("improved", "fail")
    assert "refresh the baseline" in row.reason
    assert result.exit_code == 1
    # Past the warn limit only (−6 %): a warning, not a failure.
    result = gate({"b": {"t": time_metric(100.0)}}, {"b": {"t": time_metric(94.0)}}, fail_on_improvement=True)
    assert (one(result).level, result.exit_code) == ("warn", 0)


# --- significance --------------------------------------------------------------------------------


def test_separated_samples_regress() -> None:
    """5 steps each, every current sample above every baseline sample: U = 25 of 25, the most
    extreme of C(10, 5) = 252 orderings, two-sided p = 2/252 = 0.0079 < 0.05."""
    base = [100.0, 101.0, 102.0, 103.0, 104.0]
    cur = [120.0, 121.0, 122.0, 123.0, 124.0]
    result = gate({"b": {"t": time_metric(102.0, base)}}, {"b": {"t": time_metric(122.0, cur)}})
    row = one(result)
    assert (row.verdict, row.level) == ("regressed", "fail")
    assert row.p_value == pytest.approx(2 / 252)
    assert row.test == "mann-whitney exact"
    assert (row.n_baseline, row.n_current) == (5, 5)


def test_a_change_past_the_limit_that_is_not_significant_is_reported_not_failed() -> None:
    """baseline [10, 12, 14, 16, 18] (mean 14), current [11, 13, 15, 17, 29] (mean 17, +21 %).
    U(current) = 1 + 2 + 3 + 4 + 5 = 15 of 25. The null counts of U for 5 against 5 (coefficients
    of the Gaussian binomial [10 choose 5]) are 1 1 2 3 5 7 9 11 14 16 18 19 20 20 19 18 16 14 11
    9 7 5 3 2 1 1; P(U ≥ 15) = P(U ≤ 10) = 87/252, so p = 174/252 = 0.690."""
    result = gate({"b": {"t": time_metric(14.0, [10.0, 12.0, 14.0, 16.0, 18.0])}},
                  {"b": {"t": time_metric(17.0, [11.0, 13.0, 15.0, 17.0, 29.0])}})
    row = one(result)
    assert (row.verdict, row.level) == ("not significant", "info")
    assert row.p_value == pytest.approx(174 / 252)
    assert "past the fail limit" in row.reason
    assert result.exit_code == 0


def test_three_steps_fall_back_to_separation() -> None:
    """3 against 3 cannot reach p < 0.05 (the minimum is 2/20 = 0.1): separation decides."""
    separated = gate({"b": {"t": time_metric(11.0, [10.0, 11.0, 12.0])}},
                     {"b": {"t": time_metric(14.0, [13.0, 14.0, 15.0])}})
    assert (one(separated).verdict, one(separated).test) == ("regressed", "separation")
    # baseline [10, 11, 14], current [12, 13, 16]: +17 % in the mean, but 12 < 14: overlap.
    overlapping = gate({"b": {"t": time_metric(35 / 3, [10.0, 11.0, 14.0])}},
                       {"b": {"t": time_metric(41 / 3, [12.0, 13.0, 16.0])}})
    assert one(overlapping).verdict == "not significant"
    assert "overlap" in one(overlapping).reason


def test_alpha_is_configurable(tmp_path: Path) -> None:
    # The 5-against-5 case above has p = 0.690: significant only at α > 0.69.
    loose = config("rules:\n  - metric: t\n    direction: lower_is_better\n    alpha: 0.7\n", tmp_path)
    result = gate({"b": {"t": time_metric(14.0, [10.0, 12.0, 14.0, 16.0, 18.0])}},
                  {"b": {"t": time_metric(17.0, [11.0, 13.0, 15.0, 17.0, 29.0])}}, loose)
    assert one(result).verdict == "regressed"


# --- exact metrics and labels --------------------------------------------------------------------


def test_exact_metrics_fail_on_any_change_past_the_margin() -> None:
    base = {"b": {"calls": exact(358.0, "", "lower_is_better")}}
    # 358 → 358.0000358: a relative change of 1e-7, inside the 1e-6 margin (float sums).
    assert one(gate(base, {"b": {"calls": exact(358.0000358, "", "lower_is_better")}}), metric="calls").verdict \
        == "unchanged"
    # 358 → 359: +0.28 %, far past 1e-6.
    row = one(gate(base, {"b": {"calls": exact(359.0, "", "lower_is_better")}}), metric="calls")
    assert (row.verdict, row.level, row.threshold) == ("regressed", "fail", "exact (margin 1e-06)")
    assert "no significance test" not in row.reason


def test_a_label_change_is_reported(tmp_path: Path) -> None:
    base = {"b": {"bound": label("memory")}}
    cur = {"b": {"bound": label("launch")}}
    row = one(gate(base, cur), metric="bound")
    assert (row.verdict, row.level) == ("changed", "warn")
    assert row.reason == "bound changed: memory → launch"
    strict = config("label_change: fail\n", tmp_path)
    assert gate(base, cur, strict).exit_code == 1
    unknown = one(gate(base, {"b": {"bound": label(None)}}), metric="bound")
    assert unknown.verdict == "not comparable" and unknown.reason == "bound unknown in the current run: memory → unknown"


# --- new, missing, ignored -----------------------------------------------------------------------


def test_new_and_missing_entries_and_metrics(tmp_path: Path) -> None:
    base = {"a": {"t": time_metric(1.0), "u": time_metric(2.0)}, "gone": {"t": time_metric(3.0)}}
    cur = {"a": {"t": time_metric(1.0), "v": time_metric(4.0)}, "added": {"t": time_metric(5.0)}}
    result = gate(base, cur)
    assert (one(result, "gone", "*").verdict, one(result, "gone", "*").level) == ("missing", "warn")
    assert one(result, "gone", "*").baseline == 3.0
    assert (one(result, "added", "*").verdict, one(result, "added", "*").level) == ("new", "info")
    assert one(result, "added", "*").current == 5.0
    assert one(result, "a", "u").verdict == "missing" and one(result, "a", "u").reason == "metric absent from the current run"
    assert one(result, "a", "v").verdict == "new"
    assert result.exit_code == 0  # missing warns by default
    assert gate(base, cur, config("missing: fail\n", tmp_path)).exit_code == 1


def test_ignore_entries_say_why(tmp_path: Path) -> None:
    ignoring = config(
        "ignore:\n"
        "  - name: 'noisy*'\n    metric: t\n    reason: 'shared runner: ±30 % run to run'\n"
        "  - name: gone\n    reason: removed on purpose in #42\n", tmp_path)
    base = {"noisy_op": {"t": time_metric(100.0)}, "gone": {"t": time_metric(1.0)}}
    cur = {"noisy_op": {"t": time_metric(200.0)}}
    result = gate(base, cur, ignoring)
    noisy = one(result, "noisy_op", "t")
    assert (noisy.verdict, noisy.level) == ("ignored", "info")
    assert noisy.reason == "ignored: shared runner: ±30 % run to run"
    assert noisy.delta == 100.0 and noisy.delta_rel == 1.0  # still shown, just not judged
    assert one(result, "gone", "*").verdict == "ignored"
    assert result.exit_code == 0


# --- fingerprints --------------------------------------------------------------------------------


def test_different_devices_are_not_comparable(tmp_path: Path) -> None:
    base = snapshot({"b": {"t": time_metric(1.0)}}, device="NVIDIA H200")
    cur = snapshot({"b": {"t": time_metric(2.0)}}, device="NVIDIA H100 80GB HBM3")
    result = compare_snapshots(base, cur, GateConfig())
    assert not result.comparable and result.status == "not comparable"
    assert result.exit_code == 2  # refusing to compare is never "pass" and never "regression"
    assert "fingerprints differ on device" in (result.refusal or "")
    assert {r.verdict for r in result.rows} == {"not comparable"}
    # A policy that does not require the device: compared, with a note.
    lax = config("fingerprint:\n  must_match: []\n", tmp_path)
    result = compare_snapshots(base, cur, lax)
    assert result.comparable and result.exit_code == 1
    assert "fingerprint: device differs (NVIDIA H200 → NVIDIA H100 80GB HBM3)" in result.notes


def test_a_required_key_unknown_on_one_side_is_noted(tmp_path: Path) -> None:
    strict = config("fingerprint:\n  must_match: [device, torch]\n", tmp_path)
    base = snapshot({"b": {"t": time_metric(1.0)}}, torch="2.13.0+cpu")
    cur = snapshot({"b": {"t": time_metric(1.0)}})
    result = compare_snapshots(base, cur, strict)
    assert result.comparable
    assert any("torch is unknown in the current run" in note for note in result.notes)
    other = snapshot({"b": {"t": time_metric(1.0)}}, torch="2.12.0+cpu")
    assert compare_snapshots(base, other, strict).exit_code == 2


def test_snapshots_of_different_kinds_are_bad_input() -> None:
    with pytest.raises(InputError, match="cannot compare a trace snapshot with a benchmark snapshot"):
        compare_snapshots(snapshot({"b": {"t": time_metric(1.0)}}, kind="trace"),
                          snapshot({"b": {"t": time_metric(1.0)}}), GateConfig())


def test_an_empty_run_is_bad_input_not_a_pass() -> None:
    with pytest.raises(InputError, match="the current run holds nothing to gate"):
        compare_snapshots(snapshot({"b": {"t": time_metric(1.0)}}), snapshot({}), GateConfig())


def test_a_snapshot_of_a_newer_schema_is_refused() -> None:
    data = snapshot_json(snapshot({"b": {"t": time_metric(1.0)}})).replace(b'"schema_version": 1', b'"schema_version": 2')
    with pytest.raises(InputError, match="schema_version 2 was written by a newer roofline"):
        parse_snapshot(data, Path("baseline.json"))


# --- the thresholds file -------------------------------------------------------------------------


def test_rules_layer_in_file_order(tmp_path: Path) -> None:
    layered = config(
        "default:\n  direction: lower_is_better\n  fail: {relative: 0.2}\n"
        "rules:\n"
        "  - metric: 't*'\n    direction: lower_is_better\n    fail: {relative: 0.05, absolute: 1.0}\n"
        "  - name: 'special'\n    metric: t\n    direction: lower_is_better\n    fail: null\n"
        "    warn: {relative: 0.5}\n", tmp_path)
    metric = time_metric(1.0)
    plain = resolve_rule(layered, "b", "benchmark", "t", metric)
    assert plain.fail == Limit(relative=0.05, absolute=1.0) and plain.warn is None and plain.source == "rules[0]"
    special = resolve_rule(layered, "special", "benchmark", "t", metric)
    assert special.fail is None and special.warn == Limit(relative=0.5) and special.source == "rules[1]"
    other = resolve_rule(layered, "b", "benchmark", "u", metric)
    assert other.fail == Limit(relative=0.2) and other.source == "default"


def test_a_rule_may_be_limited_to_a_group(tmp_path: Path) -> None:
    grouped = config("rules:\n  - group: total\n    metric: t\n    direction: lower_is_better\n"
                     "    fail: {relative: 0.5}\n", tmp_path)
    assert resolve_rule(grouped, "x", "total", "t", time_metric(1.0)).fail == Limit(relative=0.5)
    assert resolve_rule(grouped, "x", "op", "t", time_metric(1.0)).fail == Limit(relative=0.10)


def test_a_rule_direction_overrides_the_snapshot_and_says_so(tmp_path: Path) -> None:
    flipped = config("rules:\n  - metric: t\n    direction: higher_is_better\n", tmp_path)
    result = gate({"b": {"t": time_metric(100.0)}}, {"b": {"t": time_metric(89.0)}}, flipped)
    row = one(result)
    assert row.verdict == "regressed" and row.direction == "higher_is_better"
    assert "rules[0] sets higher_is_better where the snapshot records lower_is_better" in row.reason


def test_metrics_without_a_recorded_direction_take_the_default_one(tmp_path: Path) -> None:
    undirected = {"b": {"score": measured(100.0, "", None)}}  # type: ignore[arg-type]
    assert one(gate(undirected, {"b": {"score": measured(89.0, "", None)}}), metric="score").verdict == "improved"  # type: ignore[arg-type]
    higher = config("default:\n  direction: higher_is_better\n  fail: {relative: 0.1}\n", tmp_path)
    assert one(gate(undirected, {"b": {"score": measured(89.0, "", None)}}, higher),  # type: ignore[arg-type]
               metric="score").verdict == "regressed"


@pytest.mark.parametrize(("text", "message"), [
    ("default:\n  direction: lower_is_better\n  fial: {relative: 0.1}\n",
     "line 3: unknown key 'default.fial' in thresholds file — did you mean 'fail'?"),
    ("rules:\n  - metric: t\n    fail: {relative: 0.1}\n",
     "line 2: missing required key 'rules[0].direction' in thresholds file"),
    ("default:\n  fail: {relative: 0.1}\n", "missing required key 'default.direction'"),
    ("ignore:\n  - name: x\n", "missing required key 'ignore[0].reason'"),
    ("ignore:\n  - name: x\n    reason: ' '\n", "an ignore entry needs a reason"),
    ("rules:\n  - metric: t\n    direction: lower_is_better\n    fail: {}\n", "give 'relative'"),
    ("rules:\n  - metric: t\n    direction: lower_is_better\n    fail: {relative: -0.1}\n", "rules[0].fail.relative"),
    ("rules:\n  - metric: t\n    direction: smaller\n", "'rules[0].direction': Input should be"),
    ("schema_version: 2\n", "unsupported schema_version 2"),
    ("thresholds:\n  t: 0.1\n", "unknown key 'thresholds'"),
])
def test_bad_thresholds_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        config(text, tmp_path)
    assert message in caught.value.one_line()
    assert "\n" not in caught.value.one_line()
