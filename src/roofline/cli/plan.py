"""``roofline plan CONFIG``: where a serving config stands, and the ordered steps to its SLOs."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline.cli.common import CeilingsOption, HwDirOption, HwFileOption, handle_errors, registry_from_options, write_output
from roofline.errors import InputError
from roofline.hardware.registry import resolve_roofs
from roofline.plan.result import PlanResult, build_plan_result
from roofline.plan.serving import build_context, evaluate, plan_serving
from roofline.report.plan_render import plan_markdown, plan_renderable, sweep_table
from roofline.workload.model import load_model
from roofline.workload.serving import ServingConfig, load_serving_config


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def parse_sweep(text: str) -> list[int]:
    key, _, values = text.partition("=")
    if key.strip() != "batch" or not values:
        raise InputError(f"cannot read sweep '{text}'", place="--sweep", fix="write --sweep batch=1,8,32,128")
    try:
        batches = [int(v) for v in values.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"batch sizes must be integers: '{values}'", place="--sweep", fix="e.g. batch=1,8,32") from None
    if not batches or any(b < 1 for b in batches):
        raise InputError("batch sizes must be ≥ 1", place="--sweep", fix="e.g. batch=1,8,32")
    return batches


def run_plan_config(path: Path, *, hw: str | None, ceilings: str | None, hw_file, hw_dir, max_steps: int = 8):
    cfg = load_serving_config(path)
    if hw:
        cfg = cfg.model_copy(update={"hardware": hw})
    registry = registry_from_options(hw_file, hw_dir)
    spec, roofs, overlay = resolve_roofs(registry, cfg.hardware, ceilings=ceilings)
    arch, ignored = load_model(cfg.model, base=path.parent)
    context = build_context(cfg, arch, spec, roofs, base=path.parent)
    notes = [f"{arch.name}: config keys ignored: {', '.join(ignored)}"] if ignored else []
    outcome = plan_serving(cfg, context, max_steps=max_steps)
    origin = "measured" if roofs.uses_measured else "datasheet"
    result = build_plan_result(outcome, config_file=str(path), hardware=spec.name,
                               ceilings=f"{origin}" + (f" ({overlay})" if overlay else ""), notes=notes)
    return result, cfg, context


def sweep_rows(cfg: ServingConfig, context, batches: list[int]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for batch in batches:
        trial = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"batch": batch})})
        try:
            p = evaluate(trial, context).prediction
        except InputError as exc:
            rows.append({"batch": batch, "error": exc.message})
            continue
        rows.append({"batch": batch, "ttft_s": p.ttft_s, "itl_s": p.itl_s, "throughput_tok_s": p.throughput_tok_s,
                     "throughput_tok_s_per_gpu": p.throughput_tok_s_per_gpu, "decode_bound": p.decode.bound,
                     "max_batch": p.memory.max_batch})
    return rows


@handle_errors
def plan(
    config: Annotated[Path, typer.Argument(help="Serving config YAML (docs/plan.md).", show_default=False)],
    format: Annotated[PlanFormat, typer.Option("--format", "-f", help="table, json or md")] = PlanFormat.table,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Latency/throughput frontier, e.g. batch=1,8,32,128.")] = None,
    hw: Annotated[str | None, typer.Option("--hw", help="Override the config's hardware.")] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", min=1, help="Stop after this many steps.")] = 8,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Predict TTFT, ITL, throughput and memory for a serving config, then plan the steps to its SLOs."""
    result, cfg, context = run_plan_config(config, hw=hw, ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir,
                                           max_steps=max_steps)
    rows = sweep_rows(cfg, context, parse_sweep(sweep)) if sweep else None
    render_plan(result, rows, format, output)


def render_plan(result: PlanResult, rows: list[dict[str, object]] | None, fmt: PlanFormat, output: Path | None) -> None:
    if fmt is PlanFormat.json:
        payload = result.model_dump(mode="json")
        if rows is not None:
            payload["sweep"] = rows
        write_output(json.dumps(payload, indent=2) + "\n", output)
        return
    if fmt is PlanFormat.md:
        write_output(plan_markdown(result), output)
        return
    console = Console(record=output is not None)
    console.print(plan_renderable(result))
    if rows is not None:
        console.print(sweep_table(rows))
    if output is not None:
        write_output(console.export_text(), output)
