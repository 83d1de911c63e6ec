"""The result of a classification: hardware used, per-kernel verdicts and the run summary.

One object feeds every renderer (table, JSON, Markdown); its JSON form is the documented,
stable ``--format json`` contract (docs/json-schema.md).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from roofline.version import __version__
from roofline.analysis.classify import KernelVerdict, TimeByBound, sort_by_time, time_by_bound
from roofline.analysis.findings import findings_for, trace_findings
from roofline.analysis.profiler_overhead import overhead_basis, profiler_overhead_s, removable_overhead_s
from roofline.analysis.timeline_figures import StepFigures, StreamFigures, TimelineFigures
from roofline.analysis.roofline import Bound
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.presentable import Presentable
from roofline.units import fmt_seconds

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


# MFU/MBU rest on the costed kernels; under this share of the (non-collective) kernel time they
# would describe a minority of the work, and are withheld with the reason.
UTILISATION_MIN_COVERAGE = 0.5


class Utilisation(BaseModel):
    """Model FLOP and memory-bandwidth utilisation of one trace (seed 002, "Measurement at Scale")."""

    mfu: float | None = Field(description="costed FLOPs / (span × the peak of the roof carrying most FLOPs)")
    mbu: float | None = Field(description="costed DRAM bytes / (span × DRAM bandwidth)")
    flops: float | None = Field(description="model FLOPs of the kernels with a cost")
    bytes: float | None = Field(description="minimum DRAM bytes of the kernels and copies with a cost")
    peak_label: str | None = Field(description="the compute roof MFU is taken against, e.g. 'bf16 matrix'")
    peak_flops_per_s: float | None
    bandwidth_bytes_per_s: float
    flops_coverage: float = Field(description="share of kernel time (collectives aside) whose FLOPs are known")
    bytes_coverage: float = Field(description="share of kernel and copy time (collectives aside) whose bytes are known")
    notes: list[str] = Field(default_factory=list, description="why a figure is withheld, or what it rests on")


class Summary(BaseModel):
    span_s: float = Field(description="wall span analysed (declared: sum of kernel times)")
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float = 0.0
    other_idle_s: float = 0.0
    time_by_bound: TimeByBound
    verdict: str = Field(description="compute | memory | launch | latency | communication | unknown | "
                         "host-stall | idle")
    verdict_share: float = Field(description="share of the span behind the verdict")
    findings: list[str] = Field(default_factory=list)
    launch_gaps: int | None = None
    kernels: int | None = None
    graph_kernels: int | None = None
    steps: list[StepFigures] = Field(default_factory=list)
    streams: list[StreamFigures] = Field(default_factory=list)
    host_stall_s: float = Field(0.0, description="idle before a step's first launch while the host launched "
                                "nothing (data loading, Python between steps)")
    lead_in_s: float = Field(0.0, description="idle while work was queued before its first GPU activity (a step's "
                             "first launch call to its first kernel; without steps, the span's start to the first)")
    graph_gap_s: float = Field(0.0, description="idle inside CUDA-graph replays, between their kernels")
    syncs: int | None = Field(None, description="host synchronisations inside the profiled steps")
    sync_s: float | None = Field(None, description="host time blocked in those synchronisations, except each "
                                 "step's last (the one that ends the step)")
    communication_s: float = 0.0
    exposed_communication_s: float = Field(0.0, description="communication with no other GPU work beside it")
    utilisation: Utilisation | None = Field(None, description="MFU/MBU of a trace (None for declared kernels)")
    host_ops: int | None = Field(None, description="cpu_ops the profiler recorded in the span")
    profiler_overhead_s: float | None = Field(None, description="host time the profiler itself added: host_ops × "
                                              "the per-op overhead (analysis/profiler_overhead.py)")
    profiler_wait_s: float | None = Field(None, description="the part of launch_wait_s that overhead explains, taken "
                                          "out of the launch verdict (the host never issues faster than the launch "
                                          "floor)")
    caveats: list[str] = Field(default_factory=list, description="what qualifies the verdict (a truncated or "
                               "damaged trace, a launch wait within the profiler's overhead): shown with it")


class ClassifyResult(Presentable, BaseModel):
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


def matrix_precisions(hardware: HardwareUsed | None) -> frozenset[str] | None:
    """Precisions the device has matrix (tensor core / MFMA) roofs for, from its roof labels; None
    when the device is not known (advice then names no precision)."""
    if hardware is None:
        return None
    return frozenset(r.label.split()[0] for r in hardware.roofs if r.label.endswith(" matrix"))


def summarize_kernels(verdicts: list[KernelVerdict], hardware: HardwareUsed | None = None) -> Summary:
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
        findings=findings_for(verdicts, totals, span, verdict, matrix_precisions(hardware)),
    )


def verdict_candidates(kernel_time: TimeByBound, timeline: TimelineFigures, launch_wait_s: float) -> dict[str, float]:
    """Seconds of the span behind each possible verdict.

    Communication costs the step only where it is exposed (no other GPU work beside it), so the
    communication candidate is the timeline's exposed communication; the rest of the busy time is
    shared among the other bounds by their kernel time (streams overlap: kernel seconds can exceed
    busy seconds). Launch wait (net of the profiler's own overhead) counts toward launch (SPEC §2:
    a GPU idle because the host cannot launch fast enough is launch-bound); host stall is a verdict
    of its own; graph gaps and other idle count as idle; lead-in is no bound's.
    """
    times = kernel_time.model_dump()
    exposed = min(timeline.exposed_communication_s, timeline.gpu_busy_s)
    others = {bound: seconds for bound, seconds in times.items() if bound != Bound.COMMUNICATION.value}
    total = sum(others.values())
    scale = max(timeline.gpu_busy_s - exposed, 0.0) / total if total > 0 else 0.0
    busy = {bound: seconds * scale for bound, seconds in others.items()}
    return {
        "compute": busy["compute"],
        "memory": busy["memory"],
        "launch": busy["launch"] + launch_wait_s,
        "latency": busy["latency"],
        "communication": exposed,
        "unknown": busy["unknown"],
        "host-stall": timeline.host_stall_s,
        "idle": timeline.other_idle_s + timeline.graph_gap_s,
    }


def utilisation(verdicts: list[KernelVerdict], span_s: float, bandwidth_bytes_per_s: float) -> Utilisation:
    """MFU and MBU over the span, withheld when the costed kernels are a minority of the time."""
    measured = [v for v in verdicts if v.time_basis == "measured" and v.bound is not Bound.COMMUNICATION]
    kernels = [v for v in measured if v.kind == "kernel"]
    kernel_time = sum(v.total_s for v in kernels)
    known = [v for v in kernels if v.flops is not None]
    flops = sum(v.flops or 0.0 for v in known) if known else None
    dram = [v for v in measured if v.kind == "kernel" or v.bandwidth_bytes_per_s == bandwidth_bytes_per_s]
    dram_time = sum(v.total_s for v in dram)
    moved = [v for v in dram if v.bytes is not None]
    nbytes = sum(v.bytes or 0.0 for v in moved) if moved else None
    by_roof: dict[tuple[str, float], float] = {}
    for v in known:
        if v.roof and v.peak_flops_per_s and v.flops:
            key = (v.roof, v.peak_flops_per_s)
            by_roof[key] = by_roof.get(key, 0.0) + v.flops
    label, peak = max(by_roof, key=lambda k: by_roof[k]) if by_roof else (None, None)
    flops_coverage = sum(v.total_s for v in known) / kernel_time if kernel_time > 0 else 0.0
    bytes_coverage = sum(v.total_s for v in moved) / dram_time if dram_time > 0 else 0.0
    notes = []
    mfu = flops / (span_s * peak) if flops and peak and span_s > 0 else None
    mbu = nbytes / (span_s * bandwidth_bytes_per_s) if nbytes and span_s > 0 else None
    if mfu is not None and flops_coverage < UTILISATION_MIN_COVERAGE:
        notes.append(f"MFU withheld: only {100 * flops_coverage:.0f}% of kernel time has a FLOPs model, so it would "
                     "describe a minority of the work")
        mfu = None
    if mbu is not None and bytes_coverage < UTILISATION_MIN_COVERAGE:
        notes.append(f"MBU withheld: only {100 * bytes_coverage:.0f}% of kernel and copy time has a bytes model")
        mbu = None
    if not known:
        notes.append("MFU unknown: no kernel has a FLOPs model (record_shapes=True?)")
    elif flops_coverage < 1.0 and mfu is not None:
        notes.append(f"MFU and MBU count the costed {100 * flops_coverage:.0f}% of kernel time: lower bounds")
    return Utilisation(mfu=mfu, mbu=mbu, flops=flops, bytes=nbytes, peak_label=label, peak_flops_per_s=peak,
                       bandwidth_bytes_per_s=bandwidth_bytes_per_s, flops_coverage=flops_coverage,
                       bytes_coverage=bytes_coverage, notes=notes)


def summarize_trace(
    verdicts: list[KernelVerdict],
    timeline: TimelineFigures,
    extra_findings: list[str],
    hardware: HardwareUsed | None = None,
    *,
    host_ops: int | None = None,
    launch_floor_s: float = 0.0,
    caveats: list[str] | None = None,
) -> Summary:
    """Account the whole span: busy time apportioned to the bounds of the kernels that ran (exposed
    communication to communication), plus the idle buckets (verdict_candidates); the profiler's
    own host overhead is taken out of the launch wait before the verdict."""
    kernel_time = time_by_bound(verdicts)
    overhead = profiler_overhead_s(host_ops) if host_ops is not None else None
    eager = sum(v.count for v in verdicts if v.kind == "kernel" and not v.in_graph)
    removed = removable_overhead_s(overhead or 0.0, launch_wait_s=timeline.launch_wait_s, busy_s=timeline.gpu_busy_s,
                                   eager_launches=eager, launch_floor_s=launch_floor_s)
    candidates = verdict_candidates(kernel_time, timeline, timeline.launch_wait_s - removed)
    verdict = max(candidates, key=lambda k: (candidates[k], k != "unknown"))
    share = candidates[verdict] / timeline.span_s if timeline.span_s > 0 else 0.0
    notes = list(caveats or [])
    measured = dict(candidates, launch=candidates["launch"] + removed)
    if removed and verdict != "launch" and max(measured, key=lambda k: (measured[k], k != "unknown")) == "launch":
        notes.append(f"launch-bound as measured, but within the profiler's own host overhead ({fmt_seconds(removed)} "
                     f"of the launch wait ≈ {overhead_basis(host_ops or 0)})")
    return Summary(
        span_s=timeline.span_s,
        gpu_busy_s=timeline.gpu_busy_s,
        idle_s=timeline.idle_s,
        launch_wait_s=timeline.launch_wait_s,
        other_idle_s=timeline.other_idle_s,
        host_stall_s=timeline.host_stall_s,
        lead_in_s=timeline.lead_in_s,
        graph_gap_s=timeline.graph_gap_s,
        time_by_bound=kernel_time,
        verdict=verdict,
        verdict_share=share,
        findings=trace_findings(verdicts, timeline, candidates, verdict, matrix_precisions(hardware),
                                profiler_s=removed) + extra_findings,
        launch_gaps=timeline.launch_gaps,
        kernels=timeline.kernels,
        graph_kernels=timeline.graph_kernels,
        steps=timeline.steps,
        streams=timeline.streams,
        communication_s=timeline.communication_s,
        exposed_communication_s=timeline.exposed_communication_s,
        utilisation=(utilisation(verdicts, timeline.span_s, hardware.memory_bandwidth_bytes_per_s)
                     if hardware is not None else None),
        host_ops=host_ops,
        profiler_overhead_s=overhead,
        profiler_wait_s=removed if overhead is not None else None,
        caveats=notes,
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
        summary=summary if summary is not None else summarize_kernels(ordered, hardware),
        kernels=ordered,
        warnings=warnings or [],
    )


__all__ = ["Bound", "ClassifyResult", "HardwareUsed", "Summary", "Utilisation", "build_result", "hardware_used"]
