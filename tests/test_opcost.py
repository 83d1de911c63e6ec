"""Op cost formulas (roofline.opcost): each formula pinned to a hand-computed value (the
arithmetic is in the comment), the real H200 kineto traces, the registry, and the contract that
no input whatever makes op_cost raise.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from pathlib import Path

import pytest

from roofline.opcost import (
    NoCost,
    OpCall,
    OpCost,
    itemsize_from_kernel_name,
    op_cost,
    register_op,
    registered_ops,
    unregister_op,
)
from roofline.opcost.triton import fused_ops
from roofline.precision import Precision, Unit

DATA = Path(__file__).resolve().parent / "data" / "h200"
BF16, F16, F32, F64, I64, BOOL = "c10::BFloat16", "c10::Half", "float", "double", "long int", "bool"


def cost(name: str, dims, types, concrete=None, strides=None, **args) -> OpCost:
    result = op_cost(OpCall(name, dims, types, strides, concrete, args))
    assert isinstance(result, OpCost), result
    return result


def no_cost(name: str, dims, types, concrete=None, strides=None, **args) -> NoCost:
    result = op_cost(OpCall(name, dims, types, strides, concrete, args))
    assert isinstance(result, NoCost), result
    assert result.reason
    return result


# ---- GEMM family ------------------------------------------------------------------------------


def test_mm_8192_bf16_matches_the_seed_numbers() -> None:
    # 2·8192³ = 1,099,511,627,776 FLOPs; A, B read and C written once: 3·8192²·2 B = 402,653,184 B.
    c = cost("aten::mm", ((8192, 8192), (8192, 8192)), (BF16, BF16))
    assert c.flops == 1_099_511_627_776
    assert c.bytes == 402_653_184
    assert (c.precision, c.unit, c.is_view) == (Precision.BF16, Unit.MATRIX, False)
    assert "2·M·N·K" in c.formula


def test_fp32_gemm_is_fp32_matrix() -> None:
    # 2·2048³ = 17,179,869,184 FLOPs; 3·2048²·4 B = 50,331,648 B. The analysis falls back to the
    # fp32 vector roof on NVIDIA; the formula only says what the op is.
    c = cost("aten::mm", ((2048, 2048), (2048, 2048)), (F32, F32))
    assert (c.flops, c.bytes) == (17_179_869_184, 50_331_648)
    assert (c.precision, c.unit) == (Precision.FP32, Unit.MATRIX)


def test_addmm_reads_the_bias_but_does_not_count_its_add() -> None:
    # linear 256→128 on 128 rows, bf16: 2·128·128·256 = 8,388,608 FLOPs;
    # bias 128·2 + A 128·256·2 + B 256·128·2 + C 128·128·2 = 256 + 65,536 + 65,536 + 32,768 = 164,096 B.
    c = cost(
        "aten::addmm",
        ((128,), (128, 256), (256, 128), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar"),
        ("", "", "", "1", "1"),
    )
    assert (c.flops, c.bytes) == (8_388_608, 164_096)


def test_bmm_and_baddbmm() -> None:
    # bmm [16,128,64]·[16,64,128] fp32: 2·16·128·128·64 = 33,554,432 FLOPs;
    # 2·(16·128·64·4) + 16·128·128·4 = 1,048,576 + 1,048,576 = 2,097,152 B.
    c = cost("aten::bmm", ((16, 128, 64), (16, 64, 128)), (F32, F32))
    assert (c.flops, c.bytes) == (33_554_432, 2_097_152)
    # baddbmm C[2,64,64] + [2,64,256]·[2,256,64] bf16: 2·2·64·64·256 = 4,194,304 FLOPs;
    # C 2·64·64·2 = 16,384 + A 65,536 + B 65,536 + out 16,384 = 163,840 B.
    c = cost(
        "aten::baddbmm",
        ((2, 64, 64), (2, 64, 256), (2, 256, 64), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar"),
    )
    assert (c.flops, c.bytes) == (4_194_304, 163_840)
    no_cost("aten::bmm", ((2, 64, 256), (3, 256, 64)), (BF16, BF16))  # batch sizes differ


@pytest.mark.parametrize(
    ("a", "b", "flops", "nbytes"),
    [
        # dot: 2·4096 = 8,192 FLOPs; 2·4096·2 + one 2-byte output = 16,386 B
        ((4096,), (4096,), 8_192, 16_386),
        # mv [1024,512]·[512]: 2·1024·512 = 1,048,576; (1024·512 + 512 + 1024)·2 = 1,051,648 B
        ((1024, 512), (512,), 1_048_576, 1_051_648),
        # vector·matrix [512]·[512,256]: 2·512·256 = 262,144; (512 + 512·256 + 256)·2 = 263,680 B
        ((512,), (512, 256), 262_144, 263_680),
        # 3-D·2-D [2,64,256]·[256,128]: 2·128·128·256 = 8,388,608; (32,768 + 32,768 + 16,384)·2 = 163,840 B
        ((2, 64, 256), (256, 128), 8_388_608, 163_840),
        # broadcast batch [8,1,64,32]·[4,32,16] → batch 8·4 = 32: 2·32·64·16·32 = 2,097,152 FLOPs;
        # A 8·64·32·2 = 32,768 + B 4·32·16·2 = 4,096 + out 32·64·16·2 = 65,536 → 102,400 B
        ((8, 1, 64, 32), (4, 32, 16), 2_097_152, 102_400),
    ],
)
def test_matmul_broadcast_cases(a, b, flops, nbytes) -> None:
    c = cost("aten::matmul", (a, b), (BF16, BF16))
    assert (c.flops, c.bytes) == (flops, nbytes)
    assert c.unit is Unit.MATRIX


def test_matmul_rejects_mismatched_inner_dims() -> None:
    assert "inner dimensions" in no_cost("aten::matmul", ((4, 5), (6, 7)), (BF16, BF16)).reason
    no_cost("aten::matmul", ((2, 4, 5), (3, 5, 6)), (BF16, BF16))  # batch 2 vs 3 does not broadcast


def test_linear_gemv_decode_streams_the_weight() -> None:
    # F.linear(v 1×8192, W 28672×8192) bf16: 2·8192·28672 = 469,762,048 FLOPs;
    # weight 28672·8192·2 = 469,762,048 B + input 8192·2 + output 28672·2 = 469,835,776 B: AI ≈ 1.
    c = cost("aten::linear", ((1, 8192), (28672, 8192), ()), (BF16, BF16, ""))
    assert c.flops == 2 * 8192 * 28672 == 469_762_048
    assert c.bytes == 28672 * 8192 * 2 + 8192 * 2 + 28672 * 2 == 469_835_776
    assert c.flops / c.bytes == pytest.approx(1.0, abs=1e-3)
    assert "no bias" in c.formula


def test_linear_with_bias_and_leading_dims() -> None:
    # [2,64,256]·[128,256]ᵀ + [128]: rows 128 → 2·128·128·256 = 8,388,608 FLOPs;
    # x 65,536 + W 65,536 + bias 256 + out 2·64·128·2 = 32,768 → 164,096 B.
    c = cost("aten::linear", ((2, 64, 256), (128, 256), (128,)), (BF16, BF16, BF16))
    assert (c.flops, c.bytes) == (8_388_608, 164_096)
    no_cost("aten::linear", ((2, 64, 256), (128, 255), ()), (BF16, BF16, ""))


def test_scaled_mm_fp8_with_bf16_output() -> None:
    # [64,128]·[128,256] e4m3 → bf16 (out_dtype code 15): 2·64·256·128 = 4,194,304 FLOPs;
    # A 8,192 + B 32,768 + two fp32 scales 8 + out 64·256·2 = 32,768 → 73,736 B.
    c = cost(
        "aten::_scaled_mm",
        ((64, 128), (128, 256), (), (), (), (), (), ()),
        ("c10::Float8_e4m3fn", "c10::Float8_e4m3fn", F32, F32, "", "", "Scalar", "Scalar"),
        ("", "", "", "", "", "", "15", "False"),
    )
    assert (c.flops, c.bytes, c.precision) == (4_194_304, 73_736, Precision.FP8)


# ---- convolution --------------------------------------------------------------------------------


def test_conv2d_strided_padded() -> None:
    # x [2,16,32,32], W [32,16,3,3], stride 2, padding 1 → out 16×16 ((32+2-2-1)//2+1 = 16):
    # 2·N·C_out·∏out·C_in·∏k = 2·2·32·256·16·9 = 4,718,592 FLOPs;
    # x 2·16·32·32·2 = 65,536 + W 32·16·9·2 = 9,216 + out 2·32·16·16·2 = 32,768 → 107,520 B.
    c = cost(
        "aten::conv2d",
        ((2, 16, 32, 32), (32, 16, 3, 3), (), (), (), (), ()),
        (BF16, BF16, "", "ScalarList", "ScalarList", "ScalarList", "Scalar"),
        ("", "", "", "[2, 2]", "[1, 1]", "[1, 1]", "1"),
    )
    assert (c.flops, c.bytes, c.unit) == (4_718_592, 107_520, Unit.MATRIX)
    assert "assumed" not in c.formula


def test_cudnn_convolution_reads_padding_before_stride() -> None:
    # cudnn_convolution(self, weight, padding, stride, dilation, groups, …): same conv as above
    c = cost(
        "aten::cudnn_convolution",
        ((2, 16, 32, 32), (32, 16, 3, 3), (), (), (), (), (), (), ()),
        (BF16, BF16, "ScalarList", "ScalarList", "ScalarList", "Scalar", "Scalar", "Scalar", "Scalar"),
        ("", "", "[1, 1]", "[2, 2]", "[1, 1]", "1", "False", "False", "True"),
    )
    assert (c.flops, c.bytes) == (4_718_592, 107_520)


def test_conv_without_concrete_inputs_assumes_stride_1_no_padding_and_says_so() -> None:
    # out = 32 - 3 + 1 = 30: 2·2·32·900·16·9 = 16,588,800 FLOPs
    c = cost(
        "aten::conv2d",
        ((2, 16, 32, 32), (32, 16, 3, 3), (), (), (), (), ()),
        (BF16, BF16, "", "ScalarList", "ScalarList", "ScalarList", "Scalar"),
    )
    assert c.flops == 16_588_800
    assert "assumed stride=1, padding=0, dilation=1, groups=1" in c.formula


def test_depthwise_and_transposed_conv() -> None:
    # depthwise: x [1,32,56,56], W [32,1,3,3], groups 32, padding 1 → out 56×56:
    # 2·1·32·3136·(32/32)·9 = 1,806,336 FLOPs
    c = cost(
        "aten::convolution",
        ((1, 32, 56, 56), (32, 1, 3, 3), (), (), (), (), (), (), ()),
        (F16, F16, "", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList", "Scalar"),
        ("", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "32"),
    )
    assert c.flops == 1_806_336
    # conv_transpose2d x [2,16,16,16], W [16,8,4,4], stride 2, padding 1 → out (16-1)·2-2+3+1 = 32:
    # 2·N·C_in·∏in·C_out·∏k = 2·2·16·256·8·16 = 2,097,152 FLOPs;
    # x 16,384 + W 4,096 + out 2·8·32·32·2 = 32,768 → 53,248 B
    c = cost(
        "aten::conv_transpose2d",
        ((2, 16, 16, 16), (16, 8, 4, 4), (), (), (), (), (), ()),
        (BF16, BF16, "", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList"),
        ("", "", "", "[2, 2]", "[1, 1]", "[0, 0]", "1", "[1, 1]"),
    )
    assert (c.flops, c.bytes) == (2_097_152, 53_248)
    no_cost(
        "aten::conv2d",
        ((2, 15, 32, 32), (32, 16, 3, 3), (), (), (), (), ()),
        (BF16, BF16, "", "ScalarList", "ScalarList", "ScalarList", "Scalar"),
    )  # channel mismatch


# ---- attention ------------------------------------------------------------------------------------

QKV = ((1, 32, 2048, 128),) * 3


def test_sdpa_matches_the_seed_fused_attention() -> None:
    # 4·B·H·S²·D = 4·32·2048²·128 = 68,719,476,736 FLOPs; Q, K, V, O 32·2048·128·2 B each
    # = 4·16,777,216 = 67,108,864 B — the seed's "attention_fused_s2048_h32_d128".
    c = cost(
        "aten::scaled_dot_product_attention",
        (*QKV, (), (), (), (), ()),
        (BF16, BF16, BF16, "", "Scalar", "Scalar", "", "Scalar"),
        ("", "", "", "", "0.", "False", "", "False"),
    )
    assert (c.flops, c.bytes, c.unit) == (68_719_476_736, 67_108_864, Unit.MATRIX)


def test_causal_halves_the_flops_not_the_bytes() -> None:
    c = cost(
        "aten::_scaled_dot_product_flash_attention",
        (*QKV, (), (), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar", "Scalar", "Scalar"),
        ("", "", "", "0.", "True", "False", ""),
    )
    assert (c.flops, c.bytes) == (68_719_476_736 // 2, 67_108_864)
    assert "½ (causal)" in c.formula


def test_sdpa_without_is_causal_says_it_assumed_false() -> None:
    c = cost("aten::scaled_dot_product_attention", QKV, (BF16, BF16, BF16))
    assert c.flops == 68_719_476_736
    assert "assumed False" in c.formula


def test_gqa_decode_counts_query_heads_for_flops_and_kv_size_for_bytes() -> None:
    # one query token, 32 query heads over 8 KV heads, 4096 cached keys, D 128:
    # 4·1·32·1·4096·128 = 67,108,864 FLOPs; Q 32·128·2 = 8,192 + K and V 8·4096·128·2 = 8,388,608 each
    # + O 8,192 → 16,793,600 B (AI ≈ 4: memory-bound, as decode attention is).
    c = cost(
        "aten::scaled_dot_product_attention",
        ((1, 32, 1, 128), (1, 8, 4096, 128), (1, 8, 4096, 128)),
        (BF16, BF16, BF16),
    )
    assert (c.flops, c.bytes) == (67_108_864, 16_793_600)
    assert "GQA" in c.formula
    no_cost(
        "aten::scaled_dot_product_attention",
        ((1, 32, 1, 128), (1, 7, 64, 128), (1, 7, 64, 128)),
        (BF16, BF16, BF16),
    )  # 32 heads cannot share 7


def test_fused_backend_entry_points_read_their_own_argument_positions() -> None:
    bshd = ((2, 128, 8, 64),) * 3  # [B, S, H, D]
    # flash: is_causal at 8 → 4·2·8·128·128·64 / 2 = 33,554,432; 4 tensors of 2·128·8·64·2 = 262,144 B
    c = cost(
        "aten::_flash_attention_forward",
        (*bshd, (), (), (), (), (), (), (), (), (), (), (), ()),
        (
            BF16,
            BF16,
            BF16,
            "",
            "",
            "Scalar",
            "Scalar",
            "Scalar",
            "Scalar",
            "Scalar",
            "Scalar",
            "",
            "",
            "",
            "",
        ),
        ("", "", "", "", "", "128", "128", "0.", "True", "False", "0.125", "", "", "", ""),
    )
    assert (c.flops, c.bytes) == (33_554_432, 1_048_576)
    # memory-efficient: custom_mask_type at 9 (1 = causal)
    c = cost(
        "aten::_efficient_attention_forward",
        (*bshd, (), (), (), (), (), (), (), (), (), (), ()),
        (BF16, BF16, BF16, "", "", "", "", "", "Scalar", "Scalar", "Scalar", "", "", ""),
        ("", "", "", "", "", "", "", "", "0.", "1", "False", "", "", ""),
    )
    assert c.flops == 33_554_432
    # cuDNN: [B, H, S, D] with is_causal at 10
    bhsd = ((2, 8, 128, 64),) * 3
    c = cost(
        "aten::_cudnn_attention_forward",
        (*bhsd, (), (), (), (), (), (), (), (), (), ()),
        (BF16, BF16, BF16, "", "", "", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", ""),
        ("", "", "", "", "", "", "128", "128", "False", "0.", "True", "False", ""),
    )
    assert c.flops == 33_554_432
    for name in (
        "aten::_scaled_dot_product_efficient_attention",
        "aten::_scaled_dot_product_cudnn_attention",
    ):
        c = cost(
            name,
            (*bhsd, (), (), (), (), ()),
            (BF16, BF16, BF16, "", "Scalar", "Scalar", "Scalar", "Scalar"),
            ("", "", "", "", "False", "0.", "True", "False"),
        )
        assert c.flops == 33_554_432


def test_variable_length_flash_attention_is_not_costed() -> None:
    r = no_cost(
        "aten::_flash_attention_forward",
        ((512, 8, 64), (512, 8, 64), (512, 8, 64), (3,), (3,)),
        (BF16, BF16, BF16, "int", "int"),
    )
    assert "variable-length" in r.reason


def test_math_attention_is_left_to_its_children() -> None:
    r = no_cost("aten::_scaled_dot_product_attention_math", QKV, (BF16, BF16, BF16))
    assert "composite" in r.reason


# ---- softmax and normalisation ---------------------------------------------------------------


def test_softmax_fp32_rows_of_4096() -> None:
    # 4096×4096 fp32: 5·2²⁴ = 83,886,080 FLOPs; read + write 2·2²⁴·4 = 134,217,728 B
    c = cost("aten::_softmax", ((4096, 4096), (), ()), (F32, "Scalar", "Scalar"), ("", "-1", "False"))
    assert (c.flops, c.bytes, c.unit) == (83_886_080, 134_217_728, Unit.VECTOR)
    # half_to_float: bf16 in, fp32 out: 2²⁴·(2 + 4) = 100,663,296 B
    c = cost("aten::_softmax", ((4096, 4096), (), ()), (BF16, "Scalar", "Scalar"), ("", "-1", "True"))
    assert c.bytes == 100_663_296
    # softmax(dtype=float32) likewise
    c = cost("aten::softmax", ((4096, 4096), (), ()), (BF16, "Scalar", "Scalar"), ("", "-1", "6"))
    assert c.bytes == 100_663_296


def test_layer_norm_matches_the_seed_plus_its_statistics() -> None:
    # 4096×4096 fp16 with weight and bias: 8 FLOPs/element (mean 1, variance 3, normalise 2,
    # affine 2) → 8·2²⁴ = 134,217,728 FLOPs (the seed's number). Bytes: 2²⁴·2 read + 2²⁴·2 written
    # + weight and bias 2·4096·2 = 67,125,248 (the seed's number) + mean and rstd 2·4096·4 = 32,768
    # → 67,158,016 B.
    c = cost(
        "aten::native_layer_norm",
        ((4096, 4096), (), (4096,), (4096,), ()),
        (F16, "ScalarList", F16, F16, "Scalar"),
        ("", "[4096]", "", "", "1e-05"),
    )
    assert (c.flops, c.bytes) == (134_217_728, 67_158_016)


def test_rms_norm_of_the_decode_fixture() -> None:
    # [1,4096] bf16, no weight (as in mini_decode_eager): 3·4096 = 12,288 FLOPs;
    # 4096·2 + 4096·2 + one fp32 rstd = 16,388 B
    c = cost(
        "aten::_fused_rms_norm", ((1, 4096), (), (), ()), (BF16, "ScalarList", "", ""), ("", "[4096]", "", "")
    )
    assert (c.flops, c.bytes) == (12_288, 16_388)
    # with a weight: 4 FLOPs/element and 4096·2 more bytes
    c = cost(
        "aten::rms_norm", ((1, 4096), (), (4096,), ()), (BF16, "ScalarList", BF16, ""), ("", "[4096]", "", "")
    )
    assert (c.flops, c.bytes) == (16_384, 24_580)
    no_cost("aten::rms_norm", ((1, 4096), (), (), ()), (BF16, "ScalarList", "", ""), ("", "[4095]", "", ""))


def test_group_and_batch_norm() -> None:
    x = (2, 16, 16, 16)  # 8,192 elements, bf16
    # group_norm, 4 groups, affine: 8·8192 = 65,536 FLOPs;
    # 16,384 + 2·32 (weight, bias) + 16,384 + mean/rstd 2·(2·4)·4 = 64 → 32,896 B
    c = cost(
        "aten::native_group_norm",
        (x, (16,), (16,), (), (), (), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar", "Scalar", "Scalar", "Scalar"),
        ("", "", "", "2", "16", "256", "4", "1e-05"),
    )
    assert (c.flops, c.bytes) == (65_536, 32_896)
    args = (x, (16,), (16,), (16,), (16,), (), (), ())
    types = (BF16, BF16, BF16, BF16, BF16, "Scalar", "Scalar", "Scalar")
    # inference: (x−mean)·invstd 2 + affine 2 = 4·8192 = 32,768 FLOPs;
    # 16,384 + four [16] bf16 params 128 + 16,384 = 32,896 B
    c = cost("aten::native_batch_norm", args, types, ("", "", "", "", "", "False", "0.1", "1e-05"))
    assert (c.flops, c.bytes) == (32_768, 32_896)
    # training adds the statistics pass (4) and writes save_mean/save_invstd: 2·16·4 = 128 B
    c = cost("aten::native_batch_norm", args, types, ("", "", "", "", "", "True", "0.1", "1e-05"))
    assert (c.flops, c.bytes) == (65_536, 33_024)


# ---- elementwise ----------------------------------------------------------------------------------


def test_gelu_2_to_the_28_bf16_moves_1_07_gb() -> None:
    # 2²⁸ elements read and written at 2 B: 2²⁸·2·2 = 1,073,741,824 B (the fixture README's
    # "~1.07 GB moved"); 5 FLOPs each: 1,342,177,280.
    c = cost("aten::gelu", ((268_435_456,), ()), (BF16, ""), ("", ""))
    assert (c.bytes, c.flops) == (1_073_741_824, 1_342_177_280)
    assert (c.precision, c.unit) == (Precision.BF16, Unit.VECTOR)


def test_gelu_4096_squared_fp16_has_the_seed_intensity() -> None:
    # 5·2²⁴ = 83,886,080 FLOPs over 4·2²⁴ = 67,108,864 B: AI = 1.25 ("≈ 1.2")
    c = cost("aten::gelu", ((4096, 4096),), (F16,))
    assert (c.flops, c.bytes) == (83_886_080, 67_108_864)
    assert c.flops / c.bytes == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("op", "per"),
    [
        ("aten::relu", 1),
        ("aten::sigmoid", 4),
        ("aten::silu", 5),
        ("aten::exp", 1),
        ("aten::rsqrt", 1),
        ("aten::tanh", 1),
    ],
)
def test_unary_flops_per_element(op: str, per: int) -> None:
    # 14336 bf16 elements: per·14336 FLOPs, 14336·2·2 = 57,344 B
    c = cost(op, ((1, 14336),), (BF16,))
    assert (c.flops, c.bytes) == (per * 14336, 57_344)


def test_broadcast_add_reads_the_small_operand_once() -> None:
    # [1024,4096] + [4096] bf16 → [1024,4096]: 4,194,304 FLOPs;
    # 4,194,304·2 + 4096·2 + 4,194,304·2 = 16,785,408 B
    c = cost("aten::add", ((1024, 4096), (4096,), ()), (BF16, BF16, "Scalar"), ("", "", "1"))
    assert (c.flops, c.bytes) == (4_194_304, 16_785_408)
    # in place: the same traffic (self read and written back)
    c = cost("aten::add_", ((1024, 4096), (4096,), ()), (BF16, BF16, "Scalar"), ("", "", "1"))
    assert (c.flops, c.bytes) == (4_194_304, 16_785_408)


def test_scalar_operands_add_no_bytes() -> None:
    # tiny_ops: y*1.0001 on 1024 fp32, the scalar a wrapped 0-dim double: 1,024 FLOPs, 2·1024·4 = 8,192 B
    c = cost("aten::mul", ((1024,), ()), (F32, F64), ("", ""))
    assert (c.flops, c.bytes, c.precision) == (1024, 8192, Precision.FP32)
    # +0.5 with alpha 1: the same; alpha 2 costs one more multiply per element
    assert cost("aten::add", ((1024,), (), ()), (F32, "Scalar", "Scalar"), ("", "0.5", "1")).flops == 1024
    assert cost("aten::add", ((1024,), (), ()), (F32, "Scalar", "Scalar"), ("", "0.5", "2")).flops == 2048


def test_type_promotion_sets_the_output_size() -> None:
    # bf16 [N] + fp32 [N] → fp32: N·(2 + 4 + 4) = 10·1024 = 10,240 B
    assert cost("aten::add", ((1024,), (1024,), ()), (BF16, F32, "Scalar")).bytes == 10_240
    # int64 tensor · 0.5 → fp32 output: 1024·8 + 1024·4 = 12,288 B
    assert cost("aten::mul", ((1024,), ()), (I64, "Scalar"), ("", "0.5")).bytes == 12_288
    # comparisons write bool: [2,64,256] bf16 > 0 → 32,768·2 + 32,768·1 = 98,304 B
    c = cost("aten::gt", ((2, 64, 256), ()), (BF16, "Scalar"), ("", "0"))
    assert (c.flops, c.bytes, c.precision) == (32_768, 98_304, Precision.BF16)


def test_where_and_out_arguments() -> None:
    # where(cond bool [N], x bf16 [N], 0.) → N selects; N·1 + N·2 + N·2 = 5·32,768 = 163,840 B
    c = cost("aten::where", ((2, 64, 256), (2, 64, 256), ()), (BOOL, BF16, "Scalar"), ("", "", "0."))
    assert (c.flops, c.bytes) == (32_768, 163_840)
    # div.out(self, other, out): the out tensor is written, not read: 3·32,768·4 = 393,216 B
    c = cost("aten::div", ((8, 4096), (8, 4096), (8, 4096)), (F32, F32, F32))
    assert c.bytes == 393_216


def test_broadcast_failure_is_a_no_cost() -> None:
    assert "do not broadcast" in no_cost("aten::add", ((3, 4), (5,), ()), (F32, F32, "Scalar")).reason


# ---- reductions ----------------------------------------------------------------------------------


def test_reductions() -> None:
    x, t = ((2, 64, 256), (), (), ()), (BF16, "ScalarList", "Scalar", "")
    # mean over the last dim: 32,768 adds; 32,768·2 read + 128·2 written = 65,792 B
    c = cost("aten::mean", x, t, ("", "[-1]", "False", ""))
    assert (c.flops, c.bytes) == (32_768, 65_792)
    # sum over everything (empty dim list): one 2-byte output → 65,538 B
    assert cost("aten::sum", x, t, ("", "[]", "False", "")).bytes == 65_538
    # var: 4 FLOPs/element → 131,072
    assert (
        cost("aten::var", x, (BF16, "ScalarList", "Scalar", "Scalar"), ("", "[-1]", "1", "False")).flops
        == 131_072
    )
    # max over a dim writes values and int64 indices: 65,536 + 128·(2 + 8) = 66,816 B
    c = cost("aten::max", ((2, 64, 256), (), ()), (BF16, "Scalar", "Scalar"), ("", "-1", "False"))
    assert c.bytes == 66_816
    # max(a, b) is the elementwise maximum
    assert cost("aten::max", ((1024,), (1024,)), (F32, F32)).bytes == 3 * 4096
    # sum of bool accumulates into int64: 1024·1 + 8 = 1,032 B
    assert cost("aten::sum", ((1024,), ()), (BOOL, ""), ("", "")).bytes == 1032
    # argmax, norm
    assert (
        cost("aten::argmax", ((8, 4096), (), ()), (F32, "Scalar", "Scalar"), ("", "-1", "False")).bytes
        == 32_768 * 4 + 8 * 8
    )
    assert (
        cost(
            "aten::linalg_vector_norm",
            ((8, 4096), (), (), (), ()),
            (BF16, "Scalar", "ScalarList", "Scalar", ""),
            ("", "2", "[-1]", "False", ""),
        ).flops
        == 2 * 32_768
    )
    no_cost("aten::mean", x, t, ("", "[3]", "False", ""))  # dim out of range


def test_sort_and_topk() -> None:
    # sort rows of 4096 bf16: ⌈log2 4096⌉ = 12 compares per element; values + int64 indices:
    # 32,768·2 + 32,768·(2 + 8) = 393,216 B
    c = cost("aten::sort", ((8, 4096), (), ()), (BF16, "Scalar", "Scalar"), ("", "-1", "False"))
    assert (c.flops, c.bytes) == (12 * 32_768, 393_216)
    # topk k=5: 65,536 read + 8·5·(2 + 8) = 400 written
    c = cost(
        "aten::topk",
        ((8, 4096), (), (), (), ()),
        (BF16, "Scalar", "Scalar", "Scalar", "Scalar"),
        ("", "5", "-1", "True", "True"),
    )
    assert (c.flops, c.bytes) == (32_768, 65_936)


# ---- data movement ---------------------------------------------------------------------------------


def test_cast_fp32_to_bf16_reads_4_writes_2_bytes_per_element() -> None:
    # 4096² elements: 2²⁴·4 + 2²⁴·2 = 100,663,296 B, no FLOPs
    c = cost(
        "aten::_to_copy",
        ((4096, 4096), (), (), (), (), (), ()),
        (F32, "Scalar", "", "", "", "Scalar", ""),
        ("", "15", "", "", "", "False", ""),
    )
    assert (c.flops, c.bytes) == (0, 100_663_296)
    c = cost("aten::copy_", ((4096, 4096), (4096, 4096), ()), (BF16, F32, "Scalar"), ("", "", "False"))
    assert c.bytes == 100_663_296
    assert "float32→bfloat16" in c.formula


def test_to_and_contiguous_are_no_ops_when_nothing_changes() -> None:
    same = cost(
        "aten::to",
        ((8, 4096), (), (), (), ()),
        (F32, "Scalar", "Scalar", "Scalar", ""),
        ("", "6", "False", "False", ""),
    )
    assert same.is_view and same.bytes == 0
    cast = cost(
        "aten::to",
        ((8, 4096), (), (), (), ()),
        (BF16, "Scalar", "Scalar", "Scalar", ""),
        ("", "6", "False", "False", ""),
    )
    assert cast.bytes == 32_768 * (2 + 4)
    contiguous = cost(
        "aten::contiguous", ((2, 256, 64), ()), (BF16, "Scalar"), ("", "0"), ((16384, 64, 1), ())
    )
    assert contiguous.is_view
    transposed = cost(
        "aten::contiguous", ((2, 256, 64), ()), (BF16, "Scalar"), ("", "0"), ((16384, 1, 256), ())
    )
    assert transposed.bytes == 2 * 32_768 * 2
    # to channels_last (MemoryFormat 2): a copy even from row-major strides
    nhwc = cost("aten::contiguous", ((2, 16, 8, 8), ()), (BF16, "Scalar"), ("", "2"), ((1024, 64, 8, 1), ()))
    assert nhwc.bytes == 2 * 2048 * 2


def test_cat_and_stack() -> None:
    parts = ((2, 64, 256), (2, 64, 256))
    # with the element dtype known: 2·32,768·2 read + 65,536·2 written = 262,144 B
    c = cost("aten::cat", (parts, ()), (BF16, "Scalar"), ("", "-1"))
    assert (c.flops, c.bytes) == (0, 262_144)
    assert cost("aten::stack", (parts, ()), (BF16, "Scalar"), ("", "0")).bytes == 262_144
    # kineto writes only "TensorList" for the dtype: not costed, and the reason says so …
    r = no_cost("aten::cat", (parts, ()), ("TensorList", "Scalar"), ("", "-1"))
    assert "no dtype for TensorList" in r.reason
    # … unless the reader supplies the element size from the cat kernel's name
    kernel = (
        "void at::native::(anonymous namespace)::CatArrayBatchedCopy<"
        "at::native::(anonymous namespace)::OpaqueType<2u>, unsigned int, 4, 64, 64>"
    )
    assert itemsize_from_kernel_name(kernel) == 2
    c = cost("aten::cat", (parts, ()), ("TensorList", "Scalar"), ("", "-1"), tensorlist_itemsize=2)
    assert c.bytes == 262_144
    assert (
        cost("aten::cat", (parts, ()), ("TensorList", "Scalar"), ("", "-1"), tensorlist_dtype=F32).bytes
        == 524_288
    )
    no_cost("aten::cat", (((2, 3), (4, 5)), ()), (BF16, "Scalar"), ("", "0"))  # shapes differ off the cat dim


def test_embedding_reads_the_gathered_rows_not_the_table() -> None:
    # 32000×4096 bf16 table, 4×512 int64 token ids: L = 2048 rows gathered.
    # 2048·4096·2 = 16,777,216 gathered + 2048·8 = 16,384 ids + 16,777,216 written = 33,570,816 B
    c = cost(
        "aten::embedding",
        ((32000, 4096), (4, 512), (), (), ()),
        (BF16, I64, "Scalar", "Scalar", "Scalar"),
        ("", "", "-1", "False", "False"),
    )
    assert (c.flops, c.bytes) == (0, 33_570_816)
    # more lookups than rows: at most the whole table is read (100·64·2 = 12,800), output 1000·64·2
    c = cost("aten::embedding", ((100, 64), (1000,), (), (), ()), (BF16, I64, "Scalar", "Scalar", "Scalar"))
    assert c.bytes == 12_800 + 8_000 + 128_000


def test_gather_scatter_and_index_ops() -> None:
    # gather with an expanded (stride-0) index: index [128,256] stored as 128 int64s.
    # 32,768·2 gathered + 128·8 + 32,768·2 written = 132,096 B (embedding's gather in PyTorch 2.11)
    c = cost(
        "aten::gather",
        ((1000, 256), (), (128, 256), (), (128, 256)),
        (BF16, "Scalar", I64, "Scalar", BF16),
        ("", "0", "", "False", ""),
        ((256, 1), (), (1, 0), (), (256, 1)),
    )
    assert c.bytes == 132_096
    # index_select 64 of dim 1: n = 2·64·256 = 32,768 → 65,536 + 64·8 + 65,536 = 131,584 B
    c = cost("aten::index_select", ((2, 64, 256), (), (64,)), (BF16, "Scalar", I64), ("", "1", ""))
    assert c.bytes == 131_584
    # scatter_add (out of place): index 512 int64 + src 512·2 + 512·2 read-modify-write
    # + self copied 2·32,768·2 → 4,096 + 1,024 + 2,048 + 131,072 = 138,240 B; 512 adds
    c = cost(
        "aten::scatter_add",
        ((2, 64, 256), (), (2, 64, 4), (2, 64, 4)),
        (BF16, "Scalar", I64, BF16),
        ("", "2", "", ""),
    )
    assert (c.flops, c.bytes) == (512, 138_240)
    # index_put_ with accumulate: indices are not recorded, the values decide: 3·2 + 3·2·2 = 18 B
    c = cost("aten::index_put_", ((3,), (), (3,), ()), (BF16, "", BF16, "Scalar"), ("", "", "", "True"))
    assert (c.flops, c.bytes) == (3, 18)
    assert "not recorded" in c.formula
    assert "not recorded" in no_cost("aten::index", ((2, 64, 256), ()), (BF16, ""), ("", "")).reason


# ---- views, fills, factories -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        "aten::view",
        "aten::t",
        "aten::transpose",
        "aten::as_strided",
        "aten::slice",
        "aten::expand",
        "aten::permute",
        "aten::unsqueeze",
        "aten::empty",
        "aten::reshape",
    ],
)
def test_views_and_allocations_move_nothing(op: str) -> None:
    c = cost(op, ((28672, 8192), (), ()), (BF16, "Scalar", "Scalar"), ("", "0", "1"))
    assert (c.flops, c.bytes, c.is_view) == (0, 0, True)
    # they need no shapes at all
    assert op_cost(OpCall(op, None)).is_view  # type: ignore[union-attr]


def test_view_formula_text() -> None:
    assert cost("aten::view", ((1,), ()), (F32, "ScalarList")).formula == "view (no data movement)"


def test_fills_and_factories_write_their_output() -> None:
    assert cost("aten::fill_", ((128, 128), ()), (BOOL, "Scalar"), ("", "1.")).bytes == 16_384
    assert (
        cost(
            "aten::zeros",
            ((), (), (), (), ()),
            ("ScalarList", "", "", "", "Scalar"),
            ("[4, 4]", "", "", "", "False"),
        ).bytes
        == 64
    )
    assert (
        cost(
            "aten::ones",
            ((), (), (), (), ()),
            ("ScalarList", "Scalar", "", "", "Scalar"),
            ("[3]", "15", "", "", "False"),
        ).bytes
        == 6
    )
    # arange(4096, dtype=int64): 4096·8 = 32,768 B
    assert (
        cost(
            "aten::arange",
            ((), (), (), (), ()),
            ("Scalar", "Scalar", "Scalar", "", ""),
            ("4096", "4", "0", "", ""),
        ).bytes
        == 32_768
    )


# ---- Inductor Triton kernels ----------------------------------------------------------------------


def test_fused_op_names_are_split_on_known_ops() -> None:
    assert fused_ops("triton_per_fused__to_copy_add_native_layer_norm_0") == (
        "per",
        ["_to_copy", "add", "native_layer_norm"],
    )
    assert fused_ops("triton_poi_fused_add_mul_silu_2") == ("poi", ["add", "mul", "silu"])
    assert fused_ops("triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_0")[1] == [
        "_to_copy",
        "add",
        "mean",
        "mul",
        "pow",
        "rsqrt",
    ]


def test_triton_pointwise_and_reduction_kernels() -> None:
    # poi: add 1 + mul 1 + silu 5 = 7 FLOPs over xnumel 32,768; two [8,4096] bf16 buffers 131,072 B
    c = cost(
        "triton_poi_fused_add_mul_silu_2",
        ((8, 4096), (8, 4096), ()),
        (BF16, BF16, "Scalar"),
        ("", "", "32768"),
        kernel_backend="triton",
    )
    assert (c.flops, c.bytes, c.unit) == (229_376, 131_072, Unit.VECTOR)
    # red: _to_copy 0 + add, mean, mul, pow, rsqrt 5 = 5 over xnumel·r0_numel = 8·4096;
    # buffers 65,536 + 8,192 + 65,536 = 139,264 B
    c = cost(
        "triton_red_fused__to_copy_add_mean_mul_pow_rsqrt_0",
        ((8, 4096), (4096,), (8, 4096), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar"),
        ("", "", "", "8", "4096"),
    )
    assert (c.flops, c.bytes) == (163_840, 139_264)
    # a single buffer and real work is an in-place update (in_out_ptr0): read and written,
    # 2·3,670,016·2 = 14,680,064 B, as the eager GELU; a pure fill only writes it
    c = cost("triton_poi_fused_gelu_0", ((256, 14336), ()), (BF16, "Scalar"), ("", "3670016"))
    assert (c.flops, c.bytes) == (5 * 3_670_016, 14_680_064)
    assert cost("triton_poi_fused_full_0", ((1024,), ()), (F32, "Scalar"), ("", "1024")).bytes == 4096
    # without the size arguments the largest buffer is the iteration space
    c = cost("triton_per_fused_add_gelu_mul_sum_0", ((2, 64, 256), (2, 64)), (BF16, BF16))
    assert c.flops == 8 * 32_768
    assert "largest buffer" in c.formula


def test_triton_template_gemm() -> None:
    # [8,4096]·[4096,4096] → [8,4096] bf16: 2·8·4096·4096 = 268,435,456 FLOPs;
    # buffers 65,536 + 33,554,432 + 65,536 = 33,685,504 B
    c = cost(
        "triton_tem_fused__to_copy_add_mean_mm_mul_pow_rsqrt_1",
        ((8, 4096), (4096, 4096), (8, 4096), (), (), ()),
        (BF16, BF16, BF16, "Scalar", "Scalar", "Scalar"),
        ("", "", "", "64", "1", "1"),
    )
    assert (c.flops, c.bytes, c.unit) == (268_435_456, 33_685_504, Unit.MATRIX)
    no_cost("triton_tem_fused_mm_0", ((8, 4096), (17, 3)), (BF16, BF16))


def test_user_triton_kernels_are_named_in_the_reason() -> None:
    r = no_cost("my_fused_kernel", ((8,),), (F32,), kernel_backend="triton")
    assert "Triton kernel my_fused_kernel" in r.reason


# ---- real traces ------------------------------------------------------------------------------------


def _trace(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as fh:
        return json.load(fh)["traceEvents"]


def _ops_and_launchers(events: list[dict]) -> tuple[list[dict], set]:
    ops = [e for e in events if e.get("cat") == "cpu_op"]
    ids = {e["args"].get("External id") for e in ops}
    launched = {e["args"].get("External id") for e in events if e.get("cat") == "kernel"} & ids
    return ops, launched


# (trace, cpu_ops, ops that launched kernels) — every one of the latter must have a cost
FIXTURES = [
    ("gelu_bf16_256M", 3, 3),
    ("gemm_bf16_8192", 6, 3),
    ("gemv_bf16_decode", 18, 3),
    ("mini_decode_cudagraph", 0, 0),  # graph replay: no cpu_ops at all
    ("mini_decode_eager", 1248, 288),
    ("tiny_ops_launch", 1800, 1800),
]


@pytest.mark.parametrize(("trace", "n_ops", "n_launching"), FIXTURES)
def test_every_op_in_the_fixture_traces_is_answered(trace: str, n_ops: int, n_launching: int) -> None:
    ops, launched = _ops_and_launchers(_trace(DATA / "kineto" / f"{trace}.json.gz"))
    assert len(ops) == n_ops
    assert len({e["args"]["External id"] for e in ops} & launched) == n_launching
    for event in ops:
        result = op_cost(OpCall.from_event(event))
        assert isinstance(result, (OpCost, NoCost))
        if event["args"]["External id"] in launched:
            assert isinstance(result, OpCost), (event["name"], result)
            assert not result.is_view and result.bytes > 0
        elif isinstance(result, NoCost):
            assert result.reason


def test_fixture_costs_agree_with_the_readme() -> None:
    gelu = next(e for e in _trace(DATA / "kineto" / "gelu_bf16_256M.json.gz") if e["name"] == "aten::gelu")
    assert op_cost(OpCall.from_event(gelu)).bytes == 1_073_741_824  # "~1.07 GB moved"
    mm = next(e for e in _trace(DATA / "kineto" / "gemv_bf16_decode.json.gz") if e["name"] == "aten::mm")
    c = op_cost(OpCall.from_event(mm))  # [1,8192]·[8192,28672] with the transposed weight's strides
    assert (c.flops, c.bytes) == (469_762_048, 469_835_776)


def test_mini_decode_mm_totals() -> None:
    # Per block the four GEMVs (QKV 4096→12288, O 4096→4096, gate-up 4096→28672, down
    # 14336→4096) do 2·4096·(12288 + 4096 + 28672) + 2·14336·4096 = 486,539,264 FLOPs and stream
    # 2·4096·(12288 + 4096 + 28672 + 14336) = 486,539,264 weight bytes; 8 blocks × 3 steps.
    events = _trace(DATA / "kineto" / "mini_decode_eager.json.gz")
    costs = [op_cost(OpCall.from_event(e)) for e in events if e.get("name") == "aten::mm"]
    assert len(costs) == 4 * 8 * 3
    assert sum(c.flops for c in costs) == 486_539_264 * 24
    weights = 486_539_264 * 24
    activations = (
        2 * 24 * (4096 + 12288 + 4096 + 4096 + 4096 + 28672 + 14336 + 4096)
    )  # inputs + outputs, bf16
    assert sum(c.bytes for c in costs) == weights + activations


PROBES = {
    # A PyTorch 2.11 capture on an H200 of the ops the six fixtures lack (SDPA on all four
    # backends, conv, norms, reductions, index ops, a compiled kernel; docs/op-costs.md).
    "probe_eager_ops": {"aten::cat": "no dtype for TensorList", "aten::index": "not recorded"},
    # Inductor pointwise/reduction/template kernels, conv_transpose, batch/group norm, fp8 GEMM, sampling.
    "probe_compiled_ops": {},
}


@pytest.mark.parametrize("probe", sorted(PROBES))
def test_probe_traces_cost_every_kernel_launching_op_but_the_known_gaps(probe: str) -> None:
    ops, launched = _ops_and_launchers(_trace(DATA / "opcost" / f"{probe}.json.gz"))
    gaps = PROBES[probe]
    costed = 0
    for event in ops:
        result = op_cost(OpCall.from_event(event))
        if event["args"]["External id"] not in launched:
            continue
        if event["name"] in gaps:
            assert isinstance(result, NoCost) and gaps[event["name"]] in result.reason
        else:
            assert isinstance(result, OpCost), (event["name"], result)
            costed += 1
    assert costed >= 40


# ---- registry ----------------------------------------------------------------------------------------


def test_duplicate_registration_raises() -> None:
    with pytest.raises(ValueError, match="already registered for aten::mm"):
        register_op("aten::mm")(lambda call: NoCost("x"))
    with pytest.raises(ValueError, match="already registered"):
        register_op("test::twice", "test::twice")
    register_op("test::probe")(lambda call: NoCost("probe"))
    try:
        with pytest.raises(ValueError, match="already registered for test::probe"):
            register_op("test::probe")(lambda call: NoCost("again"))
        assert op_cost(OpCall("test::probe", ((1,),), (F32,))).reason == "probe"  # type: ignore[union-attr]
    finally:
        assert unregister_op("test::probe")
    assert "test::probe" not in registered_ops()
    with pytest.raises(ValueError):
        register_op()


def test_required_ops_are_registered() -> None:
    ops = set(registered_ops())
    required = [
        "mm",
        "addmm",
        "bmm",
        "baddbmm",
        "matmul",
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "convolution",
        "_convolution",
        "cudnn_convolution",
        "scaled_dot_product_attention",
        "_scaled_dot_product_flash_attention",
        "_scaled_dot_product_efficient_attention",
        "_scaled_dot_product_cudnn_attention",
        "_flash_attention_forward",
        "_efficient_attention_forward",
        "softmax",
        "_softmax",
        "log_softmax",
        "layer_norm",
        "native_layer_norm",
        "rms_norm",
        "_fused_rms_norm",
        "group_norm",
        "batch_norm",
        "relu",
        "gelu",
        "silu",
        "sigmoid",
        "tanh",
        "exp",
        "neg",
        "abs",
        "sqrt",
        "rsqrt",
        "pow",
        "add",
        "sub",
        "mul",
        "div",
        "where",
        "maximum",
        "add_",
        "mul_",
        "sum",
        "mean",
        "max",
        "amax",
        "var",
        "std",
        "norm",
        "embedding",
        "_to_copy",
        "copy_",
        "to",
        "contiguous",
        "clone",
        "cat",
        "stack",
        "index",
        "index_select",
        "gather",
        "scatter",
        "index_put_",
        "view",
        "t",
        "transpose",
        "as_strided",
        "slice",
        "narrow",
        "reshape",
        "expand",
        "permute",
        "split",
        "chunk",
        "unsqueeze",
        "squeeze",
        "empty",
        "zeros",
    ]
    assert {f"aten::{op}" for op in required} <= ops
    assert {"triton_poi_*", "triton_red_*", "triton_per_*", "triton_tem_*"} <= ops


def test_dispatch_accepts_overload_names_and_bare_names() -> None:
    dims, types = ((4, 4), (4, 4)), (F32, F32)
    assert cost("aten::mm.default", dims, types).flops == cost("mm", dims, types).flops == 128
    assert cost("mm.default", dims, types).flops == 128


def test_unknown_ops_and_missing_shapes() -> None:
    assert no_cost("aten::foo", ((1,),), (F32,)).reason == "no formula for aten::foo"
    assert (
        op_cost(OpCall("aten::mm", None)).reason == "aten::mm: no Input Dims: profile with record_shapes=True"
    )  # type: ignore[union-attr]
    # a reader that defaults missing Input Dims to [] gets the same answer
    assert "record_shapes=True" in op_cost(OpCall("aten::mm", ())).reason  # type: ignore[union-attr]
    assert "Input type has 1" in no_cost("aten::mm", ((4, 4), (4, 4)), (F32,)).reason


# ---- the never-raise contract ----------------------------------------------------------------------


def _names() -> list[str]:
    return [op[:-1] + "fused_add_0" if op.endswith("*") else op for op in registered_ops()]


GARBAGE = [
    (((("a", "b"),)), (F32,), None),  # strings where sizes belong
    ((((-1, 4),)), (BF16,), None),  # a negative size
    ((((None,),)), (F32,), None),  # None as a size
    ((((True, 2),)), (F32,), None),  # a bool as a size
    ((((1e3, 2.5),)), (F32,), None),  # floats as sizes
    ((((2**70, 2),)), (F32,), None),  # beyond int64
    ((((2**40, 2**40),)), (F32,), None),  # more elements than int64 counts
    (((2, 3), (3, 4)), (F32,), None),  # Input type shorter than Input Dims
    ("not a list", "nope", None),
    (((4, 4), (4, 4)), (F32, F32), ("",)),  # Concrete Inputs of the wrong length
    ((((((((1,),),),),),),), (F32,), None),  # nested far too deep
    (((4, 4), (4, 4)), (F32, F32), 7),  # Concrete Inputs not a list
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=range(len(GARBAGE)))
def test_every_formula_returns_no_cost_on_garbage(garbage) -> None:
    dims, types, concrete = garbage
    for name in _names():
        result = op_cost(OpCall(name, dims, types, None, concrete))
        assert isinstance(result, NoCost), (name, result)
        assert "internal error" not in result.reason, (name, result.reason)


def _random_shape(rng: random.Random) -> tuple:
    return tuple(rng.choice([0, 1, 2, 3, 7, 64]) for _ in range(rng.randint(0, 5)))


def test_every_formula_survives_random_well_typed_calls() -> None:
    # Random arities, shapes, dtypes and scalar texts: a formula may refuse (NoCost) but must not
    # fail internally, and whatever it returns must be finite and non-negative.
    rng = random.Random(20240601)
    dtypes = [BF16, F32, F16, I64, BOOL, "c10::Float8_e4m3fn", "Scalar", "ScalarList", "", "TensorList"]
    texts = ["", "0", "1", "-1", "2", "[1, 1]", "[-1]", "[]", "True", "False", "0.5", "15", "inf", "x", "[a]"]
    for name in _names():
        for _ in range(40):
            n = rng.randint(0, 9)
            types = tuple(rng.choice(dtypes) for _ in range(n))
            dims = tuple(
                (_random_shape(rng), _random_shape(rng))
                if t == "TensorList"
                else (_random_shape(rng) if t not in ("Scalar", "ScalarList", "") else ())
                for t in types
            )
            concrete = tuple(rng.choice(texts) for _ in range(n))
            result = op_cost(
                OpCall(name, dims, types, None, concrete, {"tensorlist_itemsize": rng.choice([2, 3, "x"])})
            )
            assert isinstance(result, (OpCost, NoCost)), name
            if isinstance(result, NoCost):
                assert "internal error" not in result.reason, (name, dims, types, concrete, result.reason)
            else:
                assert math.isfinite(result.flops) and result.flops >= 0
                assert math.isfinite(result.bytes) and result.bytes >= 0


def test_from_event_never_raises() -> None:
    for event in (
        {},
        {"name": 5},
        {"name": "aten::mm", "args": None},
        {"name": "aten::mm", "args": {"Input Dims": 3}},
        {"name": "aten::mm", "args": {"Input Dims": [[2, 2], [2, 2]], "Input type": ["float", "float"]}},
    ):
        call = OpCall.from_event(event)
        assert isinstance(op_cost(call), (OpCost, NoCost))
    assert op_cost(OpCall.from_event(None)).reason == "the op has no name"  # type: ignore[arg-type,union-attr]
    assert op_cost("aten::mm").reason.startswith("not an OpCall")  # type: ignore[arg-type,union-attr]
