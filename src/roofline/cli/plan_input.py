"""A serving config given to ``roofline plot`` or ``roofline report``: recognise it, plan it once,
and build its charts (steps, frontier, roofline) and report sections.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roofline.analysis.result import HardwareUsed, hardware_used
from roofline.cli.plan import parse_sweep, run_plan_config, sweep_rows
from roofline.plan.result import PlanResult
from roofline.report.plan_figures import (
    FrontierFigure,
    default_sweep,
    frontier_figure,
    plan_roofline_figure,
    plan_steps_figure,
)
from roofline.errors import InputError
from roofline.workload.serving import ServingConfig
from roofline.yamlio import load_yaml

PLAN_CHARTS = ("roofline", "steps", "frontier")


def is_serving_config(path: Path) -> bool:
    """A YAML mapping with a ``model`` and no ``kernels``: a serving config, not declared kernels."""
    if Path(path).suffix.lower() not in (".yaml", ".yml") or not Path(path).is_file():
        return False
    try:
        # The capped loader: a 500-deep '[[[…' was a RecursionError here (exit 3), and a
        # multi-GB YAML was read whole just to sniff it.
        data, _ = load_yaml(Path(path), what="serving config")
    except InputError:
        return False  # the declared-kernel reader gives the precise error
    return isinstance(data, dict) and "model" in data and "kernels" not in data


@dataclass
class PlannedConfig:
    path: Path
    result: PlanResult
    config: ServingConfig
    context: Any  # roofline.plan.serving.ServingContext
    hardware: HardwareUsed

    def steps_figure(self):  # type: ignore[no-untyped-def]
        return plan_steps_figure(self.result)

    def roofline_figure(self, labels: int):  # type: ignore[no-untyped-def]
        return plan_roofline_figure(self.result, self.hardware, decode_steps=self.config.serving.output_tokens,
                                    labels=labels)

    def frontier_figure(self, sweep: str | None) -> FrontierFigure:
        final = ServingConfig.model_validate(self.result.final_config) if self.result.steps else None
        if sweep:
            batches = parse_sweep(sweep)
        else:
            batches = default_sweep([self.result.baseline.max_batch] + ([self.result.final.max_batch] if final else []))
        baseline_rows = sweep_rows(self.config, self.context, batches)
        final_rows = sweep_rows(final, self.context, batches) if final is not None else None
        if not sweep:
            # The default sweep runs up to each config's memory limit: a batch past the other
            # config's limit is not a finding, just the end of that curve.
            baseline_rows = [row for row in baseline_rows if not row.get("error")]
            final_rows = [row for row in final_rows if not row.get("error")] if final_rows is not None else None
        return frontier_figure(self.result, baseline_rows, final_rows)


def plan_config(path: Path, *, hw: str, ceilings: str | None, hw_file: Path | None, hw_dir: Path | None,
                max_steps: int = 8) -> PlannedConfig:
    """``hw`` 'auto' keeps the config's own hardware."""
    override = None if hw.lower() == "auto" else hw
    result, cfg, context = run_plan_config(path, hw=override, ceilings=ceilings, hw_file=hw_file, hw_dir=hw_dir,
                                           max_steps=max_steps)
    return PlannedConfig(path, result, cfg, context, hardware_used(context.spec, context.roofs, ceilings))
