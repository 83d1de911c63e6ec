"""Gathers and scatters: embedding, index_select, gather, scatter(_add/_reduce), index,
index_put_, index_add_/copy_/fill_.

No FLOPs, except one per accumulated element for the accumulating variants. Bytes count what
is touched, not whole tensors: a gather reads the gathered elements (not the table), the
indices, and writes the output; a scatter reads the source and indices and writes the
addressed elements (read-modify-write when it accumulates). An embedding reads
min(lookups, rows) rows of the table — repeated lookups beyond the table size must hit the
same rows. The profiler does not record ``List[Optional[Tensor]]`` arguments, so the index
tensors of ``index``/``index_put_`` are usually unknown: ``index`` cannot be costed then, and
``index_put_`` is costed from its values without the index bytes (the formula says so).
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.operands import Operands, Tensor, broadcast, fmt, make_cost, norm_dims
from roofline.precision import Unit


def _cost(flops: float, nbytes: float, main: Tensor, text: str) -> OpCost:
    return make_cost(flops, nbytes, main.dtype, Unit.VECTOR, text)


@register_op("aten::embedding")
def _embedding(call: OpCall) -> OpCost:
    # embedding(weight [V, D], indices [...], padding_idx, scale_grad_by_freq, sparse)
    ops = Operands(call)
    w, idx = ops.tensor(0, "weight"), ops.tensor(1, "indices")
    if w.ndim != 2:
        raise Malformed(f"weight {list(w.shape)} is not [num_embeddings, dim]")
    rows, d = w.shape
    lookups = idx.numel
    es = w.dtype.itemsize
    nbytes = min(lookups, rows) * d * es + idx.read_bytes + lookups * d * es
    text = (
        f"0 FLOPs; bytes: min(L, V)·D gathered + indices + L·D output "
        f"(L={fmt(lookups)} lookups, V={fmt(rows)}, D={fmt(d)})"
    )
    return _cost(0, nbytes, w, text)


@register_op("aten::index_select")
def _index_select(call: OpCall) -> OpCost:
    # index_select(self, dim, index)
    ops = Operands(call)
    x, idx = ops.tensor(0, "self"), ops.tensor(2, "index")
    (d,) = norm_dims((ops.int_(1, 0),), x.ndim)
    if idx.ndim > 1:
        raise Malformed(f"index {list(idx.shape)} must be 1-d")
    rest = math.prod(x.shape[:d]) * math.prod(x.shape[d + 1 :]) if x.ndim else 1
    out_n = rest * idx.numel
    es = x.dtype.itemsize
    return _cost(
        0,
        out_n * es + idx.read_bytes + out_n * es,
        x,
        f"0 FLOPs; bytes: n gathered + index + n written (n={fmt(out_n)})",
    )


@register_op("aten::gather")
def _gather(call: OpCall) -> OpCost:
    # gather(self, dim, index, sparse_grad[, out]): the output has index's shape
    ops = Operands(call)
    x, idx = ops.tensor(0, "self"), ops.tensor(2, "index")
    norm_dims((ops.int_(1, 0),), x.ndim)
    if idx.ndim != x.ndim and idx.ndim and x.ndim:
        raise Malformed(f"index {list(idx.shape)} and self {list(x.shape)} differ in rank")
    n = idx.numel
    es = x.dtype.itemsize
    return _cost(
        0, n * es + idx.read_bytes + n * es, x, f"0 FLOPs; bytes: n gathered + index + n written (n={fmt(n)})"
    )


def _scatter(accumulate: bool, in_place: bool):
    def formula(call: OpCall) -> OpCost:
        # scatter(self, dim, index, src|value[, reduce]) · scatter_add · scatter_reduce
        ops = Operands(call)
        x, idx = ops.tensor(0, "self"), ops.tensor(2, "index")
        norm_dims((ops.int_(1, 0),), x.ndim)
        src = ops.opt_tensor(3, "src")
        n = idx.numel
        es = x.dtype.itemsize
        src_bytes = min(src.read_bytes, n * src.dtype.itemsize) if src is not None and src.ndim else 0
        nbytes = idx.read_bytes + src_bytes + n * es * (2 if accumulate else 1)
        text = f"{'n' if accumulate else '0'} FLOPs (n={fmt(n)} index elements); bytes: index + src read, n "
        text += "read-modified-written" if accumulate else "written"
        if not in_place:
            nbytes += x.read_bytes + x.nbytes
            text += " + self copied to the output"
        return _cost(n if accumulate else 0, nbytes, x, text)

    return formula


register_op("aten::scatter")(_scatter(False, False))
register_op("aten::scatter_")(_scatter(False, True))
register_op("aten::scatter_add", "aten::scatter_reduce")(_scatter(True, False))
register_op("aten::scatter_add_", "aten::scatter_reduce_")(_scatter(True, True))


def _index_shapes(ops: Operands, i: int) -> list[tuple[int, ...]] | None:
    """Shapes of a List[Optional[Tensor]] argument when recorded (None entries are slices)."""
    shapes = ops.dims[i] if i < len(ops) else None
    if (
        isinstance(shapes, tuple)
        and shapes
        and all(isinstance(s, tuple) for s in shapes)
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for s in shapes for d in s)
    ):
        return [s for s in shapes if s]
    return None


@register_op("aten::index")
def _index(call: OpCall) -> OpCost:
    # index(self, indices: List[Optional[Tensor]]); indices assumed int64, leading dims
    ops = Operands(call)
    x = ops.tensor(0, "self")
    shapes = _index_shapes(ops, 1)
    if not shapes:
        raise Malformed("the index tensors were not recorded (the profiler skips List[Optional[Tensor]])")
    if len(shapes) > x.ndim:
        raise Malformed(f"{len(shapes)} indices for a {x.ndim}-d tensor")
    n_idx = math.prod(broadcast(*shapes))
    n = n_idx * math.prod(x.shape[len(shapes) :])
    es = x.dtype.itemsize
    index_bytes = 8 * sum(math.prod(s) for s in shapes)
    return _cost(
        0,
        n * es + index_bytes + n * es,
        x,
        f"0 FLOPs; bytes: n gathered + int64 indices + n written (n={fmt(n)})",
    )


def _index_put(in_place: bool):
    def formula(call: OpCall) -> OpCost:
        # index_put_(self, indices, values, accumulate) · _index_put_impl_(…, accumulate, unsafe)
        ops = Operands(call)
        x, values = ops.tensor(0, "self"), ops.tensor(2, "values")
        accumulate = bool(ops.bool_(3, False))
        shapes = _index_shapes(ops, 1)
        es = x.dtype.itemsize
        if shapes:
            n = math.prod(broadcast(*shapes)) * math.prod(x.shape[len(shapes) :])
            index_bytes, note = 8 * sum(math.prod(s) for s in shapes), "int64 indices"
        else:
            n, index_bytes, note = values.numel, 0, "indices not recorded, not counted"
        nbytes = values.read_bytes + index_bytes + n * es * (2 if accumulate else 1)
        text = f"{'n' if accumulate else '0'} FLOPs (n={fmt(n)} elements put); bytes: values read, "
        text += ("n read-modified-written" if accumulate else "n written") + f"; {note}"
        if not in_place:
            nbytes += x.read_bytes + x.nbytes
            text += "; self copied to the output"
        return _cost(n if accumulate else 0, nbytes, x, text)

    return formula


register_op("aten::index_put_", "aten::_index_put_impl_")(_index_put(True))
register_op("aten::index_put")(_index_put(False))


def _index_dim(accumulate: bool, in_place: bool):
    def formula(call: OpCall) -> OpCost:
        # index_add_(self, dim, index, source, alpha) · index_copy_(self, dim, index, source)
        ops = Operands(call)
        x, idx, src = ops.tensor(0, "self"), ops.tensor(2, "index"), ops.tensor(3, "source")
        norm_dims((ops.int_(1, 0),), x.ndim)
        n = src.numel
        es = x.dtype.itemsize
        nbytes = src.read_bytes + idx.read_bytes + n * es * (2 if accumulate else 1)
        if not in_place:
            nbytes += x.read_bytes + x.nbytes
        return _cost(
            n if accumulate else 0,
            nbytes,
            x,
            f"{'n' if accumulate else '0'} FLOPs (n={fmt(n)} source elements); bytes: source + index read, "
            f"n {'read-modified-written' if accumulate else 'written'}"
            + ("" if in_place else "; self copied to the output"),
        )

    return formula


register_op("aten::index_add_")(_index_dim(True, True))
register_op("aten::index_add")(_index_dim(True, False))
register_op("aten::index_copy_")(_index_dim(False, True))
register_op("aten::index_copy")(_index_dim(False, False))


@register_op("aten::index_fill_")
def _index_fill_(call: OpCall) -> OpCost:
    # index_fill_(self, dim, index, value): every slice named by index is overwritten
    ops = Operands(call)
    x, idx = ops.tensor(0, "self"), ops.tensor(2, "index")
    (d,) = norm_dims((ops.int_(1, 0),), x.ndim)
    slice_n = math.prod(s for i, s in enumerate(x.shape) if i != d)
    n = idx.numel * slice_n
    return _cost(
        0, idx.read_bytes + n * x.dtype.itemsize, x, f"0 FLOPs; bytes: index read + n written (n={fmt(n)})"
    )
