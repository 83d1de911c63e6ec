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


def test_the_b200_trace_is_gpt_oss_120b_by_its_own_facts() -> None:
    """What the trace records, read with plain gzip + json, against the bundled config.json: the
    model the corpus tests and bench_corpus pass for it is the one its shapes identify."""
    import collections
    import gzip
    import json

    trace = json.loads(gzip.decompress(B200.read_bytes()))
    ops = [e for e in trace["traceEvents"] if e.get("cat") == "cpu_op"]
    calls = collections.Counter(e["name"] for e in ops)
    dims = {e["name"]: e["args"]["Input Dims"] for e in ops if e["name"].startswith("vllm::")}
    config = json.loads((Path(__file__).resolve().parents[1] / "workloads" / "models" / "gpt-oss-120b.json").read_text())
    world = trace["distributedInfo"]["world_size"]
    hidden, logits = dims["vllm::moe_forward"][:2]
    q, k = dims["vllm::unified_attention_with_output"][:2]
    assert logits[1] == config["num_local_experts"] == 128
    assert calls["vllm::moe_forward"] == calls["vllm::unified_attention_with_output"] == config["num_hidden_layers"]
    reduced = collections.Counter(e["args"]["Input Dims"][0][1] for e in ops if e["name"] == "vllm::all_reduce")
    assert reduced[config["hidden_size"]] >= config["num_hidden_layers"]  # after each attention: [T, 2880]
    assert config["hidden_size"] <= hidden[1] < config["hidden_size"] + 256  # 3072: padded for the MXFP4 MoE
    assert (q[1] * world, k[1] * world, q[2]) == (config["num_attention_heads"], config["num_key_value_heads"],
                                                  config["head_dim"])
    assert config["quantization_config"]["quant_method"] == "mxfp4"
    assert any("MxE2m1" in e.get("name", "") for e in trace["traceEvents"] if e.get("cat") == "kernel")


def _bounded_share(result) -> float:  # type: ignore[no-untyped-def]
    times = result.summary.time_by_bound.model_dump()
    return 1 - times["unknown"] / sum(times.values())


def test_report_plot_and_plan_take_the_model_like_classify(tmp_path: Path) -> None:
    """Every front end that reads a trace sizes its engine ops the same way: the report's verdict,
    the plot and the trace plan rest on the 95.8% of GPU time --model costs, not on 43.7%."""
    report = tmp_path / "r.md"
    done = runner.invoke(app, ["report", str(B200), "--model", "gpt-oss-120b", "-o", str(report), "--no-images"])
    assert done.exit_code == 0, done.stderr
    bare = tmp_path / "bare.md"
    assert runner.invoke(app, ["report", str(B200), "-o", str(bare), "--no-images"]).exit_code == 0
    assert report.read_text() != bare.read_text()
    png = tmp_path / "r.png"
    assert runner.invoke(app, ["plot", str(B200), "--model", "gpt-oss-120b", "-o", str(png)]).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Without the model the plan warns that half the kernel time has no FLOPs/bytes; with it, not.
    assert any("has no FLOPs/bytes" in n for n in roofline.plan_trace(B200).notes)
    assert not any("has no FLOPs/bytes" in n for n in roofline.plan_trace(B200, model="gpt-oss-120b").notes)
    cli = runner.invoke(app, ["plan", str(B200), "--model", "gpt-oss-120b", "-f", "json"])
    assert cli.exit_code == 0 and "has no FLOPs/bytes" not in cli.stdout
    bad = runner.invoke(app, ["report", str(B200), "--model", "gpt-oss-12b", "-o", str(report)])
    assert bad.exit_code == 2 and "unknown model" in bad.stderr


def test_model_and_graph_capture_are_refused_for_a_serving_config(tmp_path: Path) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("model: llama-3.1-8b\nhardware: h100-sxm\n")
    for cmd in (["report", str(config), "-o", str(tmp_path / "r.md")], ["plot", str(config), "-o", str(tmp_path / "p.png")],
                ["plan", str(config)]):
        result = runner.invoke(app, [*cmd, "--graph-capture", str(tmp_path)])
        assert result.exit_code == 2 and "--graph-capture" in result.stderr, (cmd, result.stderr)
    result = runner.invoke(app, ["report", str(config), "--model", "gpt-oss-120b", "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 2 and "--model" in result.stderr
