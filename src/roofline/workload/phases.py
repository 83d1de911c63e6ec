"""Per-phase op model: every op of one prefill pass or one decode step, per GPU, with FLOPs, bytes,
precision, kernel launches and the share of bytes that are weights or KV cache.

Conventions: T tokens in the step (prefill B·S, decode B), tensor parallelism t shards heads and
FFN width, GEMMs read their weights once per step at the weight precision (with block-scale
overhead) and their activations at the activation precision.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from roofline.precision import BYTES_PER_ELEMENT, Precision, Unit
from roofline.workload.memory import kv_heads_per_gpu, weight_bits
from roofline.workload.model import ModelArch
from roofline.workload.serving import ServingConfig

Phase = Literal["prefill", "decode"]
OpKind = Literal["gemm", "attention", "elementwise", "norm", "comm", "embedding"]

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


@dataclass(frozen=True)
class PhaseOp:
    """One op of a phase, per GPU. ``flops``/``bytes`` are per occurrence; ``count`` occurrences
    per step (layers on this GPU for per-layer ops)."""

    name: str
    kind: OpKind
    flops: float
    bytes: float
    precision: Precision
    unit: Unit
    kernels: int
    count: int
    weight_bytes: float = 0.0
    kv_bytes: float = 0.0
    comm_bytes: float = 0.0  # bytes each GPU sends over the link per occurrence
    dequant: bool = False  # weights stored below the compute precision (int4/int8 weight-only)
    rows: float = 0.0  # GEMM M dimension (tokens), for the tile-fill efficiency
    copy: str | None = None  # a framework cache copy: "cat" or "repeat" (their own efficiencies)
    group: int = 1  # GPUs in a collective (the tensor-parallel size of an all-reduce)

    @property
    def total_flops(self) -> float:
        return self.flops * self.count

    @property
    def total_bytes(self) -> float:
        return self.bytes * self.count


@dataclass(frozen=True)
class PhaseShape:
    phase: Phase
    batch: int
    new_tokens: int  # per sequence: prompt length in prefill, 1 in decode (k+1 when verifying drafts)
    context: int  # tokens attended to (cache length after this step)
    # A mixed (continuous-batching) step also carries prompt tokens of arriving requests: this many,
    # from prompts of ``prefill_context`` tokens (chunked prefill when a prompt exceeds the budget).
    prefill_tokens: int = 0
    prefill_context: int = 0

    @property
    def tokens(self) -> int:
        return self.batch * self.new_tokens + self.prefill_tokens


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


def build_phase_ops(arch: ModelArch, cfg: ServingConfig, shape: PhaseShape) -> list[PhaseOp]:
    tp = cfg.parallelism.tensor
    layers = max(1, round(arch.num_layers / cfg.parallelism.pipeline))
    b_act = BYTES_PER_ELEMENT[cfg.precision.activations]
    b_kv = BYTES_PER_ELEMENT[cfg.precision.kv_cache]
    b_w = weight_bits(cfg.precision.weights, cfg.precision.weight_group_size) / 8
    compute, dequant = gemm_precision(cfg)
    vector = cfg.precision.activations if cfg.precision.activations not in (Precision.FP8, Precision.FP4) \
        else Precision.BF16
    T = shape.tokens
    d = arch.hidden_size
    q_dim = arch.q_dim / tp
    kv_dim = kv_heads_per_gpu(arch, tp) * arch.head_dim
    heads = arch.num_heads / tp
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
    gemm("qkv_proj", d, q_dim + 2 * kv_dim, layers)
    pointwise("rotary", "elementwise", 6, T * (q_dim + kv_dim), rotary_passes, layers)
    # KV cache append. Hugging Face's DynamicCache concatenates, copying the whole cache each step;
    # its StaticCache writes in place but, with the mask it needs, expands K and V to every query
    # head before attention (GQA repeat), and attention then reads the expanded copies.
    new_kv = T * 2 * kv_dim * b_kv
    cache = shape.batch * shape.context * 2 * kv_dim * b_kv
    group = max(heads * arch.head_dim / kv_dim, 1.0)
    hf_static = cfg.runtime.framework == "huggingface" and cfg.runtime.cuda_graphs
    if cfg.runtime.framework == "huggingface" and not cfg.runtime.cuda_graphs:
        ops.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * cache, vector, Unit.VECTOR,
                           _kernels("kv_write", cfg), layers, kv_bytes=2 * cache, copy="cat"))
    elif hf_static:
        ops.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * new_kv, vector, Unit.VECTOR, 2, layers, kv_bytes=new_kv))
        ops.append(PhaseOp("gqa_repeat", "elementwise", 0.0, cache * (1 + group), vector, Unit.VECTOR, 2, layers,
                           kv_bytes=cache * (1 + group), copy="repeat"))
    elif _kernels("kv_write", cfg):
        ops.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * new_kv, vector, Unit.VECTOR,
                           _kernels("kv_write", cfg), layers, kv_bytes=new_kv))
    attention = attention_op(arch, cfg, shape, heads, kv_dim, b_act, b_kv, layers)
    if hf_static and shape.phase == "decode":
        extra = attention.kv_bytes * (group - 1)  # reads the expanded K and V
        attention = replace(attention, bytes=attention.bytes + extra, kv_bytes=attention.kv_bytes + extra)
    if shape.batch:
        ops.append(attention)
    if shape.prefill_tokens:
        ops.append(chunk_attention_op(arch, cfg, shape, heads, kv_dim, b_act, layers))
    gemm("o_proj", q_dim, d, layers)
    allreduce(layers)
    if _kernels("residual_add", cfg):
        pointwise("residual_add", "elementwise", 1, T * d, 3, layers)
    pointwise("ffn_norm", "norm", 5, T * d, norm_passes, layers)
    if arch.moe is None:
        width = arch.intermediate_size / tp
        gemm("gate_up", d, (2 if arch.gated_ffn else 1) * width, layers)
        pointwise("act_mul", "elementwise", 5, T * width, act_passes, layers)
        gemm("down_proj", width, d, layers)
    else:
        ops.extend(moe_ops(arch, cfg, shape, layers, b_w, b_act, compute, dequant, vector))
    allreduce(layers)
    if _kernels("residual_add", cfg):
        pointwise("residual_add", "elementwise", 1, T * d, 3, layers)
    # Logits only for the last position of each sequence.
    rows = shape.batch * (shape.new_tokens if shape.phase == "decode" else 1)
    if shape.prefill_tokens:  # the prompts whose last chunk is in this step sample their first token
        rows += max(1, shape.prefill_tokens // max(shape.prefill_context, 1))
    pointwise("final_norm", "norm", 5, rows * d, norm_passes, 1)
    gemm("lm_head", d, arch.vocab_size / tp, 1, rows=rows)
    pointwise("sampling", "elementwise", 5, rows * arch.vocab_size / tp, 2, 1)
    return ops


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
    arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, layers: int, b_w: float, b_act: float,
    compute: Precision, dequant: bool, vector: Precision,
) -> list[PhaseOp]:
    """Router, routed experts and shared experts. Only the experts some token picked are read:
    the expected number touched by T tokens choosing k of E is E·(1 − (1 − k/E)^T)."""
    assert arch.moe is not None
    moe = arch.moe
    tp = cfg.parallelism.tensor
    T = shape.tokens
    d = arch.hidden_size
    width = moe.expert_intermediate_size / tp
    proj = (3 if arch.gated_ffn else 2) * d * width
    touched = moe.num_experts * (1 - (1 - moe.experts_per_token / moe.num_experts) ** T)
    weights = touched * proj * b_w
    acts = T * moe.experts_per_token * (2 * d + (3 if arch.gated_ffn else 2) * width) * b_act
    ops = [
        PhaseOp("router", "gemm", 2 * T * d * moe.num_experts, d * moe.num_experts * b_w + T * d * b_act,
                compute, Unit.MATRIX, _kernels("router", cfg), layers, weight_bytes=d * moe.num_experts * b_w),
        PhaseOp("experts", "gemm", 2 * T * moe.experts_per_token * proj, weights + acts, compute, Unit.MATRIX,
                3, layers, weight_bytes=weights, dequant=dequant),
    ]
    if moe.shared_experts:
        shared_width = (moe.shared_intermediate_size or moe.expert_intermediate_size) * moe.shared_experts / tp
        shared = (3 if arch.gated_ffn else 2) * d * shared_width
        ops.append(PhaseOp("shared_experts", "gemm", 2 * T * shared, shared * b_w + T * (2 * d + 3 * shared_width) * b_act,
                           compute, Unit.MATRIX, 3, layers, weight_bytes=shared * b_w, dequant=dequant))
    return ops
