"""How a replica's GPUs split the model: attention tensor parallelism (``tensor``) inside each of
``attention_data`` data-parallel groups, the routed experts over ``expert`` GPUs and each expert's
width over ``expert_tensor``, layers over ``pipeline`` stages — the weights, KV cache and tokens
each GPU holds, and the link an expert-parallel all-to-all crosses.

* Weights per GPU: routed experts / (expert × expert_tensor × pipeline) at the experts' precision;
  everything else (attention, dense and shared FFN, embeddings) / (tensor × pipeline) — replicated
  over the attention-data-parallel groups — except the groups ``dp_sharded`` names (an engine's
  placement: SGLang keeps the LM head, dense FFN and shared experts sharded over all its GPUs), which
  are / (tensor × attention_data × pipeline).
* KV per GPU: a sequence lives on one attention-DP group; GQA splits its KV heads over the group's
  tensor ranks (replicated once TP exceeds them); MLA's latent is shared by all heads, so every
  tensor rank holds the whole latent — which is why attention DP, not TP, shrinks an MLA cache.
"""

from __future__ import annotations

import math

from roofline.errors import InputError
from roofline.precision import BYTES_PER_ELEMENT
from roofline.workload.model import ModelArch
from roofline.workload.serving import ServingConfig

# GPUs one NVLink domain joins: an HGX board (8), a GB200/GB300 NVL72 rack (72). An expert-parallel
# group larger than that crosses the scale-out network.
NVLINK_DOMAIN = {"gb200": 72, "gb300": 72}
DEFAULT_NVLINK_DOMAIN = 8
# Scale-out link per GPU: one 400 Gb/s ConnectX-7 (HGX H100/H200/B200 reference designs) = 50 GB/s.
SCALE_OUT_BYTES_PER_S = 50e9


def check_layout(arch: ModelArch, cfg: ServingConfig) -> None:
    """One-line errors for a layout the model does not divide into."""
    par = cfg.parallelism
    if par.expert > 1 and arch.moe is None:
        raise InputError(f"expert parallelism {par.expert} needs an MoE model; {arch.name} is dense",
                         place="parallelism.expert", fix="set parallelism.expert to 1")
    if par.redundant_experts and arch.moe is None:
        raise InputError(f"redundant experts need an MoE model; {arch.name} is dense",
                         place="parallelism.redundant_experts", fix="set parallelism.redundant_experts to 0")
    if arch.moe is not None:
        slots = expert_slots(arch, par.redundant_experts)
        if slots % par.expert:
            pad = -slots % par.expert
            what = (f"the {arch.moe.num_experts} routed experts" if not par.redundant_experts else
                    f"the {arch.moe.num_experts} routed experts + {par.redundant_experts} redundant")
            raise InputError(
                f"expert parallelism {par.expert} does not divide {what} of {arch.name}",
                place="parallelism.expert",
                fix=f"use a divisor of the expert count, or {par.redundant_experts + pad} redundant experts "
                    f"(parallelism.redundant_experts) to fill {slots + pad} slots")
        if par.moe_tensor > arch.moe.expert_intermediate_size:
            raise InputError(
                f"expert_tensor {par.moe_tensor} exceeds the expert width {arch.moe.expert_intermediate_size} "
                f"of {arch.name}", place="parallelism.expert_tensor",
                fix="use more expert parallelism and less expert tensor parallelism")
    if arch.mla is None and arch.num_heads % par.tensor:
        raise InputError(
            f"tensor parallelism {par.tensor} does not divide the {arch.num_heads} attention heads of {arch.name}",
            place="parallelism.tensor",
            fix="use a divisor of the head count (1, 2, 4, 8, …)")
    if par.tensor > arch.num_heads:
        raise InputError(f"tensor parallelism {par.tensor} exceeds the {arch.num_heads} attention heads of {arch.name}",
                         place="parallelism.tensor", fix="use attention data parallelism for the rest")
    if arch.num_layers < par.pipeline:
        raise InputError(f"pipeline {par.pipeline} exceeds the {arch.num_layers} layers of {arch.name}",
                         place="parallelism.pipeline", fix="use fewer pipeline stages")


def expert_slots(arch: ModelArch, redundant: int) -> int:
    """Expert slots of one MoE layer: the routed experts and their redundant copies."""
    return (arch.moe.num_experts if arch.moe is not None else 0) + redundant


def heads_per_gpu(arch: ModelArch, tensor: int) -> int:
    """Query heads on each tensor rank. MLA engines (TensorRT-LLM, SGLang: DeepSeek at attention TP
    20/36/48/72) pad the heads up to a multiple of the TP size, so each rank runs ⌈H/tp⌉ of them;
    GQA layouts must divide (check_layout refuses them, as vLLM and TensorRT-LLM do)."""
    return math.ceil(arch.num_heads / tensor)


def expert_width_per_gpu(arch: ModelArch, expert_tensor: int) -> int:
    """Each expert's intermediate width on one expert-tensor rank, padded up like the heads
    (DeepSeek's 2048 over expert_tensor 12 or 36 runs ⌈2048/et⌉ columns per rank)."""
    assert arch.moe is not None
    return math.ceil(arch.moe.expert_intermediate_size / expert_tensor)


def layout_notes(arch: ModelArch, cfg: ServingConfig) -> list[str]:
    """What the layout pads, said in the plan's notes."""
    par, notes = cfg.parallelism, []
    if arch.num_heads % par.tensor:
        notes.append(f"{arch.name}: {arch.num_heads} attention heads over tensor {par.tensor} are padded to "
                     f"{heads_per_gpu(arch, par.tensor) * par.tensor} ({heads_per_gpu(arch, par.tensor)} per GPU), "
                     "as MLA engines do; the padded heads cost time")
    if arch.moe is not None and par.redundant_experts:
        notes.append(f"{arch.name}: {arch.moe.num_experts} routed experts + {par.redundant_experts} redundant copies "
                     f"fill {expert_slots(arch, par.redundant_experts)} slots, "
                     f"{expert_slots(arch, par.redundant_experts) // par.expert} per GPU over expert {par.expert}")
    if arch.moe is not None and arch.moe.expert_intermediate_size % par.moe_tensor:
        notes.append(f"{arch.name}: expert width {arch.moe.expert_intermediate_size} over expert_tensor "
                     f"{par.moe_tensor} is padded to {expert_width_per_gpu(arch, par.moe_tensor)} per GPU")
    return notes


def dp_sharded_params(arch: ModelArch, groups: tuple[str, ...] | None) -> int:
    """Parameters of the named groups (``Parallelism.dp_sharded``): the untied LM head (a tied one is
    the embedding, which every attention-DP rank keeps whole), the first-k dense layers' FFN, the
    shared experts of the MoE layers."""
    if not groups:
        return 0
    params = 0
    if "lm_head" in groups and not arch.tie_embeddings:
        params += arch.vocab_size * arch.hidden_size
    if "dense_ffn" in groups and arch.moe is not None:
        params += arch.dense_layers * arch.ffn_params(arch.intermediate_size)
    if "shared_experts" in groups and arch.moe is not None:
        params += arch.moe_layers * arch.ffn_params(arch.moe.shared_width)
    return params


def weight_bytes_per_gpu(arch: ModelArch, cfg: ServingConfig, bits: float, expert_bits: float) -> float:
    """Routed experts over expert × expert_tensor × pipeline GPUs; under attention DP the groups of
    ``parallelism.dp_sharded`` over tensor × attention_data × pipeline; the rest over tensor × pipeline
    (replicated on each attention-DP group)."""
    par = cfg.parallelism
    experts = arch.routed_expert_params
    group = dp_sharded_params(arch, par.dp_sharded) if par.attention_data > 1 else 0
    rest = arch.total_params - experts - group
    if par.redundant_experts and arch.moe is not None:  # each copy holds a whole expert's weights
        experts = experts * expert_slots(arch, par.redundant_experts) / arch.moe.num_experts
    return (rest * bits / 8 / (par.tensor * par.pipeline)
            + group * bits / 8 / (par.tensor * par.attention_data * par.pipeline)
            + experts * expert_bits / 8 / (par.expert * par.moe_tensor * par.pipeline))


def kv_elements_per_token_layer_per_gpu(arch: ModelArch, tensor: int) -> float:
    if arch.mla is not None:
        return float(arch.mla.latent_dim)  # shared by all heads: every tensor rank keeps all of it
    return 2 * max(arch.num_kv_heads / tensor, 1.0) * arch.head_dim


def kv_bytes_per_sequence_per_gpu(arch: ModelArch, cfg: ServingConfig, context: float) -> float:
    """One sequence's cache on each GPU of the attention group it lives on, over the layers of a stage."""
    par = cfg.parallelism
    per_layer_token = kv_elements_per_token_layer_per_gpu(arch, par.tensor) * BYTES_PER_ELEMENT[cfg.precision.kv_cache]
    full = arch.kv_bytes_per_sequence(context, 1.0) / arch.kv_elements_per_token_layer()  # token-layers
    return full * per_layer_token / par.pipeline


def scale_out(hardware: str, ranks: int) -> bool:
    """Whether a group of ``ranks`` GPUs spans more than one NVLink domain."""
    return ranks > NVLINK_DOMAIN.get(hardware, DEFAULT_NVLINK_DOMAIN)


def mtp_draft(arch: ModelArch) -> ModelArch:
    """The draft of multi-token prediction: the model's own MTP layers (DeepSeek-V3: one MoE decoder
    layer sharing the embedding and LM head), run once per drafted token."""
    if arch.mtp_layers < 1:
        raise InputError(f"{arch.name} has no multi-token-prediction layers (num_nextn_predict_layers)",
                         place="speculative.mtp", fix="use a draft model (speculative.draft_model or draft_params_b)")
    moe = arch.moe.model_copy(update={"first_dense_layers": 0}) if arch.moe is not None else None
    windows = arch.layer_windows[-arch.mtp_layers:] if arch.layer_windows else ()
    return arch.model_copy(update={"name": f"{arch.name}-mtp", "num_layers": arch.mtp_layers, "moe": moe,
                                   "layer_windows": windows, "mtp_layers": 0})
