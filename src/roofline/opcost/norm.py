"""Softmax and normalisation layers.

FLOPs per element (documented conventions, as in the seed chapter's LayerNorm entry):
  softmax / log_softmax   5  (max, subtract, exp, sum, divide — or subtract the log-sum)
  softmax backward        4  (g·y, row sum, subtract, multiply)
  layer_norm / group_norm 6  (mean 1, variance 3: subtract, square, add; normalise 2) + 1 per
                             affine tensor (weight ×, bias +): 8 with both, the seed's "~8"
  rms_norm                3  (square, add, scale by 1/rms) + 1 with a weight
  batch_norm              training 6 + affine, inference 2 + affine (the statistics are given)
Bytes: the input read once, each affine/statistics tensor read once, the output written once;
native_* variants also write their saved statistics (mean/rstd per row or per channel, fp32).
The composites (layer_norm, rms_norm, group_norm, batch_norm) are costed like the native op
they call, whose kernel is the one that runs.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import F32, F64, DType
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost, norm_dims
from roofline.precision import Unit


def _stat_dtype(x: Tensor) -> DType:
    return F64 if x.dtype.name == "float64" else F32  # statistics accumulate in fp32 (fp64 for fp64)


def _softmax_like(half_to_float_index: int | None, dtype_index: int | None):
    def formula(call: OpCall) -> OpCost:
        # softmax(self, dim, dtype) · _softmax(self, dim, half_to_float)
        ops = Operands(call)
        x = ops.tensor(0, "self")
        norm_dims((ops.int_(1, -1),), x.ndim)
        out = x.dtype
        if dtype_index is not None:
            out = ops.dtype_arg(dtype_index) or out
        if half_to_float_index is not None and ops.bool_(half_to_float_index, False):
            out = F32
        n = x.numel
        return make_cost(
            5 * n,
            x.read_bytes + n * out.itemsize,
            x.dtype,
            Unit.VECTOR,
            f"5·n (max, sub, exp, sum, div; n={fmt(n)}); bytes: input read + output written",
        )

    return formula


register_op("aten::softmax", "aten::log_softmax", "aten::_safe_softmax", "aten::special_softmax")(
    _softmax_like(None, 2)
)
register_op("aten::_softmax", "aten::_log_softmax")(_softmax_like(2, None))


@register_op("aten::_softmax_backward_data", "aten::_log_softmax_backward_data")
def _softmax_backward(call: OpCall) -> OpCost:
    # (grad_output, output, dim, input_dtype)
    ops = Operands(call)
    g, y = ops.tensor(0, "grad_output"), ops.tensor(1, "output")
    if g.shape != y.shape:
        raise Malformed(f"grad {list(g.shape)} and output {list(y.shape)} differ")
    out = ops.dtype_arg(3) or g.dtype
    n = g.numel
    return make_cost(
        4 * n,
        g.read_bytes + y.read_bytes + n * out.itemsize,
        g.dtype,
        Unit.VECTOR,
        f"4·n (n={fmt(n)}); bytes: grad and output read, grad input written",
    )


def _norm_cost(
    x: Tensor,
    params: list[Tensor | None],
    *,
    base: float,
    label: str,
    stats: int = 0,
    stat_count: int = 0,
    extra_reads: list[Tensor] | None = None,
) -> OpCost:
    affine = [p for p in params if p is not None]
    per = base + len(affine)
    n = x.numel
    stat_bytes = stats * stat_count * _stat_dtype(x).itemsize
    reads = x.read_bytes + sum(p.read_bytes for p in [*affine, *(extra_reads or [])])
    nbytes = reads + n * x.dtype.itemsize + stat_bytes
    text = f"{fmt(per)}·n ({label}, n={fmt(n)}, {len(affine)} affine tensor{'s' if len(affine) != 1 else ''})"
    text += "; bytes: input and parameters read, output written"
    if stats:
        text += f" + {stats} fp32 statistic{'s' if stats > 1 else ''} × {fmt(stat_count)}"
    return make_cost(per * n, nbytes, x.dtype, Unit.VECTOR, text)


def _rows(x: Tensor, normalized: tuple[int, ...] | None, what: str) -> int:
    if normalized is None:
        raise Malformed(f"{what}: normalized_shape was not recorded")
    k = len(normalized)
    if k == 0 or k > x.ndim or tuple(x.shape[x.ndim - k :]) != tuple(normalized):
        raise Malformed(f"{what}: normalized_shape {list(normalized)} does not end input {list(x.shape)}")
    return math.prod(x.shape[: x.ndim - k])


@register_op("aten::layer_norm", "aten::native_layer_norm")
def _layer_norm(call: OpCall) -> OpCost:
    # layer_norm(input, normalized_shape, weight, bias, eps, cudnn_enable);
    # native_layer_norm(input, normalized_shape, weight, bias, eps) → (out, mean, rstd)
    ops = Operands(call)
    x = ops.tensor(0, "input")
    rows = _rows(x, ops.ints(1), "layer_norm")
    return _norm_cost(
        x, [ops.opt_tensor(2), ops.opt_tensor(3)], base=6, label="layer_norm", stats=2, stat_count=rows
    )


@register_op("aten::rms_norm", "aten::_fused_rms_norm")
def _rms_norm(call: OpCall) -> OpCost:
    # rms_norm(input, normalized_shape, weight, eps); _fused_rms_norm(...) → (out, rstd)
    ops = Operands(call)
    x = ops.tensor(0, "input")
    rows = _rows(x, ops.ints(1), "rms_norm")
    return _norm_cost(x, [ops.opt_tensor(2)], base=3, label="rms_norm", stats=1, stat_count=rows)


@register_op("aten::group_norm", "aten::native_group_norm")
def _group_norm(call: OpCall) -> OpCost:
    # group_norm(input, num_groups, weight, bias, eps, cudnn_enabled);
    # native_group_norm(input, weight, bias, N, C, HxW, group, eps) → (out, mean, rstd)
    ops = Operands(call)
    x = ops.tensor(0, "input")
    if call.name.endswith("native_group_norm"):
        params, groups = [ops.opt_tensor(1), ops.opt_tensor(2)], ops.int_(6)
    else:
        params, groups = [ops.opt_tensor(2), ops.opt_tensor(3)], ops.int_(1)
    return group_norm_like(x, groups, params)


def group_norm_like(x: Tensor, groups: int | None, params: list[Tensor | None]) -> OpCost:
    if x.ndim < 2:
        raise Malformed(f"group_norm input {list(x.shape)} needs [N, C, …]")
    if groups is None or groups < 1 or x.shape[1] % groups:
        raise Malformed(f"num_groups {groups} does not divide {x.shape[1]} channels")
    return _norm_cost(x, params, base=6, label="group_norm", stats=2, stat_count=x.shape[0] * groups)


def _batch_norm(training_i: int | None, always_training: bool | None = None, save_stats: bool = False):
    def formula(call: OpCall) -> OpCost:
        # (input, weight, bias, running_mean, running_var, training, momentum, eps, …); the
        # no_stats overload of _native_batch_norm_legit drops the running stats (6 arguments).
        ops = Operands(call)
        x = ops.tensor(0, "input")
        if x.ndim < 2:
            raise Malformed(f"batch_norm input {list(x.shape)} needs [N, C, …]")
        no_stats = call.name.endswith("_native_batch_norm_legit") and len(ops) == 6
        training = always_training
        if training is None and training_i is not None:
            training = ops.bool_(3 if no_stats else training_i, False)
        running = [] if no_stats else [t for t in (ops.opt_tensor(3), ops.opt_tensor(4)) if t is not None]
        return _norm_cost(
            x,
            [ops.opt_tensor(1), ops.opt_tensor(2)],
            base=6 if training else 2,
            label=f"batch_norm, {'training' if training else 'inference'}",
            stats=2 if (save_stats and training) else 0,
            stat_count=x.shape[1],
            extra_reads=running,
        )

    return formula


# batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn)
register_op("aten::batch_norm", "aten::_batch_norm_impl_index", "aten::instance_norm")(_batch_norm(5))
# native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)
register_op("aten::native_batch_norm", "aten::cudnn_batch_norm", "aten::miopen_batch_norm")(
    _batch_norm(5, save_stats=True)
)
register_op("aten::_native_batch_norm_legit")(_batch_norm(5, save_stats=True))
register_op("aten::_native_batch_norm_legit_no_training")(_batch_norm(None, always_training=False))
