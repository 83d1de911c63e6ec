"""``roofline classify TRACE --annotate OUT``: the trace written back with each kernel's verdict in
its args and counter tracks of the verdict, for Perfetto; the original never touched.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.report.annotate import ANNOTATION_KEY, RUNNING_COUNTER, STATE_COUNTER, annotate_trace
from roofline.sources import read_input

KINETO = Path(__file__).parent / "data" / "h200" / "kineto"
REPO = Path(__file__).resolve().parent.parent
runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def load(path: Path) -> dict:
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_kernel_gets_its_group_verdict(tmp_path: Path) -> None:
    source = KINETO / "tiny_ops_launch.json.gz"
    before = digest(source)
    out = tmp_path / "tiny.roofline.json.gz"
    result = run("classify", source, "--annotate", out, "--format", "json")
    assert result.exit_code == 0, result.output
    assert digest(source) == before
    assert "1,800 of 1,800 GPU events annotated" in result.stderr
    verdicts = {(k["name"], k["op"]): k for k in json.loads(result.stdout)["kernels"]}
    trace = load(out)
    assert trace["deviceProperties"][0]["name"] == "NVIDIA H200"
    kernels = [e for e in trace["traceEvents"] if e.get("cat") == "kernel"]
    assert len(kernels) == 1800
    for event in kernels:
        note = event["args"][ANNOTATION_KEY]
        group = verdicts[(event["name"], note["op"])]
        assert note["bound"] == group["bound"] == "launch"
        assert note["ai_flop_per_byte"] == pytest.approx(group["ai"])
        assert note["pct_of_roof"] == pytest.approx(group["pct_of_roof"])
        assert note["verdict"].startswith("launch-bound · AI 0.12 FLOP/B · 0.2% of the fp32 vector roof")
        assert event["args"]["correlation"]  # the original args are kept


def test_same_kernel_under_several_ops_is_matched_by_its_op(tmp_path: Path) -> None:
    # One elementwise kernel (same full name) launched by both aten::lt and aten::ge.
    source = REPO / "tests" / "data" / "h200" / "opcost" / "probe_eager_ops.json.gz"
    out = tmp_path / "probe.json"
    assert run("classify", source, "--annotate", out).exit_code == 0
    events = load(out)["traceEvents"]
    ops = {e["args"]["External id"]: e["name"] for e in events if e.get("cat") == "cpu_op"}
    kernels = [e for e in events if e.get("cat") == "kernel"]
    names = {}
    for event in kernels:
        names.setdefault(event["name"], set()).add(event["args"][ANNOTATION_KEY]["op"])
        # The op the verdict names is the op that launched this very kernel.
        assert event["args"][ANNOTATION_KEY]["op"] == ops[event["args"]["External id"]]
    assert any(len(found) > 1 for found in names.values())


def test_counter_tracks_end_at_the_trace_verdict(tmp_path: Path) -> None:
    source = KINETO / "mini_decode_eager.json.gz"
    out = tmp_path / "decode.json.gz"
    result = run("classify", source, "--annotate", out, "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    events = load(out)["traceEvents"]
    counters = [e for e in events if e.get("ph") == "C"]
    running = [e for e in counters if e["name"] == RUNNING_COUNTER]
    state = [e for e in counters if e["name"] == STATE_COUNTER]
    assert running and state
    # The last running sample is the span's split: memory 44.9%, the verdict (the launch wait is
    # within the profiler's own overhead, counted apart as the verdict does).
    last = running[-1]["args"]
    assert summary["verdict"] == "memory"
    assert last["memory"] == pytest.approx(100 * summary["verdict_share"], abs=0.5)
    assert last["profiler"] == pytest.approx(100 * summary["profiler_wait_s"] / summary["span_s"], abs=0.1)
    assert last["idle"] == pytest.approx(100 * (summary["other_idle_s"] + summary["graph_gap_s"]) / summary["span_s"],
                                         abs=0.1)
    assert sum(last.values()) == pytest.approx(100.0, abs=0.1)
    # The GPU state track sits on the timeline of the kernels: it switches when a kernel starts.
    # (Within a nanosecond: times go through the reader's integer nanoseconds and back.)
    kernel_starts = sorted(e["ts"] for e in events if e.get("cat") == "kernel")
    memory_switches = [e["ts"] for e in state if e["args"]["memory"] == 1.0]
    assert memory_switches
    for at in memory_switches:
        assert min(abs(at - start) for start in kernel_starts) <= 0.0015
    assert all(sum(e["args"].values()) in (0.0, 1.0) for e in state)
    assert {e["pid"] for e in counters} == {e["pid"] for e in events if e.get("cat") == "kernel"}


def test_annotated_copy_classifies_like_the_original(tmp_path: Path) -> None:
    source = KINETO / "gemm_bf16_8192.json.gz"
    out = tmp_path / "gemm.json.gz"
    assert run("classify", source, "--annotate", out).exit_code == 0
    registry = load_registry()
    original = classify_loaded(read_input(source), registry, "auto", None)
    copy = classify_loaded(read_input(out), registry, "auto", None)
    assert copy.summary.model_dump() == original.summary.model_dump()
    assert [k.model_dump() for k in copy.kernels] == [k.model_dump() for k in original.kernels]


def test_output_is_deterministic(tmp_path: Path) -> None:
    loaded = read_input(KINETO / "gelu_bf16_256M.json.gz")
    result = classify_loaded(loaded, load_registry(), "auto", None)
    first = annotate_trace(loaded, result, tmp_path / "a.json.gz")
    second = annotate_trace(loaded, result, tmp_path / "b.json.gz")
    assert first.annotated == second.annotated == first.gpu_events == 3  # the three GELU kernels
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_refusals_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    source = tmp_path / "trace.json.gz"
    source.write_bytes((KINETO / "gelu_bf16_256M.json.gz").read_bytes())
    before = digest(source)
    link = tmp_path / "link.json.gz"
    link.hardlink_to(source)
    cases = [
        ((source, "--annotate", source), "refusing to overwrite the input trace"),
        ((source, "--annotate", tmp_path / "." / "trace.json.gz"), "refusing to overwrite the input trace"),
        ((source, "--annotate", link), "refusing to overwrite the input trace"),
        ((source, "--annotate", tmp_path / "out.txt"), "must be .json or .json.gz"),
        ((source, source, "--annotate", tmp_path / "out.json"), "2 inputs"),
        ((source, "--annotate", tmp_path / "missing" / "out.json"), "does not exist"),
        ((REPO / "workloads" / "ml_ops.yaml", "--hw", "h100-sxm", "--annotate", tmp_path / "out.json"),
         "needs a PyTorch profiler trace"),
    ]
    for args, needle in cases:
        result = run("classify", *args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json.gz", "trace.json.gz"]


def test_truncated_trace_gives_complete_json(tmp_path: Path) -> None:
    text = gzip.decompress((KINETO / "mini_decode_eager.json.gz").read_bytes())
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[: int(len(text) * 0.8)])
    out = tmp_path / "cut.roofline.json"
    result = run("classify", cut, "--annotate", out)
    assert result.exit_code == 0, result.output
    assert "truncated" in result.stderr
    trace = load(out)
    assert any(ANNOTATION_KEY in e.get("args", {}) for e in trace["traceEvents"])
