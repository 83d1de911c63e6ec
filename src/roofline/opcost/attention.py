"""Scaled dot-product attention, the composite and its fused backends.

FLOPs: QKᵀ and P·V, 2·Sq·Sk·D each per (batch, query head): 4·B·H·Sq·Sk·D, or
2·B·H·Sq·Sk·(D + Dv) when V's head dim differs. Softmax FLOPs (≈5 per score) are left out, as
in torch.utils.flop_counter: they are 1/D of the matmul work and run off the tensor cores.
Causal masking halves the useful work (the standard convention; exact for Sq = Sk up to the
diagonal). Grouped-query attention (K/V with fewer heads than Q) costs FLOPs by Q's heads and
bytes by K/V's real size.
Bytes: the fused kernels (flash, memory-efficient, cuDNN) read Q, K, V (and a mask/bias if
given) once and write O once; the logsumexp side output (B·H·Sq fp32) is left out. The math
fallback materialises the score matrix through separate bmm/softmax ops, which are costed on
their own; ``_scaled_dot_product_attention_math`` itself is therefore not given a cost.
"""

from __future__ import annotations

import math
from dataclasses import replace

from roofline.opcost.core import Malformed, NoCost, OpCall, OpCost, register_op
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit


def attention_cost(
    q: Tensor, k: Tensor, v: Tensor, *, layout: str, causal: bool | None, extra: list[Tensor]
) -> OpCost:
    """``layout`` "bhsd": [..., H, S, D] (SDPA); "bshd": [B, S, H, D] (flash/mem-efficient
    forward entry points)."""
    if layout == "bshd":
        for t, label in ((q, "query"), (k, "key"), (v, "value")):
            if t.ndim != 4:
                raise Malformed(
                    f"{label} is {list(t.shape)}; variable-length (packed) batches are "
                    "not costed: the per-sequence lengths are not in the trace"
                )
        b, sq, h, d = q.shape
        bk, sk, hk, dk = k.shape
        _, sv, hv, dv = v.shape
        lead_q, lead_k = (b,), (bk,)
    else:
        for t, label in ((q, "query"), (k, "key"), (v, "value")):
            if t.ndim < 2:
                raise Malformed(f"{label} is {list(t.shape)}, expected [..., S, D]")
        sq, d = q.shape[-2:]
        sk, dk = k.shape[-2:]
        sv, dv = v.shape[-2:]
        h = q.shape[-3] if q.ndim >= 3 else 1
        hk = k.shape[-3] if k.ndim >= 3 else 1
        hv = v.shape[-3] if v.ndim >= 3 else 1
        lead_q, lead_k = q.shape[:-3], k.shape[:-3]
        b = math.prod(lead_q)
    if dk != d or sv != sk or hv != hk:
        raise Malformed(f"query {list(q.shape)}, key {list(k.shape)}, value {list(v.shape)} do not fit")
    if lead_q != lead_k and len(lead_q) == len(lead_k):
        raise Malformed(f"batch dims differ: query {list(q.shape)}, key {list(k.shape)}")
    if hk == 0 or h % hk:
        raise Malformed(f"{h} query heads cannot share {hk} key/value heads")
    scale = 0.5 if causal else 1.0
    flops = 2 * b * h * sq * sk * (d + dv) * scale
    out_bytes = b * h * sq * dv * q.dtype.itemsize
    nbytes = q.read_bytes + k.read_bytes + v.read_bytes + sum(t.read_bytes for t in extra) + out_bytes
    symbolic = "4·B·H·Sq·Sk·D" if d == dv else "2·B·H·Sq·Sk·(D+Dv)"
    parts = [f"B={fmt(b)}", f"H={fmt(h)}", f"Sq={fmt(sq)}", f"Sk={fmt(sk)}", f"D={fmt(d)}"]
    if dv != d:
        parts.append(f"Dv={fmt(dv)}")
    if hk != h:
        parts.append(f"H_kv={fmt(hk)} (GQA)")
    text = symbolic + (" · ½ (causal)" if causal else "") + f" ({', '.join(parts)})"
    if causal is None:
        text += "; is_causal not recorded, assumed False"
    text += "; bytes: Q, K, V" + (", mask" if extra else "") + " read, O written (fused)"
    return make_cost(flops, nbytes, q.dtype, Unit.MATRIX, text)


def _qkv(ops: Operands) -> tuple[Tensor, Tensor, Tensor]:
    return ops.tensor(0, "query"), ops.tensor(1, "key"), ops.tensor(2, "value")


def _extra(ops: Operands, index: int | None) -> list[Tensor]:
    if index is None:
        return []
    t = ops.opt_tensor(index, "attn_mask")
    return [t] if t is not None else []


def _sdpa_like(causal_index: int, mask_index: int | None, layout: str = "bhsd"):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        q, k, v = _qkv(ops)
        return attention_cost(
            q, k, v, layout=layout, causal=ops.bool_(causal_index), extra=_extra(ops, mask_index)
        )

    return formula


# Positions of is_causal and the mask/bias in each schema (checked against a PyTorch 2.11 trace).
register_op("aten::scaled_dot_product_attention")(
    _sdpa_like(5, 3)
)  # (q,k,v,mask,dropout,is_causal,scale,gqa)
register_op("aten::_scaled_dot_product_flash_attention")(_sdpa_like(4, None))  # (q,k,v,dropout,is_causal,…)
register_op("aten::_scaled_dot_product_flash_attention_for_cpu")(_sdpa_like(4, 5))  # (…,is_causal,mask,scale)
register_op("aten::_scaled_dot_product_efficient_attention")(
    _sdpa_like(6, 3)
)  # (q,k,v,bias,lse,dropout,is_causal,…)
register_op("aten::_scaled_dot_product_cudnn_attention")(
    _sdpa_like(6, 3)
)  # (q,k,v,bias,lse,dropout,is_causal,…)
# (q,k,v,bias,cum_q,cum_k,max_q,max_k,lse,dropout,is_causal,debug,scale)
register_op("aten::_cudnn_attention_forward")(_sdpa_like(10, 3))


def _varlen(ops: Operands, *indices: int) -> bool:
    return any(ops.opt_tensor(i) is not None for i in indices)


def uniform_varlen(
    ops: Operands, q: Tensor, k: Tensor, v: Tensor, cum_q: int, cum_k: int, max_q: int, max_k: int
) -> tuple[Tensor, Tensor, Tensor, str]:
    """A packed variable-length batch ([total, H, D] with cumulative offsets) as a dense [B, S, H, D]
    one when every sequence has the same length — total = B·max_seqlen for queries and for keys —
    the one case the trace determines; Malformed otherwise (the offsets' values are not recorded)."""
    offsets = ops.opt_tensor(cum_q, "cum_seq_q")
    if offsets is None or not _varlen(ops, cum_q, cum_k):
        return q, k, v, ""
    batch = offsets.numel - 1
    sq, sk = ops.int_(max_q), ops.int_(max_k)
    if q.ndim != 3 or k.ndim != 3 or v.ndim != 3 or batch < 1 or sq is None or sk is None:
        raise Malformed("variable-length batch (cum_seq_q given): per-sequence lengths are not in the trace")
    if q.shape[0] != batch * sq or k.shape[0] != batch * sk or v.shape[0] != k.shape[0]:
        raise Malformed(
            f"variable-length batch ({fmt(q.shape[0])} query / {fmt(k.shape[0])} key tokens in {fmt(batch)} "
            "sequences of unequal length): per-sequence lengths are not in the trace")

    def dense(t: Tensor, s: int) -> Tensor:
        return Tensor((batch, s, *t.shape[1:]), t.dtype)

    return dense(q, sq), dense(k, sk), dense(v, sk), f"; packed batch of {fmt(batch)} equal sequences"


@register_op("aten::_flash_attention_forward")
def _flash_forward(call: OpCall) -> OpCost | NoCost:
    # (q, k, v, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, debug, scale, …), [B,S,H,D]
    ops = Operands(call)
    q, k, v, note = uniform_varlen(ops, *_qkv(ops), 3, 4, 5, 6)
    cost = attention_cost(q, k, v, layout="bshd", causal=ops.bool_(8), extra=[])
    return _noted(cost, note)


def _noted(cost: OpCost, note: str) -> OpCost:
    return replace(cost, formula=cost.formula + note) if note else cost


@register_op("aten::_efficient_attention_forward")
def _efficient_forward(call: OpCall) -> OpCost | NoCost:
    # (q, k, v, bias, cu_seqlens_q, cu_seqlens_k, max_q, max_k, dropout_p, custom_mask_type, …)
    # custom_mask_type: 0 none, 1 causal from the top left, 2 causal from the bottom right.
    ops = Operands(call)
    q, k, v = _qkv(ops)
    if _varlen(ops, 4, 5):
        raise Malformed("variable-length batch (cu_seqlens given): per-sequence lengths are not in the trace")
    mask_type = ops.int_(9)
    causal = None if mask_type is None else mask_type != 0
    return attention_cost(q, k, v, layout="bshd", causal=causal, extra=_extra(ops, 3))


@register_op("aten::_scaled_dot_product_attention_math")
def _sdpa_math(call: OpCall) -> NoCost:
    return NoCost(
        f"{call.name} is a composite: it launches no kernel itself, and its bmm, "
        "softmax and elementwise children (which materialise the scores) are costed"
    )


# ---- backward ---------------------------------------------------------------------------------------
# FlashAttention-2 (Dao, 2023, "FlashAttention-2: Faster Attention with Better Parallelism and Work
# Partitioning", §4.1) counts the backward pass as 2.5× the forward's FLOPs: five matmuls (QKᵀ
# recomputed, dV = Pᵀ·dO, dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q) against the forward's two. The fused
# kernels (flash, memory-efficient, cuDNN) all recompute the scores, so the same count is used for
# each; torch.utils.flop_counter leaves the recomputation out (2×) — the 0.5× it omits is work the
# kernel really does, which is what its roofline position needs. Bytes: Q, K, V, O, dO and the fp32
# logsumexp read, dQ, dK, dV written (a bias/mask read too, when given).

BACKWARD_FACTOR = 2.5


def attention_backward_cost(
    q: Tensor, k: Tensor, v: Tensor, *, layout: str, causal: bool | None, extra: list[Tensor], note: str = ""
) -> OpCost:
    forward = attention_cost(q, k, v, layout=layout, causal=causal, extra=extra)
    heads_rows = (q.numel // q.shape[-1]) if q.ndim else 0  # B·H·Sq in either layout
    nbytes = (2 * q.read_bytes + q.nbytes  # Q and dO read (O read below), dQ written
              + k.read_bytes + v.read_bytes + k.nbytes + v.nbytes  # K, V read; dK, dV written
              + q.nbytes  # O read (the output's size is Q's, with Dv = D)
              + heads_rows * 4 + sum(t.read_bytes for t in extra))
    text = (f"2.5 × the forward's {forward.formula.split('; bytes')[0]} (FlashAttention-2 count: 5 matmuls, the "
            f"scores recomputed); bytes: Q, K, V, O, dO, logsumexp read, dQ, dK, dV written{note}")
    return make_cost(BACKWARD_FACTOR * forward.flops, nbytes, q.dtype, Unit.MATRIX, text)


def _backward(layout: str, q_at: int, causal_at: int | None, *, mask_at: int | None = None,
              mask_type_at: int | None = None, varlen: tuple[int, int, int, int] | None = None):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        q, k, v = ops.tensor(q_at, "query"), ops.tensor(q_at + 1, "key"), ops.tensor(q_at + 2, "value")
        note = ""
        if varlen is not None:
            q, k, v, note = uniform_varlen(ops, q, k, v, *varlen)
        if mask_type_at is not None:
            mask_type = ops.int_(mask_type_at)
            causal = None if mask_type is None else mask_type != 0
        else:
            causal = ops.bool_(causal_at) if causal_at is not None else None
        return attention_backward_cost(q, k, v, layout=layout, causal=causal, extra=_extra(ops, mask_at), note=note)

    return formula


# Positions from native_functions.yaml (PyTorch 2.13); grad_out is argument 0 in each.
# (grad_out, q, k, v, out, logsumexp, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, …)
register_op("aten::_scaled_dot_product_flash_attention_backward")(_backward("bhsd", 1, 11))
register_op("aten::_flash_attention_backward")(_backward("bshd", 1, 11, varlen=(6, 7, 8, 9)))
# (grad_out, q, k, v, attn_bias, out, logsumexp, philox_seed, philox_offset, dropout_p, grad_input_mask, is_causal)
register_op("aten::_scaled_dot_product_efficient_attention_backward")(_backward("bhsd", 1, 11, mask_at=4))
# (grad_out, q, k, v, bias, out, cu_seqlens_q, cu_seqlens_k, max_q, max_k, logsumexp, dropout_p, philox_seed,
#  philox_offset, custom_mask_type, …)
register_op("aten::_efficient_attention_backward")(
    _backward("bshd", 1, None, mask_at=4, mask_type_at=14, varlen=(6, 7, 8, 9)))
# (grad_out, q, k, v, out, logsumexp, philox_seed, philox_offset, attn_bias, cum_seq_q, cum_seq_k, max_q, max_k,
#  dropout_p, is_causal, …)
register_op("aten::_scaled_dot_product_cudnn_attention_backward", "aten::_cudnn_attention_backward")(
    _backward("bhsd", 1, 14, mask_at=8))
# (grad_out, q, k, v, out, logsumexp, dropout_p, is_causal, attn_mask, scale)
register_op("aten::_scaled_dot_product_flash_attention_for_cpu_backward")(_backward("bhsd", 1, 7, mask_at=8))
