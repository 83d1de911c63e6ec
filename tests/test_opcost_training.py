"""Cost formulas for what a training step runs besides forward GEMMs: backward ops, pooling,
losses, embedding gradients and optimizer steps. Each figure is pinned to a count made
elsewhere — torch.utils.flop_counter, the FlashAttention-2 paper, the optimizer's published update
rule, or a shape the profiler itself recorded — with the source in the test.

Argument layouts are those of real traces: the TraceLens MI300X ResNet training trace
(tests/data/external/opcost, MIT) and a CPU profile of torch 2.13 (record_shapes=True).
"""

from __future__ import annotations

import pytest

from roofline.opcost import NoCost, OpCall, OpCost, op_cost
from roofline.precision import Unit

BF16, F32, I64 = "c10::BFloat16", "float", "long int"


def cost(name: str, dims, types, concrete=None, **args) -> OpCost:
    result = op_cost(OpCall(name, dims, types, None, concrete, args))
    assert isinstance(result, OpCost), result
    return result


# ---- GEMM backward ------------------------------------------------------------------------------


def test_linear_backward_is_two_mms_of_the_forward_size() -> None:
    # autograd's AddmmBackward0 runs dX = dY·W and dW = dYᵀ·X (two aten::mm), each 2·M·N·K:
    # 2× the forward, the count of torch.utils.flop_counter (addmm/mm formulas) and of every MFU paper.
    m, n, k = 4096, 11008, 4096
    forward = cost("aten::linear", [[m, k], [n, k], [n]], [BF16] * 3)
    d_x = cost("aten::mm", [[m, n], [n, k]], [BF16] * 2)
    d_w = cost("aten::mm", [[n, m], [m, k]], [BF16] * 2)
    assert forward.flops == 2 * m * n * k
    assert d_x.flops + d_w.flops == 2 * forward.flops


# ---- convolution backward -----------------------------------------------------------------------

# aten::convolution_backward exactly as the MI300X ResNet trace records it (3×3, 512→512, 7×7, bf16).
RESNET_CONV_BWD = {
    "dims": [[10, 512, 7, 7], [10, 512, 7, 7], [512, 512, 3, 3], [], [], [], [], [], [], [], []],
    "types": [BF16, BF16, BF16, "ScalarList", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList",
              "Scalar", "ScalarList"],
    "concrete": ["", "", "", "[0]", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "1", "[True, True, False]"],
}


def test_convolution_backward_flops_match_torch_flop_counter() -> None:
    # torch 2.13 FlopCounterMode on conv2d(x[10,512,7,7], w[512,512,3,3], padding=1): forward
    # 2,312,110,080 FLOPs, convolution_backward (dX and dW) 4,624,220,160 — data-grad and weight-grad
    # each equal to the forward.
    c = cost("aten::convolution_backward", **RESNET_CONV_BWD)
    assert c.flops == 4_624_220_160
    assert c.unit is Unit.MATRIX
    # bytes: dX reads dY and W, writes dX; dW reads dY and X, writes dW (bf16: 2 B each)
    act, wt = 10 * 512 * 7 * 7 * 2, 512 * 512 * 9 * 2
    assert c.bytes == (act + wt + act) + (act + act + wt)


def test_convolution_backward_counts_only_the_gradients_asked_for() -> None:
    only_dx = {**RESNET_CONV_BWD, "concrete": RESNET_CONV_BWD["concrete"][:10] + ["[True, False, False]"]}
    assert cost("aten::convolution_backward", **only_dx).flops == 2_312_110_080
    with_bias = {**RESNET_CONV_BWD, "concrete": ["", "", "", "[512]"] + RESNET_CONV_BWD["concrete"][4:10]
                 + ["[True, True, True]"]}
    # db adds one per dY element: 10·512·7·7
    assert cost("aten::convolution_backward", **with_bias).flops == 4_624_220_160 + 10 * 512 * 49


def test_miopen_convolution_backward_reads_its_own_argument_order() -> None:
    # miopen_convolution_backward(self, grad_output, weight, padding, stride, dilation, groups, benchmark,
    # deterministic, output_mask): the same convolution, the same 2× forward.
    c = cost("aten::miopen_convolution_backward",
             [[10, 512, 7, 7], [10, 512, 7, 7], [512, 512, 3, 3], [], [], [], [], [], [], []],
             [BF16] * 3 + ["ScalarList"] * 3 + ["Scalar"] * 3 + ["ScalarList"],
             ["", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "1", "False", "False", "[True, True, False]"])
    assert c.flops == 4_624_220_160


# ---- normalisation backward ---------------------------------------------------------------------


def test_batch_norm_backward_bytes_from_the_trace_shapes() -> None:
    # native_batch_norm_backward as recorded (ResNet, [10,512,7,7] bf16, fp32 saved statistics):
    # dY and X read, dX written (3·n·2 B); weight read, save_mean/save_invstd read (fp32), dW and db
    # written at the weight's dtype: 512·(2 + 4 + 4 + 2 + 2) B. FLOPs 12 per element: 9 for dX,
    # 2 for dW, 1 for db (module docstring).
    n = 10 * 512 * 49
    c = cost("aten::native_batch_norm_backward",
             [[10, 512, 7, 7], [10, 512, 7, 7], [512], [512], [512], [512], [512], [], [], []],
             [BF16] * 5 + [F32, F32, "Scalar", "Scalar", "ScalarList"],
             [""] * 7 + ["True", "1e-05", "[True, True, True]"])
    assert c.bytes == 3 * n * 2 + 512 * (2 + 4 + 4 + 2 + 2)
    assert c.flops == 12 * n


def test_layer_norm_backward_without_affine_grads_is_dx_only() -> None:
    n = 8 * 1024 * 4096
    c = cost("aten::native_layer_norm_backward",
             [[8, 1024, 4096], [8, 1024, 4096], [], [8, 1024, 1], [8, 1024, 1], [4096], [4096], []],
             [BF16, BF16, "ScalarList", F32, F32, BF16, BF16, "ScalarList"],
             ["", "", "[4096]", "", "", "", "", "[True, False, False]"])
    assert c.flops == 9 * n
    # dY, X read and dX written (bf16), mean and rstd read (fp32, 8192 rows each), weight read
    assert c.bytes == 3 * n * 2 + 2 * 8192 * 4 + 4096 * 2


def test_rms_norm_backward_and_group_norm_backward() -> None:
    n = 4 * 2048 * 4096
    rms = cost("aten::_fused_rms_norm_backward", [[4, 2048, 4096], [4, 2048, 4096], [], [4, 2048, 1], [4096], []],
               [BF16, BF16, "ScalarList", F32, BF16, "ScalarList"], ["", "", "[4096]", "", "", "[True, True]"])
    assert rms.flops == (7 + 2) * n
    gn = cost("aten::native_group_norm_backward",
              [[4, 16, 16, 16], [4, 16, 16, 16], [4, 4], [4, 4], [16], [], [], [], [], []],
              [F32] * 5 + ["Scalar"] * 4 + ["ScalarList"], [""] * 5 + ["4", "16", "256", "4", "[True, True, True]"])
    assert gn.flops == 12 * 4 * 16 * 256


# ---- attention backward -------------------------------------------------------------------------


def test_flash_attention_backward_is_two_and_a_half_forwards() -> None:
    # FlashAttention-2 (Dao 2023, §4.1): backward FLOPs = 2.5 × forward (5 matmuls against 2).
    # Forward 4·B·H·S²·D for B=2, H=8, S=256, D=64: 268,435,456.
    q = [2, 8, 256, 64]
    fwd = cost("aten::_scaled_dot_product_flash_attention", [q, q, q, [], []], [BF16] * 3 + ["Scalar"] * 2,
               ["", "", "", "0.", "False"])
    assert fwd.flops == 268_435_456
    bwd = cost("aten::_scaled_dot_product_flash_attention_backward",
               [q, q, q, q, q, [2, 8, 256], [], [], [], [], [], [], [], [], []],
               [BF16] * 5 + [F32] + [""] * 2 + ["Scalar"] * 4 + [I64, I64, "Scalar"],
               ["", "", "", "", "", "", "", "", "256", "256", "0.", "False", "", "", ""])
    assert bwd.flops == 2.5 * 268_435_456
    # bytes: Q, K, V, O, dO read + dQ, dK, dV written (8 tensors of 2·8·256·64 bf16) + fp32 logsumexp
    assert bwd.bytes == 8 * (2 * 8 * 256 * 64 * 2) + 2 * 8 * 256 * 4


def test_causal_efficient_and_cudnn_backward_halve_with_the_mask() -> None:
    q = [1, 16, 1024, 128]
    full = 2.5 * 4 * 16 * 1024 * 1024 * 128
    eff = cost("aten::_scaled_dot_product_efficient_attention_backward",
               [q, q, q, q, [], q, [1, 16, 1024], [], [], [], [], [], []],
               [BF16] * 4 + [""] + [BF16, F32, I64, I64, "Scalar", "ScalarList", "Scalar", ""],
               ["", "", "", "", "", "", "", "", "", "0.", "[True, True, True, False]", "True", ""])
    assert eff.flops == full / 2
    cudnn = cost("aten::_scaled_dot_product_cudnn_attention_backward",
                 [q, q, q, q, q, [1, 16, 1024], [], [], [], [], [], [], [], [], [], []],
                 [BF16] * 5 + [F32] + [""] * 5 + ["Scalar"] * 5,
                 [""] * 11 + ["1024", "1024", "0.", "True", ""])
    assert cudnn.flops == full / 2


def test_packed_flash_backward_is_costed_only_when_every_sequence_is_full() -> None:
    # _flash_attention_backward on [total, H, D] with cum_seq_q of 4 sequences, max 512: total 2048 = 4·512,
    # so every sequence has 512 tokens — the same cost as the dense [4, 512, H, D] batch.
    packed = [2048, 16, 64]
    dims = [packed] * 5 + [[4, 16, 512], [5], [5], [], [], [], [], [], [], []]
    types = [BF16] * 5 + [F32, "int", "int", "Scalar", "Scalar", "Scalar", "Scalar", I64, I64, ""]
    c = cost("aten::_flash_attention_backward", dims, types, [""] * 8 + ["512", "512", "0.", "True", "", "", ""])
    assert c.flops == 2.5 * 4 * 4 * 16 * 512 * 512 * 64 / 2
    ragged = op_cost(OpCall("aten::_flash_attention_backward", dims, types, None,
                            [""] * 8 + ["600", "600", "0.", "True", "", "", ""]))
    assert isinstance(ragged, NoCost) and "per-sequence lengths" in ragged.reason


# ---- pooling, losses, embeddings --------------------------------------------------------------


def test_max_pool_output_size_matches_the_gradient_the_trace_recorded() -> None:
    # ResNet stem: max_pool2d_with_indices on [10,64,112,112], k=3, s=2, p=1; the trace's own
    # max_pool2d_with_indices_backward has grad_output [10,64,56,56]: the output is 56×56.
    c = cost("aten::max_pool2d_with_indices", [[10, 64, 112, 112], [], [], [], [], []],
             [BF16] + ["ScalarList"] * 4 + ["Scalar"], ["", "[3, 3]", "[2, 2]", "[1, 1]", "[1, 1]", "False"])
    out = 10 * 64 * 56 * 56
    assert c.flops == out * 9
    assert c.bytes == 10 * 64 * 112 * 112 * 2 + out * (2 + 8)
    bwd = cost("aten::max_pool2d_with_indices_backward",
               [[10, 64, 56, 56], [10, 64, 112, 112], [], [], [], [], [], [10, 64, 56, 56]],
               [BF16, BF16] + ["ScalarList"] * 4 + ["Scalar", I64],
               ["", "", "[3, 3]", "[2, 2]", "[1, 1]", "[1, 1]", "False", ""])
    assert bwd.bytes == out * 2 + out * 8 + 10 * 64 * 112 * 112 * 2


def test_ceil_mode_and_default_stride_follow_aten() -> None:
    # avg_pool2d(k=2, stride=[] → 2) on 7×7 with ceil_mode: ATen gives 4×4 (floor mode 3×3).
    def out(ceil: str) -> float:
        return cost("aten::avg_pool2d", [[1, 1, 7, 7], [], [], [], [], [], []],
                    [F32] + ["ScalarList"] * 3 + ["Scalar"] * 2 + [""], ["", "[2, 2]", "[]", "[0, 0]", ceil, "True", ""]).flops / 4
    assert out("False") == 9 and out("True") == 16


def test_nll_and_mse_losses() -> None:
    nll = cost("aten::nll_loss_forward", [[4, 10], [4], [], [], []], [F32, I64, "", "Scalar", "Scalar"],
               ["", "", "", "1", "-100"])
    assert nll.flops == 4 and nll.bytes == 4 * 8 + 4 * 4 + 2 * 4
    mse_b = cost("aten::mse_loss_backward", [[], [10, 1000], [10, 1000], []], [BF16] * 3 + ["Scalar"],
                 ["", "", "", "1"])
    assert mse_b.flops == 3 * 10_000 and mse_b.bytes == 2 + 3 * 10_000 * 2


def test_embedding_dense_backward_writes_the_whole_table_gradient() -> None:
    # 8192 lookups of D=4096 into a 128,256-row table (Llama-3 vocabulary), bf16
    c = cost("aten::embedding_dense_backward", [[4, 2048, 4096], [4, 2048], [], [], []],
             [BF16, I64, "Scalar", "Scalar", "Scalar"], ["", "", "128256", "-1", "False"])
    assert c.flops == 8192 * 4096
    assert c.bytes == 8192 * 4096 * 2 + 8192 * 8 + 128256 * 4096 * 2


# ---- optimizers ---------------------------------------------------------------------------------

SHAPES = [[4096, 4096], [4096], [11008, 4096]]
N = 4096 * 4096 + 4096 + 11008 * 4096


def _adamw(weight_decay: str = "0.01", amsgrad: str = "False") -> OpCost:
    lists = [SHAPES] * 4 + [SHAPES if amsgrad == "True" else []] + [[[], [], []]]
    return cost("aten::_fused_adamw_", lists + [[]] * 9, ["TensorList"] * 6 + ["Scalar"] * 7 + ["", ""],
                ["", "", "", "", "", "", "0.001", "0.9", "0.999", weight_decay, "1e-08", amsgrad, "False", "", ""],
                tensorlist_itemsize=4)


def test_fused_adamw_bytes_per_element_follow_the_algorithm() -> None:
    # torch.optim.AdamW: read p, g, m, v; write p, m, v → 7 fp32 accesses = 28 B per parameter, plus each
    # tensor's fp32 step counter read and written.
    c = _adamw()
    assert c.bytes == 28 * N + 3 * 2 * 4
    # FLOPs: 13 for the Adam update + 1 for the decoupled decay p·(1 − lr·λ)
    assert c.flops == 14 * N
    assert _adamw(weight_decay="0").flops == 13 * N
    # amsgrad keeps max(v) as well: 9 accesses (36 B per parameter) and one more FLOP
    assert _adamw(amsgrad="True").bytes == 36 * N + 3 * 2 * 4


def test_fused_sgd_with_momentum_and_foreach_steps() -> None:
    # SGD with momentum: p, g, buf read; p, buf written → 5 accesses; p -= lr·(μ·buf + g): 2 + 3 FLOPs
    sgd = cost("aten::_fused_sgd_", [SHAPES] * 3 + [[]] * 9, ["TensorList"] * 3 + ["Scalar"] * 7 + ["", ""],
               ["", "", "", "0.", "0.9", "0.1", "0.", "False", "False", "False", "", ""], tensorlist_itemsize=2)
    assert sgd.bytes == 5 * N * 2 and sgd.flops == 5 * N
    # the foreach Adam's exp_avg_sq update: addcmul_(v, g, g, 1-β2) reads 3 lists, writes v
    addcmul = cost("aten::_foreach_addcmul_", [SHAPES, SHAPES, SHAPES, []], ["TensorList"] * 3 + ["Scalar"],
                   ["", "", "", "0.001"], tensorlist_itemsize=4)
    assert addcmul.bytes == 4 * N * 4 and addcmul.flops == 3 * N


def test_foreach_without_recorded_shapes_says_so() -> None:
    # the MI300X ResNet trace records _foreach_add_ with empty lists (kineto omits lists longer than 30)
    result = op_cost(OpCall("aten::_foreach_add_", [[], [], []], ["TensorList", "TensorList", "Scalar"], None,
                            ["", "", "-0.001"]))
    assert isinstance(result, NoCost) and "not recorded" in result.reason


@pytest.mark.parametrize("name", ["aten::_fused_adam_", "aten::_foreach_sqrt", "aten::_foreach_norm",
                                  "aten::_foreach_zero_", "aten::_foreach_lerp_"])
def test_optimizer_ops_need_an_element_size(name: str) -> None:
    result = op_cost(OpCall(name, [SHAPES], ["TensorList"], None, [""]))
    assert isinstance(result, NoCost) and "dtype" in result.reason
