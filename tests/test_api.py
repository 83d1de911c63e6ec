"""The Python API (docs/python-api.md): every example of the page runs, and the API gives the
same figures as the command line for the same input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import roofline
from roofline.cli import app

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "python-api.md"
TRACE = REPO / "tests" / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"
# The page's examples, and the README's "In a notebook" one.
EXAMPLES = re.findall(r"```python\n(.*?)```", DOC.read_text() + (REPO / "README.md").read_text(), re.S)


def test_the_page_has_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_doc_example_runs(index: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(REPO)
    exec(compile(EXAMPLES[index], f"{DOC.name} example {index + 1}", "exec"), {"__name__": "__doc_example__"})


def test_import_is_light() -> None:
    code = ("import sys, roofline; heavy = [m for m in ('torch', 'matplotlib', 'roofline.api', 'roofline.analysis', "
            "'pydantic') if m in sys.modules]; assert not heavy, heavy; assert callable(roofline.plan)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_plan_and_gate_stay_functions_once_their_packages_are_imported() -> None:
    import roofline.gating.compare  # noqa: F401
    import roofline.planner.serving  # noqa: F401

    assert roofline.plan.__module__ == "roofline.api" and roofline.gate.__module__ == "roofline.api"


def test_classify_gives_the_cli_json() -> None:
    cli = CliRunner().invoke(app, ["classify", str(TRACE), "--format", "json"])
    assert cli.exit_code == 0
    from_cli = orjson.loads(cli.stdout)
    from_api = roofline.classify(TRACE).to_dict()
    assert from_api["summary"] == from_cli["summary"]
    assert [k["name"] for k in from_api["kernels"]] == [k["name"] for k in from_cli["kernels"]]


def test_plan_keywords_equal_the_seed_config_file() -> None:
    # examples/llama70b_h100_tp8.yaml is SPEC.md section 4's config; the keywords say the same.
    by_keywords = roofline.plan("llama-3-70b", hardware="h100-sxm", gpus=8, tensor=8, batch=1, prompt_tokens=1024,
                                output_tokens=256, max_context_tokens=4096, weights="fp16", activations="fp16",
                                kv_cache="fp16", ttft_ms=500, itl_ms=50, throughput_tok_s=1000)
    by_file = roofline.plan(REPO / "examples" / "llama70b_h100_tp8.yaml")
    assert by_keywords.to_dict()["steps"] == by_file.to_dict()["steps"]
    # Seed figure: 70B fp16 at TP=8 streams 17.6 GB of weights per GPU, 5.2 ms at 3.35 TB/s.
    assert by_file.memory.weight_bytes == pytest.approx(17.6e9, rel=0.01)


def test_plan_keyword_errors_name_the_key() -> None:
    with pytest.raises(roofline.InputError) as error:
        roofline.plan("llama-3-70b", hardware="h100-sxm", tensr=8)
    assert error.value.place == "tensr" and "tensor" in error.value.fix
    with pytest.raises(roofline.InputError, match="no hardware"):
        roofline.plan("llama-3-70b")
    with pytest.raises(roofline.InputError, match="serving-config key"):
        roofline.plan("llama-3-70b", hardware="h100-sxm", parallelism_tensor=8)


def test_plan_section_as_a_dict_merges() -> None:
    result = roofline.plan(REPO / "examples" / "llama70b_h100_tp8.yaml", serving={"batch": 4})
    assert result.baseline.batch == 4 and result.to_dict()["final_config"]["serving"]["prompt_tokens"] == 1024


def test_classify_list_and_directory() -> None:
    several = roofline.classify([TRACE, TRACE])
    assert isinstance(several, list) and len(several) == 2
    fleet = roofline.classify(REPO / "tests" / "data" / "h200x2" / "exposed", jobs=1)
    assert type(fleet).__name__ == "FleetResult" and len(fleet.to_dataframe()) == len(fleet.ranks)


def test_bad_input_is_input_error_not_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(roofline.InputError) as error:
        roofline.classify(broken)
    assert str(broken) in str(error.value)
    with pytest.raises(roofline.InputError):
        roofline.device("h100-sxn")


def test_rich_and_html_views_escape_the_trace(tmp_path: Path) -> None:
    from rich.console import Console

    result = roofline.classify(TRACE)
    hostile = result.model_copy(update={"kernels": [result.kernels[0].model_copy(
        update={"name": "<script>alert(1)</script>"})] + result.kernels[1:]})
    html = hostile._repr_html_()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    console = Console(width=200, record=True, file=open("/dev/null", "w"))
    console.print(result)
    assert "launch-bound" in console.export_text()


def test_to_dataframe_without_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(roofline.MissingDependencyError, match="pip install pandas"):
        roofline.classify(TRACE).to_dataframe()
