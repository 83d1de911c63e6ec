"""Per-phase op model: every op of one prefill pass or one decode step, per GPU, with FLOPs, bytes,
precision, kernel launches and the share of bytes that are weights or KV cache.

Conventions: T tokens in the step (prefill B·S, decode B), tensor parallelism t shards heads and
FFN width, GEMMs read their weights once per step at the weight precision (with block-scale
overhead) and their activations at the activation precision.
"""

from __future__ import annotations

import math
from dataclasses import replace

from roofline.precision import BYTES_PER_ELEMENT, Precision, Unit
from roofline.workload.attention_ops import mla_ops, windowed
from roofline.workload.memory import expert_weight_bits, kv_heads_per_gpu, weight_bits
from roofline.workload.model import ModelArch
from roofline.workload.moe_ops import moe_layer_ops
from roofline.workload.op_record import OpKind, Phase, PhaseOp, PhaseShape
from roofline.workload.parallel import heads_per_gpu, scale_out
from roofline.workload.serving import ServingConfig

__all__ = ["OpKind", "Phase", "PhaseOp", "PhaseShape", "build_phase_ops", "gemm_precision"]

# Kernel launches per op occurrence: an inference engine's fused kernels vs Hugging Face eager code
# (HF counts read off a real H200 trace: 358 kernels per Llama decode step of 8 layers,
# tests/data/h200/captured/decode_bf16_eager.json.gz). "compiled" fuses elementwise chains.
_KERNELS: dict[str, dict[str, int]] = {
    #                engine  engine+compiled  hf  hf+compiled
    "attn_norm": {"engine": 1, "engine_c": 1, "huggingface": 8, "huggingface_c": 1},
    "qkv_proj": {"engine": 1, "engine_c": 1, "huggingface": 3, "huggingface_c": 3},
    "rotary": {"engine": 1, "engine_c": 1, "huggingface": 12, "huggingface_c": 1},
    "kv_write": {"engine": 1, "engine_c": 0, "huggingface": 2, "huggingface_c": 2},
    "attention_fused": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
    "attention_unfused": {"engine": 4, "engine_c": 3, "huggingface": 5, "huggingface_c": 3},
    "o_proj": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
    "residual_add": {"engine": 0, "engine_c": 0, "huggingface": 1, "huggingface_c": 0},
    "ffn_norm": {"engine": 1, "engine_c": 1, "huggingface": 8, "huggingface_c": 1},
    "gate_up": {"engine": 1, "engine_c": 1, "huggingface": 2, "huggingface_c": 2},
    "act_mul": {"engine": 1, "engine_c": 1, "huggingface": 2, "huggingface_c": 1},
    "down_proj": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
    "router": {"engine": 3, "engine_c": 2, "huggingface": 6, "huggingface_c": 3},
    "final_norm": {"engine": 1, "engine_c": 1, "huggingface": 8, "huggingface_c": 1},
    "lm_head": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
    "sampling": {"engine": 2, "engine_c": 1, "huggingface": 5, "huggingface_c": 2},
    "embedding": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
    "allreduce": {"engine": 1, "engine_c": 1, "huggingface": 1, "huggingface_c": 1},
}


def gemm_precision(cfg: ServingConfig) -> tuple[Precision, bool]:
    """The precision GEMMs compute in, and whether weights are dequantized on the fly.
    16/32-bit weights compute in the activation type; fp8 weights with fp8 activations run on fp8
    tensor cores, int8 with int8 (W8A8) on int8 ones; anything else is weight-only quantization:
    the weights are dequantized to the activation type inside the GEMM."""
    weights, acts = cfg.precision.weights, cfg.precision.activations
    if weights in (Precision.FP32, Precision.FP16, Precision.BF16):
        return acts, False
    if weights == acts and weights in (Precision.FP8, Precision.INT8, Precision.FP4):
        return weights, False  # W8A8, or W4A4 (NVFP4/MXFP4) on the fp4 tensor cores
    return acts, True


def _kernels(name: str, cfg: ServingConfig) -> int:
    key = cfg.runtime.framework + ("_c" if cfg.runtime.compiled else "")
    return _KERNELS[name][key]


def local_shape(shape: PhaseShape, attention_data: int) -> PhaseShape:
    """The step as the busiest attention-data-parallel rank sees it: ⌈B/dp⌉ of the sequences, and
    a prompt chunk whole (one request's prompt runs on one rank)."""
    if attention_data == 1:
        return shape
    return replace(shape, batch=math.ceil(shape.batch / attention_data))


def build_phase_ops(arch: ModelArch, cfg: ServingConfig, global_shape: PhaseShape) -> list[PhaseOp]:
    par = cfg.parallelism
    tp = par.tensor
    shape = local_shape(global_shape, par.attention_data)
    layers = max(1, round(arch.num_layers / par.pipeline))
    b_act = BYTES_PER_ELEMENT[cfg.precision.activations]
    b_kv = BYTES_PER_ELEMENT[cfg.precision.kv_cache]
    b_w = weight_bits(cfg.precision.weights, cfg.precision.weight_group_size) / 8
    compute, dequant = gemm_precision(cfg)
    vector = cfg.precision.activations if cfg.precision.activations not in (Precision.FP8, Precision.FP4) \
        else Precision.BF16
    T = shape.tokens
    d = arch.hidden_size
    heads = heads_per_gpu(arch, tp) if arch.num_heads % tp else arch.num_heads / tp
    q_dim = arch.q_dim * heads / arch.num_heads
    kv_dim = kv_heads_per_gpu(arch, tp) * arch.head_dim
    ops: list[PhaseOp] = []

    def gemm(name: str, n_in: float, n_out: float, count: int, rows: float = T) -> None:
        weights = n_in * n_out * b_w
        acts = rows * (n_in + n_out) * b_act
        ops.append(PhaseOp(name, "gemm", 2 * rows * n_in * n_out, weights + acts, compute, Unit.MATRIX,
                           _kernels(name, cfg), count, weight_bytes=weights, dequant=dequant, rows=rows))

    def pointwise(name: str, kind: OpKind, flops_per: float, elements: float, passes: float, count: int) -> None:
        ops.append(PhaseOp(name, kind, flops_per * elements, passes * elements * b_act, vector, Unit.VECTOR,
                           _kernels(name, cfg), count))

    def allreduce(count: int) -> None:
        if tp == 1:
            return
        payload = T * d * b_act
        # Ring all-reduce: each GPU sends 2(t−1)/t of the payload.
        ops.append(PhaseOp("allreduce", "comm", T * d, 2 * payload, vector, Unit.VECTOR, _kernels("allreduce", cfg),
                           count, comm_bytes=2 * (tp - 1) / tp * payload, group=tp))

    ops.append(PhaseOp("embedding", "embedding", 0.0, 2 * T * d * b_act, vector, Unit.VECTOR,
                       _kernels("embedding", cfg), 1))
    # HF runs rmsnorm in fp32 passes (upcast, pow, mean, rsqrt, mul, cast, weight mul): ~6 passes.
    # Passes over the tensor, in units of its activation size. A fused add+norm reads x and the residual
    # and writes both (4). Hugging Face eager RMSNorm works in fp32: upcast, pow, mean, scale, downcast,
    # weight — ~36 bytes per bf16 element (18 passes); its rotary slices, negates, concatenates and
    # multiplies (~12 passes on q and k) and SiLU·up is two kernels (5 passes).
    hf_eager = cfg.runtime.framework == "huggingface" and not cfg.runtime.compiled
    norm_passes = 18.0 if hf_eager else 4.0
    rotary_passes = 12.0 if hf_eager else (2.0 if cfg.runtime.compiled else 4.0)
    act_passes = 5.0 if hf_eager else 3.0
    pointwise("attn_norm", "norm", 5, T * d, norm_passes, layers)
    if arch.mla is not None:
        ops.extend(mla_ops(arch, shape, heads, layers, b_act=b_act, b_kv=b_kv, b_w=b_w, compute=compute,
                           dequant=dequant, vector=vector, kernels=lambda n: _kernels(n, cfg)))
    else:
        ops.extend(_gqa_attention(arch, cfg, shape, heads, kv_dim, layers, vector, rotary_passes, gemm, pointwise))
    gemm("o_proj", q_dim, d, layers)
    allreduce(layers)
    if _kernels("residual_add", cfg):
        pointwise("residual_add", "elementwise", 1, T * d, 3, layers)
    pointwise("ffn_norm", "norm", 5, T * d, norm_passes, layers)
    dense = layers if arch.moe is None else round(arch.dense_layers * layers / arch.num_layers)
    if dense:
        # Sharded over the whole replica under attention DP (SGLang): each GPU's slice of the width for
        # every DP group's tokens (gathered); replicated: the group's width for its own tokens.
        spread = par.attention_data > 1 and "dense_ffn" in (par.dp_sharded or ())
        width = arch.intermediate_size / (tp * (par.attention_data if spread else 1))
        rows = global_shape.tokens if spread else T
        gemm("gate_up", d, (2 if arch.gated_ffn else 1) * width, dense, rows=rows)
        pointwise("act_mul", "elementwise", 5, rows * width, act_passes, dense)
        gemm("down_proj", width, d, dense, rows=rows)
    if arch.moe is not None and layers - dense > 0:
        ops.extend(moe_ops(arch, cfg, shape, global_shape, layers - dense, b_w, b_act, compute, dequant, vector))
    allreduce(layers)
    if _kernels("residual_add", cfg):
        pointwise("residual_add", "elementwise", 1, T * d, 3, layers)
    # Logits only for the last position of each sequence.
    rows = shape.batch * (shape.new_tokens if shape.phase == "decode" else 1)
    if shape.prefill_tokens:  # the prompts whose last chunk is in this step sample their first token
        rows += max(1, shape.prefill_tokens // max(shape.prefill_context, 1))
    pointwise("final_norm", "norm", 5, rows * d, norm_passes, 1)
    vocab = arch.vocab_size / tp
    if par.attention_data > 1 and "lm_head" in (par.dp_sharded or ()) and not arch.tie_embeddings:
        # An LM head over the replica's GPUs (SGLang under attention DP) projects every DP group's rows
        # onto its slice of the vocabulary.
        vocab, rows = vocab / par.attention_data, rows * par.attention_data
    gemm("lm_head", d, vocab, 1, rows=rows)
    pointwise("sampling", "elementwise", 5, rows * vocab, 2, 1)
    return ops


def _gqa_attention(arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, heads: float, kv_dim: float, layers: int,
                   vector: Precision, rotary_passes: float, gemm, pointwise) -> list[PhaseOp]:  # noqa: ANN001
    """QKV projection, rotary, KV-cache append and attention (per window group) of a GQA layer;
    ``gemm``/``pointwise`` append their ops to the step directly (they come first)."""
    b_act = BYTES_PER_ELEMENT[cfg.precision.activations]
    b_kv = BYTES_PER_ELEMENT[cfg.precision.kv_cache]
    q_dim, T = heads * arch.head_dim, shape.tokens
    gemm("qkv_proj", arch.hidden_size, q_dim + 2 * kv_dim, layers)
    out: list[PhaseOp] = []
    pointwise("rotary", "elementwise", 6, T * (q_dim + kv_dim), rotary_passes, layers)
    # KV cache append. Hugging Face's DynamicCache concatenates, copying the whole cache each step;
    # its StaticCache writes in place but, with the mask it needs, expands K and V to every query
    # head before attention (GQA repeat), and attention then reads the expanded copies.
    new_kv = T * 2 * kv_dim * b_kv
    cache = shape.batch * shape.context * 2 * kv_dim * b_kv
    group = max(heads * arch.head_dim / kv_dim, 1.0)
    hf_static = cfg.runtime.framework == "huggingface" and cfg.runtime.cuda_graphs
    if cfg.runtime.framework == "huggingface" and not cfg.runtime.cuda_graphs:
        out.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * cache, vector, Unit.VECTOR,
                           _kernels("kv_write", cfg), layers, kv_bytes=2 * cache, copy="cat"))
    elif hf_static:
        out.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * new_kv, vector, Unit.VECTOR, 2, layers, kv_bytes=new_kv))
        out.append(PhaseOp("gqa_repeat", "elementwise", 0.0, cache * (1 + group), vector, Unit.VECTOR, 2, layers,
                           kv_bytes=cache * (1 + group), copy="repeat"))
    elif _kernels("kv_write", cfg):
        out.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * new_kv, vector, Unit.VECTOR,
                           _kernels("kv_write", cfg), layers, kv_bytes=new_kv))

    def full_attention(local: PhaseShape, count: int) -> PhaseOp:
        attention = attention_op(arch, cfg, local, heads, kv_dim, b_act, b_kv, count)
        if hf_static and local.phase == "decode":
            extra = attention.kv_bytes * (group - 1)  # reads the expanded K and V
            attention = replace(attention, bytes=attention.bytes + extra, kv_bytes=attention.kv_bytes + extra)
        return attention

    if shape.batch:
        out.extend(windowed(full_attention, arch, shape, layers, chunk=False))
    if shape.prefill_tokens:
        out.extend(windowed(lambda local, count: chunk_attention_op(arch, cfg, local, heads, kv_dim, b_act, count),
                            arch, shape, layers, chunk=True))
    return out


def attention_op(
    arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, heads: float, kv_dim: float, b_act: float,
    b_kv: float, layers: int,
) -> PhaseOp:
    """QKᵀ and PV over the context. Causal prefill does half the work. Fused (FlashAttention-style)
    attention reads Q, K, V and writes O; the unfused path also writes and re-reads the score and
    probability matrices (4 passes over B·H·Sq·Sk elements; seed: 34.9 GB vs 537 MB at S=8192)."""
    B, Sq, Sk = shape.batch, shape.new_tokens, shape.context
    d_head = arch.head_dim
    flops = 4 * B * heads * Sq * Sk * d_head
    if shape.phase == "prefill":
        flops /= 2
    q_o = 2 * B * Sq * heads * d_head * b_act
    if shape.phase == "prefill":
        kv = 2 * B * Sk * kv_dim * b_act
    else:
        kv = B * Sk * 2 * kv_dim * b_kv  # the whole cache is read every decode step
    num_bytes = q_o + kv
    fused = cfg.runtime.flash_attention
    if not fused:
        num_bytes += 4 * B * heads * Sq * Sk * b_act
    name = "attention_fused" if fused else "attention_unfused"
    precision = cfg.precision.activations if cfg.precision.activations not in (Precision.FP8, Precision.FP4) \
        else Precision.BF16
    return PhaseOp(name, "attention", flops, num_bytes, precision, Unit.MATRIX, _kernels(name, cfg), layers,
                   kv_bytes=kv if shape.phase == "decode" else 0.0)


def chunk_attention_op(
    arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, heads: float, kv_dim: float, b_act: float, layers: int,
) -> PhaseOp:
    """Attention of the prompt tokens a mixed step carries: causal over prompts of
    ``prefill_context`` tokens, so on average each token attends to half its prompt
    (4·h·p·(S/2)·d FLOPs for p tokens), reading its K and V once and writing its output."""
    p, S = shape.prefill_tokens, max(shape.prefill_context, 1)
    flops = 4 * heads * p * (S / 2) * arch.head_dim
    num_bytes = 2 * p * heads * arch.head_dim * b_act + 2 * p * kv_dim * b_act
    if not cfg.runtime.flash_attention:
        num_bytes += 4 * heads * p * (S / 2) * b_act
    name = "attention_fused" if cfg.runtime.flash_attention else "attention_unfused"
    precision = cfg.precision.activations if cfg.precision.activations not in (Precision.FP8, Precision.FP4) \
        else Precision.BF16
    return PhaseOp("prefill_attention", "attention", flops, num_bytes, precision, Unit.MATRIX, _kernels(name, cfg),
                   layers)


def moe_ops(
    arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, global_shape: PhaseShape, layers: int, b_w: float,
    b_act: float, compute: Precision, dequant: bool, vector: Precision,
) -> list[PhaseOp]:
    """Router, routed experts and shared experts of the MoE layers (roofline.workload.moe_ops): the
    experts see every token of the replica, the router and shared experts this rank's."""
    par, p = cfg.parallelism, cfg.precision
    experts = p.experts or p.weights
    expert_compute, expert_dequant = gemm_precision(cfg.model_copy(update={"precision": p.model_copy(
        update={"weights": experts})})) if p.experts is not None else (compute, dequant)
    all_to_all = par.attention_data > 1
    return moe_layer_ops(
        arch, tokens=global_shape.tokens if all_to_all else shape.tokens, local_tokens=shape.tokens,
        tensor=par.tensor, expert=par.expert, expert_tensor=par.moe_tensor, layers=layers, b_w=b_w,
        b_w_experts=expert_weight_bits(cfg) / 8, b_act=b_act, compute=compute, dequant=dequant,
        expert_compute=expert_compute, expert_dequant=expert_dequant, vector=vector,
        kernels=lambda n: _kernels(n, cfg), all_to_all=all_to_all,
        scale_out=scale_out(cfg.hardware.strip().lower(), par.expert), redundant=par.redundant_experts,
        shared_over=par.attention_data if all_to_all and "shared_experts" in (par.dp_sharded or ()) else 1,
    )
