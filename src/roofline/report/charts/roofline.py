"""Plot-ready models of a roofline chart and of a device comparison: which roofs, which points,
which labels. Pure functions of result objects, so what a chart shows is testable without
matplotlib; ``roofline.report.charts.roofline_mpl`` only draws these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from roofline.analysis.classify import ABOVE_ROOF_TOLERANCE, KernelVerdict
from roofline.analysis.result import ClassifyResult, HardwareUsed, RoofEntry
from roofline.errors import InputError
from roofline.units import fmt_flops_per_s, fmt_intensity, fmt_percent, short_kernel_name

BOUNDS = ("compute", "memory", "launch", "latency", "communication", "unknown")
# Okabe–Ito colours: distinguishable under the common colour-vision deficiencies, and the same
# hue per bound in every chart of a report.
BOUND_COLOURS = {"compute": "#CC79A7", "memory": "#0072B2", "launch": "#E69F00", "latency": "#56B4E9",
                 "communication": "#009E73", "unknown": "#999999"}
BOUND_LABELS = {
    "compute": "compute-bound",
    "memory": "memory-bound",
    "launch": "launch-bound",
    "latency": "latency-bound (under-occupied)",
    "communication": "communication-bound",
    "unknown": "bound unknown",
}
DEFAULT_LABELS = 8
LABEL_WIDTH = 38
DRAM = "DRAM bandwidth"
# Integer peaks are OP/s, not FLOP/s: never the "top" roof of a FLOP/s chart.
_NOT_FLOPS = ("int8", "int4")


@dataclass(frozen=True)
class RoofLine:
    """A compute roof met by a bandwidth slope at its ridge point."""

    label: str
    flops_per_s: float
    bandwidth_bytes_per_s: float
    origin: str  # datasheet | measured | user
    reference: bool = False  # a datasheet roof drawn beside the measured ceiling that replaced it
    datasheet_flops_per_s: float | None = None  # of a measured roof: the datasheet peak it replaced

    @property
    def ridge_point(self) -> float:
        return self.flops_per_s / self.bandwidth_bytes_per_s

    @property
    def names(self) -> set[tuple[str, str]]:
        """(precision, unit) pairs: ``fp16/bf16 matrix`` names two."""
        *precisions, unit = self.label.split()
        return {(p, unit) for p in " ".join(precisions).split("/")}

    @property
    def text(self) -> str:
        if self.origin == "measured":
            suffix = " (measured" + (f"; datasheet {fmt_flops_per_s(self.datasheet_flops_per_s)})"
                                     if self.datasheet_flops_per_s else ")")
        else:
            suffix = " (datasheet)" if self.reference else ""
        return f"{self.label} {fmt_flops_per_s(self.flops_per_s)}{suffix} · ridge {fmt_intensity(self.ridge_point)}"


@dataclass(frozen=True)
class Slope:
    label: str
    bytes_per_s: float
    origin: str
    reference: bool = False


@dataclass(frozen=True)
class KernelPoint:
    name: str
    short_name: str
    op: str | None
    bound: str
    ai: float
    flops_per_s: float
    share: float  # of all kernel time in the result
    predicted: bool
    above_roof: bool
    # Inner memory levels (Nsight Compute): (level, FLOP per byte at that level).
    levels: tuple[tuple[str, float], ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class RooflineFigure:
    title: str
    subtitle: str
    roofs: list[RoofLine]
    slopes: list[Slope]
    points: list[KernelPoint]
    notes: list[str] = field(default_factory=list)

    @property
    def hierarchical(self) -> bool:
        return any(p.levels for p in self.points)


def source_name(result: ClassifyResult) -> str:
    names = [Path(i).name for i in result.inputs]
    return ", ".join(names) if names else result.source_format


def _roof_entries(hardware: HardwareUsed) -> dict[str, RoofEntry]:
    return {entry.label: entry for entry in hardware.roofs if entry.unit == "FLOP/s"}


def _dram(hardware: HardwareUsed) -> RoofEntry | None:
    return next((e for e in hardware.roofs if e.label == DRAM), None)


def relevant_roof_labels(result: ClassifyResult) -> list[str]:
    """The roofs the kernels were judged against, plus the highest floating-point matrix roof
    (what the device could do with the best precision), in descending order of peak.
    """
    return roof_labels_for(result.hardware, {v.roof for v in result.kernels if v.roof})


def roof_labels_for(hardware: HardwareUsed, used: set[str]) -> list[str]:
    """``used`` roof labels the device has, plus its highest floating-point matrix roof, by peak."""
    entries = _roof_entries(hardware)
    labels = {label for label in used if label in entries}
    matrix = [e for e in entries.values() if e.label.endswith(" matrix") and not e.label.startswith(_NOT_FLOPS)]
    if matrix:
        labels.add(max(matrix, key=lambda e: e.value).label)
    if not labels and entries:
        labels.add(max(entries.values(), key=lambda e: e.value).label)
    return sorted(labels, key=lambda label: (-entries[label].value, label))


def _merge_equal(roofs: list[RoofLine]) -> list[RoofLine]:
    """fp16 and bf16 matrix roofs are the same number on most chips: one line, both names."""
    merged: dict[tuple[float, float, str, bool, float | None], RoofLine] = {}
    for roof in roofs:
        key = (roof.flops_per_s, roof.bandwidth_bytes_per_s, roof.origin, roof.reference, roof.datasheet_flops_per_s)
        if key in merged:
            first = merged[key]
            precisions = first.label.split()[0].split("/") + [roof.label.split()[0]]
            unit = roof.label.split()[-1]
            if first.label.split()[-1] == unit:
                merged[key] = RoofLine(f"{'/'.join(precisions)} {unit}", *key)
                continue
        merged.setdefault(key, roof)
    return list(merged.values())


def roofs_and_slopes(result: ClassifyResult) -> tuple[list[RoofLine], list[Slope]]:
    return roofs_and_slopes_for(result.hardware, relevant_roof_labels(result))


def roofs_and_slopes_for(hardware: HardwareUsed, labels: list[str]) -> tuple[list[RoofLine], list[Slope]]:
    """The roofs named by ``labels`` (descending peak), their datasheet references when measured
    ceilings replaced them, and the DRAM slope(s)."""
    entries = _roof_entries(hardware)
    dram = _dram(hardware)
    bandwidth = hardware.memory_bandwidth_bytes_per_s
    slopes = [Slope(DRAM, bandwidth, dram.origin if dram else "datasheet")]
    datasheet_bandwidth = dram.datasheet_value if dram and dram.datasheet_value else bandwidth
    if dram is not None and dram.datasheet_value:
        slopes.append(Slope(DRAM, dram.datasheet_value, "datasheet", reference=True))
    roofs: list[RoofLine] = []
    references: list[RoofLine] = []
    for label in labels:
        entry = entries[label]
        roofs.append(RoofLine(label, entry.value, bandwidth, entry.origin,
                              datasheet_flops_per_s=entry.datasheet_value if entry.origin == "measured" else None))
        if entry.datasheet_value:
            references.append(RoofLine(label, entry.datasheet_value, datasheet_bandwidth, "datasheet", reference=True))
        elif dram is not None and dram.datasheet_value:
            # A roof nobody measured, drawn against the datasheet slope too, so the datasheet
            # set reads as one complete roofline.
            references.append(RoofLine(label, entry.value, datasheet_bandwidth, "datasheet", reference=True))
    return _merge_equal(roofs) + _merge_equal(references), slopes


def label_name(name: str, width: int = LABEL_WIDTH) -> str:
    """The short kernel name, cut in the middle when too long: kernel variants often differ only
    at the end (``…_2x1_v_bz_TNT`` vs ``…_2x1_v_bz_splitK_TNT``).
    """
    short = short_kernel_name(name, 10_000)
    if len(short) <= width:
        return short
    if "<" in short:  # a template: its name comes first, its arguments are already folded
        return short_kernel_name(name, width)
    return _middle_cut(short, width)


def _middle_cut(text: str, width: int = LABEL_WIDTH) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) * 3 // 5
    return text[:head] + "…" + text[-(width - 1 - head):]


def _point(v: KernelVerdict, total_s: float) -> KernelPoint | None:
    if v.flops is None or v.bytes is None or v.flops <= 0 or v.bytes <= 0 or v.total_s <= 0:
        return None
    ai = v.flops / v.bytes
    if not math.isfinite(ai):
        return None
    levels = tuple(
        (level, v.flops / nbytes)
        for level, nbytes in (("L1", v.l1_bytes), ("L2", v.l2_bytes))
        if nbytes is not None and nbytes > 0
    )
    return KernelPoint(
        name=v.name,
        short_name=label_name(v.name),
        op=v.op,
        bound=v.bound.value,
        ai=ai,
        # Measured: the achieved rate. Predicted: the iron-law time, launch floor included.
        flops_per_s=v.flops / v.total_s,
        share=v.total_s / total_s if total_s > 0 else 0.0,
        predicted=v.time_basis == "predicted",
        above_roof=v.pct_of_roof is not None and v.pct_of_roof > ABOVE_ROOF_TOLERANCE,
        levels=levels,
    )


def _left_out_note(left_out: list[KernelVerdict], total_s: float) -> list[str]:
    if not left_out:
        return []
    copies = [v for v in left_out if v.flops == 0 and v.bytes]
    collectives = [v for v in left_out if v.collective is not None]
    unknown = [v for v in left_out if v not in copies and v not in collectives]
    notes = []
    if collectives:
        seconds = sum(v.total_s for v in collectives)
        notes.append(
            f"{len(collectives)} collective group(s) not placed: judged against the interconnect roof, not the "
            f"roofline ({fmt_percent(seconds / total_s) if total_s else '—'} of kernel time)"
        )
    if unknown:
        seconds = sum(v.total_s for v in unknown)
        notes.append(
            f"{len(unknown)} kernel group(s) not placed: FLOPs or bytes unknown or zero "
            f"({fmt_percent(seconds / total_s) if total_s else '—'} of kernel time)"
        )
    if copies:
        notes.append(f"{len(copies)} copy/memset group(s) not placed: no FLOPs (judged on bandwidth alone)")
    return notes


def roofline_figure(result: ClassifyResult, *, labels: int = DEFAULT_LABELS) -> RooflineFigure:
    """Roofs, slopes and kernel points of one result; the ``labels`` largest points by time get
    their short kernel name. Raises InputError when no kernel can be placed (an empty chart would
    look like a rendering bug).
    """
    total_s = sum(v.total_s for v in result.kernels)
    points: list[KernelPoint] = []
    left_out: list[KernelVerdict] = []
    for verdict in result.kernels:
        point = _point(verdict, total_s)
        if point is None:
            left_out.append(verdict)
        else:
            points.append(point)
    if not points:
        raise InputError(
            f"no kernel can be placed on the roofline: none of the {len(result.kernels)} kernel group(s) has both "
            "FLOPs and bytes",
            file=", ".join(result.inputs) or None,
            fix="profile with record_shapes=True, add Nsight Compute counters (--counters), or declare the kernels",
        )
    points.sort(key=lambda p: (-p.share, p.name))
    points = _labelled(points, labels)
    roofs, slopes = roofs_and_slopes(result)
    hardware = result.hardware
    ceilings = {"datasheet": "datasheet roofs", "measured": "measured ceilings", "mixed": "measured + datasheet roofs"}
    subtitle = f"{source_name(result)} ({result.source_format}) · {ceilings.get(hardware.ceilings, hardware.ceilings)}"
    if result.title:
        subtitle = f"{result.title} · {subtitle}"
    notes = _left_out_note(left_out, total_s)
    if any(p.predicted for p in points):
        notes.append("hollow points: no measured time; placed at the iron-law prediction (launch floor included)")
    return RooflineFigure(
        title=f"Roofline · {hardware.display_name}",
        subtitle=subtitle,
        roofs=roofs,
        slopes=slopes,
        points=points,
        notes=notes,
    )


def _labelled(points: list[KernelPoint], count: int) -> list[KernelPoint]:
    """Label the first ``count`` points; one kernel launched by several ops gets the op added."""
    chosen = points[:count]
    repeated = {p.short_name for p in chosen if sum(q.short_name == p.short_name for q in chosen) > 1}
    labels = []
    for point in chosen:
        label = point.short_name
        if label in repeated and point.op:
            label = f"{label} · {point.op.rsplit('::', 1)[-1]}"
        labels.append(label)
    # Template instances of one kernel (float vs half vs double) still look alike: show as many
    # template arguments as tell them apart, and number what nothing tells apart.
    for label in {x for x in labels if labels.count(x) > 1}:
        group = [i for i, x in enumerate(labels) if x == label]
        for depth in (2, 3, 4):
            expanded = [_middle_cut(_with_arguments(chosen[i].name, depth)) for i in group]
            if len(set(expanded)) == len(expanded):
                break
        else:
            expanded = [f"{label} #{n}" for n in range(1, len(group) + 1)]
        for i, text in zip(group, expanded):
            labels[i] = text
    out = [KernelPoint(**{**point.__dict__, "label": label}) for point, label in zip(chosen, labels)]
    return out + points[count:]


def _with_arguments(name: str, count: int) -> str:
    """``ns::kernel<A, B, C>(…)`` → ``kernel<a, b, …>`` with the first ``count`` template arguments,
    each itself shortened, as a plain (non-C++) label."""
    text = name.strip().removeprefix("void ").replace("(anonymous namespace)::", "").replace("<unnamed>::", "")
    start = text.find("<")
    if start < 0:
        return short_kernel_name(name, 10_000)
    args, depth, current = [], 0, ""
    for char in text[start + 1:]:
        if char in "<([":
            depth += 1
        elif char in ">)]":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += char
    args.append(current.strip())
    head = text[:start].rsplit("::", 1)[-1]
    shown = [short_kernel_name(arg, 40) for arg in args[:count]]
    more = ", …" if len(args) > count else ""
    return f"{head}<{', '.join(shown)}{more}>"


# --- comparing devices -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceRoof:
    name: str
    display_name: str
    roof_label: str
    flops_per_s: float
    bandwidth_bytes_per_s: float

    @property
    def ridge_point(self) -> float:
        return self.flops_per_s / self.bandwidth_bytes_per_s


@dataclass(frozen=True)
class ComparePoint:
    kernel: str  # short name
    device: str
    ai: float
    flops_per_s: float  # attainable on that device
    bound: str


@dataclass(frozen=True)
class CompareFigure:
    title: str
    subtitle: str
    devices: list[DeviceRoof]
    points: list[ComparePoint]
    notes: list[str]

    @property
    def kernels(self) -> list[tuple[str, float]]:
        """(short name, AI) of each workload kernel, in first-seen order."""
        seen: dict[str, float] = {}
        for point in self.points:
            seen.setdefault(point.kernel, point.ai)
        return list(seen.items())


def _device_roof(hardware: HardwareUsed, precision: str) -> DeviceRoof:
    entries = _roof_entries(hardware)
    # fp16 and bf16 share the tensor-core path on every chip that has both; V100 has only fp16.
    fallbacks = {"fp16": ("fp16", "bf16"), "bf16": ("bf16", "fp16")}.get(precision, (precision,))
    for candidate in fallbacks:
        entry = entries.get(f"{candidate} matrix")
        if entry is not None:
            return DeviceRoof(hardware.name, hardware.display_name, entry.label, entry.value,
                              hardware.memory_bandwidth_bytes_per_s)
    raise InputError(
        f"{hardware.name} has no {precision} matrix peak",
        place="--precision",
        fix="pick a precision every compared device has (roofline hw show NAME lists them)",
    )


def compare_figure(
    hardware: list[HardwareUsed],
    *,
    precision: str = "fp16",
    results: list[ClassifyResult] | None = None,
    max_kernels: int = 12,
) -> CompareFigure:
    """Several devices' rooflines at one precision; with ``results`` (the same workload classified
    on each device, in the same order) each kernel is placed at its AI on every device's roof,
    marked with the bound it has there.
    """
    devices = [_device_roof(hw, precision) for hw in hardware]
    points: list[ComparePoint] = []
    notes: list[str] = []
    if results:
        chosen = _compare_kernels(results[0], max_kernels)
        for device, result in zip(devices, results):
            by_name = {v.name: v for v in result.kernels}
            for name in chosen:
                verdict = by_name.get(name)
                if verdict is None or verdict.ai is None or verdict.attainable_flops_per_s is None or verdict.ai <= 0:
                    continue
                points.append(ComparePoint(label_name(name), device.name, verdict.ai,
                                           verdict.attainable_flops_per_s, verdict.bound.value))
        notes = regime_changes(points, [d.name for d in devices])
    ridges = " → ".join(f"{d.name} {fmt_intensity(d.ridge_point)}" for d in devices)
    return CompareFigure(
        title=f"Rooflines compared · {precision} matrix (dense, datasheet)",
        subtitle=f"ridge points (FLOP/byte): {ridges}",
        devices=devices,
        points=points,
        notes=notes,
    )


def _compare_kernels(result: ClassifyResult, limit: int) -> list[str]:
    placeable = [v for v in result.kernels if v.ai is not None and v.ai > 0 and math.isfinite(v.ai)]
    return [v.name for v in placeable[:limit]]


def regime_changes(points: list[ComparePoint], device_order: list[str]) -> list[str]:
    """Plain-word lines for kernels whose bound differs between devices."""
    by_kernel: dict[str, dict[str, str]] = {}
    for point in points:
        by_kernel.setdefault(point.kernel, {})[point.device] = point.bound
    lines = []
    for kernel, bounds in by_kernel.items():
        if len(set(bounds.values())) < 2:
            continue
        parts = []
        for bound in BOUNDS:
            names = [d for d in device_order if bounds.get(d) == bound]
            if names:
                parts.append(f"{bound}-bound on {', '.join(names)}")
        lines.append(f"{kernel} changes regime: {'; '.join(parts)}")
    return lines
