"""Evaluating a disaggregated config: each pool's worker is a serving config of its own (its
parallelism, the same model, precision and engine), planned for memory and timed by the op model;
roofline.workload.disagg turns the step times into TTFT, TPOT and throughput."""

from __future__ import annotations

from roofline.errors import InputError
from roofline.precision import BYTES_PER_ELEMENT
from roofline.units import fmt_bytes
from roofline.workload.disagg import Pool, burst_ttft, kv_transfer_s, serve
from roofline.workload.memory import plan_memory
from roofline.workload.parallel import SCALE_OUT_BYTES_PER_S, check_layout, scale_out
from roofline.workload.phases import PhaseShape
from roofline.workload.predict import Prediction, expected_tokens_per_pass, predict_phase
from roofline.workload.scheduling import host_time, request_host_time
from roofline.workload.serving import ServingConfig


def pool_config(cfg: ServingConfig, pool: Pool) -> ServingConfig:
    """One worker of a pool as an aggregated config (its GPUs, its parallelism)."""
    serving = cfg.serving.model_copy(update={"disaggregated": None})
    return cfg.model_copy(update={"gpus": pool.gpus_per_worker, "serving": serving,
                                  "parallelism": cfg.parallelism.model_validate(pool.parallelism())})


def predict_disaggregated(cfg: ServingConfig, context, draft) -> Prediction:  # noqa: ANN001 (ServingContext, ModelArch)
    """The prediction of a disaggregated config; ``draft``: the speculative draft model, if any
    (resolved by the caller, planner.serving, which also turns the prediction into an Evaluation)."""
    layout = cfg.serving.disaggregated
    assert layout is not None
    s, arch = cfg.serving, context.arch
    sched = context.scheduler_for(cfg)
    prefill_cfg = context.effective(pool_config(cfg, layout.prefill))
    decode_cfg = context.effective(pool_config(cfg, layout.decode))
    memories = {}
    for name, pool_cfg in (("prefill", prefill_cfg), ("decode", decode_cfg)):
        check_layout(arch, pool_cfg)
        memory = plan_memory(arch, pool_cfg, context.capacity_for(pool_cfg))
        fixed = memory.weight_bytes + memory.workspace_bytes + memory.reserve_bytes
        if fixed > memory.capacity_bytes or memory.max_batch < 1:
            raise InputError(f"the {name} worker does not fit: weights {fmt_bytes(memory.weight_bytes)} per GPU of "
                             f"{fmt_bytes(memory.capacity_bytes)}", place=f"serving.disaggregated.{name}",
                             fix="give the pool's workers more GPUs (tensor, expert) or quantize the weights")
        memories[name] = memory
    # The engine's running cap is per attention-DP rank (TensorRT-LLM max_batch_size, SGLang's per-rank
    # scheduler): a worker with dp ranks runs up to dp × max_running.
    decode_cap = min(memories["decode"].max_batch, sched.max_running * layout.decode.attention_data,
                     layout.decode.batch or 10**9)
    # A prefill worker with attention DP runs one prompt per DP rank at once (the MoE layers see them
    # all): it serves as ``attention_data`` servers, each at the time of that dp-prompt step.
    ranks = layout.prefill.attention_data
    prefill = predict_phase(arch, prefill_cfg, PhaseShape("prefill", ranks, s.prompt_tokens, s.prompt_tokens),
                            context.roofs, context.efficiency)
    decodes: dict[int, object] = {}

    spec = cfg.speculative
    context_tokens = s.prompt_tokens + s.output_tokens // 2

    def decode_step(batch: int) -> float:
        """One decode iteration per token; with speculation (k·draft + verify of k+1) / E[tokens]."""
        batch = min(batch, decode_cap)
        if batch not in decodes:
            new = 1 if spec is None else spec.k + 1
            decodes[batch] = predict_phase(arch, decode_cfg, PhaseShape("decode", batch, new, context_tokens),
                                           context.roofs, context.efficiency)
        step = decodes[batch].time_s  # type: ignore[attr-defined]
        if spec is not None and draft is not None:
            drafted = predict_phase(draft, decode_cfg.model_copy(update={"speculative": None}),
                                    PhaseShape("decode", batch, 1, context_tokens), context.roofs, context.efficiency)
            step = (spec.k * drafted.time_s + step) / expected_tokens_per_pass(spec.acceptance, spec.k)
        return step + host_time(sched, batch, layout.decode.attention_data)

    kv_bytes = arch.kv_bytes_per_sequence(s.prompt_tokens, BYTES_PER_ELEMENT[cfg.precision.kv_cache])
    far = scale_out(cfg.hardware.strip().lower(), layout.gpus)
    link = SCALE_OUT_BYTES_PER_S if far else (context.roofs.peer_bandwidth.value if context.roofs.peer_bandwidth
                                             else SCALE_OUT_BYTES_PER_S)
    transfer = kv_transfer_s(kv_bytes, layout.prefill.gpus_per_worker, link, context.efficiency.comm_bandwidth)
    clients = s.clients
    times = serve(clients=clients, output=s.output_tokens, layout=layout, prefill_s=prefill.time_s + host_time(sched, 1),
                  transfer_s=transfer, decode_step=decode_step, per_request_s=request_host_time(sched, context.arch.num_layers),
                  decode_cap=decode_cap, prefill_servers=layout.prefill.workers * ranks)
    ttft = times.ttft_s
    if s.benchmark is not None and s.benchmark.burst_start:
        ttft = burst_ttft(times.ttft_s, clients, s.benchmark, prefill_s=prefill.time_s + host_time(sched, 1),
                          servers=layout.prefill.workers * ranks, fixed_s=request_host_time(sched, context.arch.num_layers)
                          + transfer)
    decode_phase = decodes[min(times.decode_batch, decode_cap)]
    throughput = times.request_rate * s.output_tokens
    prediction = Prediction(
        ttft_s=ttft, itl_s=times.tpot_s, throughput_tok_s=throughput,
        throughput_tok_s_per_gpu=throughput / layout.gpus, replicas=layout.decode.workers,
        prefill=prefill, decode=decode_phase, memory=memories["decode"],  # type: ignore[arg-type]
        efficiency_source=context.efficiency.source, mode="disaggregated", concurrency=clients,
        running=times.decode_batch * layout.decode.workers, decode_batch=times.decode_batch,
        request_rate=times.request_rate, queue_s=times.prefill_wait_s,
        ttft_breakdown_s={"compute": prefill.time_s, "communication": transfer, "queue": ttft - prefill.time_s
                          - transfer},
        itl_breakdown_s=dict(decode_phase.breakdown),  # type: ignore[attr-defined]
    )
    return prediction

