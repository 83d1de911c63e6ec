"""Real traces with no GPU timeline (HTA's test data, tests/data/external/nongpu): each gets one
line saying what it is and what to capture instead, exit 2, from the CLI, the API and a directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import roofline
from roofline.cli import app
from roofline.errors import InputError

NONGPU = Path(__file__).parent / "data" / "external" / "nongpu"
CASES = [
    ("hta_cpu_only_rank34.json.gz", "a CPU-only profile (4 cpu_ops", "profile a GPU run with torch.profiler"),
    ("hta_cupti_profiler_range.json.gz", "CUPTI range-profiler trace (77 kernel ranges", "no profiler_metrics"),
    ("hta_mtia_inference_rank0_extract.json.gz", "MTIA accelerator trace (device ARTEMIS): 600 mtia_ccp_events",
     "roofline models NVIDIA and AMD GPUs"),
]
runner = CliRunner()


@pytest.mark.parametrize("name,what,fix", CASES)
def test_cli_names_the_kind_of_trace_in_one_line(name: str, what: str, fix: str) -> None:
    result = runner.invoke(app, ["classify", str(NONGPU / name)])
    assert result.exit_code == 2
    assert what in result.stderr and fix in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name,what,fix", CASES)
def test_api_and_plot_raise_the_same_input_error(tmp_path: Path, name: str, what: str, fix: str) -> None:
    with pytest.raises(InputError, match="no GPU activity in the trace") as caught:
        roofline.classify(NONGPU / name)
    assert what in caught.value.message
    plotted = runner.invoke(app, ["plot", str(NONGPU / name), "-o", str(tmp_path / "p.png")])
    assert plotted.exit_code == 2 and what in plotted.stderr


def test_a_directory_of_them_is_refused_not_empty(tmp_path: Path) -> None:
    for name, _, _ in CASES[:2]:
        shutil.copy(NONGPU / name, tmp_path / name)
    result = runner.invoke(app, ["classify", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "no GPU activity" in result.stderr
