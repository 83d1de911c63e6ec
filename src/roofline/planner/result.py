"""The plan result: memory, phase predictions, ordered steps with before/after — one object for
every renderer; its JSON is the documented ``roofline plan --format json`` contract."""

from __future__ import annotations

from pydantic import BaseModel, Field


from roofline.version import __version__
from roofline.planner.engine import PlanOutcome
from roofline.planner.serving import Evaluation
from roofline.presentable import Presentable
from roofline.workload.engine_profile import EngineProfile
from roofline.workload.memory import MemoryPlan
from roofline.workload.predict import PhasePrediction
from roofline.workload.serving import ServingConfig

PLAN_SCHEMA_VERSION = 1


class Metrics(BaseModel):
    batch: int
    mode: str = "continuous"
    concurrency: int = 1
    queued: int = 0
    ttft_s: float
    itl_s: float
    throughput_tok_s: float
    throughput_tok_s_per_gpu: float
    max_batch: int
    memory_used_bytes: float
    prefill_bound: str
    decode_bound: str
    decode_breakdown_s: dict[str, float]
    prefill_breakdown_s: dict[str, float]
    mbu_decode: float
    mfu_prefill: float
    slo_ratios: dict[str, float]
    # Inside ttft_s: a benchmark's burst start (serving.benchmark) and the engine's batch wait.
    ttft_burst_s: float = 0.0
    ttft_batch_wait_s: float = 0.0


class Delta(BaseModel):
    ttft_s: float
    itl_s: float
    throughput_tok_s: float
    max_batch: int
    ttft_pct: float
    itl_pct: float
    throughput_pct: float


class Alternative(BaseModel):
    technique: str
    score_gain: float | None
    note: str = ""


class Step(BaseModel):
    index: int
    technique: str
    targets: str = Field(description="the iron-law term it attacks")
    rule: str
    rationale: str
    risks: list[str]
    effort: str
    verify: str
    config_change: dict[str, object]
    before: Metrics
    after: Metrics
    delta: Delta
    score_gain: float
    alternatives: list[Alternative]


class EngineUsed(BaseModel):
    """The engine profile the prediction used and every constant it set, with its source."""

    name: str
    versions: list[str]
    mode: str
    fit: dict[str, object] | None
    constants: list[dict[str, str]]


def engine_used(profile: EngineProfile, mode: str, frontend: str = "server") -> EngineUsed:
    """The profile's constants as the prediction applied them: an offline run pays no front-end
    ``per_request_s``, and a static batch is not held to the paged pool's ``memory_fraction``."""
    not_applied = {}
    if frontend == "offline":
        not_applied["scheduler.per_request_s"] = "not applied: runtime.frontend offline"
    if mode == "static":
        not_applied["scheduler.memory_fraction"] = "not applied: a static batch allocates its own KV cache"
    constants = [{"name": n, "value": f"{v} ({not_applied[n]})" if n in not_applied else v, "source": s}
                 for n, v, s in profile.constants()]
    return EngineUsed(name=profile.name, versions=profile.versions, mode=mode,
                      fit=profile.fit.model_dump() if profile.fit else None, constants=constants)


class PlanResult(Presentable, BaseModel):
    schema_version: int = PLAN_SCHEMA_VERSION
    tool: str = f"roofline {__version__}"
    config_file: str | None
    model: str
    hardware: str
    gpus: int
    ceilings: str
    efficiency: str
    engine: EngineUsed
    slo: dict[str, float | None]
    memory: MemoryPlan
    baseline: Metrics
    prefill: PhasePrediction
    decode: PhasePrediction
    steps: list[Step]
    final: Metrics
    final_config: dict[str, object]
    unmet_slos: list[str]
    stop_reason: str
    notes: list[str] = Field(default_factory=list)


def metrics(cfg: ServingConfig, evaluation: Evaluation) -> Metrics:
    p = evaluation.prediction
    return Metrics(
        batch=p.running,
        mode=p.mode,
        concurrency=p.concurrency,
        queued=p.queued,
        ttft_s=p.ttft_s,
        itl_s=p.itl_s,
        throughput_tok_s=p.throughput_tok_s,
        throughput_tok_s_per_gpu=p.throughput_tok_s_per_gpu,
        max_batch=p.memory.max_batch,
        memory_used_bytes=p.memory.used_bytes,
        prefill_bound=p.prefill.bound,
        decode_bound=p.decode.bound,
        decode_breakdown_s=p.itl_breakdown_s or p.decode.breakdown,
        prefill_breakdown_s=p.ttft_breakdown_s or p.prefill.breakdown,
        mbu_decode=p.decode.mbu,
        mfu_prefill=p.prefill.mfu,
        slo_ratios=evaluation.ratios,
        ttft_burst_s=p.ttft_burst_s,
        ttft_batch_wait_s=p.ttft_batch_wait_s,
    )


def _pct(before: float, after: float) -> float:
    return (after - before) / before if before else 0.0


def config_diff(before: ServingConfig, after: ServingConfig) -> dict[str, object]:
    a, b = before.model_dump(mode="json"), after.model_dump(mode="json")
    changes: dict[str, object] = {}
    for section, value in b.items():
        if isinstance(value, dict) and isinstance(a.get(section), dict):
            for key, item in value.items():
                if a[section].get(key) != item:
                    changes[f"{section}.{key}"] = item
        elif a.get(section) != value:
            changes[section] = value
    return changes


def build_plan_result(outcome: PlanOutcome, *, config_file: str | None, hardware: str, ceilings: str,
                      notes: list[str], profile: EngineProfile | None = None) -> PlanResult:
    base_cfg: ServingConfig = outcome.baseline_state
    base: Evaluation = outcome.baseline
    steps = []
    for index, record in enumerate(outcome.steps, start=1):
        before, after = metrics(record.state_before, record.before), metrics(record.state_after, record.after)
        steps.append(
            Step(
                index=index,
                technique=record.candidate.technique,
                targets=record.candidate.targets,
                rule=record.candidate.rule,
                rationale=record.candidate.rationale,
                risks=list(record.candidate.risks),
                effort=record.candidate.effort,
                verify=record.candidate.verify,
                config_change=config_diff(record.state_before, record.state_after),
                before=before,
                after=after,
                delta=Delta(
                    ttft_s=after.ttft_s - before.ttft_s,
                    itl_s=after.itl_s - before.itl_s,
                    throughput_tok_s=after.throughput_tok_s - before.throughput_tok_s,
                    max_batch=after.max_batch - before.max_batch,
                    ttft_pct=_pct(before.ttft_s, after.ttft_s),
                    itl_pct=_pct(before.itl_s, after.itl_s),
                    throughput_pct=_pct(before.throughput_tok_s, after.throughput_tok_s),
                ),
                score_gain=record.gain,
                alternatives=[Alternative(technique=c.technique, score_gain=c.gain, note=c.note)
                              for c in record.considered if c.technique != record.candidate.technique],
            )
        )
    final_cfg: ServingConfig = outcome.final_state
    final: Evaluation = outcome.final
    return PlanResult(
        config_file=config_file,
        model=base_cfg.model,
        hardware=hardware,
        gpus=base_cfg.gpus,
        ceilings=ceilings,
        efficiency=base.prediction.efficiency_source,
        engine=engine_used(profile or EngineProfile(name="generic"), base.prediction.mode,
                           base_cfg.runtime.frontend),
        slo=base_cfg.slo.model_dump(),
        memory=base.prediction.memory,
        baseline=metrics(base_cfg, base),
        prefill=base.prediction.prefill,
        decode=base.prediction.decode,
        steps=steps,
        final=metrics(final_cfg, final),
        final_config=final_cfg.model_dump(mode="json", exclude_none=True),
        unmet_slos=final.unmet,
        stop_reason=outcome.stop_reason,
        notes=notes,
    )
