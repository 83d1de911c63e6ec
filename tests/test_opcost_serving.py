"""Cost formulas for MoE and serving-engine ops, on the argument layouts of real vLLM/SGLang traces
(TraceLens test data, MIT): shapes below are copied from those traces. Each figure is arithmetic
from the op's definition, or a cross-check against an independently costed equivalent.
"""

from __future__ import annotations

import pytest

from roofline.opcost import NoCost, OpCall, OpCost, op_cost
from roofline.precision import Unit

BF16, F32, I64, U8, FP8 = "c10::BFloat16", "float", "long int", "unsigned char", "c10::Float8_e4m3fn"


def cost(name: str, dims, types, concrete=None) -> OpCost:
    result = op_cost(OpCall(name, dims, types, None, concrete))
    assert isinstance(result, OpCost), result
    return result


def test_grouped_mm_equals_the_sum_of_its_groups() -> None:
    # torch._grouped_mm(A [ΣM, K], B [G, K, N], offs): whatever the split of the 48 rows, the work is
    # the sum of one mm per group — here three aten::mm of 16 rows (costed by gemm.py).
    grouped = cost("aten::_grouped_mm", [[48, 32], [3, 32, 24], [3], [], []], [BF16, BF16, "int", "", ""])
    per_group = sum(cost("aten::mm", [[16, 32], [32, 24]], [BF16] * 2).flops for _ in range(3))
    assert grouped.flops == per_group == 2 * 48 * 32 * 24
    assert grouped.unit is Unit.MATRIX
    batched = cost("aten::_grouped_mm", [[3, 16, 32], [3, 32, 24], [], [], []], [BF16, BF16, "", "", ""])
    assert batched.flops == cost("aten::bmm", [[3, 16, 32], [3, 32, 24]], [BF16] * 2).flops


def test_routing_ops() -> None:
    # histc of the router's top-2 ids for 64 tokens into 8 experts; nonzero's output is data-dependent
    assert cost("aten::histc", [[64, 2], [], [], []], [F32, "Scalar", "Scalar", "Scalar"], ["", "8", "0", "7"]).bytes \
        == 128 * 4 + 8 * 4
    nz = cost("aten::nonzero", [[64, 2]], ["bool"])
    assert nz.bytes == 128 and "lower bound" in nz.formula


def test_vllm_fused_add_rms_norm_and_rms_norm() -> None:
    # vLLM on B200: _C::fused_add_rms_norm(input [888, 2880], residual, weight [2880], eps) updates
    # residual and input in place: 4 reads/writes of 888·2880 bf16 + the weight
    n = 888 * 2880
    fused = cost("_C::fused_add_rms_norm", [[888, 2880], [888, 2880], [2880], []], [BF16] * 3 + ["Scalar"])
    assert fused.bytes == 4 * n * 2 + 2880 * 2 and fused.flops == 5 * n
    plain = cost("_C::rms_norm", [[888, 2880], [888, 2880], [2880], []], [BF16] * 3 + ["Scalar"])
    assert plain.bytes == 2 * n * 2 + 2880 * 2 and plain.flops == 4 * n
    # aiter's add_rmsnorm(out, input, residual_in, residual_out, weight, eps) moves the same 4 tensors
    aiter = cost("aiter::add_rmsnorm", [[15360, 4096]] * 4 + [[4096], []], [BF16] * 5 + ["Scalar"])
    assert aiter.bytes == 4 * 15360 * 4096 * 2 + 4096 * 2


def test_rotary_embedding_rotates_q_and_k_heads() -> None:
    # _C::rotary_embedding(positions [888], query [888, 512], key [888, 64], head_size 64,
    # cos_sin_cache [131072, 64], is_neox): 8 query heads + 1 key head of 64, all rotated
    c = cost("_C::rotary_embedding", [[888], [888, 512], [888, 64], [], [131072, 64], []],
             [I64, BF16, BF16, "Scalar", BF16, "Scalar"], ["", "", "", "64", "", "True"])
    rotated = 888 * 9 * 64
    assert c.flops == 3 * rotated
    assert c.bytes == 2 * rotated * 2 + 888 * 8 + 888 * 64 * 2


def test_kv_cache_write_into_an_fp8_cache() -> None:
    # reshape_and_cache_flash(key [888, 1, 64], value, key_cache uint8 (fp8), value_cache, slots [888], …)
    c = cost("_C_cache_ops::reshape_and_cache_flash",
             [[888, 1, 64], [888, 1, 64], [4213816, 16, 1, 64], [4213816, 16, 1, 64], [888], [], [], []],
             [BF16, BF16, U8, U8, I64, "", F32, F32])
    n = 2 * 888 * 64
    assert c.bytes == n * 2 + n * 1 + 888 * 8 and c.flops == n


def test_silu_and_mul_and_fp8_quant() -> None:
    c = cost("sgl_kernel::silu_and_mul", [[15360, 12288], [15360, 24576]], [BF16, BF16])
    assert c.flops == 6 * 15360 * 12288 and c.bytes == 15360 * 24576 * 2 + 15360 * 12288 * 2
    q = cost("_C::static_scaled_fp8_quant", [[888, 512], [888, 512], []], [FP8, BF16, F32])
    assert q.bytes == 888 * 512 * (2 + 1)


def test_aiter_batch_prefill_of_equal_sequences_costs_as_dense_flash_attention() -> None:
    # SGLang prefill on MI300X: aiter::mha_batch_prefill(q [15360, 32, 128], paged K/V [835874, 8, 128],
    # cu_seqlens_q [16] …, max_seqlen_q = max_seqlen_k = 1024, causal): 15 sequences × 1024 = 15360
    # tokens, so every sequence is 1024 long — the work of flash attention on [15, 1024, 32, 128].
    dims = [[15360, 32, 128], [835874, 8, 128], [835874, 8, 128], [16], [16], [15616]] + [[]] * 24
    types = [BF16] * 3 + ["int"] * 3 + ["Scalar"] * 12 + [""] * 12
    concrete = [""] * 6 + ["1024", "1024", "0.", "0.088", "0.", "False", "True"] + [""] * 17
    c = cost("aiter::mha_batch_prefill", dims, types, concrete)
    dense = cost("aten::_flash_attention_forward",
                 [[15, 1024, 32, 128], [15, 1024, 8, 128], [15, 1024, 8, 128], [], [], [], [], [], [], []],
                 [BF16] * 3 + [""] * 2 + ["Scalar"] * 5, [""] * 5 + ["1024", "1024", "0.", "True", "False"])
    assert c.flops == dense.flops == 4 * 15 * 32 * 1024 * 1024 * 128 / 2
    ragged = op_cost(OpCall("aiter::mha_batch_prefill", dims, types, None,
                            concrete[:6] + ["2048"] + concrete[7:]))
    assert isinstance(ragged, NoCost) and "per-sequence lengths" in ragged.reason


def test_ops_that_cannot_be_sized_say_what_is_missing() -> None:
    moe = op_cost(OpCall("vllm::moe_forward", [[888, 3072], [888, 128], []], [BF16, BF16, ""]))
    assert isinstance(moe, NoCost) and "expert weights" in moe.reason and "--model" in moe.reason
    attn = op_cost(OpCall("vllm::unified_attention_with_output",
                          [[888, 8, 64], [888, 1, 64], [888, 1, 64], [888, 8, 64], [], [], []],
                          [FP8, BF16, BF16, BF16, "", "", ""]))
    assert isinstance(attn, NoCost) and "context lengths" in attn.reason


# vllm::moe_forward with the model (classify --model). Figures: hand arithmetic from the public
# config.json of openai/gpt-oss-120b and gpt-oss-20b (hidden 2880, expert width 2880, top-4 of 128 /
# 32 experts, SwiGLU: gate, up, down) and the OCP Microscaling spec v1.0 (MXFP4: 32 E2M1 elements
# of 4 bits share one 8-bit E8M0 scale: (32·4 + 8)/32 = 4.25 bits = 0.53125 B per weight).
MOE_B200 = OpCall("vllm::moe_forward", [[888, 3072], [888, 128], []], [BF16, BF16, ""])  # TraceLens b200


def _gpt_oss(name: str, shards: int = 1):
    from dataclasses import replace

    from roofline.app.model_context import model_layer

    return replace(model_layer(name), shards=shards, shards_from=f"{shards} GPU(s) (test)")


def test_moe_forward_with_the_model_is_the_config_arithmetic() -> None:
    from roofline.opcost.model_layer import using_model

    with using_model(_gpt_oss("gpt-oss-120b", shards=8)):
        c = op_cost(MOE_B200)
    assert isinstance(c, OpCost), c
    # 2·T·k·3·H·I/N + 6·T·E = 2·888·4·3·2880·2880/8 + 6·888·128 = 22,096,281,600 + 681,984
    assert c.flops == 22_096_963_584
    # (1 − 4/128)^888 = e^(888·ln 0.96875) ≈ 6e-13: every expert touched; 128·3·2880²·0.53125/8 =
    # 211,507,200 B of weights; + hidden states read and written 2·888·3072·2, logits 888·128·2
    assert c.bytes == pytest.approx(211_507_200 + 10_911_744 + 227_328, rel=1e-9)
    assert c.unit is Unit.MATRIX and "3072 padded" in c.formula and "MXFP4" in c.formula


def test_moe_forward_decode_touches_the_expected_experts_only() -> None:
    from roofline.opcost.model_layer import using_model

    # gpt-oss-20b decode, T=32 (TraceLens vllm_decode_full capture): 32·(1 − (7/8)^32) = 32·(1 − 0.013931)
    # = 31.554 experts touched of 32; 3·2880²·0.53125 = 13,219,200 B each
    call = OpCall("vllm::moe_forward", [[32, 3072], [32, 32], [], []], [BF16, BF16, "", ""])
    with using_model(_gpt_oss("gpt-oss-20b")):
        c = op_cost(call)
    assert isinstance(c, OpCost), c
    assert c.flops == 2 * 32 * 4 * 3 * 2880 * 2880 + 6 * 32 * 32
    assert c.bytes == pytest.approx(31.554 * 13_219_200 + 2 * 32 * 3072 * 2 + 32 * 32 * 2, rel=2e-5)


def test_moe_forward_refuses_a_model_the_shapes_contradict() -> None:
    from roofline.opcost.model_layer import using_model

    with using_model(_gpt_oss("gpt-oss-20b")):  # 32 experts, the trace's router has 128
        c = op_cost(MOE_B200)
    assert isinstance(c, NoCost) and "wrong --model" in c.reason
    from roofline.app.model_context import model_layer

    with using_model(model_layer("qwen3-30b-a3b")):  # 128 experts, but hidden 2048: 3072 is not padding
        c = op_cost(MOE_B200)
    assert isinstance(c, NoCost) and "wrong --model" in c.reason
    with using_model(model_layer("llama-3-8b")):
        c = op_cost(MOE_B200)
    assert isinstance(c, NoCost) and "no experts" in c.reason


def test_shards_are_told_by_the_attention_heads_recorded() -> None:
    from roofline.app.model_context import model_layer
    from roofline.opcost.model_layer import shards_from_attention

    layer = model_layer("gpt-oss-120b")
    calls = [("vllm::moe_forward", [[888, 3072], [888, 128], []]),
             ("vllm::unified_attention_with_output", [[888, 8, 64], [888, 1, 64], [888, 1, 64], [888, 8, 64]])]
    assert shards_from_attention(layer, calls).shards == 8  # 64 heads in the config, 8 on this GPU
    assert shards_from_attention(layer, calls[:1]).shards == 1


def test_expert_weight_formats_from_quantization_config() -> None:
    from roofline.app.model_context import expert_weight_format

    assert expert_weight_format({"quantization_config": {"quant_method": "mxfp4"}})[0] == 0.53125
    assert expert_weight_format({"quantization_config": {"quant_method": "fp8"}})[0] == 1.0
    # GPTQ 4-bit, group 128: 0.5 B + one fp16 scale per 128 weights
    assert expert_weight_format({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128}})[0] \
        == 0.5 + 2 / 128
    assert expert_weight_format({"quantization_config": {"quant_method": "mxfp4",
                                                         "modules_to_not_convert": ["mlp.experts"]}})[0] == 2.0
    assert expert_weight_format({"torch_dtype": "float32"})[0] == 4.0


def test_triton_kernels_routing_ops() -> None:
    # TraceLens vllm_decode_full capture (gpt-oss-20b, T=32, E=32, k=4). Buffer types are those
    # triton_kernels allocates: int16 top-k indices, a uint32 bitmatrix of ceil(32/32)=1 word per row
    # (rows padded to 32), int32 index lists and histogram.
    topk = cost("TopK", [[32, 32], [], [], [], [], [], []], [BF16, "Scalar", "Scalar", "Scalar", "Scalar", "", ""],
                ["", "4", "True", "1", "True", "", ""])
    assert topk.flops == 32 * 32 + 5 * 32 * 4  # 1024 compares + softmax over the 128 kept
    assert topk.bytes == 32 * 32 * 2 + 32 * 4 * (2 + 2) + 1 * 32 * 4  # 2048 + 512 + 128
    sort = cost("SortTokens", [[32, 4], [32, 4], []], [BF16, "short int", "Scalar"], ["", "", "32"])
    assert sort.flops == 0
    # read: scores 256 + ids 256 + bitmatrix 128; written: 2·128·4 + 128·2 + 32·4
    assert sort.bytes == 256 + 256 + 128 + 1024 + 256 + 128
