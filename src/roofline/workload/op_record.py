"""The records of the per-phase op model: one op of a step per GPU, and the shape of the step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from roofline.precision import Precision, Unit

Phase = Literal["prefill", "decode"]
OpKind = Literal["gemm", "attention", "elementwise", "norm", "comm", "embedding"]


@dataclass(frozen=True)
class PhaseOp:
    """One op of a phase, per GPU. ``flops``/``bytes`` are per occurrence; ``count`` occurrences
    per step (layers on this GPU for per-layer ops)."""

    name: str
    kind: OpKind
    flops: float
    bytes: float
    precision: Precision
    unit: Unit
    kernels: int
    count: int
    weight_bytes: float = 0.0
    kv_bytes: float = 0.0
    comm_bytes: float = 0.0  # bytes each GPU sends over the link per occurrence
    dequant: bool = False  # weights stored below the compute precision (int4/int8 weight-only)
    rows: float = 0.0  # GEMM M dimension (tokens), for the tile-fill efficiency
    copy: str | None = None  # a framework cache copy: "cat" or "repeat" (their own efficiencies)
    group: int = 1  # GPUs in a collective (the tensor-parallel size of an all-reduce)
    scale_out: bool = False  # the collective crosses the scale-out network (beyond the NVLink domain)

    @property
    def total_flops(self) -> float:
        return self.flops * self.count

    @property
    def total_bytes(self) -> float:
        return self.bytes * self.count


@dataclass(frozen=True)
class PhaseShape:
    phase: Phase
    batch: int
    new_tokens: int  # per sequence: prompt length in prefill, 1 in decode (k+1 when verifying drafts)
    context: int  # tokens attended to (cache length after this step)
    # A mixed (continuous-batching) step also carries prompt tokens of arriving requests: this many,
    # from prompts of ``prefill_context`` tokens (chunked prefill when a prompt exceeds the budget).
    prefill_tokens: int = 0
    prefill_context: int = 0

    @property
    def tokens(self) -> int:
        return self.batch * self.new_tokens + self.prefill_tokens
