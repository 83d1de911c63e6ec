"""Identify the local GPU through NVML (pynvml), match it to the registry, and draft a spec for
a GPU the registry does not know.

Matching is by name first (registry aliases are NVML names), then by family + variant + memory:
NVML names SXM parts without a form-factor word ("NVIDIA H100 80GB HBM3"), PCIe and NVL parts
with one ("NVIDIA H100 PCIe", "NVIDIA H100 NVL"), and the memory size tells 80 GB from 94 GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from roofline.errors import InputError, MissingDependencyError
from roofline.hardware.registry import Registry
from roofline.hardware.spec import HardwareSpec
from roofline.hardware.trace_device import MEMORY_TOLERANCE, spec_variant, variant, words

# NVML's memory total is a little over what CUDA reports (H200: 150.75e9 vs 150.11e9 B); specs
# carry the CUDA figure, and 10% (MEMORY_TOLERANCE) tells 80 from 94 GB parts.
# Compute capability -> architecture, for starter specs (CUDA programming guide, table of CCs).
_ARCHITECTURES = {"7.0": "volta", "7.5": "turing", "8.0": "ampere", "8.6": "ampere", "8.7": "ampere",
                  "8.9": "ada", "9.0": "hopper", "10.0": "blackwell", "10.3": "blackwell", "12.0": "blackwell"}


@dataclass(frozen=True)
class DetectedGPU:
    index: int
    name: str
    uuid: str | None
    memory_total_bytes: int | None
    max_sm_clock_mhz: int | None
    max_memory_clock_mhz: int | None
    power_limit_w: float | None
    compute_capability: str | None
    cuda_cores: int | None
    driver: str | None
    registry_name: str | None
    memory_bus_width_bits: int | None = None
    sm_clock_mhz: int | None = None
    pci_bus_id: str | None = None
    match_method: str | None = None
    match_note: str | None = None

    @property
    def memory_gib(self) -> float | None:
        return self.memory_total_bytes / 2**30 if self.memory_total_bytes else None


@dataclass(frozen=True)
class SpecMatch:
    name: str
    method: str  # "name" (an alias) or "family+variant+memory"
    note: str


def _memory_fits(spec: HardwareSpec, memory_bytes: int | None) -> bool:
    if not memory_bytes:
        return True
    usable = spec.memory.usable_bytes
    return abs(memory_bytes - usable) <= MEMORY_TOLERANCE * usable


def match_spec(registry: Registry, name: str, memory_bytes: int | None) -> SpecMatch | None:
    """The registry spec of a GPU from its NVML name and memory size, or None."""
    exact = registry.lookup(name)
    if exact is not None and _memory_fits(exact, memory_bytes):
        return SpecMatch(exact.name, "name", f"alias '{name}'")
    by_family = _family_match(registry, name, memory_bytes)
    if by_family is not None or exact is None:
        return by_family
    # An alias whose memory no sibling fits is a curator's decision (the V100 16 GB shares the
    # 32 GB entry): keep it, and say so.
    return SpecMatch(exact.name, "name", f"alias '{name}'; memory {(memory_bytes or 0) / 2**30:.1f} GiB differs from "
                     f"{exact.memory.capacity_gb:g} GB")


def _family_match(registry: Registry, name: str, memory_bytes: int | None) -> SpecMatch | None:
    found = words(name)
    family = [s for s in registry.specs.values() if s.name.split("-")[0] in found]
    wanted = variant(found)
    if wanted is not None:
        family = [s for s in family if spec_variant(s) == wanted]
    fitting = [s for s in family if _memory_fits(s, memory_bytes)]
    if not fitting:
        return None
    # No form-factor word in the name: NVML's SXM naming; prefer the SXM entry.
    fitting.sort(key=lambda s: (spec_variant(s) != (wanted or "sxm"), abs((memory_bytes or 0) - s.memory.usable_bytes)))
    best = fitting[0]
    memory = (f"{memory_bytes / 2**30:.1f} GiB ≈ {best.memory.capacity_gb:g} GB" if memory_bytes else "memory unknown")
    return SpecMatch(best.name, "family+variant+memory",
                     f"family '{best.name.split('-')[0]}', variant {spec_variant(best) or '?'}, {memory}")


def _import_nvml() -> Any:
    try:
        import pynvml  # provided by the nvidia-ml-py package
    except ImportError:
        raise MissingDependencyError(
            "pynvml is not installed",
            place="hw detect",
            fix="pip install 'roofline[nvml]' (needs an NVIDIA driver)",
        ) from None
    return pynvml


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # NVML raises NVMLError_NotSupported and friends per query
        return None


def _query(nvml: Any, fn_name: str, *args: Any) -> Any:
    # Older pynvml builds and test fakes lack some queries: a missing one reads as unknown.
    fn = getattr(nvml, fn_name, None)
    return _call(fn, *args) if fn is not None else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _int(value: Any) -> int | None:
    return int(value) if value else None


def read_gpu(nvml: Any, index: int, registry: Registry, driver: str | None) -> DetectedGPU:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)
    name = _text(nvml.nvmlDeviceGetName(handle)) or "unknown"
    memory = _query(nvml, "nvmlDeviceGetMemoryInfo", handle)
    memory_bytes = int(memory.total) if memory is not None else None
    sm, mem = getattr(nvml, "NVML_CLOCK_SM", 1), getattr(nvml, "NVML_CLOCK_MEM", 2)
    power = _query(nvml, "nvmlDeviceGetPowerManagementLimit", handle)  # milliwatts
    capability = _query(nvml, "nvmlDeviceGetCudaComputeCapability", handle)
    pci = _query(nvml, "nvmlDeviceGetPciInfo", handle)
    match = match_spec(registry, name, memory_bytes)
    return DetectedGPU(
        index=index,
        name=name,
        uuid=_text(_query(nvml, "nvmlDeviceGetUUID", handle)),
        memory_total_bytes=memory_bytes,
        max_sm_clock_mhz=_int(_query(nvml, "nvmlDeviceGetMaxClockInfo", handle, sm)),
        max_memory_clock_mhz=_int(_query(nvml, "nvmlDeviceGetMaxClockInfo", handle, mem)),
        power_limit_w=float(power) / 1000.0 if power else None,
        compute_capability=".".join(str(x) for x in capability) if capability else None,
        cuda_cores=_int(_query(nvml, "nvmlDeviceGetNumGpuCores", handle)),
        driver=driver,
        registry_name=match.name if match else None,
        memory_bus_width_bits=_int(_query(nvml, "nvmlDeviceGetMemoryBusWidth", handle)),
        sm_clock_mhz=_int(_query(nvml, "nvmlDeviceGetClockInfo", handle, sm)),
        pci_bus_id=_text(getattr(pci, "busId", None)) if pci is not None else None,
        match_method=match.method if match else None,
        match_note=match.note if match else None,
    )


def detect_gpus(registry: Registry, nvml: Any | None = None) -> list[DetectedGPU]:
    """Read every GPU NVML sees. ``nvml`` can be injected (tests use a fake module)."""
    nvml = nvml or _import_nvml()
    try:
        nvml.nvmlInit()
    except Exception as exc:
        raise InputError(
            f"NVML could not start ({exc})",
            place="hw detect",
            fix="no NVIDIA GPU or driver is visible here; name the device with --hw instead",
        ) from None
    try:
        driver = _text(_query(nvml, "nvmlSystemGetDriverVersion"))
        gpus = [read_gpu(nvml, index, registry, driver) for index in range(nvml.nvmlDeviceGetCount())]
    finally:
        _call(nvml.nvmlShutdown)
    if not gpus:
        raise InputError("NVML reports no GPUs", place="hw detect", fix="name the device with --hw instead")
    return gpus


def torch_properties(gpu: DetectedGPU) -> dict[str, Any] | None:
    """What torch reports about this GPU (SMs, L2, shared memory), or None without a CUDA torch.

    Imported only here, for starter specs: plain detection must not pay for importing torch. The
    device is found by UUID, since torch's and NVML's indices differ under CUDA_VISIBLE_DEVICES.
    """
    try:
        import torch
    except ImportError:
        return None
    try:
        if not torch.cuda.is_available():
            return None
        found = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
        uuid = (gpu.uuid or "").removeprefix("GPU-")
        props = next((p for p in found if str(getattr(p, "uuid", "")) == uuid), None)
        if props is None and gpu.index < len(found):
            props = found[gpu.index]
        if props is None:
            return None
    except Exception:  # a broken CUDA install reads as "torch knows nothing"
        return None
    return {
        "sm_count": props.multi_processor_count,
        "l2_bytes": getattr(props, "L2_cache_size", None),
        "shared_memory_per_sm_bytes": getattr(props, "shared_memory_per_multiprocessor", None),
        "total_memory_bytes": props.total_memory,
    }


def spec_slug(name: str) -> str:
    """A registry name for a device name: 'NVIDIA H200 NVL' -> 'h200-nvl'."""
    parts = words(name)
    while parts and parts[0] in ("nvidia", "tesla", "geforce"):
        parts = parts[1:]
    return "-".join(parts) or "unknown-gpu"


def starter_spec(gpu: DetectedGPU, props: dict[str, Any] | None) -> tuple[str, HardwareSpec]:
    """A spec draft for an unregistered GPU from NVML and torch readings, as commented YAML.

    Only what the device itself reports is filled in: DRAM bandwidth from memory clock × bus width
    (× 2, double data rate: 3201 MHz × 6016 bit gives the H200's 4.81 TB/s) and an fp32 vector
    peak from CUDA cores × clock × 2 (FMA). Matrix peaks are not derivable from NVML: they are left
    for the datasheet, and the file says so.
    """
    sms = props.get("sm_count") if props else None
    l2 = props.get("l2_bytes") if props else None
    smem = props.get("shared_memory_per_sm_bytes") if props else None
    bandwidth = None
    if gpu.max_memory_clock_mhz and gpu.memory_bus_width_bits:
        bandwidth = round(gpu.max_memory_clock_mhz * 1e6 * 2 * gpu.memory_bus_width_bits / 8 / 1e12, 3)
    fp32 = None
    if gpu.cuda_cores and gpu.max_sm_clock_mhz:
        fp32 = round(gpu.cuda_cores * gpu.max_sm_clock_mhz * 1e6 * 2 / 1e12, 1)
    data: dict[str, Any] = {
        "schema_version": 1,
        "name": spec_slug(gpu.name),
        "display_name": gpu.name,
        "vendor": "nvidia",
        "architecture": _ARCHITECTURES.get(gpu.compute_capability or "", None),
        "aliases": [gpu.name],
        "compute_capability": gpu.compute_capability,
        # A placeholder vector peak keeps the draft loadable; replace every peak from the datasheet.
        "peak_tflops": {"matrix": {}, "vector": {"fp32": fp32 or 1.0}},
        "memory": {
            "capacity_gb": round(gpu.memory_gib or (props or {}).get("total_memory_bytes", 2**30) / 2**30, 1),
            # What CUDA reports (torch total_memory) where torch is there, else NVML's total.
            "capacity_bytes": (props or {}).get("total_memory_bytes") or gpu.memory_total_bytes,
            "bandwidth_tb_s": bandwidth or 1.0,
            "l2_mb": round(l2 / 1e6, 1) if l2 else None,
            "shared_memory_per_sm_kb": round(smem / 1024) if smem else None,
        },
        "sm_count": sms,
        "boost_clock_mhz": gpu.max_sm_clock_mhz,
        "tdp_w": gpu.power_limit_w,
        "launch_overhead_us": {"eager": 5.0, "graph": 1.0},
        "notes": "STARTER SPEC from roofline hw detect: needs datasheet peaks (matrix TFLOP/s per precision, "
                 "dense) before its roofs mean anything.",
    }
    data["memory"] = {k: v for k, v in data["memory"].items() if v is not None}
    data = {k: v for k, v in data.items() if v is not None}
    spec = HardwareSpec.model_validate(data)  # the draft must load as-is
    header = [
        f"# STARTER SPEC for {gpu.name} - drafted by `roofline hw detect`; NEEDS DATASHEET PEAKS.",
        "# Filled from what the device reports (NVML, torch); check every number against the vendor's datasheet:",
        f"#   memory.capacity_gb      NVML memory total {gpu.memory_gib or 0:.1f} GiB: replace with the datasheet figure",
        "#   memory.capacity_bytes   the device's own total (torch total_memory, else NVML): used for max batch",
        f"#   memory.bandwidth_tb_s   {'derived: ' + str(gpu.max_memory_clock_mhz) + ' MHz x ' + str(gpu.memory_bus_width_bits) + ' bit x 2 (DDR)' if bandwidth else 'UNKNOWN (placeholder 1.0): take the datasheet figure'}",
        f"#   peak_tflops.vector.fp32 {'derived: ' + str(gpu.cuda_cores) + ' CUDA cores x ' + str(gpu.max_sm_clock_mhz) + ' MHz x 2 (FMA)' if fp32 else 'UNKNOWN (placeholder 1.0)'}",
        "#   peak_tflops.matrix      EMPTY: add dense tensor-core peaks per precision (fp16, bf16, tf32, fp8, int8, fp64)",
        "#   tdp_w                   the NVML power limit, not necessarily the board TDP",
        "#   launch_overhead_us      registry defaults; `roofline hw measure` measures them",
        "# Then: roofline hw show --hw-file THIS_FILE NAME, and `roofline hw measure` for measured ceilings.",
    ]
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return "\n".join(header) + "\n" + body, spec

