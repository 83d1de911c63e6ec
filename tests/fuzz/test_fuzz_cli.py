"""Damaged inputs through the real command line: the exit code is 0 (or 1 for a gate that finds
a regression) or 2 with exactly one line on stderr naming the file — never 3, never a
traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from fuzzkit import (
    CEILINGS_SEEDS,
    DECLARED_SEEDS,
    HWSPEC_SEEDS,
    KINETO_SEEDS,
    NCU_SEEDS,
    NSYS_SEEDS,
    REPO,
    SERVING_SEEDS,
    SNAPSHOT_SEEDS,
    STATS,
    THRESHOLD_SEEDS,
    classify_json_seed,
    damage_bytes,
    fuzz_settings,
    leaf_paths,
    mutate_tree,
    seed_bytes,
    time_limit,
)
from roofline.cli import app

runner = CliRunner()
BASELINE = str(REPO / "examples" / "ci" / "baseline.json")

# kind: (seeds, file name, command with {} for the file, exit codes allowed besides 2)
COMMANDS = {
    "kineto": (KINETO_SEEDS, "trace.json.gz", ["classify", "{}", "--hw", "h200", "-f", "json"], {0}),
    "nsys": (NSYS_SEEDS, "gpu.csv", ["classify", "{}", "--hw", "h200", "-f", "md"], {0}),
    "ncu": (NCU_SEEDS, "ncu.csv", ["classify", "{}", "--hw", "auto"], {0}),
    "declared": (DECLARED_SEEDS, "kernels.yaml", ["classify", "{}", "--hw", "auto", "-f", "json"], {0}),
    "serving": (SERVING_SEEDS, "serve.yaml", ["plan", "{}", "-f", "json", "--max-steps", "2"], {0}),
    "hwspec": (HWSPEC_SEEDS, "spec.yaml", ["hw", "list", "--hw-file", "{}", "-f", "json"], {0}),
    "ceilings": (CEILINGS_SEEDS, "ceilings.yaml", ["hw", "show", "h200", "--ceilings", "{}", "-f", "json"], {0}),
    "thresholds": (THRESHOLD_SEEDS, "gate.yaml", ["gate", BASELINE, BASELINE, "--thresholds", "{}"], {0, 1}),
    "snapshot": (SNAPSHOT_SEEDS, "baseline.json", ["gate", "{}", BASELINE], {0, 1}),
    "classify json": ([None], "result.json", ["report", "{}", "-o", "out.md", "--no-images"], {0}),
}


def _seed_text(kind: str, seed: Path | None) -> bytes:
    if seed is None:
        return classify_json_seed().encode()
    return seed_bytes(seed)


def _mutated(kind: str, text: bytes, data: st.DataObject) -> tuple[bytes, str]:
    if data.draw(st.booleans()):
        return damage_bytes(data.draw, text)
    try:
        doc = yaml.safe_load(text) if kind in ("declared", "serving", "hwspec", "ceilings", "thresholds") \
            else json.loads(text) if not kind.startswith(("nsys", "ncu")) else None
    except (yaml.YAMLError, ValueError):
        doc = None
    if not isinstance(doc, (dict, list)) or not doc:
        return damage_bytes(data.draw, text)
    how = mutate_tree(data.draw, doc, leaf_paths(doc, limit=3000))
    dumped = yaml.safe_dump(doc, allow_unicode=True) if kind in ("declared", "serving", "hwspec", "ceilings",
                                                                  "thresholds") else json.dumps(doc)
    return dumped.encode(), how


@given(data=st.data(), kind=st.sampled_from(sorted(COMMANDS)))
@fuzz_settings(100)
def test_cli_exit_codes_and_one_line_errors(workdir: Path, data: st.DataObject, kind: str, monkeypatch) -> None:
    seeds, name, command, allowed = COMMANDS[kind]
    seed = data.draw(st.sampled_from(seeds))
    content, how = _mutated(kind, _seed_text(kind, seed), data)
    path = workdir / name
    path.write_bytes(gzip.compress(content, 1) if name.endswith(".gz") else content)
    monkeypatch.chdir(workdir)
    args = [str(path) if part == "{}" else part for part in command]
    stats = STATS[f"cli: {command[0]} ({kind})"]
    stats.tried += 1
    with time_limit(30):
        result = runner.invoke(app, args)
    lines = result.output.strip().splitlines()
    problem = None
    if result.exit_code == 2:
        errors = [line for line in lines if line.startswith("roofline: error: ")]
        if len(errors) != 1 or not errors[0].endswith(lines[-1]) or (str(path) not in errors[0] and
                                                                      path.name not in errors[0]):
            problem = f"exit 2 without one line naming the file: {result.output[-400:]!r}"
        stats.rejected += 1
    elif result.exit_code not in allowed:
        problem = f"exit {result.exit_code}: {result.output[-400:]!r}"
    elif "Traceback" in result.output:
        problem = "a traceback in the output"
    else:
        stats.accepted += 1
        stats.warned += "warning" in result.output
    if problem:
        stats.failed += 1
        stats.failures.append(f"{how}: {problem}"[:500])
        raise AssertionError(f"[{kind}] {how}: {problem}")
