"""Snapshot entries from a user's benchmark JSON: pytest-benchmark's ``--benchmark-json`` output,
or the simple form ``{name: {metric: value or [samples]}}``. Pure functions of parsed JSON.
"""

from __future__ import annotations

import math
from typing import Any

from roofline.errors import InputError
from roofline.gating.snapshot import Entry, Metric, exact, measured
from roofline.gating.stats import median


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def pytest_benchmark_entries(data: dict[str, Any], path: str) -> tuple[list[Entry], dict[str, str]]:
    """One entry per benchmark, keyed by its ``fullname`` (test id). ``time_s`` is the median
    round time — the raw rounds as samples when saved with ``--benchmark-save-data`` — and
    ``ops`` is pytest-benchmark's rounds per second (higher is better)."""
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise InputError("pytest-benchmark JSON without a 'benchmarks' list", file=path, place="benchmarks",
                         fix="write it with pytest --benchmark-json FILE")
    entries = []
    for index, bench in enumerate(benchmarks):
        place = f"benchmarks[{index}]"
        if not isinstance(bench, dict) or not isinstance(bench.get("stats"), dict):
            raise InputError("benchmark without 'stats'", file=path, place=place,
                             fix="write it with pytest --benchmark-json FILE")
        name = bench.get("fullname") or bench.get("name")
        if not isinstance(name, str) or not name:
            raise InputError("benchmark without a name", file=path, place=place, fix="check the file")
        stats = bench["stats"]
        data_points = stats.get("data")
        samples = [float(x) for x in data_points] if isinstance(data_points, list) and all(
            _number(x) for x in data_points) and data_points else None
        if samples:
            value = median(samples)
        elif _number(stats.get("median")):
            value = float(stats["median"])
        else:
            raise InputError("benchmark stats without 'median'", file=path, place=f"{place}.stats",
                             fix="write it with pytest --benchmark-json FILE")
        metrics: dict[str, Metric] = {"time_s": measured(value, "s", "lower_is_better", samples)}
        if _number(stats.get("ops")):
            metrics["ops"] = measured(float(stats["ops"]), "1/s", "higher_is_better")
        entries.append(Entry(name=name, group="benchmark", metrics=metrics))
    return entries, _pytest_fingerprint(data)


def _pytest_fingerprint(data: dict[str, Any]) -> dict[str, str]:
    machine = data.get("machine_info") if isinstance(data.get("machine_info"), dict) else {}
    cpu = machine.get("cpu") if isinstance(machine.get("cpu"), dict) else {}
    fingerprint = {}
    device = cpu.get("brand_raw") or machine.get("processor") or machine.get("machine")
    if device:
        fingerprint["device"] = str(device)
    if machine.get("python_version"):
        fingerprint["python"] = str(machine["python_version"])
    if data.get("version"):
        fingerprint["pytest_benchmark"] = str(data["version"])
    return fingerprint


def simple_benchmark_entries(data: Any, path: str) -> list[Entry]:
    """``{name: {metric: number | [numbers]}}``. A list is samples (its median is the value); the
    sense of each metric is unknown here, so the thresholds file's default direction applies
    unless a rule names one. ``{"value": …, "direction": …, "unit": …, "exact": true}`` spells
    a metric out in full."""
    if not isinstance(data, dict):
        raise InputError("a benchmark JSON must be an object {name: {metric: value}}", file=path,
                         fix="see docs/gate.md for the format")
    entries = []
    for name, metrics in data.items():
        if not isinstance(metrics, dict):
            raise InputError(f"'{name}': expected an object {{metric: value or [samples]}}", file=path, place=name,
                             fix="see docs/gate.md for the format")
        parsed: dict[str, Metric] = {}
        for metric, raw in metrics.items():
            parsed[str(metric)] = _simple_metric(raw, path, f"{name}.{metric}")
        entries.append(Entry(name=str(name), group="benchmark", metrics=parsed))
    return entries


def _simple_metric(raw: Any, path: str, place: str) -> Metric:
    if _number(raw):
        return measured(float(raw), "", None)  # type: ignore[arg-type]
    if isinstance(raw, list):
        if not raw or not all(_number(x) for x in raw):
            raise InputError("expected a non-empty list of finite numbers", file=path, place=place,
                             fix="write samples as [1.2, 1.3, …]")
        samples = [float(x) for x in raw]
        return measured(median(samples), "", None, samples)  # type: ignore[arg-type]
    if isinstance(raw, dict):
        unknown = set(raw) - {"value", "samples", "direction", "unit", "exact"}
        if unknown:
            raise InputError(f"unknown key '{sorted(unknown)[0]}'", file=path, place=place,
                             fix="allowed: value, samples, direction, unit, exact")
        direction = raw.get("direction")
        if direction not in (None, "lower_is_better", "higher_is_better"):
            raise InputError(f"direction {direction!r}", file=path, place=f"{place}.direction",
                             fix="write lower_is_better or higher_is_better")
        unit = str(raw.get("unit", ""))
        if raw.get("samples") is not None:
            metric = _simple_metric(raw["samples"], path, f"{place}.samples")
            return measured(metric.value, unit, direction, metric.samples)
        if not _number(raw.get("value")):
            raise InputError("expected 'value' (a finite number) or 'samples'", file=path, place=place,
                             fix="e.g. {\"value\": 1.5, \"direction\": \"lower_is_better\"}")
        if raw.get("exact"):
            return exact(float(raw["value"]), unit, direction)
        return measured(float(raw["value"]), unit, direction)
    raise InputError(f"expected a number or a list of numbers, got {type(raw).__name__}", file=path, place=place,
                     fix="write {\"name\": {\"metric\": 1.5}} or {\"name\": {\"metric\": [1.5, 1.6]}}")
