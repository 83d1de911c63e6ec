"""The op-cost registry: what the trace says about a call (:class:`OpCall`), what it cost
(:class:`OpCost`) or why that cannot be told (:class:`NoCost`), and the dispatch between them.

Modelled on ``torch.utils.flop_counter.register_flop_formula``, but fed by profiler records
(shapes and dtype strings) rather than live tensors, and returning bytes as well as FLOPs.
Formulas are pure functions of the call; anything odd in a trace becomes a NoCost with a
reason, never an exception, because one malformed event must not sink a whole report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from roofline.precision import Precision, Unit

_MAX_NEST = 4  # Input Dims nests at most twice (a TensorList); deeper input is garbage
INT64_MAX = 2**63 - 1


def _tupled(value: object, depth: int = 0) -> object:
    """Lists → tuples, recursively, so that calls built from JSON are hashable and immutable."""
    if isinstance(value, (list, tuple)) and depth < _MAX_NEST:
        return tuple(_tupled(v, depth + 1) for v in value)
    return value


@dataclass(frozen=True)
class OpCall:
    """What the trace says about one op invocation (a kineto ``cpu_op`` event).

    ``input_dims`` holds one entry per argument: a shape for a tensor, ``()`` for a scalar or
    None, a tuple of shapes for a TensorList. ``input_dims=None`` means the trace has no
    "Input Dims" at all (``record_shapes`` was off). Lists are accepted and stored as tuples.
    """

    name: str
    input_dims: tuple | None
    input_types: tuple | None = None
    input_strides: tuple | None = None
    concrete_inputs: tuple | None = None
    args: Mapping[str, object] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for attr in ("input_dims", "input_types", "input_strides", "concrete_inputs"):
            object.__setattr__(self, attr, _tupled(getattr(self, attr)))

    @classmethod
    def from_event(cls, event: Mapping[str, object]) -> OpCall:
        """Build a call from a chrome-trace event dict; never raises (a malformed event yields
        a call that :func:`op_cost` answers with a NoCost)."""
        raw_args = event.get("args") if isinstance(event, Mapping) else None
        args: Mapping[str, object] = raw_args if isinstance(raw_args, Mapping) else {}
        name = event.get("name") if isinstance(event, Mapping) else None
        return cls(
            name=name if isinstance(name, str) else "",
            input_dims=args.get("Input Dims"),  # type: ignore[arg-type]
            input_types=args.get("Input type"),  # type: ignore[arg-type]
            input_strides=args.get("Input Strides"),  # type: ignore[arg-type]
            concrete_inputs=args.get("Concrete Inputs"),  # type: ignore[arg-type]
            args=args,
        )


@dataclass(frozen=True)
class OpCost:
    """FLOPs and minimum DRAM bytes of one call.

    ``flops`` are useful (model) FLOPs; ``bytes`` the traffic of an unfused implementation —
    each input read once, each output written once. ``formula`` says how, with the numbers.
    ``is_view`` marks ops that move no data and launch no kernel (views, allocations, no-op
    casts): their FLOPs and bytes are 0 and they should not be classified on a roofline.
    ``dtype`` is torch's name for the main input's element type (``bfloat16``, ``int64``).
    """

    flops: float
    bytes: float
    precision: Precision
    unit: Unit
    formula: str
    dtype: str = ""
    is_view: bool = False


@dataclass(frozen=True)
class NoCost:
    """Why no cost can be given for a call."""

    reason: str


Result = OpCost | NoCost  # needs Python ≥ 3.10, as the package does
Formula = Callable[[OpCall], Result]


class Malformed(ValueError):
    """Raised inside formulas for input they cannot cost; :func:`op_cost` turns it into NoCost."""


def check_shape(value: object, what: str) -> tuple[int, ...]:
    """A tensor's sizes: a tuple of non-negative int64s whose product fits int64."""
    if not isinstance(value, tuple):
        raise Malformed(f"{what}: expected a list of sizes, got {value!r:.60}")
    for d in value:
        # bool is an int subclass; a size of True is garbage, not 1.
        if not isinstance(d, int) or isinstance(d, bool):
            raise Malformed(f"{what}: size {d!r:.30} is not an integer")
        if d < 0 or d > INT64_MAX:
            raise Malformed(f"{what}: size {d} is out of range")
    if math.prod(value) > INT64_MAX:
        raise Malformed(f"{what}: {list(value)} has more elements than int64 can count")
    return value


@dataclass(frozen=True)
class _Entry:
    formula: Formula
    needs_shapes: bool


_REGISTRY: dict[str, _Entry] = {}
_PREFIXES: dict[str, _Entry] = {}


def register_op(*names: str, needs_shapes: bool = True, prefix: bool = False) -> Callable[[Formula], Formula]:
    """Register ``formula`` for ops named exactly ``names`` (``"aten::mm"``), or for every op
    whose name starts with one of them when ``prefix=True`` (``"triton_poi_"``).

    ``needs_shapes=False`` lets the formula run on a call without Input Dims (views: their
    cost is zero whatever the shapes). Registering a name twice raises ValueError.
    """
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("register_op needs one or more non-empty op names")
    table = _PREFIXES if prefix else _REGISTRY
    dupes = sorted({n for n in names if n in table or names.count(n) > 1})
    if dupes:
        raise ValueError(f"cost formula already registered for {', '.join(dupes)}")

    def decorate(formula: Formula) -> Formula:
        again = sorted(n for n in names if n in table)
        if again:
            raise ValueError(f"cost formula already registered for {', '.join(again)}")
        for n in names:
            table[n] = _Entry(formula, needs_shapes)
        return formula

    return decorate


def unregister_op(name: str) -> bool:
    """Remove a formula (exact name, or a prefix written with a trailing ``*``); True if found."""
    if name.endswith("*"):
        return _PREFIXES.pop(name[:-1], None) is not None
    return _REGISTRY.pop(name, None) is not None


def registered_ops() -> list[str]:
    """Every op name with a formula; prefix registrations end in ``*`` (``triton_poi_*``)."""
    return sorted(_REGISTRY) + sorted(p + "*" for p in _PREFIXES)


def formula_for(name: str) -> Formula | None:
    entry = _lookup(name)
    return entry.formula if entry else None


def _lookup(name: str) -> _Entry | None:
    if name in _REGISTRY:
        return _REGISTRY[name]
    ns, sep, op = name.rpartition("::")
    if sep and "." in op:  # an overload name, "aten::add.Tensor"
        base = f"{ns}::{op.split('.', 1)[0]}"
        if base in _REGISTRY:
            return _REGISTRY[base]
    if not sep:  # a bare name, "mm" or "mm.default"
        for candidate in (f"aten::{name}", f"aten::{name.split('.', 1)[0]}"):
            if candidate in _REGISTRY:
                return _REGISTRY[candidate]
    for prefix in sorted(_PREFIXES, key=len, reverse=True):
        if name.startswith(prefix):
            return _PREFIXES[prefix]
    return None


def op_cost(call: OpCall) -> Result:
    """The cost of one call, or a NoCost saying why not. Never raises."""
    if not isinstance(call, OpCall):
        return NoCost(f"not an OpCall: {type(call).__name__}")
    name = call.name
    if not isinstance(name, str) or not name:
        return NoCost("the op has no name")
    entry = _lookup(name)
    if entry is None:
        args = call.args if isinstance(call.args, Mapping) else {}
        if args.get("kernel_backend") == "triton":
            return NoCost(
                f"no formula for the Triton kernel {name} (only Inductor's "
                "triton_poi/red/per/tem/for kernels are parsed)"
            )
        if name in ("record_param_comms", "nccl:all_reduce") or name.startswith(("c10d::", "nccl:")):
            return NoCost(f"a collective ({name}): bound by the interconnect, not by a roofline; see the "
                          "exposed-communication figures")
        return NoCost(f"no formula for {name}")
    # Views need no shapes; but shapes that are there must be sound, for every formula alike.
    if entry.needs_shapes or call.input_dims is not None:
        problem = _shape_problem(call)
        if problem:
            return NoCost(f"{name}: {problem}")
    try:
        result = entry.formula(call)
    except Malformed as exc:
        return NoCost(f"{name}: {exc}")
    except RecursionError:
        return NoCost(f"{name}: input nested too deeply")
    except Exception as exc:  # noqa: BLE001 - a formula bug must not sink a report
        return NoCost(f"internal error in the formula for {name}: {type(exc).__name__}: {exc}")
    return _checked(name, result)


def _shape_problem(call: OpCall) -> str | None:
    dims, types = call.input_dims, call.input_types
    # An empty list with no types is what a reader that defaults missing args to [] passes.
    if dims is None or (dims == () and not types):
        return "no Input Dims: profile with record_shapes=True"
    if not isinstance(dims, tuple):
        return f"Input Dims is not a list ({type(dims).__name__})"
    if types is None:
        return "no Input type: the tensors' dtypes are unknown"
    if not isinstance(types, tuple):
        return f"Input type is not a list ({type(types).__name__})"
    if len(types) != len(dims):
        return f"Input Dims has {len(dims)} entries but Input type has {len(types)}"
    for label, other in (("Concrete Inputs", call.concrete_inputs), ("Input Strides", call.input_strides)):
        if other is None:
            continue
        if not isinstance(other, tuple):
            return f"{label} is not a list ({type(other).__name__})"
        if len(other) != len(dims):
            return f"Input Dims has {len(dims)} entries but {label} has {len(other)}"
    from roofline.opcost.dtypes import parse_dtype  # dtypes imports nothing from here

    for i, (shape, tag) in enumerate(zip(dims, types)):
        if parse_dtype(tag) is None:
            continue
        # a list of shapes under a dtype is a TensorList whose element dtype the caller supplied
        nested = isinstance(shape, tuple) and bool(shape) and all(isinstance(s, tuple) for s in shape)
        try:
            for j, one in enumerate(shape if nested else (shape,)):
                check_shape(one, f"input {i}[{j}]" if nested else f"input {i}")
        except Malformed as exc:
            return str(exc)
    return None


def _checked(name: str, result: object) -> Result:
    if isinstance(result, NoCost):
        return result
    if not isinstance(result, OpCost):
        return NoCost(f"internal error in the formula for {name}: returned {type(result).__name__}")
    for label, value in (("FLOPs", result.flops), ("bytes", result.bytes)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return NoCost(f"{name}: {label} came out as {value!r}")
    return result
