"""Predict a serving config: per-op roofline times with efficiency derates, the host launch
pipeline, communication, and from those TTFT, inter-token latency, throughput, MBU and MFU.

Eager launches are simulated as a two-stage pipeline: the host issues kernel i at
c_i = c_{i-1} + h; the GPU starts it at max(c_i, end of kernel i-1). Idle time so created is
launch wait. Under CUDA graphs the host submits the whole step at once (a small per-kernel submit
cost) and kernels run back to back with the graph's per-kernel gap.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from roofline.hardware.spec import Roofs
from roofline.precision import Unit
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import Scheduler
from roofline.workload.memory import MemoryPlan
from roofline.workload.model import ModelArch
from roofline.workload.parallel import SCALE_OUT_BYTES_PER_S
from roofline.workload.phases import PhaseOp, PhaseShape, build_phase_ops, gemm_precision
from roofline.workload.scheduling import StepResult
from roofline.workload.scheduling import continuous as serve_continuous
from roofline.workload.scheduling import static as serve_static
from roofline.workload.serving import ServingConfig

TERMS = ("compute", "memory", "launch", "communication")


class OpTiming(BaseModel):
    name: str
    kind: str
    count: int
    kernels: int
    flops: float
    bytes: float
    weight_bytes: float
    kv_bytes: float
    precision: str
    ai: float | None
    bound: str = Field(description="compute | memory | launch | communication")
    ideal_s: float = Field(description="pure roofline time over all occurrences")
    gpu_s: float = Field(description="realistic GPU time over all occurrences")


class PhasePrediction(BaseModel):
    phase: str
    batch: int
    new_tokens: int
    context: int
    ideal_s: float
    time_s: float
    breakdown: dict[str, float]
    bound: str
    flops: float
    bytes: float
    weight_bytes: float
    kv_bytes: float
    kernels: int
    mfu: float
    mbu: float
    ops: list[OpTiming]


def _peak(roofs: Roofs, op: PhaseOp, *, ideal: bool) -> float:
    table = roofs.datasheet_compute if ideal and roofs.datasheet_compute else roofs.compute
    roof = table.get((op.unit, op.precision)) or roofs.compute_roof(op.precision, op.unit)
    if roof is None:  # e.g. fp8 on a part without fp8 tensor cores: it runs at 16-bit
        roof = roofs.compute_roof(op.precision, Unit.VECTOR)
    return roof.value if roof is not None else 1e12


def _link_bandwidth(roofs: Roofs) -> float:
    link = roofs.peer_bandwidth or roofs.host_bandwidth
    return link.value if link is not None else roofs.memory_bandwidth.value


ALL_TO_ALL = frozenset({"moe_dispatch", "moe_combine"})


def op_time(op: PhaseOp, roofs: Roofs, eff: Efficiency) -> tuple[float, str, float]:
    """(realistic GPU seconds per occurrence, bound label, ideal seconds per occurrence)."""
    bandwidth = roofs.memory_bandwidth.value
    ideal_bw = roofs.datasheet_memory_bandwidth.value if roofs.datasheet_memory_bandwidth else bandwidth
    if op.kind == "comm":
        link = SCALE_OUT_BYTES_PER_S if op.scale_out else _link_bandwidth(roofs)
        latency = eff.alltoall_latency_s if op.name in ALL_TO_ALL else eff.comm_latency_for(op.group)
        t = latency + op.comm_bytes / (link * eff.comm_bandwidth)
        return t, "communication", op.comm_bytes / link
    ideal = max(op.flops / _peak(roofs, op, ideal=True), op.bytes / ideal_bw)
    if op.kind == "gemm":
        fill = op.rows / (op.rows + eff.gemm_half_rows) if op.rows else 1.0
        precision = op.precision.value
        eta_c = eff.gemm_compute_for(precision) * fill
        eta_m = eff.dequant_memory if op.dequant else eff.gemm_memory_for(precision)
        if eff.gemm_memory_half_bytes and not op.dequant and op.bytes > 0:
            per_kernel = op.bytes / max(op.kernels, 1)  # HF splits QKV and gate/up into separate GEMMs
            eta_m *= per_kernel / (per_kernel + eff.gemm_memory_half_bytes)
        if op.name == "experts":
            if not op.dequant:
                eta_m = eff.expert_memory_for(precision)
            eta_c, eta_m = eta_c * eff.grouped_gemm, eta_m * eff.grouped_gemm
    elif op.kind == "attention":
        decode = op.kv_bytes > 0  # a decode step reads the whole cache; prefill attention does not
        eta_c = (eff.prefill_attention_compute if not decode and eff.prefill_attention_compute
                 else eff.attention_compute)
        eta_m = eff.decode_attention_memory if decode and eff.decode_attention_memory else eff.attention_memory
    else:
        copy = {"cat": eff.hf_cache_cat_memory, "repeat": eff.hf_cache_copy_memory}
        eta_c, eta_m = 1.0, copy.get(op.copy or "", eff.elementwise_memory)
    compute = op.flops / (_peak(roofs, op, ideal=False) * eta_c)
    memory = op.bytes / (bandwidth * eta_m)
    floor = eff.min_kernel_s * op.kernels
    t = max(compute, memory, floor)
    if floor >= max(compute, memory):
        bound = "launch"
    else:
        bound = "compute" if compute >= memory else "memory"
    return t, bound, ideal


def _kernel_sequence(ops: list[PhaseOp], per_op: dict[str, float], layers_ops: set[str], layers: int) -> list[tuple[str, float]]:
    """Kernels in execution order (layer by layer), each with its GPU time."""
    sequence: list[tuple[str, float]] = []
    head = [op for op in ops if op.name not in layers_ops and op.name == "embedding"]
    body = [op for op in ops if op.name in layers_ops]
    tail = [op for op in ops if op.name not in layers_ops and op.name != "embedding"]

    def emit(op: PhaseOp) -> None:
        if op.kernels == 0:
            return
        share = per_op[op.name + str(id(op))] / op.kernels
        sequence.extend((op.name, share) for _ in range(op.kernels))

    for op in head:
        emit(op)
    for _ in range(layers):
        for op in body:
            emit(op)
    for op in tail:
        emit(op)
    return sequence


def predict_phase(
    arch: ModelArch, cfg: ServingConfig, shape: PhaseShape, roofs: Roofs, eff: Efficiency
) -> PhasePrediction:
    ops = build_phase_ops(arch, cfg, shape)
    layers = max(1, round(arch.num_layers / cfg.parallelism.pipeline))
    timings: list[OpTiming] = []
    per_op: dict[str, float] = {}
    breakdown = dict.fromkeys(TERMS, 0.0)
    ideal_total = 0.0
    for op in ops:
        t, bound, ideal = op_time(op, roofs, eff)
        per_op[op.name + str(id(op))] = t
        ideal_total += ideal * op.count
        breakdown[bound] += t * op.count
        timings.append(
            OpTiming(
                name=op.name, kind=op.kind, count=op.count, kernels=op.kernels * op.count,
                flops=op.total_flops, bytes=op.total_bytes, weight_bytes=op.weight_bytes * op.count,
                kv_bytes=op.kv_bytes * op.count, precision=op.precision.value,
                ai=op.flops / op.bytes if op.bytes else None, bound=bound, ideal_s=ideal * op.count,
                gpu_s=t * op.count,
            )
        )
    # Back-to-back kernels leave a gap on the GPU, smaller when replayed from a graph.
    gap = eff.graph_gap_s if cfg.runtime.cuda_graphs else eff.eager_gap_s
    if cfg.runtime.cuda_graphs:  # no launch pipeline to simulate: the order of kernels does not matter
        n = sum(op.kernels * op.count for op in ops)
        gpu_busy = sum(per_op[op.name + str(id(op))] * op.count for op in ops) + n * gap
    else:
        per_layer = ({op.name for op in ops if op.count == layers and layers > 1}
                     or {op.name for op in ops if op.count > 1})
        sequence = [(name, t + gap) for name, t in _kernel_sequence(ops, per_op, per_layer, layers)]
        n = len(sequence)
        gpu_busy = sum(t for _, t in sequence)
    breakdown["launch"] += n * gap
    if cfg.runtime.cuda_graphs:
        submit = n * eff.graph_submit_s_per_kernel
        step = gpu_busy + submit
        breakdown["launch"] += submit
    else:
        host = eff.host_s_per_kernel
        if host is None:
            host = (eff.huggingface_host_s_per_kernel if cfg.runtime.framework == "huggingface"
                    else roofs.launch_floor_eager.value)
        issued = 0.0
        gpu_end = 0.0
        wait = 0.0
        for _, t in sequence:
            issued += host
            start = max(issued, gpu_end)
            wait += start - gpu_end
            gpu_end = start + t
        step = gpu_end
        breakdown["launch"] += wait
    stages = cfg.parallelism.pipeline
    step *= stages
    breakdown = {k: v * stages for k, v in breakdown.items()}
    flops = sum(o.flops for o in timings) * stages
    num_bytes = sum(o.bytes for o in timings) * stages
    gemm_roof = (roofs.datasheet_compute or roofs.compute).get((Unit.MATRIX, gemm_precision(cfg)[0]))
    gemm_peak = gemm_roof.value if gemm_roof else max(r.value for r in roofs.compute.values())
    bw = roofs.datasheet_memory_bandwidth.value if roofs.datasheet_memory_bandwidth else roofs.memory_bandwidth.value
    return PhasePrediction(
        phase=shape.phase,
        batch=shape.batch,
        new_tokens=shape.new_tokens,
        context=shape.context,
        ideal_s=ideal_total * stages,
        time_s=step,
        breakdown=breakdown,
        bound=max(breakdown, key=lambda k: breakdown[k]),
        flops=flops,
        bytes=num_bytes,
        weight_bytes=sum(o.weight_bytes for o in timings) * stages,
        kv_bytes=sum(o.kv_bytes for o in timings) * stages,
        kernels=n * stages,
        mfu=flops / (step * gemm_peak) if step > 0 else 0.0,
        mbu=num_bytes / (step * bw) if step > 0 else 0.0,
        ops=timings,
    )


def expected_tokens_per_pass(acceptance: float, draft_length: int) -> float:
    """Geometric acceptance with one bonus token: (1 − p^(k+1)) / (1 − p) (seed 002: 3.5 at p=0.78, k=5)."""
    p, k = acceptance, draft_length
    return (1 - p ** (k + 1)) / (1 - p)


def decode_arithmetic_intensity(params: float, batch: int, d_model: int, bytes_per_param: float,
                                bytes_per_element: float) -> float:
    """I(B) = 2PB / (P·b_param + B·d_model·b_elem) (seed 002, batch size as the control knob)."""
    return 2 * params * batch / (params * bytes_per_param + batch * d_model * bytes_per_element)


def allreduce_payload_bytes(d_model: int, batch: int, bytes_per_element: float) -> float:
    """Seed 002: each tensor-parallel all-reduce moves about 2·d_model·B·b bytes (32.8 KB at B=1 for 70B)."""
    return 2 * d_model * batch * bytes_per_element


def fusion_traffic_saved(tokens: int, hidden: int, bytes_per_element: float, intermediates: int) -> float:
    """HBM bytes a fused elementwise chain does not move: each intermediate written once and read
    once (seed 002: bias-GELU at 2048×4096 fp16 saves 2 × 2 × 16.8 MB = 67.1 MB per layer)."""
    return intermediates * 2 * tokens * hidden * bytes_per_element


class Prediction(BaseModel):
    ttft_s: float
    itl_s: float
    throughput_tok_s: float
    throughput_tok_s_per_gpu: float
    replicas: int
    tokens_per_pass: float = 1.0
    prefill: PhasePrediction
    decode: PhasePrediction
    mixed: PhasePrediction | None = Field(None, description="a decode step that also carries prompt tokens")
    draft_decode: PhasePrediction | None = None
    memory: MemoryPlan
    efficiency_source: str
    mode: str = "continuous"
    concurrency: int = 1
    running: int = 1
    queued: int = 0
    queue_s: float = 0.0
    # Inside ttft_s (serving.benchmark, runtime.batch_wait): what the benchmark's burst start adds over
    # the steady state, and the engine's batch-wait hold.
    ttft_burst_s: float = 0.0
    ttft_batch_wait_s: float = 0.0
    decode_batch: int = 1
    prefill_share: float = 0.0
    prefill_tokens_per_step: int = 0
    host_s_per_step: float = 0.0
    request_rate: float = 0.0
    tpot_weights: dict[str, float] = Field(default_factory=dict)
    ttft_weights: dict[str, float] = Field(default_factory=dict)
    # Where TTFT and ITL go, summing to them: the step terms plus engine host time and queueing.
    ttft_breakdown_s: dict[str, float] = Field(default_factory=dict)
    itl_breakdown_s: dict[str, float] = Field(default_factory=dict)


SERVING_TERMS = (*TERMS, "host", "queue")


def _scaled(breakdown: dict[str, float], weight: float) -> dict[str, float]:
    return {k: v * weight for k, v in breakdown.items()}


def _added(*parts: dict[str, float]) -> dict[str, float]:
    total = dict.fromkeys(SERVING_TERMS, 0.0)
    for part in parts:
        for k, v in part.items():
            total[k] = total.get(k, 0.0) + v
    return total


def _marginal(own: dict[str, float], base: dict[str, float], total: float) -> dict[str, float]:
    """The terms one prompt chunk adds to a decode step, scaled to sum to ``total``."""
    diff = {k: max(own.get(k, 0.0) - base.get(k, 0.0), 0.0) for k in own}
    s = sum(diff.values())
    return {k: v * total / s for k, v in diff.items()} if s > 0 else {}


def serving_breakdowns(times: object, decode_s: float) -> tuple[dict[str, float], dict[str, float]]:
    """(TTFT, ITL) split into step terms, host time and queueing (roofline.workload.scheduling)."""
    t = times  # ServingTimes
    dec = t.decode.phase.breakdown  # type: ignore[attr-defined]
    scale = decode_s / t.decode.time_s if t.decode.time_s else 1.0  # type: ignore[attr-defined]
    if t.mode == "static":  # type: ignore[attr-defined]
        itl = _added(_scaled(dec, scale), {"host": t.host_s_per_step})  # type: ignore[attr-defined]
        fixed = t.ttft_s - t.prefill.time_s  # type: ignore[attr-defined]
        return _added(t.prefill.phase.breakdown, {"host": fixed}), itl  # type: ignore[attr-defined]
    share = t.prefill_share  # type: ignore[attr-defined]
    itl = _added(_scaled(dec, (1 - share) * scale), _scaled(t.mixed.phase.breakdown, share) if t.mixed else {},  # type: ignore[attr-defined]
                 {"host": t.host_s_per_step})  # type: ignore[attr-defined]
    w = t.ttft_weights  # type: ignore[attr-defined]
    own = t.prefill.phase.breakdown  # type: ignore[attr-defined]
    marginal_s = max(t.prefill.time_s - t.decode.time_s, 0.0)  # type: ignore[attr-defined]
    waiting = _scaled(_marginal(own, dec, marginal_s), w["own_minus_decode"]) if w["own_minus_decode"] else {}
    host = w["own"] * t.host_s_per_step  # type: ignore[attr-defined]
    # Waiting: for a slot, for the batch wait's hold, and the benchmark's first wave (diluted).
    queue = t.queue_s + t.batch_wait_s + t.burst_s  # type: ignore[attr-defined]
    accounted = (w["own"] * t.prefill.time_s + w["own_minus_decode"] * marginal_s  # type: ignore[attr-defined]
                 + w["half_tpot"] * t.tpot_s + host + queue)  # type: ignore[attr-defined]
    per_request = t.ttft_s - accounted  # type: ignore[attr-defined]
    ttft = _added(_scaled(own, w["own"]), waiting, _scaled(itl, w["half_tpot"]),
                  {"host": host + per_request, "queue": queue})
    return ttft, itl


def predict(
    arch: ModelArch,
    cfg: ServingConfig,
    roofs: Roofs,
    eff: Efficiency,
    memory: MemoryPlan,
    draft: ModelArch | None = None,
    *,
    scheduler: Scheduler | None = None,
    mode: str = "continuous",
    capacity: int | None = None,
    graph_max_batch: int | None = None,
) -> Prediction:
    """TTFT, TPOT and throughput of the config served in ``mode`` (roofline.workload.scheduling),
    every step time from the op model. ``capacity``: the most sequences that can run at once."""
    s = cfg.serving
    sched = scheduler or Scheduler(token_budget=10**9)
    memo: dict[tuple[int, int, int, int], StepResult] = {}

    def runtime_for(tokens: int) -> ServingConfig:
        if graph_max_batch is None:
            return cfg
        graphs = tokens <= graph_max_batch
        return cfg if cfg.runtime.cuda_graphs == graphs else \
            cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"cuda_graphs": graphs})})

    def step(decodes: int, context: int, prompt_tokens: int, prompt: int) -> StepResult:
        key = (decodes, context, prompt_tokens, prompt)
        if key not in memo:
            if decodes == 0 and prompt_tokens == prompt:
                shape = PhaseShape("prefill", 1, prompt, prompt)
            elif decodes == 0:
                shape = PhaseShape("prefill", 0, 0, 0, prefill_tokens=prompt_tokens, prefill_context=prompt)
            else:
                shape = PhaseShape("decode", decodes, 1, context, prefill_tokens=prompt_tokens, prefill_context=prompt)
            phase = predict_phase(arch, runtime_for(shape.tokens), shape, roofs, eff)
            memo[key] = StepResult(phase.time_s, phase)
        return memo[key]

    speculation: dict[str, object] = {}

    def decode_per_token(result: StepResult) -> float:
        if cfg.speculative is None or draft is None:
            return result.time_s
        spec, batch = cfg.speculative, result.phase.batch  # type: ignore[attr-defined]
        context = s.prompt_tokens + s.output_tokens // 2
        run_cfg = runtime_for(batch)
        verify = predict_phase(arch, run_cfg, PhaseShape("decode", batch, spec.k + 1, context + spec.k), roofs, eff)
        draft_cfg = run_cfg.model_copy(update={"speculative": None})
        draft_step = predict_phase(draft, draft_cfg, PhaseShape("decode", batch, 1, context), roofs, eff)
        tokens = expected_tokens_per_pass(spec.acceptance, spec.k)
        speculation.update(verify=verify, draft=draft_step, tokens=tokens)
        return (spec.k * draft_step.time_s + verify.time_s) / tokens

    if mode == "static":
        times = serve_static(batch=s.clients, prompt=s.prompt_tokens, output=s.output_tokens, scheduler=sched,
                             step_prefill=lambda b: StepResult(
                                 (ph := predict_phase(arch, runtime_for(b * s.prompt_tokens),
                                                      PhaseShape("prefill", b, s.prompt_tokens, s.prompt_tokens),
                                                      roofs, eff)).time_s, ph),
                             step=step, decode_per_token=decode_per_token, layers=arch.num_layers,
                             ranks=cfg.parallelism.attention_data)
    else:
        times = serve_continuous(clients=s.clients, capacity=capacity or s.clients, prompt=s.prompt_tokens,
                                 output=s.output_tokens, scheduler=sched, step=step, decode_per_token=decode_per_token,
                                 layers=arch.num_layers, ranks=cfg.parallelism.attention_data,
                                 benchmark=s.benchmark, batch_wait=cfg.runtime.batch_wait)
    replicas = max(cfg.gpus // cfg.parallelism.gpus_per_replica, 1)
    throughput = replicas * times.request_rate * s.output_tokens
    decode = speculation.get("verify", times.decode.phase)
    ttft_breakdown, itl_breakdown = serving_breakdowns(times, decode_per_token(times.decode))
    return Prediction(
        ttft_s=times.ttft_s,
        itl_s=times.tpot_s,
        throughput_tok_s=throughput,
        throughput_tok_s_per_gpu=throughput / cfg.gpus,
        replicas=replicas,
        tokens_per_pass=float(speculation.get("tokens", 1.0)),  # type: ignore[arg-type]
        prefill=times.prefill.phase,  # type: ignore[arg-type]
        decode=decode,  # type: ignore[arg-type]
        mixed=times.mixed.phase if times.mixed else None,  # type: ignore[arg-type]
        draft_decode=speculation.get("draft"),  # type: ignore[arg-type]
        memory=memory,
        efficiency_source=eff.source,
        mode=times.mode,
        concurrency=times.clients,
        running=times.running,
        queued=times.queued,
        queue_s=times.queue_s,
        ttft_burst_s=times.burst_s,
        ttft_batch_wait_s=times.batch_wait_s,
        decode_batch=times.decode_batch,
        prefill_share=times.prefill_share,
        prefill_tokens_per_step=times.prefill_tokens_per_step,
        host_s_per_step=times.host_s_per_step,
        request_rate=times.request_rate,
        tpot_weights=times.tpot_weights,
        ttft_weights=times.ttft_weights,
        ttft_breakdown_s=ttft_breakdown,
        itl_breakdown_s=itl_breakdown,
    )
