"""Rich tables for people at a terminal."""

from __future__ import annotations

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from typing import TYPE_CHECKING

from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.precision import Unit
from roofline.units import (
    fmt_bytes,
    fmt_bytes_per_s,
    fmt_flops,
    fmt_flops_per_s,
    fmt_intensity,
    fmt_percent,
    fmt_seconds,
    short_kernel_name,
)

if TYPE_CHECKING:  # annotations only: `hw list` must not import the analysis (numpy)
    from roofline.analysis.result import ClassifyResult

BOUND_STYLE = {"compute": "bold magenta", "memory": "bold cyan", "launch": "bold yellow", "unknown": "dim"}


def classify_renderable(result: ClassifyResult, top: int | None = None, width: int = 160) -> Group:
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
    verdict.append(f"{summary.verdict}-bound", style=BOUND_STYLE.get(summary.verdict, "bold"))
    verdict.append(f" ({fmt_percent(summary.verdict_share)} of the span)")
    verdict.append(
        f" · span {fmt_seconds(summary.span_s)}, GPU busy {fmt_seconds(summary.gpu_busy_s)}, "
        f"idle {fmt_seconds(summary.idle_s)}"
    )
    if summary.idle_s > 0:
        verdict.append(
            f" (launch wait {fmt_seconds(summary.launch_wait_s)}, other {fmt_seconds(summary.other_idle_s)})"
        )
    tb = summary.time_by_bound
    verdict.append(
        f"\ntime by bound: compute {fmt_seconds(tb.compute)}, memory {fmt_seconds(tb.memory)}, "
        f"launch {fmt_seconds(tb.launch)}, unknown {fmt_seconds(tb.unknown)}"
    )

    table = kernel_table(result, top=top, width=width)
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


# Columns in the order they are dropped from the right when the terminal is narrow.
_WIDE_ONLY = {"FLOP/s", "B/s", "source", "share"}
NARROW_WIDTH = 130


def kernel_table(result: ClassifyResult, top: int | None = None, width: int = 160) -> Table:
    """Kernel groups sorted by time, with their bound and the evidence for it."""
    wide = width >= NARROW_WIDTH
    columns = [
        ("kernel", "left"),
        ("calls", "right"),
        ("time", "right"),
        ("share", "right"),
        ("bound", "left"),
        ("AI", "right"),
        ("FLOP/s", "right"),
        ("B/s", "right"),
        ("% roof", "right"),
        ("roof", "left"),
        ("source", "left"),
    ]
    columns = [c for c in columns if wide or c[0] not in _WIDE_ONLY]
    table = Table(show_lines=False, header_style="bold", expand=False, pad_edge=False)
    for column, justify in columns:
        if column == "kernel":
            table.add_column(column, justify=justify, overflow="fold", ratio=1, min_width=16)
        else:
            table.add_column(column, justify=justify, no_wrap=True)
    kernels = result.kernels if top is None else result.kernels[:top]
    span = result.summary.gpu_busy_s or result.summary.span_s
    for v in kernels:
        short = escape(short_kernel_name(v.name))
        name = short if not v.op or v.op == v.name else f"{short} [dim]({escape(v.op)})[/dim]"
        cells = {
            "kernel": name,
            "calls": str(v.count),
            "time": fmt_seconds(v.total_s) + ("" if v.time_basis == "measured" else "*"),
            "share": fmt_percent(v.total_s / span) if span > 0 else "—",
            "bound": Text(v.bound.value, style=BOUND_STYLE[v.bound.value]),
            "AI": fmt_intensity(v.ai),
            "FLOP/s": fmt_flops_per_s(v.achieved_flops_per_s),
            "B/s": fmt_bytes_per_s(v.achieved_bytes_per_s),
            "% roof": fmt_percent(v.pct_of_roof),
            "roof": f"{v.roof or '—'}" + (" (m)" if v.roof_origin == "measured" else ""),
            "source": v.source,
        }
        table.add_row(*(cells[c] for c, _ in columns))
    return table


def hw_list_table(specs: list[HardwareSpec]) -> Table:
    table = Table(header_style="bold")
    for column, justify in [
        ("name", "left"),
        ("device", "left"),
        ("fp16/bf16 matrix", "right"),
        ("fp8 matrix", "right"),
        ("fp32 vector", "right"),
        ("memory", "right"),
        ("bandwidth", "right"),
        ("ridge fp16", "right"),
    ]:
        table.add_column(column, justify=justify)
    from roofline.precision import Precision

    for spec in specs:
        half = spec.peak_tflops.matrix.get(Precision.BF16) or spec.peak_tflops.matrix.get(Precision.FP16)
        fp8 = spec.peak_tflops.matrix.get(Precision.FP8)
        fp32 = spec.peak_tflops.vector.get(Precision.FP32)
        ridge = half / spec.memory.bandwidth_tb_s if half else None
        table.add_row(
            spec.name,
            spec.display_name,
            f"{half:g} TFLOP/s" if half else "—",
            f"{fp8:g} TFLOP/s" if fp8 else "—",
            f"{fp32:g} TFLOP/s" if fp32 else "—",
            f"{spec.memory.capacity_gb:g} GB",
            f"{spec.memory.bandwidth_tb_s:g} TB/s",
            fmt_intensity(ridge),
        )
    return table


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
        info.add_row("measured", ", ".join(overlays) + "  (use --ceilings measured)")

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
