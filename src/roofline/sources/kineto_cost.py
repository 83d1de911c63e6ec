"""Give each kineto GPU event its FLOPs and bytes: from the op cost formulas applied to the
launching op's input shapes, split across that op's kernels by their share of its GPU time.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from roofline.analysis.events import GpuEvent, finish_copy
from roofline.precision import Precision, Unit


def attribute_costs(
    events: list[GpuEvent],
    op_keys: list[tuple[Any, int] | None],
    signatures: list[tuple[str, dict[str, Any]]],
    warnings: list[str],
) -> None:
    """``op_keys[i]`` is (op instance, signature index) of the op that launched ``events[i]``."""
    from roofline.opcost import NoCost, OpCall, itemsize_from_kernel_name, op_cost

    costs: dict[tuple[int, int | None], Any] = {}
    kernels_of_op: dict[Any, list[int]] = defaultdict(list)
    signature_of_op: dict[Any, int] = {}
    for index, (event, key) in enumerate(zip(events, op_keys)):
        if event.kind in ("memcpy", "memset"):
            event.flops = 0.0
            event.source = "trace" if event.bytes is not None else "none"
            if event.bytes is None:
                event.unknown_reason = f"{event.kind} without a byte count"
            finish_copy(event)
            continue
        if key is None:
            continue
        kernels_of_op[key[0]].append(index)
        signature_of_op[key[0]] = key[1]

    for op, indices in kernels_of_op.items():
        signature = signature_of_op[op]
        name, args = signatures[signature]
        # kineto gives no element type for TensorList inputs (aten::cat); the kernel's name does.
        itemsize = None
        if "TensorList" in str(args.get("Input type")):
            itemsize = itemsize_from_kernel_name(events[indices[0]].name)
        key = (signature, itemsize)
        if key not in costs:
            call_args = {**args, "tensorlist_itemsize": itemsize} if itemsize else args
            try:
                costs[key] = op_cost(OpCall.from_event({"name": name, "args": call_args}))
            except Exception as exc:  # a formula bug must not lose the trace: report and go on
                costs[key] = NoCost(f"cost formula for {name} failed: {type(exc).__name__}")
        cost = costs[key]
        # One op, several kernels (a GEMM and its split-K reduction): share its work by GPU time.
        total_ns = sum(events[i].dur_ns for i in indices)
        for i in indices:
            event = events[i]
            if isinstance(cost, NoCost):
                event.unknown_reason = cost.reason
                continue
            share = event.dur_ns / total_ns if total_ns > 0 else 1.0 / len(indices)
            event.flops = cost.flops * share
            event.bytes = cost.bytes * share
            event.precision = _kernel_precision(cost.precision, cost.unit, event.name)
            event.unit = cost.unit
            event.source = "shapes"

    _match_graph_kernels(events, warnings)
    for event in events:
        if event.kind == "kernel" and event.flops is None and event.unknown_reason is None:
            if event.in_graph:
                event.unknown_reason = (
                    "replayed from a CUDA graph: no op link, and no eager kernel of the same name in this trace"
                )
            else:
                event.unknown_reason = "no launching op in the trace (library-internal launch or ops not recorded)"


def _kernel_precision(precision: Precision, unit: Unit, kernel_name: str) -> Precision:
    """The kernel's name can say more than the tensors' dtype: an fp32 matmul with TF32 allowed
    runs a ``…tf32…`` tensor-core kernel and is judged against the tf32 matrix roof."""
    if precision is Precision.FP32 and unit is Unit.MATRIX and "tf32" in kernel_name.lower():
        return Precision.TF32
    return precision


def _match_graph_kernels(events: list[GpuEvent], warnings: list[str]) -> None:
    """A CUDA-graph replay carries no op links; an eager kernel of the same name in the same trace
    tells what op it was and what one call costs (the mean over the eager calls).
    """
    per_name: dict[str, list[GpuEvent]] = defaultdict(list)
    for event in events:
        if event.kind == "kernel" and event.source == "shapes" and not event.in_graph:
            per_name[event.name].append(event)
    unmatched = 0
    graph_kernels = 0
    for event in events:
        if not (event.kind == "kernel" and event.in_graph and event.flops is None):
            continue
        graph_kernels += 1
        twins = per_name.get(event.name)
        if not twins:
            unmatched += 1
            continue
        event.op = twins[0].op
        event.flops = sum(t.flops or 0.0 for t in twins) / len(twins)
        event.bytes = sum(t.bytes or 0.0 for t in twins) / len(twins)
        event.precision = twins[0].precision
        event.unit = twins[0].unit
        event.source = "shapes"
    if graph_kernels and unmatched:
        warnings.append(
            f"{unmatched} of {graph_kernels} CUDA-graph kernels have no op link and no eager twin in this trace: "
            "their time is counted, their bound is unknown (profile one eager step too, or use Nsight Compute)"
        )


__all__ = ["attribute_costs", "Precision"]
