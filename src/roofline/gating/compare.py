"""Compare two snapshots under a thresholds config: the pure core of ``roofline gate``.

Semantics (docs/gate.md):
- a change counts when it *strictly* exceeds a limit; equal (to float rounding) passes;
- a zero baseline has no relative change: any change from zero exceeds a relative limit, so it is
  judged on the absolute floor when one is given;
- measured metrics with samples on both sides must also be significant (Mann–Whitney U); a change
  past the limit that is not significant is reported as such and never fails;
- exact metrics (FLOPs, bytes, counts, predictions) have no noise: no test, a tiny margin;
- labels (bound, precision) are reported when they change.
"""

from __future__ import annotations

from dataclasses import dataclass

from roofline.errors import InputError
from roofline.gating.result import WHOLE_ENTRY, GateResult, Row, RowLevel, Side
from roofline.gating.snapshot import Entry, Metric, Snapshot, check_not_empty
from roofline.gating.stats import mann_whitney_u, min_attainable_p, separated
from roofline.gating.thresholds import EffectiveRule, GateConfig, Limit, ignore_reason, resolve_rule

# Float rounding of per-step sums must not turn "equal" into "strictly exceeding".
EQUAL_TOLERANCE = 1e-12
# The metric an entry is summarised by when it exists in one run only.
HEADLINE_METRICS = ("kernel_time_per_step_s", "wall_time_per_step_s", "kernel_time_s", "time_s")
# These depend on which roofs were used: datasheet and measured ceilings give different fractions.
ROOF_DEPENDENT = ("pct_of_roof",)


@dataclass(frozen=True)
class GateOptions:
    fail_on_improvement: bool = False
    baseline_path: str = "baseline"
    current_path: str = "current"
    thresholds_path: str | None = None


def compare_snapshots(baseline: Snapshot, current: Snapshot, config: GateConfig,
                      options: GateOptions = GateOptions()) -> GateResult:
    if baseline.kind != current.kind:
        raise InputError(
            f"cannot compare a {baseline.kind} snapshot with a {current.kind} snapshot",
            file=options.current_path,
            fix=f"gate like against like: the baseline ({options.baseline_path}) is a {baseline.kind} snapshot",
        )
    check_not_empty(baseline, options.baseline_path, "baseline")
    check_not_empty(current, options.current_path, "current")
    refusal, notes = _fingerprint_check(baseline.fingerprint, current.fingerprint, config)
    pairs, only_baseline, only_current, match_notes = match_entries(baseline.entries, current.entries)
    if refusal is None and not pairs:
        refusal = "no entry of the baseline matches one of the current run (different workloads or labels?)"
    roofs_differ = baseline.fingerprint.get("ceilings") != current.fingerprint.get("ceilings")
    rows: list[Row] = []
    for base, cur in pairs:
        note = match_notes.get(base.name)
        for metric_name in _metric_names(base, cur):
            row = _compare_metric(base, cur, metric_name, config, options, refusal, roofs_differ)
            if note:
                row = row.model_copy(update={"reason": f"{row.reason}; {note}" if row.reason else note})
            rows.append(row)
    unlinked = _unlinked_groups(baseline, current)
    rows += [_whole_entry_row(entry, "missing", config, refusal or unlinked.get(entry.group)) for entry in only_baseline]
    rows += [_whole_entry_row(entry, "new", config, refusal or unlinked.get(entry.group)) for entry in only_current]
    rows.sort(key=Row.sort_key)
    if baseline.steps and current.steps and baseline.steps != current.steps:
        notes.append(f"the baseline has {baseline.steps} profiled steps, the current run {current.steps}")
    return GateResult(
        baseline=_side(baseline, options.baseline_path),
        current=_side(current, options.current_path),
        thresholds=options.thresholds_path,
        fail_on_improvement=options.fail_on_improvement,
        comparable=refusal is None,
        refusal=refusal,
        notes=notes,
        rows=rows,
    )


def _side(snapshot: Snapshot, path: str) -> Side:
    return Side(path=path, kind=snapshot.kind, sources=[s.path for s in snapshot.sources], steps=snapshot.steps,
                fingerprint=snapshot.fingerprint)


def _fingerprint_check(base: dict[str, str], cur: dict[str, str], config: GateConfig) -> tuple[str | None, list[str]]:
    notes = []
    refusal = None
    required = set(config.fingerprint.must_match)
    for key in sorted(set(base) | set(cur)):
        left, right = base.get(key), cur.get(key)
        if left == right:
            continue
        if left is None or right is None:
            if key in required:
                notes.append(f"fingerprint: {key} is unknown in the {'baseline' if left is None else 'current run'}; "
                             "compared without checking it")
            continue
        if key in required:
            refusal = refusal or (f"fingerprints differ on {key}: {left} (baseline) vs {right} (current); "
                                  "fingerprint.must_match in the thresholds file lists what must be equal")
        else:
            notes.append(f"fingerprint: {key} differs ({left} → {right})")
    return refusal, notes


def _unlinked_groups(baseline: Snapshot, current: Snapshot) -> dict[str, str]:
    """Op entries exist only where kernels were linked to framework ops; a run with none at all
    (a CUDA-graph replay) cannot say an op went missing, so those rows are not comparable."""
    has_ops = [any(entry.group == "op" for entry in side.entries) for side in (baseline, current)]
    if has_ops[0] == has_ops[1]:
        return {}
    side = "current run" if has_ops[0] else "baseline"
    return {"op": f"the {side} links no kernel to a framework op (CUDA-graph replay?), so op entries cannot be matched"}


def _fallback_key(entry: Entry) -> str | None:
    """CUDA-graph replays carry no op link, so the same kernel is ``aten::mm › nvjet_…`` in an
    eager run and ``nvjet_…`` in a graph run. They match on the full demangled kernel name (the
    short one is too coarse without the op), within the same input of a merged snapshot."""
    if entry.group != "kernel" or not entry.kernel:
        return None
    prefix = entry.name.split(": ", 1)[0] if ": " in entry.name and "::" not in entry.name.split(": ", 1)[0] else ""
    return f"{prefix}\0{entry.kernel}"


def match_entries(base: list[Entry], cur: list[Entry]) -> tuple[list[tuple[Entry, Entry]], list[Entry], list[Entry],
                                                                   dict[str, str]]:
    """Pairs by name; then, among what is left, kernel groups by full kernel name where that
    name is unambiguous on both sides."""
    current_by_name = {entry.name: entry for entry in cur}
    pairs = [(entry, current_by_name[entry.name]) for entry in base if entry.name in current_by_name]
    matched = {entry.name for entry, _ in pairs}
    left = [entry for entry in base if entry.name not in matched]
    right = [entry for entry in cur if entry.name not in matched]
    notes: dict[str, str] = {}

    def unique(entries: list[Entry]) -> dict[str, Entry]:
        keyed: dict[str, list[Entry]] = {}
        for entry in entries:
            key = _fallback_key(entry)
            if key is not None:
                keyed.setdefault(key, []).append(entry)
        return {key: group[0] for key, group in keyed.items() if len(group) == 1}

    left_keys, right_keys = unique(left), unique(right)
    for key, entry in left_keys.items():
        other = right_keys.get(key)
        if other is None:
            continue
        pairs.append((entry, other))
        notes[entry.name] = (f"matched by kernel name: op {entry.op or 'none'} in the baseline, "
                             f"{other.op or 'none'} in the current run")
    paired = {id(e) for pair in pairs for e in pair}
    return pairs, [e for e in left if id(e) not in paired], [e for e in right if id(e) not in paired], notes


def _metric_names(base: Entry, cur: Entry) -> list[str]:
    return list(base.metrics) + [name for name in cur.metrics if name not in base.metrics]


def _whole_entry_row(entry: Entry, verdict: str, config: GateConfig, refusal: str | None) -> Row:
    headline = next((name for name in HEADLINE_METRICS if name in entry.metrics), None) or next(
        (name for name, metric in entry.metrics.items() if metric.kind != "label"), None)  # a benchmark's own first
    metric = entry.metrics.get(headline) if headline else None
    row = Row(name=entry.name, group=entry.group, metric=WHOLE_ENTRY, unit=metric.unit if metric else "",
              verdict="unchanged", level="ok")
    if verdict == "missing":
        row.baseline = metric.value if metric else None
    else:
        row.current = metric.value if metric else None
    if refusal is not None:
        return _set(row, "not comparable", "info", refusal)
    ignored = ignore_reason(config, entry.name, entry.group, WHOLE_ENTRY)
    if ignored is not None:
        return _set(row, "ignored", "info", f"ignored: {ignored}")
    where = ("in the baseline only: gone from the current run" if verdict == "missing"
             else "in the current run only: not in the baseline")
    level = config.missing if verdict == "missing" else config.new
    return _set(row, verdict, level, where + (f" ({headline} shown)" if headline else ""))


def exceeds(limit: Limit | None, delta: float, base: float) -> bool:
    """Strictly past every bound the limit gives. A zero baseline has no relative change: any
    change from zero exceeds a relative bound (the absolute floor, if given, still applies)."""
    if limit is None or delta == 0:
        return False
    size = abs(delta)
    if limit.relative is not None and not size > limit.relative * abs(base) * (1 + EQUAL_TOLERANCE):
        return False
    if limit.absolute is not None and not size > limit.absolute * (1 + EQUAL_TOLERANCE):
        return False
    return True


def _compare_metric(base_entry: Entry, cur_entry: Entry, name: str, config: GateConfig, options: GateOptions,
                    refusal: str | None, roofs_differ: bool) -> Row:
    base, cur = base_entry.metrics.get(name), cur_entry.metrics.get(name)
    metric = cur or base
    assert metric is not None
    rule = resolve_rule(config, base_entry.name, base_entry.group, name, base or metric)
    row = Row(name=base_entry.name, group=base_entry.group, metric=name, unit=metric.unit, verdict="unchanged",
              level="ok", direction=rule.direction if metric.kind != "label" else None,
              threshold=_describe(rule, metric) if metric.kind != "label" else "label", rule=rule.source)
    if base is not None:
        row.baseline, row.baseline_label = base.value, base.label
    if cur is not None:
        row.current, row.current_label = cur.value, cur.label
    if refusal is not None:
        return _set(row, "not comparable", "info", refusal)
    if base is None or cur is None:
        verdict = "missing" if cur is None else "new"
        level = config.missing if cur is None else config.new
        side = "the current run" if cur is None else "the baseline"
        reason = f"metric absent from {side}"
        return _set(row, "ignored", "info", f"ignored: {rule.ignored}") if rule.ignored else _set(row, verdict, level, reason)
    if rule.ignored:
        _fill_delta(row, base, cur)
        return _set(row, "ignored", "info", f"ignored: {rule.ignored}")
    if base.kind == "label" or cur.kind == "label":
        return _compare_labels(row, base, cur, config)
    if base.unit != cur.unit:
        return _set(row, "not comparable", "info", f"units differ ({base.unit!r} vs {cur.unit!r})")
    if base.value is None and cur.value is None:
        return _set(row, "unchanged", "ok", "unknown in both runs")
    if base.value is None or cur.value is None:
        side = "the baseline" if base.value is None else "the current run"
        return _set(row, "not comparable", "info", f"unknown in {side} (FLOPs/bytes not derived, or nothing timed)")
    if name in ROOF_DEPENDENT and roofs_differ:
        return _set(row, "not comparable", "info", "the runs used different roofs (ceilings differ)")
    _fill_delta(row, base, cur)
    return _judge(row, base, cur, rule, options)


def _set(row: Row, verdict: str, level: RowLevel, reason: str) -> Row:
    row.verdict = verdict  # type: ignore[assignment]
    row.level = level
    row.reason = reason
    return row


def _fill_delta(row: Row, base: Metric, cur: Metric) -> None:
    if base.value is None or cur.value is None:
        return
    row.delta = cur.value - base.value
    row.delta_rel = row.delta / abs(base.value) if base.value != 0 else None


def _compare_labels(row: Row, base: Metric, cur: Metric, config: GateConfig) -> Row:
    if base.label == cur.label:
        return _set(row, "unchanged", "ok", "")
    before, after = base.label or "unknown", cur.label or "unknown"
    if "unknown" in (before, after):
        side = "the baseline" if before == "unknown" else "the current run"
        return _set(row, "not comparable", "info", f"{row.metric} unknown in {side}: {before} → {after}")
    return _set(row, "changed", config.label_change, f"{row.metric} changed: {before} → {after}")


def _describe(rule: EffectiveRule, metric: Metric) -> str:
    if rule.source == "exact margin":
        return f"exact (margin {rule.fail.relative:g})" if rule.fail and rule.fail.relative is not None else "exact"
    parts = []
    if rule.fail is not None:
        parts.append(f"fail > {rule.fail.describe(metric.unit)}")
    if rule.warn is not None:
        parts.append(f"warn > {rule.warn.describe(metric.unit)}")
    return ", ".join(parts) or "no limit"


def _judge(row: Row, base: Metric, cur: Metric, rule: EffectiveRule, options: GateOptions) -> Row:
    assert base.value is not None and cur.value is not None and row.delta is not None
    delta = row.delta
    worse = delta > 0 if rule.direction == "lower_is_better" else delta < 0
    past: RowLevel | None = "fail" if exceeds(rule.fail, delta, base.value) else (
        "warn" if exceeds(rule.warn, delta, base.value) else None)
    zero = " (the baseline is 0: no relative change)" if base.value == 0 and delta != 0 else ""
    if past is None:
        return _set(row, "unchanged", "ok", "within the limits" + zero if delta else "")
    limit_text = f"past the {past} limit{zero}"
    if base.kind == "measured" and cur.kind == "measured" and base.samples and cur.samples:
        significant, detail = _significance(row, base.samples, cur.samples, rule.alpha)
        if not significant:
            return _set(row, "not significant", "info", f"{limit_text}, but {detail}")
        limit_text += f"; {detail}"
    elif base.kind == "measured" or cur.kind == "measured":
        limit_text += "; single values, no significance test"
    if rule.direction_note:
        limit_text += f"; {rule.direction_note}"
    if worse:
        return _set(row, "regressed", past, limit_text)
    if options.fail_on_improvement:
        return _set(row, "improved", past, f"{limit_text}; --fail-on-improvement: refresh the baseline")
    return _set(row, "improved", "info", limit_text)


def _significance(row: Row, base: list[float], cur: list[float], alpha: float) -> tuple[bool, str]:
    """Mann–Whitney U at ``alpha``. Where the sample sizes cannot reach ``alpha`` at all (3 steps
    against 3: the smallest two-sided p is 0.1), fall back to the strictest outcome the test
    knows — every current sample beyond every baseline sample — rather than never flagging."""
    test = mann_whitney_u(base, cur)
    row.p_value, row.n_baseline, row.n_current = test.p_value, len(base), len(cur)
    sizes = f"{len(base)} vs {len(cur)} samples"
    if min_attainable_p(len(base), len(cur)) >= alpha:
        row.test = "separation"
        side = separated(base, cur)
        moved = "higher" if (row.delta or 0) > 0 else "lower"
        too_few = f"{sizes}: too few for a rank test at α={alpha:g}"
        if side == moved:
            return True, f"every sample {moved} than every baseline sample ({too_few})"
        return False, f"the samples overlap ({too_few})"
    row.test = f"mann-whitney {test.method}"
    if test.p_value < alpha:
        return True, f"Mann–Whitney p={test.p_value:.3g} < {alpha:g} ({sizes})"
    return False, f"not significant: Mann–Whitney p={test.p_value:.3g} ≥ {alpha:g} ({sizes})"
