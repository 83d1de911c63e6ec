"""Shared helpers of the held-out published-table benchmarks (trtllm_static.py, heldout.py): read a
transcribed table (a CSV whose ``#`` lines carry its source and licence note) and summarise the
errors of planned rows per group (median |error| and median signed error, the bias)."""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path


def read_table(path: Path, *, ints: Iterable[str] = (), floats: Iterable[str] = ("value",)) -> list[dict]:
    """The rows of a transcribed table; ``#`` lines are its provenance, not data. Empty cells of an
    integer or float column stay None (a column a table leaves blank for some rows)."""
    text = "".join(line for line in path.read_text().splitlines(keepends=True) if not line.startswith("#"))
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        for key in ints:
            row[key] = int(row[key]) if row.get(key) not in (None, "") else None
        for key in floats:
            row[key] = float(row[key]) if row.get(key) not in (None, "") else None
        rows.append(row)
    return rows


def summarise(rows: list[dict], keys: Callable[[dict], Iterable[str]]) -> dict[str, dict]:
    """Per group (``keys(row)`` names the groups a row belongs to): rows, refused, median |error|, bias.
    A row carries ``error`` when it was planned and ``refused`` when the planner refused it."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        for key in keys(row):
            groups.setdefault(key, []).append(row)
    summary = {}
    for key, members in groups.items():
        errors = [r["error"] for r in members if "error" in r]
        summary[key] = {"rows": len(members), "refused": sum(1 for r in members if "refused" in r),
                        "median_abs_error": statistics.median(abs(e) for e in errors) if errors else None,
                        "bias": statistics.median(errors) if errors else None}
    return summary


def summary_lines(summary: dict[str, dict]) -> list[str]:
    lines = []
    for key, s in summary.items():
        if s["median_abs_error"] is None:
            lines.append(f"{key}: {s['rows']} rows, all refused")
        else:
            lines.append(f"{key}: {s['rows']} rows, {s['refused']} refused, median |error| "
                         f"{100 * s['median_abs_error']:.0f}% (bias {100 * s['bias']:+.0f}%)")
    return lines
