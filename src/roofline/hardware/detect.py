"""Identify the local GPU through NVML (pynvml), and match it to the registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roofline.errors import InputError, MissingDependencyError
from roofline.hardware.registry import Registry


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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


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
        count = nvml.nvmlDeviceGetCount()
        driver = _text(_call(nvml.nvmlSystemGetDriverVersion))
        gpus = []
        for index in range(count):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = _text(nvml.nvmlDeviceGetName(handle)) or "unknown"
            memory = _call(nvml.nvmlDeviceGetMemoryInfo, handle)
            clock_sm = _call(nvml.nvmlDeviceGetMaxClockInfo, handle, getattr(nvml, "NVML_CLOCK_SM", 1))
            clock_mem = _call(nvml.nvmlDeviceGetMaxClockInfo, handle, getattr(nvml, "NVML_CLOCK_MEM", 2))
            power = _call(nvml.nvmlDeviceGetPowerManagementLimit, handle)
            capability = _call(nvml.nvmlDeviceGetCudaComputeCapability, handle)
            cores = _call(getattr(nvml, "nvmlDeviceGetNumGpuCores", lambda h: None), handle)
            spec = registry.lookup(name)
            gpus.append(
                DetectedGPU(
                    index=index,
                    name=name,
                    uuid=_text(_call(nvml.nvmlDeviceGetUUID, handle)),
                    memory_total_bytes=int(memory.total) if memory is not None else None,
                    max_sm_clock_mhz=int(clock_sm) if clock_sm else None,
                    max_memory_clock_mhz=int(clock_mem) if clock_mem else None,
                    power_limit_w=float(power) / 1000.0 if power else None,
                    compute_capability=".".join(str(x) for x in capability) if capability else None,
                    cuda_cores=int(cores) if cores else None,
                    driver=driver,
                    registry_name=spec.name if spec else None,
                )
            )
    finally:
        _call(nvml.nvmlShutdown)
    if not gpus:
        raise InputError("NVML reports no GPUs", place="hw detect", fix="name the device with --hw instead")
    return gpus
