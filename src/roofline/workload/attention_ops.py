"""Attention ops of one step for the architectures beyond plain GQA: multi-head latent attention
(absorbed decode, naive prefill; roofline.workload.mla) and sliding-window layers
(roofline.workload.attention_layout), as PhaseOp rows per GPU."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from roofline.precision import Precision, Unit
from roofline.workload.attention_layout import FULL, causal_attended
from roofline.workload.mla import absorbed_decode_cost, naive_prefill_cost
from roofline.workload.model import ModelArch
from roofline.workload.op_record import PhaseOp, PhaseShape

Kernels = Callable[[str], int]


def mla_ops(arch: ModelArch, shape: PhaseShape, heads: float, layers: int, *, b_act: float, b_kv: float,
            b_w: float, compute: Precision, dequant: bool, vector: Precision, kernels: Kernels) -> list[PhaseOp]:
    """Projections, the latent cache write, and attention of an MLA layer for the step's tokens on
    this GPU: decode tokens on the absorbed path, prompt tokens (a prefill, or a mixed step's chunk)
    on the naive one (kv_b decompresses their K and V)."""
    assert arch.mla is not None
    mla, d = arch.mla, arch.hidden_size
    tokens = shape.tokens
    ops: list[PhaseOp] = []

    def gemm(name: str, n_in: float, n_out: float, rows: float, kernel: str = "qkv_proj") -> None:
        weights = n_in * n_out * b_w
        ops.append(PhaseOp(name, "gemm", 2 * rows * n_in * n_out, weights + rows * (n_in + n_out) * b_act, compute,
                           Unit.MATRIX, kernels(kernel), layers, weight_bytes=weights, dequant=dequant, rows=rows))

    for name, n_in, n_out in mla.projections(d, heads):
        gemm(name, n_in, n_out, tokens)
    ops.append(PhaseOp("kv_write", "elementwise", 0.0, 2 * tokens * mla.latent_dim * b_kv, vector, Unit.VECTOR,
                       max(kernels("kv_write"), 1), layers, kv_bytes=tokens * mla.latent_dim * b_kv))
    if shape.phase == "decode" and shape.batch:
        queries = shape.batch * shape.new_tokens
        # W_UK (nope → latent) on the queries and W_UV (latent → v) on the outputs, per head.
        gemm("mla_absorb_uk", heads * mla.qk_nope_head_dim, mla.kv_lora_rank, queries, "o_proj")
        ops[-1] = replace(ops[-1], flops=2 * queries * heads * mla.qk_nope_head_dim * mla.kv_lora_rank,
                          weight_bytes=heads * mla.qk_nope_head_dim * mla.kv_lora_rank * b_w,
                          bytes=heads * mla.qk_nope_head_dim * mla.kv_lora_rank * b_w
                          + queries * heads * (mla.qk_nope_head_dim + mla.kv_lora_rank) * b_act)
        cost = absorbed_decode_cost(mla, heads, shape.batch, shape.new_tokens, shape.context, b_act, b_kv)
        ops.append(PhaseOp("mla_attention", "attention", cost.flops, cost.bytes, vector, Unit.MATRIX,
                           kernels("attention_fused"), layers, kv_bytes=cost.kv_bytes))
        gemm("mla_absorb_uv", heads * mla.kv_lora_rank, mla.v_head_dim, queries, "o_proj")
        ops[-1] = replace(ops[-1], flops=2 * queries * heads * mla.kv_lora_rank * mla.v_head_dim,
                          weight_bytes=heads * mla.kv_lora_rank * mla.v_head_dim * b_w,
                          bytes=heads * mla.kv_lora_rank * mla.v_head_dim * b_w
                          + queries * heads * (mla.kv_lora_rank + mla.v_head_dim) * b_act)
    prompt_tokens, prompt = ((shape.batch * shape.new_tokens, shape.context) if shape.phase == "prefill"
                             else (shape.prefill_tokens, max(shape.prefill_context, 1)))
    if prompt_tokens:
        gemm("kv_b_proj", mla.kv_lora_rank, heads * (mla.qk_nope_head_dim + mla.v_head_dim), prompt_tokens)
        cost = naive_prefill_cost(mla, heads, prompt_tokens, prompt / 2, b_act)
        name = "attention" if shape.phase == "prefill" else "prefill_attention"
        ops.append(PhaseOp(name, "attention", cost.flops, cost.bytes, vector, Unit.MATRIX,
                           kernels("attention_fused"), layers))
    return ops


def windowed(op_for: Callable[[PhaseShape, int], PhaseOp], arch: ModelArch, shape: PhaseShape, layers: int,
             *, chunk: bool) -> list[PhaseOp]:
    """One attention op per distinct window: a sliding layer's decode attends to min(context, W)
    keys and its causal prefill to ``causal_attended(W, S)`` on average (roofline.workload.attention_layout).
    ``op_for(shape, count)`` builds the full-attention op for a shape."""
    if not arch.layer_windows:
        return [op_for(shape, layers)]
    ops = []
    scale = layers / arch.num_layers  # pipeline stages hold a share of each kind of layer
    for window in sorted(set(arch.layer_windows)):
        count = max(1, round(arch.layer_windows.count(window) * scale))
        if window == FULL:
            ops.append(op_for(shape, count))
            continue
        if chunk:
            local = replace(shape, prefill_context=round(2 * causal_attended(window, max(shape.prefill_context, 1))))
        elif shape.phase == "prefill":
            local = replace(shape, context=round(2 * causal_attended(window, shape.context)))
        else:
            local = replace(shape, context=min(shape.context, window))
        op = op_for(local, count)
        ops.append(replace(op, name=f"{op.name}_window{window}"))
    return ops
