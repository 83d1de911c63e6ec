"""Fit an engine profile to measured runs (``roofline calibrate``).

Every measured TPOT and TTFT is, in the serving model, a sum of step times of op classes (GEMMs
memory- or compute-bound per precision, decode and prefill attention, all-reduce calls per TP size)
weighted by how the scheduler mixes steps, plus the engine's host time per iteration and per
sequence, its per-request cost and the share of other prefills a request waits behind
(roofline.workload.scheduling). Evaluated once with the base efficiencies, each class's time is a
feature; the fit finds the multiplier of each class (its efficiency correction) and the engine
constants that minimise the relative error over all TPOT and TTFT rows — a bounded, L1-weighted
least squares (median-seeking), pulled gently toward the defaults so an ill-determined constant
stays near them. A constant whose feature matters in fewer than ``min_rows`` rows is not fitted:
it keeps its default and the fit says so; nor is one the rows do not identify (moving it twofold,
the others refitted, costs less than a likelihood-ratio test's threshold: ``identification``), with
the constant that traded against it named. A GEMM compute efficiency is bounded by the measured
ceiling of its precision where one is given (``ceilings``: measured / datasheet throughput).
The fitted profile is then re-run through the planner
itself, and those predictions — not the regression's — give the errors reported, in-sample and
cross-validated (k folds over whole concurrency sweeps).
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from roofline.planner.serving_runs import RunPrediction
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import Comm, EngineProfile, FitRecord, Kernels
from roofline.workload.predict import PhasePrediction, Prediction
from roofline.workload.runs import MeasuredRun, split_of

MIN_ROWS = 8
PRIOR_WEIGHT = 0.1  # a tenth of a row per constant toward its default: breaks ties, hardly biases (the synthetic-recovery test)
DEFAULT_LATENCY = Efficiency().comm_latency_s

# Constants the fit may set, with their bounds and the scale of their prior (None: a multiplier
# of a class's time, prior 1).
HOST = {"iteration_s": (0.0, 0.05, 1e-3), "per_sequence_s": (0.0, 1e-3, 2e-5), "per_request_s": (0.0, 2.0, 0.02),
        "per_request_layer_s": (0.0, 0.02, 1e-3),
        "ttft_queue_share": (0.0, 4.0, 0.5)}


def _reset(profile: EngineProfile) -> EngineProfile:
    """The base profile without any fitted constant: scheduler facts (budget, caps, graphs) kept."""
    scheduler = profile.scheduler.model_copy(update={"iteration_s": 0.0, "per_sequence_s": 0.0, "per_request_s": 0.0,
                                                     "per_request_layer_s": 0.0, "ttft_queue_share": 0.0})
    kernels = Kernels(flash_attention=profile.kernels.flash_attention,
                      fused_elementwise=profile.kernels.fused_elementwise)
    provenance = {k: v for k, v in profile.provenance.items() if k.startswith("scheduler.") and not any(
        k == f"scheduler.{name}" for name in HOST)}
    return profile.model_copy(update={"scheduler": scheduler, "kernels": kernels, "comm": Comm(), "fit": None,
                                      "by_version": {}, "provenance": provenance})


def _classes(phase: PhasePrediction, weight: float, out: dict[str, float], offset: list[float]) -> None:
    """Add ``weight`` × each op class's time of ``phase`` to ``out``; unfitted time to ``offset``."""
    if weight == 0:
        return
    fitted = 0.0
    for op in phase.ops:
        key = None
        if op.kind == "gemm" and op.bound in ("memory", "compute"):
            key = f"gemm_{op.bound}:{op.precision}"
        elif op.kind == "attention" and op.bound in ("memory", "compute"):
            key = "attention_decode" if op.kv_bytes > 0 else "attention_prefill"
        if key is not None:
            out[key] = out.get(key, 0.0) + weight * op.gpu_s
            fitted += op.gpu_s
    offset[0] += weight * (phase.time_s - fitted)


def _comm_calls(phase: PhasePrediction) -> float:
    return float(sum(op.count for op in phase.ops if op.kind == "comm"))


@dataclass
class Features:
    tpot: dict[str, float] = field(default_factory=dict)
    ttft: dict[str, float] = field(default_factory=dict)
    tpot_offset: float = 0.0
    ttft_offset: float = 0.0


def features_of(p: Prediction, tp: int, latency: float, ranks: int = 1) -> Features:
    """The linear decomposition of one prediction made with the base profile (no host time, no
    queue share): TPOT and TTFT as class times, call counts and host counts, plus fixed offsets.
    ``ranks``: attention-DP ranks, each scheduling its share of the batch (scheduling.host_time)."""
    f = Features()
    off = [0.0]
    w = p.tpot_weights
    _classes(p.decode, w.get("decode", 0.0), f.tpot, off)
    calls = w.get("decode", 0.0) * _comm_calls(p.decode)
    if p.mixed is not None:
        _classes(p.mixed, w.get("mixed", 0.0), f.tpot, off)
        calls += w.get("mixed", 0.0) * _comm_calls(p.mixed)
    if tp > 1 and calls:
        f.tpot[f"allreduce:tp{tp}"] = calls
        off[0] -= calls * latency  # the base latency is inside the phase times: fitted instead
    f.tpot["iteration_s"] = 1.0
    sequences = math.ceil(p.decode_batch / ranks)
    f.tpot["per_sequence_s"] = float(sequences)
    f.tpot_offset = off[0]
    # TTFT = own chunks + half an iteration + (fitted) share of other prefills + per-request + queue.
    toff = [0.0]
    tw = p.ttft_weights
    own = tw.get("own", tw.get("prefill", 1.0))
    _classes(p.prefill, own, f.ttft, toff)
    own_calls = own * _comm_calls(p.prefill)
    half = tw.get("half_tpot", 0.0)
    for key, value in f.tpot.items():
        f.ttft[key] = f.ttft.get(key, 0.0) + half * value
    toff[0] += half * f.tpot_offset
    if tp > 1 and own_calls:
        f.ttft[f"allreduce:tp{tp}"] = f.ttft.get(f"allreduce:tp{tp}", 0.0) + own_calls
        toff[0] -= own_calls * latency
    f.ttft["iteration_s"] = f.ttft.get("iteration_s", 0.0) + own
    f.ttft["per_sequence_s"] = f.ttft.get("per_sequence_s", 0.0) + own * sequences
    f.ttft["per_request_s"] = 1.0
    f.ttft["per_request_layer_s"] = float(tw.get("request_layers", 0.0))
    if p.running > 1 and p.mode == "continuous":
        marginal = max(p.prefill.time_s - p.decode.time_s, 0.0)
        f.ttft["ttft_queue_share"] = (p.running - 1) * own * marginal
        toff[0] += tw.get("batch_fill", 0.0) * marginal  # the prompts packed after it: a fact, not fitted
    f.ttft_offset = toff[0]
    return f


def _default(name: str) -> float:
    if name.startswith("allreduce:"):
        return DEFAULT_LATENCY
    return 0.0 if name in HOST else 1.0


def _bounds(name: str, base: Efficiency,
            ceilings: dict[str, float] | None = None) -> tuple[float, float, float]:
    """(low, high, prior scale). A class multiplier k divides an efficiency: k ≥ η keeps η/k ≤ 1, and
    k ≥ η/c keeps a GEMM's compute efficiency under its precision's measured ceiling c."""
    if name in HOST:
        return HOST[name]
    if name.startswith("allreduce:"):
        return 0.0, 200e-6, 10e-6
    if name.startswith("gemm_memory:"):
        return base.gemm_memory_for(name.split(":")[1]), 6.0, 1.0
    if name.startswith("gemm_compute:"):
        prec = name.split(":")[1]
        return base.gemm_compute_for(prec) / min(1.0, (ceilings or {}).get(prec, 1.0)), 6.0, 1.0
    if name == "attention_decode":
        return base.attention_memory, 6.0, 1.0
    return base.attention_compute, 6.0, 1.0


@dataclass
class FitResult:
    values: dict[str, float]
    fitted: list[str]
    kept: dict[str, str]  # constant → why it kept its default


# A constant is identified when the rows rule out both halving and doubling it: moving it there (the
# others refitted) must raise the L1 objective Σ|r| by 1.92·b, b = Σ|r|/n — the likelihood-ratio test at
# 95% (χ²₁ = 3.84 = 2·Δ log L) for errors of Laplace scale b, the distribution an L1 fit assumes.
LR_THRESHOLD = 1.92


@dataclass
class _System:
    """The fit's linear system for one choice of fitted constants; the others enter at their values."""

    rows: list[tuple[Features, float, float, float, float]]
    base: Efficiency
    ceilings: dict[str, float] | None

    def bounds(self, name: str) -> tuple[float, float, float]:
        return _bounds(name, self.base, self.ceilings)

    def kept_value(self, name: str) -> float:
        """A constant not fitted keeps its default, inside its bounds (a measured ceiling binds it too)."""
        lo, hi, _ = self.bounds(name)
        return min(max(_default(name), lo), hi)

    def matrix(self, fitted: list[str]) -> tuple[np.ndarray, np.ndarray]:
        a_rows, b_rows = [], []
        for f, tpot, ttft, tpot_q, ttft_q in self.rows:
            for table, offset, measured in ((f.tpot, f.tpot_offset + tpot_q, tpot),
                                            (f.ttft, f.ttft_offset + ttft_q, ttft)):
                fixed = offset + sum(v * self.kept_value(k) for k, v in table.items() if k not in fitted)
                a_rows.append([table.get(k, 0.0) / measured for k in fitted])
                b_rows.append(1.0 - fixed / measured)
        return np.array(a_rows), np.array(b_rows)

    def solve(self, fitted: list[str], a: np.ndarray, b: np.ndarray,
              pin: tuple[int, float] | None = None) -> np.ndarray:
        bounds = [self.bounds(k) for k in fitted]
        lo = np.array([x[0] for x in bounds])
        hi = np.array([x[1] for x in bounds])
        if pin is not None:
            lo[pin[0]] = hi[pin[0]] = pin[1]
        prior = np.array([_default(k) for k in fitted])
        return _bounded_l1(a, b, prior, np.array([x[2] for x in bounds]), lo, hi)


def identification(system: _System, fitted: list[str], a: np.ndarray, b: np.ndarray,
                   theta: np.ndarray) -> dict[str, tuple[float, str | None]]:
    """For each fitted constant: how much the objective rises, in units of the threshold, when it is
    halved or doubled (the cheaper of the two; a move past its bound is ruled out by the bound and not
    tried; from 0, it is moved to its prior scale) with the others refitted, and the constant that
    moved most to make up for it."""
    objective = float(np.abs(a @ theta - b).sum())
    scale_b = max(objective / max(len(b), 1), 1e-9)
    out: dict[str, tuple[float, str | None]] = {}
    for j, name in enumerate(fitted):
        lo, hi, prior_scale = system.bounds(name)
        value = theta[j]
        moves = [prior_scale] if value <= 0 else [value / 2, value * 2]
        worst: tuple[float, str | None] | None = None
        for target in moves:
            if not lo <= target <= hi:
                continue  # its bound, not the rows, rules that move out
            moved = system.solve(fitted, a, b, pin=(j, target))
            cost = (float(np.abs(a @ moved - b).sum()) - objective) / (LR_THRESHOLD * scale_b)
            shifts = [(abs(math.log(moved[i] / theta[i])) if theta[i] > 0 and moved[i] > 0
                       else abs(moved[i] - theta[i]) / system.bounds(k)[2], k)
                      for i, k in enumerate(fitted) if i != j]
            partner = max(shifts)[1] if shifts and max(shifts)[0] > 0.05 else None
            if worst is None or cost < worst[0]:
                worst = (cost, partner)
        out[name] = worst if worst is not None else (math.inf, None)
    return out


def fit_constants(rows: list[tuple[Features, float, float, float, float]], base: Efficiency, *,
                  min_rows: int = MIN_ROWS, hold: frozenset[str] = frozenset(),
                  ceilings: dict[str, float] | None = None, identify: bool = True) -> FitResult:
    """rows: (features, measured TPOT, measured TTFT, TPOT queue offset, TTFT queue offset); ``hold``:
    host constants kept at their defaults, not fitted; ``ceilings``: measured/datasheet GEMM throughput
    by precision, bounding the fitted compute efficiencies; ``identify``: leave out, one at a time, the
    constant the rows least identify until every fitted one is identified (``identification``)."""
    system = _System(rows, base, ceilings)
    names = sorted({k for f, *_ in rows for k in (*f.tpot, *f.ttft)})
    kept: dict[str, str] = {}
    fitted: list[str] = []
    for name in names:
        if name in hold:
            kept[name] = "held by --hold"
            continue
        n = 0
        for f, tpot, ttft, _, _ in rows:
            share = max(f.tpot.get(name, 0.0) * (_default(name) or system.bounds(name)[2]) / tpot,
                        f.ttft.get(name, 0.0) * (_default(name) or system.bounds(name)[2]) / ttft)
            n += share >= 0.05
        if n >= min_rows:
            fitted.append(name)
        else:
            kept[name] = f"matters (≥ 5% of a prediction) in {n} row{'s' if n != 1 else ''}, fewer than {min_rows}"
    theta = np.zeros(0)
    while fitted:
        a, b = system.matrix(fitted)
        theta = system.solve(fitted, a, b)
        if not identify:
            break
        found = identification(system, fitted, a, b, theta)
        name, (cost, partner) = min(found.items(), key=lambda kv: kv[1][0])
        if cost >= 1.0:
            break
        change = (f"changes the fit by {cost:.2f} of the 95% likelihood-ratio threshold" if cost >= 0 else
                  "fits the rows better than the joint fit did (its optimum is approximate)")
        kept[name] = (f"the rows do not identify it: halving or doubling it (the others refitted) {change}"
                      + (f"; {constant_path(partner)} trades against it" if partner else ""))
        fitted.remove(name)
    values = {name: system.kept_value(name) for name in names}
    values.update(dict(zip(fitted, theta.tolist())))
    return FitResult(values, fitted, kept)


def _bounded_l1(a: np.ndarray, b: np.ndarray, prior: np.ndarray, scale: np.ndarray, lo: np.ndarray,
                hi: np.ndarray, iterations: int = 30) -> np.ndarray:
    """min Σ|a·θ − b| + prior pull, lo ≤ θ ≤ hi: iteratively reweighted least squares with the
    bounds enforced by fixing violators at their bound (an active-set pass per iteration)."""
    n = a.shape[1]
    theta = np.clip(prior.astype(float), lo, hi)
    weights = np.ones(len(b))
    for _ in range(iterations):
        free = np.ones(n, dtype=bool)
        fixed = theta.copy()
        for _ in range(n + 1):
            sw = np.sqrt(weights)[:, None]
            rhs = b - a[:, ~free] @ fixed[~free]
            prior_rows = np.diag(PRIOR_WEIGHT / scale)[free][:, free]
            lhs = np.vstack([a[:, free] * sw, prior_rows])
            target = np.concatenate([rhs * sw[:, 0], PRIOR_WEIGHT * prior[free] / scale[free]])
            solution, *_ = np.linalg.lstsq(lhs, target, rcond=None)
            candidate = fixed.copy()
            candidate[free] = solution
            violated = free & ((candidate < lo) | (candidate > hi))
            if not violated.any():
                break
            fixed = np.clip(candidate, lo, hi)
            free &= ~violated
        theta = np.clip(candidate, lo, hi)
        residual = np.abs(a @ theta - b)
        weights = 1.0 / np.maximum(residual, 0.02)
    return theta


def profile_from_fit(base: EngineProfile, result: FitResult, eff: Efficiency, notes: dict[str, str]) -> EngineProfile:
    """Turn fitted multipliers and constants into the profile's efficiencies and scheduler values."""
    v = {k: float(f"{x:.4g}") for k, x in result.values.items()}  # four figures: what the file says is what ran
    gemm_c, gemm_m, latency = {}, {}, {}
    updates: dict[str, object] = {}
    # a kept GEMM compute multiplier off 1 is one a measured ceiling moved
    moved = [k for k in result.kept if k.startswith("gemm_compute:") and v.get(k, 1.0) != 1.0]
    for name in [*result.fitted, *moved]:
        value = v[name]
        if name.startswith("gemm_memory:"):
            prec = name.split(":")[1]
            gemm_m[prec] = _r(min(1.0, eff.gemm_memory_for(prec) / value))
        elif name.startswith("gemm_compute:"):
            prec = name.split(":")[1]
            gemm_c[prec] = _r(min(1.0, eff.gemm_compute_for(prec) / value))
        elif name == "attention_decode":
            updates["decode_attention_memory"] = _r(min(1.0, eff.attention_memory / value))
        elif name == "attention_prefill":
            updates["prefill_attention_compute"] = _r(min(1.0, eff.attention_compute / value))
        elif name.startswith("allreduce:tp"):
            latency[int(name.split("tp")[1])] = value
    kernels = base.kernels.model_copy(update={"gemm_compute": gemm_c, "gemm_memory": gemm_m, **updates})
    scheduler = base.scheduler.model_copy(update={k: v[k] for k in HOST if k in result.fitted})
    provenance = {**base.provenance, **notes}
    return base.model_copy(update={"kernels": kernels, "scheduler": scheduler,
                                   "comm": base.comm.model_copy(update={"allreduce_latency_s": latency}),
                                   "provenance": provenance})


def _r(value: float) -> float:
    return float(f"{value:.4g}")


def constant_path(name: str) -> str:
    """The profile key a fitted name becomes (for provenance and warnings)."""
    if name.startswith("gemm_memory:"):
        return f"kernels.gemm_memory.{name.split(':')[1]}"
    if name.startswith("gemm_compute:"):
        return f"kernels.gemm_compute.{name.split(':')[1]}"
    if name == "attention_decode":
        return "kernels.decode_attention_memory"
    if name == "attention_prefill":
        return "kernels.prefill_attention_compute"
    if name.startswith("allreduce:tp"):
        return f"comm.allreduce_latency_s.{name.split('tp')[1]}"
    return f"scheduler.{name}"


def fold_of(run: MeasuredRun, folds: int) -> int:
    """Cross-validation fold: whole concurrency sweeps together (same key as the split)."""
    key = f"{split_of(run)}|{run.engine}|{run.model}|{run.hardware}|{run.weights.value}|{run.tp}|{run.isl}|{run.osl}"
    return hashlib.sha256(key.encode()).digest()[1] % folds


def median_errors(results: list[RunPrediction]) -> tuple[float | None, float | None]:
    ok = [r for r in results if r.prediction is not None]
    if not ok:
        return None, None
    return (statistics.median(abs(r.ttft_error or 0.0) for r in ok),
            statistics.median(abs(r.tpot_error or 0.0) for r in ok))


Predictor = Callable[[list[MeasuredRun], EngineProfile], list[RunPrediction]]


@dataclass
class Calibration:
    profile: EngineProfile
    fit_rows: int
    refused: list[RunPrediction]
    kept: dict[str, str]
    fit_errors: tuple[float | None, float | None]
    cv_errors: tuple[float | None, float | None]
    fitted_results: list[RunPrediction]


def _ttft_offset(p: Prediction) -> float:
    """TTFT outside the linear features, held fixed in a fit pass and updated between passes: the slot
    wait, the batch wait's hold and the benchmark's first wave (serving.benchmark, runtime.batch_wait)."""
    return p.queue_s + p.ttft_batch_wait_s + p.ttft_burst_s


def _fit_once(runs_preds: list[RunPrediction], base_eff: Efficiency, queue: dict[str, tuple[float, float]],
              min_rows: int, hold: frozenset[str] = frozenset(),
              ceilings: dict[str, float] | None = None) -> FitResult:
    rows = []
    for r in runs_preds:
        assert r.prediction is not None and r.config is not None
        f = features_of(r.prediction, r.config.parallelism.tensor, base_eff.comm_latency_s,
                        r.config.parallelism.attention_data)
        tq, fq = queue.get(r.run.id, (0.0, _ttft_offset(r.prediction)))
        rows.append((f, r.run.tpot_s, r.run.ttft_s, tq, fq))
    return fit_constants(rows, base_eff, min_rows=min_rows, hold=hold, ceilings=ceilings)


def calibrate(runs: list[MeasuredRun], base: EngineProfile, predict: Predictor, *, folds: int = 5,
              min_rows: int = MIN_ROWS, source: str = "", hold: frozenset[str] = frozenset(),
              ceilings: dict[str, float] | None = None) -> Calibration:
    """Fit ``base``'s engine constants to ``runs``; ``predict`` runs the planner with a profile; ``hold``:
    host constants (HOST) left at their defaults; ``ceilings``: the most a GEMM compute efficiency may be,
    by precision (measured / datasheet throughput: ``gemm_ceilings``)."""
    unknown = sorted(hold - set(HOST))
    if unknown:
        raise ValueError(f"cannot hold {', '.join(unknown)}: only {', '.join(sorted(HOST))}")
    start = _reset(base)
    base_preds = predict(runs, start)
    usable = [r for r in base_preds if r.prediction is not None]
    refused = [r for r in base_preds if r.prediction is None]
    base_eff = start.efficiency(Efficiency())

    def fit(subset: list[RunPrediction]) -> tuple[EngineProfile, FitResult]:
        queue: dict[str, tuple[float, float]] = {}
        profile, result = start, FitResult({}, [], {})
        for _ in range(2):  # the slot wait (C > R) depends on the fitted times: refit once with it updated
            result = _fit_once(subset, base_eff, queue, min_rows, hold, ceilings)
            notes = {constant_path(k): f"fitted: {source}" for k in result.fitted}
            profile = profile_from_fit(start, result, base_eff, notes)
            again = predict([r.run for r in subset], profile)
            queue = {r.run.id: (0.0, _ttft_offset(r.prediction)) for r in again if r.prediction is not None}
        return profile, result

    profile, result = fit(usable)
    fitted_results = predict([r.run for r in usable], profile)
    fit_errors = median_errors(fitted_results)
    held: list[RunPrediction] = []
    if folds > 1 and len(usable) >= 2 * min_rows:
        for k in range(folds):
            train = [r for r in usable if fold_of(r.run, folds) != k]
            test = [r.run for r in usable if fold_of(r.run, folds) == k]
            if not test or len(train) < min_rows:
                continue
            fold_profile, _ = fit(train)
            held.extend(predict(test, fold_profile))
    cv_errors = median_errors(held) if held else (None, None)
    provenance = dict(profile.provenance)
    for name in result.fitted:
        provenance[constant_path(name)] = (f"fitted on {len(usable)} rows of {source or 'measurements'}; "
                                    f"median |error| in-sample TTFT {_pct(fit_errors[0])}, TPOT {_pct(fit_errors[1])}; "
                                    f"{folds}-fold cross-validated TTFT {_pct(cv_errors[0])}, TPOT {_pct(cv_errors[1])}")
    profile = profile.model_copy(update={"provenance": provenance})
    kept = {constant_path(k): why for k, why in result.kept.items()}
    return Calibration(profile, len(usable), refused, kept, fit_errors, cv_errors, fitted_results)


def gemm_ceilings(measured: list[tuple[str, float, float | None]]) -> dict[str, float]:
    """(precision, datasheet TFLOP/s, measured TFLOP/s or None) of each device the rows run a
    precision on → the precision's ceiling as a share of the datasheet: the largest over its devices,
    and none where a device of it has no measurement (an efficiency cannot be bounded by others')."""
    out: dict[str, float] = {}
    for prec in sorted({p for p, *_ in measured}):
        shares = [m / peak if m is not None and peak > 0 else None for p, peak, m in measured if p == prec]
        if shares and None not in shares:
            out[prec] = min(1.0, max(s for s in shares if s is not None))
    return out


def _pct(value: float | None) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.0%}"
