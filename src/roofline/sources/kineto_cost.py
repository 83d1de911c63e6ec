"""Give each kineto GPU event its FLOPs and bytes: from the op cost formulas applied to the
launching op's input shapes. An op's bytes are split across its kernels by their share of its GPU
time; its FLOPs only across the kernels that do them (GEMM, convolution and attention kernels, told
by name: :mod:`roofline.opcost.kernel_families`), so a layout transpose or a fill that a
convolution runs carries bytes and no FLOPs. Kernels with no op are given their class by name.

Works on the columns of an :class:`EventTable`: one formula evaluation per distinct (op
signature, element size), then whole-column arithmetic for the millions of events that share them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from roofline.analysis.event_table import KINDS, LINKS, PRECISIONS, SOURCES, UNITS, EventTable
from roofline.analysis.events import copy_direction
from roofline.precision import Precision, Unit

_KERNEL = KINDS.index("kernel")
_SHAPES = SOURCES.index("shapes")
_TRACE = SOURCES.index("trace")


def attribute_costs(
    table: EventTable,
    instance: np.ndarray,
    op_row: np.ndarray,
    row_signature: np.ndarray,
    signatures: list[tuple[str, dict[str, Any]]],
    warnings: list[str],
) -> None:
    """``instance[i]`` identifies the op call that launched event ``i`` (-1: none), ``op_row[i]``
    its row in the op columns, whose signature ``row_signature`` gives (name, shape args)."""
    _copies(table)
    kernel = table.kind == _KERNEL
    linked = np.flatnonzero(kernel & (instance >= 0))
    if len(linked):
        _from_ops(table, linked, instance[linked], row_signature[op_row[linked]], signatures)
    _match_graph_kernels(table, warnings)
    _multi_tensor_from_grid(table)
    unknown = kernel & np.isnan(table.flops) & (table.reason == 0)
    if unknown.any():
        graph_reason = table.reasons.code(
            "replayed from a CUDA graph: no op link, and no eager kernel of the same name in this trace")
        eager_reason = table.reasons.code(
            "no launching op in the trace (library-internal launch or ops not recorded)")
        table.reason[unknown & table.in_graph] = graph_reason
        table.reason[unknown & ~table.in_graph] = eager_reason
    # A graph-replayed kernel linked to the op that launched the replay (a "Torch-Compiled Region",
    # a model's forward) is not that op's work: its name says more than the launcher's reason.
    named = unknown | (kernel & table.in_graph & np.isnan(table.flops))
    if named.any():
        _name_families(table, named)


def _multi_tensor_from_grid(table: EventTable) -> None:
    """A multi-tensor-apply kernel (fused optimizer, ``_foreach_*``) still without a cost — its
    op's TensorList shapes were dropped, or no op launched it — gets an upper bound from its grid:
    one block per 65 536-element chunk, the functor's cost per element (:mod:`roofline.opcost.multi_tensor`)."""
    from roofline.opcost.multi_tensor import element_range, functor_cost, launch_depth

    rows = np.flatnonzero((table.kind == _KERNEL) & np.isnan(table.flops) & (table.grid > 0))
    if not len(rows):
        return
    for code in np.unique(table.name[rows]).tolist():
        name = table.names.values[code]
        cost, depth = functor_cost(name), launch_depth(name)
        if cost is None or depth is None:
            continue
        mine = rows[table.name[rows] == code]
        ranges = [element_range(int(table.grids.values[g][0]), depth) for g in table.grid[mine].tolist()]
        bounded = np.array([r is not None for r in ranges], bool)
        table.reason[mine[~bounded]] = table.reasons.code(
            "multi-tensor kernel with too few blocks to bound its elements (each tensor's last chunk may hold "
            "one element) and no recorded TensorList shapes")
        mine = mine[bounded]
        # The most elements the grid allows: an upper bound, within the range the docs give.
        elements = np.array([r[1] for r in ranges if r is not None], np.float64)
        table.flops[mine] = cost.flops_per_element * elements
        table.bytes[mine] = cost.bytes_per_element * elements
        table.precision[mine] = PRECISIONS.index(cost.dtype.precision)
        table.unit[mine] = UNITS.index(cost.unit)
        table.source[mine] = _TRACE
        table.reason[mine] = 0


def _name_families(table: EventTable, unknown: np.ndarray) -> None:
    """Kernels known only by their name get its class in their reason (``GEMM kernel (cuBLASLt)
    replayed from a CUDA graph: …``) and the matrix unit where the class is matrix work."""
    from roofline.opcost.kernel_families import kernel_family, unknown_reason

    rows = np.flatnonzero(unknown)
    codes = np.unique(table.name[rows])
    by_graph = np.zeros(len(table.names), np.int32)
    by_eager = np.zeros(len(table.names), np.int32)
    unit = np.full(len(table.names), -1, np.int8)
    for code in codes.tolist():
        name = table.names.values[code]
        family = kernel_family(name)
        if family is None:
            continue
        by_graph[code] = table.reasons.code(unknown_reason(name, in_graph=True))
        by_eager[code] = table.reasons.code(unknown_reason(name, in_graph=False))
        unit[code] = UNITS.index(family.unit)
    names = table.name[rows]
    why = np.where(table.in_graph[rows], by_graph[names], by_eager[names])
    named = why > 0
    table.reason[rows[named]] = why[named]
    table.unit[rows[named]] = unit[names[named]]


def _copies(table: EventTable) -> None:
    """Copies and memsets move the bytes the trace records and do no arithmetic. A copy's link
    comes from its direction; a device-to-device copy reads and writes DRAM, so twice its size."""
    for kind in ("memcpy", "memset"):
        rows = table.kind == KINDS.index(kind)
        if not rows.any():
            continue
        known = rows & ~np.isnan(table.bytes)
        table.flops[rows] = 0.0
        table.source[known] = SOURCES.index("trace")
        table.source[rows & ~known] = SOURCES.index("none")
        table.reason[rows & ~known] = table.reasons.code(f"{kind} without a byte count")
        if kind != "memcpy":
            continue
        direction = np.array([copy_direction(name) for name in table.names.values], dtype=object)
        for value, link in (("h2d", "host"), ("d2h", "host"), ("p2p", "peer")):
            table.link[rows & (direction[table.name] == value)] = LINKS.index(link)
        d2d = known & (direction[table.name] == "d2d")
        table.bytes[d2d] *= 2


def _from_ops(
    table: EventTable,
    rows: np.ndarray,
    instances: np.ndarray,
    signature: np.ndarray,
    signatures: list[tuple[str, dict[str, Any]]],
) -> None:
    from roofline.opcost import NoCost
    from roofline.opcost.model_layer import active_model, shards_from_attention, using_model

    # One op call, several kernels (a GEMM and its split-K reduction, a convolution and its layout
    # transposes): bytes are shared by GPU time, FLOPs go to the kernels that do them.
    unique, first, inverse = np.unique(instances, return_index=True, return_inverse=True)
    durations = table.dur_ns[rows].astype(np.float64)
    share = _shares(inverse, durations, np.ones(len(rows), bool), len(unique))
    flop_share = _shares(inverse, durations, _flop_takers(table, rows, inverse, len(unique)), len(unique))
    # kineto gives no element type for TensorList inputs (aten::cat); the op's first kernel's name does.
    op_signature = signature[first]
    first_name = table.name[rows[first]]
    costs: dict[tuple[int, int | None], Any] = {}
    cost_of_instance: list[Any] = []
    # Engine ops whose weights live in the layer (vllm::moe_forward) need the model (classify
    # --model); how many GPUs share its work is told by the heads this trace's attention ops record.
    layer = active_model()
    if layer is not None:
        layer = shards_from_attention(layer, ((n, a.get("Input Dims")) for n, a in signatures))
    with using_model(layer):
        for sig, name_code in zip(op_signature.tolist(), first_name.tolist()):
            cost_of_instance.append(_cost_of(sig, name_code, signatures, table, costs))
    no_cost = np.array([isinstance(c, NoCost) for c in cost_of_instance], bool)[inverse]
    reason = np.array([table.reasons.code(c.reason) if isinstance(c, NoCost) else 0 for c in cost_of_instance],
                      np.int32)[inverse]
    flops = np.array([0.0 if isinstance(c, NoCost) else c.flops for c in cost_of_instance])[inverse]
    nbytes = np.array([0.0 if isinstance(c, NoCost) else c.bytes for c in cost_of_instance])[inverse]
    precision = np.array([-1 if isinstance(c, NoCost) else PRECISIONS.index(c.precision)
                          for c in cost_of_instance], np.int8)[inverse]
    unit = np.array([UNITS.index(Unit.VECTOR) if isinstance(c, NoCost) else UNITS.index(c.unit)
                     for c in cost_of_instance], np.int8)[inverse]
    # The kernel's name can say more than the tensors' dtype: an fp32 matmul with TF32 allowed runs
    # a ``…tf32…`` tensor-core kernel and is judged against the tf32 matrix roof.
    tf32_name = table.name_mask(lambda n: "tf32" in n.lower())[rows]
    tf32 = (precision == PRECISIONS.index(Precision.FP32)) & (unit == UNITS.index(Unit.MATRIX)) & tf32_name
    precision[tf32] = PRECISIONS.index(Precision.TF32)

    # A kernel that gets none of a matrix op's FLOPs (a transpose, a fill) is judged as data movement.
    unit[(flop_share == 0) & (flops > 0)] = UNITS.index(Unit.VECTOR)
    costed = rows[~no_cost]
    table.reason[rows[no_cost]] = reason[no_cost]
    table.flops[costed] = (flops * flop_share)[~no_cost]
    table.bytes[costed] = (nbytes * share)[~no_cost]
    table.precision[costed] = precision[~no_cost]
    table.unit[costed] = unit[~no_cost]
    table.source[costed] = _SHAPES


def _cost_of(sig: int, name_code: int, signatures: list[tuple[str, dict[str, Any]]], table: EventTable,
             costs: dict[tuple[int, int | None], Any]) -> Any:
    """The cost of one op signature, once per (signature, element size)."""
    from roofline.opcost import NoCost, OpCall, itemsize_from_kernel_name, op_cost
    from roofline.opcost.kernel_families import functor_itemsize

    name, args = signatures[sig]
    itemsize = None
    if "TensorList" in str(args.get("Input type")):
        kernel_name = table.names.values[name_code]
        itemsize = itemsize_from_kernel_name(kernel_name) or functor_itemsize(kernel_name)
    key = (sig, itemsize)
    cost = costs.get(key)
    if cost is None:
        call_args = {**args, "tensorlist_itemsize": itemsize} if itemsize else args
        try:
            cost = op_cost(OpCall.from_event({"name": name, "args": call_args}))
        except Exception as exc:  # a formula bug must not lose the trace: report and go on
            cost = NoCost(f"cost formula for {name} failed: {type(exc).__name__}")
        costs[key] = cost
    return cost


def _shares(inverse: np.ndarray, durations: np.ndarray, takes: np.ndarray, groups: int) -> np.ndarray:
    """Each row's share of its group's work among the rows that ``take`` it, by GPU time (by count
    where the takers' time is 0); 0 for the rows that do not take it."""
    weights = np.where(takes, durations, 0.0)
    total = np.bincount(inverse, weights=weights, minlength=groups)
    takers = np.bincount(inverse, weights=takes.astype(np.float64), minlength=groups)
    by_time = weights / np.where(total > 0, total, 1)[inverse]
    by_count = takes / np.where(takers > 0, takers, 1)[inverse]
    return np.where(total[inverse] > 0, by_time, by_count)


def _flop_takers(table: EventTable, rows: np.ndarray, inverse: np.ndarray, groups: int) -> np.ndarray:
    """Which of an op's kernels get its FLOPs: its GEMM/convolution/attention kernels where it has
    any; else all but the helpers (layout transposes, copies, fills, split-K reductions); else all."""
    from roofline.opcost.kernel_families import COMPUTE, HELPER, kernel_family

    roles = [getattr(kernel_family(name), "role", None) for name in table.names.values]
    code = np.array([{COMPUTE: 2, HELPER: 0}.get(role, 1) for role in roles] or [1], np.int8)[table.name[rows]]
    best = np.zeros(groups, np.int8)
    np.maximum.at(best, inverse, code)
    return code == best[inverse]


def _match_graph_kernels(table: EventTable, warnings: list[str]) -> None:
    """A CUDA-graph replay carries no op links; an eager kernel of the same name in the same trace
    tells what op it was and what one call costs (the mean over the eager calls).
    """
    kernel = table.kind == _KERNEL
    graph = np.flatnonzero(kernel & table.in_graph & np.isnan(table.flops))
    if not len(graph):
        return
    twins = np.flatnonzero(kernel & (table.source == _SHAPES) & ~table.in_graph)
    names = len(table.names)
    twin_count = np.bincount(table.name[twins], minlength=names)
    flops_sum = np.bincount(table.name[twins], weights=np.nan_to_num(table.flops[twins]), minlength=names)
    bytes_sum = np.bincount(table.name[twins], weights=np.nan_to_num(table.bytes[twins]), minlength=names)
    first_twin = np.full(names, -1, np.int64)
    twin_names, first = np.unique(table.name[twins], return_index=True)
    first_twin[twin_names] = twins[first]  # the first twin in trace order gives the op and precision
    name = table.name[graph]
    matched = graph[twin_count[name] > 0]
    unmatched = len(graph) - len(matched)
    if len(matched):
        name = table.name[matched]
        model = first_twin[name]
        table.op[matched] = table.op[model]
        table.flops[matched] = flops_sum[name] / twin_count[name]
        table.bytes[matched] = bytes_sum[name] / twin_count[name]
        table.precision[matched] = table.precision[model]
        table.unit[matched] = table.unit[model]
        table.source[matched] = _SHAPES
    if unmatched:
        warnings.append(
            f"{unmatched} of {len(graph)} CUDA-graph kernels have no op link and no eager twin in this trace: "
            "their time is counted, their bound is unknown (profile one eager step too, or use Nsight Compute)"
        )


__all__ = ["attribute_costs", "Precision"]
