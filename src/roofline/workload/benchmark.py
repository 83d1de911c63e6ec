"""What a serving benchmark measures, as opposed to the engine's steady state.

A load generator such as vLLM's ``benchmark_serving.py`` (``--max-concurrency C --num-prompts N
--request-rate inf``), SemiAnalysis InferenceX's copy of it, or NVIDIA aiperf (``--concurrency C
--num-requests N``) runs C closed-loop clients over N requests and reports statistics over all N:

* **Burst start.** At request rate inf every client sends its first request at t = 0, into an idle
  engine: the C prompts queue for prefill together and are prefilled in arrival order, a token budget
  per iteration (the engine's chunk size). The k-th prompt's first token comes at the end of the
  iteration that carries its last token, so the wave's TTFTs climb to ~C prefills (mean ≈ (C + 1)/2
  prefills when one prompt fills an iteration). Only those C of the N requests are the burst: the rest
  arrive one at a time as earlier requests finish (the steady state the serving model predicts), so the
  mean TTFT is the steady one plus C/N of the wave's excess — 1/10 of it at N = 10·C.
* **Length spread.** ``--random-range-ratio r`` draws every input and output length uniformly from the
  integers [⌊r·L⌋, L]: the run's mean lengths are (⌊r·L⌋ + L)/2, not L (0.9·L at r = 0.8).
* **Statistic.** Mean or median over the N requests: the median leaves the burst out whenever it is
  fewer than half the requests (N ≥ 2·C).

A warm-up phase (``--num-warmups``, aiperf ``--warmup-request-count``) runs before the measured one and
ends before it starts: the measured phase still starts with a burst. It only removes first-request
costs (graph capture, JIT) that the op model does not have, so it is not a field here.

**Batch wait** (TensorRT-LLM ``batch_wait_timeout_iters`` / ``batch_wait_max_tokens_ratio``): the
scheduler holds new prompts until ``iterations`` iterations have passed or the held prompts' tokens
reach ``max_tokens_ratio`` × the token budget, to prefill more of them together. A request that opens
the hold waits the whole window W; one that arrives during it waits the rest. With arrivals at λ per
second (Poisson), the window closes at W' = min(W, (K − 1)/λ), K = ⌈ratio·budget / prompt⌉ prompts,
and m = λ·W' requests join the first: the mean wait is W'·(1 + m/2)/(1 + m).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Benchmark(_Section):
    """The load generator whose report the prediction is to match (``serving.benchmark``)."""

    # N = requests_per_client × clients: benchmark_serving --num-prompts / --max-concurrency (InferenceX: 10),
    # aiperf --num-requests / --concurrency (aiconfigurator's generated bench_run.sh: 20).
    requests_per_client: int = Field(ge=1, le=1_000_000)
    # Request rate inf: every client's first request is sent at t = 0 (False: arrivals already spread out).
    burst_start: bool = True
    # --random-range-ratio: lengths uniform in [ratio·L, L] (1: every request exactly L tokens).
    length_range_ratio: float = Field(default=1.0, gt=0, le=1)
    statistic: Literal["mean", "median"] = "mean"


class BatchWait(_Section):
    """TensorRT-LLM's context batch wait (``runtime.batch_wait``)."""

    iterations: int = Field(ge=1, le=10_000)  # batch_wait_timeout_iters
    max_tokens_ratio: float = Field(default=0.0, ge=0, le=1)  # batch_wait_max_tokens_ratio (0: the window alone)


def mean_length(length: int, ratio: float) -> float:
    """Mean of the integers uniform in [⌊ratio·L⌋, L] (benchmark_serving's random dataset)."""
    return (math.floor(ratio * length) + length) / 2


def measured_lengths(prompt: int, output: int, benchmark: Benchmark | None) -> tuple[int, int]:
    """The mean prompt and output lengths a benchmark's requests have (to the nearest token, halves up)."""
    if benchmark is None or benchmark.length_range_ratio >= 1:
        return prompt, output
    ratio = benchmark.length_range_ratio
    return (max(1, math.floor(mean_length(prompt, ratio) + 0.5)), max(1, math.floor(mean_length(output, ratio) + 0.5)))


def first_wave_ttfts(requests: int, prompt: int, budget: int, iteration_s: Callable[[int], float],
                     fixed_s: float) -> list[float]:
    """TTFT of each of ``requests`` prompts that reach an idle engine together: prefilled in order,
    ``budget`` tokens per iteration; ``iteration_s(tokens)`` is an iteration's time, ``fixed_s`` the
    per-request time outside the iterations."""
    if requests < 1:
        return []
    total = requests * prompt
    ends: list[float] = []
    clock, done = 0.0, 0
    while done < total:
        tokens = min(budget, total - done)
        clock += iteration_s(tokens)
        done += tokens
        ends.append(clock)
    # Prompt k (1-based) ends with token k·prompt, in iteration ⌈k·prompt / budget⌉.
    return [fixed_s + ends[math.ceil(k * prompt / budget) - 1] for k in range(1, requests + 1)]


def reported_ttft(steady_s: float, wave: Sequence[float], requests: int, statistic: str) -> float:
    """The statistic over ``requests`` TTFTs: the first wave's, then steady-state ones for the rest."""
    rest = max(requests - len(wave), 0)
    if statistic == "mean":
        return (sum(wave) + rest * steady_s) / max(len(wave) + rest, 1)
    values = sorted([*wave, steady_s]) if rest else sorted(wave)
    weights = [1] * len(values)
    if rest:
        weights[values.index(steady_s)] = rest
    # The median of the multiset (statistics.median on the expanded list, without expanding it).
    n = sum(weights)
    lo, hi = (n - 1) // 2, n // 2
    picked, seen = [], 0
    for value, weight in zip(values, weights):
        if seen <= lo < seen + weight:
            picked.append(value)
        if seen <= hi < seen + weight:
            picked.append(value)
        seen += weight
    return statistics.fmean(picked)


def batch_wait_s(wait: BatchWait, *, budget: int, prompt: int, iteration_s: float, arrival_rate: float) -> float:
    """Mean time a new prompt is held by the batch wait (module docstring)."""
    window = wait.iterations * iteration_s
    if wait.max_tokens_ratio > 0:
        held = math.ceil(wait.max_tokens_ratio * budget / prompt)  # prompts that close the window early
        if held <= 1:
            return 0.0
        if arrival_rate > 0:
            window = min(window, (held - 1) / arrival_rate)
    joined = arrival_rate * window
    return window * (1 + joined / 2) / (1 + joined)
