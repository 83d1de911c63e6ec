"""Declared kernels: a YAML list of kernels with FLOPs, bytes, precision and optional timings.

```yaml
schema_version: 1
kind: kernels
title: Where ML workloads fall
hardware: h100-sxm          # optional default for --hw
runtime: eager              # eager | graph: which launch floor applies
kernels:
  - name: gemm_4096
    op: matmul
    flops: 137.4e9          # total per call; also "137.4G"
    bytes: 100.7MB          # per call; decimal units, "MiB" for binary
    precision: fp16
    unit: matrix            # optional: matrix for GEMM-like ops, vector otherwise
    duration_us: 160        # optional measured time per call
    count: 1                # optional number of calls
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from roofline.analysis.classify import KernelWork, default_unit
from roofline.errors import InputError
from roofline.precision import Precision, Unit, parse_precision
from roofline.safetext import escape_controls
from roofline.sources.base import LoadedInput, register_reader
from roofline.units import parse_quantity
from roofline.yamlio import load_yaml, validate


class DeclaredKernel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    op: str | None = None
    flops: float = Field(ge=0, description="FLOPs per call")
    bytes: float = Field(ge=0, description="bytes moved to/from DRAM per call")
    precision: Precision
    unit: Unit | None = None
    duration_us: float | None = Field(default=None, gt=0, description="measured time per call")
    count: int = Field(default=1, ge=1)
    note: str | None = None

    @field_validator("flops", "bytes", mode="before")
    @classmethod
    def _quantity(cls, value: object) -> float:
        number = parse_quantity(value)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return number

    @field_validator("precision", mode="before")
    @classmethod
    def _precision(cls, value: object) -> Precision:
        return parse_precision(str(value))


class DeclaredWorkload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1]
    kind: Literal["kernels"] = "kernels"
    title: str | None = None
    description: str | None = None
    hardware: str | None = None
    runtime: Literal["eager", "graph"] = "eager"
    kernels: list[DeclaredKernel] = Field(min_length=1)


def _sniff(path: Path, head: bytes) -> bool:
    # Every YAML handed to classify is read as declared kernels, so that a typo'd top-level key
    # gets a schema error ("did you mean 'kernels'?") rather than "unrecognised format".
    return path.suffix.lower() in (".yaml", ".yml")


def to_kernel_work(kernel: DeclaredKernel, *, in_graph: bool) -> KernelWork:
    unit = kernel.unit or default_unit(kernel.op or kernel.name)
    return KernelWork(
        name=escape_controls(kernel.name),
        op=escape_controls(kernel.op) if kernel.op else kernel.op,
        count=kernel.count,
        flops=kernel.flops * kernel.count,
        bytes=kernel.bytes * kernel.count,
        precision=kernel.precision,
        unit=unit,
        measured_s=kernel.duration_us * 1e-6 * kernel.count if kernel.duration_us else None,
        source="declared",
        in_graph=in_graph,
    )


@register_reader("declared", description="declared-kernel YAML (kind: kernels)", sniff=_sniff)
def read_declared(path: Path) -> LoadedInput:
    data, node = load_yaml(path, what="declared-kernel workload")
    if not isinstance(data, dict):
        raise InputError("expected a mapping with 'kernels:'", file=path, fix="see docs/declared-kernels.md")
    workload = validate(DeclaredWorkload, data, path=path, node=node, what="declared-kernel workload")
    names = [k.name for k in workload.kernels]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(
            f"kernel name '{duplicates[0]}' appears more than once",
            file=path,
            place="kernels",
            fix="give each kernel a unique name (use count: for repeated calls)",
        )
    in_graph = workload.runtime == "graph"
    return LoadedInput(
        path=path,
        format="declared",
        kernels=[to_kernel_work(k, in_graph=in_graph) for k in workload.kernels],
        device_name=workload.hardware,
        title=escape_controls(workload.title) if workload.title else None,
        in_graph=in_graph,
    )
