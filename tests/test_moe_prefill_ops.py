"""The DeepSeek-R1 prefill of one 8,192-token prompt on 8 GPUs (TP 8, experts split 8 ways), op by op
against hand arithmetic from the model card's shapes (docs/fidelity.md, MoE prefill audit)."""

from __future__ import annotations

import pytest

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.workload.model import load_model
from roofline.workload.serving import ServingConfig

S, TP, LAYERS, MOE_LAYERS = 8192, 8, 61, 58  # DeepSeek-R1: 61 layers, the first 3 dense


@pytest.fixture(scope="module")
def prefill_flops() -> dict[str, float]:
    cfg = ServingConfig.model_validate({
        "model": "deepseek-r1", "hardware": "b200-sxm", "gpus": TP,
        "parallelism": {"tensor": TP, "expert": 1, "expert_tensor": TP},
        "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8", "experts": "fp8"},
        "runtime": {"engine": "sglang"}, "serving": {"concurrency": 1, "prompt_tokens": S, "output_tokens": 2}})
    spec = load_registry().resolve(cfg.hardware)
    p = evaluate(cfg, build_context(cfg, load_model("deepseek-r1")[0], spec, roofs_from_spec(spec))).prediction
    assert (p.prefill.batch, p.prefill.new_tokens) == (1, S)
    return {o.name: o.flops for o in p.prefill.ops}


def test_mla_prefill_attention_is_the_non_absorbed_causal_path(prefill_flops) -> None:
    # 128 heads / 8 per GPU; per causal pair (S²/2 of them) 2 FLOP × (192 qk + 128 v) dims: 2.096e13.
    assert prefill_flops["attention"] == pytest.approx(128 / TP * S * S / 2 * 2 * (192 + 128) * LAYERS, rel=1e-6)
    assert prefill_flops["attention"] == pytest.approx(2.096e13, rel=1e-3)


def test_routed_and_shared_experts_and_projections(prefill_flops) -> None:
    expert = 3 * 7168 * 2048 * 2  # gate, up, down of one 2048-wide expert, per token
    assert prefill_flops["experts"] == pytest.approx(8 * expert / TP * S * MOE_LAYERS, rel=1e-6)  # 4.19e13
    assert prefill_flops["shared_experts"] == pytest.approx(expert / TP * S * MOE_LAYERS, rel=1e-6)
    assert prefill_flops["q_a_proj"] == pytest.approx(2 * 7168 * 1536 * S * LAYERS, rel=1e-6)  # replicated
    assert prefill_flops["o_proj"] == pytest.approx(2 * 128 * 128 / TP * 7168 * S * LAYERS, rel=1e-6)
