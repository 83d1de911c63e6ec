"""Typed hardware specs (the YAML schema of ``hwspecs/*.yaml``) and the roofs derived from them.

YAML carries human units in its key names (``peak_tflops``, ``bandwidth_tb_s``, ``capacity_gb``);
:class:`Roofs` is the SI view the analysis core computes with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from roofline.precision import Precision, Unit, parse_precision

SCHEMA_VERSION = 1

RoofOrigin = Literal["datasheet", "measured", "user"]
# Every figure of a spec is in human units (TFLOP/s, TB/s, GB, µs, MHz, W) where real devices are
# below 1e5; a larger one is a typo or damage, and 1.8e308 TFLOP/s became an infinite roof (the
# fuzzers found it). Values up to this pass; beyond it the file is refused, naming the key.
PLAUSIBLE = 1e6
# Memory in bytes: no device has a petabyte.
PLAUSIBLE_BYTES = 10**15


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _precision_table(value: object) -> dict[Precision, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("expected a mapping of precision to TFLOP/s, e.g. {bf16: 989.4}")
    table: dict[Precision, float] = {}
    for key, number in value.items():
        precision = parse_precision(str(key))
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"{key}: expected a number of TFLOP/s, got {number!r}")
        if not 0 < number <= PLAUSIBLE:
            raise ValueError(f"{key}: a peak must be positive and at most {PLAUSIBLE:g} TFLOP/s, got {number}")
        table[precision] = float(number)
    return table


class PeakTable(_Strict):
    """Peak throughput in TFLOP/s (TOPS for integer types) per precision, split by unit."""

    matrix: dict[Precision, float] = Field(default_factory=dict)
    vector: dict[Precision, float] = Field(default_factory=dict)

    @field_validator("matrix", "vector", mode="before")
    @classmethod
    def _read_table(cls, value: object) -> dict[Precision, float]:
        return _precision_table(value)

    def get(self, unit: Unit, precision: Precision) -> float | None:
        table = self.matrix if unit is Unit.MATRIX else self.vector
        return table.get(precision)


class MemorySpec(_Strict):
    """``capacity_gb`` is the datasheet figure, for display ("80 GB" on a part that has 80 GiB);
    ``capacity_bytes`` is what the device reports to CUDA/HIP (``totalGlobalMem``, torch's
    ``total_memory``), the figure memory feasibility and max batch use.
    """

    type: str | None = None
    capacity_gb: float = Field(gt=0, le=PLAUSIBLE, description="datasheet HBM/GDDR capacity, as printed")
    capacity_bytes: int | None = Field(default=None, gt=0, le=PLAUSIBLE_BYTES,
                                       description="total memory as CUDA/HIP report it, in bytes")
    bandwidth_tb_s: float = Field(gt=0, le=PLAUSIBLE, description="peak DRAM bandwidth, 1 TB/s = 1e12 B/s")
    l2_mb: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    l2_bandwidth_tb_s: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    shared_memory_per_sm_kb: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    infinity_cache_mb: float | None = Field(default=None, gt=0, le=PLAUSIBLE)

    @property
    def usable_bytes(self) -> float:
        """The capacity weights, KV cache and workspace must fit in: the device-reported bytes,
        or, for a spec that does not give them, the datasheet figure read as decimal GB (1e9 B:
        never more than the device has, since marketed "GB" are GiB or more)."""
        return float(self.capacity_bytes) if self.capacity_bytes else self.capacity_gb * 1e9

    @property
    def capacity_source(self) -> str:
        return "capacity_bytes" if self.capacity_bytes else "capacity_gb x 1e9: the spec gives no capacity_bytes"


class InterconnectSpec(_Strict):
    name: str | None = None
    bandwidth_gb_s: float | None = Field(default=None, ge=0, le=PLAUSIBLE,
                                         description="GPU-GPU, per GPU, bidirectional")
    host: str | None = None
    host_bandwidth_gb_s: float | None = Field(default=None, ge=0, le=PLAUSIBLE,
                                              description="host link, bidirectional")
    # How the GPU-GPU links join the GPUs of a node: through switches (NVSwitch: every GPU reaches
    # any peer at the full bandwidth), a full mesh of point-to-point links (xGMI: one link per
    # peer, so a group of n GPUs uses n-1 links), or a bridge joining one pair.
    topology: Literal["switch", "mesh", "pair"] | None = None
    links: int | None = Field(default=None, gt=0, le=PLAUSIBLE, description="GPU-GPU links per GPU")


class LaunchOverhead(_Strict):
    """Per-kernel launch cost floor in microseconds: eager launches vs CUDA-graph replay."""

    eager: float = Field(gt=0, le=PLAUSIBLE)
    graph: float = Field(gt=0, le=PLAUSIBLE)


class HardwareSpec(_Strict):
    schema_version: Literal[1]
    kind: Literal["spec"] = "spec"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    display_name: str
    vendor: Literal["nvidia", "amd", "google", "intel", "other"]
    architecture: str | None = None
    form_factor: str | None = None
    aliases: list[str] = Field(default_factory=list)
    # How the runtime identifies the part (kineto deviceProperties computeMajor.computeMinor; on
    # ROCm that is the gfx IP version, gfx942 -> 9.4), and the AMD LLVM target (gcnArchName).
    compute_capability: str | None = Field(default=None, pattern=r"^[0-9]{1,2}\.[0-9]{1,2}$")
    gfx_arch: str | None = Field(default=None, pattern=r"^gfx[0-9a-f]{2,5}$")
    # Devices the runtime shows per package: 2 for MI250/MI250X (one per GCD). Every figure of
    # such a spec is per device, as PyTorch sees it.
    devices_per_package: int = Field(default=1, ge=1, le=16)
    peak_tflops: PeakTable
    sparse_peak_tflops: PeakTable | None = None
    memory: MemorySpec
    sm_count: int | None = Field(default=None, gt=0, le=PLAUSIBLE)
    boost_clock_mhz: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    interconnect: InterconnectSpec = Field(default_factory=InterconnectSpec)
    tdp_w: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    launch_overhead_us: LaunchOverhead
    notes: str | None = None

    @model_validator(mode="after")
    def _has_a_compute_peak(self) -> HardwareSpec:
        if not self.peak_tflops.matrix and not self.peak_tflops.vector:
            raise ValueError("peak_tflops needs at least one matrix or vector peak")
        return self


class PartialMemory(_Strict):
    bandwidth_tb_s: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    read_bandwidth_tb_s: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    write_bandwidth_tb_s: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    l2_bandwidth_tb_s: float | None = Field(default=None, gt=0, le=PLAUSIBLE)


class PartialLaunch(_Strict):
    eager: float | None = Field(default=None, gt=0, le=PLAUSIBLE)
    graph: float | None = Field(default=None, gt=0, le=PLAUSIBLE)


class CeilingsOverlay(_Strict):
    """Measured ceilings (``roofline hw measure`` output) laid over a datasheet spec."""

    schema_version: Literal[1]
    kind: Literal["ceilings"]
    base: str
    measured_on: dict[str, str | int | float | None] = Field(default_factory=dict)
    peak_tflops: PeakTable = Field(default_factory=PeakTable)
    memory: PartialMemory = Field(default_factory=PartialMemory)
    launch_overhead_us: PartialLaunch = Field(default_factory=PartialLaunch)
    notes: str | None = None


@dataclass(frozen=True)
class Roof:
    """One ceiling in SI units, with where it came from."""

    value: float
    origin: RoofOrigin
    label: str

    def describe(self) -> str:
        return f"{self.label} ({self.origin})"


@dataclass(frozen=True)
class Roofs:
    """The ceilings one analysis uses: compute roofs per (unit, precision), DRAM bandwidth and
    launch floors, each tagged datasheet or measured.
    """

    device: str
    display_name: str
    compute: dict[tuple[Unit, Precision], Roof]
    memory_bandwidth: Roof
    launch_floor_eager: Roof
    launch_floor_graph: Roof
    l2_bandwidth: Roof | None = None
    datasheet_compute: dict[tuple[Unit, Precision], Roof] = field(default_factory=dict)
    datasheet_memory_bandwidth: Roof | None = None
    host_bandwidth: Roof | None = None
    peer_bandwidth: Roof | None = None
    peer_name: str | None = None
    peer_topology: str | None = None
    peer_links: int | None = None
    host_link_name: str | None = None
    sm_count: int | None = None

    def link_roof(self, link: str) -> Roof:
        """The bandwidth roof data moves against: DRAM, or for copies the host or peer link
        (falling back to DRAM when the spec does not give the link).
        """
        if link == "host" and self.host_bandwidth is not None:
            return self.host_bandwidth
        if link == "peer" and self.peer_bandwidth is not None:
            return self.peer_bandwidth
        return self.memory_bandwidth

    def compute_roof(self, precision: Precision, unit: Unit) -> Roof | None:
        """The compute roof a kernel of this precision and unit is judged against.

        Falls back where hardware has no dedicated path: an fp32 "matrix" GEMM on NVIDIA runs
        on CUDA cores (fp32 vector roof); vector work in a type with no listed vector peak
        computes in fp32. Matrix work in a precision the chip lacks (fp8 on A100) has no roof.
        Names work as well as members (``compute_roof("bf16", "matrix")``).
        """
        precision, unit = Precision(precision), Unit(unit)
        found = self.compute.get((unit, precision))
        if found is not None:
            return found
        if unit is Unit.MATRIX and precision is Precision.FP32:
            return self.compute.get((Unit.VECTOR, Precision.FP32))
        if unit is Unit.VECTOR:
            return self.compute.get((Unit.VECTOR, Precision.FP32))
        return None

    def launch_floor(self, in_graph: bool) -> Roof:
        return self.launch_floor_graph if in_graph else self.launch_floor_eager

    def ridge_point(self, precision: Precision, unit: Unit) -> float | None:
        roof = self.compute_roof(precision, unit)
        if roof is None:
            return None
        return roof.value / self.memory_bandwidth.value

    @property
    def uses_measured(self) -> bool:
        roofs = [*self.compute.values(), self.memory_bandwidth, self.launch_floor_eager]
        return any(r.origin == "measured" for r in roofs)


def _roof_label(unit: Unit, precision: Precision) -> str:
    return f"{precision.value} {unit.value}"


def roofs_from_spec(spec: HardwareSpec, overlay: CeilingsOverlay | None = None) -> Roofs:
    """Resolve a spec (and optionally measured ceilings) into SI roofs.

    Measured values replace datasheet ones roof by roof; the datasheet roofs are kept beside
    them so reports can show both.
    """
    datasheet: dict[tuple[Unit, Precision], Roof] = {}
    for unit in Unit:
        table = spec.peak_tflops.matrix if unit is Unit.MATRIX else spec.peak_tflops.vector
        for precision, tflops in table.items():
            datasheet[(unit, precision)] = Roof(tflops * 1e12, "datasheet", _roof_label(unit, precision))
    compute = dict(datasheet)
    memory_bw = Roof(spec.memory.bandwidth_tb_s * 1e12, "datasheet", "DRAM bandwidth")
    datasheet_bw = memory_bw
    l2 = (
        Roof(spec.memory.l2_bandwidth_tb_s * 1e12, "datasheet", "L2 bandwidth")
        if spec.memory.l2_bandwidth_tb_s
        else None
    )
    eager = Roof(spec.launch_overhead_us.eager * 1e-6, "datasheet", "launch floor (eager)")
    graph = Roof(spec.launch_overhead_us.graph * 1e-6, "datasheet", "launch floor (CUDA graph)")
    if overlay is not None:
        for unit in Unit:
            table = overlay.peak_tflops.matrix if unit is Unit.MATRIX else overlay.peak_tflops.vector
            for precision, tflops in table.items():
                compute[(unit, precision)] = Roof(tflops * 1e12, "measured", _roof_label(unit, precision))
        if overlay.memory.bandwidth_tb_s:
            memory_bw = Roof(overlay.memory.bandwidth_tb_s * 1e12, "measured", "DRAM bandwidth")
        if overlay.memory.l2_bandwidth_tb_s:
            l2 = Roof(overlay.memory.l2_bandwidth_tb_s * 1e12, "measured", "L2 bandwidth")
        if overlay.launch_overhead_us.eager:
            eager = Roof(overlay.launch_overhead_us.eager * 1e-6, "measured", "launch floor (eager)")
        if overlay.launch_overhead_us.graph:
            graph = Roof(overlay.launch_overhead_us.graph * 1e-6, "measured", "launch floor (CUDA graph)")
    # Interconnect figures are both directions summed; one copy uses one direction.
    link = spec.interconnect
    host = (
        Roof(link.host_bandwidth_gb_s * 1e9 / 2, "datasheet", f"host link ({link.host or 'host'}, one direction)")
        if link.host_bandwidth_gb_s
        else None
    )
    peer = (
        Roof(link.bandwidth_gb_s * 1e9 / 2, "datasheet", f"peer link ({link.name or 'GPU-GPU'}, one direction)")
        if link.bandwidth_gb_s
        else None
    )
    return Roofs(
        device=spec.name,
        display_name=spec.display_name,
        compute=compute,
        memory_bandwidth=memory_bw,
        launch_floor_eager=eager,
        launch_floor_graph=graph,
        l2_bandwidth=l2,
        datasheet_compute=datasheet,
        datasheet_memory_bandwidth=datasheet_bw,
        host_bandwidth=host,
        peer_bandwidth=peer,
        peer_name=link.name,
        peer_topology=link.topology,
        peer_links=link.links,
        host_link_name=link.host,
        sm_count=spec.sm_count,
    )
