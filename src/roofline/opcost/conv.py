"""Convolutions: conv1d/2d/3d, conv_transpose*, aten::convolution, _convolution,
_convolution_mode, cudnn_convolution(_transpose), miopen_convolution.

FLOPs = 2·N·C_out·∏(output spatial)·(C_in/groups)·∏(kernel) — one multiply-add per weight tap
per output element (torch.utils.flop_counter's count; bias not counted). A transposed conv does
the same work seen from its input: 2·N·C_in·∏(input spatial)·(C_out/groups)·∏(kernel).
Bytes: input, weight and bias read once, output written once (the implicit-GEMM minimum; an
im2col path that materialises columns moves more). Output sizes follow PyTorch's arithmetic
from stride/padding/dilation in "Concrete Inputs"; where those were not recorded (or padding was
a string such as 'same', which the profiler does not capture) stride 1, padding 0, dilation 1,
groups 1 are assumed and the formula says so.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def _expand(
    value: tuple[int, ...] | None, d: int, default: int, label: str, assumed: list[str]
) -> tuple[int, ...]:
    if value is None:
        assumed.append(f"{label}={default}")
        return (default,) * d
    if len(value) == 1:
        return value * d
    if len(value) != d:
        raise Malformed(f"{label} {list(value)} does not match {d} spatial dims")
    return value


def conv_cost(
    ops: Operands,
    *,
    x: Tensor,
    w: Tensor,
    bias: Tensor | None,
    stride: tuple[int, ...] | None,
    padding: tuple[int, ...] | None,
    dilation: tuple[int, ...] | None,
    groups: int | None,
    transposed: bool,
    output_padding: tuple[int, ...] | None = None,
    spatial: int | None = None,
) -> OpCost:
    d = w.ndim - 2
    if d < 1 or (spatial is not None and d != spatial):
        raise Malformed(f"weight {list(w.shape)} is not a {spatial or '1-3'}-d convolution kernel")
    if x.ndim not in (d + 1, d + 2):
        raise Malformed(f"input {list(x.shape)} does not fit a {d}-d convolution")
    batched = x.ndim == d + 2
    n = x.shape[0] if batched else 1
    c_in, in_sp = x.shape[-d - 1], x.shape[-d:]
    ksz = w.shape[2:]
    assumed: list[str] = []
    s = _expand(stride, d, 1, "stride", assumed)
    p = _expand(padding, d, 0, "padding", assumed)
    dil = _expand(dilation, d, 1, "dilation", assumed)
    op = _expand(output_padding, d, 0, "output_padding", []) if transposed else (0,) * d
    if groups is None:
        assumed.append("groups=1")
        groups = 1
    if groups < 1 or min(s) < 1 or min(dil) < 1 or min(p) < 0:
        raise Malformed(f"stride {s}, padding {p}, dilation {dil}, groups {groups} are not valid")
    if transposed:
        c_out = w.shape[1] * groups
        if w.shape[0] != c_in:
            raise Malformed(f"input channels {c_in} do not match transposed weight {list(w.shape)}")
        out_sp = tuple(
            (i - 1) * st - 2 * pp + dd * (k - 1) + o + 1
            for i, st, pp, dd, k, o in zip(in_sp, s, p, dil, ksz, op)
        )
    else:
        c_out = w.shape[0]
        if w.shape[1] * groups != c_in or c_out % groups:
            raise Malformed(f"input channels {c_in} do not match weight {list(w.shape)} with groups={groups}")
        out_sp = tuple(
            (i + 2 * pp - dd * (k - 1) - 1) // st + 1 for i, st, pp, dd, k in zip(in_sp, s, p, dil, ksz)
        )
    if min(out_sp) < 1:
        raise Malformed(f"output size {list(out_sp)} is not positive")
    taps = math.prod(ksz)
    if transposed:
        flops = 2 * n * c_in * math.prod(in_sp) * (c_out // groups) * taps
        formula = "2·N·C_in·∏in·(C_out/g)·∏k (transposed)"
    else:
        flops = 2 * n * c_out * math.prod(out_sp) * (c_in // groups) * taps
        formula = "2·N·C_out·∏out·(C_in/g)·∏k"
    out_bytes = n * c_out * math.prod(out_sp) * x.dtype.itemsize
    nbytes = x.read_bytes + w.read_bytes + (bias.read_bytes if bias is not None else 0) + out_bytes
    text = (
        f"{formula} (N={fmt(n)}, C_in={fmt(c_in)}, C_out={fmt(c_out)}, g={fmt(groups)}, "
        f"k={list(ksz)}, out={list(out_sp)})"
    )
    if assumed:
        text += f"; not recorded, assumed {', '.join(assumed)}"
    return make_cost(flops, nbytes, x.dtype, Unit.MATRIX, text)


def _conv_nd(spatial: int):
    def formula(call: OpCall) -> OpCost:
        # aten::convNd(input, weight, bias, stride, padding, dilation, groups)
        ops = Operands(call)
        return conv_cost(
            ops,
            x=ops.tensor(0, "input"),
            w=ops.tensor(1, "weight"),
            bias=ops.opt_tensor(2),
            stride=ops.ints(3),
            padding=ops.ints(4),
            dilation=ops.ints(5),
            groups=ops.int_(6),
            transposed=False,
            spatial=spatial,
        )

    return formula


for _d in (1, 2, 3):
    register_op(f"aten::conv{_d}d")(_conv_nd(_d))


def _conv_transpose_nd(spatial: int):
    def formula(call: OpCall) -> OpCost:
        # aten::conv_transposeNd(input, weight, bias, stride, padding, output_padding, groups, dilation)
        ops = Operands(call)
        return conv_cost(
            ops,
            x=ops.tensor(0, "input"),
            w=ops.tensor(1, "weight"),
            bias=ops.opt_tensor(2),
            stride=ops.ints(3),
            padding=ops.ints(4),
            output_padding=ops.ints(5),
            groups=ops.int_(6),
            dilation=ops.ints(7),
            transposed=True,
            spatial=spatial,
        )

    return formula


for _d in (1, 2, 3):
    register_op(f"aten::conv_transpose{_d}d")(_conv_transpose_nd(_d))


@register_op("aten::convolution", "aten::_convolution")
def _convolution(call: OpCall) -> OpCost:
    # (input, weight, bias, stride, padding, dilation, transposed, output_padding, groups, …)
    ops = Operands(call)
    return conv_cost(
        ops,
        x=ops.tensor(0, "input"),
        w=ops.tensor(1, "weight"),
        bias=ops.opt_tensor(2),
        stride=ops.ints(3),
        padding=ops.ints(4),
        dilation=ops.ints(5),
        transposed=bool(ops.bool_(6, False)),
        output_padding=ops.ints(7),
        groups=ops.int_(8),
    )


@register_op("aten::_convolution_mode")
def _convolution_mode(call: OpCall) -> OpCost:
    # (input, weight, bias, stride, padding: str, dilation, groups) — the padding string is lost
    ops = Operands(call)
    return conv_cost(
        ops,
        x=ops.tensor(0, "input"),
        w=ops.tensor(1, "weight"),
        bias=ops.opt_tensor(2),
        stride=ops.ints(3),
        padding=None,
        dilation=ops.ints(5),
        groups=ops.int_(6),
        transposed=False,
    )


@register_op("aten::cudnn_convolution", "aten::miopen_convolution")
def _cudnn_convolution(call: OpCall) -> OpCost:
    # cudnn: (self, weight, padding, stride, dilation, groups, …) — note padding comes first.
    # miopen: (self, weight, bias, padding, stride, dilation, groups, …)
    ops = Operands(call)
    base = 3 if call.name.endswith("miopen_convolution") else 2
    bias = ops.opt_tensor(2) if base == 3 else None
    return conv_cost(
        ops,
        x=ops.tensor(0, "self"),
        w=ops.tensor(1, "weight"),
        bias=bias,
        padding=ops.ints(base),
        stride=ops.ints(base + 1),
        dilation=ops.ints(base + 2),
        groups=ops.int_(base + 3),
        transposed=False,
    )


@register_op("aten::cudnn_convolution_transpose")
def _cudnn_convolution_transpose(call: OpCall) -> OpCost:
    # (self, weight, padding, output_padding, stride, dilation, groups, …)
    ops = Operands(call)
    return conv_cost(
        ops,
        x=ops.tensor(0, "self"),
        w=ops.tensor(1, "weight"),
        bias=None,
        padding=ops.ints(2),
        output_padding=ops.ints(3),
        stride=ops.ints(4),
        dilation=ops.ints(5),
        groups=ops.int_(6),
        transposed=True,
    )
