"""Decoder-only transformer architectures, read from Hugging Face ``config.json``."""

from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from roofline.data import bundled_dir
from roofline.errors import InputError
from roofline.workload.hub_cache import find_config, looks_like_repo_id


class MoESpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    num_experts: int = Field(gt=0)
    experts_per_token: int = Field(gt=0)
    expert_intermediate_size: int = Field(gt=0)
    shared_experts: int = Field(default=0, ge=0)
    shared_intermediate_size: int = Field(default=0, ge=0)


class ModelArch(BaseModel):
    """What the cost model needs to know about a decoder-only transformer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    num_layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    num_kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    intermediate_size: int = Field(gt=0, description="dense FFN width")
    gated_ffn: bool = True  # SwiGLU/GeGLU: gate and up projections
    vocab_size: int = Field(gt=0)
    tie_embeddings: bool = False
    attention_bias: bool = False
    moe: MoESpec | None = None

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelArch:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_attention_heads {self.num_heads} is not a multiple of num_key_value_heads {self.num_kv_heads}")
        return self

    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @cached_property
    def attention_params_per_layer(self) -> int:
        return self.hidden_size * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden_size

    def ffn_params(self, width: int) -> int:
        return (3 if self.gated_ffn else 2) * self.hidden_size * width

    @cached_property
    def ffn_params_per_layer(self) -> int:
        """All FFN parameters of one layer (every expert for MoE)."""
        if self.moe is None:
            return self.ffn_params(self.intermediate_size)
        moe = self.moe
        experts = moe.num_experts * self.ffn_params(moe.expert_intermediate_size)
        shared = moe.shared_experts * self.ffn_params(moe.shared_intermediate_size or moe.expert_intermediate_size)
        router = self.hidden_size * moe.num_experts
        return experts + shared + router

    @cached_property
    def active_ffn_params_per_layer(self) -> int:
        """FFN parameters one token uses (routed experts it picks plus shared ones)."""
        if self.moe is None:
            return self.ffn_params(self.intermediate_size)
        moe = self.moe
        routed = moe.experts_per_token * self.ffn_params(moe.expert_intermediate_size)
        shared = moe.shared_experts * self.ffn_params(moe.shared_intermediate_size or moe.expert_intermediate_size)
        return routed + shared + self.hidden_size * moe.num_experts

    @cached_property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_embeddings else 2)

    @cached_property
    def total_params(self) -> int:
        norms = (2 * self.num_layers + 1) * self.hidden_size
        return (
            self.num_layers * (self.attention_params_per_layer + self.ffn_params_per_layer)
            + self.embedding_params
            + norms
        )

    @cached_property
    def active_params(self) -> int:
        """Parameters touched per token (the 2·P in decode FLOPs): MoE counts active experts only."""
        norms = (2 * self.num_layers + 1) * self.hidden_size
        lm_head = self.vocab_size * self.hidden_size
        return self.num_layers * (self.attention_params_per_layer + self.active_ffn_params_per_layer) + lm_head + norms

    def kv_bytes_per_token(self, bytes_per_element: float) -> float:
        """K and V for every layer: 2 · layers · kv_heads · head_dim · bytes."""
        return 2 * self.num_layers * self.kv_dim * bytes_per_element


# Hugging Face config keys the planner reads, per field, in order of preference.
_REQUIRED = {
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}
_KNOWN_KEYS = {
    "num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size",
    "vocab_size", "tie_word_embeddings", "hidden_act", "hidden_activation", "num_local_experts", "num_experts",
    "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size", "n_shared_experts",
    "attention_bias", "model_type", "architectures", "n_layer", "n_embd", "n_head", "d_model", "num_layers",
    "ffn_dim", "n_inner",
    # read by Hugging Face, irrelevant to cost: ignored without a note
    "rms_norm_eps", "layer_norm_eps", "rope_theta", "rope_scaling", "max_position_embeddings", "torch_dtype",
    "bos_token_id", "eos_token_id", "pad_token_id", "use_cache", "initializer_range", "transformers_version",
    "attention_dropout", "sliding_window", "use_sliding_window", "max_window_layers", "mlp_bias", "pretraining_tp",
    "decoder_sparse_step", "mlp_only_layers", "norm_topk_prob", "router_aux_loss_coef", "output_router_logits",
    "router_jitter_noise", "dtype", "qkv_bias",
}


def from_hf_config(config: dict[str, Any], *, name: str, source: str) -> tuple[ModelArch, list[str]]:
    """Build a ModelArch from a Hugging Face config dict (Llama, Mistral/Mixtral, Qwen2/3, Gemma keys).

    Returns the architecture and notes (keys ignored). Missing required keys raise InputError.
    """
    def pick(field: str, keys: tuple[str, ...]) -> Any:
        for key in keys:
            if config.get(key) is not None:
                return config[key]
        raise InputError(
            f"missing required key '{keys[0]}' ({field})",
            file=source,
            fix="give a decoder-only transformer config.json (Llama/Mistral/Qwen/Gemma style)",
        )

    values = {field: pick(field, keys) for field, keys in _REQUIRED.items()}
    for field, keys in _REQUIRED.items():
        values[field] = _count(config, keys[0], values[field], source)
    hidden = values["hidden_size"]
    heads = values["num_heads"]

    def optional(*keys: str) -> int | None:
        # Hugging Face writes 0 or null for "not set"; anything else must be a count.
        return next((_count(config, k, config[k], source) for k in keys if config.get(k)), None)

    kv_heads = optional("num_key_value_heads") or heads
    head_dim = optional("head_dim") or hidden // heads
    intermediate = optional("intermediate_size", "ffn_dim", "n_inner") or 4 * hidden
    act = str(config.get("hidden_act") or config.get("hidden_activation") or "silu")
    gated = config.get("model_type") not in ("gpt2", "gpt_neox", "opt", "falcon") and act not in ("gelu_new",)
    moe = None
    experts = optional("num_local_experts", "num_experts")
    if experts:
        shared_width = optional("shared_expert_intermediate_size") or 0
        moe = MoESpec(
            num_experts=experts,
            experts_per_token=optional("num_experts_per_tok") or 2,
            expert_intermediate_size=optional("moe_intermediate_size") or intermediate,
            shared_experts=optional("n_shared_experts") or (1 if shared_width else 0),
            shared_intermediate_size=shared_width,
        )
    notes = sorted(k for k in config if k not in _KNOWN_KEYS)
    try:
        arch = ModelArch(
            name=name,
            num_layers=values["num_layers"],
            hidden_size=hidden,
            num_heads=heads,
            num_kv_heads=int(kv_heads),
            head_dim=int(head_dim),
            intermediate_size=int(intermediate),
            gated_ffn=gated,
            vocab_size=values["vocab_size"],
            tie_embeddings=bool(config.get("tie_word_embeddings", False)),
            attention_bias=bool(config.get("attention_bias", config.get("model_type") == "qwen2")),
            moe=moe,
        )
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[-1].strip(), file=source, fix="check the config's head counts") from None
    return arch, notes


# No transformer dimension comes near this (vocabularies are ~1e5, widths ~1e4); a larger one
# is a damaged file, and would overflow the float arithmetic of the memory model.
MAX_DIMENSION = 2**31
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def _count(config: dict[str, Any], key: str, value: Any, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_DIMENSION:
        raise InputError(
            f"'{key}' must be a positive integer (at most 2**31), got {str(value)[:40]!r}",
            file=source,
            place=key,
            fix="give a decoder-only transformer config.json (Llama/Mistral/Qwen/Gemma style)",
        )
    return value


def resolve_model(ref: str, *, base: Path | None = None, hub_cache: Path | None = None) -> tuple[Path, str]:
    """The config.json file ``ref`` names, and the model's name. Any regular file may be named;
    what would block or never end (a FIFO, a device) is refused, as is what cannot be resolved."""
    bundled = bundled_models()
    key = ref.strip().lower()
    if key in bundled:
        return bundled[key], key
    try:
        path = Path(ref).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if path.is_dir() and (path / "config.json").exists():
            path = path / "config.json"  # a model directory (a checkpoint, a snapshot)
        exists = path.exists()
    except (OSError, RuntimeError, ValueError):  # a symlink loop (RuntimeError up to 3.12), a NUL byte
        raise InputError(f"model path '{ref}' cannot be resolved (a symlink loop, a NUL byte?)", place="model",
                         fix="give the path of a config.json file, or a bundled model name") from None
    if exists:
        if not path.is_file():
            raise InputError(f"model path '{ref}' is not a regular file (a directory without config.json, a FIFO "
                             "or a device would block or never end)", place="model",
                             fix="give the path of a config.json file")
        return path, path.parent.name if path.name == "config.json" else path.stem
    if looks_like_repo_id(ref.strip()) and hub_cache is not None:
        cached = find_config(ref.strip(), hub_cache)
        if cached is not None:
            return cached, ref.strip().split("/")[-1].lower()
    close = difflib.get_close_matches(key, list(bundled), n=3, cutoff=0.4)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    where = f"; not in the Hugging Face cache {hub_cache}" if hub_cache is not None and looks_like_repo_id(ref) else ""
    raise InputError(
        f"unknown model '{ref}' (not bundled, not a file{where})",
        place="model",
        fix=f"{hint}bundled models: {', '.join(bundled)}; or a path to a Hugging Face config.json, or a repo id "
        "downloaded to the local cache (huggingface-cli download ORG/NAME config.json)",
    )


def bundled_models() -> dict[str, Path]:
    directory = bundled_dir("workloads") / "models"
    return {path.stem: path for path in sorted(directory.glob("*.json"))}


def load_model(ref: str, *, base: Path | None = None, hub_cache: Path | None = None) -> tuple[ModelArch, list[str]]:
    """A model by bundled name (``llama-3-70b``), by path to a ``config.json`` (absolute, or
    relative to ``base``: the serving config's directory), or by Hugging Face repo id found in the
    local hub cache ``hub_cache`` (roofline.workload.hub_cache). No network."""
    path, name = resolve_model(ref, base=base, hub_cache=hub_cache)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InputError(f"is {path.stat().st_size / 1e6:.0f} MB; a config.json is a few kB", file=path,
                         place="model", fix="give a Hugging Face config.json")
    try:
        # NaN and Infinity are not JSON (Python's json reads them; orjson refuses).
        config = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(f"not a readable JSON config ({exc})", file=path, fix="give a Hugging Face config.json") from None
    if not isinstance(config, dict):
        raise InputError("expected a JSON object", file=path, fix="give a Hugging Face config.json")
    return from_hf_config(config, name=name, source=str(path))
