"""Backward ops of convolutions and normalisation layers.

Convolution (``convolution_backward``, the older ``cudnn_convolution_backward`` and
``miopen_convolution_backward``): each gradient is one convolution as large as the forward —
dX is the forward's transpose over the same taps, dW the correlation of X with dY — so each costs
the forward's 2·N·C_out·∏out·(C_in/g)·∏k FLOPs (torch.utils.flop_counter counts the same); the
bias gradient adds one per dY element. ``output_mask`` says which are computed. Bytes, per
gradient computed (each is its own kernel): dX reads dY and W and writes dX; dW reads dY and X and
writes dW; db reads dY and writes db.

Normalisation backward: FLOPs per element of the input, documented conventions counted from the
textbook gradients (x̂ = (x−μ)·rstd recomputed from the saved statistics):
  layer/group norm, batch norm (training)  9 for dX: x̂ (2), Σg and Σg·x̂ (3), g − mean(g) − x̂·mean(g·x̂)
                                           then × w·rstd (4)
  RMS norm                                 7 for dX: g·w, x̂, Σ g·w·x̂ (2), x̂·mean, subtract, × rstd
  batch norm (inference)                   1 for dX: g · w·rstd (the statistics are constants)
  + 2 for a weight gradient (Σ g·x̂), + 1 for a bias gradient (Σ g); a gradient left out of
  ``output_mask`` is not counted.
Bytes: dY and X read (batch norm in inference mode reads X only for dW), the saved statistics and
weight read, each requested gradient written once (dX at X's dtype, dW/db at the weight's).
"""

from __future__ import annotations

from roofline.opcost.conv import conv_cost
from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def _mask(ops: Operands, i: int, n: int = 3) -> tuple[bool, ...]:
    """A ``bool[n] output_mask``; all True where it was not recorded (what autograd asks for)."""
    text = ops.text(i)
    if text is None:
        return (True,) * n
    body = text.strip("[]").replace(" ", "")
    parts = [p for p in body.split(",") if p]
    if len(parts) != n or any(p not in ("True", "False", "true", "false", "1", "0") for p in parts):
        raise Malformed(f"output_mask {text!r:.40} is not {n} bools")
    return tuple(p in ("True", "true", "1") for p in parts)


# ---- convolutions -------------------------------------------------------------------------------


def conv_backward_cost(
    ops: Operands,
    *,
    grad: Tensor,
    x: Tensor,
    w: Tensor,
    stride: tuple[int, ...] | None,
    padding: tuple[int, ...] | None,
    dilation: tuple[int, ...] | None,
    groups: int | None,
    transposed: bool,
    output_padding: tuple[int, ...] | None,
    mask: tuple[bool, ...],
    bias_grad: bool | None = None,
) -> OpCost:
    forward = conv_cost(ops, x=x, w=w, bias=None, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, transposed=transposed, output_padding=output_padding)
    want_x, want_w, want_b = mask
    if bias_grad is not None:
        want_b = bias_grad
    g_bytes = grad.read_bytes
    flops = forward.flops * (int(want_x) + int(want_w)) + (grad.numel if want_b else 0)
    nbytes = 0.0
    parts = []
    if want_x:
        nbytes += g_bytes + w.read_bytes + x.nbytes
        parts.append("dX")
    if want_w:
        nbytes += g_bytes + x.read_bytes + w.nbytes
        parts.append("dW")
    if want_b:
        c_out = grad.shape[1] if grad.ndim >= 2 else 1
        nbytes += g_bytes + c_out * w.dtype.itemsize
        parts.append("db")
    if not parts:
        raise Malformed("output_mask asks for no gradient")
    text = (f"{sum((want_x, want_w))}× the forward's {forward.formula.split(';')[0]}"
            + (" + N·C_out·∏out (db)" if want_b else "")
            + f"; computes {', '.join(parts)}; bytes: per gradient, dY and the other operand read, the gradient "
              "written")
    if "assumed" in forward.formula:
        text += "; " + forward.formula.split("; ", 1)[1]
    return make_cost(flops, nbytes, x.dtype, Unit.MATRIX, text)


@register_op("aten::convolution_backward")
def _convolution_backward(call: OpCall) -> OpCost:
    # (grad_output, input, weight, bias_sizes, stride, padding, dilation, transposed, output_padding,
    #  groups, output_mask)
    ops = Operands(call)
    mask = _mask(ops, 10)
    bias_sizes = ops.ints(3)
    return conv_backward_cost(
        ops, grad=ops.tensor(0, "grad_output"), x=ops.tensor(1, "input"), w=ops.tensor(2, "weight"),
        stride=ops.ints(4), padding=ops.ints(5), dilation=ops.ints(6), transposed=bool(ops.bool_(7, False)),
        output_padding=ops.ints(8), groups=ops.int_(9), mask=mask,
        bias_grad=mask[2] and bias_sizes is not None and bias_sizes != (0,) and bias_sizes != (),
    )


@register_op("aten::cudnn_convolution_backward", "aten::miopen_convolution_backward")
def _vendor_convolution_backward(call: OpCall) -> OpCost:
    # cudnn (PyTorch ≤ 1.10): (self, grad_output, weight, padding, stride, dilation, groups, benchmark,
    #   deterministic, allow_tf32, output_mask[2]); miopen: (self, grad_output, weight, padding, stride,
    #   dilation, groups, benchmark, deterministic, output_mask[3])
    ops = Operands(call)
    miopen = call.name.endswith("miopen_convolution_backward")
    mask = _mask(ops, 9, 3) if miopen else _mask(ops, 10, 2) + (False,)
    return conv_backward_cost(
        ops, grad=ops.tensor(1, "grad_output"), x=ops.tensor(0, "self"), w=ops.tensor(2, "weight"),
        padding=ops.ints(3), stride=ops.ints(4), dilation=ops.ints(5), groups=ops.int_(6), transposed=False,
        output_padding=None, mask=mask,
    )


# ---- normalisation ------------------------------------------------------------------------------


def norm_backward_cost(
    *,
    g: Tensor,
    x: Tensor,
    small: list[Tensor | None],
    param: Tensor | None,
    base: float,
    mask: tuple[bool, ...],
    label: str,
    reads_x: bool = True,
) -> OpCost:
    """``small``: saved statistics and the weight (read once); ``param``: the weight's shape, for
    the sizes of dW/db; ``mask``: (dX, dW, db), db absent for RMS norm."""
    if g.shape != x.shape:
        raise Malformed(f"grad {list(g.shape)} and input {list(x.shape)} differ")
    want_x, want_w = mask[0], mask[1]
    want_b = len(mask) > 2 and mask[2]
    if param is None:
        want_w = want_b = False
    n = x.numel
    per = (base if want_x else 0) + (2 if want_w else 0) + (1 if want_b else 0)
    if per == 0:
        raise Malformed("output_mask asks for no gradient")
    needs_x = want_w or (want_x and reads_x)
    nbytes = g.read_bytes + (x.read_bytes if needs_x else 0) + sum(t.read_bytes for t in small if t is not None)
    nbytes += (x.nbytes if want_x else 0)
    p_bytes = param.numel * param.dtype.itemsize if param is not None else 0
    nbytes += p_bytes * (int(want_w) + int(want_b))
    grads = [name for name, on in (("dX", want_x), ("dW", want_w), ("db", want_b)) if on]
    text = (f"{fmt(per)}·n ({label}, n={fmt(n)}; {', '.join(grads)}); bytes: dY" + (" and X" if needs_x else "")
            + " read, statistics and weight read, gradients written")
    return make_cost(per * n, nbytes, x.dtype, Unit.VECTOR, text)


@register_op("aten::native_batch_norm_backward")
def _native_batch_norm_backward(call: OpCall) -> OpCost:
    # (grad_out, input, weight, running_mean, running_var, save_mean, save_invstd, train, eps, output_mask)
    ops = Operands(call)
    g, x = ops.tensor(0, "grad_out"), ops.tensor(1, "input")
    if x.ndim < 2:
        raise Malformed(f"batch_norm input {list(x.shape)} needs [N, C, …]")
    train = bool(ops.bool_(7, True))
    w = ops.opt_tensor(2)
    stats = [ops.opt_tensor(5), ops.opt_tensor(6)] if train else [ops.opt_tensor(3), ops.opt_tensor(4)]
    return norm_backward_cost(
        g=g, x=x, small=[w, *stats], param=w or _channel_param(x), base=9 if train else 1, mask=_mask(ops, 9),
        label=f"batch_norm backward, {'training' if train else 'inference'}", reads_x=train,
    )


def _channel_param(x: Tensor) -> Tensor:
    """Per-channel gradients of a batch norm without a weight tensor still have C entries."""
    return Tensor((x.shape[1],), x.dtype)


@register_op("aten::cudnn_batch_norm_backward", "aten::miopen_batch_norm_backward")
def _vendor_batch_norm_backward(call: OpCall) -> OpCost:
    # (input, grad_output, weight, running_mean, running_var, save_mean, save_var, epsilon[, reserveSpace])
    ops = Operands(call)
    x, g = ops.tensor(0, "input"), ops.tensor(1, "grad_output")
    if x.ndim < 2:
        raise Malformed(f"batch_norm input {list(x.shape)} needs [N, C, …]")
    w = ops.tensor(2, "weight")
    return norm_backward_cost(
        g=g, x=x, small=[w, ops.opt_tensor(5), ops.opt_tensor(6)], param=w, base=9, mask=(True, True, True),
        label="batch_norm backward, training",
    )


@register_op("aten::native_layer_norm_backward")
def _layer_norm_backward(call: OpCall) -> OpCost:
    # (grad_out, input, normalized_shape, mean, rstd, weight, bias, output_mask)
    ops = Operands(call)
    g, x = ops.tensor(0, "grad_out"), ops.tensor(1, "input")
    normalized = ops.ints(2)
    if normalized is not None and tuple(x.shape[x.ndim - len(normalized):]) != normalized:
        raise Malformed(f"normalized_shape {list(normalized)} does not end input {list(x.shape)}")
    w, b = ops.opt_tensor(5), ops.opt_tensor(6)
    mask = _mask(ops, 7)
    mask = (mask[0], mask[1] and w is not None, mask[2] and b is not None)
    return norm_backward_cost(g=g, x=x, small=[ops.opt_tensor(3), ops.opt_tensor(4), w], param=w or b,
                              base=9, mask=mask, label="layer_norm backward")


@register_op("aten::native_group_norm_backward")
def _group_norm_backward(call: OpCall) -> OpCost:
    # (grad_out, input, mean, rstd, weight, N, C, HxW, group, output_mask)
    ops = Operands(call)
    g, x = ops.tensor(0, "grad_out"), ops.tensor(1, "input")
    w = ops.opt_tensor(4)
    param = w or (Tensor((x.shape[1],), x.dtype) if x.ndim >= 2 else None)
    return norm_backward_cost(g=g, x=x, small=[ops.opt_tensor(2), ops.opt_tensor(3), w], param=param,
                              base=9, mask=_mask(ops, 9), label="group_norm backward")


@register_op("aten::_fused_rms_norm_backward")
def _rms_norm_backward(call: OpCall) -> OpCost:
    # (grad_out, input, normalized_shape, rstd, weight, output_mask[2])
    ops = Operands(call)
    g, x = ops.tensor(0, "grad_out"), ops.tensor(1, "input")
    w = ops.opt_tensor(4)
    mask = _mask(ops, 5, 2)
    return norm_backward_cost(g=g, x=x, small=[ops.opt_tensor(3), w], param=w, base=7,
                              mask=(mask[0], mask[1] and w is not None), label="rms_norm backward")
