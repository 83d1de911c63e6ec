"""Ops that launch no kernel: views, metadata changes and allocations.

They return an :class:`OpCost` with 0 FLOPs, 0 bytes and ``is_view=True`` so that a report
can account for every op in a trace without putting these on a roofline (their cost is CPU
time, which the launch/overhead analysis sees). They need no Input Dims: the answer is the
same whatever the shapes, so they work on traces recorded without record_shapes too.
"""

from __future__ import annotations

from roofline.opcost.core import OpCall, OpCost, register_op
from roofline.opcost.dtypes import F32, parse_dtype
from roofline.opcost.operands import make_cost
from roofline.precision import Unit

# fmt: off
VIEW_OPS = (
    "view", "view_as", "_unsafe_view", "_reshape_alias", "reshape", "reshape_as", "as_strided",
    "t", "transpose", "swapaxes", "swapdims", "permute", "movedim", "moveaxis", "numpy_T",
    "mT", "mH", "adjoint", "expand", "expand_as", "broadcast_to", "slice", "select", "narrow",
    "split", "split_with_sizes", "unsafe_split", "tensor_split", "chunk", "unsafe_chunk",
    "unbind", "unsqueeze", "unsqueeze_", "squeeze", "squeeze_", "flatten", "unflatten",
    "diagonal", "unfold", "alias", "detach", "detach_", "lift_fresh", "view_as_real",
    "view_as_complex", "real", "imag", "_conj", "conj", "_neg_view", "resolve_conj",
    "resolve_neg", "align_to", "refine_names", "rename", "_nested_view_from_buffer",
    "t_", "transpose_", "as_strided_", "set_", "record_stream", "_version",
)

ALLOC_OPS = (
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "resize_",
    "resize_as_", "_resize_output_", "empty_permuted", "_empty_affine_quantized",
)
# fmt: on


def _dtype_of(call: OpCall):
    types = call.input_types if isinstance(call.input_types, tuple) else ()
    for t in types:
        found = parse_dtype(t)
        if found is not None:
            return found
    return F32  # no tensor argument: the precision is immaterial for 0 FLOPs and 0 bytes


def _view(call: OpCall) -> OpCost:
    return make_cost(0, 0, _dtype_of(call), Unit.VECTOR, "view (no data movement)", is_view=True)


def _alloc(call: OpCall) -> OpCost:
    return make_cost(
        0, 0, _dtype_of(call), Unit.VECTOR, "allocation (no data movement, no kernel)", is_view=True
    )


register_op(*(f"aten::{op}" for op in VIEW_OPS), needs_shapes=False)(_view)
register_op(*(f"aten::{op}" for op in ALLOC_OPS), needs_shapes=False)(_alloc)
