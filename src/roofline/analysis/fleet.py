"""Many ranks: per-rank figures from each rank's classify result (the map), and the fleet summary
— stragglers, spread, fleet MFU/MBU, scaling tax — as a pure function of those figures (the
reduce). Neither touches files: the map's input is a :class:`ClassifyResult`, its output a
:class:`RankFigures` of a few hundred bytes, so the map can run anywhere (a process pool, Dask)
and only the figures travel back.

Definitions (seed 002, "Measurement at Scale"):

* **MFU** = model FLOPs / (wall span × R_peak): the FLOPs the op-shape formulas give for the
  kernels that ran (``flops_coverage`` says what share of kernel time has known FLOPs), over the
  profiled span, against the compute roof that carries most of those FLOPs (e.g. bf16 matrix).
* **MBU** = minimum DRAM bytes / (wall span × DRAM bandwidth).
* **Fleet MFU** (synchronous data parallelism): every rank waits for the slowest, so
  Σ FLOPs / (N × R_peak × slowest span).
* **Scaling tax** = 1 − fleet MFU / reference MFU, the reference being a single-node trace of the
  same work (``--reference``); MBU where FLOPs are unknown.
* **Straggler**: a rank whose step time or kernel time exceeds the median by more than
  max(k × 1.4826 × MAD, min_excess × median) — median and MAD (median absolute deviation) are not
  moved by the straggler itself, 1.4826 × MAD estimates σ for normal noise, and ``min_excess``
  keeps identical ranks (MAD = 0) from flagging a 0.1 % jitter.

These figures hold only for the ranks of one job. Traces that do not say they are one job
(:class:`JobCheck`) are summarised side by side (:func:`trace_set`), with none of the above.
"""

from __future__ import annotations

import statistics
from collections import Counter

from pydantic import BaseModel, Field

from roofline.version import __version__
from roofline.analysis.result import ClassifyResult
from roofline.presentable import Presentable

FLEET_SCHEMA_VERSION = 1
# Straggler rule defaults: 3 σ-equivalents, and at least 5 % slower than the median rank.
STRAGGLER_K = 3.0
STRAGGLER_MIN_EXCESS = 0.05
MAD_TO_SIGMA = 1.4826
STRAGGLER_METRICS = ("step_time_s", "kernel_time_s")


class RankFigures(BaseModel):
    """What one rank's classification contributes to the fleet (the map's output)."""

    rank: int | None = Field(description="the rank in its job; null for a trace of a set of separate traces")
    file: str
    hardware: str
    verdict: str
    verdict_share: float
    span_s: float
    step_time_s: float = Field(description="median ProfilerStep span; the whole span without step markers")
    steps: int
    kernel_time_s: float = Field(description="sum of measured kernel durations (all streams)")
    gpu_busy_s: float
    idle_s: float
    launch_wait_s: float
    exposed_communication_s: float = 0.0
    flops: float | None = Field(description="model FLOPs of the kernels with known costs")
    bytes: float | None = Field(description="minimum DRAM bytes of the kernels and copies with known costs")
    flops_coverage: float = Field(description="share of kernel time whose FLOPs are known")
    peak_flops_per_s: float | None
    peak_label: str | None = Field(description="the compute roof MFU is taken against, e.g. 'bf16 matrix'")
    bandwidth_bytes_per_s: float
    mfu: float | None
    mbu: float | None
    warnings: int = 0


class Spread(BaseModel):
    min: float
    median: float
    max: float
    mad: float = Field(description="median absolute deviation from the median")
    max_over_median: float | None


class Straggler(BaseModel):
    rank: int
    metric: str
    value: float
    median: float
    threshold: float
    excess: float = Field(description="value / median - 1")


class StragglerRule(BaseModel):
    k: float = STRAGGLER_K
    min_excess: float = STRAGGLER_MIN_EXCESS
    description: str = ""


class FleetFigures(BaseModel):
    ranks: int
    slowest_span_s: float
    mfu: float | None = Field(description="Σ FLOPs / (N × R_peak × slowest span)")
    mbu: float | None
    verdicts: dict[str, int]


class ReferenceFigures(BaseModel):
    file: str
    span_s: float
    step_time_s: float
    mfu: float | None
    mbu: float | None


class RankFailure(BaseModel):
    rank: int | None
    file: str
    error: str


class JobCheck(BaseModel):
    """Whether a directory's traces say they are the ranks of one job, and on what evidence."""

    one_job: bool
    basis: str = Field(description="'distributedInfo' (the traces say so), 'asserted' (--one-job) or 'none'")
    traces: int
    world_size: int | None = None
    backend: str | None = None
    job_id: str | None = Field(None, description="a job identifier all traces share, as 'key=value'")
    reasons: list[str] = Field(default_factory=list, description="why the traces are not one job")


class FleetResult(Presentable, BaseModel):
    schema_version: int = FLEET_SCHEMA_VERSION
    tool: str = f"roofline {__version__}"
    kind: str = "fleet"
    directory: str
    job: JobCheck | None = None
    hardware: list[str]
    ranks: list[RankFigures]
    stragglers: list[Straggler]
    spread: dict[str, Spread]
    fleet: FleetFigures
    reference: ReferenceFigures | None = None
    scaling_tax: float | None = Field(None, description="1 - fleet MFU / reference MFU (MBU without FLOPs)")
    scaling_tax_basis: str | None = None
    rule: StragglerRule
    failed: list[RankFailure] = Field(default_factory=list, description="ranks whose trace could not be read")
    warnings: list[str] = Field(default_factory=list)


class TraceSetResult(Presentable, BaseModel):
    """Traces of one directory that are not the ranks of one job: each on its own, side by side."""

    schema_version: int = FLEET_SCHEMA_VERSION
    tool: str = f"roofline {__version__}"
    kind: str = "traces"
    directory: str
    job: JobCheck
    hardware: list[str]
    traces: list[RankFigures]
    verdicts: dict[str, int]
    failed: list[RankFailure] = Field(default_factory=list, description="traces that could not be read")
    warnings: list[str] = Field(default_factory=list)


def rank_figures(result: ClassifyResult, rank: int | None, file: str) -> RankFigures:
    """One rank's fleet figures from its classify result (pure)."""
    summary = result.summary
    kernels = [v for v in result.kernels if v.kind == "kernel" and v.time_basis == "measured"]
    kernel_time = sum(v.total_s for v in kernels)
    known = [v for v in kernels if v.flops is not None]
    flops = sum(v.flops or 0.0 for v in known) if known else None
    moved = [v for v in result.kernels if v.bytes is not None and v.time_basis == "measured"
             and (v.kind == "kernel" or v.bandwidth_bytes_per_s == result.hardware.memory_bandwidth_bytes_per_s)]
    nbytes = sum(v.bytes or 0.0 for v in moved) if moved else None
    # MFU's roof: the compute roof that carries most of the known FLOPs.
    by_roof: Counter[tuple[str, float]] = Counter()
    for v in known:
        if v.roof and v.peak_flops_per_s:
            by_roof[(v.roof, v.peak_flops_per_s)] += v.flops or 0.0
    label, peak = by_roof.most_common(1)[0][0] if by_roof else (None, None)
    steps = [s.span_s for s in summary.steps]
    span = summary.span_s
    bandwidth = result.hardware.memory_bandwidth_bytes_per_s
    return RankFigures(
        rank=rank,
        file=file,
        hardware=result.hardware.name,
        verdict=summary.verdict,
        verdict_share=summary.verdict_share,
        span_s=span,
        step_time_s=statistics.median(steps) if steps else span,
        steps=len(steps),
        kernel_time_s=kernel_time,
        gpu_busy_s=summary.gpu_busy_s,
        idle_s=summary.idle_s,
        launch_wait_s=summary.launch_wait_s,
        exposed_communication_s=summary.exposed_communication_s,
        flops=flops,
        bytes=nbytes,
        flops_coverage=sum(v.total_s for v in known) / kernel_time if kernel_time > 0 else 0.0,
        peak_flops_per_s=peak,
        peak_label=label,
        bandwidth_bytes_per_s=bandwidth,
        mfu=flops / (span * peak) if flops is not None and peak and span > 0 else None,
        mbu=nbytes / (span * bandwidth) if nbytes is not None and span > 0 else None,
        warnings=len(result.warnings),
    )


def spread(values: list[float]) -> Spread:
    median = statistics.median(values)
    mad = statistics.median(abs(v - median) for v in values)
    return Spread(min=min(values), median=median, max=max(values), mad=mad,
                  max_over_median=max(values) / median if median > 0 else None)


def stragglers(ranks: list[RankFigures], k: float = STRAGGLER_K,
               min_excess: float = STRAGGLER_MIN_EXCESS) -> list[Straggler]:
    """Ranks slower than median + max(k·1.4826·MAD, min_excess·median) in step or kernel time.
    Fewer than three ranks have no meaningful median: nobody is flagged."""
    if any(r.rank is None for r in ranks):
        raise ValueError("stragglers are ranks of one job: every figure needs its rank")
    if len(ranks) < 3:
        return []
    out = []
    for metric in STRAGGLER_METRICS:
        values = [getattr(r, metric) for r in ranks]
        s = spread(values)
        threshold = s.median + max(k * MAD_TO_SIGMA * s.mad, min_excess * s.median)
        for r, value in zip(ranks, values):
            if value > threshold and s.median > 0:
                out.append(Straggler(rank=int(r.rank or 0), metric=metric, value=value, median=s.median,
                                     threshold=threshold, excess=value / s.median - 1.0))
    return sorted(out, key=lambda s: (s.rank, s.metric))


def reduce_fleet(
    ranks: list[RankFigures],
    *,
    directory: str,
    reference: RankFigures | None = None,
    k: float = STRAGGLER_K,
    min_excess: float = STRAGGLER_MIN_EXCESS,
    failed: list[RankFailure] | None = None,
    warnings: list[str] | None = None,
    job: JobCheck | None = None,
) -> FleetResult:
    """The fleet summary of per-rank figures (pure; order-independent: ranks are sorted)."""
    if not ranks:
        raise ValueError("no ranks to summarise")
    if any(r.rank is None for r in ranks):
        raise ValueError("every rank of a fleet needs its rank: separate traces go to trace_set")
    ranks = sorted(ranks, key=lambda r: r.rank or 0)
    notes = list(warnings or [])
    hardware = sorted({r.hardware for r in ranks})
    if len(hardware) > 1:
        notes.append(f"ranks ran on different devices ({', '.join(hardware)}): figures are per rank's own roofs")
    spreads = {metric: spread([getattr(r, metric) for r in ranks]) for metric in STRAGGLER_METRICS + ("span_s",)}
    for metric in ("mfu", "mbu"):
        values = [getattr(r, metric) for r in ranks if getattr(r, metric) is not None]
        if values:
            spreads[metric] = spread(values)
    slowest = max(r.span_s for r in ranks)
    n = len(ranks)
    peaks = {r.peak_flops_per_s for r in ranks}
    fleet_mfu = None
    if all(r.flops is not None for r in ranks) and len(peaks) == 1 and None not in peaks and slowest > 0:
        fleet_mfu = sum(r.flops or 0.0 for r in ranks) / (n * peaks.pop() * slowest)  # type: ignore[operator]
    bandwidths = {r.bandwidth_bytes_per_s for r in ranks}
    fleet_mbu = None
    if all(r.bytes is not None for r in ranks) and len(bandwidths) == 1 and slowest > 0:
        fleet_mbu = sum(r.bytes or 0.0 for r in ranks) / (n * bandwidths.pop() * slowest)
    tax = basis = None
    ref = None
    if reference is not None:
        ref = ReferenceFigures(file=reference.file, span_s=reference.span_s, step_time_s=reference.step_time_s,
                               mfu=reference.mfu, mbu=reference.mbu)
        if fleet_mfu is not None and reference.mfu:
            tax, basis = 1.0 - fleet_mfu / reference.mfu, "mfu"
        elif fleet_mbu is not None and reference.mbu:
            tax, basis = 1.0 - fleet_mbu / reference.mbu, "mbu"
        else:
            notes.append("no scaling tax: neither FLOPs nor bytes are known for both the fleet and the reference")
    rule = StragglerRule(k=k, min_excess=min_excess, description=(
        f"step or kernel time > median + max({k:g} x 1.4826 x MAD, {min_excess:.0%} of the median)"))
    return FleetResult(
        directory=directory,
        job=job,
        hardware=hardware,
        ranks=ranks,
        stragglers=stragglers(ranks, k, min_excess),
        spread=spreads,
        fleet=FleetFigures(ranks=n, slowest_span_s=slowest, mfu=fleet_mfu, mbu=fleet_mbu,
                           verdicts=dict(Counter(r.verdict for r in ranks).most_common())),
        reference=ref,
        scaling_tax=tax,
        scaling_tax_basis=basis,
        rule=rule,
        failed=sorted(failed or [], key=lambda f: f.rank or 0),
        warnings=notes,
    )


def trace_set(traces: list[RankFigures], *, directory: str, job: JobCheck,
              failed: list[RankFailure] | None = None, warnings: list[str] | None = None) -> TraceSetResult:
    """Separate traces side by side (pure): each trace's own figures, in file order, and nothing that
    assumes they ran together — no stragglers, no fleet MFU, no scaling tax."""
    if not traces:
        raise ValueError("no traces to show")
    traces = sorted(traces, key=lambda t: t.file)
    return TraceSetResult(
        directory=directory,
        job=job,
        hardware=sorted({t.hardware for t in traces}),
        traces=traces,
        verdicts=dict(Counter(t.verdict for t in traces).most_common()),
        failed=sorted(failed or [], key=lambda f: f.file),
        warnings=list(warnings or []),
    )
