"""The gate on real H200 traces (tests/data/h200/kineto and captured/; their READMEs describe the
runs). Each expectation was written down before the gate was run on the pair.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.gating.adapters import SnapshotOptions, snapshot_input
from roofline.gating.compare import GateOptions, compare_snapshots
from roofline.gating.result import GateResult, Row
from roofline.gating.thresholds import GateConfig

DATA = Path(__file__).parent / "data" / "h200"
KINETO = DATA / "kineto"
CAPTURED = DATA / "captured"

_snapshots: dict[Path, object] = {}


def snap(path: Path):
    if path not in _snapshots:
        _snapshots[path] = snapshot_input(path, SnapshotOptions())
    return _snapshots[path]


def gate(baseline: Path, current: Path, **options) -> GateResult:
    return compare_snapshots(snap(baseline), snap(current), GateConfig(), GateOptions(**options))


def row(result: GateResult, name: str, metric: str) -> Row:
    found = [r for r in result.rows if r.name == name and r.metric == metric]
    assert found, sorted({(r.name, r.metric) for r in result.rows})[:20]
    return found[0]


def failing(result: GateResult) -> set[tuple[str, str]]:
    return {(r.name, r.metric) for r in result.rows if r.level == "fail"}


# --- mini decode: eager baseline, CUDA-graph current (kineto/README: "a faster current") --------


def test_cudagraph_against_eager_baseline_passes_as_an_improvement() -> None:
    result = gate(KINETO / "mini_decode_eager.json.gz", KINETO / "mini_decode_cudagraph.json.gz")
    assert result.exit_code == 0, failing(result)
    wall = row(result, "total", "wall_time_per_step_s")
    # Step spans 2277/2167/2038 µs eager vs 1296/1291/1291 µs graphed: −40 %, no overlap.
    assert wall.verdict == "improved"
    assert wall.delta_rel == pytest.approx(-0.40, abs=0.01)
    assert row(result, "total", "launch_wait_share").verdict == "improved"
    assert row(result, "total", "kernels_per_step").verdict == "unchanged"  # 112 = 112
    # The same GEMV kernels run in both, at the same speed; matched by kernel name because
    # graph replays are not linked to ops.
    gemv = row(result, "aten::mm › nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT", "kernel_time_per_step_s")
    assert gemv.verdict == "unchanged" and "matched by kernel name" in gemv.reason


def test_fail_on_improvement_fails_the_same_pair() -> None:
    result = gate(KINETO / "mini_decode_eager.json.gz", KINETO / "mini_decode_cudagraph.json.gz",
                  fail_on_improvement=True)
    assert result.exit_code == 1
    assert ("total", "wall_time_per_step_s") in failing(result)
    assert row(result, "total", "wall_time_per_step_s").verdict == "improved"


def test_eager_against_cudagraph_baseline_fails_as_a_regression() -> None:
    result = gate(KINETO / "mini_decode_cudagraph.json.gz", KINETO / "mini_decode_eager.json.gz")
    assert result.exit_code == 1
    wall = row(result, "total", "wall_time_per_step_s")
    assert wall.verdict == "regressed" and wall.level == "fail"
    assert wall.delta_rel == pytest.approx(0.67, abs=0.02)
    assert wall.test == "separation"  # 3 steps against 3: too few for the rank test at 5 %
    assert row(result, "total", "launch_wait_share").verdict == "regressed"


@pytest.mark.parametrize("path", [KINETO / "mini_decode_eager.json.gz", CAPTURED / "decode_bf16_eager.json.gz"])
def test_a_trace_gated_against_itself_passes_unchanged(path: Path) -> None:
    result = gate(path, path)
    assert result.exit_code == 0
    assert {r.verdict for r in result.rows} <= {"unchanged", "not comparable"}
    assert result.counts["unchanged"] > 50


# --- captured decode: deliberate regressions against decode_bf16_eager -------------------------


def test_fp32_decode_fails_on_the_gemm_bytes_and_time() -> None:
    """Expected before the run (captured/README: GEMV bytes double, GPU time +18 %, span +11 %):
    the aten::mm op row fails on bytes_per_step (exact, ~887 MB → ~1.77 GB) and on
    kernel_time_per_step_s (~523 → ~632 µs, samples separated); the total fails on bytes, GPU
    busy time and kernel count (358 → 385); the bf16 nvjet GEMV kernel groups are gone and the
    fp32 gemv ones are new; the GEMM precision label changes bf16 → fp32."""
    result = gate(CAPTURED / "decode_bf16_eager.json.gz", CAPTURED / "decode_fp32_eager.json.gz")
    assert result.exit_code == 1
    fails = failing(result)
    assert ("aten::mm", "bytes_per_step") in fails
    assert ("aten::mm", "kernel_time_per_step_s") in fails
    mm_bytes = row(result, "aten::mm", "bytes_per_step")
    assert mm_bytes.delta_rel == pytest.approx(1.0, abs=0.02)  # bf16 → fp32 weights: twice the bytes
    assert ("total", "bytes_per_step") in fails
    assert ("total", "kernels_per_step") in fails
    assert row(result, "aten::mm", "precision").verdict == "changed"
    assert row(result, "aten::mm", "precision").current_label == "fp32"
    gone = {r.name for r in result.rows if r.verdict == "missing"}
    assert any("nvjet" in name for name in gone)
    # The first failing rows are named first: severity order.
    assert result.rows[0].level == "fail"


def test_sync_per_layer_is_flagged_by_the_sync_count_not_the_wall_time() -> None:
    """Expected before the run (captured/README: span +0.94 ms, +9 %, with a step-to-step spread
    of the same size; 8 extra cudaDeviceSynchronize per step; same 358 kernels): the gate fails
    (exit 1) on total syncs_per_step (exact, 1 → 9); the wall time per step is past the warn
    limit but its samples overlap (10690 < 10713 µs), so it is 'not significant', not failed; the
    launch-wait share barely moves (~0.88 → ~0.89: the host was already the bottleneck), so it is
    unchanged; the kernel count is unchanged."""
    result = gate(CAPTURED / "decode_bf16_eager.json.gz", CAPTURED / "decode_bf16_sync_per_layer.json.gz")
    assert result.exit_code == 1
    syncs = row(result, "total", "syncs_per_step")
    assert syncs.verdict == "regressed" and syncs.level == "fail"
    assert syncs.baseline == pytest.approx(1.0)
    assert syncs.current == pytest.approx(9.0)
    wall = row(result, "total", "wall_time_per_step_s")
    assert wall.verdict == "not significant"
    assert wall.delta_rel == pytest.approx(0.094, abs=0.01)
    assert row(result, "total", "launch_wait_share").verdict == "unchanged"
    assert row(result, "total", "kernels_per_step").verdict == "unchanged"
    assert failing(result) == {("total", "syncs_per_step")}


def test_cudagraph_decode_is_faster_but_runs_more_gpu_work() -> None:
    """Expected before the run (captured/README: 5.6× faster steps, but 429 kernels and 1212 µs of
    GPU time per step against 358 and 1042 eager — index_copy and repeat_kv copies): the wall
    time improves, yet the gate fails (exit 1) on the total kernel count (exact, +20 %) and the
    kernel time per step (+16 %, samples separated). A faster step with more GPU work is two
    facts, and the gate reports both."""
    result = gate(CAPTURED / "decode_bf16_eager.json.gz", CAPTURED / "decode_bf16_cudagraph.json.gz")
    assert result.exit_code == 1
    assert row(result, "total", "wall_time_per_step_s").verdict == "improved"
    assert row(result, "total", "wall_time_per_step_s").delta_rel == pytest.approx(-0.82, abs=0.02)
    assert {("total", "kernels_per_step"), ("total", "kernel_time_per_step_s")} <= failing(result)
