"""Element types as the PyTorch profiler spells them, their sizes, and the roof each is judged on.

Kineto writes a tensor's dtype as c10's demangled C++ type name (``float``, ``c10::BFloat16``,
``long int``, ``c10::Float8_e4m3fn``, ``c10::complex<float>`` …), and ScalarType arguments
(``dtype=`` of ``_to_copy``, ``empty``, ``softmax``) as the enum's integer in "Concrete Inputs".
:mod:`roofline.precision` knows the floating-point names; this module adds the integer, bool,
complex and quantized spellings that only matter for byte counts, without touching it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from roofline.precision import BYTES_PER_ELEMENT, Precision, parse_precision


@dataclass(frozen=True)
class DType:
    """One element type: ``name`` is torch's (``bfloat16``, ``int64``), ``itemsize`` bytes per
    element as stored, ``kind`` one of float/int/bool/complex, ``precision`` the roof it uses."""

    name: str
    itemsize: float
    kind: str
    precision: Precision

    @property
    def is_floating(self) -> bool:
        return self.kind in ("float", "complex")


# Integer and bool data has no roof of its own in the hardware registry; vector work in a type
# without a vector peak is judged on the fp32 vector roof anyway (classify's fallback), so the
# wide integer types say fp32 explicitly. 8-bit integers keep int8 (int8 GEMMs have a matrix roof).
F64 = DType("float64", 8, "float", Precision.FP64)
F32 = DType("float32", 4, "float", Precision.FP32)
F16 = DType("float16", 2, "float", Precision.FP16)
BF16 = DType("bfloat16", 2, "float", Precision.BF16)
F8E4M3FN = DType("float8_e4m3fn", 1, "float", Precision.FP8)
F8E5M2 = DType("float8_e5m2", 1, "float", Precision.FP8)
F8E4M3FNUZ = DType("float8_e4m3fnuz", 1, "float", Precision.FP8)
F8E5M2FNUZ = DType("float8_e5m2fnuz", 1, "float", Precision.FP8)
F8E8M0 = DType("float8_e8m0fnu", 1, "float", Precision.FP8)
# Two fp4 values packed in one byte; shapes count the packed pairs, so one "element" is one byte.
FP4X2 = DType("float4_e2m1fn_x2", 1, "float", Precision.FP4)
C32 = DType("complex32", 4, "complex", Precision.FP16)
C64 = DType("complex64", 8, "complex", Precision.FP32)
C128 = DType("complex128", 16, "complex", Precision.FP64)
BOOL = DType("bool", 1, "bool", Precision.FP32)
U8 = DType("uint8", 1, "int", Precision.INT8)
I8 = DType("int8", 1, "int", Precision.INT8)
I16 = DType("int16", 2, "int", Precision.FP32)
I32 = DType("int32", 4, "int", Precision.FP32)
I64 = DType("int64", 8, "int", Precision.FP32)
U16 = DType("uint16", 2, "int", Precision.FP32)
U32 = DType("uint32", 4, "int", Precision.FP32)
U64 = DType("uint64", 8, "int", Precision.FP32)
QI8 = DType("qint8", 1, "int", Precision.INT8)
QU8 = DType("quint8", 1, "int", Precision.INT8)
QI32 = DType("qint32", 4, "int", Precision.FP32)
QU4X2 = DType("quint4x2", 1, "int", Precision.INT4)
QU2X4 = DType("quint2x4", 1, "int", Precision.INT4)

_SPELLINGS: dict[str, DType] = {}
for _dtype, _names in (
    (F64, ("double", "float64", "torch.float64")),
    (F32, ("float", "float32", "torch.float32")),
    (F16, ("c10::half", "half", "float16", "torch.float16")),
    (BF16, ("c10::bfloat16", "bfloat16", "torch.bfloat16")),
    (F8E4M3FN, ("c10::float8_e4m3fn", "float8_e4m3fn", "torch.float8_e4m3fn")),
    (F8E5M2, ("c10::float8_e5m2", "float8_e5m2", "torch.float8_e5m2")),
    (F8E4M3FNUZ, ("c10::float8_e4m3fnuz", "float8_e4m3fnuz")),
    (F8E5M2FNUZ, ("c10::float8_e5m2fnuz", "float8_e5m2fnuz")),
    (F8E8M0, ("c10::float8_e8m0fnu", "float8_e8m0fnu")),
    (FP4X2, ("c10::float4_e2m1fn_x2", "float4_e2m1fn_x2")),
    (C32, ("c10::complex<c10::half>", "complex32", "chalf")),
    (C64, ("c10::complex<float>", "complex64", "cfloat")),
    (C128, ("c10::complex<double>", "complex128", "cdouble")),
    (BOOL, ("bool", "torch.bool")),
    (U8, ("unsigned char", "uint8", "torch.uint8")),
    (I8, ("signed char", "int8", "torch.int8")),
    # c10 demangles with the compiler's spelling: GCC writes "short int", "long int",
    # "short unsigned int", "long unsigned int"; clang/MSVC write the shorter forms.
    (I16, ("short int", "short", "int16", "torch.int16")),
    (I32, ("int", "int32", "torch.int32")),
    (I64, ("long int", "long", "long long int", "long long", "int64", "torch.int64", "__int64")),
    (U16, ("short unsigned int", "unsigned short", "unsigned short int", "uint16")),
    (U32, ("unsigned int", "uint32")),
    (
        U64,
        (
            "long unsigned int",
            "unsigned long",
            "unsigned long int",
            "long long unsigned int",
            "unsigned long long",
            "uint64",
        ),
    ),
    (QI8, ("c10::qint8", "qint8")),
    (QU8, ("c10::quint8", "quint8")),
    (QI32, ("c10::qint32", "qint32")),
    (QU4X2, ("c10::quint4x2", "quint4x2")),
    (QU2X4, ("c10::quint2x4", "quint2x4")),
):
    for _name in _names:
        _SPELLINGS[_name] = _dtype

# c10::ScalarType enum values, as they appear for dtype= arguments in "Concrete Inputs".
SCALAR_TYPE_CODES: dict[int, DType] = {
    0: U8,
    1: I8,
    2: I16,
    3: I32,
    4: I64,
    5: F16,
    6: F32,
    7: F64,
    8: C32,
    9: C64,
    10: C128,
    11: BOOL,
    12: QI8,
    13: QU8,
    14: QI32,
    15: BF16,
    16: QU4X2,
    17: QU2X4,
    23: F8E5M2,
    24: F8E4M3FN,
    25: F8E5M2FNUZ,
    26: F8E4M3FNUZ,
    27: U16,
    28: U32,
    29: U64,
    44: F8E8M0,
    45: FP4X2,
}

# "Input type" values that are not tensors: IValue tags for scalars and lists, "" for None
# and anything the profiler does not capture (strings, devices, optional-tensor lists).
NON_TENSOR_TAGS = frozenset(
    {
        "",
        "scalar",
        "scalarlist",
        "tensorlist",
        "genericlist",
        "intlist",
        "doublelist",
        "boollist",
        "string",
        "device",
        "none",
        "list",
        "tuple",
        "other",
        "object",
    }
)


def parse_dtype(name: object) -> DType | None:
    """The :class:`DType` for a kineto type string, or None when it names no tensor dtype."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    if key in NON_TENSOR_TAGS:
        return None
    found = _SPELLINGS.get(key)
    if found is not None:
        return found
    try:
        precision = parse_precision(key)
    except ValueError:
        return None
    kind = "int" if precision in (Precision.INT8, Precision.INT4) else "float"
    return DType(precision.value, BYTES_PER_ELEMENT[precision], kind, precision)


def dtype_from_code(code: int) -> DType | None:
    return SCALAR_TYPE_CODES.get(code)


def opaque_dtype(itemsize: int) -> DType | None:
    """An element type known only by its size (a TensorList whose dtype the profiler did not
    record). The precision is a placeholder of that width: such ops (cat, stack) do no FLOPs,
    so no compute roof is ever reached."""
    placeholder = {
        1: Precision.INT8,
        2: Precision.BF16,
        4: Precision.FP32,
        8: Precision.FP64,
        16: Precision.FP64,
    }
    if itemsize not in placeholder:
        return None
    return DType(f"{itemsize}-byte", itemsize, "float", placeholder[itemsize])


_OPAQUE_RE = re.compile(r"OpaqueType<(\d+)u?>")


def itemsize_from_kernel_name(kernel_name: str) -> int | None:
    """Element size from a type-erased ATen copy kernel's name, e.g.
    ``CatArrayBatchedCopy<at::native::…::OpaqueType<2u>, …>`` → 2; None when absent."""
    m = _OPAQUE_RE.search(kernel_name) if isinstance(kernel_name, str) else None
    return int(m.group(1)) if m else None


_KIND_RANK = {"bool": 0, "int": 1, "float": 2, "complex": 3}


def promote(a: DType, b: DType) -> DType:
    """torch.promote_types for two tensors of the same priority (simplified but exact for the
    common pairs: bf16+fp16 → fp32, int+float → the float, u8+i8 → i16)."""
    if a == b:
        return a
    ra, rb = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if ra != rb:
        high, low = (a, b) if ra > rb else (b, a)
        if high.kind == "complex" and low.kind == "float" and low.itemsize * 2 > high.itemsize:
            return C128 if low.itemsize >= 8 else C64
        return high
    if a.kind == "float":
        if {a.name, b.name} == {"float16", "bfloat16"} or min(a.itemsize, b.itemsize) == 1:
            return F32 if max(a.itemsize, b.itemsize) <= 4 else F64
        return a if a.itemsize >= b.itemsize else b
    if a.kind == "int" and {a.name, b.name} == {"uint8", "int8"}:
        return I16
    return a if a.itemsize >= b.itemsize else b


_INT_RE = re.compile(r"[+-]?\d+")


def scalar_kind(text: str | None) -> str | None:
    """The category of a Python scalar from its "Concrete Inputs" text: ``1`` int, ``0.5`` /
    ``1.`` / ``-inf`` float, ``True`` bool; None when it cannot be told."""
    if not text:
        return None
    if text in ("True", "False"):
        return "bool"
    if _INT_RE.fullmatch(text):
        return "int"
    try:
        float(text)
    except ValueError:
        return "complex" if text.startswith("(") and "j" in text else None
    return "float"


def result_type(dims: list[DType], zero_dims: list[DType], scalar_kinds: list[str]) -> DType:
    """torch.result_type: dimensioned tensors decide; 0-dim tensors and Python scalars only
    raise the category (an int tensor times 0.5 is fp32, a bf16 tensor times 0.5 stays bf16)."""
    groups = [g for g in (dims, zero_dims) if g]
    if not groups:
        raise ValueError("no tensor operand")
    result = groups[0][0]
    for d in groups[0][1:]:
        result = promote(result, d)
    for d in groups[1] if len(groups) > 1 else []:
        if _KIND_RANK[d.kind] > _KIND_RANK[result.kind]:
            result = d if d.kind != "float" or result.kind != "int" else F32
    for kind in scalar_kinds:
        if _KIND_RANK.get(kind, -1) > _KIND_RANK[result.kind]:
            result = {"int": I64, "float": F32, "complex": C64}.get(kind, result)
    return result
