"""``classify --graph-capture``: graph-replayed kernels costed from the profile of their capture.

Real data: TraceLens's vLLM and SGLang HIP-graph replays on an MI300X and the capture profiles it
keeps beside them (tests/data/external/tracelens/inference/*/capture_traces/, cut with
benchmarks/capture/cut_capture.py; MIT, see tests/data/external/README.md). The figures the join
must give are computed here from the raw JSON with plain gzip + json, not with roofline's code.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.sources.graph_capture import align, apply_graph_capture, read_graph_capture

INFERENCE = Path(__file__).parent / "data" / "external" / "tracelens" / "inference"
SGLANG = INFERENCE / "sglang_decode" / "sglang_Qwen3-8B_decode.json.gz"
SGLANG_CAPTURE = INFERENCE / "sglang_decode" / "capture_traces"
VLLM = INFERENCE / "vllm_decode_full" / "graph_execution.json.gz"
VLLM_CAPTURE = INFERENCE / "vllm_decode_full" / "capture_traces"
runner = CliRunner()


def _events(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        return json.load(handle)["traceEvents"]


def test_align_skips_captured_launches_the_replay_does_not_show() -> None:
    assert align(["a", "b", "a"], ("fill", "a", "b", "x", "a")) == [1, 2, 4]
    assert align(["a", "c"], ("a", "b")) is None  # a replayed kernel no capture launch explains
    assert align(["b", "a"], ("a", "b")) is None  # order matters: the scan only moves forward


def test_sglang_mm_flops_come_from_the_captured_shapes() -> None:
    """Each replay of the graph runs every captured aten::mm once: the FLOPs the join gives the
    replayed mm kernels are replays x sum over the captured aten::mm of 2*M*K*N."""
    from roofline.sources import read_input

    capture = _events(next(SGLANG_CAPTURE.glob("*.json.gz")))
    begin = min(e["ts"] + e["dur"] for e in capture if "StreamBeginCapture" in e.get("name", ""))
    end = max(e["ts"] for e in capture if "StreamEndCapture" in e.get("name", ""))
    launched = {e["args"].get("External id") for e in capture
                if e.get("cat") == "cuda_runtime" and "kernel" in e.get("args", {}) and begin <= e["ts"] <= end}
    mm = [e for e in capture if e.get("cat") == "cpu_op" and e["name"] == "aten::mm"
          and e["args"].get("External id") in launched]
    per_replay = sum(2 * a[0] * a[1] * b[1] for a, b in (e["args"]["Input Dims"][:2] for e in mm))
    replays = sum(1 for e in _events(SGLANG) if e.get("name") in ("hipGraphLaunch", "cudaGraphLaunch"))
    assert len(mm) == 145 and replays >= 1

    loaded = read_input(SGLANG)
    table = loaded.events
    warnings: list[str] = []
    matched = apply_graph_capture(table, read_graph_capture(SGLANG_CAPTURE), warnings)
    assert matched == int((table.in_graph & (table.kind == 0)).sum()) and not warnings  # every replayed kernel
    rows = table.op == table.ops.code("aten::mm")
    assert table.flops[rows].sum() == pytest.approx(replays * per_replay, rel=1e-9)


def _bound_share(args: list[str]) -> float:
    result = runner.invoke(app, ["classify", *args, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    times = json.loads(result.stdout)["summary"]["time_by_bound"]
    return 1 - times["unknown"] / sum(times.values())


def test_capture_raises_the_share_with_a_bound_on_the_vllm_replay() -> None:
    before = _bound_share([str(VLLM)])
    after = _bound_share([str(VLLM), "--graph-capture", str(VLLM_CAPTURE)])
    assert before < 0.05 and after > 0.2  # the GEMMs, norms and rotary; the fused MoE stays unknown


def test_capture_with_no_profile_is_a_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", str(VLLM), "--graph-capture", str(tmp_path)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no .json or .json.gz capture profile" in lines[0]
