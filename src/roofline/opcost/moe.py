"""Mixture-of-experts pieces: grouped GEMMs (``_grouped_mm``, ``_scaled_grouped_mm``) and the
routing ops not costed elsewhere (``histc``, ``bincount``, ``nonzero``; topk, sort, index_select,
scatter and index_add are in reduction.py and indexing.py).

Grouped GEMM shapes (torch._grouped_mm): 2-D × 3-D — A [ΣM, K], B [G, K, N], groups along M:
2·ΣM·N·K; 3-D × 3-D — A [G, M, K], B [G, K, N]: 2·G·M·N·K; 2-D × 2-D — A [M, ΣK], B [ΣK, N], groups
along K, output [G, M, N]: 2·M·N·ΣK; 3-D × 2-D — A [G, M, K], B [K, ΣN], groups along N: 2·M·K·ΣN.
However the tokens fall into groups, the sum is the same: the offsets' values are not needed.
Bytes: A, B, offsets (and scales, bias) read once, the output written once.
Routing: histc 3 FLOPs per input (scale, shift, an atomic add); bincount 1; nonzero 1 compare per
element. nonzero's output size depends on the data, which the trace does not hold: its bytes are
the input read only, a lower bound, and the formula says so.

triton_kernels' MoE routing (vLLM's gpt-oss path on ROCm/Hopper, recorded as the autograd
Functions ``TopK`` and ``SortTokens`` inside ``vllm::moe_forward``); buffer types are those
triton_kernels allocates (topk.py, routing.py):
  TopK(x [T, E], k, apply_softmax, dim, return_bitmatrix, y_indx, n_rows): 1 compare per logit,
      plus softmax (5) over the k kept; x read, top-k values (x's type) and int16 indices written,
      and a bitmatrix of ⌈E/32⌉ uint32 words per row (rows padded to 32).
  SortTokens(expt_scal [T, k], expt_indx [T, k], n_expts_tot[, bitmatrix]): integer work only
      (a histogram and a scan: 0 FLOPs); scores, indices and the bitmatrix read, two int32 index
      lists and the gate scores written, an int32 histogram of E.
"""

from __future__ import annotations

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import BF16, I16, I32, I64, U32, DType
from roofline.opcost.gemm import gemm_cost
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def grouped_mm_cost(a: Tensor, b: Tensor, offs: Tensor | None, extras: list[Tensor], out_dtype: DType,
                    formula_note: str) -> OpCost:
    groups = offs.numel if offs is not None else 1
    extras = [offs, *extras] if offs is not None else extras
    if (a.ndim, b.ndim) == (2, 3):
        (rows, k), (g, k2, n) = a.shape, b.shape
        m, batch, text = rows, 1, f"2·ΣM·N·K (G={fmt(g)} groups along M)"
    elif (a.ndim, b.ndim) == (3, 3):
        (g, m, k), (g2, k2, n) = a.shape, b.shape
        if g != g2:
            raise Malformed(f"group counts differ: {list(a.shape)} @ {list(b.shape)}")
        batch, text = g, "2·G·M·N·K"
    elif (a.ndim, b.ndim) == (2, 2):
        (m, k), (k2, n) = a.shape, b.shape
        g = groups
        batch, text = 1, f"2·M·N·ΣK (G={fmt(g)} groups along K, output [G, M, N])"
    elif (a.ndim, b.ndim) == (3, 2):
        (g, m, k), (k2, n) = a.shape, b.shape
        batch, text = 1, f"2·M·K·ΣN (G={fmt(g)} groups along N)"
    else:
        raise Malformed(f"grouped mm of {a.ndim}-d and {b.ndim}-d operands")
    if k != k2:
        raise Malformed(f"inner dimensions differ: {list(a.shape)} @ {list(b.shape)}")
    cost = gemm_cost(batch=batch, m=m, n=n, k=k, reads=[a, b, *extras], out_dtype=out_dtype, main=a,
                     formula=text, note=formula_note)
    if (a.ndim, b.ndim) == (2, 2):  # G outputs of M×N each, not one
        extra_out = (groups - 1) * m * n * out_dtype.itemsize
        return make_cost(cost.flops, cost.bytes + extra_out, a.dtype, Unit.MATRIX, cost.formula)
    return cost


@register_op("aten::_grouped_mm")
def _grouped_mm(call: OpCall) -> OpCost:
    # (self, mat2, offs, bias, out_dtype)
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    extras = [t for t in (ops.opt_tensor(3, "bias"),) if t is not None]
    return grouped_mm_cost(a, b, ops.opt_tensor(2, "offs"), extras, ops.dtype_arg(4) or a.dtype, "offsets (and a bias) read")


@register_op("aten::_scaled_grouped_mm")
def _scaled_grouped_mm(call: OpCall) -> OpCost:
    # (self, mat2, scale_a, scale_b, offs, bias, scale_result, out_dtype, use_fast_accum)
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    offs = ops.opt_tensor(4, "offs")
    extras = [t for t in (ops.opt_tensor(2), ops.opt_tensor(3), ops.opt_tensor(5), ops.opt_tensor(6)) if t is not None]
    return grouped_mm_cost(a, b, offs, extras, ops.dtype_arg(7) or BF16, "scales, offsets and bias read; "
                           "output bf16 unless out_dtype says otherwise")


@register_op("aten::histc")
def _histc(call: OpCall) -> OpCost:
    # (self, bins, min, max)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    bins = ops.int_(1, 100)
    if bins is None or bins < 1:
        raise Malformed(f"bins={bins} is not positive")
    return make_cost(3 * x.numel, x.read_bytes + bins * x.dtype.itemsize, x.dtype, Unit.VECTOR,
                     f"3·n (scale, shift, atomic add; n={fmt(x.numel)}, {fmt(bins)} bins); bytes: input read, "
                     "bins written")


@register_op("aten::bincount")
def _bincount(call: OpCall) -> OpCost:
    # (self, weights, minlength): the output size is max(self)+1, data-dependent; minlength bounds it
    ops = Operands(call)
    x = ops.tensor(0, "self")
    w = ops.opt_tensor(1, "weights")
    bins = ops.int_(2, 0) or 0
    out = (w.dtype.itemsize if w is not None else I64.itemsize) * bins
    return make_cost(x.numel, x.read_bytes + (w.read_bytes if w is not None else 0) + out, x.dtype, Unit.VECTOR,
                     f"1·n (n={fmt(x.numel)}); bytes: input" + (" and weights" if w is not None else "")
                     + f" read, minlength={fmt(bins)} counts written (the real count is data-dependent)")


@register_op("aten::nonzero")
def _nonzero(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return make_cost(x.numel, x.read_bytes, x.dtype, Unit.VECTOR,
                     f"1·n compares (n={fmt(x.numel)}); bytes: input read — a lower bound: the int64 indices "
                     "written depend on the data, which the trace does not hold")


def _bitmatrix_bytes(tokens: int, experts: int) -> int:
    # triton_kernels: ceil(E/32) uint32 words per row, rows padded to a multiple of 32
    return -(-experts // 32) * (-(-tokens // 32) * 32) * U32.itemsize


@register_op("TopK")
def _triton_topk(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "x")
    k = ops.int_(1)
    if x.ndim != 2 or k is None or not 0 < k <= x.shape[1]:
        raise Malformed(f"x {list(x.shape)} is not [T, E] or k={k} was not recorded")
    tokens, experts = x.shape
    softmax = ops.bool_(2, True)
    flops = tokens * experts + (5 * tokens * k if softmax else 0)
    written = tokens * k * (x.dtype.itemsize + I16.itemsize) + _bitmatrix_bytes(tokens, experts)
    return make_cost(flops, x.read_bytes + written, x.dtype, Unit.VECTOR,
                     f"T·E compares + {'5·T·k softmax ' if softmax else ''}(T={fmt(tokens)}, E={fmt(experts)}, "
                     f"k={fmt(k)}); bytes: logits read, top-k values and int16 indices and the expert bitmatrix "
                     "written (triton_kernels' TopK)")


@register_op("SortTokens")
def _triton_sort_tokens(call: OpCall) -> OpCost:
    ops = Operands(call)
    scal, indx = ops.tensor(0, "expt_scal"), ops.tensor(1, "expt_indx")
    experts = ops.int_(2)
    if scal.ndim != 2 or scal.shape != indx.shape or experts is None or experts < 1:
        raise Malformed(f"expt_scal {list(scal.shape)} and expt_indx {list(indx.shape)} are not both [T, k], or "
                        "n_expts_tot was not recorded")
    tokens, k = scal.shape
    gates = tokens * k
    read = scal.read_bytes + indx.read_bytes + _bitmatrix_bytes(tokens, experts)
    written = 2 * gates * I32.itemsize + gates * scal.dtype.itemsize + experts * I32.itemsize
    return make_cost(0, read + written, scal.dtype, Unit.VECTOR,
                     f"0 FLOPs (histogram and scan of T·k={fmt(gates)} expert ids over E={fmt(experts)}); bytes: "
                     "scores, ids and bitmatrix read, two int32 index lists, the gate scores and the histogram "
                     "written (triton_kernels' SortTokens)")
