"""Attention-data-parallel decode (issue 16): a step under attention DP is one rank's work — its own
sequences' attention and KV cache, the MoE over all the worker's tokens, and its own scheduler's host
time — checked against hand arithmetic on a DeepSeek-R1 decode worker InferenceX ran."""

from __future__ import annotations

import pytest

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.workload.engine_profile import Scheduler
from roofline.workload.model import load_model
from roofline.workload.scheduling import StepResult, continuous, host_time
from roofline.workload.serving import ServingConfig


def test_host_time_is_the_busiest_ranks_share() -> None:
    # 1 ms per iteration + 20 µs per sequence; 4,096 sequences over 8 ranks: 512 each → 1 + 10.24 ms.
    s = Scheduler(iteration_s=1e-3, per_sequence_s=20e-6)
    assert host_time(s, 4096, 8) == pytest.approx(11.24e-3)
    assert host_time(s, 4097, 8) == pytest.approx(1e-3 + 513 * 20e-6)  # the busiest rank has one more
    assert host_time(s, 4096) == pytest.approx(82.92e-3)  # one scheduler: the whole batch


def test_continuous_serving_charges_host_time_per_rank() -> None:
    # 64 clients, all running, OSL 101 and a 100-token prompt in one chunk: 64 · 100 / 101 → 63 decodes
    # per iteration; over 4 ranks ⌈63 / 4⌉ = 16 sequences each: host 16 × 10 µs, against 63 × 10 µs.
    s = Scheduler(iteration_s=0.0, per_sequence_s=10e-6, token_budget=8192)
    step = lambda decodes, context, prompt_tokens, prompt: StepResult(0.01, None)  # noqa: E731
    one = continuous(clients=64, capacity=64, prompt=100, output=101, scheduler=s, step=step)
    four = continuous(clients=64, capacity=64, prompt=100, output=101, scheduler=s, step=step, ranks=4)
    assert one.decode_batch == four.decode_batch == 63
    assert one.host_s_per_step == pytest.approx(63 * 10e-6)
    assert four.host_s_per_step == pytest.approx(16 * 10e-6)


def _dep8_worker() -> tuple[ServingConfig, object]:
    """InferenceX's TRT-LLM GB200 DeepSeek-R1 NVFP4 1k/1k recipe ctx1_gen1_dep8_batch512 at 4,301 clients
    (aiconfigurator corpus, validate split): one prefill worker of 4 GPUs (attention DP 4, EP 4) and one
    decode worker of 8 (attention DP 8 × EP 8), at most 512 sequences per decode rank."""
    cfg = ServingConfig.model_validate({
        "model": "deepseek-r1", "hardware": "gb200", "gpus": 12,
        "parallelism": {"tensor": 1, "attention_data": 8, "expert": 8, "expert_tensor": 1},
        "precision": {"weights": "fp4", "activations": "fp4", "weight_group_size": 16, "kv_cache": "fp8",
                      "experts": "fp4", "experts_group_size": 16},
        "runtime": {"engine": "trtllm"},
        "serving": {"concurrency": 4301, "prompt_tokens": 1024, "output_tokens": 1024, "disaggregated": {
            "prefill": {"workers": 1, "tensor": 1, "attention_data": 4, "expert": 4, "expert_tensor": 1},
            "decode": {"workers": 1, "tensor": 1, "attention_data": 8, "expert": 8, "expert_tensor": 1,
                       "batch": 4096}}},
    })
    spec = load_registry().resolve("gb200")
    context = build_context(cfg, load_model("deepseek-r1")[0], spec, roofs_from_spec(spec))
    return cfg, context


def test_dep8_decode_step_is_one_ranks_work_by_hand() -> None:
    """Per GPU of the decode worker at 4,096 sequences (512 per rank), context 1,024 + 512 (half the output):
    * the MLA latent of the rank's own sequences: 512 × 1,536 tokens × 576 B (fp8) × 61 layers = 27.63 GB;
    * the routed experts over all 4,096 tokens: each GPU holds 256 / 8 = 32 experts, every one touched,
      32 × 58 MoE layers × 3 × 7,168 × 2,048 × 4.5 bits (NVFP4 with a scale per 16) = 45.98 GB;
    * the rank's own host time, ⌈4,096 / 8⌉ = 512 sequences: with TensorRT-LLM's fitted 1 ms per MoE
      iteration and 20.23 µs per sequence, 11.36 ms — counted over the worker's 4,096 it was 83.9 ms, and
      the predicted TPOT 121.6 ms against the measured 42.6 ms (+185%)."""
    cfg, context = _dep8_worker()
    p = evaluate(cfg, context).prediction
    assert p.decode_batch == 4096 and p.decode.batch == 4096
    ops = {op.name: op for op in p.decode.ops}
    assert ops["mla_attention"].kv_bytes == pytest.approx(512 * 1536 * 576 * 61, rel=1e-3)
    assert ops["experts"].weight_bytes == pytest.approx(32 * 58 * 3 * 7168 * 2048 * 4.5 / 8, rel=1e-3)
    sched = context.scheduler_for(cfg)
    assert p.itl_s - p.decode.time_s == pytest.approx(sched.iteration_s + sched.per_sequence_s * 512, rel=1e-6)
    # Measured 42.6 ms (the corpus row); the step alone is ~38 ms of it.
    assert 0.8 < p.itl_s / 42.63e-3 < 1.3


def test_calibration_counts_one_ranks_sequences() -> None:
    """``roofline calibrate`` fits per_sequence_s against the sequences one scheduler holds: with 2
    attention-DP ranks, half the replica's decode batch (rounded up), as the planner charges them."""
    from roofline.planner.calibrate import features_of

    cfg = ServingConfig.model_validate({
        "model": "llama-3-8b", "hardware": "h100-sxm", "gpus": 2, "parallelism": {"attention_data": 2},
        "precision": {"weights": "bf16", "activations": "bf16", "kv_cache": "bf16"},
        "runtime": {"engine": "trtllm"},
        "serving": {"concurrency": 63, "prompt_tokens": 128, "output_tokens": 1001}})
    spec = load_registry().resolve("h100-sxm")
    context = build_context(cfg, load_model("llama-3-8b")[0], spec, roofs_from_spec(spec))
    p = evaluate(cfg, context).prediction
    sched = context.scheduler_for(cfg)
    half = -(-p.decode_batch // 2)
    assert p.decode_batch > 1 and p.decode_batch % 2 == 1  # the busiest rank holds the odd one
    assert p.host_s_per_step == pytest.approx(sched.iteration_s + sched.per_sequence_s * half)
    assert features_of(p, 1, 0.0, 2).tpot["per_sequence_s"] == half
    assert features_of(p, 1, 0.0).tpot["per_sequence_s"] == p.decode_batch
