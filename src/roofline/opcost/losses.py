"""Losses and embedding gradients: nll_loss(2d)_forward/backward, mse_loss(_backward),
embedding_dense_backward, _embedding_bag(_forward_only), _embedding_bag_dense_backward.

The cross-entropy composite (``cross_entropy_loss``) launches ``_log_softmax`` and
``nll_loss_forward``, costed on their own.

nll_loss: a gather of one log-probability per target (×weight when given) and a sum: 1 FLOP per
target (2 with a class weight); bytes: targets read (int64), the gathered elements and weights
read, the output written. Its backward writes dX the size of the input (zero fill and scatter of
−weight/total per target): 1 FLOP per target; bytes: targets read, dX written.
mse_loss: (x − t)², summed: 3 FLOPs per element; bytes: x and t read, the output written (one
element when reduced). Backward: 2·(x − t)·g/n: 3 per element; x, t and dY read, dX written.
embedding_dense_backward: one add per looked-up element into the weight gradient (L·D); bytes: dY
(L·D) and the indices read, the V·D gradient written (zero fill included). embedding_bag (sum/mean
mode; max adds a compare): L·D adds; bytes: min(L, V) rows gathered, indices and offsets read, the
B·D output written. Its dense backward: L·D adds; dY (B·D), indices and offset2bag read, V·D written.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def _cost(flops: float, nbytes: float, main: Tensor, text: str) -> OpCost:
    return make_cost(flops, nbytes, main.dtype, Unit.VECTOR, text)


def _targets(x: Tensor, t: Tensor, two_d: bool) -> int:
    if two_d:
        if x.ndim != 4 or t.shape != (x.shape[0], *x.shape[2:]):
            raise Malformed(f"nll_loss2d input {list(x.shape)} and target {list(t.shape)} do not fit [N, C, H, W]")
    elif x.ndim not in (1, 2) or (x.ndim == 2 and t.shape != (x.shape[0],)):
        raise Malformed(f"nll_loss input {list(x.shape)} and target {list(t.shape)} do not fit [N, C] / [N]")
    return t.numel if x.ndim > 1 else 1


def _nll_forward(two_d: bool):
    def formula(call: OpCall) -> OpCost:
        # (self, target, weight, reduction, ignore_index) → (output, total_weight)
        ops = Operands(call)
        x, t = ops.tensor(0, "self"), ops.tensor(1, "target")
        w = ops.opt_tensor(2, "weight")
        n = _targets(x, t, two_d)
        reduction = ops.int_(3, 1)
        es = x.dtype.itemsize
        out_n = n if reduction == 0 else 1
        nbytes = t.read_bytes + n * es + (n * w.dtype.itemsize if w is not None else 0) + (out_n + 1) * es
        per = 2 if w is not None else 1
        return _cost(per * n, nbytes, x, f"{per}·n (n={fmt(n)} targets); bytes: targets read, n log-probabilities "
                     "gathered" + (" and weighted" if w is not None else "") + ", output written")

    return formula


def _nll_backward(two_d: bool):
    def formula(call: OpCall) -> OpCost:
        # (grad_output, self, target, weight, reduction, ignore_index, total_weight)
        ops = Operands(call)
        g, x, t = ops.tensor(0, "grad_output"), ops.tensor(1, "self"), ops.tensor(2, "target")
        n = _targets(x, t, two_d)
        w = ops.opt_tensor(3, "weight")
        nbytes = g.read_bytes + t.read_bytes + (n * w.dtype.itemsize if w is not None else 0) + x.nbytes
        return _cost(n, nbytes, x, f"1·n (n={fmt(n)} targets); bytes: targets read, dX ({fmt(x.numel)} elements, "
                     "zero-filled) written")

    return formula


register_op("aten::nll_loss_forward")(_nll_forward(False))
register_op("aten::nll_loss2d_forward")(_nll_forward(True))
register_op("aten::nll_loss_backward")(_nll_backward(False))
register_op("aten::nll_loss2d_backward")(_nll_backward(True))


@register_op("aten::mse_loss")
def _mse_loss(call: OpCall) -> OpCost:
    # (self, target, reduction): 0 none, 1 mean, 2 sum
    ops = Operands(call)
    x, t = ops.tensor(0, "self"), ops.tensor(1, "target")
    if x.shape != t.shape:
        raise Malformed(f"input {list(x.shape)} and target {list(t.shape)} differ")
    out_n = x.numel if ops.int_(2, 1) == 0 else 1
    return _cost(3 * x.numel, x.read_bytes + t.read_bytes + out_n * x.dtype.itemsize, x,
                 f"3·n (subtract, square, add; n={fmt(x.numel)}); bytes: input and target read, {fmt(out_n)} written")


@register_op("aten::mse_loss_backward")
def _mse_loss_backward(call: OpCall) -> OpCost:
    # (grad_output, self, target, reduction)
    ops = Operands(call)
    g, x, t = ops.tensor(0, "grad_output"), ops.tensor(1, "self"), ops.tensor(2, "target")
    if x.shape != t.shape:
        raise Malformed(f"input {list(x.shape)} and target {list(t.shape)} differ")
    return _cost(3 * x.numel, g.read_bytes + x.read_bytes + t.read_bytes + x.nbytes, x,
                 f"3·n (2·(x−t)·g/n; n={fmt(x.numel)}); bytes: dY, input and target read, dX written")


@register_op("aten::embedding_dense_backward")
def _embedding_dense_backward(call: OpCall) -> OpCost:
    # (grad_output [..., D], indices [...], num_weights, padding_idx, scale_grad_by_freq)
    ops = Operands(call)
    g, idx = ops.tensor(0, "grad_output"), ops.tensor(1, "indices")
    v = ops.int_(2)
    if v is None or v < 0:
        raise Malformed("num_weights was not recorded")
    if g.ndim < 1 or math.prod(g.shape[:-1]) != idx.numel:
        raise Malformed(f"grad {list(g.shape)} does not hold one row per index {list(idx.shape)}")
    d = g.shape[-1]
    lookups = idx.numel
    return _cost(lookups * d, g.read_bytes + idx.read_bytes + v * d * g.dtype.itemsize, g,
                 f"L·D adds (L={fmt(lookups)}, D={fmt(d)}); bytes: dY and indices read, the V·D gradient "
                 f"(V={fmt(v)}) written")


@register_op("aten::_embedding_bag", "aten::_embedding_bag_forward_only", "aten::embedding_bag")
def _embedding_bag(call: OpCall) -> OpCost:
    # (weight [V, D], indices [L], offsets [B(+1)], scale_grad_by_freq, mode, sparse, per_sample_weights,
    #  include_last_offset, padding_idx) → (output [B, D], offset2bag, bag_size, max_indices)
    ops = Operands(call)
    w, idx, offsets = ops.tensor(0, "weight"), ops.tensor(1, "indices"), ops.tensor(2, "offsets")
    if w.ndim != 2:
        raise Malformed(f"weight {list(w.shape)} is not [num_embeddings, dim]")
    if idx.ndim == 2:  # a 2-D input is B bags of fixed size, offsets unused
        bags, lookups = idx.shape[0], idx.numel
    else:
        bags, lookups = max(offsets.numel - bool(ops.bool_(7, False)), 0), idx.numel
    rows, d = w.shape
    psw = ops.opt_tensor(6, "per_sample_weights")
    es = w.dtype.itemsize
    per = 2 if psw is not None else 1
    nbytes = (min(lookups, rows) * d * es + idx.read_bytes + offsets.read_bytes
              + (psw.read_bytes if psw is not None else 0) + bags * d * es)
    return _cost(per * lookups * d, nbytes, w,
                 f"{per}·L·D (L={fmt(lookups)} lookups into B={fmt(bags)} bags, D={fmt(d)}); bytes: min(L, V) rows "
                 "gathered, indices and offsets read, B·D written")


@register_op("aten::_embedding_bag_dense_backward")
def _embedding_bag_dense_backward(call: OpCall) -> OpCost:
    # (grad [B, D], indices [L], offset2bag [L], bag_size [B], maximum_indices, num_weights, scale_grad_by_freq,
    #  mode, per_sample_weights, padding_idx)
    ops = Operands(call)
    g, idx = ops.tensor(0, "grad"), ops.tensor(1, "indices")
    v = ops.int_(5)
    if v is None or v < 0 or g.ndim != 2:
        raise Malformed("num_weights was not recorded, or grad is not [bags, dim]")
    o2b = ops.opt_tensor(2, "offset2bag")
    d = g.shape[1]
    nbytes = g.read_bytes + idx.read_bytes + (o2b.read_bytes if o2b is not None else 0) + v * d * g.dtype.itemsize
    return _cost(idx.numel * d, nbytes, g,
                 f"L·D adds (L={fmt(idx.numel)}, D={fmt(d)}); bytes: dY, indices and offset2bag read, V·D "
                 f"(V={fmt(v)}) written")
