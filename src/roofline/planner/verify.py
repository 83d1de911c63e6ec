"""Expected vs actual: replay on BEFORE the plan steps that AFTER shows were made, and compare the
predicted step-time change with the measured one.

Which steps were made is read from the two classified traces (each rule has a detector below: a
graph replay appeared, triton kernels replaced elementwise chains, fp32 GEMMs moved to a tensor-core
roof, ...) or given by the user (``--applied``). The measured change is set against the traces'
own step-to-step spread, so a delta inside the noise is reported as such.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from roofline.analysis.classify import KernelVerdict
from roofline.analysis.result import ClassifyResult
from roofline.errors import InputError
from roofline.planner.engine import rules_for
from roofline.planner.trace import DOMAIN
from roofline.planner.trace_planner import plan_trace  # also registers the rules rules_for() lists


class VerifiedStep(BaseModel):
    rule: str
    technique: str
    predicted_delta_s: float = Field(description="this step's predicted change, seconds per step")


class Verification(BaseModel):
    before: str
    after: str
    hardware: str
    applied: list[str] = Field(description="rules replayed, in plan order")
    detected_by: str = Field(description="'traces' (detectors) or 'user' (--applied)")
    steps: list[VerifiedStep]
    before_step_s: float
    predicted_after_step_s: float
    measured_after_step_s: float
    predicted_delta_s: float
    measured_delta_s: float
    error_pct: float | None = Field(description="|predicted − measured| / |measured| of the delta")
    noise_s: float = Field(description="step-to-step spread (max − min) of the noisier trace")
    significant: bool = Field(description="the measured delta exceeds the step-to-step spread")
    within_target: bool | None = Field(description="error ≤ 25%, when the measured delta is significant")
    notes: list[str] = Field(default_factory=list)


TARGET_ERROR = 0.25
Detector = Callable[[ClassifyResult, ClassifyResult], bool]
_DETECTORS: dict[str, Detector] = {}


def detector(rule: str) -> Callable[[Detector], Detector]:
    def decorate(fn: Detector) -> Detector:
        if rule in _DETECTORS:
            raise RuntimeError(f"detector for '{rule}' registered twice")
        _DETECTORS[rule] = fn
        return fn

    return decorate


def _steps(r: ClassifyResult) -> int:
    return max(len(r.summary.steps), 1)


def _time(r: ClassifyResult, keep: Callable[[KernelVerdict], bool]) -> float:
    return sum(k.total_s for k in r.kernels if keep(k)) / _steps(r)


def _calls(r: ClassifyResult, keep: Callable[[KernelVerdict], bool]) -> float:
    return sum(k.count for k in r.kernels if keep(k)) / _steps(r)


def _opname(k: KernelVerdict) -> str:
    return (k.op or "").rsplit("::", 1)[-1]


@detector("cuda_graphs")
def _graphs(b: ClassifyResult, a: ClassifyResult) -> bool:
    share = lambda r: (r.summary.graph_kernels or 0) / max(r.summary.kernels or 1, 1)  # noqa: E731
    return share(a) >= 0.5 > share(b)


def _triton(k: KernelVerdict) -> bool:
    return k.name.startswith("triton_") or _opname(k).startswith("triton_")


@detector("fuse_elementwise")
def _fusion(b: ClassifyResult, a: ClassifyResult) -> bool:
    return _calls(a, _triton) > _calls(b, _triton)


def _fp32_vector_gemm(k: KernelVerdict) -> bool:
    return k.precision == "fp32" and k.unit == "matrix" and (k.roof or "").startswith("fp32 vector")


@detector("tensor_core_precision")
def _tensor_cores(b: ClassifyResult, a: ClassifyResult) -> bool:
    before = _time(b, lambda k: _fp32_vector_gemm(k) and k.bound.value == "compute")
    return before > 0 and _time(a, _fp32_vector_gemm) < 0.5 * before


@detector("half_precision_memory")
def _half(b: ClassifyResult, a: ClassifyResult) -> bool:
    fp32_memory = lambda k: k.precision == "fp32" and k.bound.value == "memory"  # noqa: E731
    before = _time(b, fp32_memory)
    return before > 0 and _time(a, fp32_memory) < 0.5 * before


def _attention(k: KernelVerdict) -> bool:
    name = _opname(k)
    return "attention" in name or "flash" in k.name.lower() or "fmha" in k.name.lower() or "sdpa" in k.name.lower()


@detector("fused_attention")
def _fused_attention(b: ClassifyResult, a: ClassifyResult) -> bool:
    softmax = lambda k: "softmax" in _opname(k)  # noqa: E731
    return _calls(b, softmax) > 0 and _calls(a, softmax) == 0 and _calls(a, _attention) > _calls(b, _attention)


def _costed(r: ClassifyResult, keep: Callable[[KernelVerdict], bool]) -> bool:
    """Most of the time of these kernels has FLOPs and bytes (graph replays carry no op links)."""
    total = _time(r, keep)
    return total > 0 and _time(r, lambda k: keep(k) and k.bytes is not None) >= 0.5 * total


@detector("weight_quantization")
def _int4(b: ClassifyResult, a: ClassifyResult) -> bool:
    matrix = lambda k: k.unit == "matrix" and k.kind == "kernel"  # noqa: E731
    gemv = lambda k: matrix(k) and k.bytes is not None and bool(k.flops) and k.flops / max(k.bytes, 1) < 4  # noqa: E731
    per_step = lambda r: sum(k.bytes or 0 for k in r.kernels if gemv(k)) / _steps(r)  # noqa: E731
    before = per_step(b)
    return (before > 0 and _costed(a, matrix) and per_step(a) < 0.4 * before
            and not _half(b, a))


@detector("remove_syncs")
def _syncs(b: ClassifyResult, a: ClassifyResult) -> bool:
    per_step = lambda r: (r.summary.syncs or 0) / _steps(r)  # noqa: E731
    return per_step(b) > 1 and per_step(a) < per_step(b) - 0.5


@detector("pinned_copies")
def _pinned(b: ClassifyResult, a: ClassifyResult) -> bool:
    pageable = lambda k: k.kind == "memcpy" and "pageable" in k.name.lower()  # noqa: E731
    return _calls(b, pageable) > 0 and _calls(a, pageable) < 0.5 * _calls(b, pageable)


@detector("overlap_communication")
def _overlap(b: ClassifyResult, a: ClassifyResult) -> bool:
    before = b.summary.exposed_communication_s / _steps(b)
    return before > 0 and a.summary.exposed_communication_s / _steps(a) < 0.5 * before


@detector("batch_small_gemms")
def _batched(b: ClassifyResult, a: ClassifyResult) -> bool:
    longest = lambda r: max((k.longest_run for k in r.kernels if k.unit == "matrix"), default=1)  # noqa: E731
    return longest(b) >= 8 and longest(a) < longest(b) / 2


def detect_applied(before: ClassifyResult, after: ClassifyResult) -> list[str]:
    return [rule for rule, found in _DETECTORS.items() if found(before, after)]


def _spread(r: ClassifyResult) -> float:
    spans = [s.span_s for s in r.summary.steps]
    return max(spans) - min(spans) if len(spans) > 1 else 0.0


def verify_plan(before: ClassifyResult, after: ClassifyResult, applied: list[str] | None = None) -> Verification:
    if before.hardware.name != after.hardware.name:
        raise InputError(
            f"the traces ran on different devices: {before.hardware.name} ({before.inputs[0]}) and "
            f"{after.hardware.name} ({after.inputs[0]})",
            place="--verify", fix="compare two traces of the same device, or pass --hw for both")
    known = rules_for(DOMAIN)
    notes: list[str] = []
    if applied is not None:
        unknown = [r for r in applied if r not in known]
        if unknown:
            raise InputError(f"unknown plan rules: {', '.join(unknown)}", place="--applied",
                             fix=f"rules: {', '.join(sorted(known))}")
        chosen, how = applied, "user"
    else:
        chosen, how = detect_applied(before, after), "traces"
        if not chosen:
            notes.append("no plan step is recognisable between the two traces (pass --applied RULE,... to name them); "
                         "the prediction is 'no change'")
    outcome = plan_trace(before, only=chosen) if chosen else None
    baseline_step = outcome.baseline.step_s if outcome else plan_trace(before, only=[]).baseline.step_s
    predicted_after = outcome.final.step_s if outcome else baseline_step
    steps = [VerifiedStep(rule=r.candidate.rule, technique=r.candidate.technique,
                          predicted_delta_s=r.after.step_s - r.before.step_s) for r in (outcome.steps if outcome else [])]
    missing = [rule for rule in chosen if rule not in {s.rule for s in steps}]
    if missing:
        notes.append(f"detected but not applicable to the first trace (its rule finds nothing to change): "
                     f"{', '.join(missing)}")
    measured_after = plan_trace(after, only=[]).baseline.step_s
    predicted = predicted_after - baseline_step
    measured = measured_after - baseline_step
    noise = max(_spread(before), _spread(after))
    significant = abs(measured) > noise
    error = abs(predicted - measured) / abs(measured) if measured != 0 else None
    return Verification(
        before=before.inputs[0], after=after.inputs[0], hardware=before.hardware.name, applied=[s.rule for s in steps],
        detected_by=how, steps=steps, before_step_s=baseline_step, predicted_after_step_s=predicted_after,
        measured_after_step_s=measured_after, predicted_delta_s=predicted, measured_delta_s=measured,
        error_pct=error, noise_s=noise, significant=significant,
        within_target=(error is not None and error <= TARGET_ERROR) if significant else None, notes=notes,
    )
