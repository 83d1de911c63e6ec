"""Weight placement under attention DP: which weights each DP group replicates and which stay sharded
over the whole replica (SGLang keeps the LM head, the dense layers' FFN and the shared experts on the
full TP group; vLLM and TensorRT-LLM replicate everything but the routed experts by default).

Expected values are DeepSeek-V3's parameter counts by hand from its config.json (workloads/models/
deepseek-v3.json: hidden 7168, vocab 129280, intermediate 18432 over first_k_dense_replace 3 layers,
58 MoE layers of 256 routed experts and 1 shared expert of moe_intermediate 2048, gated FFNs).
"""

from __future__ import annotations

import pytest

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.workload.memory import plan_memory
from roofline.workload.model import load_model
from roofline.workload.parallel import dp_sharded_params
from roofline.workload.serving import ServingConfig

LM_HEAD = 129280 * 7168                 # 926,679,040
DENSE_FFN = 3 * 3 * 7168 * 18432        # 1,189,085,184
SHARED = 58 * 3 * 7168 * 2048           # 2,554,331,136
ROUTED = 58 * 256 * 3 * 7168 * 2048     # 653,908,770,816
TOTAL = 671_026_404_352                 # the bundled count (model card: 671B)


def config(engine: str, **parallel) -> ServingConfig:
    """Config 227's prefill worker (SGLang --tp 4 --dp 4 --enable-dp-attention), fp8 DeepSeek-V3 on GB200."""
    layout = {"tensor": 1, "attention_data": 4, "expert": 1, "expert_tensor": 4, **parallel}
    return ServingConfig.model_validate({
        "model": "deepseek-v3", "hardware": "gb200", "gpus": 4, "parallelism": layout,
        "precision": {"weights": "fp8", "activations": "fp8", "kv_cache": "fp8"},
        "runtime": {"engine": engine}, "serving": {"concurrency": 16, "prompt_tokens": 1024, "output_tokens": 1024}})


def weights_per_gpu(cfg: ServingConfig) -> float:
    arch = load_model("deepseek-v3")[0]
    spec = load_registry().resolve(cfg.hardware)
    context = build_context(cfg, arch, spec, roofs_from_spec(spec))
    return plan_memory(arch, context.effective(cfg), context.capacity_bytes).weight_bytes


def test_group_parameters_by_hand() -> None:
    arch = load_model("deepseek-v3")[0]
    assert arch.total_params == TOTAL and arch.routed_expert_params == ROUTED
    assert dp_sharded_params(arch, ("lm_head",)) == LM_HEAD
    assert dp_sharded_params(arch, ("dense_ffn",)) == DENSE_FFN
    assert dp_sharded_params(arch, ("shared_experts",)) == SHARED
    assert dp_sharded_params(arch, ()) == 0 and dp_sharded_params(arch, None) == 0


def test_sglang_dp_attention_shards_lm_head_dense_and_shared_experts() -> None:
    """fp8, 1 byte a weight. Replicated on each of the 4 DP ranks (attention TP 1): attention,
    embedding, router, norms; over the 4 GPUs: routed experts (moe_tp 4) and the three groups."""
    replicated = TOTAL - ROUTED - LM_HEAD - DENSE_FFN - SHARED
    expected = replicated + (ROUTED + LM_HEAD + DENSE_FFN + SHARED) / 4
    assert weights_per_gpu(config("sglang")) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(177.09e9, abs=0.01e9)
    # Replicating all but the routed experts (vLLM, TensorRT-LLM) costs 3/4 of the three groups more.
    vllm = weights_per_gpu(config("vllm"))
    assert vllm == pytest.approx(TOTAL - ROUTED + ROUTED / 4, rel=1e-9)  # 180.60 GB: the old refusal's figure
    assert vllm - expected == pytest.approx(0.75 * (LM_HEAD + DENSE_FFN + SHARED), rel=1e-9)  # 3.50 GB


def test_config_placement_overrides_the_engine() -> None:
    assert weights_per_gpu(config("sglang", dp_sharded=[])) == pytest.approx(weights_per_gpu(config("vllm")))
    only_head = weights_per_gpu(config("sglang", dp_sharded=["lm_head"]))
    assert weights_per_gpu(config("vllm")) - only_head == pytest.approx(0.75 * LM_HEAD, rel=1e-9)


def test_without_attention_dp_the_placement_changes_nothing() -> None:
    """tensor 4 already shards everything over the 4 GPUs: no group to move."""
    tp4 = {"tensor": 4, "attention_data": 1, "expert": 1, "expert_tensor": 4}
    assert weights_per_gpu(config("sglang", **tp4)) == pytest.approx(weights_per_gpu(config("vllm", **tp4)))
    assert weights_per_gpu(config("sglang", **tp4)) == pytest.approx(TOTAL / 4, rel=1e-9)


def test_config_227_is_still_refused_with_the_arithmetic() -> None:
    """177.1 GB of weights on a GB200 (198.67e9 usable bytes) exceed the pool SGLang's own formula
    (scheduler.memory_reserve, server_args._handle_gpu_memory_settings) gives this prefill worker at the
    profile's 8,192-token budget: 0.878 × 198.67 = 174.4 GB (174.8 GB at the old fixed 0.88; 0.813 at
    SGLang's 16,384 default chunk on this part). The run needed mem_fraction_static ≥ 0.89; the corpus
    does not record it."""
    from roofline.errors import InputError

    cfg = ServingConfig.model_validate({**config("sglang").model_dump(exclude_none=True), "gpus": 8, "serving": {
        "concurrency": 16, "prompt_tokens": 1024, "output_tokens": 1024, "disaggregated": {
            "prefill": {"workers": 1, "tensor": 1, "attention_data": 4, "expert": 1, "expert_tensor": 4},
            "decode": {"workers": 1, "tensor": 1, "attention_data": 4, "expert": 1, "expert_tensor": 4}}}})
    arch = load_model("deepseek-v3")[0]
    spec = load_registry().resolve("gb200")
    context = build_context(cfg, arch, spec, roofs_from_spec(spec))
    with pytest.raises(InputError, match=r"177\.1 GB per GPU of 174\.4 GB"):
        evaluate(cfg, context)


def test_expert_memory_replaces_the_dense_streaming_efficiency_for_the_experts_only() -> None:
    """moe.expert_memory.fp4 0.9 against a dense fp4 gemm_memory of 0.5: a weight-streaming expert
    GEMM of 1 GB on a B200 (8 TB/s datasheet) takes 1e9 / (8e12 × 0.9) = 139 µs; a dense fp4 GEMM
    of the same bytes 1e9 / (8e12 × 0.5) = 250 µs; a dequantizing (weight-only) expert keeps the
    dequant efficiency."""
    from roofline.precision import Precision, Unit
    from roofline.workload.efficiency import Efficiency
    from roofline.workload.engine_profile import EngineProfile, Kernels, MoEConstants
    from roofline.workload.op_record import PhaseOp
    from roofline.workload.predict import op_time

    spec = load_registry().resolve("b200")
    roofs = roofs_from_spec(spec)
    bandwidth = roofs.memory_bandwidth.value
    profile = EngineProfile(name="x", kernels=Kernels(gemm_memory={"fp4": 0.5}),
                            moe=MoEConstants(expert_memory={"fp4": 0.9}))
    eff = profile.efficiency(Efficiency())
    experts = PhaseOp("experts", "gemm", 0.0, 1e9, Precision.FP4, Unit.MATRIX, 3, 1, weight_bytes=1e9, rows=1)
    dense = PhaseOp("gate_up", "gemm", 0.0, 1e9, Precision.FP4, Unit.MATRIX, 1, 1, weight_bytes=1e9, rows=1)
    assert op_time(experts, roofs, eff)[0] == pytest.approx(1e9 / (bandwidth * 0.9))
    assert op_time(dense, roofs, eff)[0] == pytest.approx(1e9 / (bandwidth * 0.5))
    dequant = PhaseOp("experts", "gemm", 0.0, 1e9, Precision.BF16, Unit.MATRIX, 3, 1, weight_bytes=1e9, rows=1,
                      dequant=True)
    assert op_time(dequant, roofs, eff)[0] == pytest.approx(1e9 / (bandwidth * Efficiency().dequant_memory))
    with pytest.raises(ValueError, match="expert_memory.fp4"):
        MoEConstants(expert_memory={"fp4": 1.5})


def test_sharded_groups_run_sharded_on_every_dp_groups_tokens() -> None:
    """The decode step reads what each GPU holds: under SGLang's placement (tp 1, attention DP 4,
    expert_tensor 4, 16 sequences = 4 per DP group) the shared expert is 3 × 7168 × 2048/4 fp8 bytes
    per layer for all 16 tokens, a dense layer's gate_up 7168 × 2 × 18432/4, the LM head 129280/4
    columns for 16 rows; replicated (vLLM) they are the full widths for the group's 4 tokens."""
    from roofline.workload.phases import PhaseShape, build_phase_ops

    arch = load_model("deepseek-v3")[0]
    shape = PhaseShape("decode", 16, 1, 2048)

    def ops(engine: str) -> dict[str, object]:
        cfg = config(engine)
        spec = load_registry().resolve(cfg.hardware)
        effective = build_context(cfg, arch, spec, roofs_from_spec(spec)).effective(cfg)
        return {op.name: op for op in build_phase_ops(arch, effective, shape)}

    sglang, vllm = ops("sglang"), ops("vllm")
    assert sglang["shared_experts"].weight_bytes == pytest.approx(3 * 7168 * 512)
    assert sglang["shared_experts"].rows == 16
    assert vllm["shared_experts"].weight_bytes == pytest.approx(3 * 7168 * 2048) and vllm["shared_experts"].rows == 4
    assert sglang["gate_up"].weight_bytes == pytest.approx(7168 * 2 * 4608) and sglang["gate_up"].rows == 16
    assert vllm["gate_up"].weight_bytes == pytest.approx(7168 * 2 * 18432) and vllm["gate_up"].rows == 4
    assert sglang["lm_head"].weight_bytes == pytest.approx(7168 * 32320) and sglang["lm_head"].rows == 16
    assert vllm["lm_head"].weight_bytes == pytest.approx(7168 * 129280) and vllm["lm_head"].rows == 4
