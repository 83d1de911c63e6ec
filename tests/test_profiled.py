"""`roofline profile` and `roofline hw measure` as run on an H200 (tests/data/h200/profiled): the
ground truth written in that folder's README before the run, checked against what the tool says of
the files the run produced.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry, resolve_roofs
from roofline.hardware.spec import Precision, Unit
from roofline.sources import read_input

PROFILED = Path(__file__).parent / "data" / "h200" / "profiled"


def classify(name: str):
    return classify_loaded(read_input(PROFILED / f"{name}.json.gz"), load_registry(), "auto", None)


@pytest.mark.parametrize("name", ["llama_decode_eager", "llama_decode_hf"])
def test_profiled_decode_step_is_launch_bound(name: str) -> None:
    result = classify(name)
    summary = result.summary
    assert result.hardware.name == "h200-sxm"  # --hw auto from the trace's deviceProperties
    assert [s.step for s in summary.steps] == [2, 3, 4]  # warmup 2, three profiled steps
    assert summary.verdict == "launch"
    # Predicted: the GPU idle most of the step, waiting for the host (observed ~90%).
    assert summary.launch_wait_s / summary.span_s > 0.8
    assert all(s.kernels == 359 for s in summary.steps)


def test_profiled_gemvs_have_unit_intensity_and_the_big_ones_are_memory_bound() -> None:
    result = classify("llama_decode_eager")
    mm_kernels = [k for k in result.kernels if k.op == "aten::mm"]
    # batch-1 decode: AI = 2PB/(2P) ≈ 1 over each op's kernels; a split-K GEMV's cublasLt
    # splitKreduce helper gets a share of the bytes and none of the FLOPs (docs/op-costs.md).
    assert 0.9 < sum(k.flops for k in mm_kernels) / sum(k.bytes for k in mm_kernels) < 1.1
    helpers = [k for k in mm_kernels if "splitKreduce" in k.name]
    assert helpers and all(k.flops == 0 and k.bytes > 0 for k in helpers)
    gemvs = [k for k in mm_kernels if k not in helpers]
    assert gemvs and all(0.9 < k.ai < 1.25 for k in gemvs)
    per_call = {round(k.bytes / k.count / 1e6, 1): k for k in gemvs}
    # LM head 2048 × 32000 bf16 = 131.1 MB; gate-up 2048 × 2·5632 bf16 = 46.1 MB (+ the 2 KB input
    # and 22 KB output): both take longer than the 5 µs launch floor at the roof, so memory-bound.
    head = per_call[round((2048 * 32000 * 2 + 2048 * 2 + 32000 * 2) / 1e6, 1)]
    gate_up = per_call[round((2048 * 11264 * 2 + 2048 * 2 + 11264 * 2) / 1e6, 1)]
    assert head.bound.value == "memory" and gate_up.bound.value == "memory"


def test_bundled_measured_overlay_is_the_h200_run() -> None:
    """The newest overlay in hwspecs/measured is what `hw measure` wrote on the H200 (measure.txt)."""
    text = (PROFILED / "measure.txt").read_text(encoding="utf-8")
    _, roofs, path = resolve_roofs(load_registry(), "h200", ceilings="measured")
    assert path is not None and path.name == "h200-sxm-2026-11-30.yaml"
    assert "786.3 TFLOP/s" in text and "4.25 TB/s" in text
    assert roofs.compute[(Unit.MATRIX, Precision.BF16)].value == pytest.approx(786.3e12)
    assert roofs.memory_bandwidth.value == pytest.approx(4.25e12)
    # Issue 7's bands: DRAM ≥ 85 % of 4.8 TB/s, bf16 GEMM ≥ 70 % of 989.4 TFLOP/s.
    assert roofs.memory_bandwidth.value / 4.8e12 >= 0.85
    assert roofs.compute[(Unit.MATRIX, Precision.BF16)].value / 989.4e12 >= 0.70
    # int8 through _int_mm with a column-major B reaches the tensor cores this time.
    assert roofs.compute[(Unit.MATRIX, Precision.INT8)].origin == "measured"


def test_detect_json_matches_the_registry() -> None:
    rows = json.loads((PROFILED / "detect.json").read_text(encoding="utf-8"))
    assert rows[0]["name"] == "NVIDIA H200" and rows[0]["registry_name"] == "h200-sxm"


def test_profiled_traces_are_valid_gzip_json() -> None:
    for name in ("llama_decode_eager", "llama_decode_hf"):
        with gzip.open(PROFILED / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
            assert "traceEvents" in json.load(handle)
