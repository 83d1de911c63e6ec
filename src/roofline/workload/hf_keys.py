"""The Hugging Face config.json keys the planner understands, the families that write them, and
what to say about a config of an architecture it does not know.

Pure: dictionaries in, names and errors out (roofline.workload.model does the loading).
"""

from __future__ import annotations

from typing import Any

# Keys the cost model reads (roofline.workload.model.from_hf_config).
READ_KEYS = {
    "num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size",
    "vocab_size", "tie_word_embeddings", "hidden_act", "hidden_activation", "attention_bias", "model_type",
    "architectures", "n_layer", "n_embd", "n_head", "d_model", "num_layers", "ffn_dim", "n_inner", "qkv_bias",
    # MoE (Mixtral/gpt-oss num_local_experts, Qwen num_experts, DeepSeek n_routed_experts)
    "num_local_experts", "num_experts", "n_routed_experts", "num_experts_per_tok", "experts_per_token",
    "moe_intermediate_size", "shared_expert_intermediate_size", "n_shared_experts", "first_k_dense_replace",
    "moe_layer_freq", "decoder_sparse_step", "mlp_only_layers",
    # MLA
    "kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "num_nextn_predict_layers",
    # sliding windows
    "sliding_window", "layer_types", "sliding_window_pattern", "use_sliding_window", "max_window_layers",
    "text_config",
}
# Read by Hugging Face, irrelevant to cost (rotary, norms, routing scores, training-only switches,
# tokenizer ids, quantization descriptors the serving config's precision replaces): no note.
COST_FREE_KEYS = {
    "rms_norm_eps", "layer_norm_eps", "rope_theta", "rope_scaling", "max_position_embeddings", "torch_dtype",
    "bos_token_id", "eos_token_id", "pad_token_id", "use_cache", "initializer_range", "transformers_version",
    "attention_dropout", "mlp_bias", "pretraining_tp", "norm_topk_prob", "router_aux_loss_coef",
    "output_router_logits", "router_jitter_noise", "dtype", "auto_map", "quantization_config", "_name_or_path",
    "rope_local_base_freq", "query_pre_attn_scalar", "attn_logit_softcapping", "final_logit_softcapping",
    "routed_scaling_factor", "scoring_func", "topk_method", "n_group", "topk_group", "ep_size", "aux_loss_alpha",
    "seq_aux", "swiglu_limit", "initial_context_length", "rope_parameters", "partial_rotary_factor",
    "hidden_dropout", "embedding_dropout", "residual_dropout", "use_qk_norm", "qk_norm",
}
# PretrainedConfig's generation and bookkeeping attributes, which a nested text_config spells out.
PRETRAINED_DEFAULTS = {
    "add_cross_attention", "bad_words_ids", "begin_suppress_tokens", "chunk_size_feed_forward",
    "cross_attention_hidden_size", "decoder_start_token_id", "diversity_penalty", "do_sample", "early_stopping",
    "encoder_no_repeat_ngram_size", "exponential_decay_length_penalty", "finetuning_task", "forced_bos_token_id",
    "forced_eos_token_id", "id2label", "label2id", "is_decoder", "is_encoder_decoder", "length_penalty",
    "max_length", "min_length", "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences",
    "output_attentions", "output_hidden_states", "output_scores", "prefix", "problem_type", "pruned_heads",
    "remove_invalid_values", "repetition_penalty", "return_dict", "return_dict_in_generate", "sep_token_id",
    "suppress_tokens", "task_specific_params", "temperature", "tf_legacy_loss", "tie_encoder_decoder",
    "tokenizer_class", "top_k", "top_p", "torchscript", "typical_p", "use_bfloat16", "ignore_index",
    "media_placeholder_token_id", "vision_config", "image_token_index", "image_token_id", "video_token_id",
}
KNOWN_KEYS = READ_KEYS | COST_FREE_KEYS | PRETRAINED_DEFAULTS

# The families whose configs the planner reads, with the keys that mark each (for "it resembles").
FAMILIES: dict[str, frozenset[str]] = {
    "llama": frozenset({"num_key_value_heads", "rope_scaling", "pretraining_tp", "mlp_bias"}),
    "mistral": frozenset({"num_key_value_heads", "sliding_window", "head_dim"}),
    "mixtral": frozenset({"num_local_experts", "num_experts_per_tok", "router_jitter_noise", "sliding_window"}),
    "qwen2": frozenset({"use_sliding_window", "max_window_layers", "sliding_window"}),
    "qwen2_moe": frozenset({"num_experts", "moe_intermediate_size", "shared_expert_intermediate_size",
                            "decoder_sparse_step", "mlp_only_layers"}),
    "qwen3": frozenset({"use_sliding_window", "max_window_layers", "head_dim"}),
    "qwen3_moe": frozenset({"num_experts", "moe_intermediate_size", "decoder_sparse_step", "mlp_only_layers",
                            "norm_topk_prob"}),
    "gemma": frozenset({"head_dim", "hidden_activation"}),
    "gemma2": frozenset({"sliding_window", "query_pre_attn_scalar", "attn_logit_softcapping",
                         "final_logit_softcapping"}),
    "gemma3_text": frozenset({"sliding_window", "sliding_window_pattern", "rope_local_base_freq", "layer_types"}),
    "deepseek_v2": frozenset({"kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                              "n_routed_experts", "n_shared_experts", "first_k_dense_replace", "moe_layer_freq"}),
    "deepseek_v3": frozenset({"kv_lora_rank", "q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
                              "n_routed_experts", "n_shared_experts", "first_k_dense_replace",
                              "num_nextn_predict_layers", "routed_scaling_factor", "topk_method"}),
    "gpt_oss": frozenset({"num_local_experts", "experts_per_token", "sliding_window", "layer_types",
                          "swiglu_limit", "attention_bias"}),
}
ALIASES = {"gemma3": "gemma3_text", "kimi_k2": "deepseek_v3", "phi3": "llama", "gpt2": "llama",
           "gpt_neox": "llama", "opt": "llama", "falcon": "llama"}


def text_part(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A multimodal wrapper (Kimi-K2.5, Gemma-3, Llama-4, Qwen-VL) keeps the language model in
    ``text_config``: read that, and say the vision tower is not counted."""
    inner = config.get("text_config")
    if isinstance(inner, dict) and config.get("num_hidden_layers") is None and inner.get("num_hidden_layers"):
        notes = ["vision_config (the vision tower is not counted)"] if "vision_config" in config else []
        return inner, notes
    return config, []


def resembles(keys: set[str]) -> tuple[str, list[str]]:
    """The known family sharing most of its marking keys with ``keys``, and the keys shared."""
    best = max(FAMILIES, key=lambda f: (len(FAMILIES[f] & keys) / len(FAMILIES[f]), len(FAMILIES[f] & keys)))
    return best, sorted(FAMILIES[best] & keys)


def check_family(config: dict[str, Any]) -> str | None:
    """None for a config the planner understands; otherwise a one-line reason naming the keys not
    understood and the family the config resembles. A config of an unknown ``model_type`` is
    accepted when every key it has is one the planner knows (a Llama clone under a new name)."""
    model_type = str(config.get("model_type") or "")
    if not model_type or model_type in FAMILIES or model_type in ALIASES:
        return None
    unknown = sorted(k for k in config if k not in KNOWN_KEYS)
    if not unknown:
        return None
    family, shared = resembles(set(config))
    like = f"it resembles {family} (shares {', '.join(shared)})" if shared else f"nearest family: {family}"
    shown = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
    return f"unknown architecture '{model_type[:40]}': keys not understood: {shown}; {like}"
