"""The model behind a serving trace: what engine ops whose weights live in the layer object
(vLLM's ``moe_forward``) need to be costed, and that their arguments do not carry.

``roofline classify TRACE --model MODEL`` builds a :class:`ModelLayer` from the model's
config.json (roofline.app.model_context) and makes it the active one while the trace is read
(:func:`using_model`); the formulas of roofline.opcost.serving read it with :func:`active_model`.
Without one, those ops stay uncosted and their reason says that ``--model`` would cost them.

Per-GPU share (``shards``): a tensor- or expert-parallel engine runs 1/N of a layer's experts'
work on each of its N GPUs. Either way the expected per-GPU cost is the same — TP: every expert,
each 1/N wide; EP: E/N whole experts, the same fraction of them touched — so one number suffices.
It is told by the trace (:func:`shards_from_attention`): the model's attention heads over the heads
one GPU's attention op records (64 in gpt-oss-120b's config, 8 recorded → 8). A data-parallel
attention with expert parallelism would break that inference (heads are not split, experts are);
the formula says where its N came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace

from roofline.precision import Precision


@dataclass(frozen=True)
class ModelLayer:
    """One decoder layer of the model, as the op formulas need it. ``expert_weight_bytes`` is the
    storage of one expert weight (0.53125 for MXFP4: 4 bits and one 8-bit scale per 32)."""

    name: str
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    num_experts: int = 0
    experts_per_token: int = 0
    expert_intermediate_size: int = 0
    shared_intermediate_size: int = 0  # all shared experts together; 0: none
    gated: bool = True
    expert_weight_bytes: float = 2.0
    expert_weight_format: str = "bf16"
    expert_weight_precision: Precision = Precision.BF16
    shards: int = 1
    shards_from: str = "one GPU assumed (no attention op records its heads)"

    @property
    def matrices_per_expert(self) -> int:
        """gate, up and down (gated FFN), or up and down."""
        return 3 if self.gated else 2


_ACTIVE: ContextVar[ModelLayer | None] = ContextVar("roofline_model_layer", default=None)


def active_model() -> ModelLayer | None:
    return _ACTIVE.get()


@contextmanager
def using_model(layer: ModelLayer | None) -> Iterator[None]:
    token = _ACTIVE.set(layer)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


# Attention ops whose first input is the query as [tokens, heads, head_dim] (vLLM's unified
# attention with its output buffer, and without).
_ATTENTION_OPS = ("vllm::unified_attention_with_output", "vllm::unified_attention")


def shards_from_attention(layer: ModelLayer, calls: Iterable[tuple[str, object]]) -> ModelLayer:
    """``layer`` with ``shards`` told by the heads one GPU's attention op records: ``calls`` are
    (op name, Input Dims). The first attention op whose query is [T, H, D] with D the model's head
    dim and H dividing the model's heads decides; none: one GPU."""
    for name, dims in calls:
        if name not in _ATTENTION_OPS or not isinstance(dims, (list, tuple)) or not dims:
            continue
        q = dims[0]
        if not isinstance(q, (list, tuple)) or len(q) != 3 or not all(isinstance(d, int) for d in q):
            continue
        heads, dim = q[1], q[2]
        if dim == layer.head_dim and 0 < heads <= layer.num_heads and layer.num_heads % heads == 0:
            n = layer.num_heads // heads
            return replace(layer, shards=n, shards_from=(
                f"{n} GPU(s): {layer.num_heads} heads in the model, {heads} in {name}'s query on this GPU"))
    return layer


__all__ = ["ModelLayer", "active_model", "shards_from_attention", "using_model"]
