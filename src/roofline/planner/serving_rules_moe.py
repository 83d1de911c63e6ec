"""Rules for MoE, MLA and disaggregated serving: experts over expert parallelism instead of tensor
parallelism, attention data parallelism for MLA at large batch, disaggregated prefill/decode with its
P:D ratio, and multi-token-prediction speculation. Like every serving rule, each only says when a
change is worth trying and what it changes; the planner re-evaluates the whole model."""

from __future__ import annotations

from roofline.planner.engine import Candidate, register_rule
from roofline.planner.serving import DOMAIN, Diagnosis, evaluate, score
from roofline.units import fmt_bytes, fmt_seconds
from roofline.workload.disagg import Disaggregated, Pool
from roofline.workload.serving import ServingConfig, Speculative

# Attention DP pays once each attention rank has enough sequences to keep it busy; SGLang's DP
# attention guide recommends it for high-throughput DeepSeek serving, not for latency at small batch.
ATTENTION_DP_MIN_BATCH = 32
# DeepSeek-V3 technical report §5.4.3: the acceptance rate of the second token predicted by MTP is
# between 85% and 90% across generation topics.
MTP_ACCEPTANCE = 0.85


def _parallel(cfg: ServingConfig, **changes: int | None) -> ServingConfig:
    par = cfg.parallelism.model_validate({**cfg.parallelism.model_dump(), **changes})
    return cfg.model_copy(update={"parallelism": par})


def _running(d: Diagnosis) -> int:
    return d.prediction.running


@register_rule(DOMAIN, "expert_parallelism")
def expert_parallelism(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """Experts split in width over tensor ranks (each GEMM 1/t as wide, an all-reduce per layer):
    give each GPU whole experts instead (EP over the same GPUs)."""
    cfg, arch = d.config, d.context.arch
    par = cfg.parallelism
    group = par.tensor * par.attention_data
    if arch.moe is None or cfg.serving.disaggregated is not None or par.expert == group or arch.moe.num_experts % group:
        return None
    width = arch.moe.expert_intermediate_size / par.moe_tensor
    return Candidate(
        technique=f"expert parallelism {group} for the routed experts (instead of expert tensor parallelism "
                  f"{par.moe_tensor})",
        targets="compute",
        rationale=(f"each of the {arch.moe.num_experts} experts is split {par.moe_tensor} ways ({width:.0f} wide per "
                   f"GPU): whole experts per GPU keep the grouped GEMMs wide; the busiest rank carries the routing "
                   "imbalance"),
        risks=("routing skew loads some ranks more (EPLB / redundant experts)",
               "all-to-all dispatch/combine with attention DP"),
        effort="medium",
        tier=2,
        verify="profile the MoE layer: grouped-GEMM time per rank and its spread across ranks",
        apply=lambda c, g=group: _parallel(c, expert=g, expert_tensor=1),
    )


@register_rule(DOMAIN, "attention_data_parallelism")
def attention_data_parallelism(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """MLA under tensor parallelism keeps the whole latent cache on every rank and splits only the
    heads: at large batch run attention data-parallel (each rank its own sequences, 1/t of the cache)."""
    cfg, arch = d.config, d.context.arch
    par = cfg.parallelism
    if arch.mla is None or par.tensor == 1 or cfg.serving.disaggregated is not None \
            or _running(d) < ATTENTION_DP_MIN_BATCH:
        return None
    group = par.tensor * par.attention_data
    expert = group if arch.moe is not None and arch.moe.num_experts % group == 0 else par.expert
    memory = d.prediction.memory
    return Candidate(
        technique=f"attention data parallelism {group} (attention TP {par.tensor} → 1, experts EP {expert})",
        targets="capacity",
        rationale=(f"MLA's latent is shared by all heads, so each of the {par.tensor} tensor ranks holds every "
                   f"sequence's cache ({fmt_bytes(memory.kv_bytes_per_request)} per request per GPU); with "
                   f"{_running(d)} sequences running, data-parallel attention holds 1/{group} of them per GPU"),
        risks=("attention weights replicated on every GPU", "uneven sequence lengths across DP ranks stall the MoE sync"),
        effort="medium",
        tier=2,
        verify="KV-cache capacity per GPU and decode step time at the target concurrency",
        apply=lambda c, g=group, e=expert: _parallel(c, tensor=1, attention_data=g, expert=e,
                                                     expert_tensor=g // e),
    )


@register_rule(DOMAIN, "disaggregation")
def disaggregation(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """Prefill chunks slow every decode step they join, and decode batches delay prefills: split the
    GPUs into a prefill and a decode pool at the best P:D ratio, at the same GPU count."""
    cfg = d.config
    if cfg.serving.disaggregated is not None or not d.evaluation.unmet:
        return None
    per_worker = cfg.parallelism.gpus_per_replica
    workers = cfg.gpus // per_worker
    if workers < 2:
        return None
    pool = {k: v for k, v in cfg.parallelism.model_dump().items() if v is not None}
    trials = []
    for p in range(1, workers):
        layout = Disaggregated(prefill=Pool(workers=p, **pool), decode=Pool(workers=workers - p, **pool))
        trial = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={
            "disaggregated": layout, "concurrency": cfg.serving.clients})})
        try:
            result = evaluate(trial, d.context)
        except Exception:  # a split whose pool does not fit is not a candidate
            continue
        trials.append((score(result), p, layout, result))
    if not trials:
        return None
    _, p, layout, result = min(trials, key=lambda t: t[0])
    before = d.prediction
    return Candidate(
        technique=f"disaggregated prefill/decode, P:D = {p}:{workers - p} workers of {per_worker} GPUs",
        targets="latency",
        rationale=(f"aggregated, prompt chunks join {before.prefill_share:.0%} of the decode steps and prefills queue "
                   f"behind decodes (TTFT {fmt_seconds(before.ttft_s)}, ITL {fmt_seconds(before.itl_s)}); of "
                   f"{len(trials)} splits of the {workers} workers, {p}:{workers - p} scores best (TTFT "
                   f"{fmt_seconds(result.prediction.ttft_s)}, ITL {fmt_seconds(result.prediction.itl_s)}, KV hand-off "
                   f"included)"),
        risks=("KV transfer needs RDMA between pools (NIXL/UCX)", "the best ratio moves with ISL/OSL: re-plan it"),
        effort="high",
        tier=3,
        verify="serve both pools; TTFT should lose the decode-queue share and ITL the prefill spikes",
        apply=lambda c, lay=layout: c.model_copy(update={"serving": c.serving.model_copy(update={
            "disaggregated": lay, "concurrency": c.serving.clients})}),
    )


@register_rule(DOMAIN, "mtp_speculation")
def mtp_speculation(d: Diagnosis) -> Candidate[ServingConfig] | None:
    """A model trained with multi-token prediction drafts with its own MTP layer: one extra layer per
    drafted token, accepted 85-90% of the time (DeepSeek-V3 report)."""
    cfg, arch = d.config, d.context.arch
    if arch.mtp_layers < 1 or cfg.speculative is not None or "itl" not in d.evaluation.unmet:
        return None
    spec = Speculative(mtp=True, k=1, acceptance=MTP_ACCEPTANCE)
    return Candidate(
        technique=f"MTP speculative decoding (the model's {arch.mtp_layers} MTP layer, k=1, acceptance "
                  f"{MTP_ACCEPTANCE})",
        targets="latency",
        rationale=(f"{arch.name} carries {arch.mtp_layers} multi-token-prediction layer(s): each decode pass can "
                   f"emit {1 + MTP_ACCEPTANCE:.2f} tokens on average for one extra layer"),
        risks=("acceptance depends on the workload: measure it", "verify passes of k+1 tokens raise the step's M"),
        effort="low",
        tier=2,
        verify="engine's speculative metrics: accepted tokens per step, ITL at the target batch",
        apply=lambda c: c.model_copy(update={"speculative": spec}),
    )
