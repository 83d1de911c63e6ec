"""Numeric precisions and compute units, and how names in traces and configs map to them."""

from __future__ import annotations

from enum import Enum


class Precision(str, Enum):
    FP64 = "fp64"
    FP32 = "fp32"
    TF32 = "tf32"
    FP16 = "fp16"
    BF16 = "bf16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"
    FP6 = "fp6"
    FP4 = "fp4"

    def __str__(self) -> str:
        return self.value


class Unit(str, Enum):
    """Matrix (tensor cores / MFMA) or vector (CUDA cores / SIMD) execution."""

    MATRIX = "matrix"
    VECTOR = "vector"

    def __str__(self) -> str:
        return self.value


# Bytes one element occupies in memory (int4/fp4 pack two per byte).
BYTES_PER_ELEMENT: dict[Precision, float] = {
    Precision.FP64: 8,
    Precision.FP32: 4,
    Precision.TF32: 4,  # stored as fp32
    Precision.FP16: 2,
    Precision.BF16: 2,
    Precision.FP8: 1,
    Precision.INT8: 1,
    Precision.INT4: 0.5,
    Precision.FP6: 0.75,  # four elements in three bytes (OCP MXFP6)
    Precision.FP4: 0.5,
}

_ALIASES: dict[str, Precision] = {
    "fp64": Precision.FP64, "float64": Precision.FP64, "double": Precision.FP64, "f64": Precision.FP64,
    "fp32": Precision.FP32, "float32": Precision.FP32, "float": Precision.FP32, "f32": Precision.FP32,
    "tf32": Precision.TF32,
    "fp16": Precision.FP16, "float16": Precision.FP16, "half": Precision.FP16, "f16": Precision.FP16,
    "c10::half": Precision.FP16,
    "bf16": Precision.BF16, "bfloat16": Precision.BF16, "c10::bfloat16": Precision.BF16,
    "fp8": Precision.FP8, "e4m3": Precision.FP8, "e5m2": Precision.FP8, "fp8_e4m3": Precision.FP8,
    "fp8_e5m2": Precision.FP8, "float8_e4m3fn": Precision.FP8, "float8_e5m2": Precision.FP8,
    "float8_e4m3fnuz": Precision.FP8, "float8_e5m2fnuz": Precision.FP8,
    "c10::float8_e4m3fn": Precision.FP8, "c10::float8_e5m2": Precision.FP8,
    "c10::float8_e4m3fnuz": Precision.FP8, "c10::float8_e5m2fnuz": Precision.FP8,
    "int8": Precision.INT8, "i8": Precision.INT8, "signed char": Precision.INT8, "char": Precision.INT8,
    "int4": Precision.INT4, "i4": Precision.INT4,
    "fp6": Precision.FP6, "e2m3": Precision.FP6, "e3m2": Precision.FP6, "mxfp6": Precision.FP6,
    "fp4": Precision.FP4, "e2m1": Precision.FP4, "nvfp4": Precision.FP4, "mxfp4": Precision.FP4,
}


def parse_precision(name: str) -> Precision:
    """Map ``bfloat16``, ``c10::BFloat16``, ``e4m3`` … to a :class:`Precision`.

    Raises ValueError naming the accepted spellings.
    """
    key = str(name).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    accepted = ", ".join(p.value for p in Precision)
    raise ValueError(f"unknown precision {name!r} (use one of: {accepted})")


def precision_or_none(name: str | None) -> Precision | None:
    if not name:
        return None
    try:
        return parse_precision(name)
    except ValueError:
        return None
