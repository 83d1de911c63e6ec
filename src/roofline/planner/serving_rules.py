"""Rules for serving configs. Each reads a Diagnosis and proposes a transform of the config, or
nothing. The planner measures every proposal by re-evaluating the whole model, so a rule only
has to say *when* a technique is worth trying and *what* it changes."""

from __future__ import annotations

from roofline.planner.engine import Candidate, register_rule
from roofline.planner.serving import DOMAIN, Diagnosis, evaluate
from roofline.precision import Precision, Unit
from roofline.units import fmt_bytes, fmt_percent, fmt_seconds
from roofline.workload.predict import PhasePrediction
from roofline.workload.serving import ServingConfig

SIXTEEN_BIT = (Precision.FP16, Precision.BF16, Precision.FP32)
# Seed 002: "when profiling reveals that kernel launch gaps constitute more than 10 percent of
# execution time, CUDA Graphs should be the first intervention considered."
LAUNCH_SHARE = 0.10
SPECULATION_MAX_BATCH = 16  # the case study stops speculating at batch ≥ 16


def _share(phase: PhasePrediction, term: str) -> float:
    total = sum(phase.breakdown.values())
    return phase.breakdown[term] / total if total > 0 else 0.0


def _update(cfg: ServingConfig, section: str, **changes: object) -> ServingConfig:
    part = getattr(cfg, section)
    return cfg.model_copy(update={section: part.model_copy(update=changes)})


@register_rule(DOMAIN, "weight_quantization")
def weight_quantization(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """Memory-bound decode dominated by weight bytes: store weights in fewer bits. Weight-only int4
    at low batch (latency); fp8 weights and activations where the GEMMs are compute-bound and the
    hardware has fp8 tensor cores (throughput) — the seed's split by operating point."""
    cfg, decode, prefill = d.config, d.prediction.decode, d.prediction.prefill
    if cfg.precision.weights not in SIXTEEN_BIT:
        return None
    weight_share = decode.weight_bytes / decode.bytes if decode.bytes else 0.0
    has_fp8 = (Unit.MATRIX, Precision.FP8) in d.context.roofs.compute
    if decode.bound == "memory" and weight_share > 0.5:
        return Candidate(
            technique="int4 weight-only quantization (AWQ/GPTQ, group 128)",
            targets="memory",
            rationale=(
                f"decode is memory-bound ({fmt_percent(_share(decode, 'memory'))} of the step) and weights are "
                f"{fmt_percent(weight_share)} of the bytes a step reads per GPU ({fmt_bytes(decode.weight_bytes)} "
                f"of {fmt_bytes(decode.bytes)}): 4.125-bit weights move ~3.9x fewer bytes"
            ),
            risks=("quality: calibrate and check perplexity/evals (int4 can cost points on reasoning tasks)",
                   "dequantization halves streaming efficiency; needs int4 GEMM kernels (Marlin/AWQ)"),
            effort="medium",
            tier=1,
            verify="re-profile decode: GEMV kernels should move ~4x fewer bytes; compare eval scores before/after",
            apply=lambda c: _update(c, "precision", weights=Precision.INT4, weight_group_size=128),
        )
    if has_fp8 and (prefill.bound == "compute" or decode.bound == "compute"):
        return Candidate(
            technique="fp8 weights and activations (W8A8 on fp8 tensor cores)",
            targets="compute",
            rationale=(
                f"GEMMs are compute-bound ({'prefill' if prefill.bound == 'compute' else 'decode'}): fp8 tensor cores "
                "double the matrix roof and halve weight bytes"
            ),
            risks=("quality: per-tensor/per-channel scales needed; check evals", "activation outliers may need SmoothQuant"),
            effort="medium",
            tier=1,
            verify="re-profile: GEMMs should run on the fp8 matrix roof (kernel names with fp8/e4m3)",
            apply=lambda c: _update(c, "precision", weights=Precision.FP8, activations=Precision.FP8, weight_group_size=None),
        )
    return None


@register_rule(DOMAIN, "kv_cache_quantization")
def kv_cache_quantization(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """KV bytes a large share of decode traffic, or KV capacity limiting the batch: int8 KV."""
    cfg, decode, memory = d.config, d.prediction.decode, d.prediction.memory
    if cfg.precision.kv_cache not in SIXTEEN_BIT:
        return None
    kv_share = decode.kv_bytes / decode.bytes if decode.bytes else 0.0
    tight = memory.max_batch < 2 * cfg.serving.batch
    if kv_share < 0.2 and not tight:
        return None
    why = (f"KV cache reads are {fmt_percent(kv_share)} of decode bytes" if kv_share >= 0.2
           else f"the KV cache limits the batch to {memory.max_batch} sequences")
    return Candidate(
        technique="int8 KV cache",
        targets="memory" if kv_share >= 0.2 else "capacity",
        rationale=f"{why}; int8 halves KV bytes and doubles the sequences that fit",
        risks=("quality: small, check long-context evals", "needs per-head/per-channel scales in the attention kernel"),
        effort="medium",
        tier=1,
        verify="re-profile decode attention: bytes per KV token halve; check max batch in the serving engine",
        apply=lambda c: _update(c, "precision", kv_cache=Precision.INT8),
    )


@register_rule(DOMAIN, "cuda_graphs")
def cuda_graphs(d: Diagnosis) -> Candidate[ServingConfig] | None:
    cfg, decode = d.config, d.prediction.decode
    share = _share(decode, "launch")
    if cfg.runtime.cuda_graphs or share < LAUNCH_SHARE:
        return None
    return Candidate(
        technique="capture decode in CUDA graphs (or torch.compile(mode='reduce-overhead'))",
        targets="launch",
        rationale=(
            f"launch overhead is {fmt_percent(share)} of the decode step ({decode.kernels} kernels, "
            f"{fmt_seconds(decode.breakdown['launch'])}); a graph replays them with one host submission"
        ),
        risks=("static shapes: capture one graph per batch size bucket", "memory for graph pools"),
        effort="low",
        tier=1,
        verify="re-profile decode: host launch gaps between kernels should vanish (cudaGraphLaunch per step)",
        apply=lambda c: _update(c, "runtime", cuda_graphs=True),
    )


@register_rule(DOMAIN, "compile_fusion")
def compile_fusion(d: Diagnosis) -> Candidate[ServingConfig] | None:
    cfg = d.config
    if cfg.runtime.compiled:
        return None
    small = sum(o.gpu_s for o in d.prediction.decode.ops if o.kind in ("elementwise", "norm"))
    share = small / d.prediction.decode.time_s if d.prediction.decode.time_s else 0.0
    if share < 0.05 and cfg.runtime.framework != "huggingface":
        return None
    return Candidate(
        technique="torch.compile: fuse elementwise and norm chains",
        targets="launch",
        rationale=f"elementwise and norm kernels are {fmt_percent(share)} of decode time; fusion removes launches and "
        "intermediate round trips",
        risks=("compile time and graph breaks", "dynamic shapes recompile"),
        effort="low",
        tier=1,
        verify="re-profile: fewer, triton_* kernels in place of chains of small elementwise kernels",
        apply=lambda c: _update(c, "runtime", compiled=True),
    )


@register_rule(DOMAIN, "flash_attention")
def flash_attention(d: Diagnosis) -> Candidate[ServingConfig] | None:
    cfg = d.config
    if cfg.runtime.flash_attention:
        return None
    attention = [o for o in d.prediction.prefill.ops if o.kind == "attention"]
    share = sum(o.gpu_s for o in attention) / d.prediction.prefill.time_s if d.prediction.prefill.time_s else 0.0
    materialised = sum(o.bytes for o in attention)
    if share < 0.05:
        return None
    return Candidate(
        technique="FlashAttention-style fused attention",
        targets="memory",
        rationale=(f"unfused attention is {fmt_percent(share)} of prefill and materialises score/probability "
                   f"matrices ({fmt_bytes(materialised)} per GPU per prefill)"),
        risks=("numerics: last bits differ from the unfused path",),
        effort="low",
        tier=1,
        verify="re-profile prefill: one attention kernel per layer (flash_fwd/fmha) and no softmax kernels",
        apply=lambda c: _update(c, "runtime", flash_attention=True),
    )


@register_rule(DOMAIN, "continuous_batching")
def continuous_batching(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """Throughput SLO missed: admit more concurrent sequences (continuous batching) — the smallest
    batch that meets it while the ITL SLO holds and the KV cache fits."""
    cfg, ev = d.config, d.evaluation
    if "throughput" not in ev.unmet:
        return None
    memory = d.prediction.memory
    best: ServingConfig | None = None
    best_throughput = d.prediction.throughput_tok_s
    batch = cfg.serving.batch
    while batch < memory.max_batch:
        batch = min(memory.max_batch, max(batch + 1, int(batch * 1.25)))
        trial = _update(cfg, "serving", batch=batch)
        result = evaluate(trial, d.context)
        if cfg.slo.itl_ms is not None and result.prediction.itl_s * 1e3 > cfg.slo.itl_ms:
            break
        if result.prediction.throughput_tok_s > best_throughput:
            best, best_throughput = trial, result.prediction.throughput_tok_s
        if "throughput" not in result.unmet:
            break
    if best is None:
        return None
    target = best.serving.batch
    return Candidate(
        technique=f"continuous batching to {target} concurrent sequences",
        targets="capacity",
        rationale=(f"throughput misses its SLO at batch {cfg.serving.batch}; the KV cache allows up to "
                   f"{memory.max_batch} and each decode step amortises the weight reads over more sequences"),
        risks=("per-request latency grows with batch", "needs enough concurrent load and a scheduler that refills slots"),
        effort="low",
        tier=2,
        verify="load-test at the target concurrency: tokens/s and ITL percentiles",
        apply=lambda c, b=target: _update(c, "serving", batch=b),
    )


@register_rule(DOMAIN, "speculative_decoding")
def speculative_decoding(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """ITL SLO still missed at low batch with spare compute: a draft model proposes k tokens that one
    target pass verifies. Last, and only while the batch is low (the seed's adaptive policy)."""
    cfg = d.config
    if cfg.speculative is not None or "itl" not in d.evaluation.unmet or cfg.serving.batch >= SPECULATION_MAX_BATCH:
        return None
    if d.prediction.decode.bound == "compute":
        return None
    params_b = max(0.5, round(d.context.arch.active_params / 1e9 * 0.02, 1))
    from roofline.workload.serving import Speculative

    spec = Speculative(draft_params_b=params_b, k=4, acceptance=0.7)
    return Candidate(
        technique=f"speculative decoding ({params_b:g}B draft, k=4, assumed acceptance 0.7)",
        targets="latency",
        rationale=(f"ITL misses its SLO at batch {cfg.serving.batch} with decode {d.prediction.decode.bound}-bound "
                   f"(MFU {fmt_percent(d.prediction.decode.mfu)}): verifying k+1 tokens costs about one step"),
        risks=("acceptance rate is workload-dependent: measure it", "draft model to train/serve; gains vanish at high batch"),
        effort="high",
        tier=3,
        verify="measure acceptance rate and ITL at batch 1–8; disable above batch 16",
        apply=lambda c: c.model_copy(update={"speculative": spec}),
    )


@register_rule(DOMAIN, "tensor_parallelism")
def tensor_parallelism(d: Diagnosis) -> Candidate[ServingConfig] | None:
    cfg = d.config
    tp = cfg.parallelism.tensor
    if "itl" not in d.evaluation.unmet and "ttft" not in d.evaluation.unmet:
        return None
    new_tp = tp * 2
    if new_tp * cfg.parallelism.pipeline > cfg.gpus or d.context.arch.num_heads % new_tp:
        return None
    return Candidate(
        technique=f"tensor parallelism {tp} → {new_tp}",
        targets="memory",
        rationale=f"latency SLO missed at TP={tp}: each GPU streams half the weights at TP={new_tp}",
        risks=("all-reduce latency per layer grows in share", "uses more GPUs per replica (fewer replicas)"),
        effort="high",
        tier=3,
        verify="re-profile: per-GPU GEMM bytes halve; NCCL all-reduce time per layer",
        apply=lambda c, t=new_tp: _update(c, "parallelism", tensor=t),
    )
