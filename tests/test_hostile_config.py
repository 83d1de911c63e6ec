"""Regression tests for config files the fuzzers (tests/fuzz/) broke: each names the input."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from roofline.errors import InputError
from roofline.workload.model import load_model
from roofline.yamlio import load_yaml

REPO = Path(__file__).resolve().parent.parent


def _bomb(levels: int = 8) -> str:
    """Billion laughs: each anchor is a list of ten aliases of the one before (10**levels values)."""
    lines = ["schema_version:", "  - &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines + ["kind: kernels", "kernels: [{name: k, flops: 1, bytes: 1, precision: fp16}]", ""])


def _error(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_yaml(path, what="test file")
    line = caught.value.one_line()
    assert str(path) in line and "\n" not in line
    return line


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    # 70 aliases in 8 lines: the alias count (10,000) let it through, and validation quoting the
    # expanded value ran to 11 GB before it was killed.
    path = tmp_path / "bomb.yaml"
    path.write_text(_bomb())
    started = time.perf_counter()
    assert "alias bomb" in _error(path)
    assert time.perf_counter() - started < 1.0


def test_a_few_shared_anchors_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("a: &x {k: 1}\nb: *x\nc: [*x, *x, *x]\n")
    data, _ = load_yaml(path, what="test file")
    assert data["c"][2] == {"k": 1}


def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    # 500 nested '[' made PyYAML's recursive composer raise RecursionError (exit 3).
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 500 + "]" * 500 + "\n")
    assert "levels deep" in _error(path)


def test_self_referencing_anchor(tmp_path: Path) -> None:
    path = tmp_path / "rec.yaml"
    path.write_text("kernels: &k [{name: a, note: *k}]\n")
    assert "refers to itself" in _error(path)


@pytest.mark.parametrize("text", [".inf", "-.Inf", ".nan", "1.0e+999"])
def test_non_finite_floats_are_refused_with_their_line(tmp_path: Path, text: str) -> None:
    # slo: {itl_ms: .inf} reached the planner's log() (math domain error, exit 3).
    path = tmp_path / "inf.yaml"
    path.write_text(f"model: llama-3-70b\nslo:\n  itl_ms: {text}\n")
    line = _error(path)
    assert "line 3" in line and "not a finite number" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    # Reading a FIFO blocks forever; st_size is 0 so the size cap did not stop it.
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in _error(fifo)


@pytest.mark.parametrize("value", ["Infinity", "NaN", '{"a": 1}', "1e400", "100000000000000000000", "true"])
def test_hf_config_non_counts_are_errors(tmp_path: Path, value: str) -> None:
    # intermediate_size: Infinity (which Python's json accepts) overflowed int() (exit 3); an
    # object there raised TypeError (exit 3).
    config = json.loads((REPO / "workloads" / "models" / "llama-3-70b.json").read_text())
    text = json.dumps(config).replace('"intermediate_size": 28672', f'"intermediate_size": {value}')
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_model(str(path))
    assert str(path) in caught.value.one_line()


def test_spec_peak_past_plausible_is_refused(tmp_path: Path) -> None:
    # peak_tflops 1.8e308 (or a bandwidth of 1e300 TB/s) became an infinite roof: inf reached
    # the output of classify and hw show.
    text = (REPO / "hwspecs" / "h200-sxm.yaml").read_text()
    for old, new in (("bf16: 989.4", "bf16: 1.7976931348623157e+308"), ("bandwidth_tb_s: 4.8", "bandwidth_tb_s: 1e+300")):
        assert old in text
        path = tmp_path / "spec.yaml"
        path.write_text(text.replace(old, new, 1))
        from roofline.hardware.registry import load_hw_file

        with pytest.raises(InputError) as caught:
            load_hw_file(path)
        assert str(path) in caught.value.one_line() and "line" in caught.value.one_line()


def test_classify_json_output_is_strict_json_and_reads_back(tmp_path: Path) -> None:
    # A kernel that moves no DRAM bytes has an infinite AI; --format json wrote 'Infinity', which
    # jq, orjson and roofline's own classify-JSON reader refuse.
    import orjson
    from typer.testing import CliRunner

    from roofline.cli import app
    from roofline.sources.classify_json import load_classify_json

    kernels = tmp_path / "k.yaml"
    kernels.write_text("schema_version: 1\nkind: kernels\nkernels:\n"
                       "  - {name: regs_only, flops: 1e9, bytes: 0, precision: fp16, unit: matrix}\n")
    out = tmp_path / "k.json"
    result = CliRunner().invoke(app, ["classify", str(kernels), "--hw", "h100", "-f", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert orjson.loads(out.read_bytes())["kernels"][0]["ai"] is None
    assert load_classify_json(out)[0].kernels[0].name == "regs_only"


@pytest.mark.parametrize("edit", [('"total_s": ', '"total_s": "1e400", "x": '), ('"total_s": ', '"total_s": -5, "x": ')])
def test_classify_json_with_infinite_or_negative_numbers_is_refused(tmp_path: Path, edit: tuple[str, str]) -> None:
    # Pydantic reads the string "1e400" as an infinite float: a hand-edited result reached the
    # plot with an infinite time (found by fuzzing classify JSON).
    from typer.testing import CliRunner

    from roofline.cli import app
    from roofline.sources.classify_json import load_classify_json

    trace = REPO / "tests" / "data" / "h200" / "kineto" / "gemm_bf16_8192.json.gz"
    result = CliRunner().invoke(app, ["classify", str(trace), "--hw", "h200", "-f", "json"])
    path = tmp_path / "result.json"
    path.write_text(result.stdout.replace(*edit, 1))
    with pytest.raises(InputError, match="not a roofline classify result"):
        load_classify_json(path)


@pytest.mark.parametrize("extra", ["speculative: {draft_params_b: 2.35e298, k: 8, acceptance: 0.5}",
                                   "slo: {itl_ms: 5.0e-324, throughput_tok_s: 5.0e-324}"])
def test_serving_config_extremes_are_refused_not_crashes(tmp_path: Path, extra: str) -> None:
    # Valid-looking but extreme values found by fuzzing: a 1e298 B-parameter draft overflowed
    # int() in the synthetic draft; a subnormal SLO made the planner take log(inf).
    from typer.testing import CliRunner

    from roofline.cli import app

    path = tmp_path / "serve.yaml"
    path.write_text(f"model: llama-3-8b\nhardware: h200\n{extra}\n")
    result = CliRunner().invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and str(path) in result.output, result.output


def test_model_path_with_a_nul_byte(tmp_path: Path) -> None:
    # model: "\0" made Path.resolve() raise ValueError (embedded null byte, exit 3).
    from typer.testing import CliRunner

    from roofline.cli import app

    path = tmp_path / "serve.yaml"
    path.write_text('model: "a\\0b"\nhardware: h100-sxm\n')
    result = CliRunner().invoke(app, ["plan", str(path)])
    assert result.exit_code == 2 and f"{path}:model" in result.output, result.output
