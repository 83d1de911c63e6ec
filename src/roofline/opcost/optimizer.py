"""Optimizer steps: the fused ``_fused_adamw_`` / ``_fused_adam_`` / ``_fused_sgd_`` and the
``_foreach_*`` ops that torch.optim's ``foreach`` implementations (and grad clipping) run.

Every argument is a TensorList, for which kineto records shapes but no dtype: the element size
comes from the kernel (``FusedAdamMathFunctor<float, …>``, ``BinaryOpListAlphaFunctor<c10::BFloat16,
…>``), which the trace reader passes as ``args["tensorlist_itemsize"]``; all lists of one call are
taken to share it (mixed-precision states, fp32 moments beside bf16 weights, would move more).

Bytes per parameter element, from the update each algorithm makes (torch.optim docs):
  Adam/AdamW   param, grad, exp_avg, exp_avg_sq read; param, exp_avg, exp_avg_sq written: 7 accesses
               (+2 with amsgrad: max_exp_avg_sq read and written); the per-tensor step counters
               (one fp32 each) read and written.
  SGD          param and grad read, param written: 3; with momentum the buffer is read and written
               (+2), on the first step only written (+1).
FLOPs per element: Adam m = β1·m + (1−β1)·g (3), v = β2·v + (1−β2)·g² (4), denom = √v/√(1−β2ᵗ) + ε
(3), p −= (lr/(1−β1ᵗ))·m/denom (3): 13; AdamW's decoupled decay p·(1 − lr·λ) +1, Adam's L2 decay
g + λ·p +2; amsgrad's max +1; maximize's negation +1; a grad scale's division +1. SGD: p −= lr·g
(2), + 2 for weight decay, + 3 for momentum, + 2 for Nesterov.
``_foreach_*``: each list read once, the result list written once (in place: the first list);
FLOPs per element as the elementwise table (unary math as elementwise.py, add/sub/mul/div/
maximum/minimum/clamp/pow 1, addcmul/addcdiv/lerp 3, norm 2, copy/zero 0).
"""

from __future__ import annotations

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import F32, parse_dtype
from roofline.opcost.elementwise import UNARY
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def _list_numel(tensors: list[Tensor]) -> int:
    return sum(t.numel for t in tensors)


def _same_lists(lists: list[list[Tensor]], what: str) -> None:
    first = [t.shape for t in lists[0]]
    for other in lists[1:]:
        if [t.shape for t in other] != first:
            raise Malformed(f"{what}: the tensor lists differ in length or shapes")


def _recorded_list(ops: Operands, i: int) -> bool:
    dims = ops.dims[i] if i < len(ops) else None
    return isinstance(dims, tuple) and bool(dims) and all(isinstance(s, tuple) for s in dims)


def _flag(ops: Operands, i: int) -> bool:
    return bool(ops.bool_(i, False))


def _adam(decoupled: bool):
    def formula(call: OpCall) -> OpCost:
        # (self, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, lr, beta1, beta2,
        #  weight_decay, eps, amsgrad, maximize, grad_scale, found_inf)
        ops = Operands(call)
        amsgrad, maximize = _flag(ops, 11), _flag(ops, 12)
        lists = [ops.tensor_list(i, label) for i, label in
                 ((0, "params"), (1, "grads"), (2, "exp_avgs"), (3, "exp_avg_sqs"))]
        if amsgrad:
            lists.append(ops.tensor_list(4, "max_exp_avg_sqs"))
        _same_lists(lists, call.name)
        n = _list_numel(lists[0])
        es = lists[0][0].dtype.itemsize if lists[0] else 0
        decay = ops.float_(9, 0.0) or 0.0
        per = 13 + ((1 if decoupled else 2) if decay else 0) + int(amsgrad) + int(maximize)
        per += int(ops.opt_tensor(13) is not None)
        accesses = 9 if amsgrad else 7
        steps = len(lists[0]) if _recorded_list(ops, 5) else 0
        nbytes = accesses * n * es + 2 * steps * F32.itemsize
        name = "AdamW" if decoupled else "Adam"
        return make_cost(
            per * n, nbytes, lists[0][0].dtype, Unit.VECTOR,
            f"{per}·n ({name} update, n={fmt(n)} elements in {len(lists[0])} tensors"
            + (f", weight_decay={fmt(decay)}" if decay else "") + (", amsgrad" if amsgrad else "")
            + f"); bytes: {accesses} accesses per element at {fmt(es)} B + step counters",
        )

    return formula


register_op("aten::_fused_adamw_", "aten::_fused_adamw")(_adam(True))
register_op("aten::_fused_adam_", "aten::_fused_adam")(_adam(False))


@register_op("aten::_fused_sgd_", "aten::_fused_sgd")
def _fused_sgd(call: OpCall) -> OpCost:
    # (self, grads, momentum_buffer_list, weight_decay, momentum, lr, dampening, nesterov, maximize,
    #  is_first_step, grad_scale, found_inf)
    ops = Operands(call)
    params, grads = ops.tensor_list(0, "params"), ops.tensor_list(1, "grads")
    _same_lists([params, grads], call.name)
    n = _list_numel(params)
    es = params[0].dtype.itemsize if params else 0
    decay, momentum = ops.float_(3, 0.0) or 0.0, ops.float_(4, 0.0) or 0.0
    nesterov, maximize, first = _flag(ops, 7), _flag(ops, 8), _flag(ops, 9)
    per = 2 + (2 if decay else 0) + (3 if momentum else 0) + (2 if nesterov and momentum else 0) + int(maximize)
    accesses = 3 + ((1 if first else 2) if momentum else 0)
    return make_cost(
        per * n, accesses * n * es, params[0].dtype, Unit.VECTOR,
        f"{per}·n (SGD update, n={fmt(n)} elements in {len(params)} tensors, momentum={fmt(momentum)}, "
        f"weight_decay={fmt(decay)}); bytes: {accesses} accesses per element at {fmt(es)} B",
    )


# ---- _foreach_* -----------------------------------------------------------------------------------

_BINARY_FOREACH = {op: 1.0 for op in ("add", "sub", "mul", "div", "maximum", "minimum", "clamp_min",
                                      "clamp_max", "pow")}
_TERNARY_FOREACH = {"addcmul": 3.0, "addcdiv": 3.0, "lerp": 3.0}


def _foreach(op: str, per: float, in_place: bool):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        lists = [ops.tensor_list(i, f"list {i}") for i in range(len(ops)) if _is_list_arg(ops, i)]
        if not lists:
            raise Malformed("no tensor list was recorded")
        _same_lists(lists, call.name)
        first = lists[0]
        n = _list_numel(first)
        es = first[0].dtype.itemsize if first else 0
        reads = 0 if op == "zero" else len(lists)
        if op in ("norm", "max", "powsum"):
            dtype = ops.dtype_arg(2) if op == "norm" and len(ops) > 2 else None
            written = len(first) * (dtype.itemsize if dtype else es)
        elif op == "copy":
            reads, written = len(lists) - 1, n * es  # (self, src): src read, self (or a new list) written
        else:
            written = n * es
        return make_cost(
            per * n, reads * n * es + written, first[0].dtype if first else F32, Unit.VECTOR,
            f"{fmt(per)}·n (_foreach_{op}{'_' if in_place else ''}, n={fmt(n)} elements in {len(first)} tensors); "
            f"bytes: {reads} list{'s' if reads != 1 else ''} read, "
            + ("one result per tensor written" if op in ("norm", "max", "powsum") else "the result list written"),
        )

    return formula


def _is_list_arg(ops: Operands, i: int) -> bool:
    """A TensorList argument: kineto's "TensorList" tag, or a dtype over a list of shapes."""
    tag = ops.type_tag(i)
    if tag.strip().lower() == "tensorlist":
        return True
    dims = ops.dims[i]
    return parse_dtype(tag) is not None and isinstance(dims, tuple) and bool(dims) and isinstance(dims[0], tuple)


# Every _foreach_ op in PyTorch's native_functions.yaml (torch 2.13) but _foreach_mm, with its FLOPs per
# element; True where an in-place twin (name_) exists.
_UNARY_FOREACH = ("abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "exp", "expm1", "floor",
                  "frac", "lgamma", "log", "log10", "log1p", "log2", "neg", "reciprocal", "round", "rsqrt",
                  "sigmoid", "sign", "sin", "sinh", "sqrt", "tan", "tanh", "trunc")
_FOREACH: dict[str, tuple[float, bool, bool]] = {  # op: (FLOPs per element, out-of-place exists, in-place exists)
    **{op: (UNARY[op][0], True, True) for op in _UNARY_FOREACH},
    **{op: (flops, True, True) for op, flops in {**_BINARY_FOREACH, **_TERNARY_FOREACH}.items()},
    "copy": (0.0, True, True), "clone": (0.0, True, False), "zero": (0.0, False, True),
    "norm": (2.0, True, False), "max": (1.0, True, False), "powsum": (2.0, True, False),
}
for _op, (_flops, _out, _inplace) in _FOREACH.items():
    if _out:
        register_op(f"aten::_foreach_{_op}")(_foreach(_op, _flops, False))
    if _inplace:
        register_op(f"aten::_foreach_{_op}_")(_foreach(_op, _flops, True))
