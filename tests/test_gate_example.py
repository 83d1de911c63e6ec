"""The CI example (examples/ci/) stays true: its workflows' roofline commands are run as written,
on the committed baseline and thresholds, and a deliberate regression fails on the rows named.

The commands run in a copy of examples/ci/ under a temporary directory, through bash, with this
Python's environment first on PATH — what the GitHub Actions and GitLab jobs do on a CPU runner.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from roofline.cli import app
from roofline.gating.snapshot import read_snapshot
from roofline.gating.thresholds import load_thresholds

REPO = Path(__file__).resolve().parent.parent
CI = REPO / "examples" / "ci"


def github_commands() -> list[str]:
    workflow = yaml.safe_load((CI / "github-actions.yml").read_text())
    return [step["run"] for step in workflow["jobs"]["gate"]["steps"] if str(step.get("run", "")).startswith("roofline ")]


def gitlab_commands() -> list[str]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["perf-gate"]
    return [line for line in job["script"] if line.startswith("roofline ")]


def test_both_jobs_run_the_same_commands() -> None:
    github, gitlab = github_commands(), gitlab_commands()
    assert [c.split()[1] for c in github] == ["profile", "snapshot", "gate"]
    # Only the Markdown's destination differs: GitHub's step summary, a GitLab artifact.
    assert [c.replace('"$GITHUB_STEP_SUMMARY"', "gate-summary.md") for c in github] == gitlab
    for command in github:
        for word in command.split():
            if word.startswith("examples/"):
                assert (REPO / word).is_file(), word


def test_the_committed_baseline_and_thresholds() -> None:
    config = load_thresholds(CI / "gate.yaml")
    assert config.fingerprint.must_match == ["device", "torch"]
    baseline = read_snapshot(CI / "baseline.json")
    assert baseline.kind == "trace" and baseline.steps == 8
    assert baseline.fingerprint["device"] == "cpu" and baseline.fingerprint["torch"].startswith("2.13.0")
    total = baseline.entry_map()["total"].metrics
    # 4 layers × (layer_norm, addmm ×2, gelu, add, …): 116 framework ops per step on torch 2.13 (CPU).
    assert total["host_ops_per_step"].value == 116.0
    assert len(total["wall_time_per_step_s"].samples or []) == 8
    gated = CliRunner().invoke(app, ["gate", str(CI / "baseline.json"), str(CI / "baseline.json"),
                                     "--thresholds", str(CI / "gate.yaml"), "--fail-on-improvement"])
    assert gated.exit_code == 0, gated.output


def run_workflow(workdir: Path, commands: list[str]) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "GITHUB_STEP_SUMMARY": str(workdir / "summary.md")}
    env.pop("GITHUB_ACTIONS", None)
    done = []
    for command in commands:
        done.append(subprocess.run(["bash", "-c", command], cwd=workdir, env=env, capture_output=True, text=True,
                                   timeout=300))
        if done[-1].returncode not in (0, 1):
            break
    return done


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    pytest.importorskip("torch")
    if shutil.which("roofline", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the roofline entry point is not installed next to this Python")
    shutil.copytree(CI, tmp_path / "examples" / "ci")
    return tmp_path


def expected_gate_code() -> int:
    import torch

    # The baseline was recorded with torch 2.13.0+cpu; another torch must be refused, not judged.
    return 0 if torch.__version__ == read_snapshot(CI / "baseline.json").fingerprint["torch"] else 2


def test_the_workflow_passes_on_the_unchanged_workload(workdir: Path) -> None:
    profile, snapshot, gate = run_workflow(workdir, github_commands())
    assert profile.returncode == 0, profile.stderr
    assert snapshot.returncode == 0, snapshot.stderr
    assert gate.returncode == expected_gate_code(), gate.stdout + gate.stderr
    if gate.returncode == 2:
        assert "fingerprints differ on torch" in gate.stderr
        return
    summary = (workdir / "summary.md").read_text()
    assert summary.startswith("### ✅ roofline gate passed: 0 failing")
    assert (workdir / "gate.junit.xml").is_file()
    assert json.loads((workdir / "proposed-baseline.json").read_text())["kind"] == "trace"


def test_the_workflow_fails_a_deliberate_regression(workdir: Path) -> None:
    """workload.py --regress adds h.double().to(float32) to each of 4 layers. Expected before the
    run: each cast is aten::to → aten::_to_copy → aten::empty_strided + aten::copy_, 4 ops, so
    2 casts × 4 layers add 32 ops per step (116 → 148) and 8 copy_ calls (8 → 16); both are exact
    metrics and fail. to, _to_copy and empty_strided are new ops (shown, not failed)."""
    if expected_gate_code() == 2:
        pytest.skip("another torch than the baseline's: the gate refuses to compare (tested above)")
    commands = github_commands()
    commands[0] = commands[0].replace("examples/ci/workload.py", "examples/ci/workload.py --regress")
    commands[2] = commands[2].replace("--thresholds", "--format json --thresholds")
    profile, snapshot, gate = run_workflow(workdir, commands)
    assert (profile.returncode, snapshot.returncode, gate.returncode) == (0, 0, 1), gate.stderr
    result = json.loads(gate.stdout)
    failing = {(r["name"], r["metric"]): r for r in result["rows"] if r["level"] == "fail"}
    assert set(failing) == {("total", "host_ops_per_step"), ("aten::copy_", "calls_per_step")}
    assert (failing[("total", "host_ops_per_step")]["baseline"], failing[("total", "host_ops_per_step")]["current"]) \
        == (116.0, 148.0)
    assert (failing[("aten::copy_", "calls_per_step")]["baseline"], failing[("aten::copy_", "calls_per_step")]["current"]) \
        == (8.0, 16.0)
    new = {r["name"] for r in result["rows"] if r["verdict"] == "new"}
    assert new == {"aten::to", "aten::_to_copy", "aten::empty_strided"}
    assert "❌ roofline gate failed: 2 failing" in (workdir / "summary.md").read_text()
