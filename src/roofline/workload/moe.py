"""Mixture-of-experts layers: routed and shared experts, first-k dense layers, which experts a step
touches, how many tokens each gets (the grouped GEMM's M), and how unevenly expert parallelism
spreads them over GPUs.

Routing is modelled as uniform and independent (each token picks k of E experts at random). Real
routers are skewed; the documented factor here is the statistical one: the busiest of ``ep`` ranks
gets the mean plus the expected maximum of ``ep`` near-normal deviations (``expected_max_load``).
Engines that rebalance (DeepSeek's EPLB, redundant experts) land between this and perfect balance.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field


class MoESpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    num_experts: int = Field(gt=0)
    experts_per_token: int = Field(gt=0)
    expert_intermediate_size: int = Field(gt=0)
    shared_experts: int = Field(default=0, ge=0)
    shared_intermediate_size: int = Field(default=0, ge=0)  # total width of the shared experts; 0: per expert
    # DeepSeek/Kimi ``first_k_dense_replace``: the first layers have a dense FFN of intermediate_size.
    first_dense_layers: int = Field(default=0, ge=0)

    @property
    def shared_width(self) -> int:
        """Total intermediate width of the shared experts (Qwen2-MoE writes it whole; DeepSeek per expert)."""
        return self.shared_intermediate_size or self.shared_experts * self.expert_intermediate_size


def experts_touched(num_experts: int, top_k: int, tokens: float) -> float:
    """Expected experts at least one of ``tokens`` tokens picks, each choosing k of E: E·(1 − (1 − k/E)^T)."""
    return num_experts * (1 - (1 - top_k / num_experts) ** tokens)


def tokens_per_expert(num_experts: int, top_k: int, tokens: float) -> float:
    """Tokens each touched expert multiplies (the M of its GEMM in the grouped GEMM): T·k / touched."""
    touched = experts_touched(num_experts, top_k, tokens)
    return tokens * top_k / touched if touched > 0 else 0.0


def expected_max_load(pairs: float, ranks: int) -> float:
    """Token-expert pairs the busiest of ``ranks`` expert-parallel ranks receives when ``pairs``
    pairs are spread uniformly at random: μ + σ·√(2 ln r) with μ = pairs/r, σ = √(μ(1 − 1/r))
    (the Gaussian bound on the maximum of r binomial counts). One rank: all of them."""
    if ranks <= 1 or pairs <= 0:
        return pairs
    mean = pairs / ranks
    sigma = math.sqrt(mean * (1 - 1 / ranks))
    return min(pairs, mean + sigma * math.sqrt(2 * math.log(ranks)))


def imbalance_factor(pairs: float, ranks: int) -> float:
    """Busiest rank over the mean: ≥ 1, → 1 as the step carries more tokens."""
    if ranks <= 1 or pairs <= 0:
        return 1.0
    return expected_max_load(pairs, ranks) / (pairs / ranks)
