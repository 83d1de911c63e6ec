"""Snapshot entries from a ``roofline plan`` result (its ``--format json`` form): the predictions
a config change must not make worse. Pure functions of the parsed JSON, no files.

Two entries: ``baseline`` (the config as written) and ``final`` (after the planned steps). Every
number is a deterministic prediction, so every metric is ``exact``: a 0.1 % change in predicted
ITL means the model, the config or the registry changed, and the gate should say so.
"""

from __future__ import annotations

import math
from typing import Any

from roofline.errors import InputError
from roofline.gating.snapshot import Direction, Entry, Metric, exact, label

# (key in the plan's metrics object, unit, direction): the contract fields of docs/json-schema.md.
PREDICTIONS: tuple[tuple[str, str, Direction], ...] = (
    ("ttft_s", "s", "lower_is_better"),
    ("itl_s", "s", "lower_is_better"),
    ("throughput_tok_s", "tok/s", "higher_is_better"),
    ("throughput_tok_s_per_gpu", "tok/s", "higher_is_better"),
    ("max_batch", "", "higher_is_better"),
    ("memory_used_bytes", "B", "lower_is_better"),
    ("mbu_decode", "fraction", "higher_is_better"),
    ("mfu_prefill", "fraction", "higher_is_better"),
)
# Per-GPU memory terms of the plan's ``memory`` object, recorded on the baseline entry.
MEMORY_TERMS = ("weight_bytes", "kv_bytes_per_token", "kv_bytes_per_request", "workspace_bytes")


def looks_like_plan_json(head: bytes) -> bool:
    """``roofline plan --format json`` output: these keys come first in it."""
    start = head[:2048]
    return b'"config_file"' in start and b'"efficiency"' in start and b'"slo"' in start


def plan_entries(data: Any, path: str) -> tuple[list[Entry], dict[str, str]]:
    """Entries and fingerprint of a plan result."""
    if not isinstance(data, dict):
        raise InputError("a plan JSON must be an object", file=path, fix="write it with roofline plan CONFIG --format json")
    baseline = _section(data, "baseline", path)
    final = _section(data, "final", path)
    memory = _section(data, "memory", path)
    base_metrics = _predictions(baseline, path, "baseline")
    for key in MEMORY_TERMS:
        base_metrics[key] = exact(_number(memory, key, path, "memory"), "B", "lower_is_better")
    base_metrics["prefill_bound"] = label(_text(baseline, "prefill_bound"))
    base_metrics["decode_bound"] = label(_text(baseline, "decode_bound"))
    final_metrics = _predictions(final, path, "final")
    final_metrics["prefill_bound"] = label(_text(final, "prefill_bound"))
    final_metrics["decode_bound"] = label(_text(final, "decode_bound"))
    final_metrics["batch"] = label(_text(final, "batch"))
    steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    rules = [str(step.get("rule")) for step in steps if isinstance(step, dict) and step.get("rule")]
    # The plan itself: which steps, in which order. A new or reordered step is reported, not judged.
    final_metrics["steps"] = label(" → ".join(rules) if rules else "none")
    unmet = data.get("unmet_slos") if isinstance(data.get("unmet_slos"), list) else []
    final_metrics["unmet_slos"] = label(", ".join(str(slo) for slo in unmet) if unmet else "none")
    entries = [Entry(name="baseline", group="plan", metrics=base_metrics, notes=["the config as written"]),
               Entry(name="final", group="plan", metrics=final_metrics, notes=["after the planned steps"])]
    fingerprint = {key: str(data[key]) for key in ("hardware", "ceilings", "model", "gpus", "efficiency")
                   if data.get(key) is not None}
    if "hardware" in fingerprint:
        # The device a prediction is for: predictions for two devices are not one workload.
        fingerprint["device"] = fingerprint["hardware"]
    return entries, fingerprint


def _section(data: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    section = data.get(key)
    if not isinstance(section, dict):
        raise InputError(f"plan JSON without a '{key}' object", file=path, place=key,
                         fix="write it with roofline plan CONFIG --format json")
    return section


def _number(section: dict[str, Any], key: str, path: str, where: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"'{key}' is missing or not a finite number", file=path, place=f"{where}.{key}",
                         fix="write it with roofline plan CONFIG --format json")
    return float(value)


def _text(section: dict[str, Any], key: str) -> str | None:
    value = section.get(key)
    return None if value is None else str(value)


def _predictions(section: dict[str, Any], path: str, where: str) -> dict[str, Metric]:
    return {key: exact(_number(section, key, path, where), unit, direction) for key, unit, direction in PREDICTIONS}
