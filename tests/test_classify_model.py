"""``roofline classify --model`` (and ``roofline.classify(model=...)``): the served model sizes the
engine ops whose weights live in the layer; bad models are one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import roofline
from roofline.cli import app

DATA = Path(__file__).parent / "data"
B200 = DATA / "external" / "tracelens" / "b200" / "eager_trace.json.gz"
runner = CliRunner()


def _one_line_error(args: list[str]) -> str:
    result = runner.invoke(app, ["classify", *args])
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: error: "), result.stderr
    return lines[0]


def test_unknown_model_is_a_one_line_error() -> None:
    line = _one_line_error([str(B200), "--model", "gpt-oss-12b"])
    assert "unknown model 'gpt-oss-12b'" in line and "gpt-oss-120b" in line  # the close match is offered


def test_unreadable_config_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "config.json"
    bad.write_text("{not json")
    assert "not a readable JSON config" in _one_line_error([str(B200), "--model", str(bad)])
    assert "config.json" in _one_line_error([str(B200), "--model", str(tmp_path)])  # a directory holding it


def test_model_on_a_non_kineto_input_is_refused() -> None:
    ncu = next((DATA / "ncu").glob("*.csv"))
    assert "--model" in _one_line_error([str(ncu), "--model", "gpt-oss-120b"])


def test_api_classify_with_model() -> None:
    without = roofline.classify(B200)
    with_model = roofline.classify(B200, model="gpt-oss-120b")

    def bounded(result) -> float:  # type: ignore[no-untyped-def]
        times = result.summary.time_by_bound.model_dump()
        return 1 - times["unknown"] / sum(times.values())

    assert bounded(without) < 0.5 < 0.9 < bounded(with_model)  # 43.7% → 95.8% (docs/op-costs.md)
    with pytest.raises(roofline.InputError):
        roofline.classify(B200, model="no-such-model")
