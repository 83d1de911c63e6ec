"""Which registry spec a trace ran on, from the device properties the trace records.

PyTorch's profiler writes one ``deviceProperties`` entry per visible GPU: ``name``,
``totalGlobalMem`` (bytes), ``computeMajor``/``computeMinor`` (on ROCm the gfx IP version:
gfx942 → 9.4), ``numSms`` (CUs on AMD), ``warpSize`` (64 on AMD CDNA) and, on some ROCm builds,
``gcnArchName``. Names come with vendor variants: ``NVIDIA A100-PG509-200`` (a board code, no
form-factor word), ``AMD Instinct MI300X VF`` (an SR-IOV virtual function of the same part),
``AMD Radeon Graphics`` (ROCm's fallback when it lacks the marketing name), or nothing at all.

Matching, in order:

1. **By name** — a registry alias, else the family word (``a100``, ``mi300x``) narrowed by the
   form-factor word and by what the properties say (compute capability, SM count, memory).
2. **By properties** when the name is empty, generic or unknown — every spec with the same
   compute capability (or gfx target) whose SM count and memory fit; the closest memory wins
   (gfx942 with 192 GiB is an MI300X, with 256 GiB an MI325X), and the choice is explained in
   a warning, since it is inferred rather than read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from roofline.hardware.registry import Registry
from roofline.hardware.spec import HardwareSpec

# A device's reported total is a little under its spec (reserved pages, a virtual function's
# host share: an MI300X VF reports 191.5 GiB of 192); 10% still tells 80 from 94 GB parts.
MEMORY_TOLERANCE = 0.10
# Specs whose memory is within this of each other cannot be told apart by memory.
SAME_MEMORY = 0.02
_VARIANTS = ("nvl", "pcie", "sxm")
# Words that name a variant of the same part, not another part: an SR-IOV virtual function.
_VARIANT_WORDS = {"vf"}
# Names that say nothing about the part (ROCm without its marketing-name table; a blank name).
_GENERIC = {"", "amdradeongraphics", "radeongraphics", "amdgpu", "gpu", "cuda", "hip", "device"}
_INT_KEYS = {"totalGlobalMem": "total_memory_bytes", "numSms": "sm_count", "warpSize": "warp_size",
             "computeMajor": "major", "computeMinor": "minor"}


@dataclass(frozen=True)
class DeviceProperties:
    """One ``deviceProperties`` entry of a trace, validated."""

    name: str = ""
    total_memory_bytes: int | None = None
    compute_capability: str | None = None
    sm_count: int | None = None
    warp_size: int | None = None
    gfx_arch: str | None = None

    @classmethod
    def from_kineto(cls, entry: dict[str, Any]) -> DeviceProperties:
        values: dict[str, int] = {}
        for key, field in _INT_KEYS.items():
            value = entry.get(key)
            if type(value) is int and 0 <= value < 2**62:
                values[field] = value
        capability = None
        if "major" in values and values["major"] > 0:
            capability = f"{values['major']}.{values.get('minor', 0)}"
        name = entry.get("name")
        arch = entry.get("gcnArchName")
        gfx = None
        if isinstance(arch, str):
            found = re.match(r"(gfx[0-9a-f]{2,5})", arch.strip().lower())  # "gfx942:sramecc+:xnack-"
            gfx = found.group(1) if found else None
        return cls(
            name=name.strip() if isinstance(name, str) else "",
            total_memory_bytes=values.get("total_memory_bytes") or None,
            compute_capability=capability,
            sm_count=values.get("sm_count") or None,
            warp_size=values.get("warp_size") or None,
            gfx_arch=gfx,
        )

    @property
    def vendor(self) -> str | None:
        found = words(self.name)
        if self.gfx_arch or self.warp_size == 64 or "amd" in found or "instinct" in found:
            return "amd"
        if self.warp_size == 32 or "nvidia" in found or "tesla" in found:
            return "nvidia"
        return None

    def describe(self) -> str:
        parts = [f"name '{self.name}'" if self.name else "no name"]
        if self.gfx_arch:
            parts.append(self.gfx_arch)
        if self.compute_capability:
            parts.append(f"compute capability {self.compute_capability}")
        if self.sm_count:
            parts.append(f"{self.sm_count} {'CUs' if self.vendor == 'amd' else 'SMs'}")
        if self.total_memory_bytes:
            parts.append(f"{self.total_memory_bytes / 2**30:.1f} GiB")
        return ", ".join(parts)


@dataclass(frozen=True)
class DeviceMatch:
    name: str
    method: str  # "name", "name+properties" or "properties"
    note: str
    warning: str | None = None


def words(name: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", name.lower())


def variant(name_words: list[str]) -> str | None:
    """The form factor a name's words state (sxm4, sxm5 -> sxm), or None."""
    for word in name_words:
        for form in _VARIANTS:
            if word.startswith(form):
                return form
    return None


def spec_variant(spec: HardwareSpec) -> str | None:
    return variant(spec.name.split("-")) or (spec.form_factor or None)


def _memory_distance(spec: HardwareSpec, reported: int | None) -> float:
    """|log(reported / spec bytes)|: 0 for an exact fit; 0 when the trace does not say."""
    if not reported:
        return 0.0
    return abs(math.log(reported / spec.memory.usable_bytes))


def _fits(spec: HardwareSpec, props: DeviceProperties) -> bool:
    """Whether nothing the device reports contradicts the spec (a fact missing on either side
    contradicts nothing)."""
    vendor = props.vendor
    if vendor is not None and spec.vendor != vendor:
        return False
    if props.compute_capability and spec.compute_capability and props.compute_capability != spec.compute_capability:
        return False
    if props.gfx_arch and spec.gfx_arch and props.gfx_arch != spec.gfx_arch:
        return False
    if props.sm_count and spec.sm_count and props.sm_count != spec.sm_count:
        return False
    return _memory_distance(spec, props.total_memory_bytes) <= math.log1p(MEMORY_TOLERANCE)


def _name_key(name: str) -> list[str]:
    return [w for w in words(name) if w not in _VARIANT_WORDS]


def is_generic(name: str) -> bool:
    return "".join(words(name)) in _GENERIC


def identify_device(registry: Registry, props: DeviceProperties, *, device_count: int = 1) -> DeviceMatch | None:
    """The registry spec of one traced device, or None when neither its name nor its properties
    single out a spec. ``device_count`` is how many devices the trace lists (it tells an MI210
    from one GCD of an MI250, which otherwise report the same)."""
    if not is_generic(props.name):
        found = _by_name(registry, props)
        if found is not None:
            return found
    return _by_properties(registry, props, device_count)


def _by_name(registry: Registry, props: DeviceProperties) -> DeviceMatch | None:
    key = _name_key(props.name)
    exact = registry.lookup(props.name) or registry.lookup(" ".join(key))
    if exact is not None and _fits(exact, props):
        return DeviceMatch(exact.name, "name", f"alias '{props.name}'")
    family = [s for s in registry.specs.values() if s.name.split("-")[0] in key]
    wanted = variant(key)
    if wanted is not None:
        family = [s for s in family if spec_variant(s) == wanted]
    fitting = [s for s in family if _fits(s, props)]
    if fitting:
        # No form-factor word in the name: NVML's SXM naming; prefer the SXM entry.
        fitting.sort(key=lambda s: (spec_variant(s) != (wanted or "sxm"), _memory_distance(s, props.total_memory_bytes),
                                    s.name))
        best = fitting[0]
        note = f"family '{best.name.split('-')[0]}' of '{props.name}', variant {spec_variant(best) or '?'}"
        if props.total_memory_bytes:
            note += f", {props.total_memory_bytes / 2**30:.1f} GiB"
        warning = None
        if len(fitting) > 1:
            others = ", ".join(s.name for s in fitting[1:])
            warning = (f"device '{props.name}' could be {best.name} or {others}: took {best.name} "
                       f"({_why(best, props)}); pass --hw to choose")
        return DeviceMatch(best.name, "name+properties", note, warning)
    if exact is not None:
        # An alias whose facts no sibling fits is a curator's decision (the V100 16 GB shares the
        # 32 GB entry): keep it, and say so.
        return DeviceMatch(exact.name, "name", f"alias '{props.name}'; the trace reports {props.describe()}")
    return None


def _why(spec: HardwareSpec, props: DeviceProperties) -> str:
    parts = []
    if props.total_memory_bytes:
        parts.append(f"{props.total_memory_bytes / 2**30:.1f} GiB reported vs {spec.memory.usable_bytes / 2**30:.1f} "
                     f"GiB of {spec.name}")
    if props.sm_count and spec.sm_count:
        parts.append(f"{spec.sm_count} {'CUs' if spec.vendor == 'amd' else 'SMs'}")
    return ", ".join(parts) or "no memory size to tell them apart"


def _same_roofs(a: HardwareSpec, b: HardwareSpec) -> bool:
    return a.peak_tflops == b.peak_tflops and a.memory.bandwidth_tb_s == b.memory.bandwidth_tb_s


def _facts(spec: HardwareSpec) -> str:
    unit = "CUs" if spec.vendor == "amd" else "SMs"
    sms = f"{spec.sm_count} {unit}, " if spec.sm_count else ""
    return f"{sms}{spec.memory.usable_bytes / 2**30:.1f} GiB"


def _by_properties(registry: Registry, props: DeviceProperties, device_count: int) -> DeviceMatch | None:
    if not (props.compute_capability or props.gfx_arch):
        return None
    identity = f"{props.gfx_arch}" if props.gfx_arch else f"compute capability {props.compute_capability}"
    siblings = [
        s for s in registry.specs.values()
        if ((props.gfx_arch and s.gfx_arch == props.gfx_arch)
            or (not props.gfx_arch and s.compute_capability == props.compute_capability))
        and (props.vendor is None or s.vendor == props.vendor)
    ]
    pool = [s for s in siblings if _fits(s, props)]
    if not pool:
        return None
    reported = props.total_memory_bytes
    pool.sort(key=lambda s: (_memory_distance(s, reported), not (props.sm_count and s.sm_count), s.name))
    best = pool[0]
    # Parts the trace cannot tell apart (same memory, same SM count): an odd number of listed
    # devices cannot all be GCD pairs, so it means the one-device-per-package part; an even
    # number is taken as the multi-GCD module.
    tied = [s for s in pool if abs(_memory_distance(s, reported) - _memory_distance(best, reported)) <= SAME_MEMORY
            and s.sm_count == best.sm_count]
    reasons = []
    if len(tied) > 1:
        tied.sort(key=lambda s: (device_count % s.devices_per_package != 0, -s.devices_per_package, s.name))
        best = tied[0]
        line = f"{' and '.join(s.name for s in tied)} report the same ({_facts(best)}); {device_count} device(s) listed"
        if best.devices_per_package > 1:
            line += f", a whole number of {best.devices_per_package}-GCD packages, so {best.name}"
        elif any(s.devices_per_package > 1 for s in tied):
            line += f", not all GCD pairs, so {best.name}"
        else:
            line += f", {best.name} taken"
        if all(_same_roofs(best, s) for s in tied):
            line += "; their roofs per device are identical"
        reasons.append(line)
    else:
        reasons.append(f"{best.name} has {_facts(best)}")
    rejected = [s for s in siblings if s not in tied and s is not best]
    if rejected:
        reasons.append("not " + ", ".join(f"{s.name} ({_facts(s)})" for s in sorted(rejected, key=lambda s: s.name)))
    label = f"names '{props.name}'" if props.name else "names no device"
    warning = (f"the trace {label}; from its properties ({props.describe()}) it is taken as {best.name}: of the parts "
               f"with {identity}, " + "; ".join(reasons) + ". Pass --hw to override")
    return DeviceMatch(best.name, "properties", f"{props.describe()} → {best.name}", warning)


def identify_trace_device(registry: Registry, name: str | None, properties: list[dict[str, Any]] | None,
                          device_id: int | None = None) -> DeviceMatch | None:
    """The spec of the traced device ``device_id`` (else the first listed) from its
    ``deviceProperties`` entry, or from ``name`` alone where the input records no properties."""
    entries = [p for p in (properties or []) if isinstance(p, dict)]
    chosen = None
    if device_id is not None:
        chosen = next((p for p in entries if p.get("id") == device_id), None)
    if chosen is None and entries:
        chosen = entries[0]
    props = DeviceProperties.from_kineto(chosen) if chosen is not None else DeviceProperties(name=name or "")
    if name and not props.name:
        props = DeviceProperties(name=name, total_memory_bytes=props.total_memory_bytes,
                                 compute_capability=props.compute_capability, sm_count=props.sm_count,
                                 warp_size=props.warp_size, gfx_arch=props.gfx_arch)
    return identify_device(registry, props, device_count=max(1, len(entries)))
