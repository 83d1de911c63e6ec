"""Inductor-generated Triton kernels, recorded as cpu_ops named after the kernel:
``triton_poi_fused_add_mul_0`` (pointwise), ``triton_red_…`` / ``triton_per_…`` (reductions,
looped / persistent), ``triton_for_…`` (foreach/combo), ``triton_tem_fused_mm_0`` (template
GEMMs). With record_shapes the launcher records every kernel argument: the buffers (inputs and
outputs alike, in no marked order) and the integer sizes (xnumel, r0_numel) last.

Bytes: each buffer read or written once — a fused kernel is one pass over its buffers. A
buffer that is both read and written (in_out_ptr) is counted once, a known undercount, except
when it is the kernel's only buffer and the kernel computes something: then it must be an
in-place update, and it is counted twice.
FLOPs: the iteration space (xnumel × r0_numel for reductions, from the trailing size
arguments; else the largest buffer) times the sum of the per-element FLOPs of the fused ops
named in the kernel name, using the eager tables (add 1, gelu 5, sum 1, var 4, softmax 5 …;
data-movement ops 0; an op the tables do not know counts 1). Inductor truncates long names,
so this undercounts very large fusions. Template GEMMs are 2·M·N·K when two buffers form a
[M,K]·[K,N] (or batched) product; epilogue ops are not counted. Precision: the dtype of the
largest floating-point buffer. Unit: vector, matrix for templates.
"""

from __future__ import annotations

import math
import re

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.elementwise import BINARY, TERNARY, UNARY
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit

_NAME = re.compile(r"^triton_(poi|red|per|for|tem)_(?:fused_?)?(.*?)(?:_\d+)?$")

# fmt: off
FUSED_OP_FLOPS: dict[str, float] = {
    **{op: v[0] for table in (UNARY, BINARY, TERNARY) for op, v in table.items()},
    **dict.fromkeys(("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
                     "any", "all", "cumsum", "cumprod", "nansum"), 1),
    **dict.fromkeys(("var", "std", "var_mean", "std_mean", "logsumexp"), 4),
    **dict.fromkeys(("norm", "linalg_vector_norm"), 2),
    **dict.fromkeys(("softmax", "_softmax", "log_softmax", "_log_softmax", "_safe_softmax"), 5),
    **dict.fromkeys(("native_layer_norm", "layer_norm", "native_group_norm", "group_norm",
                     "native_batch_norm", "_native_batch_norm_legit_functional",
                     "_native_batch_norm_legit_no_training"), 8),
    **dict.fromkeys(("rms_norm", "_fused_rms_norm"), 4),
    **dict.fromkeys(("native_dropout", "bernoulli", "rand", "randn", "randint"), 2),
    # data movement, and GEMMs whose work a pointwise/reduction kernel does not do
    **dict.fromkeys((
        "_to_copy", "copy", "copy_", "clone", "convert_element_type", "view", "_unsafe_view",
        "reshape", "permute", "transpose", "t", "expand", "unsqueeze", "squeeze", "slice",
        "select", "cat", "stack", "split", "embedding", "index", "index_select", "gather",
        "scatter", "index_put", "constant_pad_nd", "full", "zeros", "ones", "fill", "arange",
        "iota", "lift_fresh", "alias", "slice_scatter", "select_scatter", "as_strided",
        "as_strided_scatter", "repeat", "flip", "roll", "empty", "zeros_like", "full_like",
        "ones_like", "new_zeros", "split_with_sizes", "unbind", "view_as_real", "tril", "triu",
        "mm", "bmm", "addmm", "baddbmm", "convolution"), 0),
}
# fmt: on
# Ops that create values without reading a buffer: a kernel made only of these writes its buffers.
# fmt: off
GENERATORS = frozenset({"full", "zeros", "ones", "fill", "arange", "iota", "empty", "zeros_like",
                        "full_like", "ones_like", "new_zeros", "rand", "randn", "randint", "bernoulli"})
# fmt: on
_LONGEST = max(op.count("_") for op in FUSED_OP_FLOPS) + 2


def fused_ops(name: str) -> tuple[str, list[str]]:
    """(kind, ops) from a kernel name: ``triton_per_fused__to_copy_add_mean_0`` →
    (``per``, [``_to_copy``, ``add``, ``mean``]). Unknown words are kept as ops of their own."""
    m = _NAME.match(name)
    if not m:
        raise Malformed(f"{name!r} is not an Inductor kernel name")
    kind, body = m.group(1), m.group(2)
    tokens = body.split("_") if body else []
    ops: list[str] = []
    i = 0
    while i < len(tokens):
        for length in range(min(_LONGEST, len(tokens) - i), 0, -1):
            word = "_".join(tokens[i : i + length])
            if word in FUSED_OP_FLOPS:
                ops.append(word)
                i += length
                break
        else:
            if tokens[i]:
                ops.append(tokens[i])
            i += 1
    return kind, ops


def _iteration_space(ops: Operands, kind: str, buffers: list[Tensor]) -> tuple[int, str]:
    largest = max(t.numel for t in buffers)
    last_tensor = max(i for i in range(len(ops)) if ops.is_tensor(i))
    sizes: list[int] = []
    for i in range(last_tensor + 1, len(ops)):
        if ops.type_tag(i) == "Scalar":
            value = ops.int_(i)
            if value is not None:
                sizes.append(value)
    take = 1 if kind in ("poi", "tem", "for") else 2
    if len(sizes) >= take and all(s > 0 for s in sizes[-take:]):
        n = math.prod(sizes[-take:])
        # a kernel's iteration space never dwarfs its buffers; if it does, the scalars were not sizes
        if n <= 4 * max(largest, 1):
            return n, ("xnumel" if take == 1 else "xnumel·r0_numel")
    return largest, "largest buffer"


def _template_gemm(buffers: list[Tensor]) -> OpCost | None:
    """The first pair of buffers that multiply ([M,K]·[K,N], or batched) into a third buffer."""
    mats = [t for t in buffers if t.ndim in (2, 3)]
    for a in mats:
        for b in mats:
            if a is b or a.ndim != b.ndim or a.shape[-1] != b.shape[-2]:
                continue
            if a.ndim == 3 and a.shape[0] != b.shape[0]:
                continue
            batch = a.shape[0] if a.ndim == 3 else 1
            m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
            out = (batch, m, n) if a.ndim == 3 else (m, n)
            if not any(t.shape == out for t in buffers if t is not a and t is not b):
                continue  # no buffer can hold the product: not the GEMM operands
            flops = 2 * batch * m * n * k
            dims = f"M={fmt(m)}, N={fmt(n)}, K={fmt(k)}" + (f", B={fmt(batch)}" if batch != 1 else "")
            text = (
                f"{'2·B·M·N·K' if batch != 1 else '2·M·N·K'} (Triton template; {dims}); "
                "bytes: each buffer once; epilogue ops not counted"
            )
            return make_cost(flops, sum(t.read_bytes for t in buffers), a.dtype, Unit.MATRIX, text)
    return None


@register_op("triton_poi_", "triton_red_", "triton_per_", "triton_for_", "triton_tem_", prefix=True)
def _triton(call: OpCall) -> OpCost:
    ops = Operands(call)
    kind, names = fused_ops(call.name)
    buffers = ops.tensors()
    if not buffers:
        raise Malformed("no tensor buffers recorded for the kernel")
    floating = [t for t in buffers if t.dtype.is_floating] or buffers
    main = max(floating, key=lambda t: t.nbytes)
    nbytes = sum(t.read_bytes for t in buffers)
    if kind == "tem":
        found = _template_gemm(buffers)
        if found is None:
            raise Malformed("template kernel: no two buffers form a matrix product with an output buffer")
        return found
    note = f"{len(buffers)} buffers once each"
    if len(buffers) == 1 and not set(names) <= GENERATORS:
        # One buffer and real work: Inductor's in_out_ptr, read and written back in place.
        nbytes *= 2
        note = "1 buffer read and written in place (in_out_ptr)"
    n, source = _iteration_space(ops, kind, buffers)
    per = sum(FUSED_OP_FLOPS.get(op, 1) for op in names) if names else 1
    known = ", ".join(f"{op}={fmt(FUSED_OP_FLOPS.get(op, 1))}" for op in names) or "unnamed=1"
    text = f"{fmt(per)}·n (fused: {known}; n={fmt(n)} from {source}); bytes: {note}"
    return make_cost(per * n, nbytes, main.dtype, Unit.VECTOR, text)
