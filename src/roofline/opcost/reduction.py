"""Reductions and scans: sum, mean, prod, max/min (and their dim/elementwise overloads),
amax/amin, argmax/argmin, var/std(_mean), norm/linalg_vector_norm, logsumexp, any/all,
cumsum/cumprod.

FLOPs per *input* element: 1 for sum/mean/prod/max/min/any/all/arg*/cumsum (one add or
compare); 2 for norms (|x|^p then add, p = 2: square + add); 4 for var/std (a mean pass, then
subtract, square, add); 4 for logsumexp (max, subtract, exp, add). Per-output work (mean's
division, std's sqrt) is ignored. Bytes: the input read once, the outputs written once
(max/min over a dim also write int64 indices). Which overload ran is told from the number of
arguments, because the profiler records the op name without its overload.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import BOOL, F32, I64, DType
from roofline.opcost.elementwise import elementwise_cost
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost, norm_dims
from roofline.precision import Unit


def reduce_cost(
    x: Tensor,
    dims: tuple[int, ...] | None,
    *,
    flops_per: float,
    outputs: list[DType],
    label: str,
    scan: bool = False,
) -> OpCost:
    """``dims`` None or () reduce everything; a scan keeps the input's shape."""
    if scan:
        out_n = x.numel
    elif not dims:
        out_n = 1
    else:
        reduced = set(norm_dims(dims, x.ndim))
        out_n = math.prod(s for i, s in enumerate(x.shape) if i not in reduced)
    n = x.numel
    nbytes = x.read_bytes + out_n * sum(d.itemsize for d in outputs)
    where = "all dims" if not dims and not scan else f"dims {list(dims or ())}"
    text = (
        f"{fmt(flops_per)}·n ({label} over {where}, n={fmt(n)} inputs, {fmt(out_n)} outputs); "
        "bytes: input read + outputs written"
    )
    return make_cost(flops_per * n, nbytes, x.dtype, Unit.VECTOR, text)


def _accumulating(x: Tensor, dtype: DType | None) -> DType:
    """sum/prod of bool or integers accumulate in int64 unless dtype= says otherwise."""
    if dtype is not None:
        return dtype
    return I64 if x.dtype.kind in ("bool", "int") else x.dtype


def _sum_like(label: str, accumulate: bool):
    def formula(call: OpCall) -> OpCost:
        # sum(self, dtype) / sum.dim_IntList(self, dim, keepdim, dtype); mean likewise
        ops = Operands(call)
        x = ops.tensor(0, "self")
        if len(ops) <= 2:
            dims, dtype = None, ops.dtype_arg(1)
        else:
            dims, dtype = ops.ints(1), ops.dtype_arg(3)
        out = _accumulating(x, dtype) if accumulate else (dtype or x.dtype)
        return reduce_cost(x, dims, flops_per=1, outputs=[out], label=label)

    return formula


register_op("aten::sum", "aten::nansum")(_sum_like("sum", True))
register_op("aten::mean", "aten::nanmean")(_sum_like("mean", False))


@register_op("aten::prod")
def _prod(call: OpCall) -> OpCost:
    # prod(self, dtype) / prod.dim_int(self, dim, keepdim, dtype)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    if len(ops) <= 2:
        return reduce_cost(x, None, flops_per=1, outputs=[_accumulating(x, ops.dtype_arg(1))], label="prod")
    return reduce_cost(
        x, ops.ints(1), flops_per=1, outputs=[_accumulating(x, ops.dtype_arg(3))], label="prod"
    )


def _max_like(label: str):
    def formula(call: OpCall) -> OpCost:
        # max(self) · max.dim(self, dim, keepdim) → (values, indices) · max.other(self, other)
        ops = Operands(call)
        if len(ops) >= 2 and ops.is_tensor(1):
            return elementwise_cost(
                ops, flops_per=1, rule="same", inputs=2, in_place=False, label=f"{label} (elementwise)"
            )
        x = ops.tensor(0, "self")
        if len(ops) >= 2 and ops.text(1) is not None:
            return reduce_cost(
                x, ops.ints(1), flops_per=1, outputs=[x.dtype, I64], label=f"{label} (values and indices)"
            )
        return reduce_cost(x, None, flops_per=1, outputs=[x.dtype], label=label)

    return formula


register_op("aten::max")(_max_like("max"))
register_op("aten::min")(_max_like("min"))


@register_op("aten::amax", "aten::amin")
def _amax(call: OpCall) -> OpCost:
    # amax(self, dim=[], keepdim): an empty dim list reduces everything
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return reduce_cost(x, ops.ints(1), flops_per=1, outputs=[x.dtype], label=call.name.rsplit("::", 1)[-1])


@register_op("aten::argmax", "aten::argmin")
def _argmax(call: OpCall) -> OpCost:
    # argmax(self, dim=None, keepdim)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return reduce_cost(x, ops.ints(1), flops_per=1, outputs=[I64], label=call.name.rsplit("::", 1)[-1])


def _var_like(label: str, outputs: int):
    def formula(call: OpCall) -> OpCost:
        # var(self, unbiased) · var.dim(self, dim, unbiased, keepdim) · var.correction(self, dim,
        # correction, keepdim); var_mean/std_mean return two tensors
        ops = Operands(call)
        x = ops.tensor(0, "self")
        dims = None if len(ops) <= 2 else ops.ints(1)
        return reduce_cost(x, dims, flops_per=4, outputs=[x.dtype] * outputs, label=label)

    return formula


register_op("aten::var")(_var_like("var", 1))
register_op("aten::std")(_var_like("std", 1))
register_op("aten::var_mean")(_var_like("var_mean", 2))
register_op("aten::std_mean")(_var_like("std_mean", 2))


@register_op("aten::norm")
def _norm(call: OpCall) -> OpCost:
    # norm.Scalar(self, p) · norm.ScalarOpt_dim(self, p, dim, keepdim[, dtype])
    ops = Operands(call)
    x = ops.tensor(0, "self")
    dims = ops.ints(2) if len(ops) >= 3 else None
    dtype = ops.dtype_arg(4) if len(ops) >= 5 else None
    return reduce_cost(x, dims, flops_per=2, outputs=[dtype or x.dtype], label="norm")


@register_op("aten::linalg_vector_norm")
def _vector_norm(call: OpCall) -> OpCost:
    # linalg_vector_norm(self, ord, dim, keepdim, dtype)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return reduce_cost(
        x, ops.ints(2), flops_per=2, outputs=[ops.dtype_arg(4) or x.dtype], label="vector norm"
    )


@register_op("aten::logsumexp")
def _logsumexp(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "self")
    out = x.dtype if x.dtype.is_floating else F32  # integer input gives the default float
    return reduce_cost(x, ops.ints(1), flops_per=4, outputs=[out], label="logsumexp")


@register_op("aten::any", "aten::all")
def _any(call: OpCall) -> OpCost:
    # any(self) · any.dim(self, dim, keepdim) · any.dims(self, dim[], keepdim)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    dims = ops.ints(1) if len(ops) >= 2 else None
    out = x.dtype if x.dtype.name == "uint8" else BOOL
    return reduce_cost(x, dims, flops_per=1, outputs=[out], label=call.name.rsplit("::", 1)[-1])


@register_op("aten::cumsum", "aten::cumprod", "aten::cumsum_", "aten::cumprod_", "aten::logcumsumexp")
def _scan(call: OpCall) -> OpCost:
    # cumsum(self, dim, dtype)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    dim = ops.int_(1)
    if dim is None:
        raise Malformed("dim was not recorded")
    norm_dims((dim,), x.ndim)
    out = _accumulating(x, ops.dtype_arg(2)) if not call.name.endswith("_") else x.dtype
    per = 4 if call.name.endswith("logcumsumexp") else 1
    return reduce_cost(
        x, (dim,), flops_per=per, outputs=[out], label=call.name.rsplit("::", 1)[-1], scan=True
    )


@register_op("aten::sort", "aten::argsort")
def _sort(call: OpCall) -> OpCost:
    """sort(self, dim, descending) · sort.stable(self, stable, dim, descending) → values and
    int64 indices (argsort: indices only). FLOPs: n·⌈log2 s⌉ comparisons (s = the sorted dim's
    size), the comparison count of a merge/radix-free sort, counted as FLOPs."""
    ops = Operands(call)
    x = ops.tensor(0, "self")
    stable_overload = ops.text(1) in ("True", "False") and len(ops) >= 4
    dim = ops.int_(2 if stable_overload else 1, -1)
    (d,) = norm_dims((dim if dim is not None else -1,), x.ndim)
    seg = x.shape[d] if x.ndim else 1
    per = max(1, math.ceil(math.log2(seg))) if seg > 1 else 1
    outputs = [I64] if call.name.endswith("argsort") else [x.dtype, I64]
    cost = reduce_cost(
        x, (d,), flops_per=per, outputs=outputs, label=f"sort, ⌈log2 {fmt(seg)}⌉ compares", scan=True
    )
    return cost


@register_op("aten::topk")
def _topk(call: OpCall) -> OpCost:
    # topk(self, k, dim, largest, sorted) → values and int64 indices, k per row
    ops = Operands(call)
    x = ops.tensor(0, "self")
    k = ops.int_(1)
    if k is None or k < 0:
        raise Malformed(f"k={k} was not recorded or is negative")
    (d,) = norm_dims((ops.int_(2, -1),), x.ndim)
    seg = x.shape[d] if x.ndim else 1
    if k > seg:
        raise Malformed(f"k={k} exceeds the dim size {seg}")
    rows = x.numel // seg if seg else 0
    n = x.numel
    nbytes = x.read_bytes + rows * k * (x.dtype.itemsize + I64.itemsize)
    return make_cost(
        n,
        nbytes,
        x.dtype,
        Unit.VECTOR,
        f"1·n (selection compares, n={fmt(n)}, k={fmt(k)} of {fmt(seg)}); "
        "bytes: input read + k values and indices per row written",
    )


@register_op("aten::multinomial")
def _multinomial(call: OpCall) -> OpCost:
    # multinomial(probs [rows, K], num_samples, replacement, generator): a scan and a search
    ops = Operands(call)
    p = ops.tensor(0, "self")
    samples = ops.int_(1)
    if samples is None or samples < 0 or p.ndim not in (1, 2):
        raise Malformed("num_samples was not recorded, or probs is not 1-d or 2-d")
    rows = p.shape[0] if p.ndim == 2 else 1
    n = p.numel
    return make_cost(
        2 * n,
        p.read_bytes + rows * samples * I64.itemsize,
        p.dtype,
        Unit.VECTOR,
        f"2·n (cumulative sum and search, n={fmt(n)}); bytes: probabilities read + int64 samples written",
    )
