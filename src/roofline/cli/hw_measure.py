"""``roofline hw measure``: this GPU's ceilings from torch micro-benchmarks, as a ceilings overlay."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from roofline.version import __version__
from roofline.cli.common import HwDirOption, HwFileOption, handle_errors, registry_from_options, stderr_console, write_atomic
from roofline.errors import InputError
from roofline.hardware import measure as m
from roofline.hardware.detect import match_spec, spec_slug
from roofline.hardware.registry import Registry
from roofline.hardware.spec import HardwareSpec


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


@handle_errors
def measure(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the ceilings overlay YAML here (default: stdout).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Deprecated spelling of --output.")] = None,
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
    output = _output_option(output, out)
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
    if output is None:
        sys.stdout.write(text)
        return
    write_atomic(output, text.encode("utf-8"))
    console.print(f"wrote {output}: apply it with --ceilings {output} (classify, hw show)", markup=False)


def _output_option(output: Path | None, out: Path | None) -> Path | None:
    """``--out`` was this command's spelling before every command said ``--output``: still read."""
    if out is None:
        return output
    if output is not None:
        raise InputError("--out and --output both given", place="hw measure", fix="give --output only")
    print("roofline: note: --out is deprecated; use --output (or -o)", file=sys.stderr)
    return out


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
