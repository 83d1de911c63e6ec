"""Data movement: copies and casts, cat/stack, padding, repeat/flip/roll.

No FLOPs. Bytes: each input read once at its own dtype, the output written once at the
output dtype — a cast from fp32 to bf16 of n elements moves 4n + 2n bytes. Composites that
only sometimes copy (``to``, ``contiguous``) are costed as the copy when the trace shows one
is needed and as a no-op (``is_view``) when it shows none is: same dtype without copy=True,
strides already contiguous. The kernel itself always runs in the innermost op (``copy_``).
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import DType
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost, norm_dims
from roofline.precision import Unit


def copy_cost(src: Tensor, out_numel: int, out_dtype: DType, label: str) -> OpCost:
    nbytes = src.read_bytes + out_numel * out_dtype.itemsize
    cast = f" {src.dtype.name}→{out_dtype.name}" if out_dtype != src.dtype else ""
    sizes = f"read at {fmt(src.dtype.itemsize)} B + write at {fmt(out_dtype.itemsize)} B"
    text = f"0 FLOPs ({label}{cast}, n={fmt(out_numel)}); bytes: {sizes}"
    return make_cost(0, nbytes, src.dtype, Unit.VECTOR, text)


def no_op(t: Tensor, why: str) -> OpCost:
    return make_cost(0, 0, t.dtype, Unit.VECTOR, f"no-op: {why} (no kernel)", is_view=True)


@register_op("aten::copy_")
def _copy_(call: OpCall) -> OpCost:
    # copy_(self, src, non_blocking): src (broadcast if needed) is read, self written
    ops = Operands(call)
    dst, src = ops.tensor(0, "self"), ops.tensor(1, "src")
    return copy_cost(src, dst.numel, dst.dtype, "copy_")


@register_op("aten::_copy_from", "aten::_copy_from_and_resize")
def _copy_from(call: OpCall) -> OpCost:
    ops = Operands(call)
    src, dst = ops.tensor(0, "self"), ops.tensor(1, "dst")
    return copy_cost(src, max(dst.numel, src.numel), dst.dtype, "device copy")


@register_op("aten::_to_copy")
def _to_copy(call: OpCall) -> OpCost:
    # _to_copy(self, dtype, layout, device, pin_memory, non_blocking, memory_format)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return copy_cost(x, x.numel, ops.dtype_arg(1) or x.dtype, "_to_copy")


@register_op("aten::clone")
def _clone(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return copy_cost(x, x.numel, x.dtype, "clone")


@register_op("aten::to")
def _to(call: OpCall) -> OpCost:
    """Overloads by arity: to.dtype / to.other (5 arguments), to.device (6), to.dtype_layout (8)."""
    ops = Operands(call)
    x = ops.tensor(0, "self")
    n = len(ops)
    if n == 5 and ops.is_tensor(1):
        target, copy = ops.tensor(1, "other").dtype, ops.bool_(3)
    elif n == 5:
        target, copy = ops.dtype_arg(1), ops.bool_(3)
    elif n == 6:  # to.device: the device moved (or why call it); the copy is its child's
        return copy_cost(x, x.numel, ops.dtype_arg(2) or x.dtype, "to(device) copy")
    elif n == 8:
        target, copy = ops.dtype_arg(1), ops.bool_(6)
    else:
        target, copy = None, None
    if (target is None or target == x.dtype) and not copy:
        return no_op(x, "to() without a dtype change returns self unless the device changes")
    return copy_cost(x, x.numel, target or x.dtype, "to")


def _is_contiguous(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    expected = 1
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


@register_op("aten::contiguous")
def _contiguous(call: OpCall) -> OpCost:
    # contiguous(self, memory_format): MemoryFormat 0 = contiguous; channels_last (2, 3) is
    # checked against row-major strides only, so it is assumed to copy
    ops = Operands(call)
    x = ops.tensor(0, "self")
    row_major = ops.int_(1, 0) == 0
    if row_major and x.strides is not None and _is_contiguous(x.shape, x.strides):
        return no_op(x, "already contiguous")
    if not row_major:
        how = "to a channels-last layout, assumed to copy"
    else:
        how = "strides not recorded, assumed non-contiguous" if x.strides is None else "non-contiguous input"
    return copy_cost(x, x.numel, x.dtype, f"contiguous copy, {how}")


def _cat_like(stack: bool):
    def formula(call: OpCall) -> OpCost:
        # cat(tensors, dim) / stack(tensors, dim)
        ops = Operands(call)
        parts = ops.tensor_list(0, "tensors")
        # cat skips legacy empty 1-d tensors of size [0]
        used = parts if stack else [t for t in parts if t.shape != (0,)] or parts[:1]
        ref = used[0].shape
        dim = ops.int_(1, 0)
        if stack:
            if any(t.shape != ref for t in used):
                raise Malformed("stack of tensors of different shapes")
            norm_dims((dim,), len(ref) + 1)
        else:
            (d,) = norm_dims((dim,), len(ref))
            if any(
                len(t.shape) != len(ref)
                or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref)) if i != d)
                for t in used
            ):
                raise Malformed("cat of tensors whose shapes differ outside the cat dim")
        n = sum(t.numel for t in used)
        dtype = used[0].dtype
        nbytes = sum(t.read_bytes for t in used) + n * dtype.itemsize
        label = "stack" if stack else "cat"
        text = (
            f"0 FLOPs ({label} of {len(used)} tensors, n={fmt(n)}); bytes: each input read + output written"
        )
        return make_cost(0, nbytes, dtype, Unit.VECTOR, text)

    return formula


register_op("aten::cat", "aten::_cat", "aten::concat", "aten::concatenate")(_cat_like(False))
register_op("aten::stack")(_cat_like(True))


@register_op("aten::constant_pad_nd", "aten::pad")
def _pad(call: OpCall) -> OpCost:
    # constant_pad_nd(self, pad, value) · pad(self, pad, mode, value): pairs apply from the last
    # dim backwards; pad()'s mode is a string the profiler drops, so it is costed as constant
    ops = Operands(call)
    x = ops.tensor(0, "self")
    pad = ops.ints(1)
    if pad is None or len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise Malformed(f"pad {pad} does not fit a {x.ndim}-d tensor")
    shape = list(x.shape)
    for i in range(len(pad) // 2):
        shape[-1 - i] += pad[2 * i] + pad[2 * i + 1]
    if min(shape, default=1) < 0:
        raise Malformed(f"padding gives a negative size {shape}")
    return copy_cost(x, math.prod(shape), x.dtype, "constant_pad_nd")


@register_op("aten::repeat")
def _repeat(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "self")
    reps = ops.ints(1)
    if reps is None or len(reps) < x.ndim or min(reps, default=0) < 0:
        raise Malformed(f"repeats {reps} do not fit a {x.ndim}-d tensor")
    return copy_cost(x, x.numel * math.prod(reps), x.dtype, "repeat")


@register_op("aten::flip", "aten::roll", "aten::fliplr", "aten::flipud")
def _permuting_copy(call: OpCall) -> OpCost:
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return copy_cost(x, x.numel, x.dtype, call.name.rsplit("::", 1)[-1])


@register_op("aten::_local_scalar_dense")
def _item(call: OpCall) -> OpCost:
    # .item(): one element copied to the host (a synchronising D2H memcpy)
    ops = Operands(call)
    x = ops.tensor(0, "self")
    return make_cost(0, x.dtype.itemsize, x.dtype, Unit.VECTOR, "0 FLOPs; one element copied to the host")
