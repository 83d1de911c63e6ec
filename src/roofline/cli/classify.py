"""``roofline classify``: label every kernel compute-, memory- or launch-bound, with evidence."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline.analysis.classify import classify_kernel
from roofline.analysis.result import ClassifyResult, build_result, hardware_used
from roofline.cli.common import (
    CeilingsOption,
    HwDirOption,
    HwFileOption,
    handle_errors,
    registry_from_options,
    write_output,
)
from roofline.errors import InputError
from roofline.hardware.registry import Registry, resolve_roofs
from roofline.report.console import classify_renderable
from roofline.report.markdown import classify_markdown
from roofline.sources import LoadedInput, read_input


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def pick_device(requested: str, loaded: LoadedInput, registry: Registry) -> str:
    if requested.lower() != "auto":
        return requested
    if loaded.device_name:
        if registry.lookup(loaded.device_name) is None:
            raise InputError(
                f"the input names device '{loaded.device_name}', which is not in the registry",
                file=loaded.path,
                fix="pass --hw NAME, or add a spec with --hw-file (" + registry.suggestion(loaded.device_name) + ")",
            )
        return loaded.device_name
    raise InputError(
        "the input does not say which device it ran on",
        file=loaded.path,
        place="--hw",
        fix="pass --hw NAME (roofline hw list shows the registry)",
    )


def classify_loaded(loaded: LoadedInput, registry: Registry, hw: str, ceilings: str | None) -> ClassifyResult:
    device = pick_device(hw, loaded, registry)
    spec, roofs, overlay_path = resolve_roofs(registry, device, ceilings=ceilings)
    verdicts = [classify_kernel(work, roofs) for work in loaded.kernels]
    return build_result(
        inputs=[str(loaded.path)],
        source_format=loaded.format,
        title=loaded.title,
        hardware=hardware_used(spec, roofs, str(overlay_path) if overlay_path else None),
        verdicts=verdicts,
        warnings=loaded.warnings,
    )


def render(results: list[ClassifyResult], fmt: OutputFormat, top: int | None) -> str | None:
    if fmt is OutputFormat.json:
        payload = [r.model_dump(mode="json") for r in results]
        return json.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n"
    if fmt is OutputFormat.md:
        return "\n".join(classify_markdown(r, top=top) for r in results)
    return None


def classify(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Declared-kernel YAML files (traces and exports: see docs/).", show_default=False),
    ],
    hw: Annotated[str, typer.Option("--hw", help="Device name or alias, or 'auto' to read it from the input.")] = "auto",
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or md")] = OutputFormat.table,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N kernel groups with most time.")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Classify kernels as compute-, memory- or launch-bound against a device's roofline."""
    registry = registry_from_options(hw_file, hw_dir)
    results = [classify_loaded(read_input(path), registry, hw, ceilings) for path in inputs]
    text = render(results, format, top)
    if text is None:
        console = Console(record=output is not None)
        for result in results:
            console.print(classify_renderable(result, top=top, width=console.width))
        if output is not None:
            write_output(console.export_text(), output)
        return
    write_output(text, output)


classify = handle_errors(classify)
