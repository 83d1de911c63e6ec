"""Serving modes, engine profiles and calibration (issue 15): the scheduling formulas pinned to hand
arithmetic, the generic engine reproducing the first-principles model, queueing instead of refusal,
W4A4 on the fp4 roof, and `roofline calibrate` recovering constants it did not see."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.calibrate import calibrate
from roofline.planner.serving import build_context, evaluate
from roofline.planner.serving_runs import predict_runs
from roofline.precision import Precision
from roofline.workload.engine_profile import (
    EngineProfile,
    Kernels,
    Scheduler,
    SchedulerOverride,
    VersionOverride,
    load_engine_profile,
    version_matches,
)
from roofline.workload.memory import weight_bits
from roofline.workload.model import load_model
from roofline.workload.runs import MeasuredRun
from roofline.workload.scheduling import StepResult, continuous, request_host_time, residual_life, static
from roofline.workload.serving import ServingConfig

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "aiconfigurator" / "silicon_sample_excerpt.csv"


def _step(decodes: int, context: int, prompt_tokens: int, prompt: int) -> StepResult:
    # A decode step of 20 ms whatever the batch, plus 10 µs per prompt token carried.
    return StepResult((0.02 if decodes else 0.0) + 1e-5 * prompt_tokens, None)


def test_continuous_formulas_by_hand() -> None:
    sched = Scheduler(token_budget=8192, iteration_s=1e-3, per_request_s=0.01, ttft_queue_share=0.5)
    t = continuous(clients=4, capacity=4, prompt=1000, output=101, scheduler=sched, step=_step)
    # Lifetime 1 + 100 iterations; the 3 others bring 3·1000/101 = 29.7 prompt tokens per iteration,
    # one 1000-token prompt in 2.97% of the iterations.
    share = 3 * 1000 / 101 / 1000
    assert t.decode_batch == 4 and t.prefill_share == pytest.approx(share)
    tpot = (1 - share) * 0.02 + share * 0.03 + 1e-3
    assert t.tpot_s == pytest.approx(tpot)
    # TTFT: 10 ms per request + own chunk (30 ms step + 1 ms host) + half the others' 10 ms chunks + the
    # residual life of the iteration under way: iterations of 21 ms (decode + host) and, in 2.97% of
    # them, 31 ms; E[T²]/(2·E[T]) by hand (inspection paradox; half an iteration were all alike).
    mean = (1 - share) * 0.021 + share * 0.031
    residual = ((1 - share) * 0.021**2 + share * 0.031**2) / (2 * mean)
    assert residual > 0.5 * tpot
    assert t.ttft_s == pytest.approx(0.01 + 0.031 + 0.5 * 3 * 0.01 + residual)
    service = t.ttft_s + 100 * tpot
    assert t.request_rate == pytest.approx(4 / service)
    # Twice the clients that fit: each waits one more service time for a slot (Little's law).
    q = continuous(clients=8, capacity=4, prompt=1000, output=101, scheduler=sched, step=_step)
    assert q.running == 4 and q.queued == 4 and q.queue_s == pytest.approx(service)
    assert q.request_rate == pytest.approx(t.request_rate)


def test_per_layer_request_cost_by_hand() -> None:
    # aiconfigurator (aic-core vllm_backend._prefill_dispatch_overhead_ms) calibrates vLLM's eager
    # prefill dispatch at 0.8 ms per layer: Llama-3.1-70B's 80 layers cost 64 ms, Llama-3.1-8B's 32 cost
    # 25.6 ms, on top of the fixed 10 ms.
    sched = Scheduler(per_request_s=0.01, per_request_layer_s=0.8e-3)
    assert request_host_time(sched, 80) == pytest.approx(0.074)
    assert request_host_time(sched, 32) == pytest.approx(0.0356)
    # In a serving loop it moves TTFT by exactly that and leaves TPOT alone (decode is CUDA-graphed).
    base = Scheduler(token_budget=8192, iteration_s=1e-3, per_request_s=0.01, ttft_queue_share=0.5)
    layered = base.model_copy(update={"per_request_layer_s": 0.8e-3})
    a = continuous(clients=4, capacity=4, prompt=1000, output=101, scheduler=base, step=_step, layers=80)
    b = continuous(clients=4, capacity=4, prompt=1000, output=101, scheduler=layered, step=_step, layers=80)
    assert b.ttft_s - a.ttft_s == pytest.approx(0.064) and b.tpot_s == pytest.approx(a.tpot_s)
    one = static(batch=1, prompt=1000, output=11, scheduler=layered,
                 step_prefill=lambda n: StepResult(1e-5 * n * 1000, None), step=_step, layers=32)
    assert one.ttft_s == pytest.approx(0.01 + 0.0256 + 0.01 + 1e-3)  # fixed + 32 layers + prefill + host


def test_static_formulas_by_hand() -> None:
    sched = Scheduler(iteration_s=1e-3)
    t = static(batch=8, prompt=1000, output=11, scheduler=sched,
               step_prefill=lambda b: StepResult(1e-5 * b * 1000, None), step=_step)
    assert t.ttft_s == pytest.approx(0.08 + 1e-3)  # every first token after the whole batch's prefill
    assert t.tpot_s == pytest.approx(0.021)
    assert t.request_rate == pytest.approx(8 / (t.ttft_s + 10 * 0.021))


@pytest.fixture(scope="module")
def h100():
    spec = load_registry().resolve("h100-sxm")
    return spec, roofs_from_spec(spec)


def _cfg(**serving: object) -> ServingConfig:
    return ServingConfig.model_validate({
        "model": "llama-3.1-8b", "hardware": "h100-sxm", "runtime": {"cuda_graphs": True, "flash_attention": True},
        "serving": {"prompt_tokens": 1024, "output_tokens": 128, **serving}})


def test_generic_engine_at_one_client_is_one_prefill_and_one_decode_step(h100) -> None:
    spec, roofs = h100
    cfg = _cfg(concurrency=1)
    p = evaluate(cfg, build_context(cfg, load_model("llama-3.1-8b")[0], spec, roofs)).prediction
    assert p.ttft_s == pytest.approx(p.prefill.time_s) and p.itl_s == pytest.approx(p.decode.time_s)
    assert p.prefill.batch == 1 and p.prefill.new_tokens == 1024 and p.queued == 0


def test_concurrency_beyond_capacity_queues_static_refuses(h100) -> None:
    spec, roofs = h100
    arch = load_model("llama-3.1-8b")[0]
    cfg = _cfg(concurrency=5000)
    p = evaluate(cfg, build_context(cfg, arch, spec, roofs)).prediction
    assert p.running < 5000 and p.queued == 5000 - p.running and p.queue_s > 0
    assert p.ttft_s > p.queue_s
    static_cfg = _cfg(concurrency=5000, mode="static")
    with pytest.raises(InputError, match="batch 5000 does not fit"):
        evaluate(static_cfg, build_context(static_cfg, arch, spec, roofs))


def test_w4a4_needs_an_fp4_roof(h100) -> None:
    spec, roofs = h100
    cfg = ServingConfig.model_validate({"model": "llama-3.1-8b", "hardware": "h100-sxm",
                                        "precision": {"weights": "fp4", "activations": "fp4", "weight_group_size": 16}})
    with pytest.raises(InputError, match=r"no fp4 tensor-core peak \(peak_tflops.matrix.fp4"):
        build_context(cfg, load_model("llama-3.1-8b")[0], spec, roofs)
    b200 = load_registry().resolve("b200")
    context = build_context(cfg.model_copy(update={"hardware": "b200"}), load_model("llama-3.1-8b")[0], b200,
                            roofs_from_spec(b200))
    p = evaluate(cfg, context).prediction
    assert {op.precision for op in p.prefill.ops if op.kind == "gemm"} == {"fp4"}
    # NVFP4: an e4m3 scale per 16 values → 4.5 bits; MXFP4: e8m0 per 32 → 4.25 (OCP MX spec v1.0).
    assert weight_bits(Precision.FP4, 16) == 4.5 and weight_bits(Precision.FP4, 32) == 4.25


def test_unknown_engine_and_version_list_the_known_ones() -> None:
    with pytest.raises(InputError) as exc:
        load_engine_profile("vlm")
    assert "did you mean 'vllm'" in exc.value.one_line() and "trtllm" in exc.value.one_line()
    with pytest.raises(InputError, match=r"known vllm versions: .*0\.12"):
        load_engine_profile("vllm", "0.3.1")


def test_profile_with_unknown_key_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("schema_version: 1\nname: mine\nscheduler: {iteration_ms: 1}\n")
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("model: llama-3.1-8b\nhardware: h100\nserving: {concurrency: 4}\n"
                   "runtime: {engine_profile: mine.yaml}\n")
    result = runner.invoke(app, ["plan", str(cfg)])
    assert result.exit_code == 2 and "iteration_ms" in result.stderr and result.stderr.count("\n") == 1


def _hardware(name: str):
    spec = load_registry().resolve(name)
    return spec, roofs_from_spec(spec)


def _model(name: str):
    return load_model(name)[0]


def _predict(rows: list[MeasuredRun], profile: EngineProfile):
    return predict_runs(rows, hardware=_hardware, model=_model,
                        context_for=lambda cfg, a, s, r: build_context(cfg, a, s, r, profile=profile))


def _synthetic_runs(truth: EngineProfile) -> list[MeasuredRun]:
    """Two models on two devices (one model on one device cannot tell a host cost per iteration
    from slower weight streaming: both are a constant per step)."""
    template = MeasuredRun(line=0, id="", engine="generic", engine_version="", model="llama-3.1-8b",
                           hardware="h100-sxm", weights=Precision.BF16, activations=Precision.BF16,
                           kv_cache=Precision.BF16, weight_group_size=None, isl=1024, osl=128, concurrency=1, tp=1,
                           pp=1, mode="agg", ttft_s=1.0, tpot_s=1.0)
    runs = [dataclasses.replace(template, id=f"r{i}", line=i, model=model, hardware=hw, isl=isl, osl=128,
                                concurrency=c)
            for i, (model, hw, isl, c) in enumerate(
                (model, hw, isl, c) for model in ("llama-3.1-8b", "qwen3-32b") for hw in ("h100-sxm", "h200-sxm")
                for isl in (512, 2048) for c in (1, 4, 16, 64))]
    preds = _predict(runs, truth)
    return [dataclasses.replace(p.run, ttft_s=p.prediction.ttft_s, tpot_s=p.prediction.itl_s) for p in preds]


def test_calibration_recovers_constants_it_did_not_see() -> None:
    """Runs generated by the model with known host costs and queue share: the fit, started from
    zeros, finds them again (a fit that ignored its data would stay at the defaults)."""
    truth = EngineProfile(name="truth", scheduler=Scheduler(iteration_s=2e-3, per_request_s=0.05,
                                                            ttft_queue_share=0.5, graph_max_batch=512))
    runs = _synthetic_runs(truth)
    start = EngineProfile(name="fit", scheduler=Scheduler(graph_max_batch=512))
    result = calibrate(runs, start, _predict, folds=0, source="synthetic")
    s = result.profile.scheduler
    assert s.iteration_s == pytest.approx(2e-3, rel=0.1)
    assert s.per_request_s == pytest.approx(0.05, rel=0.1)
    assert s.ttft_queue_share == pytest.approx(0.5, rel=0.15)
    assert result.fit_errors[0] < 0.03 and result.fit_errors[1] < 0.03


def test_calibrate_cli_reads_the_aiconfigurator_layout(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    result = runner.invoke(app, ["calibrate", str(DATA), "--engine", "vllm", "--base", "vllm", "--folds", "0",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "fit on 24 rows" in result.stdout
    profile = load_engine_profile("mine", path=out)
    assert profile.fit is not None and profile.fit.rows_fit == 24 and profile.scheduler.token_budget == 8192
    cfg = tmp_path / "serve.yaml"
    cfg.write_text("model: qwen3-32b\nhardware: h100\ngpus: 2\nparallelism: {tensor: 2}\n"
                   "serving: {concurrency: 16}\nruntime: {engine_profile: mine.yaml}\n")
    plan = runner.invoke(app, ["plan", str(cfg), "-f", "md"])
    assert plan.exit_code == 0, plan.output and "engine: vllm" in plan.stdout


@pytest.mark.parametrize(("text", "needle"), [
    ("model,hardware,tp,isl,osl,concurrency,ttft_ms\nllama-3.1-8b,h100,1,1024,128,4,50\n", "missing column 'tpot_ms'"),
    ("model,hardware,tp,isl,osl,concurrency,ttft_ms,tpot_ms\nllama-3.1-8b,h100,1,1024,128,4,fast,10\n",
     "line 2, column 'ttft_ms': not a number: 'fast'"),
])
def test_calibrate_bad_csv_is_one_line_exit_2(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "runs.csv"
    path.write_text(text)
    result = runner.invoke(app, ["calibrate", str(path), "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "p.yaml").exists()


def test_too_few_rows_keep_defaults_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "runs.csv"
    path.write_text("model,hardware,tp,isl,osl,concurrency,ttft_ms,tpot_ms\n"
                    "llama-3.1-8b,h100,1,1024,128,1,40,8\nllama-3.1-8b,h100,1,1024,128,8,90,9\n")
    result = runner.invoke(app, ["calibrate", str(path), "--folds", "0", "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    assert "warning: scheduler.iteration_s not fitted" in result.stderr and "kept the default" in result.stderr


def test_residual_life_is_the_inspection_paradox() -> None:
    # Iterations of 10 ms and, one in ten, 100 ms: an arrival lands in a long one with probability
    # 100/(0.9·10 + 0.1·100) = 10/19 of the time and waits E[T²]/(2E[T]) = (0.9·1e-4 + 0.1·1e-2)/(2·0.019).
    assert residual_life(0.1, 0.010, 0.100) == pytest.approx((0.9 * 1e-4 + 0.1 * 1e-2) / (2 * 0.019))
    assert residual_life(0.0, 0.010, 0.100) == pytest.approx(0.005)  # all alike: half an iteration


def test_version_prefixes_match_by_component() -> None:
    assert version_matches("0.5.1", "0.5.1.post1") and version_matches("0.5.1", "0.5.1")
    assert not version_matches("0.5.1", "0.5.10") and not version_matches("0.5.1", "0.5")
    assert version_matches("1.0.0", "1.0.0rc3") and version_matches("0.12", "0.12.0")
    assert not version_matches("1.0.0", "1.0.01")


def test_version_override_replaces_only_what_it_sets() -> None:
    base = EngineProfile(name="x", versions=["0.5"], scheduler=Scheduler(per_request_s=0.1, ttft_queue_share=0.1),
                         kernels=Kernels(gemm_compute={"bf16": 0.8, "fp8": 0.5}),
                         by_version={"0.5.1": VersionOverride(scheduler=SchedulerOverride(ttft_queue_share=0.6),
                                                              kernels=Kernels(gemm_compute={"fp8": 0.7}))})
    v = base.for_version("0.5.1.post1")
    assert v.scheduler.ttft_queue_share == 0.6 and v.scheduler.per_request_s == 0.1
    assert v.kernels.gemm_compute == {"bf16": 0.8, "fp8": 0.7}
    assert base.for_version("0.5.6").scheduler.ttft_queue_share == 0.1  # no override: the profile's own
    assert base.for_version(None) is base


def test_bundled_sglang_releases_differ_in_queueing() -> None:
    # Fitted on the fit split (benchmarks/fidelity/fit_profiles.py): SGLang 0.5.1's Qwen3-32B sweeps are
    # synchronised waves (TTFT ≈ 0.55·C prefills), 0.5.6's Llama-8B sweeps are not.
    old, new = load_engine_profile("sglang", "0.5.1.post1"), load_engine_profile("sglang", "0.5.6.post2")
    assert old.scheduler.ttft_queue_share > 0.3 > new.scheduler.ttft_queue_share
    with pytest.raises(InputError, match="known sglang versions"):
        load_engine_profile("sglang", "9.9")


def test_calibration_separates_the_per_layer_request_cost() -> None:
    """Two models of 32 and 64 layers: a per-request cost of 20 ms plus 0.8 ms per layer (35.6 ms and
    71.2 ms) is found again as its two parts, not as one mean constant."""
    truth = EngineProfile(name="truth", scheduler=Scheduler(iteration_s=2e-3, per_request_s=0.02,
                                                            per_request_layer_s=0.8e-3, ttft_queue_share=0.5,
                                                            graph_max_batch=512))
    runs = _synthetic_runs(truth)
    start = EngineProfile(name="fit", scheduler=Scheduler(graph_max_batch=512))
    result = calibrate(runs, start, _predict, folds=0, source="synthetic")
    s = result.profile.scheduler
    assert s.per_request_layer_s == pytest.approx(0.8e-3, rel=0.15)
    assert s.per_request_s == pytest.approx(0.02, rel=0.3)
    assert result.fit_errors[0] < 0.03


def test_continuous_is_prefill_bound_when_the_budget_cannot_feed_the_decodes() -> None:
    # 2,048-token prompts, 128 output tokens, an 8,192-token budget: an iteration of D decodes finishes
    # D/127 requests whose prompts bring D·2048/127 tokens, so D + D·2048/127 ≤ 8192 → D ≤ 478.3
    # (8192·127/2175), whatever the 1,024 requests running.
    sched = Scheduler(token_budget=8192, iteration_s=0.0, per_request_s=0.0, ttft_queue_share=0.0)
    t = continuous(clients=1024, capacity=1024, prompt=2048, output=128, scheduler=sched, step=_step)
    assert t.decode_batch == 478
    # Each request spends 1024·127/478 = 272.1 iterations in the engine, so the replica completes
    # 478/127 requests per iteration: throughput is set by the budget, not by the 1,024 sequences.
    tpot = t.tpot_s
    assert t.request_rate * tpot == pytest.approx(478 / 127, rel=0.02)
    # The iterations beyond its own 1 + 127 are spent waiting for its prefill: TTFT holds them.
    assert t.ttft_s > (1024 * 127 / 478 - 128) * tpot
    # Below the bound nothing changes: 64 requests decode 63.5 at a time (unbounded formula).
    u = continuous(clients=64, capacity=64, prompt=2048, output=128, scheduler=sched, step=_step)
    assert u.decode_batch == round(64 * 127 / 128)


def _confounded_rows(ratio_varies: bool):
    """TTFT = 0.3·t·k_attention + 0.6·t·k_fp4 + 50 ms, both multipliers 1.5 (efficiencies 0.45/1.5 = 0.3
    and 0.78/1.5 = 0.52); TPOT = 10 ms of bf16 weight streaming at multiplier 1. With the two class times in the
    same ratio in every row only their sum is seen (0.3·k1 + 0.6·k2 = 1.35, by hand); with the ratio
    varying from row to row both are seen."""
    from roofline.planner.calibrate import Features

    rows = []
    for i in range(24):
        t = 0.05 * (1 + i % 6)
        att, fp4 = (0.3 * t * (1 + 0.5 * (i % 4)), 0.6 * t) if ratio_varies else (0.3 * t, 0.6 * t)
        f = Features(tpot={"gemm_memory:bf16": 0.01}, ttft={"attention_prefill": att, "gemm_compute:fp4": fp4,
                                                              "per_request_s": 1.0})
        rows.append((f, 0.01, 1.5 * att + 1.5 * fp4 + 0.05, 0.0, 0.0))
    return rows


def test_calibration_refuses_two_constants_the_rows_see_only_together() -> None:
    from roofline.planner.calibrate import fit_constants
    from roofline.workload.efficiency import Efficiency

    base = Efficiency()
    confounded = fit_constants(_confounded_rows(False), base)
    refused = [k for k in ("attention_prefill", "gemm_compute:fp4") if k not in confounded.fitted]
    assert len(refused) == 1, confounded.kept
    other = ("kernels.gemm_compute.fp4" if refused[0] == "attention_prefill"
             else "kernels.prefill_attention_compute")
    assert "do not identify" in confounded.kept[refused[0]] and other in confounded.kept[refused[0]]
    v = confounded.values
    assert v[refused[0]] == 1.0  # kept at its default multiplier
    assert 0.3 * v["attention_prefill"] + 0.6 * v["gemm_compute:fp4"] == pytest.approx(1.35, rel=0.02)
    assert v["per_request_s"] == pytest.approx(0.05, rel=0.05)
    # The control: a check that refused every constant would fail here.
    separated = fit_constants(_confounded_rows(True), base)
    assert {"attention_prefill", "gemm_compute:fp4"} <= set(separated.fitted)
    assert separated.values["attention_prefill"] == pytest.approx(1.5, rel=0.03)
    assert separated.values["gemm_compute:fp4"] == pytest.approx(1.5, rel=0.03)


def test_measured_ceiling_bounds_a_gemm_efficiency() -> None:
    from roofline.planner.calibrate import fit_constants, gemm_ceilings
    from roofline.workload.efficiency import Efficiency

    # aiconfigurator's fastest NVFP4 GEMM: 5,764 TFLOP/s on B200 (datasheet 9,000) and 6,478 on GB200
    # (10,000): hwspecs/measured/*-aiconfigurator-gemm.yaml. The larger share bounds; a device without a
    # measurement of a precision leaves that precision unbounded.
    assert gemm_ceilings([("fp4", 9000.0, 5764.0),
                          ("fp4", 10000.0, 6478.0)]) == {"fp4": pytest.approx(0.6478)}
    assert gemm_ceilings([("fp8", 1978.9, 1418.7), ("fp8", 4500.0, None)]) == {}
    # Rows that want fp4 GEMMs faster than the datasheet (multiplier 0.5 → efficiency 1.56): the fit stops
    # at the bound of its multiplier, 0.78 / 0.6478 (efficiency 0.6478), not at the datasheet's 0.78.
    from roofline.planner.calibrate import Features
    rows = [(Features(tpot={"gemm_memory:bf16": 0.01},
                      ttft={"gemm_compute:fp4": 0.1 * (1 + i % 5), "per_request_s": 1.0}),
             0.01, 0.05 * (1 + i % 5) + 0.02, 0.0, 0.0) for i in range(20)]
    free = fit_constants(rows, Efficiency())
    bounded = fit_constants(rows, Efficiency(), ceilings={"fp4": 0.6478})
    assert free.values["gemm_compute:fp4"] == pytest.approx(0.78)
    assert bounded.values["gemm_compute:fp4"] == pytest.approx(0.78 / 0.6478, rel=1e-3)


def test_calibrate_cli_warns_of_a_constant_the_rows_do_not_identify(tmp_path: Path) -> None:
    # The excerpt's vLLM rows are one model (Qwen3-32B, 64 layers): a cost per request and one per request
    # and layer are the same column there, so one of them is refused and the other named.
    out = tmp_path / "mine.yaml"
    result = runner.invoke(app, ["calibrate", str(DATA), "--engine", "vllm", "--base", "vllm", "--folds", "0",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stderr.splitlines() if "do not identify" in x)
    assert line.startswith("warning: scheduler.per_request") and "trades against" in line
    assert "kept the default" in line
    assert "note: kernels.gemm_compute.bf16 bounded by the measured GEMM ceiling" in result.stderr
