"""Pooling, forward and backward: max_pool{1,2,3}d(_with_indices), avg_pool{2,3}d, adaptive
average/max pooling, and their ``_backward`` ops.

FLOPs: a window pool does one compare (max) or add (average) per tap per output element,
out·∏k; an adaptive pool over windows that tile the input does one per input element. Backward
ops do one add per gradient they route: max pooling scatters each dY element to its argmax (out
adds), average pooling spreads each dY element over its window (out·∏k). Bytes: the input read
once, outputs written once (max pooling also writes int64 indices, its backward reads them); a
backward reads dY and writes dX, the size of the forward's input (the zero fill included).
Output sizes follow PyTorch's pooling arithmetic (ceil_mode included); an empty ``stride`` means
the kernel size, as in ATen.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import I64
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def _per_dim(value: tuple[int, ...] | None, d: int, default: tuple[int, ...] | None, label: str) -> tuple[int, ...]:
    if value is None or value == ():
        if default is None:
            raise Malformed(f"{label} was not recorded")
        return default
    if len(value) == 1:
        return value * d
    if len(value) != d:
        raise Malformed(f"{label} {list(value)} does not match {d} spatial dims")
    return value


def pool_output(
    spatial: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...], dil: tuple[int, ...],
    ceil_mode: bool,
) -> tuple[int, ...]:
    """ATen's pooling_output_shape, per dim."""
    out = []
    for size, kk, ss, pp, dd in zip(spatial, k, s, p, dil):
        if kk < 1 or ss < 1 or dd < 1 or pp < 0 or 2 * pp > kk:
            raise Malformed(f"kernel {kk}, stride {ss}, padding {pp}, dilation {dd} are not a valid pool")
        span = size + 2 * pp - dd * (kk - 1) - 1 + (ss - 1 if ceil_mode else 0)
        o = span // ss + 1
        if ceil_mode and (o - 1) * ss >= size + pp:
            o -= 1
        if o < 1:
            raise Malformed(f"pool output size {o} is not positive for input {size}")
        out.append(o)
    return tuple(out)


def _window(ops: Operands, x: Tensor, d: int, *, dilation: bool, first: int = 1) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """(kernel, output spatial, ceil_mode) from (kernel_size, stride, padding[, dilation], ceil_mode)."""
    if x.ndim not in (d + 1, d + 2):
        raise Malformed(f"input {list(x.shape)} does not fit a {d}-d pool")
    k = _per_dim(ops.ints(first), d, None, "kernel_size")
    s = _per_dim(ops.ints(first + 1), d, k, "stride")
    p = _per_dim(ops.ints(first + 2), d, (0,) * d, "padding")
    if dilation:
        dil = _per_dim(ops.ints(first + 3), d, (1,) * d, "dilation")
        ceil_i = first + 4
    else:
        dil, ceil_i = (1,) * d, first + 3
    ceil_mode = bool(ops.bool_(ceil_i, False))
    return k, pool_output(x.shape[-d:], k, s, p, dil, ceil_mode), ceil_mode


def _lead(x: Tensor, d: int) -> int:
    return math.prod(x.shape[:-d])


def _max_pool(d: int, indices: bool):
    def formula(call: OpCall) -> OpCost:
        # max_poolNd(_with_indices)(self, kernel_size, stride, padding, dilation, ceil_mode)
        ops = Operands(call)
        x = ops.tensor(0, "self")
        k, out_sp, _ = _window(ops, x, d, dilation=True)
        out_n = _lead(x, d) * math.prod(out_sp)
        taps = math.prod(k)
        nbytes = x.read_bytes + out_n * x.dtype.itemsize + (out_n * I64.itemsize if indices else 0)
        return make_cost(
            out_n * taps, nbytes, x.dtype, Unit.VECTOR,
            f"out·∏k compares (out={fmt(out_n)}, k={list(k)}); bytes: input read, output"
            + (" and int64 indices" if indices else "") + " written",
        )

    return formula


# max_poolNd without indices runs the _with_indices kernel on the GPU (ATen), so it writes them too.
for _d in (1, 2, 3):
    register_op(f"aten::max_pool{_d}d", f"aten::max_pool{_d}d_with_indices")(_max_pool(_d, indices=True))


def _max_pool_backward(d: int):
    def formula(call: OpCall) -> OpCost:
        # (grad_output, self, kernel_size, stride, padding, dilation, ceil_mode, indices)
        ops = Operands(call)
        g, x = ops.tensor(0, "grad_output"), ops.tensor(1, "self")
        idx = ops.opt_tensor(7, "indices")
        idx_bytes = idx.read_bytes if idx is not None else g.numel * I64.itemsize
        return make_cost(
            g.numel, g.read_bytes + idx_bytes + x.nbytes, g.dtype, Unit.VECTOR,
            f"1 add per dY element (n={fmt(g.numel)}); bytes: dY and int64 indices read, dX "
            f"({fmt(x.numel)} elements) written",
        )

    return formula


register_op("aten::max_pool2d_with_indices_backward")(_max_pool_backward(2))
register_op("aten::max_pool3d_with_indices_backward")(_max_pool_backward(3))


def _avg_pool(d: int):
    def formula(call: OpCall) -> OpCost:
        # avg_poolNd(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        ops = Operands(call)
        x = ops.tensor(0, "self")
        k, out_sp, _ = _window(ops, x, d, dilation=False)
        out_n = _lead(x, d) * math.prod(out_sp)
        return make_cost(
            out_n * math.prod(k), x.read_bytes + out_n * x.dtype.itemsize, x.dtype, Unit.VECTOR,
            f"out·∏k adds (out={fmt(out_n)}, k={list(k)}); bytes: input read, output written",
        )

    return formula


def _avg_pool_backward(d: int):
    def formula(call: OpCall) -> OpCost:
        # (grad_output, self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
        ops = Operands(call)
        g, x = ops.tensor(0, "grad_output"), ops.tensor(1, "self")
        k = _per_dim(ops.ints(2), d, None, "kernel_size")
        return make_cost(
            g.numel * math.prod(k), g.read_bytes + x.nbytes, g.dtype, Unit.VECTOR,
            f"dY·∏k adds (dY={fmt(g.numel)}, k={list(k)}); bytes: dY read, dX ({fmt(x.numel)}) written",
        )

    return formula


for _d in (1, 2, 3):
    register_op(f"aten::avg_pool{_d}d")(_avg_pool(_d))  # avg_pool1d: (self, kernel, stride, padding, ceil, count_pad)
register_op("aten::avg_pool2d_backward")(_avg_pool_backward(2))
register_op("aten::avg_pool3d_backward")(_avg_pool_backward(3))


def _adaptive(d: int, kind: str):
    def formula(call: OpCall) -> OpCost:
        # _adaptive_avg_poolNd(self, output_size) · adaptive_max_poolNd(self, output_size) → (out, indices)
        ops = Operands(call)
        x = ops.tensor(0, "self")
        if x.ndim not in (d + 1, d + 2):
            raise Malformed(f"input {list(x.shape)} does not fit a {d}-d pool")
        size = _per_dim(ops.ints(1), d, None, "output_size")
        out_n = _lead(x, d) * math.prod(size)
        indices = kind == "max"
        nbytes = x.read_bytes + out_n * x.dtype.itemsize + (out_n * I64.itemsize if indices else 0)
        return make_cost(
            x.numel, nbytes, x.dtype, Unit.VECTOR,
            f"1 {'compare' if indices else 'add'} per input element (n={fmt(x.numel)}, output {list(size)}); "
            "bytes: input read, output" + (" and int64 indices" if indices else "") + " written",
        )

    return formula


def _adaptive_backward(indices: bool):
    def formula(call: OpCall) -> OpCost:
        # _adaptive_avg_poolNd_backward(grad_output, self) · adaptive_max_poolNd_backward(grad_output, self, indices)
        ops = Operands(call)
        g, x = ops.tensor(0, "grad_output"), ops.tensor(1, "self")
        idx = ops.opt_tensor(2, "indices") if indices else None
        n = g.numel if indices else x.numel
        return make_cost(
            n, g.read_bytes + (idx.read_bytes if idx is not None else 0) + x.nbytes, g.dtype, Unit.VECTOR,
            f"1 per {'dY' if indices else 'dX'} element (n={fmt(n)}); bytes: dY"
            + (" and indices" if indices else "") + f" read, dX ({fmt(x.numel)}) written",
        )

    return formula


register_op("aten::adaptive_avg_pool1d")(_adaptive(1, "avg"))
register_op("aten::adaptive_avg_pool2d", "aten::_adaptive_avg_pool2d")(_adaptive(2, "avg"))
register_op("aten::adaptive_avg_pool3d", "aten::_adaptive_avg_pool3d")(_adaptive(3, "avg"))
for _d in (1, 2, 3):
    register_op(f"aten::adaptive_max_pool{_d}d")(_adaptive(_d, "max"))
register_op("aten::_adaptive_avg_pool2d_backward", "aten::_adaptive_avg_pool3d_backward")(_adaptive_backward(False))
register_op("aten::adaptive_max_pool2d_backward", "aten::adaptive_max_pool3d_backward")(_adaptive_backward(True))


# ---- resampling: nearest-neighbour upsampling copies, bilinear interpolates ------------------------


def _upsample(d: int, flops_per: float, label: str):
    def formula(call: OpCall) -> OpCost:
        # upsample_*(input, output_size, scale_factors) · upsample_*.vec; the align_corners overloads
        # of the interpolating modes put it between: (input, output_size, align_corners, scale_factors)
        ops = Operands(call)
        x = ops.tensor(0, "input")
        if x.ndim != d + 2:
            raise Malformed(f"input {list(x.shape)} is not [N, C, {d} spatial dims]")
        size = ops.ints(1)
        if size is None or size == ():
            scales = ops.text(len(ops) - 1)
            if scales is None:
                raise Malformed("neither output_size nor scale_factors was recorded")
            try:
                factors = [float(f) for f in scales.strip("[]").split(",") if f.strip()]
            except ValueError:
                raise Malformed(f"scale_factors {scales!r:.40} are not numbers") from None
            if len(factors) != d or not all(math.isfinite(f) and f > 0 for f in factors):
                raise Malformed(f"scale_factors {scales!r:.40} do not match {d} spatial dims")
            size = tuple(int(s * f) for s, f in zip(x.shape[2:], factors))
        out_sp = _per_dim(size, d, None, "output_size")
        out_n = math.prod(x.shape[:2]) * math.prod(out_sp)
        return make_cost(
            flops_per * out_n, x.read_bytes + out_n * x.dtype.itemsize, x.dtype, Unit.VECTOR,
            f"{fmt(flops_per)}·out ({label}, out={fmt(out_n)}, size {list(out_sp)}); bytes: input read, output written",
        )

    return formula


for _d, _name in ((1, "linear1d"), (2, "bilinear2d"), (3, "trilinear3d")):
    register_op(f"aten::upsample_nearest{_d}d", f"aten::_upsample_nearest_exact{_d}d")(_upsample(_d, 0, "nearest"))
    # 2^d neighbours, a multiply and an add each
    register_op(f"aten::upsample_{_name}")(_upsample(_d, 2 * 2**_d, _name.rstrip("123d")))
register_op("aten::upsample_bicubic2d")(_upsample(2, 32, "bicubic"))  # 16 neighbours, multiply-add each
