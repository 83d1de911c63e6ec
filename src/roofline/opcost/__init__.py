"""FLOPs and minimum-DRAM-bytes formulas for the ops a PyTorch profiler trace records.

    >>> from roofline.opcost import OpCall, op_cost
    >>> op_cost(OpCall("aten::mm", ((8192, 8192), (8192, 8192)), ("c10::BFloat16",) * 2)).flops
    1099511627776.0

Each formula is registered for one or more op names (``@register_op``) and maps an
:class:`OpCall` — the shapes, dtypes and scalar arguments kineto wrote — to an :class:`OpCost`
or a :class:`NoCost` with the reason. :func:`op_cost` never raises. docs/op-costs.md lists
every formula and its assumptions.
"""

from __future__ import annotations

# Importing the formula modules registers them.
from roofline.opcost import (  # noqa: F401
    attention,
    backward,
    conv,
    elementwise,
    factory,
    gemm,
    indexing,
    losses,
    memory,
    moe,
    norm,
    optimizer,
    pooling,
    reduction,
    serving,
    triton,
    views,
)
from roofline.opcost.core import (
    Formula,
    Malformed,
    NoCost,
    OpCall,
    OpCost,
    formula_for,
    op_cost,
    register_op,
    registered_ops,
    unregister_op,
)
from roofline.opcost.dtypes import DType, itemsize_from_kernel_name, parse_dtype

__all__ = [
    "DType",
    "Formula",
    "Malformed",
    "NoCost",
    "OpCall",
    "OpCost",
    "formula_for",
    "itemsize_from_kernel_name",
    "op_cost",
    "parse_dtype",
    "register_op",
    "registered_ops",
    "unregister_op",
]
