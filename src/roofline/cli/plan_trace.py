"""``roofline plan TRACE...`` and ``classify --plan``: classify (or read back) each trace, plan it,
optionally verify the plan against a second trace, and render."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from roofline import jsonout
from roofline.analysis.result import ClassifyResult
from roofline.cli.common import registry_from_options, write_output
from roofline.errors import InputError
from roofline.hardware.registry import Registry
from roofline.plan.trace import plan_trace
from roofline.plan.trace_result import TracePlanResult, build_trace_plan
from roofline.plan.verify import verify_plan
from roofline.report.trace_plan_render import (
    trace_plan_markdown,
    trace_plan_renderable,
    verification_markdown,
    verification_renderable,
)


def _analyse(path: Path, registry: Registry, hw: str, ceilings: str | None, step: int | None,
             device: int | None) -> list[ClassifyResult]:
    from roofline.cli.plot import analyse_path

    results = [a.result for a in analyse_path(path, registry, hw, ceilings, step=step, device=device)]
    for result in results:
        if result.source_format in ("declared",):
            raise InputError("declared kernels have no measured timeline to plan from", file=path,
                             fix="plan a trace (kineto, Nsight Systems/Compute), or a serving config (docs/plan.md)")
    return results


def trace_plan_of(result: ClassifyResult, *, max_steps: int = 8) -> TracePlanResult:
    notes = []
    if result.summary.steps == [] and result.source_format == "kineto":
        notes.append("no ProfilerStep markers: the whole trace is planned as one step")
    if result.source_format == "ncu":
        notes.append("Nsight Compute serialises kernels: there is no timeline, so only kernel-side changes are planned")
    unknown = result.summary.time_by_bound.unknown
    if unknown > 0.2 * max(result.summary.gpu_busy_s, 1e-12):
        notes.append(f"{unknown / max(result.summary.gpu_busy_s, 1e-12):.0%} of kernel time has no FLOPs/bytes "
                     "(unknown): rules that need them do not see it")
    return build_trace_plan(plan_trace(result, max_steps=max_steps), result, notes)


def plan_traces(inputs: list[Path], *, hw: str, ceilings: str | None, hw_file, hw_dir, step: int | None,
                device: int | None, max_steps: int, verify: Path | None, applied: str | None) -> list[TracePlanResult]:
    registry = registry_from_options(hw_file, hw_dir)
    results = [r for path in inputs for r in _analyse(path, registry, hw, ceilings, step, device)]
    plans = [trace_plan_of(r, max_steps=max_steps) for r in results]
    if applied is not None and verify is None:
        raise InputError("--applied names the steps made between two traces", place="--applied",
                         fix="pass the second trace with --verify AFTER")
    if verify is not None:
        if len(results) != 1:
            raise InputError(f"--verify compares one trace with another; got {len(results)} inputs", place="--verify",
                             fix="pass one BEFORE trace and --verify AFTER")
        after = _analyse(verify, registry, hw, ceilings, step, device)
        if len(after) != 1:
            raise InputError(f"holds {len(after)} results", file=verify, place="--verify", fix="pass one trace")
        rules = [r.strip() for r in applied.split(",") if r.strip()] if applied is not None else None
        plans[0] = plans[0].model_copy(update={"verification": verify_plan(results[0], after[0], rules)})
    return plans


def render_trace_plans(plans: list[TracePlanResult], fmt: str, output: Path | None) -> None:
    if fmt == "json":
        payload = [p.model_dump(mode="json") for p in plans]
        write_output(jsonout.dumps(payload[0] if len(payload) == 1 else payload, indent=2) + "\n", output)
        return
    if fmt == "md":
        parts = []
        for p in plans:
            parts.append(trace_plan_markdown(p))
            if p.verification is not None:
                parts.append(verification_markdown(p.verification))
        write_output("\n".join(parts), output)
        return
    console = Console(record=output is not None, highlight=False)
    for p in plans:
        console.print(trace_plan_renderable(p))
        if p.verification is not None:
            console.print(verification_renderable(p.verification))
    if output is not None:
        write_output(console.export_text(), output)
