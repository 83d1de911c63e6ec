"""The result of a classification: hardware used, per-kernel verdicts and the run summary.

One object feeds every renderer (table, JSON, Markdown); its JSON form is the documented,
stable ``--format json`` contract (docs/json-schema.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from roofline import __version__
from roofline.analysis.classify import KernelVerdict, TimeByBound, sort_by_time, time_by_bound
from roofline.analysis.findings import findings_for, trace_findings
from roofline.analysis.timeline_figures import StepFigures, StreamFigures, TimelineFigures
from roofline.analysis.roofline import Bound
from roofline.hardware.spec import HardwareSpec, Roofs

RESULT_SCHEMA_VERSION = 1


class RoofEntry(BaseModel):
    label: str
    value: float
    unit: str
    origin: str
    datasheet_value: float | None = None


class HardwareUsed(BaseModel):
    name: str
    display_name: str
    ceilings: str = Field(description="'datasheet', 'measured' or 'mixed'")
    ceilings_file: str | None = None
    memory_bandwidth_bytes_per_s: float
    launch_floor_eager_s: float
    launch_floor_graph_s: float
    roofs: list[RoofEntry]
    sm_count: int | None = None


class Summary(BaseModel):
    span_s: float = Field(description="wall span analysed (declared: sum of kernel times)")
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float = 0.0
    other_idle_s: float = 0.0
    time_by_bound: TimeByBound
    verdict: str = Field(description="compute | memory | launch | unknown | idle")
    verdict_share: float = Field(description="share of the span behind the verdict")
    findings: list[str] = Field(default_factory=list)
    launch_gaps: int | None = None
    kernels: int | None = None
    graph_kernels: int | None = None
    steps: list[StepFigures] = Field(default_factory=list)
    streams: list[StreamFigures] = Field(default_factory=list)
    lead_in_s: float = Field(0.0, description="idle from each step's start to its first GPU work, summed")
    syncs: int | None = Field(None, description="host synchronisations inside the profiled steps")
    sync_s: float | None = Field(None, description="host time blocked in those synchronisations, except each "
                                 "step's last (the one that ends the step)")
    communication_s: float = 0.0
    exposed_communication_s: float = Field(0.0, description="communication with no other GPU work beside it")


class ClassifyResult(BaseModel):
    schema_version: int = RESULT_SCHEMA_VERSION
    tool: str = f"roofline {__version__}"
    inputs: list[str]
    source_format: str
    title: str | None = None
    hardware: HardwareUsed
    summary: Summary
    kernels: list[KernelVerdict]
    warnings: list[str] = Field(default_factory=list)


def hardware_used(spec: HardwareSpec, roofs: Roofs, ceilings_file: str | None) -> HardwareUsed:
    entries = []
    for (unit, precision), roof in sorted(
        roofs.compute.items(), key=lambda item: (item[0][0].value, -item[1].value)
    ):
        datasheet = roofs.datasheet_compute.get((unit, precision))
        entries.append(
            RoofEntry(
                label=roof.label,
                value=roof.value,
                unit="FLOP/s",
                origin=roof.origin,
                datasheet_value=datasheet.value if datasheet and roof.origin != "datasheet" else None,
            )
        )
    entries.append(
        RoofEntry(
            label="DRAM bandwidth",
            value=roofs.memory_bandwidth.value,
            unit="B/s",
            origin=roofs.memory_bandwidth.origin,
            datasheet_value=(
                roofs.datasheet_memory_bandwidth.value
                if roofs.datasheet_memory_bandwidth and roofs.memory_bandwidth.origin != "datasheet"
                else None
            ),
        )
    )
    origins = {e.origin for e in entries} | {roofs.launch_floor_eager.origin}
    ceilings = origins.pop() if len(origins) == 1 else "mixed"
    return HardwareUsed(
        name=spec.name,
        display_name=spec.display_name,
        ceilings=ceilings,
        ceilings_file=ceilings_file,
        memory_bandwidth_bytes_per_s=roofs.memory_bandwidth.value,
        launch_floor_eager_s=roofs.launch_floor_eager.value,
        sm_count=spec.sm_count,
        launch_floor_graph_s=roofs.launch_floor_graph.value,
        roofs=entries,
    )


def summarize_kernels(verdicts: list[KernelVerdict]) -> Summary:
    """Summary of a set of kernels with no timeline (declared kernels, ncu exports): the span is
    the sum of kernel times and there is no idle time to account.
    """
    totals = time_by_bound(verdicts)
    span = sum(v.total_s for v in verdicts)
    verdict = totals.largest()
    share = getattr(totals, verdict.value) / span if span > 0 else 0.0
    return Summary(
        span_s=span,
        gpu_busy_s=span,
        idle_s=0.0,
        time_by_bound=totals,
        verdict=verdict.value,
        verdict_share=share,
        findings=findings_for(verdicts, totals, span, verdict),
    )


def summarize_trace(verdicts: list[KernelVerdict], timeline: TimelineFigures, extra_findings: list[str]) -> Summary:
    """Account the whole span: busy time apportioned to the bounds of the kernels that ran, plus
    idle time split into launch wait and other. Launch wait counts toward the launch verdict (SPEC
    §2: a GPU idle because the host cannot launch fast enough is launch-bound).
    """
    kernel_time = time_by_bound(verdicts)
    total = sum(kernel_time.model_dump().values())
    # Overlapping streams: kernel seconds can exceed busy seconds; share busy time by kernel time.
    scale = timeline.gpu_busy_s / total if total > 0 else 0.0
    busy_by_bound = {bound: seconds * scale for bound, seconds in kernel_time.model_dump().items()}
    candidates = {
        "compute": busy_by_bound["compute"],
        "memory": busy_by_bound["memory"],
        "launch": busy_by_bound["launch"] + timeline.launch_wait_s,
        "unknown": busy_by_bound["unknown"],
        "idle": timeline.other_idle_s,
    }
    verdict = max(candidates, key=lambda k: (candidates[k], k != "unknown"))
    share = candidates[verdict] / timeline.span_s if timeline.span_s > 0 else 0.0
    return Summary(
        span_s=timeline.span_s,
        gpu_busy_s=timeline.gpu_busy_s,
        idle_s=timeline.idle_s,
        launch_wait_s=timeline.launch_wait_s,
        other_idle_s=timeline.other_idle_s,
        time_by_bound=kernel_time,
        verdict=verdict,
        verdict_share=share,
        findings=trace_findings(verdicts, timeline, candidates, verdict) + extra_findings,
        launch_gaps=timeline.launch_gaps,
        kernels=timeline.kernels,
        graph_kernels=timeline.graph_kernels,
        steps=timeline.steps,
        streams=timeline.streams,
        lead_in_s=sum(s.lead_in_s for s in timeline.steps),
        communication_s=timeline.communication_s,
        exposed_communication_s=timeline.exposed_communication_s,
    )


def build_result(
    *,
    inputs: list[str],
    source_format: str,
    title: str | None,
    hardware: HardwareUsed,
    verdicts: list[KernelVerdict],
    summary: Summary | None = None,
    warnings: list[str] | None = None,
) -> ClassifyResult:
    ordered = sort_by_time(verdicts)
    return ClassifyResult(
        inputs=inputs,
        source_format=source_format,
        title=title,
        hardware=hardware,
        summary=summary if summary is not None else summarize_kernels(ordered),
        kernels=ordered,
        warnings=warnings or [],
    )


__all__ = ["Bound", "ClassifyResult", "HardwareUsed", "Summary", "build_result", "hardware_used"]
