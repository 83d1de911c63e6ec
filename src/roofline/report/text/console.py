"""Rich tables for people at a terminal."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from rich.console import Group
from rich.table import Table
from rich.text import Text

from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.precision import Unit
from roofline.report.text.summary import caveat_text, idle_split, time_by_bound_text, utilisation_text, verdict_name
from roofline.report.text.fit import Column, FitTable, Name
from roofline.units import (
    fmt_bytes,
    fmt_bytes_per_s,
    fmt_flops,
    fmt_flops_per_s,
    fmt_intensity,
    fmt_percent,
    fmt_seconds,
    kernel_labels,
)

if TYPE_CHECKING:  # annotations only: `hw list` must not import the analysis (numpy)
    from roofline.analysis.result import ClassifyResult

BOUND_STYLE = {"compute": "bold magenta", "memory": "bold cyan", "launch": "bold yellow", "latency": "bold red",
               "communication": "bold green", "unknown": "dim"}


def classify_renderable(result: ClassifyResult, top: int | None = None) -> Group:
    summary = result.summary
    hw = result.hardware
    head = Text()
    head.append("roofline classify", style="bold")
    head.append(f" · {', '.join(result.inputs)} · {result.source_format}\n")
    head.append(f"device: {hw.display_name} ({hw.name}), ceilings: {hw.ceilings}")
    if hw.ceilings_file:
        head.append(f" from {hw.ceilings_file}")
    head.append(f"; DRAM {fmt_bytes_per_s(hw.memory_bandwidth_bytes_per_s)}")
    head.append(
        f"; launch floor {fmt_seconds(hw.launch_floor_eager_s)} eager / "
        f"{fmt_seconds(hw.launch_floor_graph_s)} graph\n"
    )
    verdict = Text()
    verdict.append("verdict: ")
    verdict.append(verdict_name(summary.verdict), style=BOUND_STYLE.get(summary.verdict, "bold"))
    verdict.append(f" ({fmt_percent(summary.verdict_share)} of the span)")
    if summary.caveats:
        verdict.append(caveat_text(summary), style="bold yellow")
    verdict.append(
        f" · span {fmt_seconds(summary.span_s)}, GPU busy {fmt_seconds(summary.gpu_busy_s)}, "
        f"idle {fmt_seconds(summary.idle_s)}"
    )
    if summary.idle_s > 0:
        verdict.append(f" ({idle_split(summary)})")
    if summary.verdict == "communication":
        verdict.append(f"; exposed communication {fmt_seconds(summary.exposed_communication_s)} of "
                       f"{fmt_seconds(summary.communication_s)}")
    verdict.append(f"\ntime by bound: {time_by_bound_text(summary)}")
    if summary.utilisation is not None:
        verdict.append(f"\nutilisation: {utilisation_text(summary)}")

    table = kernel_table(result, top=top)
    parts: list = [head, verdict, table]
    kernels = result.kernels if top is None else result.kernels[:top]
    if top is not None and len(result.kernels) > top:
        parts.append(Text(f"… {len(result.kernels) - top} more kernel groups (--top to show more)", style="dim"))
    if any(v.time_basis == "predicted" for v in kernels):
        parts.append(Text("* predicted by the iron law (no measured duration)", style="dim"))
    if summary.findings:
        findings = Text("findings:\n", style="bold")
        for line in summary.findings:
            findings.append(f"  • {line}\n", style="")
        parts.append(findings)
    for warning in result.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    return Group(*parts)


# What a narrow terminal keeps: the name, its time and its bound always; then % of roof, AI,
# share, calls, the roof's name; achieved FLOP/s and B/s and the FLOPs' source go first.
KERNEL_COLUMNS = (
    Column("kernel", "left", name=True, min_width=24, want=48),
    Column("calls", keep=4),
    Column("time"),
    Column("share", keep=3),
    Column("bound", "left"),
    Column("AI", keep=2),
    Column("FLOP/s", keep=6),
    Column("B/s", keep=7),
    Column("% roof", keep=1),
    Column("roof", "left", keep=5),
    Column("source", "left", keep=8),
)


def kernel_table(result: ClassifyResult, top: int | None = None) -> FitTable:
    """Kernel groups sorted by time, with their bound and the evidence for it, laid out for the
    width it is printed at (roofline.report.text.fit): names shortened, never broken; the least needed
    columns left out first."""
    kernels = result.kernels if top is None else result.kernels[:top]
    span = result.summary.gpu_busy_s or result.summary.span_s
    labels = kernel_labels([(v.name, v.op) for v in kernels])
    rows = []
    for v, label in zip(kernels, labels):
        op = f" [{v.op}]" if v.op and v.op != v.name else ""
        rows.append([
            Name(label[: len(label) - len(op)], op),
            str(v.count),
            fmt_seconds(v.total_s) + ("" if v.time_basis == "measured" else "*"),
            fmt_percent(v.total_s / span) if span > 0 else "—",
            Text(v.bound.value, style=BOUND_STYLE[v.bound.value]),
            fmt_intensity(v.ai),
            fmt_flops_per_s(v.achieved_flops_per_s),
            fmt_bytes_per_s(v.achieved_bytes_per_s),
            fmt_percent(v.pct_of_roof),
            Text(f"{v.roof or '—'}" + (" (m)" if v.roof_origin == "measured" else "")),
            v.source,
        ])
    return FitTable(KERNEL_COLUMNS, rows, header_style="bold")


# The registry's name is what --hw takes: it is never cut. The peaks stack their headers.
HW_LIST_COLUMNS = (
    Column("name", "left"),
    Column("device", "left", name=True, min_width=12),
    Column("fp16/bf16\nmatrix"),
    Column("fp8\nmatrix", keep=2),
    Column("fp32\nvector", keep=3),
    Column("memory", keep=4),
    Column("bandwidth", keep=1),
    Column("ridge\nfp16", keep=5),
)


def hw_list_table(specs: list[HardwareSpec]) -> FitTable:
    from roofline.precision import Precision

    rows = []
    for spec in specs:
        half = spec.peak_tflops.matrix.get(Precision.BF16) or spec.peak_tflops.matrix.get(Precision.FP16)
        fp8 = spec.peak_tflops.matrix.get(Precision.FP8)
        fp32 = spec.peak_tflops.vector.get(Precision.FP32)
        ridge = half / spec.memory.bandwidth_tb_s if half else None
        rows.append([
            Text(spec.name),
            Name(spec.display_name),
            f"{half:g} TFLOP/s" if half else "—",
            f"{fp8:g} TFLOP/s" if fp8 else "—",
            f"{fp32:g} TFLOP/s" if fp32 else "—",
            f"{spec.memory.capacity_gb:g} GB",
            f"{spec.memory.bandwidth_tb_s:g} TB/s",
            fmt_intensity(ridge),
        ])
    return FitTable(HW_LIST_COLUMNS, rows, header_style="bold")


def hw_show_renderable(spec: HardwareSpec, roofs: Roofs, source_file: str, overlays: list[str]) -> Group:
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    info.add_row("name", spec.name)
    info.add_row("device", spec.display_name)
    info.add_row("vendor / arch", f"{spec.vendor} / {spec.architecture or '—'}")
    info.add_row("aliases", ", ".join(spec.aliases) or "—")
    mem = spec.memory
    info.add_row(
        "memory",
        f"{mem.capacity_gb:g} GB {mem.type or ''} at {mem.bandwidth_tb_s:g} TB/s"
        + (f"; L2 {mem.l2_mb:g} MB" if mem.l2_mb else "")
        + (f"; shared memory {mem.shared_memory_per_sm_kb:g} KB/SM" if mem.shared_memory_per_sm_kb else ""),
    )
    info.add_row(
        "capacity used",
        f"{mem.usable_bytes:,.0f} B = {mem.usable_bytes / 2**30:.1f} GiB ({mem.capacity_source})",
    )
    ids = [f"compute capability {spec.compute_capability}" if spec.compute_capability else "", spec.gfx_arch or ""]
    if any(ids):
        info.add_row("identified by", ", ".join(i for i in ids if i))
    if spec.devices_per_package > 1:
        info.add_row("per device", f"figures are per GCD: {spec.devices_per_package} devices per package")
    if spec.sm_count:
        info.add_row("SMs / clock", f"{spec.sm_count} @ {spec.boost_clock_mhz or 0:g} MHz")
    link = spec.interconnect
    if link.name or link.bandwidth_gb_s:
        info.add_row("interconnect", f"{link.name or '—'} {link.bandwidth_gb_s or 0:g} GB/s; host {link.host or '—'}")
    if spec.tdp_w:
        info.add_row("TDP", f"{spec.tdp_w:g} W")
    info.add_row(
        "launch floor",
        f"{fmt_seconds(roofs.launch_floor_eager.value)} eager, {fmt_seconds(roofs.launch_floor_graph.value)} graph "
        f"({roofs.launch_floor_eager.origin})",
    )
    info.add_row("spec file", source_file)
    if overlays:
        # File names only (they live beside each other in hwspecs/measured/): the hint stays on one line.
        info.add_row("measured", ", ".join(Path(o).name for o in overlays) + "  (use --ceilings measured)")

    table = Table(header_style="bold", title="compute roofs (dense) and ridge points")
    for column, justify in [("unit", "left"), ("precision", "left"), ("peak", "right"), ("ridge FLOP/B", "right"), ("origin", "left")]:
        table.add_column(column, justify=justify)
    for unit in (Unit.MATRIX, Unit.VECTOR):
        for (u, precision), roof in sorted(roofs.compute.items(), key=lambda item: -item[1].value):
            if u is not unit:
                continue
            peak = fmt_flops_per_s(roof.value)
            if precision.value.startswith("int"):
                peak = peak.replace("FLOP/s", "OP/s")
            table.add_row(unit.value, precision.value, peak, fmt_intensity(roof.value / roofs.memory_bandwidth.value), roof.origin)
    parts: list = [info, table]
    if spec.sparse_peak_tflops:
        sparse = ", ".join(f"{p.value} {v:g}" for p, v in spec.sparse_peak_tflops.matrix.items())
        parts.append(Text(f"2:4-sparse matrix peaks (TFLOP/s, never used by default): {sparse}", style="dim"))
    parts.append(Text(f"DRAM bandwidth roof: {fmt_bytes_per_s(roofs.memory_bandwidth.value)} ({roofs.memory_bandwidth.origin})"))
    return Group(*parts)


__all__ = ["classify_renderable", "hw_list_table", "hw_show_renderable", "fmt_bytes", "fmt_flops"]
