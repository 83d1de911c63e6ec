"""Golden tests of the gate's Markdown and JUnit outputs, byte for byte.

One directory per case under tests/data/gate/: ``case.yaml`` names the baseline and current run
(paths from the repository root), an optional thresholds file in the case directory, and the
expected exit code; ``expected.md`` and ``expected.junit.xml`` are what ``roofline gate
--markdown --junit`` writes for it. Adding a case is adding a directory.

The gate runs from the repository root with relative paths, so the outputs hold no absolute
path; the tool version is normalised in case a renderer ever prints it. Nothing else is
normalised: the outputs must be deterministic.

To regenerate after an intended change of the outputs, run

    ROOFLINE_REGENERATE_GOLDEN=1 python -m pytest -q -p no:cacheprovider tests/test_gate_golden.py

review the diff of tests/data/gate/, and commit it. Regenerating skips the comparison (the run
reports the cases as skipped); a plain run fails on any difference.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from roofline import __version__
from roofline.cli import app

REPO = Path(__file__).resolve().parent.parent
CASES = sorted(path for path in (REPO / "tests" / "data" / "gate").iterdir() if (path / "case.yaml").is_file())
REGENERATE = os.environ.get("ROOFLINE_REGENERATE_GOLDEN") == "1"
OUTPUTS = (("--markdown", "expected.md"), ("--junit", "expected.junit.xml"))


def normalise(text: str) -> str:
    text = text.replace(str(REPO) + os.sep, "")
    return re.sub(rf"roofline {re.escape(__version__)}\b", "roofline <version>", text)


def run_case(case: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    spec = yaml.safe_load((case / "case.yaml").read_text())
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    args = ["gate", spec["baseline"], spec["current"], "--format", "json", "-o", str(out / "result.json")]
    if spec.get("thresholds"):
        args += ["--thresholds", str((case / spec["thresholds"]).relative_to(REPO))]
    for option, name in OUTPUTS:
        args += [option, str(out / name)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == spec["exit_code"], result.output
    return {name: normalise((out / name).read_text(encoding="utf-8")) for _, name in OUTPUTS}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_gate_outputs_match_the_golden_files(case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    produced = run_case(case, tmp_path, monkeypatch)
    if REGENERATE:
        for name, text in produced.items():
            (case / name).write_text(text, encoding="utf-8")
        pytest.skip(f"regenerated {case.name}: review the diff of {case.relative_to(REPO)}")
    for name, text in produced.items():
        expected = (case / name).read_text(encoding="utf-8")
        assert text == expected, f"{case.name}/{name} differs (see this file's docstring to regenerate)"


def test_outputs_are_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs of one case, each reading the traces afresh, write the same bytes."""
    case = CASES[0]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert run_case(case, tmp_path / "a", monkeypatch) == run_case(case, tmp_path / "b", monkeypatch)


def test_there_are_cases() -> None:
    assert {case.name for case in CASES} >= {"eager_to_cudagraph", "cudagraph_to_eager"}
