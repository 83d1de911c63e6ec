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
from roofline.workload.attention_layout import FULL, cached_tokens, layer_windows
from roofline.workload.hf_keys import KNOWN_KEYS, check_family, text_part
from roofline.workload.hub_cache import find_config, looks_like_repo_id
from roofline.workload.mla import MLASpec
from roofline.workload.moe import MoESpec


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
    mla: MLASpec | None = None  # multi-head latent attention (roofline.workload.mla)
    # Per layer, its sliding window in tokens (0: full attention); empty: every layer is full.
    layer_windows: tuple[int, ...] = ()
    attention_sinks: bool = False  # gpt-oss: one learned sink logit per head and layer
    mtp_layers: int = Field(default=0, ge=0)  # DeepSeek num_nextn_predict_layers (multi-token prediction)
    family: str = ""  # the config's model_type

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelArch:
        if self.layer_windows and len(self.layer_windows) != self.num_layers:
            raise ValueError(f"layer_windows lists {len(self.layer_windows)} layers, the model has {self.num_layers}")
        if self.moe is not None and self.moe.first_dense_layers >= self.num_layers:
            raise ValueError(f"first_k_dense_replace {self.moe.first_dense_layers} leaves no MoE layer of {self.num_layers}")
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
        if self.mla is not None:
            return self.mla.params_per_layer(self.hidden_size, self.num_heads)
        params = self.hidden_size * (self.q_dim + 2 * self.kv_dim) + self.q_dim * self.hidden_size
        if self.attention_bias:
            params += self.q_dim + 2 * self.kv_dim
        return params + (self.num_heads if self.attention_sinks else 0)

    @property
    def dense_layers(self) -> int:
        """Layers with a dense FFN: all of a dense model, the first k of DeepSeek-style MoE."""
        return self.num_layers if self.moe is None else self.moe.first_dense_layers

    @property
    def moe_layers(self) -> int:
        return self.num_layers - self.dense_layers

    def ffn_params(self, width: int) -> int:
        return (3 if self.gated_ffn else 2) * self.hidden_size * width

    @cached_property
    def ffn_params_per_layer(self) -> int:
        """All FFN parameters of one layer (every expert for MoE)."""
        if self.moe is None:
            return self.ffn_params(self.intermediate_size)
        moe = self.moe
        experts = moe.num_experts * self.ffn_params(moe.expert_intermediate_size)
        return experts + self.ffn_params(moe.shared_width) + self.hidden_size * moe.num_experts

    @cached_property
    def active_ffn_params_per_layer(self) -> int:
        """FFN parameters one token uses (routed experts it picks plus shared ones)."""
        if self.moe is None:
            return self.ffn_params(self.intermediate_size)
        moe = self.moe
        routed = moe.experts_per_token * self.ffn_params(moe.expert_intermediate_size)
        return routed + self.ffn_params(moe.shared_width) + self.hidden_size * moe.num_experts

    @cached_property
    def routed_expert_params(self) -> int:
        """Parameters of every routed expert of every MoE layer (what expert parallelism shards)."""
        if self.moe is None:
            return 0
        return self.moe_layers * self.moe.num_experts * self.ffn_params(self.moe.expert_intermediate_size)

    @cached_property
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_embeddings else 2)

    @cached_property
    def total_params(self) -> int:
        norms = (2 * self.num_layers + 1) * self.hidden_size
        ffn = self.dense_layers * self.ffn_params(self.intermediate_size) + self.moe_layers * self.ffn_params_per_layer \
            if self.moe is not None else self.num_layers * self.ffn_params_per_layer
        return self.num_layers * self.attention_params_per_layer + ffn + self.embedding_params + norms

    @cached_property
    def active_params(self) -> int:
        """Parameters touched per token (the 2·P in decode FLOPs): MoE counts active experts only."""
        norms = (2 * self.num_layers + 1) * self.hidden_size
        lm_head = self.vocab_size * self.hidden_size
        ffn = (self.dense_layers * self.ffn_params(self.intermediate_size)
               + self.moe_layers * self.active_ffn_params_per_layer) if self.moe is not None \
            else self.num_layers * self.active_ffn_params_per_layer
        return self.num_layers * self.attention_params_per_layer + ffn + lm_head + norms

    def kv_elements_per_token_layer(self) -> int:
        """Cached elements per token and layer: K and V of every KV head, or MLA's latent."""
        return self.mla.latent_dim if self.mla is not None else 2 * self.kv_dim

    def kv_bytes_per_token(self, bytes_per_element: float) -> float:
        """Every layer's cache for one token of a full-attention cache: 2 · layers · kv_heads ·
        head_dim · bytes, or layers · (kv_lora_rank + qk_rope_head_dim) · bytes for MLA."""
        return self.num_layers * self.kv_elements_per_token_layer() * bytes_per_element

    def kv_bytes_per_sequence(self, context: float, bytes_per_element: float) -> float:
        """One sequence's cache at ``context`` tokens; sliding-window layers hold at most their window."""
        return cached_tokens(self.layer_windows, self.num_layers, context) * self.kv_elements_per_token_layer() \
            * bytes_per_element

    @property
    def sliding_layers(self) -> int:
        return sum(1 for w in self.layer_windows if w != FULL)


# Hugging Face config keys the planner reads, per field, in order of preference.
_REQUIRED = {
    "num_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_heads": ("num_attention_heads", "n_head"),
    "vocab_size": ("vocab_size",),
}
FIX = "give a decoder-only transformer config.json (Llama/Mistral/Qwen/Gemma/DeepSeek/gpt-oss style)"


def from_hf_config(config: dict[str, Any], *, name: str, source: str) -> tuple[ModelArch, list[str]]:
    """Build a ModelArch from a Hugging Face config dict (Llama, Mistral/Mixtral, Qwen2/3 and their
    MoE, Gemma 1-3, DeepSeek-V2/V3/R1 and Kimi-K2 MLA, gpt-oss keys; a multimodal wrapper's
    ``text_config``). Returns the architecture and notes (keys ignored). Missing required keys, and
    keys of an architecture the planner does not know, raise InputError.
    """
    config, notes = text_part(config)
    reason = check_family(config)
    if reason is not None:
        raise InputError(reason, file=source, place="model_type",
                         fix="plan a supported family (docs/plan.md lists them), or describe the model in those keys")

    def pick(field: str, keys: tuple[str, ...]) -> Any:
        for key in keys:
            if config.get(key) is not None:
                return config[key]
        raise InputError(f"missing required key '{keys[0]}' ({field})", file=source, fix=FIX)

    values = {field: pick(field, keys) for field, keys in _REQUIRED.items()}
    for field, keys in _REQUIRED.items():
        values[field] = _count(config, keys[0], values[field], source)
    hidden = values["hidden_size"]
    heads = values["num_heads"]
    layers = values["num_layers"]

    def optional(*keys: str) -> int | None:
        # Hugging Face writes 0 or null for "not set"; anything else must be a count.
        return next((_count(config, k, config[k], source) for k in keys if config.get(k)), None)

    kv_heads = optional("num_key_value_heads") or heads
    head_dim = optional("head_dim") or hidden // heads
    intermediate = optional("intermediate_size", "ffn_dim", "n_inner") or 4 * hidden
    act = str(config.get("hidden_act") or config.get("hidden_activation") or "silu")
    gated = config.get("model_type") not in ("gpt2", "gpt_neox", "opt", "falcon") and act not in ("gelu_new",)
    mla = None
    if config.get("kv_lora_rank"):
        mla = MLASpec(
            kv_lora_rank=optional("kv_lora_rank"), q_lora_rank=optional("q_lora_rank"),
            qk_nope_head_dim=_required_count(config, "qk_nope_head_dim", source),
            qk_rope_head_dim=_required_count(config, "qk_rope_head_dim", source),
            v_head_dim=_required_count(config, "v_head_dim", source),
        )
        head_dim, kv_heads = mla.v_head_dim, heads  # o_proj reads heads × v_head_dim
    moe = None
    experts = optional("n_routed_experts", "num_local_experts", "num_experts")
    if experts:
        shared_width = optional("shared_expert_intermediate_size") or 0
        dense = optional("first_k_dense_replace") or 0
        only_mlp = config.get("mlp_only_layers") or []
        if not isinstance(only_mlp, list):
            raise InputError("'mlp_only_layers' must be a list of layer indices", file=source, place="mlp_only_layers",
                             fix=FIX)
        for key in ("moe_layer_freq", "decoder_sparse_step"):
            if (optional(key) or 1) != 1:
                raise InputError(f"'{key}' {config[key]} (MoE on every n-th layer only) is not modelled", file=source,
                                 place=key, fix="plan a model with MoE on every layer after the first dense ones")
        moe = MoESpec(
            num_experts=experts,
            experts_per_token=optional("num_experts_per_tok", "experts_per_token") or 2,
            expert_intermediate_size=optional("moe_intermediate_size") or intermediate,
            shared_experts=optional("n_shared_experts") or (1 if shared_width else 0),
            shared_intermediate_size=shared_width,
            first_dense_layers=dense + len(only_mlp),
        )
    try:
        windows = layer_windows(config, layers)
    except ValueError as exc:
        raise InputError(str(exc), file=source, place="sliding_window", fix=FIX) from None
    notes += sorted(k for k in config if k not in KNOWN_KEYS)
    try:
        arch = ModelArch(
            name=name,
            num_layers=layers,
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
            mla=mla,
            layer_windows=windows,
            attention_sinks=config.get("model_type") == "gpt_oss",
            mtp_layers=optional("num_nextn_predict_layers") or 0,
            family=str(config.get("model_type") or "")[:40],
        )
    except ValueError as exc:
        raise InputError(str(exc).splitlines()[-1].strip(), file=source, fix="check the config's head and layer counts") \
            from None
    return arch, notes


def _required_count(config: dict[str, Any], key: str, source: str) -> int:
    if config.get(key) is None:
        raise InputError(f"missing required key '{key}' (multi-head latent attention: kv_lora_rank is set)",
                         file=source, place=key, fix="give the MLA head dimensions of the config.json")
    return _count(config, key, config[key], source)


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
            fix=FIX,
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
