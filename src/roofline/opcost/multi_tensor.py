"""Cost of a multi-tensor-apply kernel (fused optimizer, ``_foreach_*``) from its launch grid.

kineto drops TensorList shapes longer than 30 tensors, and a library-launched optimizer kernel
(apex/DeepSpeed ``FusedAdam``) has no launching op at all, so the op formulas of
:mod:`roofline.opcost.optimizer` cannot run. The kernel's own record still says enough:

* ``multi_tensor_apply`` launches one block per chunk of ``kChunkSize`` = 65 536 elements
  (PyTorch ``aten/src/ATen/native/cuda/MultiTensorApply.cuh``; apex's and DeepSpeed's
  ``multi_tensor_applier`` pass ``2048 * 32``, the same), so ``grid.x × 65 536`` is an upper
  bound on the elements one launch processes. Each tensor's last chunk is partial: a launch of
  T tensors processes between ``(grid.x − T) × 65 536`` and ``grid.x × 65 536`` elements
  (T ≤ 36 for PyTorch's depth-4 Adam layout), so the figures here are upper bounds, tight for
  large tensors and loose for many small ones.
* the functor in the kernel's template arguments says what one element costs:
  ``FusedAdamMathFunctor<T, depth, ADAM_MODE, amsgrad>`` (PyTorch ``_fused_adam(w)_``) and apex's
  ``AdamFunctor<T>`` read param, grad, exp_avg, exp_avg_sq and write param, exp_avg, exp_avg_sq
  (7 accesses of T; 9 with amsgrad's max_exp_avg_sq) and do 13 FLOPs (the update counted in
  :mod:`roofline.opcost.optimizer`; the weight-decay and grad-scale terms, ≤ 3 more, are not
  known from the name and are left out); ``BinaryOpScalarFunctor``/``BinaryOpListAlphaFunctor``/
  ``BinaryOpScalarListFunctor<T, depth, r_args_depth, res_arg_index>`` with ``std::plus``,
  ``std::minus``, ``std::multiplies`` or ``std::divides`` read ``r_args_depth`` lists and write one,
  1 FLOP per element (2 for the alpha variants' scaling: ``a + alpha·b``).

The arithmetic intensity (FLOPs ÷ bytes per element) is exact whatever the element count, so the
compute/memory verdict does not depend on the partial chunks; the per-launch time does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roofline.opcost.dtypes import BF16, F32, DType, parse_dtype
from roofline.precision import Unit

CHUNK_ELEMENTS = 65536  # kChunkSize (PyTorch) and 2048 * 32 (apex/DeepSpeed multi_tensor_applier)

_TYPE = r"(double|float|c10::Half|c10::BFloat16|at::Half|at::BFloat16)"
_FUSED_ADAM = re.compile(r"FusedAdamMathFunctor<\s*" + _TYPE + r"\s*,\s*(\d+)\s*,[^,>]*,\s*(true|false)\s*>")
_APEX_ADAM = re.compile(r"\bAdamFunctor<\s*" + _TYPE + r"\s*>")
_BINARY = re.compile(r"BinaryOp(Scalar|ListAlpha|ScalarList)Functor<\s*" + _TYPE
                     + r"\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*>\s*,\s*std::(plus|minus|multiplies|divides)<")
_DTYPES = {"double": "float64", "float": "float32", "c10::Half": "float16", "at::Half": "float16",
           "c10::BFloat16": "bfloat16", "at::BFloat16": "bfloat16"}


@dataclass(frozen=True)
class ChunkCost:
    """FLOPs and bytes per element processed, the element type, and how they were told."""

    flops_per_element: float
    bytes_per_element: float
    dtype: DType
    unit: Unit
    formula: str


def _dtype(spelling: str) -> DType:
    return parse_dtype(_DTYPES[spelling]) or (BF16 if "BFloat16" in spelling else F32)


def functor_cost(kernel_name: str) -> ChunkCost | None:
    """Per-element cost of a multi-tensor-apply kernel, from its functor; None for functors not
    known here (unary math, pointwise ternaries, norms), whose cost the name does not pin down."""
    if not isinstance(kernel_name, str) or "multi_tensor_apply_kernel" not in kernel_name:
        return None
    m = _FUSED_ADAM.search(kernel_name)
    if m:
        dtype, amsgrad = _dtype(m.group(1)), m.group(3) == "true"
        accesses = 9 if amsgrad else 7
        return ChunkCost(13.0, accesses * dtype.itemsize, dtype, Unit.VECTOR,
                         f"fused Adam(W) update: 13 FLOPs and {accesses} accesses of {dtype.itemsize} B per element")
    m = _APEX_ADAM.search(kernel_name)
    if m:
        dtype = _dtype(m.group(1))
        return ChunkCost(13.0, 7 * dtype.itemsize, dtype, Unit.VECTOR,
                         f"apex Adam update: 13 FLOPs and 7 accesses of {dtype.itemsize} B per element")
    m = _BINARY.search(kernel_name)
    if m:
        variant, dtype, reads = m.group(1), _dtype(m.group(2)), int(m.group(4))
        flops = 2.0 if variant == "ListAlpha" else 1.0
        accesses = reads + 1
        return ChunkCost(flops, accesses * dtype.itemsize, dtype, Unit.VECTOR,
                         f"_foreach_ {m.group(6)}: {flops:g} FLOP{'s' if flops != 1 else ''} and {accesses} accesses "
                         f"of {dtype.itemsize} B per element")
    return None


# Tensors one launch can carry, by depth (lists), in the 4 KB kernel-argument layout that PyTorch,
# apex and DeepSpeed share (depth_to_max_tensors in MultiTensorApply.cuh / multi_tensor_apply.cuh).
MAX_TENSORS_4KB = (110, 64, 48, 36, 30)
_DEPTH = re.compile(r"TensorListMetadata<\s*(\d+)\s*[,>]")


def launch_depth(kernel_name: str) -> int | None:
    """Number of tensor lists of a multi-tensor launch (``TensorListMetadata<4>`` → 4)."""
    m = _DEPTH.search(kernel_name) if isinstance(kernel_name, str) else None
    return int(m.group(1)) if m else None


def element_range(grid_x: int, depth: int) -> tuple[int, int] | None:
    """(fewest, most) elements one launch of ``grid_x`` blocks processes: every block one chunk,
    every tensor's last chunk possibly holding a single element. None where the grid is no wider
    than the tensors one launch may carry, so the fewest could be almost nothing (a list of
    one-element step counters launches a block per tensor)."""
    if not 1 <= depth <= len(MAX_TENSORS_4KB):
        return None
    tensors = MAX_TENSORS_4KB[depth - 1]
    if grid_x <= tensors:
        return None
    return (grid_x - tensors) * CHUNK_ELEMENTS + tensors, grid_x * CHUNK_ELEMENTS


__all__ = ["CHUNK_ELEMENTS", "MAX_TENSORS_4KB", "ChunkCost", "element_range", "functor_cost", "launch_depth"]
