"""Plan from what was profiled: classify (or read back) each trace, plan it, and optionally verify
the plan against a second trace. What ``roofline plan TRACE``, ``classify --plan``, the report's
plan sections and ``roofline.plan_trace()`` run."""

from __future__ import annotations

from pathlib import Path

from roofline.analysis.result import ClassifyResult
from roofline.app.classify import Reader, analyse_path
from roofline.opcost.model_layer import ModelLayer
from roofline.errors import InputError
from roofline.hardware.registry import Registry
from roofline.planner.trace_planner import plan_trace
from roofline.planner.trace_result import TracePlanResult, build_trace_plan
from roofline.planner.verify import verify_plan
from roofline.sources import read_input


def _analyse(path: Path, registry: Registry, hw: str, ceilings: str | None, step: int | None,
             device: int | None, reader: Reader, graph_capture: Path | None = None,
             model: ModelLayer | None = None) -> list[ClassifyResult]:
    results = [a.result for a in analyse_path(path, registry, hw, ceilings, step=step, device=device, reader=reader,
                                              graph_capture=graph_capture, model=model)]
    for result in results:
        if result.source_format in ("declared",):
            raise InputError("declared kernels have no measured timeline to plan from", file=path,
                             fix="plan a trace (kineto, Nsight Systems/Compute), or a serving config (docs/plan.md)")
    return results


def trace_plan_of(result: ClassifyResult, *, max_steps: int = 8) -> TracePlanResult:
    """The ordered plan for one classified trace."""
    if result.source_format == "declared":
        raise InputError("declared kernels have no measured timeline to plan from", file=result.inputs[0],
                         place="--plan", fix="drop --plan, or plan a serving config with roofline plan CONFIG")
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


def plan_traces(inputs: list[Path], registry: Registry, *, hw: str = "auto", ceilings: str | None = None,
                step: int | None = None, device: int | None = None, max_steps: int = 8, verify: Path | None = None,
                applied: list[str] | None = None, reader: Reader = read_input, graph_capture: Path | None = None,
                model: ModelLayer | None = None) -> list[TracePlanResult]:
    """One plan per trace (or per result of a classify JSON); with ``verify``, the first plan's
    predicted change checked against that second trace (``applied``: the rules that were made,
    default recognised from the two traces). ``graph_capture`` costs the planned traces' graph
    replays (the --verify trace is another run, with a capture of its own: not joined); ``model``
    costs the engine ops of both (docs/op-costs.md)."""
    results = [r for path in inputs
               for r in _analyse(Path(path), registry, hw, ceilings, step, device, reader, graph_capture, model)]
    plans = [trace_plan_of(r, max_steps=max_steps) for r in results]
    if applied is not None and verify is None:
        raise InputError("--applied names the steps made between two traces", place="--applied",
                         fix="pass the second trace with --verify AFTER")
    if verify is not None:
        if len(results) != 1:
            raise InputError(f"--verify compares one trace with another; got {len(results)} inputs", place="--verify",
                             fix="pass one BEFORE trace and --verify AFTER")
        after = _analyse(Path(verify), registry, hw, ceilings, step, device, reader, model=model)
        if len(after) != 1:
            raise InputError(f"holds {len(after)} results", file=verify, place="--verify", fix="pass one trace")
        plans[0] = plans[0].model_copy(update={"verification": verify_plan(results[0], after[0], applied)})
    return plans
