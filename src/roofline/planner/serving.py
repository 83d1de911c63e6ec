"""Planning a serving config: evaluate (memory + prediction), diagnose, score against the SLOs."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from roofline.errors import InputError
from roofline.hardware.spec import HardwareSpec, Roofs
from roofline.planner.serving_disagg import predict_disaggregated
from roofline.units import fmt_bytes
from roofline.precision import Precision, Unit
from roofline.workload.benchmark import measured_lengths
from roofline.workload.efficiency import Efficiency, calibrated
from roofline.workload.engine_profile import (
    GENERIC_TOKEN_BUDGET,
    EngineProfile,
    Scheduler,
    load_engine_profile,
    profile_path_inside,
    reserved_memory_fraction,
)
from roofline.workload.memory import max_batch_that_fits, plan_memory, workspace_terms
from roofline.workload.model import ModelArch, MoESpec, load_model
from roofline.workload.parallel import check_layout, mtp_draft
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
    profile: EngineProfile = field(default_factory=lambda: EngineProfile(
        name="generic", scheduler=Scheduler(token_budget=GENERIC_TOKEN_BUDGET)))

    @property
    def capacity_bytes(self) -> float:
        """What the engine's paged KV pool may use: the profile's memory fraction of the GPU."""
        return self.spec.memory.usable_bytes * self.profile.scheduler.memory_fraction

    def scheduler_for(self, cfg: ServingConfig) -> Scheduler:
        """The profile's scheduler as this config meets it: offline (in-process) requests pay no
        front-end cost per request (``per_request_s``: HTTP, tokenisation, streaming); the per-layer
        prefill dispatch (``per_request_layer_s``) is the engine's own and stays."""
        scheduler = self.profile.scheduler
        updates: dict[str, object] = {}
        if cfg.runtime.frontend == "offline" and scheduler.per_request_s:
            updates["per_request_s"] = 0.0
        if cfg.runtime.max_num_tokens is not None:  # the deployment's own token budget
            updates["token_budget"] = cfg.runtime.max_num_tokens
        if cfg.runtime.recv_interval is not None:  # the deployment's own request-poll interval
            updates["recv_interval"] = cfg.runtime.recv_interval
        return scheduler.model_copy(update=updates) if updates else scheduler

    def capacity_for(self, cfg: ServingConfig) -> float:
        """A static batch allocates its own KV cache, exactly B x (prompt + output) tokens
        (TensorRT-LLM's session runtime, offline generate): the pool fraction of continuous serving
        (trtllm-serve's free_gpu_memory_fraction, vLLM's gpu_memory_utilization) does not apply. An engine
        that derives its fraction from the device (``scheduler.memory_reserve``: SGLang) gets it for this
        device, token budget and TP. A fraction the deployment sets (``runtime.memory_fraction``) wins
        over the profile's."""
        if self.mode(cfg) == "static":
            return self.spec.memory.usable_bytes
        if cfg.runtime.memory_fraction is not None:
            return self.spec.memory.usable_bytes * cfg.runtime.memory_fraction
        reserve = self.profile.scheduler.memory_reserve
        if reserve is None:
            return self.capacity_bytes
        device = self.spec.memory.usable_bytes
        fraction = reserved_memory_fraction(
            reserve, device, token_budget=self.scheduler_for(cfg).token_budget,
            graph_max_batch=self.profile.scheduler.graph_max_batch or 0, tp=cfg.parallelism.tensor,
            pp=cfg.parallelism.pipeline, dp=cfg.parallelism.attention_data)
        return device * fraction

    def mode(self, cfg: ServingConfig) -> str:
        return cfg.serving.mode or self.profile.default_mode

    def effective(self, cfg: ServingConfig) -> ServingConfig:
        """The config as the engine runs it: a named engine's kernels decide fused attention,
        fused elementwise chains and its framework, and its placement which weights attention DP
        keeps sharded; the generic profile keeps the config's switches."""
        kernels, updates = self.profile.kernels, {}
        if kernels.flash_attention is not None and cfg.runtime.flash_attention != kernels.flash_attention:
            updates["flash_attention"] = kernels.flash_attention
        if kernels.fused_elementwise is not None and cfg.runtime.compiled != kernels.fused_elementwise:
            updates["compiled"] = kernels.fused_elementwise
        if self.profile.name != "generic" and cfg.runtime.framework != self.profile.framework:
            updates["framework"] = self.profile.framework
        if self.profile.scheduler.graph_max_batch is not None and not cfg.runtime.cuda_graphs:
            updates["cuda_graphs"] = True
        if updates:
            cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update=updates)})
        # Weight placement under attention DP is the engine's unless the config names it.
        sharded = self.profile.parallel.attention_dp_sharded
        if cfg.parallelism.dp_sharded is None and sharded:
            parallelism = cfg.parallelism.model_copy(update={"dp_sharded": sharded})
            cfg = cfg.model_copy(update={"parallelism": parallelism})
        return cfg


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


def resolve_draft(cfg: ServingConfig, arch: ModelArch, base=None, hub_cache=None) -> ModelArch | None:
    if cfg.speculative is None:
        return None
    if cfg.speculative.mtp:
        return mtp_draft(arch)
    if cfg.speculative.draft_model:
        draft, _ = load_model(cfg.speculative.draft_model, base=base, hub_cache=hub_cache)
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


def paged_fits(arch: ModelArch, cfg: ServingConfig, capacity_bytes: float, reserved_fits: int) -> int:
    """Sequences that run at once under a paged KV cache: a request holds blocks for the tokens it has
    (prompt + half its output on average), not for its whole context — unless the config sets
    max_context_tokens, which then sizes every request as before."""
    if cfg.serving.max_context_tokens is not None:
        return reserved_fits
    memory = plan_memory(arch, cfg, capacity_bytes)
    base, per_sequence = workspace_terms(arch, cfg)
    held = memory.kv_bytes_per_token * (cfg.serving.prompt_tokens + cfg.serving.output_tokens / 2)
    return max_batch_that_fits(capacity_bytes, memory.weight_bytes + base + memory.reserve_bytes, held + per_sequence)


def benchmarked(cfg: ServingConfig) -> ServingConfig:
    """The config at the mean lengths of its benchmark's requests (``serving.benchmark.length_range_ratio``:
    lengths uniform in [ratio·L, L]); unchanged without a spread."""
    s = cfg.serving
    prompt, output = measured_lengths(s.prompt_tokens, s.output_tokens, s.benchmark)
    if (prompt, output) == (s.prompt_tokens, s.output_tokens):
        return cfg
    return cfg.model_copy(update={"serving": s.model_copy(update={"prompt_tokens": prompt, "output_tokens": output})})


def evaluate(cfg: ServingConfig, context: ServingContext, *, check_batch: bool = True) -> Evaluation:
    """Memory feasibility first (an infeasible config is an InputError naming the overflow), then the
    time model. A ``batch`` the config gives must fit (in static mode, so must the clients); clients
    of continuous mode beyond what fits wait in the queue. With ``serving.benchmark`` the prediction is
    what that benchmark reports (its mean lengths, its burst start: roofline.workload.benchmark)."""
    if cfg.serving.benchmark is not None and context.mode(cfg) == "static":
        raise InputError("serving.benchmark models clients of a continuous-batching server, but the engine "
                         f"profile '{context.profile.name}' serves a static batch", place="serving.benchmark",
                         fix="set serving.mode: continuous, or drop serving.benchmark")
    cfg = benchmarked(cfg)
    if cfg.serving.disaggregated is not None:
        draft = (context.draft_arch or resolve_draft(cfg, context.arch)) if cfg.speculative is not None else None
        prediction = predict_disaggregated(cfg, context, draft)
        return Evaluation(prediction, slo_ratios(cfg, prediction))
    arch = context.arch
    mode = context.mode(cfg)
    s = cfg.serving
    # Memory is that of the engine's kernels too: a named engine's fused attention never holds the
    # prompt's S×S scores (trtllm/sglang/vllm profiles: flash_attention true), whatever the config says.
    run_cfg = context.effective(cfg)
    capacity = context.capacity_for(cfg)
    fits = plan_memory(arch, run_cfg, capacity).max_batch
    paged_ok = True
    if mode == "static" or s.concurrency is None:
        running = s.clients  # the batch that runs together: it must fit
        checked = running
    else:
        checked = s.batch if "batch" in s.model_fields_set else None  # a max_num_seqs the config sets
        fits = paged_fits(arch, run_cfg, capacity, fits)
        # The engine's running cap is per attention-DP rank (see serving_disagg).
        cap = min(fits, context.profile.scheduler.max_running * cfg.parallelism.attention_data, checked or fits)
        running = min(s.concurrency, max(cap, 1))
        paged_ok = fits >= 1
    memory = plan_memory(arch, run_cfg.model_copy(update={"serving": s.model_copy(update={"batch": running})}),
                         capacity)
    fixed = memory.weight_bytes + memory.workspace_bytes + memory.reserve_bytes
    if fixed > memory.capacity_bytes:
        raise InputError(
            f"does not fit: weights {fmt_bytes(memory.weight_bytes)} + workspace {fmt_bytes(memory.workspace_bytes)} "
            f"+ reserve {fmt_bytes(memory.reserve_bytes)} per GPU exceed the {fmt_bytes(memory.capacity_bytes)} of "
            f"{context.spec.name} by {fmt_bytes(fixed - memory.capacity_bytes)}",
            place="parallelism/precision",
            fix="shard over more GPUs (parallelism.tensor/pipeline) or quantize the weights",
        )
    over = checked if checked is not None else (0 if paged_ok else 1)  # continuous: only when nothing fits
    if check_batch and over > memory.max_batch:
        raise InputError(
            f"batch {over} does not fit: its KV cache needs {fmt_bytes(memory.kv_bytes_batch)} per GPU, "
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
    prediction = predict(arch, run_cfg, context.roofs, context.efficiency, memory, draft=draft,
                         scheduler=context.scheduler_for(cfg), mode=mode, capacity=running,
                         graph_max_batch=context.profile.scheduler.graph_max_batch)
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


def resolve_profile(cfg: ServingConfig, base: Path | None = None) -> EngineProfile:
    """The engine profile a config names: its own file (``runtime.engine_profile``, relative to the
    config and inside its directory), or a bundled engine."""
    runtime = cfg.runtime
    if runtime.engine_profile:
        path = Path(runtime.engine_profile)
        if base is not None:
            path = profile_path_inside(base, runtime.engine_profile)
        return load_engine_profile(runtime.engine, path=path)
    return load_engine_profile(runtime.engine, runtime.engine_version)


def check_fp4_roof(cfg: ServingConfig, spec: HardwareSpec, roofs: Roofs) -> None:
    """W4A4 runs its GEMMs on the fp4 tensor cores: a part whose spec lists no fp4 matrix peak cannot
    be modelled (no roof is invented)."""
    if cfg.precision.activations == Precision.FP4 and (Unit.MATRIX, Precision.FP4) not in roofs.compute:
        raise InputError(
            f"{spec.name} has no fp4 tensor-core peak (peak_tflops.matrix.fp4 in its spec): fp4 weights and "
            "activations (W4A4, NVFP4/MXFP4) need one",
            place="precision.activations",
            fix="use bf16 activations (fp4 weight-only), or a part with fp4 tensor cores (B200, GB200), or add the "
                "peak with --hw-file",
        )


def build_context(cfg: ServingConfig, arch: ModelArch, spec: HardwareSpec, roofs: Roofs,
                  efficiency: Efficiency | None = None, base=None, hub_cache=None,
                  profile: EngineProfile | None = None) -> ServingContext:
    profile = (profile or resolve_profile(cfg, base)).for_version(cfg.runtime.engine_version).for_model(
        arch.moe is not None)
    check_fp4_roof(cfg, spec, roofs)
    eff = calibrated(profile.efficiency(efficiency or Efficiency(), spec.vendor), roofs)
    check_layout(arch, cfg)
    return ServingContext(arch, spec, roofs, eff, resolve_draft(cfg, arch, base=base, hub_cache=hub_cache), profile)


__all__ = ["Diagnosis", "Evaluation", "MoESpec", "ServingContext", "evaluate", "score"]
