"""Memory per GPU: weights, KV cache per token and per request, activation workspace, runtime reserve,
and the largest batch that fits (seed 002, napkin math 1.2: the precision dividend).
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from roofline.precision import BYTES_PER_ELEMENT, Precision
from roofline.workload.model import ModelArch
from roofline.workload.parallel import kv_bytes_per_sequence_per_gpu, weight_bytes_per_gpu
from roofline.workload.serving import ServingConfig

# CUDA context, cuBLAS/NCCL workspaces and allocator slack kept free on every GPU.
DEFAULT_RESERVE_BYTES = 1.0e9


def weight_bits(precision: Precision, group_size: int | None) -> float:
    """Bits stored per weight, with one scale per group for block-wise quantization: an fp16 scale
    for int4/int8/fp8 (int4 with groups of 64: 4 + 16/64 = 4.25 bits, seed 002), an 8-bit one for
    fp4 — NVFP4 keeps an e4m3 scale per 16 values (4.5 bits), MXFP4 an e8m0 scale per 32 (4.25;
    OCP Microscaling spec v1.0, NVIDIA's NVFP4 introduction)."""
    bits = BYTES_PER_ELEMENT[precision] * 8
    if group_size and precision in (Precision.INT4, Precision.INT8, Precision.FP4, Precision.FP8):
        bits += (8.0 if precision == Precision.FP4 else 16.0) / group_size
    return bits


def kv_heads_per_gpu(arch: ModelArch, tensor_parallel: int) -> float:
    """KV heads are split across tensor-parallel ranks, and replicated once TP exceeds them."""
    return max(arch.num_kv_heads / tensor_parallel, 1.0)


def expert_weight_bits(cfg: ServingConfig) -> float:
    """Bits per routed-expert weight: ``precision.experts`` when given, else the weights'."""
    p = cfg.precision
    if p.experts is None:
        return weight_bits(p.weights, p.weight_group_size)
    return weight_bits(p.experts, p.experts_group_size)


def kv_bytes_per_request_per_gpu(arch: ModelArch, cfg: ServingConfig, context: float) -> float:
    """A request's cache amortised over the replica's GPUs that could hold it: its attention group's
    share (GQA heads split by TP, MLA's latent whole) divided by the attention-data-parallel groups,
    so that ``max_batch`` counts the replica's sequences. Sliding-window layers hold their window."""
    return kv_bytes_per_sequence_per_gpu(arch, cfg, context) / cfg.parallelism.attention_data


def kv_bytes_per_token_per_gpu(arch: ModelArch, cfg: ServingConfig) -> float:
    """Per token of context, averaged over the request's ``context_tokens`` (exact without windows)."""
    context = cfg.serving.context_tokens
    return kv_bytes_per_request_per_gpu(arch, cfg, context) / context


def max_batch_that_fits(capacity_bytes: float, fixed_bytes: float, kv_bytes_per_request: float) -> int:
    """floor((capacity − weights − workspace − reserve) / KV per request)."""
    free = capacity_bytes - fixed_bytes
    if free <= 0 or kv_bytes_per_request <= 0:
        return 0
    return math.floor(free / kv_bytes_per_request)


class MemoryPlan(BaseModel):
    capacity_bytes: float
    weight_bytes: float
    weight_bits: float
    kv_bytes_per_token: float
    kv_bytes_per_request: float
    kv_bytes_batch: float
    workspace_bytes: float
    reserve_bytes: float
    used_bytes: float
    free_bytes: float
    max_batch: int
    context_tokens: int
    feasible: bool


def workspace_terms(arch: ModelArch, cfg: ServingConfig) -> tuple[float, float]:
    """(bytes independent of batch, bytes per running sequence) of the activation workspace."""
    tp = cfg.parallelism.tensor
    b = BYTES_PER_ELEMENT[cfg.precision.activations]
    ffn = arch.moe.expert_intermediate_size * arch.moe.experts_per_token if arch.moe else arch.intermediate_size
    per_token = 2 * arch.hidden_size + (arch.q_dim + 2 * arch.kv_dim) / tp + (3 if arch.gated_ffn else 2) * ffn / tp
    base = cfg.serving.prompt_tokens * per_token * b
    if not cfg.runtime.flash_attention:
        base += 2 * (arch.num_heads / tp) * cfg.serving.prompt_tokens**2 * b
    return base, per_token * b + arch.vocab_size / tp * 4


def activation_workspace_bytes(arch: ModelArch, cfg: ServingConfig) -> float:
    """Peak live activations while one request's prompt is prefilled next to the running decode
    batch: the residual stream, one layer's QKV and FFN intermediates (reused across layers), and a
    row of fp32 logits per sequence. Unfused attention also holds the prompt's S×S scores."""
    base, per_sequence = workspace_terms(arch, cfg)
    return base + cfg.serving.batch * per_sequence


def plan_memory(
    arch: ModelArch, cfg: ServingConfig, capacity_bytes: float, *, reserve_bytes: float = DEFAULT_RESERVE_BYTES
) -> MemoryPlan:
    bits = weight_bits(cfg.precision.weights, cfg.precision.weight_group_size)
    weights = weight_bytes_per_gpu(arch, cfg, bits, expert_weight_bits(cfg))
    context = cfg.serving.context_tokens
    per_request = kv_bytes_per_request_per_gpu(arch, cfg, context)
    per_token = per_request / context
    workspace = activation_workspace_bytes(arch, cfg)
    fixed = weights + workspace + reserve_bytes
    # The largest batch that fits counts the workspace each extra sequence adds, so evaluating the
    # config at max_batch fits and at max_batch + 1 does not.
    base, per_sequence = workspace_terms(arch, cfg)
    batch_kv = per_request * cfg.serving.batch
    used = fixed + batch_kv
    return MemoryPlan(
        capacity_bytes=capacity_bytes,
        weight_bytes=weights,
        weight_bits=bits,
        kv_bytes_per_token=per_token,
        kv_bytes_per_request=per_request,
        kv_bytes_batch=batch_kv,
        workspace_bytes=workspace,
        reserve_bytes=reserve_bytes,
        used_bytes=used,
        free_bytes=capacity_bytes - used,
        max_batch=max_batch_that_fits(capacity_bytes, weights + base + reserve_bytes, per_request + per_sequence),
        context_tokens=context,
        feasible=used <= capacity_bytes,
    )
