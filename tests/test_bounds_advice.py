"""Latency-bound vs launch-bound, advice that only names what the device has, and MFU/MBU of one
trace.

Independent figures: the seed's launch floor (5–20 µs eager; the registry's 5 µs); the measured H200
captures (tests/data/h200: tiny kernels of 1–3 µs in `tiny_ops_launch`, decode GEMVs of ~11 µs per call
in `captured/decode_bf16_eager`); the datasheets (no fp8 tensor cores on Ampere, fp4 on Blackwell but
not on Hopper, no bf16 on Volta); 2·8192³ FLOPs per 8192³ GEMM and the measured H200 bf16 GEMM
ceiling of 769 TFLOP/s (SPEC §6) for MFU.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.findings import compute_remedy
from roofline.analysis.result import build_result, hardware_used, matrix_precisions
from roofline.analysis.roofline import Bound, IronLawTerms, measured_bound
from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.precision import Precision, Unit
from roofline.sources import read_input

H200 = Path(__file__).parent / "data" / "h200"


def classify(path: Path, hw: str = "h200-sxm"):
    return classify_loaded(read_input(path), load_registry(), hw, None)


# --- latency-bound: long on the GPU, far below the roof -----------------------------------------

TINY = IronLawTerms(compute_s=1e-9, memory_s=2e-8, launch_s=5e-6)  # a 4096-element add on H100


@pytest.mark.parametrize(("per_call_s", "bound"), [
    (None, Bound.LAUNCH),     # predicted: the launch floor is the largest term
    (3e-6, Bound.LAUNCH),     # a 1–3 µs elementwise kernel (tiny_ops_launch)
    (10e-6, Bound.LAUNCH),    # exactly two launch floors: still the launch's
    (11.3e-6, Bound.LATENCY),  # the decode GEMV of captured/decode_bf16_eager
])
def test_a_kernel_below_the_floor_is_launch_bound_only_while_it_is_short(per_call_s: float | None,
                                                                          bound: Bound) -> None:
    assert measured_bound(TINY, per_call_s) is bound


def test_an_under_occupied_kernel_far_below_its_roof_is_latency_bound() -> None:
    gemm = IronLawTerms(compute_s=20e-6, memory_s=5e-6, launch_s=5e-6)  # 20 µs of work at the roof
    assert measured_bound(gemm, 100e-6, blocks_per_call=64, sm_count=132) is Bound.LATENCY  # 20 % of roof
    assert measured_bound(gemm, 100e-6, blocks_per_call=264, sm_count=132) is Bound.COMPUTE  # grid fills the SMs
    assert measured_bound(gemm, 33e-6, blocks_per_call=64, sm_count=132) is Bound.COMPUTE  # 61 % of roof
    assert measured_bound(gemm, 100e-6) is Bound.COMPUTE  # no grid recorded: no evidence of under-occupancy


def test_measured_decode_gemvs_are_latency_bound_and_tiny_ops_stay_launch_bound() -> None:
    decode = classify(H200 / "captured" / "decode_bf16_eager.json.gz")
    [gemv] = [v for v in decode.kernels if v.name.startswith("nvjet_sm90_tst_8x64")]
    per_call = gemv.total_s / gemv.count
    assert per_call > 2 * gemv.launch_s and gemv.pct_of_roof < 0.1
    assert gemv.bound is Bound.LATENCY
    finding = next(f for f in decode.summary.findings if f.startswith("nvjet_sm90_tst_8x64"))
    assert "latency-bound" in finding and "CUDA graphs will not help" in finding
    tiny = classify(H200 / "kineto" / "tiny_ops_launch.json.gz")
    assert tiny.summary.verdict == "launch"
    assert not [v for v in tiny.kernels if v.bound is Bound.LATENCY]


# --- advice names only precisions the device has --------------------------------------------------

def _findings(device: str, precision: Precision) -> list[str]:
    registry = load_registry()
    spec = registry.resolve(device)
    roofs = roofs_from_spec(spec)
    work = KernelWork(name="gemm_8192", op="aten::mm", flops=2 * 8192**3, bytes=3 * 8192**2 * 2, precision=precision,
                      unit=Unit.MATRIX)
    hardware = hardware_used(spec, roofs, None)
    return build_result(inputs=["x"], source_format="declared", title=None, hardware=hardware,
                        verdicts=[classify_kernel(work, roofs)]).summary.findings


def test_compute_bound_advice_follows_the_device() -> None:
    a100 = " ".join(_findings("a100-sxm4-80gb", Precision.BF16))
    assert "fp8" not in a100 and "int8 on the matrix units (quantize" in a100  # Ampere: no fp8 tensor cores
    assert "fp8 on the matrix units" in " ".join(_findings("h100-sxm", Precision.BF16))
    assert "fp4 on the matrix units" in " ".join(_findings("b200", Precision.FP8))
    hopper_fp8 = " ".join(_findings("h100-sxm", Precision.FP8))
    assert "fp4" not in hopper_fp8 and "no matrix path faster than fp8" in hopper_fp8


def test_matrix_precisions_come_from_the_registry_roofs() -> None:
    registry = load_registry()
    spec = registry.resolve("v100-sxm2")
    have = matrix_precisions(hardware_used(spec, roofs_from_spec(spec), None))
    assert have == {"fp16"}
    assert compute_remedy("fp32", have) == "only more FLOP/s helps: fp16 on the matrix units, or less work"
    assert "where the device has one" in compute_remedy("bf16", None)


def test_the_trace_plan_proposes_fp16_not_bf16_on_a_v100() -> None:
    from roofline.planner.trace_planner import plan_trace

    def techniques(hw: str) -> list[str]:
        result = classify(H200 / "captured" / "decode_fp32_eager.json.gz", hw)
        return [s.candidate.technique for s in plan_trace(result).steps if s.candidate.rule == "half_precision_memory"]

    [v100] = techniques("v100-sxm2")
    assert "fp16" in v100 and "bf16" not in v100
    [a100] = techniques("a100-sxm4-80gb")
    assert "bf16" in a100


# --- MFU / MBU of one trace -------------------------------------------------------------------------

def test_mfu_of_the_8192_gemm_trace_is_the_analytic_flops_over_span_and_peak() -> None:
    result = classify(H200 / "kineto" / "gemm_bf16_8192.json.gz")
    u = result.summary.utilisation
    calls = sum(v.count for v in result.kernels if v.op == "aten::mm" and v.kind == "kernel")
    assert u.peak_label == "bf16 matrix" and u.flops_coverage == pytest.approx(1.0)
    assert u.flops == pytest.approx(2 * 8192**3 * calls, rel=1e-6)
    assert u.mfu == pytest.approx(2 * 8192**3 * calls / (result.summary.span_s * 989.4e12), rel=1e-6)
    # Over the whole span MFU cannot beat the measured GEMM ceiling (769 of 989.4 TFLOP/s).
    assert 0.6 < u.mfu <= 769 / 989.4 * 1.02
    assert u.mbu == pytest.approx(u.bytes / (result.summary.span_s * 4.8e12))


def test_mfu_is_withheld_when_the_costed_kernels_are_a_minority() -> None:
    u = classify(H200 / "profiled" / "llama_decode_reduce_overhead.json.gz").summary.utilisation
    assert u.flops_coverage < 0.5
    assert u.mfu is None and u.mbu is None
    assert any(note.startswith(f"MFU withheld: only {100 * u.flops_coverage:.0f}%") for note in u.notes)
