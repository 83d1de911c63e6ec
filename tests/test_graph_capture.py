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


# A plain PyTorch CUDA capture (torch.cuda.graph under the profiler) names no kernel on its launches:
# recorded on an H200 by benchmarks/capture/capture_graph_pair.py (tests/data/h200/captured/graph_pair/).
PAIR = Path(__file__).parent / "data" / "h200" / "captured" / "graph_pair"
PAIR_REPLAY = PAIR / "decode_bf16_cudagraph_replay.json.gz"
PAIR_CAPTURE = PAIR / "capture_traces"


def test_nameless_captures_align_by_position_only_when_the_counts_agree() -> None:
    assert align(["a", "b", "c"], (None, None, None)) == [0, 1, 2]
    assert align(["a", "b"], (None, None, None)) is None  # a launch the replay lacks: no safe pairing


def test_a_driver_launch_inside_a_runtime_launch_is_one_kernel() -> None:
    from roofline.sources.graph_capture import _outermost

    runtime = (10.0, None, 7, 1, 20.0)  # cudaLaunchKernelExC, 10-20 µs
    driver = (12.0, None, 7, 1, 15.0)   # the cuLaunchKernelEx it makes
    other_thread = (13.0, None, 8, 2, 14.0)
    later = (21.0, None, 9, 1, 22.0)
    assert _outermost([runtime, driver, other_thread, later]) == [runtime, other_thread, later]


def test_the_capture_window_holds_one_launch_per_replayed_kernel() -> None:
    # Independent count with plain json: launches between cudaStreamBeginCapture and EndCapture,
    # and the kernels of one replay (the replay trace has three profiled steps).
    events = [e for e in _events(PAIR_CAPTURE / "decode_bf16_cudagraph_capture.json.gz") if "ts" in e]
    begin = next(e["ts"] for e in events if e.get("name") == "cudaStreamBeginCapture")
    end = next(e["ts"] for e in events if e.get("name") == "cudaStreamEndCapture")
    launches = [e for e in events if begin <= e["ts"] <= end and e.get("cat") in ("cuda_runtime", "cuda_driver")
                and "Launch" in e["name"]]
    replay = _events(PAIR_REPLAY)
    graph_launches = {e["args"]["correlation"] for e in replay if e.get("name") == "cudaGraphLaunch"}
    replayed = [e for e in replay if e.get("cat") == "kernel" and e["args"]["correlation"] in graph_launches]
    assert len(launches) == 429 and len(graph_launches) == 3 and len(replayed) == 3 * 429
    (graph,) = read_graph_capture(PAIR_CAPTURE)
    assert len(graph.kernels) == 429 and all(name is None for name in graph.kernels)


def test_the_h200_replay_gets_its_gemm_flops_from_the_nameless_capture() -> None:
    result = runner.invoke(app, ["classify", str(PAIR_REPLAY), "--graph-capture", str(PAIR_CAPTURE), "-f", "json"])
    assert result.exit_code == 0, result.output
    kernels = json.loads(result.stdout)["kernels"]
    mm = sum(k["flops"] or 0 for k in kernels if k["op"] == "aten::mm") / 3  # three replays
    # The capture recipe's Llama (hidden 2048, 8 layers, 16 heads / 8 KV heads of 128, MLP 5632,
    # vocab 32000), one token: 2 x (8 x (2048·2048·2 + 2·2048·1024 + 3·2048·5632) + 2048·32000)
    # = 2 x 443,023,360 FLOPs of GEMM per decode step.
    assert mm == pytest.approx(2 * 443_023_360, rel=1e-9)
    timed = sum(k["total_s"] for k in kernels)
    bounded = sum(k["total_s"] for k in kernels if k["bound"] != "unknown")
    assert bounded / timed > 0.95
    without = runner.invoke(app, ["classify", str(PAIR_REPLAY), "-f", "json"])
    plain = [k for k in json.loads(without.stdout)["kernels"] if k["in_graph"]]
    assert all(k["flops"] is None for k in plain)  # no op, no shapes: only calls under the launch floor get a bound
    assert sum(k["total_s"] for k in plain if k["bound"] == "unknown") / sum(k["total_s"] for k in plain) > 0.9
