"""``roofline hw``: the hardware registry and the local GPU."""

from __future__ import annotations

import datetime
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from roofline import jsonout
from roofline import __version__
from roofline.cli.common import (
    HwDirOption,
    HwFileOption,
    handle_errors,
    registry_from_options,
    stderr_console,
    write_atomic,
)
from roofline.errors import InputError
from roofline.hardware import measure as m
from roofline.hardware.detect import DetectedGPU, detect_gpus, match_spec, spec_slug, starter_spec, torch_properties
from roofline.hardware.registry import Registry, resolve_roofs
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.report.text.console import hw_list_table, hw_show_renderable

app = typer.Typer(help="Hardware registry: list, show, detect, measure.", no_args_is_help=True)


class HwFormat(str, Enum):
    table = "table"
    json = "json"


def spec_json(spec: HardwareSpec, roofs: Roofs, source_file: str, overlays: list[str]) -> dict:
    data = spec.model_dump(mode="json", exclude_none=True)
    data["source_file"] = source_file
    data["ridge_points"] = {
        f"{precision.value} {unit.value}": roof.value / roofs.memory_bandwidth.value
        for (unit, precision), roof in sorted(roofs.compute.items(), key=lambda item: (item[0][0].value, item[0][1].value))
    }
    data["roofs"] = {
        f"{precision.value} {unit.value}": {"flops_per_s": roof.value, "origin": roof.origin}
        for (unit, precision), roof in roofs.compute.items()
    }
    data["memory_bandwidth_bytes_per_s"] = {
        "value": roofs.memory_bandwidth.value,
        "origin": roofs.memory_bandwidth.origin,
    }
    data["measured_ceilings_available"] = overlays
    return data


@app.command("list")
@handle_errors
def list_devices(
    format: Annotated[HwFormat, typer.Option("--format", "-f", help="table or json")] = HwFormat.table,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """List the devices in the registry."""
    registry = registry_from_options(hw_file, hw_dir)
    specs = [registry.specs[name] for name in registry.names()]
    if format is HwFormat.json:
        rows = []
        for spec in specs:
            _, roofs, _ = resolve_roofs(registry, spec.name)
            rows.append(spec_json(spec, roofs, str(registry.spec_files[spec.name]), []))
        typer.echo(jsonout.dumps(rows, indent=2))
        return
    Console().print(hw_list_table(specs))


@app.command("show")
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="Device name or alias, e.g. h100-sxm, 'NVIDIA H200'.")],
    format: Annotated[HwFormat, typer.Option("--format", "-f", help="table or json")] = HwFormat.table,
    ceilings: Annotated[
        str | None, typer.Option("--ceilings", help="'measured' or a ceilings YAML to overlay on the datasheet")
    ] = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Show one device: peaks per precision and unit, memory, ridge points."""
    registry = registry_from_options(hw_file, hw_dir)
    spec, roofs, _ = resolve_roofs(registry, name, ceilings=ceilings)
    overlays = [str(path) for path, _ in registry.overlays.get(spec.name, [])]
    source = str(registry.spec_files[spec.name])
    if format is HwFormat.json:
        typer.echo(jsonout.dumps(spec_json(spec, roofs, source, overlays), indent=2))
        return
    Console().print(hw_show_renderable(spec, roofs, source, overlays))


@app.command("detect")
@handle_errors
def detect(
    format: Annotated[HwFormat, typer.Option("--format", "-f", help="table or json")] = HwFormat.table,
    write_spec: Annotated[
        Path | None,
        typer.Option("--write-spec", help="Save the starter spec of the first GPU not in the registry to this file."),
    ] = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Identify local NVIDIA GPUs through NVML, match them to the registry (name, variant, memory),
    and draft a starter spec for a GPU the registry does not know."""
    registry = registry_from_options(hw_file, hw_dir)
    gpus = detect_gpus(registry)
    starters = {gpu.index: starter_spec(gpu, torch_properties(gpu))[0] for gpu in gpus if gpu.registry_name is None}
    if write_spec is not None:
        if not starters:
            known = ", ".join(sorted({g.registry_name or "" for g in gpus}))
            raise InputError(f"every GPU here is in the registry ({known})", place="--write-spec",
                             fix="copy its hwspecs/ file to customise it instead")
        write_atomic(write_spec, next(iter(starters.values())).encode("utf-8"))
        stderr_console().print(f"wrote the starter spec to {write_spec}: fill in the datasheet peaks, then "
                               f"pass it with --hw-file {write_spec}")
    if format is HwFormat.json:
        rows = [dict(gpu.__dict__, starter_spec=starters.get(gpu.index)) for gpu in gpus]
        typer.echo(jsonout.dumps(rows, indent=2))
        return
    console = Console(highlight=False)
    for gpu in gpus:
        console.print(_gpu_line(gpu), markup=False)
        if gpu.index in starters and write_spec is None:
            console.print(starters[gpu.index], markup=False, end="")


def _gpu_line(gpu: DetectedGPU) -> str:
    def known(value: object, unit: str = "") -> str:
        return f"{value}{unit}" if value is not None else "?"

    memory = f"{gpu.memory_gib:.1f} GiB ({gpu.memory_total_bytes / 1e9:.1f} GB)" if gpu.memory_total_bytes else "?"
    clock = f"SM clock {known(gpu.sm_clock_mhz)}/{known(gpu.max_sm_clock_mhz)} MHz (now/max)"
    if gpu.registry_name:
        match = f"{gpu.registry_name} (by {gpu.match_method}: {gpu.match_note})"
    else:
        match = "not in the registry: starter spec below, NEEDS DATASHEET PEAKS (--write-spec FILE saves it)"
    return (
        f"GPU {gpu.index}: {gpu.name} · {memory} · {clock} · memory {known(gpu.max_memory_clock_mhz, ' MHz')} × "
        f"{known(gpu.memory_bus_width_bits, ' bit')} · power limit {known(gpu.power_limit_w, ' W')} · "
        f"CC {known(gpu.compute_capability)} · driver {known(gpu.driver)} · PCI {known(gpu.pci_bus_id)} · "
        f"{known(gpu.uuid)}\n  registry: {match}"
    )


def _measure_base(registry: Registry, identity: dict, base: str | None) -> tuple[str, HardwareSpec | None, str]:
    if base is not None:
        spec = registry.resolve(base)
        return spec.name, spec, "--base"
    name = str(identity.get("device_name") or "unknown")
    memory = identity.get("memory_bytes")
    found = match_spec(registry, name, int(memory) if isinstance(memory, (int, float)) else None)
    if found is None:
        return spec_slug(name), None, "not in the registry"
    return found.name, registry.specs[found.name], f"{found.method}: {found.note}"


@app.command("measure")
@handle_errors
def measure(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the ceilings overlay YAML here (default: stdout).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="Smaller sizes and fewer repetitions: a first look, not roofs to publish.")
    ] = False,
    device: Annotated[int, typer.Option("--device", min=0, help="torch CUDA device index.")] = 0,
    base: Annotated[
        str | None, typer.Option("--base", help="Registry device the ceilings overlay; default: matched from "
                                 "the device's name and memory.")
    ] = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Measure this GPU's ceilings (DRAM and L2 bandwidth, GEMM throughput per precision, launch
    cost eager vs CUDA graph) and write them as a 'kind: ceilings' overlay for --ceilings."""
    registry = registry_from_options(hw_file, hw_dir)
    backend = m.TorchBackend(device)
    identity = backend.identity()
    base_name, spec, how = _measure_base(registry, identity, base)
    settings, benches = m.plan(identity.get("l2_bytes"), identity.get("memory_bytes"), quick=quick)  # type: ignore[arg-type]
    console = stderr_console()
    console.print(f"measuring {identity.get('device_name')} (registry: {base_name}, {how}); "
                  f"{len(benches)} benchmarks, {'quick' if quick else 'full'} sizes")
    with Progress(TextColumn("hw measure"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("", total=len(benches))
        results = m.run_benchmarks(backend, settings, benches,
                                   lambda i, b: progress.update(task, completed=i, description=b.label))
    date = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    fields = m.measured_on(identity, results, settings, date=date, tool=f"roofline {__version__} hw measure")
    overlay, notes = m.build_overlay(results, spec, base_name, fields)
    text = m.overlay_yaml(overlay, results, spec, settings)
    console.print(_measure_table(results, spec))
    for note in notes:
        console.print(f"note: {note}", markup=False)
    if spec is None:
        console.print(f"note: this GPU is not in the registry; the overlay's base is '{base_name}': "
                      "write that spec first (roofline hw detect --write-spec FILE)", markup=False)
    if out is None:
        sys.stdout.write(text)
        return
    write_atomic(out, text.encode("utf-8"))
    console.print(f"wrote {out}: apply it with --ceilings {out} (classify, hw show)", markup=False)


def _measure_table(results: list[m.Measurement], spec: HardwareSpec | None) -> Table:
    table = Table(title="measured ceilings (median of the timed repetitions)", title_justify="left")
    for column in ("figure", "median", "spread (min..max)", "reps", "vs datasheet"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for result in results:
        bench, figure = result.bench, result.figure
        if figure is None:
            table.add_row(bench.label, "skipped", result.skipped or "", "", "")
            continue
        reference = m.datasheet_value(bench, spec)
        versus = f"{100 * figure.median / reference:.0f}%" if reference else "-"
        table.add_row(bench.label, m.format_figure(bench, figure.median),
                      f"{m.format_figure(bench, figure.low, False)}..{m.format_figure(bench, figure.high, False)} "
                      f"(±{figure.spread_pct:.1f}%)", str(figure.reps), versus)
    return table
