"""Planning a serving config: evaluate (memory + prediction), diagnose, score against the SLOs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from roofline.errors import InputError
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.units import fmt_bytes
from roofline.workload.efficiency import Efficiency, calibrated
from roofline.workload.memory import plan_memory
from roofline.workload.model import ModelArch, MoESpec, load_model
from roofline.workload.predict import Prediction, predict
from roofline.workload.serving import ServingConfig

DOMAIN = "serving"


@dataclass(frozen=True)
class ServingContext:
    arch: ModelArch
    spec: HardwareSpec
    roofs: Roofs
    efficiency: Efficiency
    draft_arch: ModelArch | None = None

    @property
    def capacity_bytes(self) -> float:
        return self.spec.memory.capacity_gb * 1e9


@dataclass(frozen=True)
class Evaluation:
    prediction: Prediction
    ratios: dict[str, float]  # SLO name → actual/target (≤ 1 met); throughput inverted

    @property
    def unmet(self) -> list[str]:
        return [name for name, ratio in self.ratios.items() if ratio > 1.0]


@dataclass(frozen=True)
class Diagnosis:
    config: ServingConfig
    evaluation: Evaluation
    context: ServingContext

    @property
    def prediction(self) -> Prediction:
        return self.evaluation.prediction


def synthetic_draft(arch: ModelArch, params_b: float) -> ModelArch:
    """A Llama-shaped draft of about ``params_b`` billion parameters sharing the target's vocabulary
    (used when only a draft size is given)."""
    target = params_b * 1e9
    layers = 16 if target < 1.5e9 else 24 if target < 4e9 else 32
    a, b, c = 12.0 * layers, 2.0 * arch.vocab_size, -target  # 12·L·h² + 2·V·h = P
    hidden = max(256, int(round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a) / 128)) * 128)
    heads = max(1, hidden // 128)
    kv = max(1, heads // 4) if heads % 4 == 0 else heads
    return ModelArch(
        name=f"draft-{params_b:g}b", num_layers=layers, hidden_size=hidden, num_heads=heads, num_kv_heads=kv,
        head_dim=128, intermediate_size=int(hidden * 3.5), gated_ffn=True, vocab_size=arch.vocab_size,
    )


def resolve_draft(cfg: ServingConfig, arch: ModelArch, base=None) -> ModelArch | None:
    if cfg.speculative is None:
        return None
    if cfg.speculative.draft_model:
        draft, _ = load_model(cfg.speculative.draft_model, base=base)
        return draft
    return synthetic_draft(arch, cfg.speculative.draft_params_b or 1.0)


def slo_ratios(cfg: ServingConfig, prediction: Prediction) -> dict[str, float]:
    ratios: dict[str, float] = {}
    if cfg.slo.ttft_ms is not None:
        ratios["ttft"] = prediction.ttft_s * 1e3 / cfg.slo.ttft_ms
    if cfg.slo.itl_ms is not None:
        ratios["itl"] = prediction.itl_s * 1e3 / cfg.slo.itl_ms
    if cfg.slo.throughput_tok_s is not None:
        ratios["throughput"] = cfg.slo.throughput_tok_s / prediction.throughput_tok_s
    return ratios


def evaluate(cfg: ServingConfig, context: ServingContext, *, check_batch: bool = True) -> Evaluation:
    """Memory feasibility first (an infeasible config is an InputError naming the overflow), then the
    time model."""
    arch = context.arch
    memory = plan_memory(arch, cfg, context.capacity_bytes)
    fixed = memory.weight_bytes + memory.workspace_bytes + memory.reserve_bytes
    if fixed > memory.capacity_bytes:
        raise InputError(
            f"does not fit: weights {fmt_bytes(memory.weight_bytes)} + workspace {fmt_bytes(memory.workspace_bytes)} "
            f"+ reserve {fmt_bytes(memory.reserve_bytes)} per GPU exceed the {fmt_bytes(memory.capacity_bytes)} of "
            f"{context.spec.name} by {fmt_bytes(fixed - memory.capacity_bytes)}",
            place="parallelism/precision",
            fix="shard over more GPUs (parallelism.tensor/pipeline) or quantize the weights",
        )
    if check_batch and cfg.serving.batch > memory.max_batch:
        raise InputError(
            f"batch {cfg.serving.batch} does not fit: its KV cache needs {fmt_bytes(memory.kv_bytes_batch)} per GPU, "
            f"{fmt_bytes(-memory.free_bytes)} more than is free; at most {memory.max_batch} sequences of "
            f"{memory.context_tokens} tokens fit",
            place="serving.batch",
            fix=(f"lower serving.batch to {memory.max_batch} or less, shorten max_context_tokens, or quantize the KV cache"
                 if memory.max_batch >= 1 else
                 "not even one sequence fits: shorten max_context_tokens, quantize the KV cache or the weights, "
                 "or shard over more GPUs"),
        )
    draft = context.draft_arch if cfg.speculative is not None else None
    if cfg.speculative is not None and draft is None:
        draft = resolve_draft(cfg, arch)
    prediction = predict(arch, cfg, context.roofs, context.efficiency, memory, draft=draft)
    return Evaluation(prediction, slo_ratios(cfg, prediction))


def score(evaluation: Evaluation) -> float:
    """Lower is better: log distance to each SLO, full weight while unmet and a tenth once met (so
    headroom still counts a little). Without SLOs: inter-token latency over throughput."""
    if not evaluation.ratios:
        p = evaluation.prediction
        return math.log(p.itl_s) - math.log(p.throughput_tok_s) + 0.25 * math.log(p.ttft_s)
    return sum(math.log(r) if r > 1 else 0.1 * math.log(r) for r in evaluation.ratios.values())


def satisfied(evaluation: Evaluation) -> str | None:
    if evaluation.ratios and not evaluation.unmet:
        return "all SLOs met"
    return None


def build_context(cfg: ServingConfig, arch: ModelArch, spec: HardwareSpec, roofs: Roofs,
                  efficiency: Efficiency | None = None, base=None) -> ServingContext:
    eff = calibrated(efficiency or Efficiency(), roofs)
    tp = cfg.parallelism.tensor
    if arch.num_heads % tp:
        raise InputError(
            f"tensor parallelism {tp} does not divide the {arch.num_heads} attention heads of {arch.name}",
            place="parallelism.tensor",
            fix="use a divisor of the head count (1, 2, 4, 8, …)",
        )
    return ServingContext(arch, spec, roofs, eff, resolve_draft(cfg, arch, base=base))


__all__ = ["Diagnosis", "Evaluation", "MoESpec", "ServingContext", "evaluate", "score"]
