"""``roofline hw detect``: the local GPUs through NVML, matched to the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.cli.common import (
    HwDirOption,
    HwFileOption,
    HwFormat,
    handle_errors,
    registry_from_options,
    stderr_console,
    write_atomic,
)
from roofline.errors import InputError
from roofline.hardware.detect import DetectedGPU, detect_gpus, starter_spec, torch_properties


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
