"""Fills and factories: fill_, zero_, zeros/ones/full(_like), new_zeros/ones/full,
scalar_tensor, arange, _assert_async.

No FLOPs; bytes are the output written once (nothing is read). The factories are composites
(empty + fill_), costed like the fill their child runs, so a kernel attributed to either gets
the same answer. Output sizes and dtypes come from Concrete Inputs (``size`` lists and the
ScalarType code); without a dtype the default fp32 (int64 for an integral arange) is assumed.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import BOOL, F32, I64, DType, scalar_kind
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def write_cost(n: int, dtype: DType, label: str) -> OpCost:
    if n < 0:
        raise Malformed(f"negative output size {n}")
    return make_cost(
        0,
        n * dtype.itemsize,
        dtype,
        Unit.VECTOR,
        f"0 FLOPs ({label}, n={fmt(n)}); bytes: output written once",
    )


def _size(ops: Operands, i: int) -> int:
    size = ops.ints(i)
    if size is None:
        raise Malformed("the size was not recorded")
    if min(size, default=0) < 0:
        raise Malformed(f"negative size {list(size)}")
    return math.prod(size)


@register_op("aten::fill_", "aten::zero_", "aten::fill")
def _fill(call: OpCall) -> OpCost:
    ops = Operands(call)
    x: Tensor = ops.tensor(0, "self")
    return write_cost(x.numel, x.dtype, call.name.rsplit("::", 1)[-1])


def _value_dtype(ops: Operands, i: int) -> DType:
    kind = scalar_kind(ops.text(i))
    return {"int": I64, "bool": BOOL}.get(kind or "", F32)


@register_op("aten::zeros", "aten::ones")
def _zeros(call: OpCall) -> OpCost:
    # zeros(size, dtype, layout, device, pin_memory)
    ops = Operands(call)
    return write_cost(_size(ops, 0), ops.dtype_arg(1) or F32, call.name.rsplit("::", 1)[-1])


@register_op("aten::full")
def _full(call: OpCall) -> OpCost:
    # full(size, fill_value, dtype, …): without dtype, the fill value's kind decides
    ops = Operands(call)
    return write_cost(_size(ops, 0), ops.dtype_arg(2) or _value_dtype(ops, 1), "full")


@register_op("aten::zeros_like", "aten::ones_like", "aten::full_like")
def _like(call: OpCall) -> OpCost:
    # zeros_like(self, dtype, …) · full_like(self, fill_value, dtype, …)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    dtype_i = 2 if call.name.endswith("full_like") else 1
    return write_cost(x.numel, ops.dtype_arg(dtype_i) or x.dtype, call.name.rsplit("::", 1)[-1])


@register_op("aten::new_zeros", "aten::new_ones", "aten::new_full")
def _new(call: OpCall) -> OpCost:
    # new_zeros(self, size, dtype, …) · new_full(self, size, fill_value, dtype, …)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    dtype_i = 3 if call.name.endswith("new_full") else 2
    return write_cost(_size(ops, 1), ops.dtype_arg(dtype_i) or x.dtype, call.name.rsplit("::", 1)[-1])


@register_op("aten::scalar_tensor")
def _scalar_tensor(call: OpCall) -> OpCost:
    # scalar_tensor(s, dtype, …): a one-element fill
    ops = Operands(call)
    return write_cost(1, ops.dtype_arg(1) or F32, "scalar_tensor")


@register_op("aten::arange")
def _arange(call: OpCall) -> OpCost:
    """arange(end, dtype, …) [5 args] · arange(start, end, dtype, …) [6] · arange(start, end,
    step, dtype, …) [7] · arange.start_out(start, end, step, out) [4]."""
    ops = Operands(call)
    n_args = len(ops)
    layouts = {5: (None, 0, None, 1), 6: (0, 1, None, 2), 7: (0, 1, 2, 3), 4: (0, 1, 2, None)}
    if n_args not in layouts:
        raise Malformed(f"unexpected arange arity {n_args}")
    i_start, i_end, i_step, i_dtype = layouts[n_args]
    start = ops.float_(i_start, 0.0) if i_start is not None else 0.0
    end = ops.float_(i_end)
    step = ops.float_(i_step, 1.0) if i_step is not None else 1.0
    if end is None or not step or not all(map(math.isfinite, (start, end, step))):
        raise Malformed("arange bounds were not recorded")
    n = max(0, math.ceil((end - start) / step))
    if i_dtype is not None:
        dtype = ops.dtype_arg(i_dtype)
    else:
        out = ops.opt_tensor(3, "out")
        dtype = out.dtype if out is not None else None
    if dtype is None:
        integral = all(
            scalar_kind(ops.text(i)) == "int"
            for i in (i_start, i_end, i_step)
            if i is not None and ops.text(i) is not None
        )
        dtype = I64 if integral else F32
    return write_cost(n, dtype, "arange")


@register_op("aten::_assert_async", "aten::_assert_scalar", "aten::_functional_assert_async")
def _assert_async(call: OpCall) -> OpCost:
    # reads one element on the device and traps if it is false
    ops = Operands(call)
    x = ops.opt_tensor(0)
    if x is None:
        return make_cost(0, 0, F32, Unit.VECTOR, "host-side assert (no kernel)", is_view=True)
    return make_cost(0, x.read_bytes, x.dtype, Unit.VECTOR, "0 FLOPs; one element read")


# In-place random fills: FLOPs are the transform of the random bits per element (uniform: scale
# and shift 2; exponential: log and scale 2; normal: Box-Muller ≈ 4; bernoulli: a compare 1);
# the Philox integer work that makes the bits is not counted. Bytes: self written once (a
# bernoulli_ with a tensor of probabilities also reads it).
_RANDOM_FILL = {
    "uniform_": 2,
    "normal_": 4,
    "exponential_": 2,
    "bernoulli_": 1,
    "random_": 0,
    "geometric_": 2,
    "log_normal_": 5,
    "cauchy_": 3,
}


def _random_fill(op: str, per: float):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        x = ops.tensor(0, "self")
        p = ops.opt_tensor(1, "p") if op == "bernoulli_" else None
        nbytes = x.nbytes + (p.read_bytes if p is not None and p.ndim else 0)
        return make_cost(
            per * x.numel,
            nbytes,
            x.dtype,
            Unit.VECTOR,
            f"{fmt(per)}·n ({op}, n={fmt(x.numel)}); bytes: output written once",
        )

    return formula


for _op, _per in _RANDOM_FILL.items():
    register_op(f"aten::{_op}")(_random_fill(_op, _per))


@register_op("aten::rand", "aten::randn")
def _rand(call: OpCall) -> OpCost:
    # rand(size, dtype, layout, device, pin_memory): composite of empty + uniform_/normal_
    ops = Operands(call)
    n = _size(ops, 0)
    per = 2 if call.name.endswith("rand") else 4
    dtype = ops.dtype_arg(1) or F32
    return make_cost(
        per * n,
        n * dtype.itemsize,
        dtype,
        Unit.VECTOR,
        f"{per}·n ({call.name.rsplit('::', 1)[-1]}, n={fmt(n)}); bytes: output written once",
    )
