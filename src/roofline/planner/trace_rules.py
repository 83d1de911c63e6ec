"""Rules for measured traces. Each reads a TraceDiagnosis and proposes a change to the modelled
timeline; the planner re-evaluates the step time after each, so a rule only says when a technique
applies, which time it moves (host issue, GPU busy, idle), and by how much the roofline allows."""

from __future__ import annotations

import math
from dataclasses import replace

from roofline.planner.engine import Candidate, register_rule
from roofline.planner.trace import DOMAIN, GRAPH_GAP_S, GRAPH_SUBMIT_S, GroupModel, TraceDiagnosis, TraceModel
from roofline.units import fmt_percent, fmt_seconds, short_kernel_name

# Seed 002: launch gaps above 10% of execution time make CUDA graphs the first intervention.
LAUNCH_SHARE = 0.10
# A graph pays off when it replaces several launches per step, not the one that starts a step.
GRAPH_MIN_KERNELS_PER_STEP = 4
# torch.compile/Inductor: a chain of elementwise kernels becomes one (about 1 in 3 launches remain)
# and its intermediates stay on chip (about half the traffic): the seed's bias-GELU example saves
# two of four tensor passes.
FUSION_KERNELS_LEFT = 1 / 3
FUSION_BYTES_LEFT = 0.5
# Fused attention runs at ~45% of the bf16 matrix roof on the H200 captures (flash/cuDNN SDPA).
FUSED_ATTENTION_EFFICIENCY = 0.45
# int4 weight-only (group 128 → 4.125 bits) streams at ~0.55 of the bandwidth an fp16 GEMV reaches
# at ~0.80 (the serving model's derates, docs/plan.md).
INT4_TIME_FACTOR = (4.125 / 16) / (0.55 / 0.80)
# Kernels refilled to all SMs are still expected to stop short of the roof.
TAIL_TARGET_OF_ROOF = 0.8
# Only GEMMs launched back to back (a loop over independent items) can be batched; a layer stack's
# GEMMs depend on each other.
BATCH_MIN_RUN = 8
# Batched small GEMMs (one bmm / grouped GEMM) reach about this share of the roof.
BATCHED_GEMM_EFFICIENCY = 0.6
_ATTENTION_CORE = ("bmm", "baddbmm", "_softmax", "softmax", "_safe_softmax")
_ATTENTION_ELEMENTWISE = ("masked_fill", "masked_fill_", "where", "div", "mul", "add", "_to_copy", "copy_", "clone",
                          "contiguous")
_ELEMENTWISE = ("add", "mul", "sub", "div", "gelu", "silu", "sigmoid", "tanh", "relu", "neg", "pow", "rsqrt", "exp",
                "mean", "sum", "_to_copy", "copy_", "where", "masked_fill", "cat", "layer_norm", "rms_norm", "softmax",
                "clamp", "sqrt", "reciprocal", "abs", "log", "fill_", "index", "slice", "cos", "sin")


def _share(d: TraceDiagnosis, seconds_per_step: float) -> float:
    return seconds_per_step / d.evaluation.step_s if d.evaluation.step_s > 0 else 0.0


def _per_step_busy(m: TraceModel, groups: list[GroupModel]) -> float:
    return m.per_step(sum(g.time_s for g in groups) * m.overlap)


def _names(groups: list[GroupModel], limit: int = 3) -> str:
    top = sorted(groups, key=lambda g: -g.time_s)[:limit]
    text = ", ".join(f"{short_kernel_name(g.name, 40)}" + (f" ({g.op})" if g.op else "") for g in top)
    return text + (f" and {len(groups) - limit} more" if len(groups) > limit else "")


def _roof(d: TraceDiagnosis, label: str) -> float | None:
    for roof in d.result.hardware.roofs:
        if roof.label == label:
            return roof.value
    return None


def _is_elementwise(g: GroupModel) -> bool:
    # Needs its op link: kernels of a captured graph replay carry none (a planned graph keeps them).
    if g.kind != "kernel" or g.unit != "vector" or not g.op:
        return False
    name = g.op.rsplit("::", 1)[-1]
    return not name.startswith("triton_") and any(name == e or name.startswith(e) for e in _ELEMENTWISE)


def _fewer_launches(m: TraceModel, removed: int) -> dict[str, float]:
    """Host issue time and gaps after ``removed`` eager launches no longer happen: each took the
    mean host time per launch when the host set the pace, and its gap when it did not."""
    eager = max(m.eager_kernels, 1)
    left = max(1.0 - removed / eager, 0.0)
    if m.host_s > m.busy_s:
        return {"host_s": m.host_s * left, "fixed_gap_s": m.fixed_gap_s * left}
    return {"host_s": m.host_s, "fixed_gap_s": m.fixed_gap_s * left}


def _scale_groups(m: TraceModel, chosen: list[GroupModel], tag: str, **scale: float) -> list[GroupModel]:
    """The groups with ``chosen`` ones scaled: ``time``, ``bytes`` factors; busy time follows."""
    out = []
    for g in m.groups:
        if g in chosen:
            g = replace(g, time_s=g.time_s * scale.get("time", 1.0),
                        bytes=g.bytes * scale.get("bytes", 1.0) if g.bytes is not None else None,
                        changed_by=g.changed_by + (tag,))
        out.append(g)
    return out


@register_rule(DOMAIN, "cuda_graphs")
def cuda_graphs(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    m, e = d.model, d.evaluation
    per_step = m.eager_kernels / max(m.steps, 1)
    wait = e.launch_wait_s
    if not d.replay and (per_step < GRAPH_MIN_KERNELS_PER_STEP or e.critical != "host"
                         or _share(d, wait) < LAUNCH_SHARE):
        return None
    # A host synchronisation inside the step cannot be captured (cudaErrorStreamCaptureUnsupported):
    # remove_syncs comes first, and this rule is evaluated again on the step it leaves.
    if m.eager_kernels == 0 or (m.syncs and not d.replay):
        return None

    def apply(m: TraceModel) -> TraceModel:
        # The replay is submitted before its first kernel runs (its cost lands in the lead-in), and
        # its kernels then follow each other with a small GPU-side gap.
        added = m.eager_kernels * (GRAPH_SUBMIT_S + GRAPH_GAP_S)
        groups = [replace(g, in_graph=True, changed_by=g.changed_by + ("cuda_graphs",)) for g in m.groups]
        return m.with_groups(groups, host_s=0.0, fixed_gap_s=0.0, syncs=0, sync_s=0.0, extra_s=m.extra_s + added)

    return Candidate(
        technique="capture the step in a CUDA graph (torch.cuda.graphs or torch.compile(mode='reduce-overhead'))",
        targets="launch",
        rationale=(f"the host sets the pace: the GPU waits for launches {fmt_percent(_share(d, wait))} of the step "
                   f"({fmt_seconds(wait)} per step, {per_step:.0f} eager kernels per step, "
                   f"{fmt_seconds(e.host_s / max(per_step, 1))} of host time per launch); a replay submits them "
                   f"at ~{GRAPH_SUBMIT_S * 1e6:.2f} µs each, runs them {GRAPH_GAP_S * 1e6:.2f} µs apart, and the step "
                   "becomes GPU-bound"),
        risks=("static shapes and addresses: capture per shape bucket", "no host synchronisation or data-dependent "
               "control flow inside the graph", "engineering: low (torch.compile reduce-overhead) to medium"),
        effort="low",
        tier=1,
        verify="re-profile: one cudaGraphLaunch per step, kernels back to back; compare the step span",
        apply=apply,
    )


@register_rule(DOMAIN, "fuse_elementwise")
def fuse_elementwise(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    small = [g for g in d.model.groups if _is_elementwise(g) and g.bound in ("memory", "launch", "latency")
             and "fusion" not in g.changed_by]
    if len(small) < 2:
        return None
    m = d.model
    seconds = _per_step_busy(m, small)
    calls = sum(g.count for g in small)
    if not d.replay and _share(d, seconds) < 0.05 and calls / max(m.kernels, 1) < 0.3:
        return None

    def apply(m: TraceModel) -> TraceModel:
        groups, removed = [], 0
        for g in m.groups:
            if g in small:
                left = max(1, round(g.count * FUSION_KERNELS_LEFT))
                removed += g.count - left
                # Launch- and latency-bound kernels cost per kernel; memory-bound ones per byte.
                factor = FUSION_KERNELS_LEFT if g.bound in ("launch", "latency") else FUSION_BYTES_LEFT
                g = replace(g, time_s=g.time_s * factor, count=left,
                            bytes=g.bytes * FUSION_BYTES_LEFT if g.bytes is not None else None,
                            changed_by=g.changed_by + ("fusion",))
            groups.append(g)
        return m.with_groups(groups, **_fewer_launches(m, removed))

    return Candidate(
        technique="fuse elementwise chains (torch.compile, or a hand-fused kernel)",
        targets="launch" if sum(g.bound in ("launch", "latency") for g in small) >= len(small) / 2 else "memory",
        rationale=(f"{calls / max(m.steps, 1):.0f} calls per step of small elementwise/norm kernels ({_names(small)}) "
                   f"take {fmt_seconds(seconds)} of GPU time per step; fused, about 1 in 3 launches and half the "
                   "traffic remain"),
        risks=("compile time, graph breaks and recompiles on new shapes", "numerics of fused reductions differ slightly"),
        effort="low",
        tier=1,
        verify="re-profile: triton_* kernels in place of the chains; fewer kernels per step",
        apply=apply,
    )


@register_rule(DOMAIN, "tensor_core_precision")
def tensor_core_precision(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """fp32 GEMMs on CUDA cores while the part has tf32/bf16 tensor cores: same efficiency, higher roof."""
    fp32 = [g for g in d.model.groups if g.precision == "fp32" and g.unit == "matrix" and g.bound == "compute"
            and (g.roof or "").startswith("fp32 vector") and "tf32" not in g.changed_by]
    tf32 = _roof(d, "tf32 matrix")
    vector = _roof(d, "fp32 vector")
    if not fp32 or not tf32 or not vector:
        return None
    seconds = _per_step_busy(d.model, fp32)
    if not d.worth(_share(d, seconds), 0.05):
        return None
    speedup = tf32 / vector
    bandwidth = d.result.hardware.memory_bandwidth_bytes_per_s

    def apply(m: TraceModel) -> TraceModel:
        groups = []
        for g in m.groups:
            if g in fp32:
                floor = (g.bytes or 0.0) / bandwidth
                g = replace(g, time_s=max(g.time_s / speedup, floor), precision="tf32", roof="tf32 matrix",
                            changed_by=g.changed_by + ("tf32",))
            groups.append(g)
        return m.with_groups(groups)

    return Candidate(
        technique="run fp32 GEMMs on tensor cores (torch.backends.cuda.matmul.allow_tf32 = True, or bf16 autocast)",
        targets="compute",
        rationale=(f"fp32 GEMMs ({_names(fp32)}) are compute-bound on the fp32 vector roof and take "
                   f"{fmt_percent(_share(d, seconds))} of the step; the tf32 matrix roof is {speedup:.1f}x higher "
                   "(same share of the roof assumed)"),
        risks=("numerics: tf32 keeps 10 mantissa bits — check convergence/accuracy",),
        effort="low",
        tier=1,
        verify="re-profile: GEMM kernel names with tf32 (or bf16); compare outputs against fp32",
        apply=apply,
    )


@register_rule(DOMAIN, "half_precision_memory")
def half_precision_memory(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """fp32 memory-bound work (GEMVs, elementwise) moves twice the bytes bf16 would — or fp16 on a
    device without bf16 (V100): only a 16-bit type the device computes in is proposed."""
    half = next((p for p in ("bf16", "fp16") if _roof(d, f"{p} matrix") or _roof(d, f"{p} vector")), None)
    fp32 = [g for g in d.model.groups if g.precision == "fp32" and g.bound == "memory" and g.kind == "kernel"
            and "half" not in g.changed_by]
    seconds = _per_step_busy(d.model, fp32)
    if half is None or not fp32 or not d.worth(_share(d, seconds), 0.05):
        return None

    def apply(m: TraceModel) -> TraceModel:
        groups = [replace(g, time_s=g.time_s * 0.5, bytes=(g.bytes or 0.0) * 0.5, precision=half,
                          changed_by=g.changed_by + ("half",)) if g in fp32 else g for g in m.groups]
        return m.with_groups(groups)

    torch_name = {"bf16": "bfloat16", "fp16": "float16"}[half]
    mantissa = {"bf16": "8 mantissa bits", "fp16": "11 mantissa bits and a 65504 maximum (loss scaling)"}[half]
    return Candidate(
        technique=f"run the memory-bound fp32 work in {half} (weights and activations; autocast or .to({torch_name}))",
        targets="memory",
        rationale=(f"memory-bound fp32 kernels ({_names(fp32)}) take {fmt_seconds(seconds)} of GPU time per step "
                   f"({fmt_percent(_share(d, seconds))}); {half} halves their bytes"),
        risks=(f"numerics: {half} keeps {mantissa} — keep reductions and norms in fp32; evaluate quality",),
        effort="low",
        tier=1,
        verify=f"re-profile: the same kernels in {half} move half the bytes; compare outputs",
        apply=apply,
    )


@register_rule(DOMAIN, "fused_attention")
def fused_attention(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """A materialised attention (bmm → softmax → bmm, or SDPA's math path) replaced by a fused kernel
    doing the same FLOPs (causal halves them) at the attention efficiency."""
    ops = {(g.op or "").rsplit("::", 1)[-1] for g in d.model.groups}
    if not ({"bmm", "baddbmm", "matmul"} & ops and {"_softmax", "softmax", "_safe_softmax"} & ops):
        return None
    def op(g: GroupModel) -> str:
        return (g.op or "").rsplit("::", 1)[-1]

    core = [g for g in d.model.groups if op(g) in _ATTENTION_CORE and g.kind == "kernel"
            and "fused_attention" not in g.changed_by]
    softmax_calls = {g.count for g in core if "softmax" in op(g)}
    # Scaling, masking and casts belong to the attention when they run once per softmax; the same
    # ops elsewhere in a model (residual adds, norms) run a different number of times.
    chain = core + [g for g in d.model.groups if op(g) in _ATTENTION_ELEMENTWISE and g.kind == "kernel"
                    and g.count in softmax_calls and "fused_attention" not in g.changed_by]
    gemms = [g for g in chain if op(g) in ("bmm", "baddbmm") and g.flops]
    if not gemms:
        return None
    flops = sum(g.flops or 0.0 for g in gemms)
    # The modelled kernel runs in a 16-bit type the device has matrix units for (fp16 on a V100).
    half = next((p for p in ("bf16", "fp16") if _roof(d, f"{p} matrix")), None)
    peak = _roof(d, f"{half} matrix") if half else None
    if not peak:
        return None
    fused_s = flops / 2 / (peak * FUSED_ATTENTION_EFFICIENCY)  # causal masks skip half the score matrix
    seconds = _per_step_busy(d.model, chain)
    if not d.worth(_share(d, seconds), 0.1):
        return None
    removed = sum(g.count for g in chain) - max(1, gemms[0].count // 2)

    def apply(m: TraceModel) -> TraceModel:
        groups = [g for g in m.groups if g not in chain]
        groups.append(GroupModel("fused attention (modelled)", "aten::scaled_dot_product_attention", "kernel",
                                 max(1, gemms[0].count // 2), fused_s, "compute", flops / 2, None, half, "matrix",
                                 f"{half} matrix", peak, FUSED_ATTENTION_EFFICIENCY, False,
                                 changed_by=("fused_attention",)))
        return m.with_groups(groups, **_fewer_launches(m, removed))

    return Candidate(
        technique="replace the materialised attention with a fused kernel (F.scaled_dot_product_attention / FlashAttention)",
        targets="memory",
        rationale=(f"attention built from bmm, softmax and elementwise kernels ({_names(chain)}) takes "
                   f"{fmt_percent(_share(d, seconds))} of the step writing and re-reading the score matrix; a fused "
                   f"kernel keeps it on chip and skips the masked half ({fmt_seconds(d.model.per_step(fused_s))} "
                   f"per step at {fmt_percent(FUSED_ATTENTION_EFFICIENCY)} of the matrix roof)"),
        risks=("numerics: softmax order differs in the last bits", "masks other than causal/padding need support"),
        effort="low",
        tier=1,
        verify="re-profile: one flash/efficient/cudnn attention kernel per layer, no softmax kernel",
        apply=apply,
    )


@register_rule(DOMAIN, "weight_quantization")
def weight_quantization(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """Memory-bound GEMMs with AI ≈ 1–2 (weight streaming): int4 weight-only moves ~3.9x fewer bytes at
    about 0.7x the streaming efficiency (the serving model's derates: 0.55 vs 0.80)."""
    gemv = [g for g in d.model.groups if g.unit == "matrix" and g.bound == "memory" and g.precision in ("fp16", "bf16")
            and g.flops and g.bytes and g.flops / g.bytes < 4 and "int4" not in g.changed_by]
    if not gemv:
        return None
    seconds = _per_step_busy(d.model, gemv)
    if not d.worth(_share(d, seconds), 0.1):
        return None

    def apply(m: TraceModel) -> TraceModel:
        groups = [replace(g, time_s=g.time_s * INT4_TIME_FACTOR, bytes=(g.bytes or 0.0) * 4.125 / 16,
                          changed_by=g.changed_by + ("int4",)) if g in gemv else g for g in m.groups]
        return m.with_groups(groups)

    return Candidate(
        technique="int4 weight-only quantization of the memory-bound GEMMs (AWQ/GPTQ, group 128)",
        targets="memory",
        rationale=(f"weight-streaming GEMMs ({_names(gemv)}) are memory-bound at AI < 4 and take "
                   f"{fmt_percent(_share(d, seconds))} of the step; int4 moves 3.9x fewer weight bytes"),
        risks=("quality: calibrate and evaluate", "needs int4 GEMM kernels (Marlin, TensorRT-LLM, torchao)"),
        effort="medium",
        tier=1,
        verify="re-profile: GEMV bytes drop ~4x; compare eval scores",
        apply=apply,
    )


@register_rule(DOMAIN, "pinned_copies")
def pinned_copies(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    pageable = [g for g in d.model.groups if g.kind == "memcpy" and "pageable" in g.name.lower()
                and "pinned" not in g.changed_by]
    if not pageable:
        return None
    seconds = _per_step_busy(d.model, pageable)
    if not d.worth(_share(d, seconds), 0.05):
        return None

    def apply(m: TraceModel) -> TraceModel:
        # Pinned memory roughly doubles host-link throughput over pageable staging copies.
        return m.with_groups(_scale_groups(m, pageable, "pinned", time=0.5))

    return Candidate(
        technique="copy from pinned host memory (pin_memory=True, non_blocking=True)",
        targets="memory",
        rationale=(f"pageable host copies ({_names(pageable)}) take {fmt_percent(_share(d, seconds))} of the step "
                   "and stage through a bounce buffer"),
        risks=("pinned memory is a limited resource",),
        effort="low",
        tier=1,
        verify="re-profile: Memcpy HtoD (Pinned -> Device) at ~2x the bandwidth, overlapped with compute",
        apply=apply,
    )


@register_rule(DOMAIN, "remove_syncs")
def remove_syncs(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """Host synchronisations inside the step beyond the one that ends it: each blocks the host
    until the queue drains, and the queue restarts empty (one launch latency of idle GPU). They
    also make the step impossible to capture in a CUDA graph, so this comes before cuda_graphs."""
    m = d.model
    if m.syncs < 1:
        return None
    saved_host = m.sync_s
    saved_gap = m.syncs * m.launch_floor_s

    def apply(m: TraceModel) -> TraceModel:
        if m.host_s > m.busy_s:
            return replace(m, host_s=max(m.host_s - saved_host, m.busy_s), syncs=0, sync_s=0.0)
        return replace(m, fixed_gap_s=max(m.fixed_gap_s - saved_gap, 0.0), syncs=0, sync_s=0.0)

    per_step = m.syncs / max(m.steps, 1)
    return Candidate(
        technique="remove host synchronisations inside the step (.item(), .cpu(), nonzero and boolean-mask "
                  "indexing, torch.cuda.synchronize, blocking copies)",
        targets="launch",
        rationale=(f"{per_step:.0f} synchronisations per step beyond the one that ends it block the host "
                   f"{fmt_seconds(m.per_step(saved_host))} per step and drain the GPU queue each time; while they "
                   "remain the step cannot be captured in a CUDA graph"),
        risks=("a removed sync may have guarded a host read of GPU results: keep data dependencies explicit",
               "data-dependent shapes (nonzero, masks, MoE routing) need a static-shape form: fixed-capacity "
               "expert dispatch, torch.where over the full tensor, grouped GEMMs with padded counts"),
        effort="low",
        tier=1,
        verify="re-profile: no cudaDeviceSynchronize/cudaStreamSynchronize inside ProfilerStep spans",
        apply=apply,
    )


@register_rule(DOMAIN, "overlap_communication")
def overlap_communication(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """Collectives alone on the timeline (the seed's exposed-communication test). Overlapped with
    compute (bucketing, async collectives), what stays exposed is what exceeds the compute beside
    it, and at least the last collective of the step (nothing is left to compute after the final
    bucket); the compute it overlaps runs on the SMs the collective leaves free."""
    m = d.model
    exposed = m.per_step(m.exposed_communication_s)
    comm = [g for g in m.groups if g.communication]
    if exposed <= 0 or not comm or not d.worth(_share(d, exposed), 0.05):
        return None
    compute = _per_step_busy(m, [g for g in m.groups if not g.communication])
    comm_s = _per_step_busy(m, comm)
    collectives = sum(g.count for g in comm) / max(m.steps, 1)
    last = comm_s / max(collectives, 1.0)
    hidden = exposed - min(exposed, max(comm_s - compute, last))
    if hidden <= 0:
        return None
    sms = d.result.hardware.sm_count
    weights = [(g.blocks_per_call or 0.0) * g.time_s for g in comm]
    blocks = sum(weights) / sum(g.time_s for g in comm) if sum(g.time_s for g in comm) > 0 else 0.0
    contention = blocks / (sms - blocks) if sms and 0 < blocks < sms else 0.0
    slowed = hidden * contention  # the overlapped compute on SMs − collective blocks

    def apply(m: TraceModel) -> TraceModel:
        comm_total = sum(g.time_s for g in m.groups if g.communication)
        other_total = sum(g.time_s for g in m.groups if not g.communication)
        hide = hidden * max(m.steps, 1) / m.overlap
        slow = slowed * max(m.steps, 1) / m.overlap
        groups = []
        for g in m.groups:
            if g.communication and comm_total > 0:
                g = replace(g, time_s=g.time_s * (1 - hide / comm_total), changed_by=g.changed_by + ("overlap",))
            elif other_total > 0 and slow > 0:
                g = replace(g, time_s=g.time_s * (1 + slow / other_total))
            groups.append(g)
        return m.with_groups(groups, exposed_communication_s=m.exposed_communication_s - hidden * max(m.steps, 1))

    return Candidate(
        technique="overlap communication with compute (DDP/FSDP bucketing, async collectives, a separate stream)",
        targets="communication",
        rationale=(f"collectives ({_names(comm)}) run with no compute beside them for {fmt_seconds(exposed)} per step "
                   f"({fmt_percent(_share(d, exposed))}); overlapped with the {fmt_seconds(compute)} of compute, "
                   f"{fmt_seconds(hidden)} can hide (the last of {collectives:.0f} collectives stays exposed), and "
                   f"the compute beside them slows by {fmt_percent(contention)} on the SMs their {blocks:.0f} "
                   "blocks leave free"),
        risks=("engineering: medium (bucket sizes, stream priorities); memory for in-flight buffers",),
        effort="medium",
        tier=2,
        verify="re-profile: NCCL kernels overlap compute kernels on another stream; exposed time drops",
        apply=apply,
    )


@register_rule(DOMAIN, "host_stall")
def host_stall(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """The GPU idle before each step's first launch while the host launches nothing (data loading,
    preprocessing, Python between steps). Moved to a background worker that prepares the next
    batch while this step runs, the stall overlaps the rest of the step: what is left per step is
    the part longer than the rest of the step (one worker; n workers divide the stall by n)."""
    m, e = d.model, d.evaluation
    stall = e.host_stall_s
    if stall <= 0 or not d.worth(_share(d, stall), LAUNCH_SHARE):
        return None
    rest = e.step_s - stall
    left = max(stall - rest, 0.0)
    workers = math.ceil(stall / rest) if rest > 0 else None

    def apply(m: TraceModel) -> TraceModel:
        return replace(m, host_stall_s=left * max(m.steps, 1))

    hide = (f"{workers} worker{'s' if workers != 1 else ''} would hide it entirely" if workers
            else "the rest of the step is too short to hide it")
    return Candidate(
        technique="overlap the input pipeline with the GPU (DataLoader num_workers ≥ 1, pin_memory=True, "
                  "prefetching; move per-step host work off the training loop)",
        targets="latency",
        rationale=(f"before each step's first launch the host launches nothing for {fmt_seconds(stall)} per step "
                   f"({fmt_percent(_share(d, stall))} of the step): loading or preparing input on the critical path. "
                   f"A background worker preparing the next batch overlaps it with the {fmt_seconds(rest)} the rest "
                   f"of the step takes, leaving {fmt_seconds(left)} ({hide}); CUDA graphs do not touch it"),
        risks=("worker processes cost CPU cores and host memory; pinned buffers are a limited resource",
               "a stall that is a deliberate wait (a barrier, a rate limiter) is not the input pipeline"),
        effort="low",
        tier=1,
        verify="re-profile: each step's first kernel follows the previous step's last one closely",
        apply=apply,
    )


@register_rule(DOMAIN, "fill_the_sms")
def fill_the_sms(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """Kernels far below their roof whose grid is smaller than the SM count (tail effect)."""
    sms = d.result.hardware.sm_count
    if not sms:
        return None
    thin = [g for g in d.model.groups if g.kind == "kernel" and g.bound in ("compute", "memory", "latency")
            and g.blocks_per_call
            and g.blocks_per_call < sms and g.pct_of_roof is not None and g.pct_of_roof < 0.5
            and "fill" not in g.changed_by]
    seconds = _per_step_busy(d.model, thin)
    if not thin or not d.worth(_share(d, seconds), 0.05):
        return None

    def apply(m: TraceModel) -> TraceModel:
        groups = []
        for g in m.groups:
            if g in thin:
                to_fill = (g.blocks_per_call or sms) / sms
                to_roof = (g.pct_of_roof or 0.0) / TAIL_TARGET_OF_ROOF
                g = replace(g, time_s=g.time_s * max(to_fill, to_roof), changed_by=g.changed_by + ("fill",))
            groups.append(g)
        return m.with_groups(groups)

    blocks = min(g.blocks_per_call or 0 for g in thin)
    return Candidate(
        technique="give small-grid kernels enough blocks for every SM (split-K/stream-K, smaller tiles, batch more "
                  "work per launch)",
        targets="compute" if sum(g.bound == "compute" for g in thin) >= len(thin) / 2 else "memory",
        rationale=(f"kernels ({_names(thin)}) run under half their roof with as few as {blocks:.0f} blocks for "
                   f"{sms} SMs, {fmt_percent(_share(d, seconds))} of the step; filled, they reach at most "
                   f"{fmt_percent(TAIL_TARGET_OF_ROOF)} of the roof"),
        risks=("split-K adds a reduction pass and changes summation order",),
        effort="medium",
        tier=2,
        verify="re-profile: grid ≥ SM count; Nsight Compute's launch statistics and SM throughput",
        apply=apply,
    )


@register_rule(DOMAIN, "batch_small_gemms")
def batch_small_gemms(d: TraceDiagnosis) -> Candidate[TraceModel] | None:
    """Many launch-bound GEMMs of one kind per step: one batched/grouped GEMM does their work."""
    m = d.model
    many = [g for g in m.groups if g.kind == "kernel" and g.unit == "matrix" and g.bound in ("launch", "latency")
            and g.longest_run >= BATCH_MIN_RUN and g.flops and g.bytes and g.peak_flops_per_s
            and "batched" not in g.changed_by]
    seconds = _per_step_busy(m, many)
    if not many or not d.worth(_share(d, seconds), 0.05):
        return None
    bandwidth = d.result.hardware.memory_bandwidth_bytes_per_s

    def apply(m: TraceModel) -> TraceModel:
        groups, removed = [], 0
        for g in m.groups:
            if g in many:
                work = max((g.flops or 0.0) / (g.peak_flops_per_s or 1.0), (g.bytes or 0.0) / bandwidth)
                left = max(m.steps, round(g.count / g.longest_run))
                removed += g.count - left
                g = replace(g, count=left, time_s=min(g.time_s, work / BATCHED_GEMM_EFFICIENCY),
                            changed_by=g.changed_by + ("batched",))
            groups.append(g)
        return m.with_groups(groups, **_fewer_launches(m, removed))

    calls = sum(g.count for g in many) / max(m.steps, 1)
    return Candidate(
        technique="batch the small GEMMs (torch.bmm / grouped GEMM, or concatenate weights)",
        targets="launch",
        rationale=(f"{calls:.0f} launch-bound GEMMs per step ({_names(many)}) each do less work than one launch "
                   f"costs; one batched GEMM per step does the same FLOPs at ~{fmt_percent(BATCHED_GEMM_EFFICIENCY)} "
                   "of the roof"),
        risks=("engineering: medium (restructure the loop); padding if shapes differ",),
        effort="medium",
        tier=2,
        verify="re-profile: one GEMM kernel per step where there were many",
        apply=apply,
    )
