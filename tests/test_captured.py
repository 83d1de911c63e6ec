"""Traces captured on an H200 for this suite (tests/data/h200/captured): each assertion is the
diagnosis written in that folder's README *before* the GPU run (predictions section), checked
against what the tool now says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.sources import read_input

CAPTURED = Path(__file__).parent / "data" / "h200" / "captured"


def classify(name: str):
    return classify_loaded(read_input(CAPTURED / f"{name}.json.gz"), load_registry(), "auto", None)


def top(result, **match):
    kernels = [k for k in result.kernels if all(getattr(k, key) == value for key, value in match.items())]
    assert kernels, [(k.op, k.name[:40]) for k in result.kernels]
    return max(kernels, key=lambda k: k.total_s)


def test_compiled_mlp_triton_kernels_are_costed_from_their_buffers() -> None:
    result = classify("compiled_mlp_bf16")
    gelu = top(result, name="triton_poi_fused_gelu_0")
    assert gelu.source == "shapes"
    assert gelu.bound.value in ("memory", "launch")  # a fused elementwise pass: AI of a few FLOP/B
    assert gelu.ai < 10
    gemm = top(result, op="aten::addmm")
    assert gemm.bound.value == "compute"
    assert 100 < gemm.ai < 400  # 256-token GEMM: near the bf16 ridge of 206


def test_flash_attention_is_compute_bound_with_causal_flops() -> None:
    result = classify("sdpa_flash_bf16")
    flash = top(result, op="aten::_flash_attention_forward")
    assert flash.bound.value == "compute"
    # Causal: 4·B·H·S²·D / 2 = 4·2·32·2048²·128 / 2 = 68.72 GFLOP per call.
    assert flash.flops / flash.count == pytest.approx(68.72e9, rel=1e-3)
    assert flash.roof == "bf16 matrix"


def test_math_sdpa_upcasts_to_fp32_and_is_memory_heavy() -> None:
    result = classify("sdpa_math_bf16")
    bmm = top(result, op="aten::bmm")
    assert bmm.precision == "fp32" and bmm.roof == "fp32 vector"
    assert bmm.bound.value == "compute"
    assert result.summary.time_by_bound.memory > 0.4 * sum(result.summary.time_by_bound.model_dump().values())


def test_naive_attention_is_memory_bound() -> None:
    result = classify("attention_naive_bf16")
    assert result.summary.verdict == "memory"
    softmax = top(result, op="aten::_softmax")
    assert softmax.bound.value == "memory"


def test_overlapping_streams_are_counted_once() -> None:
    result = classify("multistream_bf16")
    summary = result.summary
    assert len({s.stream for s in summary.streams}) == 2
    # Union, not sum: busy time is less than the kernel time on both streams added up.
    kernel_time = sum(k.total_s for k in result.kernels)
    assert summary.gpu_busy_s < 0.95 * kernel_time
    assert summary.gpu_busy_s <= summary.span_s
    assert summary.verdict == "compute"


@pytest.mark.parametrize(
    ("name", "roof", "low", "high"),
    [
        # 8192³ fp8 in ≈738 µs ≈ 1490 TFLOP/s of 1979 (75%).
        ("fp8_gemm", "fp8 matrix", 0.65, 0.85),
        # fp32 with TF32 off runs on CUDA cores: ≈51 TFLOP/s of the 66.9 fp32 vector roof.
        ("fp32_gemm_simt", "fp32 vector", 0.65, 0.85),
        # fp32 tensors with TF32 allowed: a tf32 tensor-core kernel, ≈414 of 494.7 TFLOP/s.
        ("tf32_gemm", "tf32 matrix", 0.70, 0.95),
    ],
)
def test_gemm_precisions_meet_the_right_roof(name: str, roof: str, low: float, high: float) -> None:
    result = classify(name)
    gemm = max((k for k in result.kernels if k.kind == "kernel"), key=lambda k: k.total_s)
    assert gemm.roof == roof
    assert gemm.bound.value == "compute"
    assert low <= gemm.pct_of_roof <= high


def test_eager_decode_is_launch_bound() -> None:
    result = classify("decode_bf16_eager")
    summary = result.summary
    assert summary.verdict == "launch"
    assert summary.launch_wait_s / summary.span_s > 0.8  # ≈90% idle predicted
    assert any("CUDA graph" in f for f in summary.findings)


def test_fp32_decode_moves_twice_the_weight_bytes() -> None:
    bf16 = classify("decode_bf16_eager")
    fp32 = classify("decode_fp32_eager")
    def gemm_bytes(result):
        return sum(k.bytes or 0 for k in result.kernels if k.op == "aten::mm")
    assert gemm_bytes(fp32) == pytest.approx(2 * gemm_bytes(bf16), rel=0.05)
    assert fp32.summary.gpu_busy_s > bf16.summary.gpu_busy_s


def test_sync_per_layer_is_named() -> None:
    result = classify("decode_bf16_sync_per_layer")
    assert any("host synchronisations inside" in f for f in result.summary.findings)
    baseline = classify("decode_bf16_eager")
    assert not any("host synchronisations inside" in f for f in baseline.summary.findings)


def test_cuda_graph_decode_is_much_less_launch_bound() -> None:
    eager = classify("decode_bf16_eager")
    graph = classify("decode_bf16_cudagraph")
    assert graph.summary.graph_kernels > 0
    assert graph.summary.launch_wait_s / graph.summary.span_s < 0.5 * eager.summary.launch_wait_s / eager.summary.span_s
    assert graph.summary.span_s < eager.summary.span_s / 3
