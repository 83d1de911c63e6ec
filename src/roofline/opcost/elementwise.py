"""Elementwise ops: unary math and activations, binary arithmetic and comparisons with
broadcasting, where/addcmul/lerp/masked_fill, their in-place ``_`` variants, elementwise
backward ops and dropout.

FLOPs per output element (the ``flops`` column below) count the arithmetic of the textbook
formula, each transcendental (exp, log, tanh, erf, sqrt …) as 1: sigmoid 1/(1+e^-x) = 4,
silu x·sigmoid(x) = 5, GELU 0.5·x·(1+erf(x/√2)) = 5 — the seed chapter's "~5 FLOPs per
element" (GELU on 4096² fp16: AI = 5/4 ≈ 1.2). Comparisons, selects and bit ops count 1.
Bytes: every tensor operand read once at its own dtype (a broadcast operand only for what is
stored), the output written once at the result dtype (torch's type promotion). Python scalars
and 0-dim operands beside a real tensor add no bytes: they reach the kernel as arguments.
In-place variants cost the same as out-of-place: self is read and written back.
"""

from __future__ import annotations

import math

from roofline.opcost.core import Malformed, OpCall, OpCost, register_op
from roofline.opcost.dtypes import BOOL, F32, DType, result_type, scalar_kind
from roofline.opcost.operands import Operands, broadcast, fmt, make_cost
from roofline.precision import Unit

# name: (FLOPs per element, output rule, number of input positions, has an in-place variant)
# Output rules: "same" = promoted input dtype, "float" = promoted but ints become fp32,
# "bool" = comparison/predicate result, "self" = the first operand's dtype.
# fmt: off
UNARY: dict[str, tuple[float, str, int, bool]] = {
    **dict.fromkeys((
        "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
        "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
        "atanh", "erf", "erfc", "erfinv", "digamma", "lgamma"), (1, "float", 1, True)),
    "sigmoid": (4, "float", 1, True),      # neg, exp, add, reciprocal
    "silu": (5, "float", 1, True),         # x · sigmoid(x)
    "gelu": (5, "float", 1, True),         # 0.5·x·(1+erf(x/√2)); the tanh form is ~9, but
                                           # approximate= is a string the profiler drops
    "mish": (5, "float", 1, True),         # x·tanh(log(1+e^x))
    "softplus": (4, "float", 1, False),    # log(1+exp(βx))/β
    "elu": (4, "float", 1, True),
    "selu": (5, "float", 1, True),
    "celu": (4, "float", 1, True),
    "logit": (3, "float", 1, True),        # log(x/(1-x))
    "hardsigmoid": (3, "float", 1, True),  # clamp(x/6 + 0.5)
    "hardswish": (4, "float", 1, True),
    "leaky_relu": (2, "float", 1, True),   # compare, multiply
    **dict.fromkeys((
        "abs", "neg", "relu", "sign", "sgn", "floor", "ceil", "round", "trunc", "square",
        "bitwise_not", "nan_to_num", "conj_physical"), (1, "same", 1, True)),
    "frac": (2, "same", 1, True),
    "relu6": (2, "same", 1, False),
    "hardtanh": (2, "same", 1, True),
    "threshold": (1, "same", 1, True),
    "positive": (0, "same", 1, False),
    "tril": (0, "same", 1, True),          # a masked copy
    "triu": (0, "same", 1, True),
    "clamp": (2, "same", 3, True),         # min and max may be tensors (clamp.Tensor)
    "clip": (2, "same", 3, True),
    "clamp_min": (1, "same", 2, True),
    "clamp_max": (1, "same", 2, True),
    **dict.fromkeys(("isnan", "isinf", "isneginf", "isposinf", "isfinite", "signbit"), (1, "bool", 1, False)),
    "logical_not": (1, "bool", 1, True),
}

BINARY: dict[str, tuple[float, str, int, bool]] = {
    **dict.fromkeys((
        "add", "sub", "subtract", "rsub", "mul", "multiply", "floor_divide", "remainder", "fmod",
        "pow", "maximum", "minimum", "fmax", "fmin", "heaviside", "bitwise_and", "bitwise_or",
        "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"), (1, "same", 2, True)),
    # the operator forms; their in-place twins are __iand__ … (rare, not registered)
    **dict.fromkeys(("__and__", "__or__", "__xor__", "__lshift__", "__rshift__"), (1, "same", 2, False)),
    **dict.fromkeys(("div", "divide", "true_divide", "atan2", "copysign"), (1, "float", 2, True)),
    "xlogy": (2, "float", 2, True),
    "hypot": (3, "float", 2, True),        # sqrt(a² + b²)
    "logaddexp": (4, "float", 2, False),
    **dict.fromkeys((
        "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal", "less_equal",
        "not_equal", "logical_and", "logical_or", "logical_xor"), (1, "bool", 2, False)),
    # Elementwise backward ops: (grad, saved input or output) → grad input.
    "threshold_backward": (1, "self", 2, False),
    "sigmoid_backward": (3, "self", 2, False),     # g·y·(1-y)
    "tanh_backward": (3, "self", 2, False),        # g·(1-y²)
    "silu_backward": (7, "self", 2, False),        # g·s·(1 + x·(1-s)), s = sigmoid(x)
    "gelu_backward": (8, "self", 2, False),
    "hardswish_backward": (3, "self", 2, False),
    "leaky_relu_backward": (2, "self", 2, False),
}

TERNARY: dict[str, tuple[float, str, int, bool]] = {
    "where": (1, "same", 3, False),        # cond is bool and does not change the promotion
    "addcmul": (2, "same", 3, True),       # self + value·t1·t2 (value ≠ 1 adds one)
    "addcdiv": (2, "float", 3, True),
    "lerp": (3, "same", 3, True),          # self + w·(end - self)
    "masked_fill": (1, "self", 3, True),
}
# fmt: on


def elementwise_cost(
    ops: Operands,
    *,
    flops_per: float,
    rule: str,
    inputs: int,
    in_place: bool,
    label: str,
    extra_flops: float = 0,
) -> OpCost:
    positions = range(min(inputs, len(ops)))
    tensors = [ops.tensor(i) for i in positions if ops.is_tensor(i)]
    if not tensors:
        raise Malformed("no tensor operand")
    # A tensor past the op's inputs is an out= argument: written, not read.
    out_arg = next((ops.tensor(i, "out") for i in range(inputs, len(ops)) if ops.is_tensor(i)), None)
    dimensioned = [t for t in tensors if t.ndim > 0]
    read = dimensioned or tensors  # 0-dim operands are real work only when nothing else is
    scalars: list[str] = []  # Python scalars only raise the result's category (int · 0.5 → float)
    for i in positions:
        if not ops.is_tensor(i) and ops.type_tag(i) == "Scalar":
            kind = scalar_kind(ops.text(i))
            if kind:
                scalars.append(kind)
    computed = result_type([t.dtype for t in dimensioned], [t.dtype for t in tensors if t.ndim == 0], scalars)
    if in_place:
        self_t = ops.tensor(0, "self")
        out_shape, out_dtype = self_t.shape, self_t.dtype
        broadcast(self_t.shape, *(t.shape for t in read))  # the operands must fit into self
    else:
        out_shape = broadcast(*(t.shape for t in read))
        out_dtype = _out_dtype(rule, computed, tensors[0].dtype)
    if out_arg is not None:
        out_dtype = out_arg.dtype
    n = math.prod(out_shape)
    per = flops_per + extra_flops
    nbytes = sum(t.read_bytes for t in read) + n * out_dtype.itemsize
    main = computed if rule != "self" else tensors[0].dtype
    text = (
        f"{fmt(per)}·n ({label}, n={fmt(n)} output elements); bytes: "
        f"{len(read)} input{'s' if len(read) != 1 else ''} read + output written"
    )
    return make_cost(per * n, nbytes, main, Unit.VECTOR, text)


def _out_dtype(rule: str, computed: DType, first: DType) -> DType:
    if rule == "bool":
        return BOOL
    if rule == "self":
        return first
    if rule == "float" and not computed.is_floating:
        return F32
    return computed


def _register(table: dict[str, tuple[float, str, int, bool]]) -> None:
    for op, (flops_per, rule, inputs, has_inplace) in table.items():
        register_op(f"aten::{op}")(_formula(op, flops_per, rule, inputs, False))
        if has_inplace:
            register_op(f"aten::{op}_")(_formula(op, flops_per, rule, inputs, True))


def _formula(op: str, flops_per: float, rule: str, inputs: int, in_place: bool):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        extra = 0.0
        if op in ("add", "sub", "subtract", "rsub") and ops.text(2) not in (None, "1", "1."):
            extra = 1  # alpha ≠ 1 multiplies the other operand
        if op in ("addcmul", "addcdiv") and ops.text(3) not in (None, "1", "1."):
            extra = 1
        return elementwise_cost(
            ops,
            flops_per=flops_per,
            rule=rule,
            inputs=inputs,
            in_place=in_place,
            label=f"{op}{'_' if in_place else ''}",
            extra_flops=extra,
        )

    return formula


_register(UNARY)
_register(BINARY)
_register(TERNARY)


@register_op("aten::native_dropout")
def _native_dropout(call: OpCall) -> OpCost:
    # (input, p, train) → (output, bool mask): draw, compare, scale ≈ 2 FLOPs per element.
    ops = Operands(call)
    x = ops.tensor(0, "input")
    if ops.bool_(2, True) is False:
        return make_cost(0, x.read_bytes + x.nbytes, x.dtype, Unit.VECTOR, "eval-mode native_dropout: a copy")
    n = x.numel
    return make_cost(
        2 * n,
        x.read_bytes + x.nbytes + n * BOOL.itemsize,
        x.dtype,
        Unit.VECTOR,
        f"2·n (random draw compare, scale; n={fmt(n)}); bytes: input read, output and bool mask written",
    )


@register_op("aten::dropout", "aten::dropout_", "aten::feature_dropout")
def _dropout(call: OpCall) -> OpCost:
    # (input, p, train): composite; in eval mode (or p = 0) it returns its input untouched.
    ops = Operands(call)
    x = ops.tensor(0, "input")
    if ops.bool_(2) is False or ops.float_(1) == 0.0:
        return make_cost(
            0,
            0,
            x.dtype,
            Unit.VECTOR,
            "dropout in eval mode or p=0: returns its input (no kernel)",
            is_view=True,
        )
    n = x.numel
    return make_cost(
        2 * n,
        x.read_bytes + x.nbytes + n * BOOL.itemsize,
        x.dtype,
        Unit.VECTOR,
        f"2·n (n={fmt(n)}); composite: the kernel runs in its child native_dropout",
    )
