"""`roofline plan`: the serving model pinned to the seed chapter's worked examples (SPEC §5), and
the planner's ordering on the 70B case study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from roofline.cli import app
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.planner.serving_planner import plan_serving
from roofline.precision import Precision
from roofline.workload.memory import max_batch_that_fits, plan_memory, weight_bits
from roofline.workload.model import ModelArch, load_model
from roofline.workload.phases import PhaseShape, attention_op
from roofline.workload.predict import (
    allreduce_payload_bytes,
    decode_arithmetic_intensity,
    expected_tokens_per_pass,
    fusion_traffic_saved,
)
from roofline.workload.serving import ServingConfig

runner = CliRunner()
SPEC_EXAMPLE = """
model: llama-3-70b          # a bundled model, or a path to a Hugging Face config.json
hardware: h100-sxm
gpus: 8
parallelism: {tensor: 8}
precision: {weights: fp16, activations: fp16, kv_cache: fp16}
serving: {batch: 1, prompt_tokens: 1024, output_tokens: 256, max_context_tokens: 4096}
slo: {ttft_ms: 500, itl_ms: 50, throughput_tok_s: 1000}
runtime: {cuda_graphs: false, flash_attention: false, compiled: false}
"""


def config(text: str = SPEC_EXAMPLE, **sections: dict) -> ServingConfig:
    data = yaml.safe_load(text)
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return ServingConfig.model_validate(data)


@pytest.fixture(scope="module")
def h100():
    spec = load_registry().resolve("h100-sxm")
    return spec, roofs_from_spec(spec)


@pytest.fixture(scope="module")
def llama70b() -> ModelArch:
    return load_model("llama-3-70b")[0]


def test_spec_example_is_accepted_as_is(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(SPEC_EXAMPLE)
    result = runner.invoke(app, ["plan", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"memory", "baseline", "steps"} <= set(data)
    assert {"ttft_s", "itl_s", "throughput_tok_s", "max_batch"} <= set(data["baseline"])
    for step in data["steps"]:
        assert {"technique", "targets", "before", "after", "delta", "rationale", "risks"} <= set(step)


def test_70b_weights_per_gpu_and_bandwidth_bound_decode(llama70b, h100) -> None:
    spec, roofs = h100
    cfg = config()
    memory = plan_memory(llama70b, cfg, 80e9)
    # Seed napkin math 1.1: 140 GB of fp16 weights / 8 GPUs ≈ 17.5 GB (70.55 B parameters: 17.64 GB).
    assert memory.weight_bytes == pytest.approx(17.5e9, rel=0.01)
    ev = evaluate(cfg, build_context(cfg, llama70b, spec, roofs))
    decode = ev.prediction.decode
    # ≈5.2 ms per token from bandwidth alone (17.5 GB / 3.35 TB/s); AI ≈ 1 FLOP/B.
    assert decode.ideal_s == pytest.approx(5.22e-3, rel=0.03)
    assert decode.flops / decode.bytes == pytest.approx(1.0, rel=0.05)
    assert decode.bound == "memory"


def test_70b_kv_cache_and_max_batch(llama70b) -> None:
    cfg = config()
    memory = plan_memory(llama70b, cfg, 80e9)
    # 2 · 80 layers · 8 KV heads · 128 · 2 B = 327,680 B/token → 1.34 GB per 4096-token request.
    assert memory.kv_bytes_per_request * 8 == pytest.approx(1.342e9, rel=1e-3)
    assert memory.kv_bytes_per_request == pytest.approx(0.168e9, rel=0.01)
    # Napkin math 1.2 (no workspace or reserve): (80 − 17.5) GB / 0.17 GB ≈ 372 requests.
    assert max_batch_that_fits(80e9, memory.weight_bytes, memory.kv_bytes_per_request) == pytest.approx(372, abs=1)
    # int4 weights (4 bits, no group scales) and an int8 KV cache: ≈ 901.
    int4 = config(precision={"weights": "int4", "kv_cache": "int8"})
    small = plan_memory(llama70b, int4, 80e9)
    assert small.weight_bytes == pytest.approx(4.4e9, rel=0.01)
    assert max_batch_that_fits(80e9, small.weight_bytes, small.kv_bytes_per_request) == pytest.approx(901, abs=1)
    # The planner's own figure keeps a workspace and a 1 GB reserve, so it is a little lower.
    assert 350 <= memory.max_batch < 372


def test_decode_intensity_grows_with_batch() -> None:
    # I(B) = 2PB / (P·b_param + B·d·b_elem): ≈1 at B=1, ≈256 at B=256 (seed 002).
    assert decode_arithmetic_intensity(70e9, 1, 8192, 2, 2) == pytest.approx(1.0, abs=1e-3)
    assert decode_arithmetic_intensity(70e9, 256, 8192, 2, 2) == pytest.approx(256, rel=1e-3)


def test_speculative_decoding_figures() -> None:
    tokens = expected_tokens_per_pass(0.78, 5)
    assert tokens == pytest.approx(3.5, abs=0.05)
    assert (4 + 32) / tokens == pytest.approx(10.3, abs=0.1)  # ms: 4 ms draft + 32 ms verify


def test_flash_attention_state_reduction() -> None:
    # S = 8192, 64 heads of 128, fp16: ≈34.9 GB naive vs ≈537 MB tiled — 65x.
    arch = ModelArch(name="mha", num_layers=1, hidden_size=8192, num_heads=64, num_kv_heads=64, head_dim=128,
                     intermediate_size=28672, vocab_size=32000)
    shape = PhaseShape("prefill", 1, 8192, 8192)
    naive = attention_op(arch, config(runtime={"flash_attention": False}), shape, 64, 64 * 128, 2, 2, 1)
    fused = attention_op(arch, config(runtime={"flash_attention": True}), shape, 64, 64 * 128, 2, 2, 1)
    assert fused.bytes == pytest.approx(536.9e6, rel=1e-3)
    assert naive.bytes == pytest.approx(34.9e9, rel=2e-3)
    assert naive.bytes / fused.bytes == pytest.approx(65, abs=0.5)


def test_fusion_traffic_example() -> None:
    # Bias-GELU at hidden 4096, 2048 tokens, fp16: two 16.8 MB intermediates, 67.1 MB per layer.
    saved = fusion_traffic_saved(2048, 4096, 2, 2)
    assert saved == pytest.approx(67.1e6, rel=1e-3)
    assert 80 * saved == pytest.approx(5.4e9, rel=0.01)


def test_blockwise_int4_bits() -> None:
    assert weight_bits(Precision.INT4, 64) == 4.25
    assert weight_bits(Precision.INT4, None) == 4.0
    assert weight_bits(Precision.FP16, 64) == 16.0


def test_allreduce_payload() -> None:
    assert allreduce_payload_bytes(8192, 1, 2) == pytest.approx(32.8e3, rel=1e-3)
    assert allreduce_payload_bytes(8192, 64, 2) == pytest.approx(2.1e6, rel=0.01)


def test_70b_case_study_plan_order(llama70b, h100) -> None:
    spec, roofs = h100
    cfg = config()
    outcome = plan_serving(cfg, build_context(cfg, llama70b, spec, roofs))
    steps = outcome.steps
    assert steps, outcome.stop_reason
    # The seed's ordering: in batch-1 memory-bound decode, weight quantization comes first.
    assert outcome.baseline.prediction.decode.bound == "memory"
    assert steps[0].candidate.technique.startswith("int4 weight-only")
    # The bottleneck shifts: after int4 the decode step is no longer memory-dominated.
    assert steps[0].after.prediction.decode.bound != "memory"
    assert steps[0].after.prediction.itl_s < 0.7 * steps[0].before.prediction.itl_s
    # Passive steps before serving policy: batching (tier 2) comes after the tier-1 steps.
    tiers = [s.candidate.tier for s in steps]
    assert tiers == sorted(tiers)
    assert outcome.stop_reason == "all SLOs met"
    assert not outcome.final.unmet


def test_gains_are_sub_multiplicative(llama70b, h100) -> None:
    """Steps that attack the same term do not multiply: fused attention and torch.compile both
    remove the unfused attention's small kernels, and int4 makes the step less GPU-bound, which
    leaves CUDA graphs less to hide. Each pair is evaluated by re-running the whole model."""
    spec, roofs = h100
    base = config(slo={"ttft_ms": None, "itl_ms": None, "throughput_tok_s": None})
    context = build_context(base, llama70b, spec, roofs)

    def itl(*changes: tuple[str, dict]) -> float:
        cfg = base
        for section, values in changes:
            cfg = cfg.model_copy(update={section: getattr(cfg, section).model_copy(update=values)})
        return evaluate(cfg, context).prediction.itl_s

    flash = ("runtime", {"flash_attention": True})
    compiled = ("runtime", {"compiled": True})
    t0 = itl()
    assert t0 / itl(flash, compiled) < (t0 / itl(flash)) * (t0 / itl(compiled))
    int4 = ("precision", {"weights": Precision.INT4, "weight_group_size": 128})
    graphs = ("runtime", {"cuda_graphs": True})
    assert t0 / itl(int4, graphs) < (t0 / itl(int4)) * (t0 / itl(graphs))


def test_cli_plan_table_markdown_and_sweep(repo: Path) -> None:
    example = str(repo / "examples" / "llama70b_h100_tp8.yaml")
    table = runner.invoke(app, ["plan", example, "--sweep", "batch=1,8,32,128,1024"])
    assert table.exit_code == 0, table.output
    assert "int4 weight-only" in table.stdout
    assert "batch sweep" in table.stdout
    assert "does not fit" in table.stdout  # batch 1024 exceeds the KV capacity
    md = runner.invoke(app, ["plan", example, "--format", "md"])
    assert md.exit_code == 0
    assert md.stdout.startswith("## roofline plan: llama-3-70b")
    data = json.loads(runner.invoke(app, ["plan", example, "-f", "json", "--sweep", "batch=1,8"]).stdout)
    assert [row["batch"] for row in data["sweep"]] == [1, 8]
    assert data["sweep"][1]["throughput_tok_s"] > data["sweep"][0]["throughput_tok_s"]


def test_moe_model_plans(tmp_path: Path) -> None:
    path = tmp_path / "moe.yaml"
    path.write_text("model: mixtral-8x7b\nhardware: h100-sxm\ngpus: 2\nparallelism: {tensor: 2}\n"
                    "serving: {batch: 4, prompt_tokens: 512, output_tokens: 128}\nslo: {itl_ms: 30}\n")
    result = runner.invoke(app, ["plan", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Mixtral: 46.7 B parameters resident, ~12.9 B active per token.
    assert data["memory"]["weight_bytes"] == pytest.approx(46.7e9 * 2 / 2, rel=0.01)


def test_hf_config_path_and_relative_model(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").write_text((repo / "workloads" / "models" / "llama-3-8b.json").read_text())
    path = tmp_path / "serve.yaml"
    path.write_text("model: cfg/config.json\nhardware: h200\nserving: {batch: 1}\n")
    result = runner.invoke(app, ["plan", str(path), "-f", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["model"] == "cfg/config.json"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model: llama-3-71b\nhardware: h100\n", "unknown model 'llama-3-71b'"),
        ("model: llama-3-70b\nhardware: h100\ngpus: 2\nparallelism: {tensor: 4}\n", "needs tensor × pipeline = 4 GPUs"),
        ("model: llama-3-70b\nhardware: h100\ngpus: 6\nparallelism: {tensor: 6}\n", "does not divide the 64"),
        ("model: llama-3-70b\nhardware: h100\ngpus: 8\nparallelism: {tensor: 8}\nserving: {batch: 5000}\n",
         "batch 5000 does not fit"),
        ("model: llama-3-70b\nhardware: h100\nslo: {itl_ms: -5}\n", "'slo.itl_ms'"),
        ("model: llama-3-70b\nhardware: h100\nspeculative: {draft_params_b: 1, acceptance: 1.2}\n",
         "'speculative.acceptance'"),
        ("model: llama-3-70b\nhardware: h100\nserving: {bach: 4}\n", "did you mean 'batch'"),
        ("model: llama-3-70b\nhardware: h100\n", "does not fit"),  # 1 GPU: 141 GB of weights
    ],
)
def test_bad_configs_are_one_line_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr
    assert result.stderr.count("\n") == 1


def test_config_json_missing_keys(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 1000}))
    path = tmp_path / "serve.yaml"
    path.write_text("model: c.json\nhardware: h100\n")
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2
    assert "missing required key 'num_hidden_layers'" in result.stderr


def test_speculative_config_predicts_lower_itl(tmp_path: Path) -> None:
    base = "model: llama-3-70b\nhardware: h100-sxm\ngpus: 8\nparallelism: {tensor: 8}\nruntime: {cuda_graphs: true}\n"
    plain = tmp_path / "plain.yaml"
    plain.write_text(base)
    spec = tmp_path / "spec.yaml"
    spec.write_text(base + "speculative: {draft_model: llama-3-8b, k: 4, acceptance: 0.8}\n")
    a = json.loads(runner.invoke(app, ["plan", str(plain), "-f", "json"]).stdout)
    b = json.loads(runner.invoke(app, ["plan", str(spec), "-f", "json"]).stdout)
    assert b["baseline"]["itl_s"] < a["baseline"]["itl_s"]


def test_max_batch_fits_and_one_more_does_not(llama70b) -> None:
    """The reported max batch is consistent with evaluating the config at that batch (the
    workspace grows with every running sequence)."""
    cfg = config()
    limit = plan_memory(llama70b, cfg, 80e9).max_batch
    at = config(serving={"batch": limit})
    over = config(serving={"batch": limit + 1})
    assert plan_memory(llama70b, at, 80e9).feasible
    assert not plan_memory(llama70b, over, 80e9).feasible


def test_no_sequence_fits_does_not_suggest_batch_zero(tmp_path: Path) -> None:
    # 70B with int4 weights on one H100 fits (35.3 GB), but one 262,144-token request's fp16 KV cache
    # (2 · 80 · 8 · 128 · 2 B = 327,680 B/token → 85.9 GB) does not.
    path = tmp_path / "big.yaml"
    path.write_text(SPEC_EXAMPLE.replace("gpus: 8", "gpus: 1").replace("{tensor: 8}", "{tensor: 1}")
                    .replace("weights: fp16", "weights: int4").replace("max_context_tokens: 4096",
                                                                       "max_context_tokens: 262144"))
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 2, result.output
    assert "to 0" not in result.output and "not even one sequence fits" in result.output
