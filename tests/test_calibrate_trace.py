"""`roofline calibrate TRACE...`: an engine profile fitted to profiler traces (issue #15, deliverable 3).

Fixtures: tests/data/h200/calibrate/ (HF Llama steps on an H200, with un-profiled timings of the same
steps in unprofiled.json)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import roofline
from roofline.app.calibrate_trace import calibrate_traces, input_kind, split_inputs
from roofline.cli import app
from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.planner.calibrate_trace import (
    KernelSample,
    StepSample,
    TraceFacts,
    fit_trace_profile,
    latency_fit,
    op_class,
    predict_busy_s,
    trace_facts,
)
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import EngineProfile, load_engine_profile, load_profile_file

DATA = Path(__file__).parent / "data" / "h200" / "calibrate"
FIT = sorted(DATA.glob("hf_1b_*.json.gz"))
PREFILL = DATA / "hf_1b_prefill_eager_b1_t2048.json.gz"
H200_BF16_PEAK = 989.4e12  # hwspecs/h200-sxm.yaml: dense bf16 tensor-core peak (H100 SXM compute)
runner = CliRunner()


@pytest.fixture(scope="module")
def fitted():
    return calibrate_traces(FIT, load_engine_profile("huggingface"), load_registry(), hw="h200-sxm")


def test_gemm_efficiency_is_flops_over_time_over_peak_by_hand() -> None:
    # The MLP gate/up GEMMs of the 2048-token prefill: [2048 × 2048] · [2048 × 5632] bf16, so
    # 2·M·N·K = 2 · 2048 · 5632 · 2048 = 47.24 GFLOP a call (16 layers × 2 projections × 2 steps = 64 calls).
    flops = 2 * 2048 * 5632 * 2048
    result = roofline.classify(PREFILL, hw="h200-sxm")
    group = next(k for k in result.kernels if k.op == "aten::mm" and k.flops and
                 abs(k.flops / k.count - flops) < 1)
    assert group.count == 64
    by_hand = flops / (group.total_s / group.count) / H200_BF16_PEAK
    assert 0.70 < by_hand < 0.85  # ~790 TFLOP/s: the H200's measured 8192³ bf16 rate is 769–786
    sample = next(s for s in trace_facts(result, PREFILL.name).kernels
                  if s.op_class == "gemm_compute" and s.calls == 64 and abs(s.measured_s - group.total_s) < 1e-12)
    assert sample.roof_s / sample.measured_s == pytest.approx(by_hand, rel=1e-6)


def test_fit_table_names_every_class_and_its_kernels(fitted) -> None:
    keys = {c.key: c for c in fitted.calibration.constants}
    for key in ("kernels.gemm_memory.bf16", "kernels.gemm_compute.bf16", "kernels.decode_attention_memory",
                "kernels.prefill_attention_compute", "kernels.elementwise_memory", "kernels.host_s_per_kernel",
                "kernels.graph_gap_s", "kernels.gemm_memory_half_bytes"):
        assert key in keys, key
        c = keys[key]
        assert c.kernels >= 8
        if key != "kernels.gemm_memory.bf16":  # η at infinite size: above every finite group's
            assert c.spread[0] <= c.value <= max(c.spread[1], 1.0)
    # Compute-band GEMMs at 512–2048 rows: 78–87% of the peak once the tile fill is divided out
    # (efficiency.py: 769/989 at 8192³ on this GPU).
    assert 0.72 < keys["kernels.gemm_compute.bf16"].value < 0.9
    # fp32 GEMMs (HF's rotary inv_freq outer product) are all tiny: kept, and said so.
    assert "kernels.gemm_memory.fp32" in fitted.calibration.kept
    # The profiler adds as much per replayed kernel as the submit cost: not fitted, and said so.
    assert "CUPTI" in fitted.calibration.kept["kernels.graph_submit_s_per_kernel"]


def test_host_time_per_kernel_matches_the_unprofiled_step(fitted) -> None:
    # The same eager decode step timed without the profiler: 10.85 ms for its 694 kernels
    # (unprofiled.json; kernel count from the trace) = 15.6 µs a kernel, the GPU busy 2.1 ms of it.
    record = next(r for r in json.loads((DATA / "unprofiled.json").read_text())["records"]
                  if r["trace"] == "hf_1b_decode_eager_b1_t512.json.gz")
    per_kernel = record["measured_s"] / 694
    host = next(c for c in fitted.calibration.constants if c.key == "kernels.host_s_per_kernel").value
    assert per_kernel * 0.9 <= host <= per_kernel * 1.2


def test_weight_streaming_pays_a_latency_per_call(fitted) -> None:
    # The LM head GEMV of the batch-1 decode, by hand: [1 × 2048] · [2048 × 32000] bf16 reads
    # 2 · 2048 · 32000 B = 131.1 MB, at 4.8 TB/s 27.3 µs; it ran in 34.3 µs (0.80 of the bandwidth),
    # while the 16 MB projections reach under half. The fitted t = t0 + B/(η·BW) predicts it within 10%.
    result = roofline.classify(DATA / "hf_1b_decode_eager_b1_t512.json.gz", hw="h200-sxm")
    head = next(k for k in result.kernels if k.op == "aten::mm" and k.bytes and k.bytes / k.count > 100e6)
    weights = 2 * 2048 * 32000
    assert head.bytes / head.count == pytest.approx(weights, rel=0.001)
    eff = fitted.calibration.profile.efficiency(Efficiency())
    eta = eff.gemm_memory_for("bf16") * weights / (weights + eff.gemm_memory_half_bytes)
    assert weights / 4.8e12 / eta == pytest.approx(head.total_s / head.count, rel=0.10)
    small = [k for k in result.kernels if k.op == "aten::mm" and k.bytes and 10e6 < k.bytes / k.count < 30e6]
    assert small and all(k.memory_s * k.count / k.total_s < 0.6 for k in small)


def test_latency_fit_recovers_a_synthetic_ramp() -> None:
    # t = 3 µs + B / (0.85 × 4.8 TB/s) at four sizes, one outlier call group: η and t0 come back.
    bw, eta, t0 = 4.8e12, 0.85, 3e-6
    samples = [KernelSample("gemm_memory", "bf16", 32, 32 * (t0 + b / (eta * bw)), 32 * b / bw, 1.0, False, b, b / bw)
               for b in (4e6, 16e6, 64e6, 256e6)]
    samples.append(KernelSample("gemm_memory", "bf16", 2, 2 * 30e-6, 2 * 8e6 / bw, 1.0, False, 8e6, 8e6 / bw))
    fit = latency_fit(samples)
    assert fit is not None
    assert fit[0] == pytest.approx(eta, rel=0.02) and fit[1] == pytest.approx(t0, rel=0.05)
    assert latency_fit(samples[1:3]) is None  # two sizes: not enough to tell latency from bandwidth


def test_graph_replay_is_detected_and_gives_launch_constants_only(fitted) -> None:
    graphs = [f for f in fitted.facts if f.graph]
    assert {f.name for f in graphs} == {p.name for p in FIT if "cudagraph" in p.name}
    assert all(f.costed_share < 0.05 for f in graphs)  # replayed kernels carry no op shapes
    gap = next(c for c in fitted.calibration.constants if c.key == "kernels.graph_gap_s").value
    assert 0.3e-6 < gap < 0.6e-6  # efficiency.py: 0.42 µs median between replayed kernels (earlier H200 traces)


def test_leave_one_trace_out_predicts_the_costed_traces(fitted) -> None:
    scored = [h for h in fitted.held_out if h.costed_share >= 0.5]
    assert len(fitted.held_out) == len(FIT) and len(scored) == 3
    assert all(abs(h.error) < 0.35 for h in scored)


def _sample(cls: str, calls: int, roof_s: float, measured_s: float) -> KernelSample:
    return KernelSample(cls, "bf16", calls, measured_s, roof_s, 0.0, False)


def test_too_few_kernels_keep_the_default_and_say_so() -> None:
    facts = TraceFacts("t", [_sample("elementwise", 4, 4 * 10e-6, 4 * 20e-6),
                             _sample("gemm_memory", 50, 50 * 10e-6, 50 * 12.5e-6)], [], 1e-3, 1e-3, False)
    base = EngineProfile(name="x")
    cal = fit_trace_profile([facts], base)
    assert "kernels.elementwise_memory" in cal.kept and "4 usable calls" in cal.kept["kernels.elementwise_memory"]
    assert cal.profile.kernels.elementwise_memory is None
    assert cal.profile.kernels.gemm_memory == {"bf16": 0.8}  # 10 µs of roof in 12.5 µs


def test_host_time_needs_a_host_bound_step() -> None:
    busy = StepSample(span_s=1e-3, busy_s=0.9e-3, kernels=100, graph=False, launch_wait_s=0.1e-3, graph_gap_s=0.0,
                      host_ops=0)
    bound = StepSample(span_s=4e-3, busy_s=1e-3, kernels=100, graph=False, launch_wait_s=3e-3, graph_gap_s=0.0,
                       host_ops=500)
    assert "host-bound" in fit_trace_profile([TraceFacts("a", [], [busy], 1e-3, 1e-3, False)],
                                             EngineProfile(name="x")).kept["kernels.host_s_per_kernel"]
    cal = fit_trace_profile([TraceFacts("b", [], [bound], 1e-3, 1e-3, False)], EngineProfile(name="x"))
    assert cal.profile.kernels.host_s_per_kernel == pytest.approx(28e-6)  # (4 ms − 500 × 2.4 µs) / 100


def test_attention_phase_from_its_intensity() -> None:
    assert op_class("aten::_cudnn_attention_forward", "matrix", 1e-6, 5e-6, ai=4.0) == "attention_decode"
    assert op_class("aten::_cudnn_attention_forward", "matrix", 5e-6, 4e-6, ai=600.0) == "attention_prefill"
    assert op_class("aten::mm", "matrix", 1e-6, 5e-6, ai=1.0) == "gemm_memory"
    assert op_class("aten::cat", "vector", 0.0, 5e-6) == "other"


def test_predicted_busy_uses_the_fitted_efficiency() -> None:
    facts = TraceFacts("t", [_sample("gemm_memory", 10, 10 * 8e-6, 10 * 10e-6)], [], 2e-4, 2e-4, False)
    eff = Efficiency(gemm_memory_by_precision={"bf16": 0.5})
    assert predict_busy_s(facts, eff) == pytest.approx(10 * 16e-6)


def test_profile_launch_constants_reach_the_step_model() -> None:
    profile = EngineProfile(name="x", kernels={"host_s_per_kernel": 3e-5, "graph_gap_s": 1e-6})
    eff = profile.efficiency(Efficiency())
    assert eff.host_s_per_kernel == 3e-5 and eff.graph_gap_s == 1e-6


def test_cli_writes_a_loadable_profile_and_prints_the_fit(tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    result = runner.invoke(app, ["calibrate", *map(str, FIT[:4]), "--base", "huggingface", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "kernels.gemm_memory.bf16" in result.output and "leave one trace out" in result.output
    assert "CUDA graph" in result.output and "eager" in result.output  # the per-trace table
    profile = load_profile_file(out)
    assert profile.framework == "huggingface" and profile.kernels.host_s_per_kernel
    assert profile.fit is not None and profile.fit.split == "traces"


def test_cli_one_trace_has_no_held_out_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(PREFILL), "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    assert "no leave-one-trace-out error" in result.output


def _one_line_exit_2(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_mixed_csv_and_traces_is_an_error(tmp_path: Path) -> None:
    csv = tmp_path / "runs.csv"
    csv.write_text("model,hardware,tp,isl,osl,concurrency,ttft_ms,tpot_ms\n")
    result = runner.invoke(app, ["calibrate", str(csv), str(PREFILL), "-o", str(tmp_path / "p.yaml")])
    _one_line_exit_2(result, "runs.csv", "mixes")


def test_cpu_only_trace_is_an_error(tmp_path: Path) -> None:
    trace = tmp_path / "cpu_only.json"
    trace.write_text(json.dumps({"traceEvents": [
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 0, "dur": 10, "pid": 1, "tid": 1,
         "args": {"Input Dims": [[4, 4], [4, 4]], "Input type": ["float", "float"]}},
        {"ph": "X", "cat": "cpu_op", "name": "aten::add", "ts": 20, "dur": 5, "pid": 1, "tid": 1, "args": {}}]}))
    result = runner.invoke(app, ["calibrate", str(trace), "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2, result.output
    assert "cpu_only.json" in result.output and "CUDA" in result.output


def test_truncated_trace_is_an_error(tmp_path: Path) -> None:
    text = gzip.decompress(PREFILL.read_bytes())[:4000]
    trace = tmp_path / "cut.json"
    trace.write_bytes(text)
    result = runner.invoke(app, ["calibrate", str(trace), "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 2, result.output
    assert "cut.json" in result.output


def test_csv_options_do_not_apply_to_traces(tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", str(PREFILL), "--split", "fit", "-o", str(tmp_path / "p.yaml")])
    _one_line_exit_2(result, "--split")


def test_input_kind_by_name_then_content(tmp_path: Path) -> None:
    assert input_kind(PREFILL) == "trace"
    plain = tmp_path / "trace.txt"
    plain.write_text('{"traceEvents": []}')
    assert input_kind(plain) == "trace"
    assert input_kind(tmp_path / "runs.csv") == "csv"
    with pytest.raises(InputError, match="more than one CSV"):
        split_inputs([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_a_trace_that_fits_nothing_says_so(tmp_path: Path) -> None:
    gelu = Path(__file__).parent / "data" / "h200" / "kineto" / "gelu_bf16_256M.json.gz"
    result = runner.invoke(app, ["calibrate", str(gelu), "-o", str(tmp_path / "p.yaml")])
    assert result.exit_code == 0, result.output
    assert "no constant fitted" in result.output


def test_streaming_latency_term_in_the_step_model() -> None:
    from roofline.hardware.spec import roofs_from_spec
    from roofline.precision import Precision, Unit
    from roofline.workload.op_record import PhaseOp
    from roofline.workload.predict import op_time

    roofs = roofs_from_spec(load_registry().resolve("h200-sxm"))
    # A 2048 × 5632 bf16 GEMV split in two kernels (HF's gate and up): 2 × 23.1 MB.
    per_kernel = 2 * 2048 * 5632
    op = PhaseOp("gate_up", "gemm", 2 * 2 * 2048 * 5632, 2 * per_kernel, Precision.BF16, Unit.MATRIX, 2, 1, rows=1)
    plain, _, _ = op_time(op, roofs, Efficiency(gemm_memory=0.8))
    # half_bytes = one kernel's bytes: each kernel streams at half of η, so the time doubles.
    halved, _, _ = op_time(op, roofs, Efficiency(gemm_memory=0.8, gemm_memory_half_bytes=per_kernel))
    assert plain == pytest.approx(2 * per_kernel / (4.8e12 * 0.8), rel=1e-6)
    assert halved == pytest.approx(2 * plain, rel=1e-6)



def test_a_calibrated_profile_is_used_by_plan(tmp_path: Path) -> None:
    # runtime.engine_profile: the written file drives `roofline plan`. An eager HF decode step is
    # host-bound (kernels × host time each), so its ITL grows by the ratio of the host constants.
    profile = tmp_path / "my-hf.yaml"
    assert runner.invoke(app, ["calibrate", *map(str, FIT), "--base", "huggingface", "-o", str(profile)]).exit_code == 0
    host = load_profile_file(profile).kernels.host_s_per_kernel
    config = ("model: llama-3-8b\nhardware: h200-sxm\ngpus: 1\n"
              "precision: {weights: bf16, activations: bf16, kv_cache: bf16}\n"
              "serving: {batch: 1, prompt_tokens: 512, output_tokens: 64}\n"
              "runtime: {cuda_graphs: false, flash_attention: true, %s}\n")
    itl = {}
    for name, runtime in (("mine", "engine_profile: my-hf.yaml"), ("bundled", "engine: huggingface")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(config % runtime)
        result = runner.invoke(app, ["plan", str(path), "--format", "json"])
        assert result.exit_code == 0, result.output
        itl[name] = json.loads(result.output)["baseline"]["itl_s"]
    assert itl["mine"] / itl["bundled"] == pytest.approx(host / Efficiency().huggingface_host_s_per_kernel, rel=0.1)


def test_traces_of_two_devices_are_an_error(tmp_path: Path) -> None:
    b200 = Path(__file__).parent / "data" / "external" / "tracelens" / "b200" / "eager_trace.json.gz"
    result = runner.invoke(app, ["calibrate", str(PREFILL), str(b200), "-o", str(tmp_path / "p.yaml")])
    _one_line_exit_2(result, "eager_trace.json.gz", "b200", "h200-sxm")
