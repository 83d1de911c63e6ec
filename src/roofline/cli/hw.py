"""``roofline hw``: the hardware registry and the local GPU."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.cli.common import HwDirOption, HwFileOption, HwFormat, handle_errors, registry_from_options
from roofline.cli.lazy import LazyCommand, LazyGroup
from roofline.hardware.registry import resolve_roofs
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.report.text.console import hw_list_table, hw_show_renderable


class HwGroup(LazyGroup):
    # detect (NVML) and measure (torch benchmarks) are imported only when they run.
    lazy_commands = {
        "detect": LazyCommand(
            "roofline.cli.hw_detect:detect",
            "Identify local NVIDIA GPUs through NVML, match them to the registry (name, variant, memory), "
            "and draft a starter spec for a GPU the registry does not know."),
        "measure": LazyCommand(
            "roofline.cli.hw_measure:measure",
            "Measure this GPU's ceilings (DRAM and L2 bandwidth, GEMM throughput per precision, launch cost "
            "eager vs CUDA graph) and write them as a 'kind: ceilings' overlay for --ceilings."),
    }


app = typer.Typer(help="Hardware registry: list, show, detect, measure.", cls=HwGroup, no_args_is_help=True,
                  add_completion=False)


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
