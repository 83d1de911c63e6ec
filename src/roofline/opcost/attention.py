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


@register_op("aten::_flash_attention_forward")
def _flash_forward(call: OpCall) -> OpCost | NoCost:
    # (q, k, v, cum_seq_q, cum_seq_k, max_q, max_k, dropout_p, is_causal, debug, scale, …), [B,S,H,D]
    ops = Operands(call)
    q, k, v = _qkv(ops)
    if _varlen(ops, 3, 4):
        raise Malformed("variable-length batch (cum_seq_q given): per-sequence lengths are not in the trace")
    return attention_cost(q, k, v, layout="bshd", causal=ops.bool_(8), extra=[])


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
