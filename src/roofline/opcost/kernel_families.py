"""What kind of work a GPU kernel does, told from its name alone.

A kernel replayed from a CUDA/HIP graph, or launched where the profiler recorded no op, comes
with nothing but its name: no shapes, so no FLOPs or bytes. Its name still says what it is —
``sm90_xmma_gemm_…``, ``nvjet_tst_…``, ``Cijk_Alik_Bljk_…`` are GEMMs, ``igemm_wrw_…`` a MIOpen
weight-gradient convolution, ``flash_bwd_…`` a flash-attention backward — so such a kernel can at
least be given its class and a reason why its cost is unknown.

The same families decide where an op's FLOPs go (:mod:`roofline.sources.kineto_cost`): a
convolution that runs a layout transpose, the convolution proper and a fill of its output does
all its FLOPs in the one ``compute`` kernel; the ``helper`` kernels only move bytes.

Patterns were taken from kernel names in public traces (HTA and TraceLens test data: cuBLAS,
cuBLASLt, CUTLASS, hipBLASLt/Tensile, MIOpen, Composable Kernel, cuDNN, flash-attention, vLLM,
SGLang, aiter, fbgemm) and are matched in order, first hit wins. NCCL/RCCL kernels are left
out on purpose: collectives are judged against the interconnect, not by this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from roofline.precision import Unit

COMPUTE, HELPER, OTHER = "compute", "helper", "other"


@dataclass(frozen=True)
class Family:
    """``kind`` is the class shown to the user (``GEMM``, ``convolution``, ``layout transpose``…),
    ``library`` who wrote the kernel, ``role`` one of compute (does the op's matrix work), helper
    (moves data for another kernel: layout, copy, fill, split-K reduction) or other."""

    kind: str
    library: str
    role: str
    unit: Unit


def _f(kind: str, library: str, role: str = OTHER, unit: Unit = Unit.VECTOR) -> Family:
    return Family(kind, library, role, unit)


_GEMM = "GEMM"
_CONV = "convolution"
_ATTN = "attention"

# (pattern on the name, family), first match wins: helpers before the compute families whose
# names they share ("splitKreduce" is no GEMM, "batched_transpose" in a conv is no conv).
# fmt: off
_RULES: tuple[tuple[str, Family], ...] = (
    # ---- helpers: layout changes, copies, fills and the reductions that finish a split-K GEMM
    (r"splitkreduce|split_k_reduce|splitk_reduce|reduce_splitk|gemvx?_?splitk_?reduce|cublaslt::splitk",
     _f("split-K reduction", "cuBLAS/cuBLASLt", HELPER)),
    ((r"nchwtonhwc|nhwctonchw|nchw2nhwc|nhwc2nchw|batched_transpose|transpose_|_transpose|transposekernel"
      r"|permute_kernel|tensortransform|convert_layout|layout_convert|im2col|col2im"),
     _f("layout transpose", "vendor library", HELPER)),
    (r"subtensorop(withscalar|withcast)", _f("tensor fill/cast", "MIOpen", HELPER)),
    (r"fillfunctor|fill_kernel|_fill_|memset|zero_kernel|zeroing|setzero|set_zero",
     _f("fill", "PyTorch ATen", HELPER)),
    (r"direct_copy_kernel|copy_kernel|catarraybatchedcopy|copy_device_to_device|_copy_|memcpy",
     _f("copy", "PyTorch ATen", HELPER)),
    # ---- TensorRT-LLM MoE pieces whose template arguments name cutlass or flashinfer types
    #      ("finalize::KernelParams<cutlass::bfloat16_t…>", "flashinfer::QuantizationSFLayout"):
    #      not GEMMs or attention, so before those families
    (r"moe::dev::finalize|finalizekernel", _f("MoE top-k combine", "TensorRT-LLM")),
    (r"quantize_with_block_size|kernels::quantize", _f("quantisation", "TensorRT-LLM")),
    # ---- attention (before GEMM: fmha kernels contain "gemm" in some builds)
    ((r"flash_bwd|flash_fwd|flash::|pytorch_flash|fmha|flash_attn|attn_fwd|attn_bwd|_attention|attention_"
      r"|paged_attention|mha_(fwd|bwd|batch)|unified_attention|flashinfer|batchprefill|batchdecode"
      r"|cutlass_sdpa|sdpa_|efficient_attention|fused_multihead|sage_?attn"),
     _f("attention", "fused attention", COMPUTE, Unit.MATRIX)),
    # ---- convolutions: cuDNN, MIOpen (igemm, naive, CK grouped conv), CUTLASS conv
    ((r"igemm_(fwd|bwd|wrw)|gtcx\d?_nhwc|naive_conv|miopen.*conv|conv_(fwd|bwd|wrw)|grouped_conv"
      r"|bwd_weight|bwd_data|fwd_multiple_abd"),
     _f(_CONV, "MIOpen/Composable Kernel", COMPUTE, Unit.MATRIX)),
    ((r"implicit_?convolve|precomputed_convolve|convolve_|xmma_(fprop|dgrad|wgrad)|(fprop|dgrad|wgrad)_"
      r"|cudnn::.*conv|winograd|fft2d_|conv2d_|cutlass.*conv|_conv_|implicit_gemm"),
     _f(_CONV, "cuDNN", COMPUTE, Unit.MATRIX)),
    # ---- GEMMs
    (r"^nvjet_", _f(_GEMM, "cuBLASLt (nvjet)", COMPUTE, Unit.MATRIX)),
    (r"^cijk_|^tensile", _f(_GEMM, "hipBLASLt/Tensile", COMPUTE, Unit.MATRIX)),
    (r"cutlass", _f(_GEMM, "CUTLASS", COMPUTE, Unit.MATRIX)),
    ((r"sm\d+_xmma_gemm|xmma_gemm|^(ampere|volta|turing|maxwell|sm\d+)_\w*gemm|gemmk1|gemmsn|gemv2[nt]"
      r"|gemvx|cublas"),
     _f(_GEMM, "cuBLAS", COMPUTE, Unit.MATRIX)),
    (r"rocblas|wvsplitk|gemm_a16w16|gemm_a8w8|bf16gemm|kernel_gemm_xdl|gemm_xdl",
     _f(_GEMM, "rocBLAS/aiter/CK", COMPUTE, Unit.MATRIX)),
    ((r"_matmul_ogs|triton_tem_fused_(addmm|mm|bmm)|matmul_kernel|fused_moe_kernel|^bmm_|grouped_gemm"
      r"|grouped_mm|deep_gemm|fp8_gemm|scaled_mm"),
     _f(_GEMM, "Triton/TensorRT-LLM/DeepGEMM", COMPUTE, Unit.MATRIX)),
    (r"gemm|gemv", _f(_GEMM, "unrecognised library", COMPUTE, Unit.MATRIX)),
    # ---- the rest: not matrix work, but the class still helps
    (r"multi_tensor_apply|adamfunctor|fusedadam|fusedsgd|lambfunctor", _f("optimizer update", "PyTorch/apex")),
    (r"batch_norm|layer_norm|layernorm|group_norm|groupnorm|rms_?norm|rmsnorm|norm2d|normalization",
     _f("normalisation", "vendor library")),
    (r"softmax", _f("softmax", "vendor library")),
    (r"embedding|split_embedding|tbe_|bounds_check_indices", _f("embedding lookup", "PyTorch/fbgemm")),
    ((r"gather|scatter|index_|indexing|sort|radix|topk|top_k|histogram|histc|unique|nonzero|cub::|moe_align"
      r"|routing|permute_|bucketize"),
     _f("gather/scatter/sort", "PyTorch/CUB/vendor")),
    (r"reduce_kernel|reduction|triton_red_|triton_per_|sum_kernel|mean_kernel|argmax|argmin",
     _f("reduction", "PyTorch ATen/Triton")),
    (r"rotary|rope_", _f("rotary embedding", "serving engine")),
    (r"reshape_and_cache|store_cache|kv_cache|cache_kernel", _f("KV-cache write", "serving engine")),
    (r"quant", _f("quantisation", "vendor library")),
    (r"elementwise|triton_poi_|act_and_mul|silu|gelu|relu|unrolled_|vectorized_|pointwise",
     _f("elementwise", "PyTorch ATen/Triton")),
    (r"^triton_|^triton__", _f("Triton", "Inductor/Triton")),
)
# fmt: on
_COMPILED = tuple((re.compile(pattern), family) for pattern, family in _RULES)


def _is_communication(lowered: str) -> bool:
    return "nccl" in lowered or "rccl" in lowered or "all_reduce" in lowered or "allreduce" in lowered


@lru_cache(maxsize=8192)
def kernel_family(name: str) -> Family | None:
    """The family of a kernel by its name; None for names no rule knows, and for collectives
    (NCCL/RCCL, all-reduce kernels), which are not this module's business."""
    if not isinstance(name, str) or not name:
        return None
    lowered = name.lower()
    if _is_communication(lowered):
        return None
    for pattern, family in _COMPILED:
        if pattern.search(lowered):
            return family
    return None


def unknown_reason(name: str, *, in_graph: bool) -> str | None:
    """Why a kernel known only by its name has no FLOPs/bytes, with its class; None when the
    name says nothing (the caller keeps its generic reason)."""
    family = kernel_family(name)
    if family is None:
        return None
    what = f"{family.kind} kernel ({family.library}, recognised by its name)"
    if in_graph:
        return (f"{what} replayed from a CUDA/HIP graph: the replay records no op and no shapes, and no eager "
                "kernel of this name is in the trace (profile one eager step too, or capture the graph under the "
                "profiler)")
    return (f"{what} with no launching op in the trace (a library-internal launch, or its op was not "
            "recorded): no shapes, so FLOPs and bytes are unknown")


# Element types in the template arguments of ATen's multi-tensor (foreach / fused optimizer)
# kernels: "BinaryOpListAlphaFunctor<c10::BFloat16, 2, 2, 0>", "FusedAdamMathFunctor<float, 4, …>".
_FUNCTOR_TYPE = re.compile(
    r"Functor<\s*(double|float|c10::Half|c10::BFloat16|at::Half|at::BFloat16|c10::complex<float>|long|int"
    r"|signed char|unsigned char|bool)\s*[,>]")
_TYPE_SIZES = {"double": 8, "float": 4, "c10::Half": 2, "c10::BFloat16": 2, "at::Half": 2, "at::BFloat16": 2,
               "c10::complex<float>": 8, "long": 8, "int": 4, "signed char": 1, "unsigned char": 1, "bool": 1}


def functor_itemsize(kernel_name: str) -> int | None:
    """Element size named by the first template argument of a multi-tensor kernel's functor;
    None when the name has none (kineto records no dtype for TensorList arguments)."""
    m = _FUNCTOR_TYPE.search(kernel_name) if isinstance(kernel_name, str) else None
    return _TYPE_SIZES[m.group(1)] if m else None


__all__ = ["COMPUTE", "HELPER", "OTHER", "Family", "functor_itemsize", "kernel_family", "unknown_reason"]
