"""Matrix products: mm, addmm, bmm, baddbmm, matmul, linear, mv, dot, _scaled_mm, _int_mm.

FLOPs are 2·M·N·K per product (one multiply and one add per term). A bias or ``beta·C`` add
is not counted, as in torch.utils.flop_counter: it is under 1/K of the work. Bytes: A, B (and
the bias/C operand) read once, the output written once — the traffic of a perfectly tiled
GEMM; the profiled kernel can exceed it (split-K partials, re-reads of tiles that miss L2).
Precision is A's dtype (an fp32 GEMM is "fp32 matrix"; on NVIDIA it falls back to the fp32
vector roof unless TF32 is enabled, which the trace does not record). Unit: matrix.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import I32, DType
from roofline.opcost.operands import Operands, Tensor, broadcast, fmt, make_cost, need_ndim
from roofline.precision import Unit


def gemm_cost(
    *,
    batch: int,
    m: int,
    n: int,
    k: int,
    reads: list[Tensor],
    out_dtype: DType,
    main: Tensor,
    formula: str,
    note: str = "",
) -> OpCost:
    if main.dtype.name == "float4_e2m1fn_x2":
        k *= 2  # shapes count packed pairs of fp4 values along K
    flops = 2 * batch * m * n * k
    out_bytes = batch * m * n * out_dtype.itemsize
    nbytes = sum(t.read_bytes for t in reads) + out_bytes
    dims = f"M={fmt(m)}, N={fmt(n)}, K={fmt(k)}" + (f", B={fmt(batch)}" if batch != 1 else "")
    text = f"{formula} ({dims}); bytes: inputs read once + M·N output" + (f"; {note}" if note else "")
    return make_cost(flops, nbytes, main.dtype, Unit.MATRIX, text)


def _mk(a: Tensor, b: Tensor) -> tuple[int, int, int]:
    (m, k), (k2, n) = a.shape[-2:], b.shape[-2:]
    if k != k2:
        raise Malformed(f"inner dimensions differ: {list(a.shape)} @ {list(b.shape)}")
    return m, n, k


def _out_dtype(ops: Operands, out_index: int, default: DType) -> DType:
    out = ops.opt_tensor(out_index, "out")
    return out.dtype if out is not None else default


@register_op("aten::mm")
def _mm(call: OpCall) -> OpCost:
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    need_ndim(a, 2, what="self")
    need_ndim(b, 2, what="mat2")
    m, n, k = _mk(a, b)
    return gemm_cost(
        batch=1, m=m, n=n, k=k, reads=[a, b], out_dtype=_out_dtype(ops, 2, a.dtype), main=a, formula="2·M·N·K"
    )


@register_op("aten::addmm", "aten::_addmm_activation")
def _addmm(call: OpCall) -> OpCost:
    ops = Operands(call)
    c, a, b = ops.tensor(0, "self"), ops.tensor(1, "mat1"), ops.tensor(2, "mat2")
    need_ndim(a, 2, what="mat1")
    need_ndim(b, 2, what="mat2")
    m, n, k = _mk(a, b)
    broadcast(c.shape, (m, n))
    return gemm_cost(
        batch=1,
        m=m,
        n=n,
        k=k,
        reads=[c, a, b],
        out_dtype=a.dtype,
        main=a,
        formula="2·M·N·K",
        note="bias add not counted",
    )


def _bmm_shapes(a: Tensor, b: Tensor) -> tuple[int, int, int, int]:
    need_ndim(a, 3, what="batch1")
    need_ndim(b, 3, what="batch2")
    if a.shape[0] != b.shape[0]:
        raise Malformed(f"batch sizes differ: {list(a.shape)} @ {list(b.shape)}")
    m, n, k = _mk(a, b)
    return a.shape[0], m, n, k


@register_op("aten::bmm")
def _bmm(call: OpCall) -> OpCost:
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    batch, m, n, k = _bmm_shapes(a, b)
    return gemm_cost(
        batch=batch,
        m=m,
        n=n,
        k=k,
        reads=[a, b],
        out_dtype=_out_dtype(ops, 2, a.dtype),
        main=a,
        formula="2·B·M·N·K",
    )


@register_op("aten::baddbmm")
def _baddbmm(call: OpCall) -> OpCost:
    ops = Operands(call)
    c, a, b = ops.tensor(0, "self"), ops.tensor(1, "batch1"), ops.tensor(2, "batch2")
    batch, m, n, k = _bmm_shapes(a, b)
    broadcast(c.shape, (batch, m, n))
    return gemm_cost(
        batch=batch,
        m=m,
        n=n,
        k=k,
        reads=[c, a, b],
        out_dtype=a.dtype,
        main=a,
        formula="2·B·M·N·K",
        note="C·beta add not counted",
    )


@register_op("aten::matmul")
def _matmul(call: OpCall) -> OpCost:
    """torch.matmul's cases: 1-D·1-D (dot), 2-D·1-D (mv), 1-D·2-D, and batched with
    broadcast batch dimensions; a 1-D operand is promoted to a matrix and the unit dim dropped."""
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "other")
    if a.ndim == 0 or b.ndim == 0:
        raise Malformed("matmul needs tensors of at least 1 dimension")
    if a.ndim == 1 and b.ndim == 1:
        if a.shape != b.shape:
            raise Malformed(f"dot of sizes {a.shape[0]} and {b.shape[0]}")
        return gemm_cost(
            batch=1,
            m=1,
            n=1,
            k=a.shape[0],
            reads=[a, b],
            out_dtype=a.dtype,
            main=a,
            formula="2·K (dot product)",
        )
    sa = (1, *a.shape) if a.ndim == 1 else a.shape
    sb = (*b.shape, 1) if b.ndim == 1 else b.shape
    (m, k), (k2, n) = sa[-2:], sb[-2:]
    if k != k2:
        raise Malformed(f"inner dimensions differ: {list(a.shape)} @ {list(b.shape)}")
    batch = math.prod(broadcast(sa[:-2], sb[:-2]))
    formula = "2·B·M·N·K (B = broadcast batch)" if len(sa) > 2 or len(sb) > 2 else "2·M·N·K"
    return gemm_cost(batch=batch, m=m, n=n, k=k, reads=[a, b], out_dtype=a.dtype, main=a, formula=formula)


@register_op("aten::linear")
def _linear(call: OpCall) -> OpCost:
    """input [..., in] · weightᵀ with weight [out, in] (or [in] for a vector), plus bias [out]."""
    ops = Operands(call)
    x, w = ops.tensor(0, "input"), ops.tensor(1, "weight")
    bias = ops.opt_tensor(2, "bias")
    if x.ndim == 0:
        raise Malformed("linear input must have at least 1 dimension")
    need_ndim(w, 1, 2, what="weight")
    k = x.shape[-1]
    n = w.shape[0] if w.ndim == 2 else 1
    if w.shape[-1] != k:
        raise Malformed(f"input features {k} do not match weight {list(w.shape)}")
    rows = math.prod(x.shape[:-1])
    reads = [x, w] + ([bias] if bias is not None else [])
    note = "bias read, its add not counted" if bias is not None else "no bias"
    return gemm_cost(
        batch=1,
        m=rows,
        n=n,
        k=k,
        reads=reads,
        out_dtype=x.dtype,
        main=x,
        formula="2·M·N·K (M = rows of input, N = out_features, K = in_features)",
        note=note,
    )


@register_op("aten::mv")
def _mv(call: OpCall) -> OpCost:
    ops = Operands(call)
    a, v = ops.tensor(0, "self"), ops.tensor(1, "vec")
    need_ndim(a, 2, what="self")
    need_ndim(v, 1, what="vec")
    m, n, k = _mk(a, Tensor((v.shape[0], 1), v.dtype))
    return gemm_cost(batch=1, m=m, n=n, k=k, reads=[a, v], out_dtype=a.dtype, main=a, formula="2·M·K")


@register_op("aten::addmv")
def _addmv(call: OpCall) -> OpCost:
    ops = Operands(call)
    c, a, v = ops.tensor(0, "self"), ops.tensor(1, "mat"), ops.tensor(2, "vec")
    need_ndim(a, 2, what="mat")
    need_ndim(v, 1, what="vec")
    m, n, k = _mk(a, Tensor((v.shape[0], 1), v.dtype))
    return gemm_cost(
        batch=1,
        m=m,
        n=n,
        k=k,
        reads=[c, a, v],
        out_dtype=a.dtype,
        main=a,
        formula="2·M·K",
        note="bias add not counted",
    )


@register_op("aten::dot", "aten::vdot")
def _dot(call: OpCall) -> OpCost:
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "tensor")
    need_ndim(a, 1, what="self")
    need_ndim(b, 1, what="tensor")
    if a.shape != b.shape:
        raise Malformed(f"dot of sizes {a.shape[0]} and {b.shape[0]}")
    return gemm_cost(
        batch=1, m=1, n=1, k=a.shape[0], reads=[a, b], out_dtype=a.dtype, main=a, formula="2·K (dot product)"
    )


@register_op("aten::_scaled_mm")
def _scaled_mm(call: OpCall) -> OpCost:
    """fp8/fp4 GEMM: (self, mat2, scale_a, scale_b, bias, scale_result, out_dtype, fast_accum).
    Precision is the fp8 input's; the output is out_dtype (default: the input dtype)."""
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    need_ndim(a, 2, what="self")
    need_ndim(b, 2, what="mat2")
    m, n, k = _mk(a, b)
    extras = [t for t in (ops.opt_tensor(i) for i in (2, 3, 4, 5)) if t is not None]
    out_dtype = ops.dtype_arg(6) or a.dtype
    return gemm_cost(
        batch=1,
        m=m,
        n=n,
        k=k,
        reads=[a, b, *extras],
        out_dtype=out_dtype,
        main=a,
        formula="2·M·N·K",
        note="scales and bias read",
    )


@register_op("aten::_int_mm")
def _int_mm(call: OpCall) -> OpCost:
    ops = Operands(call)
    a, b = ops.tensor(0, "self"), ops.tensor(1, "mat2")
    need_ndim(a, 2, what="self")
    need_ndim(b, 2, what="mat2")
    m, n, k = _mk(a, b)
    return gemm_cost(
        batch=1, m=m, n=n, k=k, reads=[a, b], out_dtype=I32, main=a, formula="2·M·N·K", note="int32 output"
    )
