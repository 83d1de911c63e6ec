"""Serving-engine custom ops, where their inputs say enough: vLLM (``_C::``, ``_C_cache_ops::``,
``_moe_C::``, ``vllm::``), SGLang (``sgl_kernel::``, ``sglang::``) and AMD aiter (``aiter::``).
Argument positions are those recorded in public vLLM/SGLang traces (TraceLens test data).

  RMS norm (``_C::rms_norm``, ``aiter::rmsnorm``/``rms_norm``, ``sgl_kernel::rmsnorm``): 4 FLOPs per
      element (square, add, scale, × weight); input and weight read, output written.
  fused add + RMS norm (``_C::fused_add_rms_norm``, ``aiter::add_rmsnorm``,
      ``aiter::rmsnorm2d_fwd_with_add_ck``, ``sgl_kernel::fused_add_rmsnorm``): 5 per element;
      input and residual read, both written back (the residual sum and the normalised output).
  rotary embedding (``_C::rotary_embedding``, ``sgl_kernel::rotary_embedding``): 3 FLOPs per rotated
      element (x₁·cos − x₂·sin); the rotated part of Q and K read and written in place, positions and
      one cos/sin row per token read.
  KV-cache write (``_C_cache_ops::reshape_and_cache(_flash)``, ``sglang::store_cache``,
      ``vllm::unified_kv_cache_update``): the new K and V read and written into the cache at its
      element size, the slot mapping read; 1 FLOP per element when the cache is fp8 (the scale).
  activation-and-multiply (``_C::silu_and_mul``, ``sgl_kernel::silu_and_mul``, ``gelu_and_mul``):
      silu/gelu 5 + multiply 1 per output element; the [T, 2d] input read, the [T, d] output written.
  fp8 quantisation (``_C::static_scaled_fp8_quant``, dynamic variants): 2 per element (scale,
      clamp; the dynamic ones +1 for the max), input read, fp8 output written.
  ``_moe_C::topk_softmax``: softmax (5) + selection (1) per router logit; logits read, top-k weights
      and ids written.
  ``aiter::mha_batch_prefill`` (variable-length prefill): costed like flash attention when every
      sequence has the same length — T = B·max_seqlen_q and max_seqlen_k = max_seqlen_q (the keys of
      a prefill include its queries) — otherwise the per-sequence lengths, tensor values the profiler
      does not record, are missing and the op is not costed.
Not costed, and why: ``vllm::unified_attention(_with_output)`` and ``_C::paged_attention_*`` (the
context lengths are in vLLM's attention metadata / a seq_lens tensor whose values are not
recorded), ``vllm::fused_moe``.

``vllm::moe_forward`` / ``moe_forward_shared`` (hidden_states [T, H′], router_logits [T, E],
layer_name): the expert weights and top-k are held by the MoE layer, not passed to the op, so it is
costed only with the model (``classify --model``, :mod:`roofline.opcost.model_layer`); per GPU of
N (the layer's experts spread over N by tensor or expert parallelism):
  FLOPs = 2·T·k·m·H·I / N (m = 3 matrices per gated expert: gate, up, down; I the expert width)
        + 2·T·m·H·I_shared / N (shared experts, every token) + 6·T·E (routing: softmax and top-k
        over the logits, as ``topk_softmax``). The router GEMM ran before the op (its logits are
        an input) and is costed there; expert biases and the SwiGLU are left out (< 0.1%).
  bytes = the expert weights actually touched, E_t·m·H·I·w / N, with E_t = E·(1 − (1 − k/E)^T)
        the expected distinct experts of T tokens picking k of E uniformly (real routers are
        skewed and touch fewer) and w the stored bytes per weight (MXFP4 0.53125: 4 bits plus an
        8-bit scale per 32), + shared weights + hidden states and logits read + output written.
  H′ may exceed the model's H: engines pad the hidden size (vLLM's MXFP4 path rounds 2880 up to
  3072); the model's H counts (useful FLOPs). H′ < H or H′ ≥ H + 256 (more than padding), or E
  not the model's, is refused: the wrong --model. The roof is the recorded activations' type
  (the kernels may quantise them further).
"""

from __future__ import annotations

from roofline.opcost.attention import attention_cost
from roofline.opcost.core import Malformed, NoCost, OpCall, OpCost, Result, register_op
from roofline.opcost.dtypes import I32
from roofline.opcost.model_layer import active_model
from roofline.opcost.operands import Operands, Tensor, fmt, make_cost
from roofline.precision import Unit
from roofline.workload.moe import experts_touched


def _rms(x: Tensor, w: Tensor | None, *, add: bool, label: str) -> OpCost:
    n = x.numel
    per = (5 if add else 4) if w is not None else (4 if add else 3)
    es = x.dtype.itemsize
    nbytes = (4 if add else 2) * n * es + (w.read_bytes if w is not None else 0)
    text = f"{per}·n ({label}, n={fmt(n)}); bytes: " + (
        "input and residual read and written back" if add else "input read, output written") + ", weight read"
    return make_cost(per * n, nbytes, x.dtype, Unit.VECTOR, text)


def _rms_at(x_i: int, w_i: int, *, add: bool):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        x, w = ops.tensor(x_i, "input"), ops.opt_tensor(w_i, "weight")
        if w is not None and w.ndim and x.ndim and w.shape[-1] != x.shape[-1]:
            raise Malformed(f"weight {list(w.shape)} does not match hidden size {x.shape[-1]}")
        return _rms(x, w, add=add, label=call.name.rsplit("::", 1)[-1])

    return formula


# (out, input, weight, eps)
register_op("_C::rms_norm", "aiter::rmsnorm", "sgl_kernel::rmsnorm")(_rms_at(1, 2, add=False))
# (input, weight, eps[, …]) returning the output
register_op("aiter::rms_norm", "vllm::rocm_aiter_rms_norm", "aiter::rms_norm_cu")(_rms_at(0, 1, add=False))
# (input, residual, weight, eps): in place on both
register_op("_C::fused_add_rms_norm", "sgl_kernel::fused_add_rmsnorm",
            "vllm::rocm_aiter_rmsnorm2d_fwd_with_add")(_rms_at(0, 2, add=True))
# (out, input, residual_in, residual_out, weight, eps[, …])
register_op("aiter::add_rmsnorm", "aiter::rmsnorm2d_fwd_with_add_ck", "aiter::rmsnorm2d_fwd_with_add")(
    _rms_at(1, 4, add=True))


@register_op("_C::rotary_embedding", "sgl_kernel::rotary_embedding")
def _rotary(call: OpCall) -> OpCost:
    # (positions [T], query [T, Hq·D], key [T, Hk·D] or None, head_size, cos_sin_cache [P, rot], is_neox)
    ops = Operands(call)
    pos, q = ops.tensor(0, "positions"), ops.tensor(1, "query")
    k = ops.opt_tensor(2, "key")
    head = ops.int_(3)
    cache = ops.tensor(4, "cos_sin_cache")
    if head is None or head < 1 or cache.ndim != 2:
        raise Malformed("head_size was not recorded, or cos_sin_cache is not [positions, rot_dim]")
    rot = cache.shape[1]
    tokens = pos.numel
    heads = sum(t.numel // max(tokens * head, 1) for t in (q, k) if t is not None)
    if rot > head or heads == 0:
        raise Malformed(f"rot_dim {rot} and head_size {head} do not fit query {list(q.shape)}")
    n = tokens * heads * rot
    es = q.dtype.itemsize
    nbytes = 2 * n * es + pos.read_bytes + tokens * rot * cache.dtype.itemsize
    return make_cost(3 * n, nbytes, q.dtype, Unit.VECTOR,
                     f"3·n (rotate pairs; n = T·heads·rot_dim = {fmt(tokens)}·{fmt(heads)}·{fmt(rot)}); bytes: the "
                     "rotated part of Q and K read and written in place, positions and one cos/sin row per token "
                     "read")


def _cache_write(k_i: int, v_i: int, kc_i: int, slots_i: int):
    def formula(call: OpCall) -> OpCost:
        ops = Operands(call)
        k, v = ops.tensor(k_i, "key"), ops.tensor(v_i, "value")
        cache = ops.opt_tensor(kc_i, "key_cache") if kc_i >= 0 else None
        slots = ops.opt_tensor(slots_i, "slot_mapping") if slots_i >= 0 else None
        n = k.numel + v.numel
        out_es = cache.dtype.itemsize if cache is not None else k.dtype.itemsize
        quantised = cache is not None and cache.dtype.itemsize < k.dtype.itemsize
        nbytes = k.read_bytes + v.read_bytes + n * out_es + (slots.read_bytes if slots is not None else 0)
        return make_cost(n if quantised else 0, nbytes, k.dtype, Unit.VECTOR,
                         f"{'1' if quantised else '0'}·n (n={fmt(n)} K and V elements"
                         + (", quantised to the cache's type" if quantised else "") + "); bytes: K and V read, "
                         f"written into the cache at {fmt(out_es)} B, slot mapping read")

    return formula


# (key, value, key_cache, value_cache, slot_mapping, kv_cache_dtype, k_scale, v_scale)
register_op("_C_cache_ops::reshape_and_cache_flash", "_C_cache_ops::reshape_and_cache")(_cache_write(0, 1, 2, 4))
# (k, v, k_cache, v_cache, indices, …)
register_op("sglang::store_cache")(_cache_write(0, 1, 2, 4))
# (key, value, layer_name): the cache is the layer's, assumed of K's type
register_op("vllm::unified_kv_cache_update")(_cache_write(0, 1, -1, -1))


def _act_and_mul(per: float):
    def formula(call: OpCall) -> OpCost:
        # (out [T, d], input [T, 2d])
        ops = Operands(call)
        out, x = ops.tensor(0, "out"), ops.tensor(1, "input")
        if x.ndim < 1 or out.ndim < 1 or x.shape[-1] != 2 * out.shape[-1]:
            raise Malformed(f"input {list(x.shape)} is not twice the output {list(out.shape)} wide")
        n = out.numel
        return make_cost(per * n, x.read_bytes + out.nbytes, x.dtype, Unit.VECTOR,
                         f"{fmt(per)}·n (activation × gate, n={fmt(n)} outputs); bytes: [T, 2d] input read, "
                         "[T, d] output written")

    return formula


register_op("_C::silu_and_mul", "sgl_kernel::silu_and_mul", "_C::gelu_and_mul", "sgl_kernel::gelu_and_mul",
            "aiter::silu_and_mul", "_C::mul_and_silu")(_act_and_mul(6))
register_op("_C::gelu_tanh_and_mul", "sgl_kernel::gelu_tanh_and_mul", "aiter::gelu_tanh_and_mul")(_act_and_mul(10))


def _fp8_quant(per: float):
    def formula(call: OpCall) -> OpCost:
        # (out, input, scale[, …])
        ops = Operands(call)
        out, x = ops.tensor(0, "out"), ops.tensor(1, "input")
        if out.numel != x.numel:
            raise Malformed(f"output {list(out.shape)} and input {list(x.shape)} differ in size")
        n = x.numel
        return make_cost(per * n, x.read_bytes + out.nbytes, x.dtype, Unit.VECTOR,
                         f"{fmt(per)}·n (quantise, n={fmt(n)}); bytes: input read, {fmt(out.dtype.itemsize)}-byte "
                         "output written")

    return formula


register_op("_C::static_scaled_fp8_quant")(_fp8_quant(2))
register_op("_C::dynamic_scaled_fp8_quant", "_C::dynamic_per_token_scaled_fp8_quant")(_fp8_quant(3))


@register_op("_moe_C::topk_softmax")
def _topk_softmax(call: OpCall) -> OpCost:
    # (topk_weights [T, k], topk_indices [T, k], token_expert_indices [T, k], gating_output [T, E])
    ops = Operands(call)
    w, gate = ops.tensor(0, "topk_weights"), ops.tensor(3, "gating_output")
    n = gate.numel
    return make_cost(6 * n, gate.read_bytes + w.numel * (w.dtype.itemsize + 2 * I32.itemsize), gate.dtype,
                     Unit.VECTOR, f"6·n (softmax 5 + selection 1 per logit, n={fmt(n)}); bytes: logits read, "
                     "top-k weights and two int32 index lists written")


@register_op("aiter::mha_batch_prefill")
def _mha_batch_prefill(call: OpCall) -> OpCost:
    # (q [T, Hq, D], k_cache, v_cache, cu_seqlens_q [B+1], kv_indptr [B+1], kv_page_indices, max_seqlen_q,
    #  max_seqlen_k, dropout_p, softmax_scale, logits_soft_cap, zero_tensors, is_causal, …)
    ops = Operands(call)
    q, k_cache, v_cache = ops.tensor(0, "q"), ops.tensor(1, "k_cache"), ops.tensor(2, "v_cache")
    cu = ops.tensor(3, "cu_seqlens_q")
    max_q, max_k = ops.int_(6), ops.int_(7)
    if q.ndim != 3 or k_cache.ndim < 3 or max_q is None or max_k is None:
        raise Malformed("q is not [tokens, heads, dim] or max_seqlen_q/k were not recorded")
    batch = cu.numel - 1
    total = q.shape[0]
    if batch < 1 or total != batch * max_q or max_k != max_q:
        raise Malformed(
            f"variable-length batch ({fmt(total)} query tokens in {fmt(batch)} sequences, max {fmt(max_q)}/"
            f"{fmt(max_k)}): the per-sequence lengths are tensor values the trace does not record")
    hq, d = q.shape[1:]
    hk, dv = k_cache.shape[-2], v_cache.shape[-1]
    dense_q = Tensor((batch, max_q, hq, d), q.dtype)
    dense_k = Tensor((batch, max_k, hk, k_cache.shape[-1]), k_cache.dtype)
    dense_v = Tensor((batch, max_k, hk, dv), v_cache.dtype)
    cost = attention_cost(dense_q, dense_k, dense_v, layout="bshd", causal=ops.bool_(12), extra=[])
    return make_cost(cost.flops, cost.bytes, q.dtype, Unit.MATRIX,
                     cost.formula + f"; every sequence has {fmt(max_q)} tokens (T = B·max_seqlen_q)")


@register_op("aiter::_groupnorm_run", "aiter::groupnorm")
def _aiter_group_norm(call: OpCall) -> OpCost:
    # (input [N, C, …], num_groups, weight, bias, eps): as aten::group_norm
    from roofline.opcost.norm import group_norm_like

    ops = Operands(call)
    return group_norm_like(ops.tensor(0, "input"), ops.int_(1), [ops.opt_tensor(2), ops.opt_tensor(3)])


# Engines pad the MoE's hidden size up to a multiple of at most 256 (vLLM's MXFP4 path: 2880 → 3072);
# a recorded width further from the model's is another model.
_MAX_HIDDEN_PAD = 256


@register_op("vllm::moe_forward", "vllm::moe_forward_shared", needs_shapes=False)
def _moe_forward(call: OpCall) -> Result:
    layer = active_model()
    if layer is None or not layer.num_experts:
        why = ("the expert weights and top-k are held by the MoE layer, not passed to the op: classify --model "
               "MODEL (its config.json or a bundled name) would size its GEMMs")
        if layer is not None:
            why = f"the model {layer.name} has no experts (no num_local_experts/n_routed_experts in its config)"
        return NoCost(f"{call.name}: {why}")
    if call.input_dims is None:
        return NoCost(f"{call.name}: no Input Dims: profile with record_shapes=True")
    ops = Operands(call)
    x, logits = ops.tensor(0, "hidden_states"), ops.tensor(1, "router_logits")
    if x.ndim != 2 or logits.ndim != 2 or x.shape[0] != logits.shape[0]:
        raise Malformed(f"hidden_states {list(x.shape)} and router_logits {list(logits.shape)} are not [T, H], [T, E]")
    tokens, width = x.shape
    experts, k, h = layer.num_experts, layer.experts_per_token, layer.hidden_size
    if logits.shape[1] != experts or not h <= width < h + _MAX_HIDDEN_PAD:
        raise Malformed(f"recorded {fmt(logits.shape[1])} experts and hidden size {fmt(width)}, the model "
                        f"{layer.name} has {fmt(experts)} and {fmt(h)}: the wrong --model?")
    m, n = layer.matrices_per_expert, layer.shards
    expert_params = m * h * layer.expert_intermediate_size
    shared_params = m * h * layer.shared_intermediate_size
    routed = 2 * tokens * k * expert_params / n
    shared = 2 * tokens * shared_params / n
    routing = 6 * logits.numel
    touched = experts_touched(experts, k, tokens)
    weights = (touched * expert_params + shared_params) * layer.expert_weight_bytes / n
    activations = x.read_bytes + logits.read_bytes + x.nbytes
    pad = f", recorded H′={fmt(width)} padded by the engine" if width != h else ""
    return make_cost(routed + shared + routing, weights + activations, x.dtype, Unit.MATRIX,
                     f"2·T·k·{m}·H·I/N + routing 6·T·E (T={fmt(tokens)}, k={fmt(k)}, H={fmt(h)}, "
                     f"I={fmt(layer.expert_intermediate_size)}, E={fmt(experts)}{pad}"
                     + (f", shared I={fmt(layer.shared_intermediate_size)}" if shared_params else "")
                     + f"; N = {layer.shards_from}); bytes: {touched:.1f} of {fmt(experts)} experts expected touched "
                     f"(uniform routing), {layer.expert_weight_format} weights at {layer.expert_weight_bytes:g} B, "
                     f"hidden states and logits read, output written (model {layer.name})")


def _not_recorded(why: str):
    def formula(call: OpCall) -> NoCost:
        return NoCost(f"{call.name}: {why}")

    return formula


register_op("vllm::unified_attention", "vllm::unified_attention_with_output", needs_shapes=False)(_not_recorded(
    "the sequences' query and context lengths live in vLLM's attention metadata (query_start_loc, seq_lens), not "
    "among the op's inputs; the recorded q/k/v give tokens and heads only, so --model cannot cost it either"))
register_op("_C::paged_attention_v1", "_C::paged_attention_v2", "_rocm_C::paged_attention", needs_shapes=False)(
    _not_recorded("the context lengths are the values of the seq_lens tensor, which the profiler does not record"))
register_op("vllm::fused_moe", needs_shapes=False)(_not_recorded(
    "the expert weights and top-k are held by the MoE layer, not passed to the op: its GEMMs cannot be sized"))
register_op("sglang_profiler::attention_", prefix=True, needs_shapes=False)(_not_recorded(
    "SGLang's paged attention: the context lengths are the values of the kv_indptr tensor, which the profiler does "
    "not record"))
register_op("fbgemm::split_embedding_codegen_lookup_", prefix=True, needs_shapes=False)(_not_recorded(
    "fbgemm's table-batched embedding: the per-table embedding dims (D_offsets values) are not recorded"))
register_op("torch::autograd::CppNode<SplitLookupFunction_", prefix=True, needs_shapes=False)(_not_recorded(
    "backward of fbgemm's table-batched embedding: the per-table embedding dims are not recorded"))

