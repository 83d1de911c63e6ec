"""Fit an engine profile to profiler traces of a user's own steps (``roofline calibrate TRACE.json.gz``).

A classified trace (roofline.analysis.result.ClassifyResult) already holds, for every group of
identical kernels, its calls, its measured time and its roof times per call (FLOPs / peak, bytes /
bandwidth, from the op shapes). Each group is put in the op class the serving model costs it by
(roofline.workload.predict.op_time): a GEMM on the matrix unit, memory-band (AI below the ridge:
weight streaming) or compute-band; attention, decode (memory-bound: reads the cache) or prefill
(compute-bound); elementwise and norm kernels (memory streaming). A class's efficiency is its roof
time over its measured time, summed over the groups (a time-weighted mean: the value that makes the
class's predicted time equal its measured time). Compute-band GEMMs are divided by the tile-fill
factor the serving model applies (rows / (rows + gemm_half_rows)), with the rows taken as the
kernel's arithmetic intensity — a lower bound of M for 16-bit operands, so the correction is on the
generous side (≤ 6% for prefill GEMMs of 512–2048 rows over 2048–5632 columns).

Kernels shorter than ``MIN_ROOF_S`` at their roof are left out of the efficiencies: the serving
model floors every kernel at ``min_kernel_s``, and a 1 µs kernel's "efficiency" measures its launch
latency, not its streaming rate. A class fitted from fewer than ``MIN_KERNELS`` calls keeps its
default, and the fit says so.

Host constants come from the steps (ProfilerStep spans): an eager step whose GPU waits for the host
most of the time gives the host time per kernel, (span − recorded ops × the profiler's own cost per
op, ``PROFILER_OVERHEAD_FIT_PER_OP_S``) / kernels. A CUDA-graph
replay gives the GPU gap between replayed kernels; its host submit cost is not fitted, the profiler
adding as much per replayed kernel as the cost itself.

Nothing here reads files: the app layer (roofline.app.calibrate_trace) classifies the traces.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from roofline.analysis.result import ClassifyResult
from roofline.errors import InputError
from roofline.precision import BYTES_PER_ELEMENT, parse_precision
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import EngineProfile

SIZE_SPAN = 4.0  # bytes per call the weight-streaming GEMMs must span for a latency term to be fitted
MIN_KERNELS = 8  # calls of a class below which its efficiency keeps the default
MIN_ROOF_S = 4e-6  # a kernel's roof time per call below which its efficiency is its launch latency
DECODE_ATTENTION_MAX_AI = 32.0  # FLOP/B: decode attention is 2 × the GQA group (≤ 16 for 8 query heads per KV head)
# The profiler's host cost per recorded op, best estimate (analysis/profiler_overhead.py keeps a
# conservative 4 µs for verdicts, where taking out too much would hide a launch problem). Fitted on
# the four llama-1b-shape eager steps of tests/data/h200/calibrate/ — (profiled step span − the
# un-profiled step) / recorded ops: 3.38, 2.13, 2.61, 2.05 µs, median 2.4 — and checked on the two
# held-out llama-3b-shape steps (2.09, 2.25 µs); profiler_overhead.py's own H200 figure with CPU and
# CUDA activities is 2.8 µs.
PROFILER_OVERHEAD_FIT_PER_OP_S = 2.4e-6
HOST_BOUND_SHARE = 0.5  # an eager step is host-bound when the GPU waits for launches over half its span
MIN_COSTED_SHARE = 0.5  # a held-out trace is scored only when most of its kernel time is in the fitted classes

GEMM_OPS = frozenset({"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::matmul", "aten::linear",
                      "aten::_scaled_mm", "aten::_int_mm"})
# HF's KV-cache concatenation has its own constant in the serving model (hf_cache_cat_memory), not
# a profile key: it is left out of the elementwise class rather than mixed into it.
NOT_ELEMENTWISE = frozenset({"aten::cat"})

@dataclass(frozen=True)
class KernelSample:
    """One group of identical kernels: its class, calls and times (totals over the calls)."""

    op_class: str  # gemm_memory | gemm_compute | attention_decode | attention_prefill | elementwise | other
    precision: str
    calls: int
    measured_s: float
    roof_s: float  # the binding roof's time, all calls
    rows: float  # GEMMs: the rows estimate for the tile-fill factor (AI × operand bytes / 2); else 0
    in_graph: bool
    bytes_per_call: float = 0.0
    memory_s_per_call: float = 0.0  # bytes / bandwidth of one call

    def fill(self, eff: Efficiency) -> float:
        """The share of the class efficiency the serving model gives this kernel's size: the tile
        fill of a compute-band GEMM, the latency share of a memory-band one (1 elsewhere)."""
        if self.op_class == "gemm_compute":
            return _fill(self.rows, eff.gemm_half_rows)
        if self.op_class == "gemm_memory":
            return _fill(self.bytes_per_call, eff.gemm_memory_half_bytes)
        return 1.0


@dataclass(frozen=True)
class StepSample:
    span_s: float
    busy_s: float
    kernels: int
    graph: bool
    launch_wait_s: float
    graph_gap_s: float
    host_ops: int  # cpu_ops the profiler recorded in the step


@dataclass
class TraceFacts:
    """What a classified trace says about the engine that ran it."""

    name: str
    kernels: list[KernelSample]
    steps: list[StepSample]
    busy_s: float  # GPU busy over the analysed span (all steps)
    kernel_s: float  # kernel time over the span
    graph: bool  # the steps replayed a CUDA graph

    @property
    def step_count(self) -> int:
        return max(len(self.steps), 1)

    @property
    def busy_per_step_s(self) -> float:
        return self.busy_s / self.step_count

    @property
    def costed_share(self) -> float:
        """Share of the kernel time in the fitted classes (the rest is predicted as measured)."""
        total = sum(k.measured_s for k in self.kernels)
        return sum(k.measured_s for k in self.kernels if k.op_class != "other") / total if total else 0.0


def op_class(op: str | None, unit: str, compute_s: float, memory_s: float, ai: float | None = None) -> str:
    name = (op or "").lower()
    if "attention" in name or "flash" in name:
        # A decode step's attention (one query row per sequence) reads the cache at a few FLOPs per
        # byte (2 × the GQA group); a prefill's does S/2 or more: the AI tells them apart.
        return "attention_decode" if (ai if ai is not None else 0.0) < DECODE_ATTENTION_MAX_AI else "attention_prefill"
    if name in GEMM_OPS and unit == "matrix":
        return "gemm_memory" if memory_s >= compute_s else "gemm_compute"
    if name in NOT_ELEMENTWISE or unit == "matrix":
        return "other"
    return "elementwise" if memory_s >= compute_s else "other"


def trace_facts(result: ClassifyResult, name: str) -> TraceFacts:
    """The samples of one classified trace (kernels whose work is unknown are class 'other')."""
    samples = []
    for k in result.kernels:
        if k.kind != "kernel" or k.count <= 0:
            continue
        if k.compute_s is None or k.memory_s is None or k.collective is not None:
            samples.append(KernelSample("other", k.precision or "", k.count, k.total_s, 0.0, 0.0, k.in_graph))
            continue
        cls = op_class(k.op, k.unit, k.compute_s, k.memory_s, k.ai)
        roof = max(k.compute_s, k.memory_s) * k.count
        rows = _rows_from_ai(k.ai, k.precision) if cls.startswith("gemm") else 0.0
        samples.append(KernelSample(cls, k.precision or "", k.count, k.total_s, roof, rows, k.in_graph,
                                    (k.bytes or 0.0) / k.count, k.memory_s))
    s = result.summary
    graph = bool(s.graph_kernels) and (s.graph_kernels or 0) >= 0.5 * (s.kernels or 0)
    ops_per_step = round((s.host_ops or 0) / max(len(s.steps), 1))
    steps = [StepSample(st.span_s, st.gpu_busy_s, st.kernels, graph, st.launch_wait_s, st.graph_gap_s,
                        ops_per_step) for st in s.steps]
    kernel_s = sum(k.total_s for k in result.kernels if k.kind == "kernel")
    return TraceFacts(name, samples, steps, s.gpu_busy_s, kernel_s, graph)


@dataclass(frozen=True)
class FittedConstant:
    key: str  # profile path, e.g. kernels.gemm_memory.bf16
    value: float
    kernels: int  # calls (or steps, for host constants) it rests on
    spread: tuple[float, float]  # lowest and highest group (or step) value
    default: float | None
    note: str = ""


@dataclass
class TraceCalibration:
    profile: EngineProfile
    constants: list[FittedConstant]
    kept: dict[str, str] = field(default_factory=dict)  # constant → why it kept its default


def _rows_from_ai(ai: float | None, precision: str | None) -> float:
    """A lower bound of a GEMM's M from its AI: F/B = 2MNK / (e(MK + KN + MN)), so AI·e/2 =
    1 / (1/M + 1/N + 1/K) ≤ M, e the operand bytes (2 for bf16, 1 for fp8)."""
    if not ai:
        return 0.0
    try:
        element = BYTES_PER_ELEMENT[parse_precision(precision or "")]
    except (KeyError, InputError, ValueError):
        element = 2.0
    return float(ai) * element / 2


def _fill(rows: float, half_rows: float) -> float:
    return rows / (rows + half_rows) if rows > 0 else 1.0


def _class_fit(samples: list[KernelSample], eff: Efficiency) -> tuple[float, int, tuple[float, float]] | None:
    """(efficiency, calls, (lowest, highest) group efficiency) over the samples long enough to count;
    each group's size factor (tile fill, latency share) at ``eff`` divided out."""
    usable = [s for s in samples if s.calls and s.roof_s / s.calls >= MIN_ROOF_S and s.measured_s > 0]
    if not usable:
        return None
    roof = sum(s.roof_s / s.fill(eff) for s in usable)
    measured = sum(s.measured_s for s in usable)
    each = [s.roof_s / s.fill(eff) / s.measured_s for s in usable]
    return roof / measured, sum(s.calls for s in usable), (min(each), max(each))


def latency_fit(samples: list[KernelSample]) -> tuple[float, float, float] | None:
    """Weight-streaming GEMMs as t = t0 + B / (η·BW): (η, t0, median |relative residual|), fitted by
    iteratively reweighted least squares on the relative error, each group weighted by its calls
    (a median-seeking fit: one odd kernel does not move it). None when the groups do not span a
    factor of ``SIZE_SPAN`` in bytes per call, or are fewer than three."""
    import numpy as np

    usable = [s for s in samples if s.calls and s.measured_s > 0 and s.bytes_per_call > 0 and s.memory_s_per_call > 0]
    if len(usable) < 3:
        return None
    sizes = [s.bytes_per_call for s in usable]
    if max(sizes) < SIZE_SPAN * min(sizes):
        return None
    t = np.array([s.measured_s / s.calls for s in usable])
    x = np.array([s.memory_s_per_call for s in usable])  # B / BW: the time at the full bandwidth
    calls = np.array([float(s.calls) for s in usable])
    a = np.column_stack([1.0 / t, x / t])
    weights = calls.copy()
    theta = np.array([0.0, 1.0])
    for _ in range(30):
        sw = np.sqrt(weights)
        theta, *_ = np.linalg.lstsq(a * sw[:, None], sw, rcond=None)
        if theta[1] < 1.0:  # η > 1: hold η at 1 and refit t0 alone
            theta = np.array([max(float(np.sum(weights * (1.0 - a[:, 1]) * a[:, 0]) /
                                        np.sum(weights * a[:, 0] ** 2)), 0.0), 1.0])
        elif theta[0] < 0.0:  # no latency: the bandwidth term alone
            theta = np.array([0.0, max(float(np.sum(weights * a[:, 1]) / np.sum(weights * a[:, 1] ** 2)), 1.0)])
        residual = np.abs(a @ theta - 1.0)
        weights = calls / np.maximum(residual, 0.01)
    t0, slope = float(theta[0]), float(theta[1])
    return 1.0 / slope, t0, float(np.median(np.abs(a @ theta - 1.0)))


class _Fit:
    """What the fit collects: the constants accepted, those kept at their default and why, the
    provenance lines, and the profile updates."""

    def __init__(self, base: EngineProfile, min_kernels: int, where: str) -> None:
        self.constants: list[FittedConstant] = []
        self.kept: dict[str, str] = {}
        self.provenance = dict(base.provenance)
        self.updates: dict[str, object] = {"gemm_memory": dict(base.kernels.gemm_memory),
                                           "gemm_compute": dict(base.kernels.gemm_compute)}
        self.min_kernels = min_kernels
        self.where = where

    def accept(self, key: str, value: float, n: int, spread: tuple[float, float], default: float | None,
               note: str = "") -> bool:
        if n < self.min_kernels:
            self.kept[key] = f"{n} usable call{'s' if n != 1 else ''}, fewer than {self.min_kernels}"
            return False
        self.constants.append(FittedConstant(key, value, n, spread, default, note))
        self.provenance[key] = (f"from {self.where}: {n} kernel calls, spread {spread[0]:.3g}–{spread[1]:.3g}"
                                + (f"; {note}" if note else ""))
        return True

    def set(self, key: str, value: float) -> None:
        """kernels.<field> or kernels.<table>.<precision> in the profile's kernels section."""
        _, field_name, *precision = key.split(".")
        if precision:
            self.updates[field_name][precision[0]] = _r(value)  # type: ignore[index]
        else:
            self.updates[field_name] = _r(value)


def _too_short(samples: list[KernelSample]) -> str:
    return f"its {sum(k.calls for k in samples)} calls are all shorter than {MIN_ROOF_S * 1e6:g} µs at the roof"


def _gemm_constants(fit: _Fit, samples: list[KernelSample], eff: Efficiency) -> None:
    precisions = sorted({k.precision for k in samples if k.op_class.startswith("gemm") and k.precision})
    streaming = [k for k in samples if k.op_class == "gemm_memory"]
    main = max(precisions, key=lambda p: sum(k.calls for k in streaming if k.precision == p), default=None)
    mine = [k for k in streaming if k.precision == main]
    latency = latency_fit(mine) if main else None
    if latency is not None and main is not None:
        eta, t0, residual = latency
        n = sum(k.calls for k in mine)
        half = t0 * eta * _bandwidth(mine)  # t0 = half / (η·BW)
        sizes = (min(k.bytes_per_call for k in mine), max(k.bytes_per_call for k in mine))
        note = (f"t = t0 + B/(η·BW) over {len(mine)} groups of {sizes[0] / 1e6:.3g}–{sizes[1] / 1e6:.3g} MB a call: "
                f"t0 = {t0 * 1e6:.3g} µs, median |residual| {residual:.0%}")
        key = f"kernels.gemm_memory.{main}"
        if fit.accept(key, min(eta, 1.0), n, _spread(mine), eff.gemm_memory_for(main), note):
            fit.set(key, min(eta, 1.0))
            fit.accept("kernels.gemm_memory_half_bytes", half, n, sizes, eff.gemm_memory_half_bytes,
                       "bytes a call at which streaming reaches half of η (spread: the sizes seen)")
            fit.set("kernels.gemm_memory_half_bytes", half)
    if any(k.op_class == "gemm_compute" for k in samples):
        # Tried: 1/η = 1/η∞ + h/(η∞·rows) over the compute GEMMs of the 512- and 2048-token prefills
        # gives η∞ > 1 — at 2048 rows the GEMMs spread 0.64–0.80 by their N and K, more than by M.
        fit.kept["kernels.gemm_half_rows"] = ("a trace gives each GEMM's FLOPs and bytes, not its rows; the "
                                              "efficiency spread by shape exceeds the spread by rows")
    for band, default_for in (("gemm_memory", eff.gemm_memory_for), ("gemm_compute", eff.gemm_compute_for)):
        for precision in precisions:
            if band == "gemm_memory" and latency is not None and precision == main:
                continue
            group = [k for k in samples if k.op_class == band and k.precision == precision]
            _fit_group(fit, f"kernels.{band}.{precision}", group, eff, default_for(precision),
                       "tile fill divided out with rows = AI" if band == "gemm_compute" else "")


def _class_constants(fit: _Fit, samples: list[KernelSample], eff: Efficiency) -> None:
    for cls, field_name, default in (("attention_decode", "decode_attention_memory",
                                      eff.decode_attention_memory or eff.attention_memory),
                                     ("attention_prefill", "prefill_attention_compute",
                                      eff.prefill_attention_compute or eff.attention_compute),
                                     ("elementwise", "elementwise_memory", eff.elementwise_memory)):
        _fit_group(fit, f"kernels.{field_name}", [k for k in samples if k.op_class == cls], eff, default)


def _fit_group(fit: _Fit, key: str, group: list[KernelSample], eff: Efficiency, default: float, note: str = "") -> None:
    """One efficiency from a class of kernels: fitted and kept if it passes, else the default with why."""
    result = _class_fit(group, eff)
    if result is None:
        if group:
            fit.kept[key] = _too_short(group)
        return
    if fit.accept(key, min(result[0], 1.0), result[1], result[2], default, note):
        fit.set(key, min(result[0], 1.0))


def _launch_constants(fit: _Fit, facts: list[TraceFacts], eff: Efficiency) -> None:
    steps = [s for f in facts for s in f.steps if s.kernels]
    if not steps:
        fit.kept["kernels.host_s_per_kernel"] = ("no ProfilerStep in the traces: call prof.step() after each step "
                                                 "(torch.profiler schedule)")
        return
    eager = [s for s in steps if not s.graph and s.launch_wait_s >= HOST_BOUND_SHARE * s.span_s]
    if eager:
        per_kernel = [max(s.span_s - s.host_ops * PROFILER_OVERHEAD_FIT_PER_OP_S, 0.0) / s.kernels for s in eager]
        value = statistics.median(per_kernel)
        if fit.accept("kernels.host_s_per_kernel", value, sum(s.kernels for s in eager),
                      (min(per_kernel), max(per_kernel)), eff.host_s_per_kernel or eff.huggingface_host_s_per_kernel,
                      f"median of {len(eager)} host-bound steps; the profiler's overhead "
                      f"({PROFILER_OVERHEAD_FIT_PER_OP_S * 1e6:g} µs per recorded op) taken out"):
            fit.set("kernels.host_s_per_kernel", value)
    elif any(not s.graph for s in steps):
        fit.kept["kernels.host_s_per_kernel"] = "no eager step is host-bound (the GPU hid the host's time)"
    graph_steps = [s for s in steps if s.graph]
    if graph_steps:
        # The submit cost is not fitted: under the profiler a replay takes 0.7–1.5 µs more per kernel
        # (CUPTI records each one; tests/data/h200/calibrate: profiled vs un-profiled replays), as much
        # as the cost itself — a figure from a trace would be mostly the profiler's.
        fit.kept["kernels.graph_submit_s_per_kernel"] = ("the profiler adds as much per replayed kernel as the "
                                                         "submit cost itself (CUPTI); measure replays un-profiled")
        gaps = [s.graph_gap_s / s.kernels for s in graph_steps]
        if fit.accept("kernels.graph_gap_s", statistics.median(gaps), sum(s.kernels for s in graph_steps),
                      (min(gaps), max(gaps)), eff.graph_gap_s, f"median of {len(graph_steps)} replayed steps"):
            fit.set("kernels.graph_gap_s", statistics.median(gaps))


def fit_trace_profile(facts: list[TraceFacts], base: EngineProfile, defaults: Efficiency | None = None, *,
                      min_kernels: int = MIN_KERNELS, source: str = "") -> TraceCalibration:
    """The profile constants the traces determine, on top of ``base`` (whose other constants stay)."""
    eff = base.efficiency(defaults or Efficiency())
    samples = [k for f in facts for k in f.kernels]
    fit = _Fit(base, min_kernels, source or f"{len(facts)} trace{'s' if len(facts) != 1 else ''}")
    _gemm_constants(fit, samples, eff)
    _class_constants(fit, samples, eff)
    _launch_constants(fit, facts, eff)
    kernels = base.kernels.model_copy(update=fit.updates)
    profile = base.model_copy(update={"kernels": kernels, "provenance": fit.provenance})
    return TraceCalibration(profile, fit.constants, fit.kept)


def predict_busy_s(f: TraceFacts, eff: Efficiency) -> float:
    """One step's GPU busy time from the trace's own kernels at ``eff``'s efficiencies: each group at
    max(roof time / efficiency, min_kernel_s per call), plus a gap per kernel; kernels outside the
    fitted classes (unknown work, copies of the KV cache) enter at their measured time."""
    total = 0.0
    calls = 0
    for k in f.kernels:
        calls += k.calls
        eta = _efficiency_of(k, eff)
        if eta is None or k.roof_s <= 0:
            total += k.measured_s
            continue
        total += max(k.roof_s / (eta * k.fill(eff)), eff.min_kernel_s * k.calls)
    gap = eff.graph_gap_s if f.graph else 0.0  # eager gaps are host waits: not part of busy time
    return (total + calls * gap) / f.step_count


def _efficiency_of(k: KernelSample, eff: Efficiency) -> float | None:
    if k.op_class == "gemm_memory":
        return eff.gemm_memory_for(k.precision)
    if k.op_class == "gemm_compute":
        return eff.gemm_compute_for(k.precision)
    if k.op_class == "attention_decode":
        return eff.decode_attention_memory or eff.attention_memory
    if k.op_class == "attention_prefill":
        return eff.prefill_attention_compute or eff.attention_compute
    if k.op_class == "elementwise":
        return eff.elementwise_memory
    return None


@dataclass(frozen=True)
class HeldOut:
    trace: str
    measured_s: float
    predicted_s: float
    default_s: float
    costed_share: float

    @property
    def error(self) -> float:
        return (self.predicted_s - self.measured_s) / self.measured_s

    @property
    def default_error(self) -> float:
        return (self.default_s - self.measured_s) / self.measured_s


def leave_one_out(facts: list[TraceFacts], base: EngineProfile, defaults: Efficiency | None = None, *,
                  min_kernels: int = MIN_KERNELS) -> list[HeldOut]:
    """Each trace's busy time per step predicted by the profile fitted on the others (and by the base)."""
    defaults = defaults or Efficiency()
    base_eff = base.efficiency(defaults)
    out = []
    for i, held in enumerate(facts):
        others = facts[:i] + facts[i + 1:]
        fitted = fit_trace_profile(others, base, defaults, min_kernels=min_kernels).profile
        out.append(HeldOut(held.name, held.busy_per_step_s, predict_busy_s(held, fitted.efficiency(defaults)),
                           predict_busy_s(held, base_eff), held.costed_share))
    return out


def _bandwidth(samples: list[KernelSample]) -> float:
    """The bandwidth the samples' memory roof was taken at (bytes / roof time of a call)."""
    s = max(samples, key=lambda k: k.bytes_per_call)
    return s.bytes_per_call / s.memory_s_per_call


def _spread(samples: list[KernelSample]) -> tuple[float, float]:
    each = [k.roof_s / k.measured_s for k in samples if k.measured_s > 0 and k.roof_s > 0]
    return (min(each), max(each)) if each else (0.0, 0.0)


def _r(value: float) -> float:
    return float(f"{value:.4g}")
