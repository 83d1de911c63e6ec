"""Cost formulas for MoE and serving-engine ops, on the argument layouts of real vLLM/SGLang traces
(TraceLens test data, MIT): shapes below are copied from those traces. Each figure is arithmetic
from the op's definition, or a cross-check against an independently costed equivalent.
"""

from __future__ import annotations

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
    assert isinstance(moe, NoCost) and "expert weights" in moe.reason
    attn = op_cost(OpCall("vllm::unified_attention_with_output",
                          [[888, 8, 64], [888, 1, 64], [888, 1, 64], [888, 8, 64], [], [], []],
                          [FP8, BF16, BF16, BF16, "", "", ""]))
    assert isinstance(attn, NoCost) and "context lengths" in attn.reason
