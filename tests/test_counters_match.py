"""``--counters`` of another run is refused (issue 14: HTA-style name matching reported
"754831x its model FLOPs" with exit 0). Pairs are this repository's own H200 captures:
ops_metrics_raw.csv is Nsight Compute on single ops (GEMV 1x8192·8192x28672, GELU on 2^26 bf16,
a 1024-element add, …; tests/data/ncu/README.md), the kineto traces are other programs except
gemv_bf16_decode (the same GEMV)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.analysis.classify import KernelWork
from roofline.app.classify import COUNTER_FLOPS_RATIO, COUNTER_TIME_RATIO, counter_disagreement
from roofline.cli import app

DATA = Path(__file__).parent / "data"
KINETO = DATA / "h200" / "kineto"
NCU = DATA / "ncu"
runner = CliRunner()


def _classify(trace: Path, counters: Path):
    return runner.invoke(app, ["classify", str(trace), "--counters", str(counters), "--format", "json"])


def test_counters_of_the_same_kernel_are_attached_with_their_coverage() -> None:
    result = _classify(KINETO / "gemv_bf16_decode.json.gz", NCU / "ops_metrics_raw.csv")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert any(k.get("hardware_flops") for k in data["kernels"])
    assert any("matched 1 of 1 kernel groups by name (100.0% of kernel time)" in f
               for f in data["summary"]["findings"])


@pytest.mark.parametrize("trace,counters,names", [
    # The case: a decode step's elementwise kernels matched to a 2^26-element GELU.
    (DATA / "h200" / "captured" / "decode_bf16_eager.json.gz", "ops_metrics_raw.csv",
     "vectorized_elementwise_kernel<8, …> (aten::"),
    (KINETO / "mini_decode_eager.json.gz", "ops_metrics_raw.csv", "88.6 µs a call in the counters"),
    (DATA / "h200" / "captured" / "tf32_gemm.json.gz", "precisions_roofline_sections_raw.csv",
     "64.8 µs a call in the counters, 2.66 ms in the trace"),
])
def test_counters_of_another_run_are_refused_naming_the_kernels(trace: Path, counters: str, names: str) -> None:
    result = _classify(trace, NCU / counters)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in result.output
    assert "these counters are not of this trace's run" in line and names in line
    assert "export Nsight Compute counters of the same program" in line


def test_counters_naming_no_kernel_of_the_trace_are_refused() -> None:
    result = _classify(DATA / "h200" / "captured" / "fp8_gemm.json.gz", NCU / "precisions_roofline_sections_raw.csv")
    assert result.exit_code == 2
    assert "none of the trace's 1 kernel group(s) is in the 10 kernel(s)" in result.stderr
    assert "nvjet_sm90_qqtst" in result.stderr  # the trace's kernel that found no counters


def test_disagreement_thresholds() -> None:
    trace = KernelWork(name="k", count=4, flops=4e6, measured_s=4e-6)  # 1 µs and 1 MFLOP a call
    same = KernelWork(name="k", count=2, flops=2e6 * 8, measured_s=2 * 2.5e-6)  # 2.5x slower, 8x padding
    assert counter_disagreement(trace, same) is None
    slow = replace(same, measured_s=2 * 1e-6 * COUNTER_TIME_RATIO * 1.01)
    fast = replace(same, measured_s=2 * 1e-6 / COUNTER_TIME_RATIO / 1.01)
    assert "a call in the counters" in counter_disagreement(trace, slow)
    assert "a call in the counters" in counter_disagreement(trace, fast)
    padded = replace(same, flops=2 * 1e6 * COUNTER_FLOPS_RATIO * 1.01)
    assert "the model FLOPs of a call" in counter_disagreement(trace, padded)
    untimed = replace(same, measured_s=None)  # an export without gpu__time_duration: FLOPs alone
    assert counter_disagreement(trace, untimed) is None
