"""Disaggregated serving: prefill and decode on separate pools of workers, the KV cache handed from
one to the other over the interconnect (Dynamo, SGLang PD, TensorRT-LLM disaggregated serving,
vLLM's KV connectors).

For C closed-loop clients, a request's cycle is TTFT + (OSL − 1)·TPOT, so the pools see a request
rate λ = C / cycle (Little's law).

* Prefill pool (P workers): a prompt takes t_p on one worker; requests queue for a worker (mean
  value analysis of the closed loop, ``serve``). Saturated, the prefill pool is the bottleneck:
  λ = P / t_p and the clients wait in front of it (TTFT = C/λ − (OSL − 1)·TPOT).
* KV transfer: the prompt's cache (every layer; MLA's latent, windows capped) leaves the prefill
  worker's GPUs in parallel: latency + bytes / (GPUs × link × efficiency), over NVLink when both
  pools fit in one NVLink domain (an NVL72 rack), else over the scale-out NICs. Not overlapped with
  the prefill (an upper bound; layer-wise streaming hides part of it).
* Decode pool (D workers): the requests in decode, λ·(OSL − 1)·TPOT of them, spread over D
  workers; TPOT is one decode step at that batch (no prompt chunks ever join it — the point of
  disaggregation) plus the engine's host time.

Pure: the step times come in as functions (roofline.planner.serving_disagg wires the op model).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from roofline.workload.benchmark import Benchmark, reported_ttft

# NIXL/UCX hand-off setup per transfer (registration is done once; this is the request round trip).
KV_TRANSFER_LATENCY_S = 50e-6


class Pool(BaseModel):
    """One pool of identical workers; each worker has its own parallelism."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    workers: int = Field(default=1, ge=1)
    tensor: int = Field(default=1, ge=1)
    attention_data: int = Field(default=1, ge=1)
    expert: int = Field(default=1, ge=1)
    expert_tensor: int | None = Field(default=None, ge=1)
    redundant_experts: int = Field(default=0, ge=0)
    pipeline: int = Field(default=1, ge=1)
    batch: int | None = Field(default=None, ge=1, description="running sequences per worker at most")

    @property
    def gpus_per_worker(self) -> int:
        return self.tensor * self.attention_data * self.pipeline

    @property
    def gpus(self) -> int:
        return self.workers * self.gpus_per_worker

    def parallelism(self) -> dict[str, int | None]:
        return {"tensor": self.tensor, "attention_data": self.attention_data, "expert": self.expert,
                "expert_tensor": self.expert_tensor, "pipeline": self.pipeline,
                "redundant_experts": self.redundant_experts}


class Disaggregated(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prefill: Pool
    decode: Pool

    @property
    def gpus(self) -> int:
        return self.prefill.gpus + self.decode.gpus


@dataclass(frozen=True)
class DisaggTimes:
    ttft_s: float
    tpot_s: float
    request_rate: float  # requests per second, whole deployment
    prefill_s: float
    prefill_wait_s: float
    transfer_s: float
    decode_batch: int  # per decode worker
    prefill_utilisation: float
    bottleneck: str  # "prefill" | "decode"


def kv_transfer_s(kv_bytes: float, gpus: int, link_bytes_per_s: float, efficiency: float) -> float:
    return KV_TRANSFER_LATENCY_S + kv_bytes / (gpus * link_bytes_per_s * efficiency)


def serve(*, clients: int, output: int, layout: Disaggregated, prefill_s: float, transfer_s: float,
          decode_step: Callable[[int], float], per_request_s: float = 0.0, iterations: int = 8,
          decode_cap: int | None = None, prefill_servers: int | None = None) -> DisaggTimes:
    """Steady state of the closed loop by mean value analysis: the prefill pool is a queueing station
    (P workers as one of service t_p/P plus a delay t_p·(P − 1)/P: Seidmann's approximation), the
    rest of a cycle — hand-off, (OSL − 1) decode steps, fixed per-request cost — a delay Z. For
    n = 1 … C clients: R = (t_p/P)·(1 + Q), X = n / (R + t_p(P−1)/P + Z), Q = X·R. The decode batch
    per worker, X·(OSL − 1)·TPOT / D, sets TPOT; iterated to a fixed point. ``decode_step(b)``: one
    decode iteration at b sequences per worker, host time included. ``decode_cap``: the sequences a
    decode worker holds at most (its KV memory, the engine's cap, the pool's ``batch``): once the loop
    wants more in decode than D × cap, the decode slots are the bottleneck: λ = D·cap /
    ((OSL − 1)·TPOT), and the clients that find no slot wait before their first token (TTFT = C/λ −
    (OSL − 1)·TPOT, Little's law, as for a saturated prefill pool). ``prefill_servers``: prompts the
    prefill pool runs at once (workers × attention-DP ranks; default the workers)."""
    P, D = prefill_servers or layout.prefill.workers, layout.decode.workers
    cap = min(decode_cap or 10**9, layout.decode.batch or 10**9)
    service, extra = prefill_s / P, prefill_s * (P - 1) / P
    batch = max(1, min(math.ceil(clients / D), cap))
    tpot = decode_step(batch)
    rate = residence = 0.0
    for _ in range(iterations):
        think = per_request_s + transfer_s + (output - 1) * tpot
        queue = 0.0
        for n in range(1, clients + 1):
            residence = service * (1 + queue)
            rate = n / (residence + extra + think)
            queue = rate * residence
        new_batch = max(1, min(math.ceil(rate * (output - 1) * tpot / D), cap))
        if new_batch == batch:
            break
        batch = new_batch
        tpot = decode_step(batch)
    ttft = per_request_s + residence + extra + transfer_s
    slots = D * cap / ((output - 1) * tpot) if output > 1 and tpot > 0 else math.inf
    decode_bound = rate > slots
    if decode_bound:
        rate = slots
        ttft = max(ttft, clients / rate - (output - 1) * tpot)
    rho = rate * prefill_s / P
    return DisaggTimes(ttft_s=ttft, tpot_s=tpot, request_rate=rate, prefill_s=prefill_s,
                       prefill_wait_s=residence + extra - prefill_s, transfer_s=transfer_s, decode_batch=batch,
                       prefill_utilisation=rho, bottleneck="prefill" if rho > 0.95 and not decode_bound else "decode")


def burst_ttft(steady_s: float, clients: int, benchmark: Benchmark, *, prefill_s: float, servers: int,
               fixed_s: float) -> float:
    """The TTFT a benchmark reports from a disaggregated deployment (roofline.workload.benchmark): at
    request rate inf the C clients' first prompts reach the idle prefill pool together, and its
    ``servers`` (workers × attention-DP ranks) prefill them in order, one prompt each at a time —
    prompt k's first token after ⌈k/servers⌉ prefills (+ ``fixed_s``: per-request time and the KV
    hand-off); the rest of the requests are the steady state."""
    wave = [fixed_s + math.ceil(k / servers) * prefill_s for k in range(1, clients + 1)]
    return reported_ttft(steady_s, wave, benchmark.requests_per_client * clients, benchmark.statistic)
