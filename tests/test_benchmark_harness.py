"""What a serving benchmark reports (issues 15/16): the burst-start wave, the dilution over the run's
requests, the length spread, mean vs median, TensorRT-LLM's batch wait — pinned to hand arithmetic and
to one InferenceX measurement — and the config's validation errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.workload.benchmark import (
    BatchWait,
    Benchmark,
    batch_wait_s,
    first_wave_ttfts,
    mean_length,
    measured_lengths,
    reported_ttft,
)
from roofline.workload.engine_profile import Scheduler
from roofline.workload.model import load_model
from roofline.workload.runs import MeasuredRun, harness_of, inferred_engine_version, serving_config_data
from roofline.precision import Precision
from roofline.workload.scheduling import StepResult, continuous
from roofline.workload.serving import ServingConfig


def test_first_wave_one_prompt_per_iteration_waits_one_and_a_half_prefills_at_c4() -> None:
    # Four prompts of exactly one token budget each arrive together: prompt k ends after k prefills
    # of p, so past its own prefill the wave waits (0 + 1 + 2 + 3)/4 = 1.5 p on average.
    p, fixed = 0.1, 0.05
    wave = first_wave_ttfts(4, 8192, 8192, lambda tokens: p * tokens / 8192, fixed)
    assert wave == pytest.approx([fixed + p, fixed + 2 * p, fixed + 3 * p, fixed + 4 * p])
    assert sum(wave) / 4 - fixed - p == pytest.approx(1.5 * p)
    # 10 prompts per client: 40 requests, the 4 of the wave and 36 steady ones at S.
    steady = 0.2
    assert reported_ttft(steady, wave, 40, "mean") == pytest.approx((4 * (fixed + 2.5 * p) + 36 * steady) / 40)
    # The median of 40 leaves the 4 of the wave out.
    assert reported_ttft(steady, wave, 40, "median") == pytest.approx(steady)
    # One request per client: all of them are the wave; its median is between the 2nd and 3rd.
    assert reported_ttft(steady, wave, 4, "median") == pytest.approx(fixed + 2.5 * p)


def test_first_wave_prompts_sharing_an_iteration_get_their_first_token_together() -> None:
    # Budget 8192, prompts of 2048: all four fit one iteration, so every first token comes after it;
    # 6 prompts need two iterations (8192 + 4096 tokens): prompts 1-4 after the first, 5-6 after both.
    t = lambda tokens: 1e-5 * tokens  # noqa: E731
    assert first_wave_ttfts(4, 2048, 8192, t, 0.0) == pytest.approx([0.08192] * 4)
    assert first_wave_ttfts(6, 2048, 8192, t, 0.0) == pytest.approx([0.08192] * 4 + [0.08192 + 0.04096] * 2)
    # A prompt longer than the budget is chunked: 10000 tokens over 8192 + 1808.
    assert first_wave_ttfts(1, 10000, 8192, t, 0.0) == pytest.approx([0.1])


def test_random_range_ratio_mean_lengths() -> None:
    # benchmark_serving's random dataset: integers uniform in [int(0.8·1024), 1024] = [819, 1024].
    assert mean_length(1024, 0.8) == pytest.approx((819 + 1024) / 2)
    assert measured_lengths(1024, 8192, Benchmark(requests_per_client=10, length_range_ratio=0.8)) == (922, 7373)
    assert measured_lengths(1024, 8192, Benchmark(requests_per_client=10)) == (1024, 8192)
    assert measured_lengths(1024, 8192, None) == (1024, 8192)


def test_batch_wait_by_hand_and_against_an_inferencex_offset() -> None:
    wait = BatchWait(iterations=20, max_tokens_ratio=0.9)
    # Sparse arrivals (λ = 0.27/s): W = 20 × 14.6 ms = 292 ms, m = λW = 0.0788; the window is
    # 15 prompts of 1024 (⌈0.9 × 16384 / 1024⌉) long, far more than arrive in it.
    w = batch_wait_s(wait, budget=16384, prompt=1024, iteration_s=0.0146, arrival_rate=0.27)
    m = 0.27 * 0.292
    assert w == pytest.approx(0.292 * (1 + m / 2) / (1 + m))
    # InferenceX's TRT-LLM Llama-3.1-70B fp8 on one B200 (2026-04-06 file): at C = 4 the 1024/1024 sweep,
    # which runs this batch wait, measures 383 ms TTFT against 104 ms for 1024/8192, which does not;
    # the 1024/1024 TPOT there is 14.6 ms. The 279 ms offset is the predicted hold within 5%.
    assert w == pytest.approx(0.383 - 0.104, rel=0.05)
    # Dense arrivals close the window on tokens: 14 more prompts at 100/s take 0.14 s < 0.292 s.
    fast = batch_wait_s(wait, budget=16384, prompt=1024, iteration_s=0.0146, arrival_rate=100.0)
    assert fast == pytest.approx(0.14 * (1 + 14 / 2) / (1 + 14))
    # A prompt that alone reaches the token threshold is never held.
    assert batch_wait_s(wait, budget=16384, prompt=16000, iteration_s=0.0146, arrival_rate=1.0) == 0.0


def _step(decodes: int, context: int, prompt_tokens: int, prompt: int) -> StepResult:
    # 20 ms per decode iteration, 10 µs per prompt token.
    return StepResult((0.02 if decodes else 0.0) + 1e-5 * prompt_tokens, None)


def test_continuous_reports_the_benchmark_mean_and_keeps_the_steady_state_without_it() -> None:
    sched = Scheduler(token_budget=8192, per_request_s=0.05)
    base = continuous(clients=4, capacity=4, prompt=8192, output=101, scheduler=sched, step=_step)
    bench = Benchmark(requests_per_client=10)
    t = continuous(clients=4, capacity=4, prompt=8192, output=101, scheduler=sched, step=_step, benchmark=bench)
    assert base.burst_s == 0.0 and t.tpot_s == base.tpot_s
    # The wave: per-request 50 ms + k prefills of 81.92 ms; steady = the model's TTFT without it.
    wave_mean = 0.05 + 2.5 * 0.08192
    assert t.ttft_s == pytest.approx((4 * wave_mean + 36 * base.ttft_s) / 40)
    assert t.burst_s == pytest.approx(t.ttft_s - base.ttft_s)
    spread = continuous(clients=4, capacity=4, prompt=8192, output=101, scheduler=sched, step=_step,
                        benchmark=bench.model_copy(update={"burst_start": False}))
    assert spread.ttft_s == base.ttft_s


def test_batch_wait_adds_the_hold_to_ttft_and_the_request_time() -> None:
    sched = Scheduler(token_budget=16384)
    base = continuous(clients=4, capacity=4, prompt=1024, output=1024, scheduler=sched, step=_step)
    held = continuous(clients=4, capacity=4, prompt=1024, output=1024, scheduler=sched, step=_step,
                      batch_wait=BatchWait(iterations=20, max_tokens_ratio=0.9))
    rate = 4 / (base.ttft_s + 1023 * base.tpot_s)
    expected = batch_wait_s(BatchWait(iterations=20, max_tokens_ratio=0.9), budget=16384, prompt=1024,
                            iteration_s=base.tpot_s, arrival_rate=rate)
    assert held.batch_wait_s == pytest.approx(expected) and expected > 19 * base.tpot_s
    assert held.ttft_s == pytest.approx(base.ttft_s + expected)
    assert held.request_rate < base.request_rate


@pytest.fixture(scope="module")
def h100():
    spec = load_registry().resolve("h100-sxm")
    return spec, roofs_from_spec(spec)


def _cfg(**serving: object) -> dict[str, object]:
    return {"model": "llama-3.1-8b", "hardware": "h100-sxm", "runtime": {"engine": "vllm"},
            "serving": {"prompt_tokens": 1024, "output_tokens": 256, "concurrency": 16, **serving}}


def test_plan_with_a_benchmark_block_reports_what_the_benchmark_measures(h100) -> None:
    spec, roofs = h100
    arch = load_model("llama-3.1-8b")[0]
    plain = ServingConfig.model_validate(_cfg())
    bench = ServingConfig.model_validate(_cfg(benchmark={"requests_per_client": 10, "length_range_ratio": 0.8}))
    p0 = evaluate(plain, build_context(plain, arch, spec, roofs)).prediction
    p1 = evaluate(bench, build_context(bench, arch, spec, roofs)).prediction
    assert p0.ttft_burst_s == 0.0 and p1.ttft_burst_s > 0
    # The run's mean lengths are 922 and 230 tokens (uniform in [819, 1024] and [204, 256]), so a decode
    # step's mean context is 922 + 230 // 2, not 1024 + 256 // 2.
    assert p1.decode.context == 922 + 115 and p0.decode.context == 1024 + 128
    # The breakdown still sums to TTFT; the burst is counted as waiting.
    assert sum(p1.ttft_breakdown_s.values()) == pytest.approx(p1.ttft_s)
    assert p1.ttft_breakdown_s["queue"] >= p1.ttft_burst_s


@pytest.mark.parametrize("serving, needle", [
    ({"benchmark": {"requests_per_client": 0}}, "requests_per_client"),
    ({"benchmark": {"requests_per_client": 10, "length_range_ratio": 0}}, "length_range_ratio"),
    ({"benchmark": {"requests_per_client": 10, "length_range_ratio": 1.5}}, "length_range_ratio"),
    ({"benchmark": {"requests_per_client": 10, "statistic": "p99"}}, "statistic"),
    ({"benchmark": {"requests_per_client": 10, "warmup": 8}}, "warmup"),
    ({"benchmark": {"requests_per_client": 10}, "mode": "static"}, "static batch has no arrivals"),
])
def test_benchmark_block_validation(serving: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ServingConfig.model_validate(_cfg(**serving))


@pytest.mark.parametrize("runtime, needle", [
    ({"batch_wait": {"iterations": 0}}, "iterations"),
    ({"batch_wait": {"iterations": 20, "max_tokens_ratio": 2}}, "max_tokens_ratio"),
    ({"max_num_tokens": 0}, "max_num_tokens"),
])
def test_runtime_batch_wait_validation(runtime: dict[str, object], needle: str) -> None:
    data = _cfg()
    data["runtime"] = {"engine": "trtllm", **runtime}
    with pytest.raises(ValidationError, match=needle):
        ServingConfig.model_validate(data)


def test_a_static_engine_profile_refuses_the_benchmark_block(h100) -> None:
    spec, roofs = h100
    cfg = ServingConfig.model_validate({**_cfg(benchmark={"requests_per_client": 10}),
                                        "runtime": {"engine": "huggingface"}})
    context = build_context(cfg, load_model("llama-3.1-8b")[0], spec, roofs)
    if context.mode(cfg) != "static":
        pytest.skip("the huggingface profile is not static")
    with pytest.raises(InputError, match="serving.benchmark"):
        evaluate(cfg, context)


def _run(source: str, **kw: object) -> MeasuredRun:
    base = dict(line=2, id="r", engine="trtllm", engine_version="", model="meta-llama/Llama-3.1-70B",
                hardware="b200_sxm", weights=Precision.FP8, activations=Precision.FP8, kv_cache=Precision.BF16,
                weight_group_size=None, isl=1024, osl=1024, concurrency=8, tp=2, pp=1, mode="agg", ttft_s=0.3,
                tpot_s=0.01, source=source)
    return MeasuredRun(**{**base, **kw})  # type: ignore[arg-type]


def test_the_corpus_source_decides_the_harness() -> None:
    ix = "source_file=2026-04-06.csv; model=Llama-3.1-70B; silicon_concurrency=8; measured=2025-10-29T00:00:00.000Z"
    facts = harness_of(_run(ix))
    assert facts["serving"]["benchmark"] == {"requests_per_client": 10, "burst_start": True,
                                             "length_range_ratio": 0.8, "statistic": "mean"}
    assert facts["precision"] == {"kv_cache": "fp8"}
    assert facts["runtime"] == {"max_num_tokens": 16384, "batch_wait": {"iterations": 20, "max_tokens_ratio": 0.9}}
    # The scripts set the batch wait for 1024/1024 below TP 8 only.
    assert "batch_wait" not in harness_of(_run(ix, tp=8))["runtime"]
    assert "batch_wait" not in harness_of(_run(ix, osl=8192))["runtime"]
    # vLLM: the fp8 KV cache, no TensorRT-LLM flags.
    assert "runtime" not in harness_of(_run(ix, engine="vllm"))
    # aiconfigurator's own collection names no harness that is public: nothing is assumed.
    assert harness_of(_run("source_file=/Users/x/aic-auto-gap-analysis/data/h100_sxm/trtllm/1.0.0rc3/q.csv; ")) == {}
    assert inferred_engine_version(ix, engine="trtllm", model="meta-llama/Llama-3.1-70B") == "1.1.0rc2.post2"
    assert inferred_engine_version(ix, engine="vllm", model="meta-llama/Llama-3.1-70B") == "0.10.2"
    assert inferred_engine_version(ix, engine="sglang", model="meta-llama/Llama-3.1-70B") == ""
    # The serving config carries it, and validates.
    data = serving_config_data(_run(ix), model="llama-3.1-70b", hardware="b200-sxm")
    cfg = ServingConfig.model_validate(data)
    assert cfg.serving.benchmark is not None and cfg.runtime.batch_wait is not None
    assert cfg.precision.kv_cache == Precision.FP8
    plain = ServingConfig.model_validate(serving_config_data(_run(ix), model="llama-3.1-70b", hardware="b200-sxm",
                                                             harness=False))
    assert plain.serving.benchmark is None and plain.runtime.batch_wait is None


def test_calibrate_holds_a_constant_and_refuses_an_unknown_one(tmp_path) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from roofline.cli import app
    from roofline.workload.engine_profile import load_engine_profile

    data = Path(__file__).parent / "data" / "aiconfigurator" / "silicon_sample_excerpt.csv"
    runner = CliRunner()
    out = tmp_path / "held.yaml"
    result = runner.invoke(app, ["calibrate", str(data), "--engine", "vllm", "--base", "vllm", "--folds", "0",
                                 "--hold", "per_request_s,ttft_queue_share", "-o", str(out)])
    assert result.exit_code == 0, result.output
    profile = load_engine_profile("held", path=out)
    assert profile.scheduler.per_request_s == 0.0 and profile.scheduler.ttft_queue_share == 0.0
    bad = runner.invoke(app, ["calibrate", str(data), "--engine", "vllm", "--hold", "token_budget",
                              "-o", str(tmp_path / "x.yaml")])
    assert bad.exit_code == 2 and "--hold" in bad.stderr and bad.stderr.count("\n") == 1


def test_disaggregated_burst_by_hand() -> None:
    from roofline.workload.benchmark import Benchmark
    from roofline.workload.disagg import burst_ttft

    # 4 clients' first prompts into 2 prefill servers at 100 ms a prompt, 10 ms per request outside the
    # prefill (fixed cost + KV hand-off): TTFTs 0.11, 0.11, 0.21, 0.21 s; 36 more requests at the steady
    # 0.2 s: mean (0.64 + 7.2) / 40 = 0.196 s; the median is the steady state.
    bench = Benchmark(requests_per_client=10, burst_start=True, length_range_ratio=1.0, statistic="mean")
    assert burst_ttft(0.2, 4, bench, prefill_s=0.1, servers=2, fixed_s=0.01) == pytest.approx(0.196)
    median = bench.model_copy(update={"statistic": "median"})
    assert burst_ttft(0.2, 4, median, prefill_s=0.1, servers=2, fixed_s=0.01) == pytest.approx(0.2)
    # 64 clients on 2 servers: the wave climbs to 32 prefills (mean 16.5 × 0.1 + 0.01 = 1.66 s), diluted 1/10.
    assert burst_ttft(0.2, 64, bench, prefill_s=0.1, servers=2, fixed_s=0.01) == pytest.approx(0.2 + (1.66 - 0.2) / 10)
