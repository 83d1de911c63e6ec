"""The roofline and iron-law formulas, pinned to numbers computed by hand or in the seed chapter."""

from __future__ import annotations

import math

import pytest

from roofline.analysis.roofline import (
    Bound,
    IronLawTerms,
    arithmetic_intensity,
    attainable_flops_per_s,
    fraction_of_roof,
    iron_law_terms,
    ridge_point,
)

H100_FP16 = 989.4e12  # H100 whitepaper v1.04, dense
H100_BW = 3.35e12


def test_ridge_point_h100_fp16_matches_seed() -> None:
    # Seed 002, eq. 3: 989 TFLOP/s / 3.35 TB/s ≈ 295 FLOP/byte (295.2 in the text).
    assert ridge_point(H100_FP16, H100_BW) == pytest.approx(295.3, abs=0.1)


def test_ridge_point_h100_fp8_matches_seed() -> None:
    # Seed 002: 1979 TFLOP/s / 3.35 TB/s ≈ 590.7 FLOP/byte.
    assert ridge_point(1978.9e12, H100_BW) == pytest.approx(590.7, abs=0.1)


def test_gemm_4096_intensity_matches_seed() -> None:
    # 2·4096³ FLOPs; A, B, C of 4096² fp16 each moved once: 137.4 GFLOP, 100.7 MB, AI ≈ 1365.3.
    n = 4096
    flops = 2 * n**3
    num_bytes = 3 * n * n * 2
    assert flops == pytest.approx(137.4e9, rel=1e-3)
    assert num_bytes == pytest.approx(100.7e6, rel=1e-3)
    assert arithmetic_intensity(flops, num_bytes) == pytest.approx(1365.3, abs=0.1)


def test_gelu_intensity_matches_seed() -> None:
    # ~5 FLOPs per element, 2 bytes read + 2 written per fp16 element: AI ≈ 1.2 (seed: "≈ 1.2").
    elements = 4096 * 4096
    assert arithmetic_intensity(5 * elements, 4 * elements) == pytest.approx(1.25)


def test_attainable_is_min_of_peak_and_slope() -> None:
    # Below the ridge: AI × BW; above: the peak.
    assert attainable_flops_per_s(1.0, H100_FP16, H100_BW) == pytest.approx(3.35e12)
    assert attainable_flops_per_s(1365.3, H100_FP16, H100_BW) == pytest.approx(H100_FP16)
    assert attainable_flops_per_s(math.inf, H100_FP16, H100_BW) == H100_FP16


def test_decode_70b_tp8_time_from_bandwidth() -> None:
    # Napkin math 1.1: 17.5 GB per GPU / 3.35 TB/s ≈ 5.2 ms per token, ≈ 191 tokens/s, AI = 1.
    terms = iron_law_terms(17.5e9, 17.5e9, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=0)
    assert terms.memory_s == pytest.approx(5.22e-3, rel=1e-3)
    assert 1 / terms.memory_s == pytest.approx(191.4, abs=0.1)
    assert terms.bound is Bound.MEMORY


def test_exactly_at_the_ridge_is_compute_bound() -> None:
    # AI = ridge ⇒ F/R == B/BW: the kernel can just reach the peak; the seed calls I < ridge memory-bound.
    num_bytes = 1e9
    flops = ridge_point(H100_FP16, H100_BW) * num_bytes
    terms = iron_law_terms(flops, num_bytes, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert terms.compute_s == pytest.approx(terms.memory_s)
    assert terms.bound is Bound.COMPUTE
    just_below = iron_law_terms(flops * 0.999, num_bytes, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert just_below.bound is Bound.MEMORY


def test_zero_bytes_is_infinitely_intense_and_compute_bound() -> None:
    assert arithmetic_intensity(1e12, 0) == math.inf
    terms = iron_law_terms(1e12, 0, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert terms.bound is Bound.COMPUTE


def test_no_work_at_all_is_launch_bound() -> None:
    assert arithmetic_intensity(0, 0) == 0.0
    terms = iron_law_terms(0, 0, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert terms.bound is Bound.LAUNCH
    # Even with a zero launch floor there is nothing but overhead.
    assert IronLawTerms(0, 0, 0).bound is Bound.LAUNCH


def test_pure_copy_is_memory_bound() -> None:
    terms = iron_law_terms(0, 1e9, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert terms.bound is Bound.MEMORY
    assert terms.memory_s == pytest.approx(1e9 / 3.35e12)


def test_tiny_kernel_is_launch_bound() -> None:
    # 1024 fp32 elements, y = x*a + b: 2 FLOPs and 8 bytes each — nanoseconds of work vs a 5 µs floor.
    terms = iron_law_terms(2048, 8192, peak_flops_per_s=66.9e12, bandwidth_bytes_per_s=H100_BW, launch_floor_s=5e-6)
    assert terms.memory_s == pytest.approx(2.45e-9, rel=1e-2)
    assert terms.bound is Bound.LAUNCH
    assert terms.predicted_s == pytest.approx(5e-6 + 8192 / 3.35e12)


def test_fraction_of_roof() -> None:
    # The seed's 70B decode reaching 2.7 TB/s on a 3.35 TB/s part is ≈ 80% of its (memory) roof.
    terms = iron_law_terms(17.5e9, 17.5e9, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=0)
    measured = 17.5e9 / 2.7e12
    assert fraction_of_roof(terms, measured) == pytest.approx(2.7 / 3.35)
    # A GEMM at 780 TFLOP/s on a 989.4 roof: achieved/attainable = 78.8%.
    gemm = iron_law_terms(137.4e9, 100.7e6, peak_flops_per_s=H100_FP16, bandwidth_bytes_per_s=H100_BW, launch_floor_s=0)
    assert fraction_of_roof(gemm, 137.4e9 / 780e12) == pytest.approx(780 / 989.4)


@pytest.mark.parametrize("bad", [(-1.0, 1.0), (1.0, -1.0)])
def test_negative_work_is_rejected(bad: tuple[float, float]) -> None:
    with pytest.raises(ValueError):
        arithmetic_intensity(*bad)
    with pytest.raises(ValueError):
        iron_law_terms(*bad, peak_flops_per_s=1, bandwidth_bytes_per_s=1, launch_floor_s=0)
