"""Typed, validated access to an :class:`OpCall`'s arguments, and the helpers formulas share.

Every accessor raises :class:`Malformed` on input it cannot use (a string where a shape
belongs, a negative size, a None where a tensor is required); formulas never see raw JSON.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from roofline.opcost.core import INT64_MAX, Malformed, OpCall, OpCost, check_shape
from roofline.opcost.dtypes import NON_TENSOR_TAGS, DType, dtype_from_code, opaque_dtype, parse_dtype
from roofline.precision import Unit

_INT_RE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    dtype: DType
    strides: tuple[int, ...] | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> float:
        return self.numel * self.dtype.itemsize

    @property
    def read_bytes(self) -> float:
        """Bytes a single pass reads: an expanded (stride-0) dimension is stored once, so a
        broadcast view costs only what backs it — the minimum DRAM traffic."""
        if self.strides is None or self.numel == 0:
            return self.nbytes
        stored = math.prod(s for s, st in zip(self.shape, self.strides) if st != 0)
        return stored * self.dtype.itemsize


class Operands:
    """The arguments of one call. Positions follow the ATen schema of the op."""

    def __init__(self, call: OpCall) -> None:
        self.name = call.name
        self.dims: tuple = call.input_dims if isinstance(call.input_dims, tuple) else ()
        types = call.input_types if isinstance(call.input_types, tuple) else ()
        self.types: tuple = types + ("",) * (len(self.dims) - len(types))
        self.strides = call.input_strides if isinstance(call.input_strides, tuple) else None
        self.concrete = call.concrete_inputs if isinstance(call.concrete_inputs, tuple) else None
        self.args: Mapping[str, object] = call.args if isinstance(call.args, Mapping) else {}

    def __len__(self) -> int:
        return len(self.dims)

    def type_tag(self, i: int) -> str:
        if i >= len(self.types):
            return ""
        t = self.types[i]
        if not isinstance(t, str):
            raise Malformed(f"Input type[{i}] is not a string: {t!r:.40}")
        return t

    def is_tensor(self, i: int) -> bool:
        return i < len(self) and parse_dtype(self.type_tag(i)) is not None

    def tensor(self, i: int, what: str = "") -> Tensor:
        label = what or f"input {i}"
        if i >= len(self):
            raise Malformed(f"{label}: expected at least {i + 1} inputs, got {len(self)}")
        tag = self.type_tag(i)
        dtype = parse_dtype(tag)
        if dtype is None:
            if tag.strip().lower() in NON_TENSOR_TAGS:
                raise Malformed(f"{label} is {tag or 'None'}, expected a tensor")
            raise Malformed(f"{label} has an unknown dtype {tag!r:.40}")
        shape = check_shape(self.dims[i], label)
        return Tensor(shape, dtype, self._strides(i, len(shape)))

    def opt_tensor(self, i: int, what: str = "") -> Tensor | None:
        """The tensor at ``i``, or None where the argument is absent or None."""
        if i >= len(self) or not self.is_tensor(i):
            return None
        return self.tensor(i, what)

    def tensors(self) -> list[Tensor]:
        return [self.tensor(i) for i in range(len(self)) if self.is_tensor(i)]

    def tensor_list(self, i: int, what: str = "tensors") -> list[Tensor]:
        """A TensorList argument. Kineto records each tensor's shape but only the word
        "TensorList" for their dtypes. A caller that knows better can say so: put the dtype in
        Input type in place of "TensorList", or set ``args["tensorlist_dtype"]`` (a dtype
        spelling) or ``args["tensorlist_itemsize"]`` (bytes, e.g. from
        :func:`~roofline.opcost.dtypes.itemsize_from_kernel_name` on the op's kernel)."""
        if i >= len(self):
            raise Malformed(f"{what}: expected at least {i + 1} inputs, got {len(self)}")
        shapes = self.dims[i]
        if not isinstance(shapes, tuple) or not shapes or not all(isinstance(s, tuple) for s in shapes):
            raise Malformed(
                f"{what}: the TensorList shapes were not recorded (kineto omits lists longer than 30)"
            )
        checked = [check_shape(s, f"{what}[{j}]") for j, s in enumerate(shapes)]
        dtype = parse_dtype(self.type_tag(i)) or self._list_dtype_hint()
        if dtype is None:
            raise Malformed(
                f"{what}: kineto records no dtype for TensorList elements "
                f"({len(checked)} tensors, {sum(math.prod(s) for s in checked)} elements); "
                "pass args['tensorlist_itemsize'] from the kernel name to cost it"
            )
        return [Tensor(s, dtype) for s in checked]

    def _list_dtype_hint(self) -> DType | None:
        found = parse_dtype(self.args.get("tensorlist_dtype"))
        if found is not None:
            return found
        size = self.args.get("tensorlist_itemsize")
        if isinstance(size, int) and not isinstance(size, bool):
            return opaque_dtype(size)
        return None

    def _strides(self, i: int, ndim: int) -> tuple[int, ...] | None:
        if self.strides is None or i >= len(self.strides):
            return None
        st = self.strides[i]
        if (
            isinstance(st, tuple)
            and len(st) == ndim
            and all(isinstance(s, int) and not isinstance(s, bool) for s in st)
        ):
            return st
        return None  # strides only refine byte counts; unusable ones are ignored

    # ---- Concrete Inputs ------------------------------------------------------------------
    def text(self, i: int) -> str | None:
        """The recorded value of a scalar argument as text, None when absent or None."""
        if self.concrete is None or i >= len(self.concrete):
            return None
        value = self.concrete[i]
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise Malformed(f"Concrete Inputs[{i}] is not a string: {value!r:.40}")
        return value.strip()

    def int_(self, i: int, default: int | None = None) -> int | None:
        s = self.text(i)
        if s is None:
            return default
        return _parse_int(s, f"argument {i}")

    def ints(self, i: int, default: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
        """An int[] argument (``[2, 2]``); a bare int (``2``) is read as a one-element list."""
        s = self.text(i)
        if s is None:
            return default
        if s.startswith("[") and s.endswith("]"):
            body = s[1:-1].strip()
            return tuple(_parse_int(p.strip(), f"argument {i}") for p in body.split(",")) if body else ()
        return (_parse_int(s, f"argument {i}"),)

    def bool_(self, i: int, default: bool | None = None) -> bool | None:
        s = self.text(i)
        if s is None:
            return default
        if s in ("True", "true", "1"):
            return True
        if s in ("False", "false", "0"):
            return False
        raise Malformed(f"argument {i}: expected a bool, got {s!r:.30}")

    def float_(self, i: int, default: float | None = None) -> float | None:
        s = self.text(i)
        if s is None:
            return default
        try:
            return float(s)
        except ValueError:
            raise Malformed(f"argument {i}: expected a number, got {s!r:.30}") from None

    def dtype_arg(self, i: int) -> DType | None:
        """A ``ScalarType? dtype`` argument, recorded as the enum's integer."""
        code = self.int_(i)
        if code is None:
            return None
        found = dtype_from_code(code)
        if found is None:
            raise Malformed(f"argument {i}: unknown ScalarType code {code}")
        return found


def _parse_int(s: str, what: str) -> int:
    if not _INT_RE.fullmatch(s):
        raise Malformed(f"{what}: expected an integer, got {s!r:.30}")
    value = int(s)
    if abs(value) > INT64_MAX:
        raise Malformed(f"{what}: {value} is out of int64 range")
    return value


def broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """numpy/torch broadcasting of shapes; Malformed when they do not broadcast."""
    ndim = max((len(s) for s in shapes), default=0)
    out: list[int] = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in shapes if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            raise Malformed(f"shapes {', '.join(str(list(s)) for s in shapes)} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def norm_dims(dims: tuple[int, ...], ndim: int) -> tuple[int, ...]:
    """Wrap negative dims; Malformed on out-of-range or repeated dims."""
    rank = max(ndim, 1)  # a 0-d tensor accepts dim 0 / -1
    out = []
    for d in dims:
        if not -rank <= d < rank:
            raise Malformed(f"dim {d} is out of range for a {ndim}-d tensor")
        out.append(d % rank)
    if len(set(out)) != len(out):
        raise Malformed(f"dims {list(dims)} repeat")
    return tuple(out)


def need_ndim(t: Tensor, *allowed: int, what: str = "input") -> None:
    if t.ndim not in allowed:
        want = " or ".join(str(a) for a in allowed)
        raise Malformed(f"{what} is {t.ndim}-d {list(t.shape)}, expected {want}-d")


def make_cost(
    flops: float, nbytes: float, dtype: DType, unit: Unit, formula: str, *, is_view: bool = False
) -> OpCost:
    try:
        f, b = float(flops), float(nbytes)
    except OverflowError:
        raise Malformed("sizes too large to count") from None
    if not (math.isfinite(f) and math.isfinite(b)):
        raise Malformed("sizes too large to count")
    return OpCost(
        flops=f,
        bytes=b,
        precision=dtype.precision,
        unit=unit,
        formula=formula,
        dtype=dtype.name,
        is_view=is_view,
    )


def fmt(n: float) -> str:
    """Compact number for formulas: 8192, 1.5, 2^28 stays 268435456 (exact, greppable)."""
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    return f"{n}" if isinstance(n, int) else f"{n:.4g}"
