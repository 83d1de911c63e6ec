"""Multi-head latent attention (DeepSeek-V2/V3/R1, Kimi-K2): the cache holds one compressed latent
per token and layer, shared by every head, and attention runs on it two ways.

Shapes (DeepSeek-V2 paper §2.1; the config keys): the query is projected through a low-rank
``q_lora_rank`` bottleneck (or directly, DeepSeek-V2-Lite) to H heads of ``qk_nope_head_dim +
qk_rope_head_dim``; keys and values come from ``kv_a``: d → ``kv_lora_rank`` latent + one shared
``qk_rope_head_dim`` rotary key, and ``kv_b``: latent → H × (``qk_nope_head_dim + v_head_dim``).
The cache keeps the latent and the rotary key: (kv_lora_rank + qk_rope_head_dim) elements per token
per layer (DeepSeek-V3: 61 × 576 × 2 B = 70,272 B per token in bf16).

* **Naive** (prefill in SGLang, TensorRT-LLM, vLLM): ``kv_b`` decompresses K and V for every
  context token and attention runs per head with a 192-wide QK and a 128-wide PV.
* **Absorbed** (decode; FlashMLA, the DeepSeek-V2 paper's "absorb W_UK into W_Q"): the query's
  no-rope part is multiplied by W_UK per head (128 → 512), attention runs in the latent space —
  QK over 576 = 512 + 64 dims, PV over the 512-dim latent — against the cache itself (one read of
  the latent serves all heads, like multi-query attention), then W_UV maps the 512-dim output back
  to ``v_head_dim`` per head. Per context token and head that is 2·(576 + 512) FLOPs instead of
  2·(192 + 128), in exchange for reading 576 elements per token instead of decompressing
  H × 256 per token (so decode attention turns compute-heavy as the heads per GPU grow).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class MLASpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kv_lora_rank: int = Field(gt=0)
    q_lora_rank: int | None = Field(default=None, gt=0)  # None: queries projected directly (V2-Lite)
    qk_nope_head_dim: int = Field(gt=0)
    qk_rope_head_dim: int = Field(gt=0)
    v_head_dim: int = Field(gt=0)

    @property
    def latent_dim(self) -> int:
        """Elements cached per token and layer: the compressed KV and the shared rotary key."""
        return self.kv_lora_rank + self.qk_rope_head_dim

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    def params_per_layer(self, hidden: int, heads: int) -> int:
        """q (low-rank or direct), kv_a, kv_b, o projections and the two latent RMSNorm weights."""
        q = (hidden * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * heads * self.qk_head_dim
             if self.q_lora_rank else hidden * heads * self.qk_head_dim)
        kv_a = hidden * self.latent_dim + self.kv_lora_rank
        kv_b = self.kv_lora_rank * heads * (self.qk_nope_head_dim + self.v_head_dim)
        o = heads * self.v_head_dim * hidden
        return q + kv_a + kv_b + o

    def projections(self, hidden: int, heads: float) -> list[tuple[str, float, float]]:
        """(name, n_in, n_out) of the GEMMs every token goes through, for ``heads`` heads on this GPU.
        The low-rank halves (q_a, kv_a) are computed in full on every rank (they are not split by
        heads), then each rank expands only its heads."""
        ops: list[tuple[str, float, float]] = []
        if self.q_lora_rank:
            ops.append(("q_a_proj", hidden, self.q_lora_rank))
            ops.append(("q_b_proj", self.q_lora_rank, heads * self.qk_head_dim))
        else:
            ops.append(("q_proj", hidden, heads * self.qk_head_dim))
        ops.append(("kv_a_proj", hidden, self.latent_dim))
        return ops


@dataclass(frozen=True)
class MLAAttentionCost:
    flops: float
    bytes: float
    kv_bytes: float  # the part of bytes that is the cache read


def absorbed_decode_cost(spec: MLASpec, heads: float, sequences: float, query_tokens: int, context: float,
                         b_act: float, b_kv: float) -> MLAAttentionCost:
    """Latent-space attention of ``sequences`` × ``query_tokens`` queries over ``context`` cached
    tokens: QK over latent_dim and PV over kv_lora_rank per head; the cache is read once per
    sequence for all heads (FlashMLA). The W_UK/W_UV absorption GEMMs are separate ops."""
    flops = 2 * sequences * heads * query_tokens * context * (spec.latent_dim + spec.kv_lora_rank)
    kv = sequences * context * spec.latent_dim * b_kv
    q_o = sequences * query_tokens * heads * (spec.latent_dim + spec.kv_lora_rank) * b_act
    return MLAAttentionCost(flops, kv + q_o, kv)


def naive_prefill_cost(spec: MLASpec, heads: float, tokens: float, attended: float, b_act: float) -> MLAAttentionCost:
    """Per-head attention of ``tokens`` queries, each over ``attended`` keys on average (causal
    prefill: half its prompt), with the decompressed K (qk_head_dim) and V (v_head_dim)."""
    flops = 2 * heads * tokens * attended * (spec.qk_head_dim + spec.v_head_dim)
    num_bytes = tokens * heads * (2 * spec.qk_head_dim + 2 * spec.v_head_dim) * b_act
    return MLAAttentionCost(flops, num_bytes, 0.0)
