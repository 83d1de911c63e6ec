"""Plot-ready models of a serving plan: the per-phase time breakdown after each step, the batch
sweep's latency/throughput frontier, and the baseline's predicted ops on the device roofline. Pure
functions of the plan result (and of sweep rows, computed by the caller); ``roofline.report.charts.plan_mpl``
draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from roofline.analysis.result import HardwareUsed
from roofline.errors import InputError
from roofline.planner.result import Metrics, PlanResult
from roofline.report.charts.roofline import (
    BOUND_COLOURS,
    BOUNDS,
    DEFAULT_LABELS,
    KernelPoint,
    RooflineFigure,
    _labelled,
    roof_labels_for,
    roofs_and_slopes_for,
)
from roofline.units import fmt_seconds

# The terms of a phase's time, in the order they stack: what the plan's breakdown dicts hold.
TERMS = ("compute", "memory", "launch", "communication", "host", "queue")
TERM_COLOURS = {**{b: BOUND_COLOURS[b] for b in ("compute", "memory", "launch")}, "communication": "#009E73",
                "host": "#CC79A7", "queue": "#8C8C8C"}
TERM_LABELS = {
    "compute": "compute-bound kernels",
    "memory": "memory-bound kernels",
    "launch": "launch: floor-bound kernels, gaps, host wait",
    "communication": "communication (tensor-parallel all-reduce)",
    "host": "engine host time (scheduler, per-request cost)",
    "queue": "waiting for a slot (concurrency beyond capacity)",
}
STEP_LABEL_WIDTH = 44
# The roof an op is judged against: GEMMs and attention run on the matrix units, the rest on vector.
_MATRIX_KINDS = ("gemm", "attention")


def _short(text: str, width: int = STEP_LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


@dataclass(frozen=True)
class StepBar:
    """One state of the serving config: the baseline, or the config after a step."""

    label: str
    prefill_s: dict[str, float]  # per term, per GPU, one prefill (≈ TTFT)
    decode_s: dict[str, float]  # per term, per GPU, one decode step (≈ ITL)
    ttft_s: float
    itl_s: float
    throughput_tok_s: float
    batch: int
    slo_met: dict[str, bool]


@dataclass(frozen=True)
class PlanStepsFigure:
    title: str
    subtitle: str
    bars: list[StepBar]
    slo: dict[str, float]  # ttft_ms / itl_ms / throughput_tok_s targets that are set, in SI (s, tok/s)
    notes: list[str] = field(default_factory=list)


def _bar(label: str, m: Metrics) -> StepBar:
    return StepBar(
        label=label,
        prefill_s={t: m.prefill_breakdown_s.get(t, 0.0) for t in TERMS},
        decode_s={t: m.decode_breakdown_s.get(t, 0.0) for t in TERMS},
        ttft_s=m.ttft_s,
        itl_s=m.itl_s,
        throughput_tok_s=m.throughput_tok_s,
        batch=m.batch,
        slo_met={name: ratio <= 1.0 for name, ratio in m.slo_ratios.items()},
    )


def slo_targets(result: PlanResult) -> dict[str, float]:
    """The SLOs that are set, in SI units: ``ttft`` and ``itl`` in seconds, ``throughput`` in tok/s."""
    out: dict[str, float] = {}
    for key, name, scale in (("ttft_ms", "ttft", 1e-3), ("itl_ms", "itl", 1e-3), ("throughput_tok_s", "throughput", 1.0)):
        value = result.slo.get(key)
        if value is not None:
            out[name] = float(value) * scale
    return out


def _source(result: PlanResult) -> str:
    return Path(result.config_file).name if result.config_file else "serving config"


def _plan_name(result: PlanResult) -> str:
    return f"{_source(result)}: {result.model} on {result.gpus}× {result.hardware}"


def plan_steps_figure(result: PlanResult) -> PlanStepsFigure:
    """The baseline, then the config after each step: one before/after pair per consecutive bars."""
    bars = [_bar("baseline", result.baseline)]
    bars += [_bar(_short(f"{s.index}. {s.technique}"), s.after) for s in result.steps]
    slo = slo_targets(result)
    notes = ["Bars: predicted time per GPU of one prefill (TTFT) and one decode step (ITL), split by the iron-law "
             "term that bounds each kernel; ✓/✗ against the SLO."]
    if not result.steps:
        notes.append(f"No steps: {result.stop_reason}.")
    elif result.unmet_slos:
        notes.append(f"Unmet after the plan: {', '.join(result.unmet_slos)} ({result.stop_reason}).")
    wanted = ", ".join(
        f"{name.upper() if name != 'throughput' else 'throughput'} "
        + (fmt_seconds(value) if name != "throughput" else f"{value:,.0f} tok/s")
        for name, value in slo.items()
    )
    return PlanStepsFigure(
        title=f"Plan steps · {result.model} on {result.gpus}× {result.hardware}",
        subtitle=f"{_source(result)} · {result.ceilings} ceilings" + (f" · SLOs: {wanted}" if wanted else ""),
        bars=bars,
        slo=slo,
        notes=notes,
    )


# --- the batch sweep ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FrontierPoint:
    batch: int
    ttft_s: float
    itl_s: float
    throughput_tok_s: float
    decode_bound: str


@dataclass(frozen=True)
class FrontierCurve:
    label: str  # "as configured" / "after the plan"
    points: list[FrontierPoint]
    failed: list[tuple[int, str]]  # (batch, why): e.g. does not fit in memory
    chosen: FrontierPoint | None  # the config's own batch (baseline or the plan's final)


@dataclass(frozen=True)
class FrontierFigure:
    title: str
    subtitle: str
    curves: list[FrontierCurve]
    slo: dict[str, float]
    notes: list[str] = field(default_factory=list)


def default_sweep(max_batches: Sequence[int], limit: int = 1024) -> list[int]:
    """Powers of two up to the largest batch that fits, and each config's own memory limit."""
    top = min(max(max_batches, default=1), limit)
    batches = {1 << i for i in range(top.bit_length()) if 1 << i <= top}
    batches |= {b for b in max_batches if 1 <= b <= limit}
    return sorted(batches)


def _curve(label: str, rows: Sequence[Mapping[str, object]], chosen: Metrics | None) -> FrontierCurve:
    points, failed = [], []
    for row in rows:
        if row.get("error"):
            failed.append((int(row["batch"]), str(row["error"])))  # type: ignore[call-overload]
            continue
        points.append(FrontierPoint(
            batch=int(row["batch"]),  # type: ignore[call-overload]
            ttft_s=float(row["ttft_s"]),  # type: ignore[arg-type]
            itl_s=float(row["itl_s"]),  # type: ignore[arg-type]
            throughput_tok_s=float(row["throughput_tok_s"]),  # type: ignore[arg-type]
            decode_bound=str(row["decode_bound"]),
        ))
    own = None
    if chosen is not None:
        own = FrontierPoint(chosen.batch, chosen.ttft_s, chosen.itl_s, chosen.throughput_tok_s, chosen.decode_bound)
    return FrontierCurve(label, sorted(points, key=lambda p: p.batch), failed, own)


def frontier_figure(
    result: PlanResult,
    baseline_rows: Sequence[Mapping[str, object]],
    final_rows: Sequence[Mapping[str, object]] | None = None,
) -> FrontierFigure:
    """The sweep of the config as given (``baseline_rows``) and, when the plan changed it, of the
    plan's final config (``final_rows``): inter-token latency against throughput, one point per batch.
    """
    curves = [_curve("as configured", baseline_rows, result.baseline)]
    if final_rows is not None and result.steps:
        curves.append(_curve("after the plan", final_rows, result.final))
    if not any(c.points for c in curves):
        reasons = "; ".join(f"batch {b}: {why}" for c in curves for b, why in c.failed[:3])
        raise InputError(f"no batch of the sweep can be served ({reasons})", place="--sweep",
                         fix="sweep smaller batches, e.g. --sweep batch=1,2,4")
    notes = []
    for curve in curves:
        for batch, why in curve.failed:
            notes.append(f"{curve.label}: batch {batch} not served — {why}")
        ttfts = [p.ttft_s for p in curve.points]
        if ttfts:
            span = fmt_seconds(min(ttfts)) if max(ttfts) <= min(ttfts) * 1.01 else (
                f"{fmt_seconds(min(ttfts))}–{fmt_seconds(max(ttfts))}")
            notes.append(f"{curve.label}: TTFT {span} across the sweep")
    return FrontierFigure(
        title=f"Batch sweep · {result.model} on {result.gpus}× {result.hardware}",
        subtitle=f"{_source(result)} · latency/throughput frontier: each point is one batch size, "
                 f"{result.ceilings} ceilings",
        curves=curves,
        slo=slo_targets(result),
        notes=notes,
    )


# --- the plan's ops on the roofline --------------------------------------------------------------


def plan_roofline_figure(
    result: PlanResult, hardware: HardwareUsed, *, decode_steps: int, labels: int = DEFAULT_LABELS
) -> RooflineFigure:
    """The baseline's prefill and decode ops (per GPU, all layers) at their predicted time; each
    op's share of time weighs one prefill against ``decode_steps`` decode steps (a request's output).
    """
    weighted = [(result.prefill, 1), (result.decode, max(decode_steps, 1))]
    total_s = sum(op.gpu_s * weight for phase, weight in weighted for op in phase.ops)
    points: list[KernelPoint] = []
    used: set[str] = set()
    skipped = 0
    for phase, weight in weighted:
        for op in phase.ops:
            if op.flops <= 0 or op.bytes <= 0 or op.gpu_s <= 0 or op.bound not in BOUNDS:
                skipped += 1  # embedding lookups, all-reduces, copies: no FLOPs to place
                continue
            name = f"{phase.phase} · {op.name}"
            points.append(KernelPoint(
                name=name, short_name=name, op=None, bound=op.bound, ai=op.flops / op.bytes,
                flops_per_s=op.flops / op.gpu_s, share=op.gpu_s * weight / total_s if total_s else 0.0,
                predicted=True, above_roof=False,
            ))
            used.add(f"{op.precision} {'matrix' if op.kind in _MATRIX_KINDS else 'vector'}")
    if not points:
        raise InputError("the plan has no op with both FLOPs and bytes to place on the roofline",
                         file=result.config_file, fix="plot --steps or --frontier instead")
    points.sort(key=lambda p: (-p.share, p.name))
    roofs, slopes = roofs_and_slopes_for(hardware, roof_labels_for(hardware, used))
    notes = [
        "hollow: predicted ops of the config as given, at their predicted time (efficiency derates and launch "
        f"floor included); area: share of one request's GPU time (1 prefill + {decode_steps} decode steps)",
    ]
    if skipped:
        notes.append(f"{skipped} op(s) not placed: no FLOPs (embedding, all-reduce, copies)")
    return RooflineFigure(
        title=f"Roofline · {hardware.display_name}",
        subtitle=f"{_plan_name(result)} · baseline ops per GPU · {result.ceilings} ceilings",
        roofs=roofs,
        slopes=slopes,
        points=_labelled(_phases_first(points, labels), labels),
        notes=notes,
    )


def _phases_first(points: list[KernelPoint], labels: int) -> list[KernelPoint]:
    """Points by share, reordered so the first ``labels`` include each phase's largest ops: decode
    dominates a request's time, but the prefill ops are what TTFT is made of."""
    per_phase = max(labels // 3, 1) if labels else 0
    chosen: list[KernelPoint] = []
    for phase in dict.fromkeys(p.name.split(" · ")[0] for p in points):
        chosen += [p for p in points if p.name.startswith(phase + " · ")][:per_phase]
    chosen += [p for p in points if p not in chosen][: max(labels - len(chosen), 0)]
    chosen.sort(key=lambda p: (-p.share, p.name))
    return chosen + [p for p in points if p not in chosen]
