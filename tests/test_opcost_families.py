"""Kernel-name families (roofline.opcost.kernel_families) and where an op's FLOPs go
(roofline.sources.kineto_cost), on kernel names and traces from public test data (HTA and
TraceLens, MIT; the two traces are in tests/data/external/opcost with their licence).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from roofline.analysis.event_table import UNITS
from roofline.opcost import OpCall, OpCost, op_cost
from roofline.opcost.kernel_families import COMPUTE, HELPER, functor_itemsize, kernel_family
from roofline.precision import Unit
from roofline.sources import read_input

EXTERNAL = Path(__file__).parent / "data" / "external" / "opcost"

# (kernel name as it appears in a public trace, class, role)
NAMES = [
    (("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_"
      "kernel__5x_cublas"), "GEMM", COMPUTE),  # TraceLens h100 Qwen
    ("nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT", "GEMM", COMPUTE),  # TraceLens b200 vLLM
    (("void cutlass::Kernel<cutlass_80_tensorop_s1688gemm_256x64_16x4_tn_align4>(cutlass_80_tensorop_s1688gemm_"
      "256x64_16x4_tn_align4::Params)"), "GEMM", COMPUTE),  # HTA DDP rank0 (graph replay)
    ("Cijk_Alik_Bljk_BBS_BH_Bias_HA_S_SAV_UserArgs_MT256x32x64_MI16x16x1_SN_LDSB1_AFC1", "GEMM", COMPUTE),
    ("volta_sgemm_128x128_tn", "GEMM", COMPUTE),  # HTA trace_diff
    ("_matmul_ogs_NNT_bf16xbf16xmxfp4_16x128x256x1_swiglu", "GEMM", COMPUTE),  # vLLM MoE on MI300X
    ("bmm_MxE4m3_MxE2m1MxE4m3_Fp32_t128x16x256u2_s3_et128x16_m128x16x32_cga1x1x1_16dp256b_rM_TN_transOut_schedP2x1x2",
     "GEMM", COMPUTE),  # vLLM MoE on B200 (TensorRT-LLM)
    ("igemm_wrw_gtcx3_nhwc_bf16_bx0_ex1_bt64x64x64_wt32x32x8_ws1x1_wr1x1", "convolution", COMPUTE),  # MIOpen
    ("_ZN2ck16tensor_operation6device37kernel_batched_gemm_xdlops_bwd_weightINS_47GridwiseGemm", "convolution",
     COMPUTE),  # Composable Kernel weight gradient
    ("void pytorch_flash::flash_fwd_kernel<pytorch_flash::Flash_fwd_kernel_traits<64, 128, 128, 4>>", "attention",
     COMPUTE),
    ("fmhaSm100aKernel_QkvE4m3OBfloat16H64PagedKvCausalP16VarSeqQ128Kv128PersistentContext", "attention", COMPUTE),
    ("void paged_attention_ll4mi_QKV_mfma16_kernel<0, __hip_bfloat16, __hip_bfloat16>", "attention", COMPUTE),
    ("kernel_unified_attention_3d", "attention", COMPUTE),
    # TensorRT-LLM MoE pieces of vLLM on B200 whose template arguments name cutlass/flashinfer types
    ("void moe::dev::finalize::finalizeKernelVecLoad<moe::dev::finalize::KernelParams<cutlass::bfloat16_t, "
     "cutlass::bfloat16_t, 4, true> >(moe::dev::finalize::KernelParams<cutlass::bfloat16_t, cutlass::bfloat16_t, 4, "
     "true>)", "MoE top-k combine", None),
    ("void tensorrt_llm::kernels::quantize_with_block_size<(tensorrt_llm::BlockScaleQuantizationType)2, "
     "__nv_bfloat16, 32, true>(int, int, int, int, __nv_bfloat16 const*, float const*, unsigned int*, unsigned int*, "
     "flashinfer::QuantizationSFLayout)", "quantisation", None),
    ("batched_transpose_16x32_half", "layout transpose", HELPER),  # MIOpen layout change
    ("transpose_NCHW2CNHW_V2_2D_WG_off64", "layout transpose", HELPER),
    ("SubTensorOpWithScalar1d", "tensor fill/cast", HELPER),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<int>, std::array<char*, 1ul> >",
     "fill", HELPER),
    ("void at::native::unrolled_elementwise_kernel<at::native::direct_copy_kernel_cuda(at::TensorIteratorBase&)",
     "copy", HELPER),
    ("void splitKreduce_kernel<32, 16, int, float, float, float, float, true, false>", "split-K reduction", HELPER),
    ("void multi_tensor_apply_kernel<TensorListMetadata<4>, AdamFunctor<float>, float>", "optimizer update", None),
    ("void at::native::batch_norm_backward_kernel<c10::BFloat16, c10::BFloat16, float, int>", "normalisation", None),
    (("void at::native::vectorized_elementwise_kernel<8, at::native::(anonymous namespace)::launch_clamp_scalar("
      "at::TensorIteratorBase&, c10::Scalar, c10::Scalar, at::native::detail::ClampLimits)::{lambda()#1}"),
     "elementwise", None),
]


@pytest.mark.parametrize("name, kind, role", NAMES)
def test_real_kernel_names_get_their_class(name: str, kind: str, role: str | None) -> None:
    family = kernel_family(name)
    assert family is not None and family.kind == kind
    assert role is None or family.role == role


def test_collectives_and_unknown_names_are_left_alone() -> None:
    assert kernel_family("ncclDevKernel_Generic(ncclDevKernelArgsStorage<4096ul>)") is None
    assert kernel_family("void (anonymous namespace)::multimem_all_reduce_kernel<c10::BFloat16, 16>") is None
    assert kernel_family("my_custom_thing") is None


def test_functor_element_size_for_tensor_list_ops() -> None:
    assert functor_itemsize("multi_tensor_apply_kernel<TensorListMetadata<2>, BinaryOpListAlphaFunctor<c10::BFloat16, "
                            "2, 2, 0>, std::plus<float>, float>") == 2
    assert functor_itemsize("multi_tensor_apply_kernel<TensorListMetadata<4>, AdamFunctor<float>, float>") == 4
    assert functor_itemsize("void at::native::vectorized_elementwise_kernel<4>") is None


def _convolution_forward(call_index: int = 0) -> OpCost:
    """The first miopen_convolution of the extract, costed from its own recorded args."""
    import gzip
    import json

    with gzip.open(EXTERNAL / "tracelens_mi300_resnet_conv_extract.json.gz") as f:
        events = json.load(f)["traceEvents"]
    convs = [e for e in events if e.get("cat") == "cpu_op" and e["name"] == "aten::miopen_convolution"]
    result = op_cost(OpCall.from_event(convs[call_index]))
    assert isinstance(result, OpCost)
    return result


def test_convolution_flops_go_to_the_convolution_kernels_not_the_transposes() -> None:
    # A MIOpen convolution runs layout transposes and a fill around its implicit-GEMM kernel. The op's
    # FLOPs all land on the GEMM/conv kernels; the transposes get bytes and no FLOPs, so none of them
    # can show as matrix work (issue 14: a transpose shown at 46 TFLOP/s).
    table = read_input(EXTERNAL / "tracelens_mi300_resnet_conv_extract.json.gz").events
    ops = np.array(table.ops.values, dtype=object)[table.op]
    names = np.array(table.names.values, dtype=object)[table.name]
    kernel = table.kind == 0
    conv = kernel & (ops == "aten::miopen_convolution")
    role = np.array([getattr(kernel_family(n), "role", None) for n in names], dtype=object)
    helpers = conv & (role == HELPER)
    compute = conv & (role == COMPUTE)
    assert helpers.sum() >= 10 and compute.sum() >= 4
    assert np.all(table.flops[helpers] == 0) and np.all(table.bytes[helpers] > 0)
    assert np.all(table.flops[compute] > 0)
    # Over the 4 calls, the FLOPs of the compute kernels add up to the 4 calls' formula FLOPs.
    expected = sum(_convolution_forward(i).flops for i in range(4))
    assert table.flops[conv].sum() == pytest.approx(expected, rel=1e-9)
    # and every byte of the op is still accounted for, helpers included
    assert table.bytes[conv].sum() == pytest.approx(sum(_convolution_forward(i).bytes for i in range(4)), rel=1e-9)


def test_graph_replayed_kernels_get_a_class_and_a_reason() -> None:
    table = read_input(EXTERNAL / "tracelens_sglang_qwen3_8b_decode_graph.json.gz").events
    names = np.array(table.names.values, dtype=object)[table.name]
    reasons = np.array(table.reasons.values, dtype=object)[table.reason]
    gemm = table.in_graph & np.array([n.startswith("Cijk_") for n in names])
    assert gemm.sum() > 100
    assert all(r.startswith("GEMM kernel (hipBLASLt/Tensile") and "graph" in r for r in reasons[gemm])
    attention = table.in_graph & np.array(["paged_attention" in n for n in names])
    assert attention.any() and all(r.startswith("attention kernel") for r in reasons[attention])
    assert np.all(table.unit[gemm] == UNITS.index(Unit.MATRIX)) and np.isnan(table.flops[gemm]).all()


def test_a_replay_linked_to_its_launching_region_is_classed_by_kernel_name(tmp_path: Path) -> None:
    # As in TraceLens's Flux trace: hipGraph/cudaGraph kernels carry the External id of the graph launch,
    # which sits in "Torch-Compiled Region: 0/0". That op has no formula; the kernels' names say more.
    import json

    def kernel(name: str, ts: float) -> dict:
        return {"ph": "X", "cat": "kernel", "name": name, "ts": ts, "dur": 10, "pid": 0, "tid": 7,
                "args": {"device": 0, "stream": 7, "correlation": 99, "External id": 7}}

    trace = {"traceEvents": [
        {"ph": "X", "cat": "cpu_op", "name": "Torch-Compiled Region: 0/0", "ts": 0, "dur": 100, "pid": 1, "tid": 1,
         "args": {"External id": 7}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaGraphLaunch", "ts": 10, "dur": 5, "pid": 1, "tid": 1,
         "args": {"correlation": 99, "External id": 7}},
        kernel("nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT", 20),
        kernel("my_unknown_kernel", 40),
    ]}
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(trace), encoding="utf-8")
    table = read_input(path).events
    reasons = {table.names.values[n]: table.reasons.values[r] for n, r in zip(table.name, table.reason)}
    assert table.in_graph.all()
    assert reasons["nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT"].startswith("GEMM kernel (cuBLASLt (nvjet)")
    assert "graph" in reasons["nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT"]
    # an unrecognised name keeps the launcher op's reason
    assert reasons["my_unknown_kernel"] == "no formula for Torch-Compiled Region: 0/0"
