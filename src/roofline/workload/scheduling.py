"""How an engine schedules requests, turned into TTFT, TPOT and throughput from step times.

**Continuous** (in-flight batching with chunked prefill): C closed-loop clients, of which
R = min(C, what fits, the engine's cap) run and the rest wait. Each running request lives
n + (OSL − 1) iterations (n = ⌈ISL / budget⌉ prefill chunks), so in steady state an iteration
carries D = R·(OSL − 1)/(n + OSL − 1) decodes and, from the *other* requests, (R − 1)·ISL/(n + OSL − 1)
prompt tokens on average, in chunks of min(ISL, budget): a fraction f of the iterations a decoding
request sees carry a chunk. TPOT = (1 − f)·t_decode + f·t_mixed + host time per iteration.
TTFT = fixed per-request cost + the rest of the iteration under way when it arrives + the share of
other prefills it waits behind + its own n chunks (+ the prompts packed after it into its prefill batch, for
an engine that streams every first token at the batch's end: ``batch_fill``), plus — when C > R — the wait for a slot, (C/R − 1) × the request's time
in the engine (Little's law in a closed loop). Throughput = R / time in the engine × OSL.

The budget binds when the decodes and the prompt tokens that feed them exceed it: an iteration of D
decodes completes D/(OSL − 1) requests, whose prompts bring D·ISL/(OSL − 1) tokens, so at most
D_max = budget·(OSL − 1)/(OSL − 1 + ISL) sequences decode at once (8,192 tokens at 2,048/128: 478).
Above that the engine is prefill-bound: R − D of the running requests wait inside it for their
prefill, each spends R·(OSL − 1)/D iterations in the engine, and the extra iterations are TTFT.

The iteration under way at an arrival is not an average one: long iterations (those carrying a
prompt chunk) cover more of the time line, so an arrival lands in one with probability ∝ its length
and waits, on average, the residual life E[T²] / (2·E[T]) (the inspection paradox) — with a
fraction f of iterations of length T_m and the rest T_d, that is
(f·T_m² + (1 − f)·T_d²) / (2·(f·T_m + (1 − f)·T_d)), not half the mean.

**Benchmark** (``serving.benchmark``, roofline.workload.benchmark): what a load generator reports is
the mean (or median) over its N requests, the first C of which arrive together into an idle engine
(request rate inf); the steady TTFT above is the other N − C. A TensorRT-LLM batch wait adds the time a
new prompt is held before its prefill (``runtime.batch_wait``).

**Static**: the batch is prefilled in one pass, then decoded together: every request's first
token comes after the whole batch's prefill.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from roofline.workload.benchmark import BatchWait, Benchmark, batch_wait_s, first_wave_ttfts, reported_ttft
from roofline.workload.engine_profile import Scheduler

# (decode sequences, their mean context, prompt tokens carried, prompt length) → step seconds.
StepFn = Callable[[int, int, int, int], "StepResult"]


@dataclass(frozen=True)
class StepResult:
    time_s: float
    phase: object  # the PhasePrediction behind it


@dataclass(frozen=True)
class ServingTimes:
    mode: str
    clients: int
    running: int
    queued: int
    ttft_s: float
    tpot_s: float
    request_rate: float  # completed requests per second per replica
    decode_batch: int
    prefill_share: float  # f: fraction of decode iterations carrying other requests' prompt tokens
    prefill_tokens_per_step: int
    host_s_per_step: float
    queue_s: float  # waiting for a slot (C > R)
    decode: StepResult
    mixed: StepResult | None
    prefill: StepResult
    # The linear decomposition calibration fits against: TPOT = Σ weight × step time + host;
    # TTFT = per-request + Σ weight × step time + slot wait.
    tpot_weights: dict[str, float] = field(default_factory=dict)
    ttft_weights: dict[str, float] = field(default_factory=dict)
    # What the benchmark adds to the steady-state TTFT (its first wave, diluted over its requests) and
    # the batch wait's hold, both inside ttft_s; calibration keeps them apart like the slot wait.
    burst_s: float = 0.0
    batch_wait_s: float = 0.0


def host_time(scheduler: Scheduler, sequences: int, ranks: int = 1) -> float:
    """Engine host time of one iteration over ``sequences`` running sequences. With attention data
    parallelism every rank runs its own scheduler over its own sequences, side by side (TensorRT-LLM
    attention DP: an executor and a KV cache per rank; SGLang --enable-dp-attention: the DP controller
    hands each request to one rank's scheduler; vLLM --data-parallel-size: an engine core per rank),
    so the step waits for the busiest of ``ranks`` schedulers, ⌈sequences / ranks⌉ of them — not for
    the replica's whole batch handled one after another."""
    return scheduler.iteration_s + scheduler.per_sequence_s * math.ceil(sequences / ranks)


def request_host_time(scheduler: Scheduler, layers: int) -> float:
    """Host time of one request before its first token besides the iterations: the fixed part
    (HTTP, tokenisation, admission) plus the eager prefill's dispatch, per model layer."""
    return scheduler.per_request_s + scheduler.per_request_layer_s * layers


def residual_life(share: float, short_s: float, long_s: float) -> float:
    """Mean time an arrival waits for the iteration under way to end: E[T²] / (2·E[T]) over iterations
    that are ``long_s`` with probability ``share`` and ``short_s`` otherwise (inspection paradox)."""
    mean = share * long_s + (1 - share) * short_s
    if mean <= 0:
        return 0.0
    return (share * long_s**2 + (1 - share) * short_s**2) / (2 * mean)


def batch_fill(scheduler: Scheduler, running: int, prompt: int) -> float:
    """Other prompts' worth of prefill a request also waits for inside its own prefill batch, when the
    engine packs waiting prompts into one batch up to the token budget and streams every first token at
    the batch's end (``scheduler.prefill_batch_fill``; SGLang: PrefillAdder adds waiting requests until
    chunked_prefill_size is used, the last one chunked). The request's last chunk (``last`` tokens) lands
    at a uniform place in its batch, so on average half of the budget − ``last`` tokens after it are
    prefilled with it — no more than half the other running requests' prompts can supply. 0 when off."""
    if not scheduler.prefill_batch_fill or running <= 1:
        return 0.0
    budget = scheduler.token_budget
    chunk = min(prompt, budget)
    last = prompt - (math.ceil(prompt / budget) - 1) * budget
    return min(max(budget - last, 0) / 2, (running - 1) * prompt / 2) / chunk


def continuous(
    *, clients: int, capacity: int, prompt: int, output: int, scheduler: Scheduler, step: StepFn,
    decode_per_token: Callable[[StepResult], float] = lambda r: r.time_s, layers: int = 0, ranks: int = 1,
    benchmark: Benchmark | None = None, batch_wait: BatchWait | None = None,
) -> ServingTimes:
    """``capacity``: the most sequences that can run (KV cache, engine cap, the config's batch);
    ``ranks``: attention-data-parallel ranks, each scheduling its share of them (``host_time``);
    ``benchmark``: report what that load generator measures; ``batch_wait``: the engine holds new prompts."""
    running = max(1, min(clients, capacity))
    budget = scheduler.token_budget
    chunk = min(prompt, budget)
    chunks = math.ceil(prompt / budget)
    lifetime = chunks + output - 1
    # The token budget caps what one iteration carries: D decodes and the prompt tokens that keep D
    # fed, D·ISL/(OSL − 1) — beyond D_max = budget·(OSL − 1)/(OSL − 1 + ISL) the running requests
    # cannot all be decoding; the rest wait inside the engine for their prefill (prefill-bound).
    bound = budget * (output - 1) / (output - 1 + prompt) if output > 1 else float(running)
    wanted = running * (output - 1) / lifetime if output > 1 else 1.0
    prefill_bound = output > 1 and running > 1 and wanted > bound
    decode_batch = max(1, round(min(wanted, bound))) if output > 1 else 1
    if prefill_bound:
        lifetime = running * (output - 1) / decode_batch  # iterations a request spends in the engine
    context = prompt + output // 2
    others_tokens = (running - 1) * prompt / lifetime
    share = min(1.0, others_tokens / chunk)
    carried = chunk if share < 1 else int(min(others_tokens, max(budget - decode_batch, chunk)))
    host = host_time(scheduler, decode_batch, ranks)
    decode = step(decode_batch, context, 0, prompt)
    t_decode = decode_per_token(decode)
    mixed = step(decode_batch, context, carried, prompt) if share > 0 else None
    tpot = (1 - share) * t_decode + (share * mixed.time_s if mixed else 0.0) + host
    if running > 1:
        own = mixed if mixed is not None and carried == chunk else step(decode_batch, context, chunk, prompt)
        marginal = max(own.time_s - decode.time_s, 0.0)
        others = scheduler.ttft_queue_share * (running - 1) * chunks
        # The residual life of the iteration under way, as a multiple of TPOT (½ when all are alike).
        long_s = (mixed.time_s if mixed is not None else t_decode) + host
        half = residual_life(share, t_decode + host, long_s) / tpot if tpot > 0 else 0.5
        # Polled every N iterations, an arrival (uniform over the N-iteration cycle) waits N/2 of them
        # for the poll: (N − 1)/2 more than the residual iteration counted in ``half``.
        recv = (scheduler.recv_interval - 1) / 2
    else:
        own = step(0, 0, prompt if chunks == 1 else chunk, prompt)
        marginal, others, half, recv = 0.0, 0.0, 0.0, 0.0  # one client: it arrives at an idle engine
    # Prefill-bound: the iterations a request waits in the engine before its chunks run.
    waiting = max(lifetime - (chunks + output - 1), 0.0) if prefill_bound else 0.0
    fixed = request_host_time(scheduler, layers)
    fill = batch_fill(scheduler, running, prompt) if running > 1 else 0.0
    in_engine_ttft = (fixed + chunks * (own.time_s + host) + (others + fill) * marginal + (half + recv) * tpot
                      + waiting * tpot)
    held = 0.0
    if batch_wait is not None:
        rate = running / (in_engine_ttft + (output - 1) * tpot)
        held = batch_wait_s(batch_wait, budget=budget, prompt=prompt, iteration_s=tpot, arrival_rate=rate)
        in_engine_ttft += held
    service = in_engine_ttft + (output - 1) * tpot
    queue = (clients / running - 1) * service if clients > running else 0.0
    steady = in_engine_ttft + queue
    ttft = steady
    if benchmark is not None and benchmark.burst_start:
        # The first wave: min(C, R) prompts into an idle engine (no decodes yet), prefilled in order.
        wave = first_wave_ttfts(running, prompt, budget, lambda tokens: step(0, 0, tokens, prompt).time_s
                                + host_time(scheduler, 0), fixed)
        ttft = reported_ttft(steady, wave, benchmark.requests_per_client * clients, benchmark.statistic)
    # The weights of the step times in TPOT and TTFT (for calibration; the slot wait is kept apart).
    tpot_weights = {"decode": 1 - share, "mixed": share}
    ttft_weights = {"own": chunks, "own_minus_decode": others + fill, "batch_fill": fill, "half_tpot": half + recv + waiting,
                    "request_layers": layers}
    return ServingTimes(
        mode="continuous", clients=clients, running=running, queued=max(clients - running, 0),
        ttft_s=ttft, tpot_s=tpot, request_rate=running / service, decode_batch=decode_batch,
        prefill_share=share, prefill_tokens_per_step=carried if share > 0 else 0, host_s_per_step=host,
        queue_s=queue, decode=decode, mixed=mixed, prefill=own, tpot_weights=tpot_weights, ttft_weights=ttft_weights,
        burst_s=ttft - steady, batch_wait_s=held,
    )


def static(
    *, batch: int, prompt: int, output: int, scheduler: Scheduler, step_prefill: Callable[[int], StepResult],
    step: StepFn, decode_per_token: Callable[[StepResult], float] = lambda r: r.time_s, layers: int = 0,
    ranks: int = 1,
) -> ServingTimes:
    prefill = step_prefill(batch)
    decode = step(batch, prompt + output // 2, 0, prompt)
    host = host_time(scheduler, batch, ranks)
    tpot = decode_per_token(decode) + host
    ttft = request_host_time(scheduler, layers) + prefill.time_s + host
    service = ttft + (output - 1) * tpot
    return ServingTimes(
        mode="static", clients=batch, running=batch, queued=0, ttft_s=ttft, tpot_s=tpot,
        request_rate=batch / service, decode_batch=batch, prefill_share=0.0, prefill_tokens_per_step=0,
        host_s_per_step=host, queue_s=0.0, decode=decode, mixed=None, prefill=prefill,
        tpot_weights={"decode": 1.0}, ttft_weights={"prefill": 1.0, "request_layers": layers},
    )
