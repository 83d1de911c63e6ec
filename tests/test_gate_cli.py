"""``roofline snapshot`` and ``roofline gate`` through the real app: every input kind, every output,
every exit code. Numbers are hand-computed from the small inputs written here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app

runner = CliRunner()
KINETO = Path(__file__).parent / "data" / "h200" / "kineto"


def run(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args])


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def one_line_error(result, needle: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("roofline: error: ")
    assert needle in lines[0]


def rows(result) -> dict[tuple[str, str], dict]:
    return {(r["name"], r["metric"]): r for r in json.loads(result.stdout)["rows"]}


@pytest.fixture
def bench(tmp_path: Path):
    """Two runs of a simple benchmark JSON: 'decode' 10 % slower per step (5 samples each, all
    above the baseline's), 'prefill' the same."""
    base = write_json(tmp_path / "base.json", {
        "decode": {"step_s": [1.00, 1.01, 1.02, 1.03, 1.04]},
        "prefill": {"step_s": [2.0, 2.0, 2.0, 2.0, 2.0]},
    })
    slower = write_json(tmp_path / "slower.json", {
        "decode": {"step_s": [1.20, 1.21, 1.22, 1.23, 1.24]},
        "prefill": {"step_s": [2.0, 2.0, 2.0, 2.0, 2.0]},
    })
    return base, slower


# --- benchmark JSON end to end ------------------------------------------------------------------


def test_snapshot_then_gate_a_benchmark(bench, tmp_path: Path) -> None:
    base, slower = bench
    snap = tmp_path / "baseline.snapshot.json"
    made = run("snapshot", base, "-o", snap)
    assert made.exit_code == 0, made.output
    data = json.loads(snap.read_text())
    assert (data["format"], data["schema_version"], data["kind"]) == ("roofline-snapshot", 1, "benchmark")
    decode = data["entries"][0]["metrics"]["step_s"]
    assert decode["value"] == 1.02 and decode["samples"] == [1.00, 1.01, 1.02, 1.03, 1.04]  # median
    same = run("gate", snap, base)
    assert same.exit_code == 0, same.output
    assert "roofline gate passed: 0 failing, 0 warnings (2 unchanged); exit 0" in same.stdout
    worse = run("gate", snap, slower, "--format", "json")
    assert worse.exit_code == 1, worse.output
    row = rows(worse)[("decode", "step_s")]
    # Median 1.02 → 1.22: +0.20 s, +19.6 %; 5 vs 5 separated: p = 2/252.
    assert row["verdict"] == "regressed" and row["level"] == "fail"
    assert row["delta"] == pytest.approx(0.20) and row["delta_rel"] == pytest.approx(0.20 / 1.02)
    assert row["p_value"] == pytest.approx(2 / 252)
    assert rows(worse)[("prefill", "step_s")]["verdict"] == "unchanged"
    summary = json.loads(worse.stdout)
    assert (summary["status"], summary["exit_code"], summary["failures"]) == ("fail", 1, 1)


def test_markdown_appends_and_junit_has_one_testcase_per_row(bench, tmp_path: Path) -> None:
    base, slower = bench
    summary = tmp_path / "summary.md"
    summary.write_text("# CI summary\n")
    junit = tmp_path / "gate.xml"
    for _ in range(2):
        result = run("gate", base, slower, "--markdown", summary, "--junit", junit)
        assert result.exit_code == 1
    text = summary.read_text()
    assert text.startswith("# CI summary\n")  # appended, never overwritten
    assert text.count("### ❌ roofline gate failed: 1 failing") == 2
    assert "| ❌ | decode | step_s | 1.02 | 1.22 | +0.2 | +19.6% |" in text
    suite = ET.parse(junit).getroot()
    cases = suite.findall("./testsuite/testcase")
    assert len(cases) == 2 == int(suite.get("tests"))  # 2 benchmarks × 1 metric
    failed = [c for c in cases if c.find("failure") is not None]
    assert [(c.get("classname"), c.get("name")) for c in failed] == [("decode", "step_s")]
    assert suite.get("failures") == "1"


def test_annotations_under_github_actions(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    base, slower = bench
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run("gate", base, slower)
    assert "::error title=roofline gate%3A decode step_s::regressed: 1.02 → 1.22 (+19.6%25)" in result.stdout  # % is escaped
    off = run("gate", base, slower, "--annotations", "off")
    assert "::error" not in off.stdout
    # With --format json on stdout the annotations go to stderr, so the JSON stays parseable.
    as_json = run("gate", base, slower, "--format", "json")
    json.loads(as_json.stdout)
    assert "::error" in as_json.stderr


def test_fail_on_improvement(bench) -> None:
    base, slower = bench
    assert run("gate", slower, base).exit_code == 0  # faster: improved, passes
    strict = run("gate", slower, base, "--fail-on-improvement", "--format", "json")
    assert strict.exit_code == 1
    assert rows(strict)[("decode", "step_s")]["verdict"] == "improved"


def test_update_and_write_baseline(bench, tmp_path: Path) -> None:
    base, slower = bench
    snap = tmp_path / "baseline.snapshot.json"
    assert run("snapshot", base, "-o", snap).exit_code == 0
    proposal = tmp_path / "proposed.json"
    written = run("gate", snap, slower, "--write-baseline", proposal)
    assert written.exit_code == 1  # the verdict is unchanged by writing a proposal
    assert json.loads(proposal.read_text())["entries"][0]["metrics"]["step_s"]["value"] == 1.22
    updated = run("gate", snap, slower, "--update-baseline")
    assert updated.exit_code == 1
    assert run("gate", snap, slower).exit_code == 0  # the baseline is now the slower run
    one_line_error(run("gate", base, slower, "--update-baseline"), "is not a snapshot file")
    one_line_error(run("gate", snap, slower, "--write-baseline", slower), "would overwrite an input")


def test_thresholds_file_changes_the_verdict(bench, tmp_path: Path) -> None:
    base, slower = bench
    loose = tmp_path / "gate.yaml"
    # +0.20 s, +19.6 %: under a 25 % relative limit it passes; under 10 % AND 0.25 s it passes too
    # (the absolute floor is not exceeded); under 10 % AND 0.1 s it fails.
    loose.write_text("default:\n  direction: lower_is_better\n  fail: {relative: 0.25}\n")
    assert run("gate", base, slower, "-t", loose).exit_code == 0
    loose.write_text("default:\n  direction: lower_is_better\n  fail: {relative: 0.10, absolute: 0.25}\n")
    assert run("gate", base, slower, "-t", loose).exit_code == 0
    loose.write_text("default:\n  direction: lower_is_better\n  fail: {relative: 0.10, absolute: 0.1}\n")
    assert run("gate", base, slower, "-t", loose).exit_code == 1
    loose.write_text("ignore:\n  - name: decode\n    reason: flaky on shared runners (#12)\n")
    ignored = run("gate", base, slower, "-t", loose, "--format", "json")
    assert ignored.exit_code == 0
    assert rows(ignored)[("decode", "step_s")]["reason"] == "ignored: flaky on shared runners (#12)"


def test_pytest_benchmark_json(tmp_path: Path) -> None:
    def bench_file(name: str, data: list[float]) -> Path:
        return write_json(tmp_path / name, {
            "machine_info": {"cpu": {"brand_raw": "Test CPU"}, "python_version": "3.12.0"},
            "version": "4.0.0",
            "benchmarks": [{"name": "test_mm", "fullname": "tests/test_perf.py::test_mm",
                            "stats": {"median": sorted(data)[len(data) // 2], "ops": 1 / data[0], "data": data}}],
        })

    base = bench_file("base.json", [1e-3, 1.01e-3, 1.02e-3, 1.03e-3, 1.04e-3])
    cur = bench_file("cur.json", [1.5e-3, 1.51e-3, 1.52e-3, 1.53e-3, 1.54e-3])
    result = run("gate", base, cur, "--format", "json")
    assert result.exit_code == 1
    row = rows(result)[("tests/test_perf.py::test_mm", "time_s")]
    assert (row["baseline"], row["current"], row["verdict"]) == (1.02e-3, 1.52e-3, "regressed")
    assert json.loads(result.stdout)["baseline"]["fingerprint"]["device"] == "Test CPU"


# --- plans ----------------------------------------------------------------------------------------


def test_plan_config_and_plan_json_snapshot_alike(repo: Path, tmp_path: Path) -> None:
    config = repo / "examples" / "llama70b_h100_tp8.yaml"
    plan_json = tmp_path / "plan.json"
    assert run("plan", config, "--format", "json", "-o", plan_json).exit_code == 0
    from_config = tmp_path / "from_config.json"
    assert run("snapshot", config, "-o", from_config).exit_code == 0
    data = json.loads(from_config.read_text())
    assert data["kind"] == "plan" and data["fingerprint"]["device"] == "h100-sxm"
    baseline = {e["name"]: e for e in data["entries"]}["baseline"]["metrics"]
    # The seed's 70B TP=8 case: 17.6 GB of weights per GPU, 40 KB of KV cache per token per GPU
    # (80 layers × 1 KV head per GPU × 128 × 2 (K, V) × 2 B = 40,960 B).
    assert baseline["weight_bytes"]["value"] == pytest.approx(17.64e9, rel=1e-3)
    assert baseline["kv_bytes_per_token"]["value"] == 40960.0
    assert baseline["itl_s"]["kind"] == "exact"
    same = run("gate", plan_json, config, "--format", "json")
    assert same.exit_code == 0, same.output
    assert {r["verdict"] for r in json.loads(same.stdout)["rows"]} == {"unchanged"}


def test_a_plan_config_change_is_gated(repo: Path, tmp_path: Path) -> None:
    config = repo / "examples" / "llama70b_h100_tp8.yaml"
    bigger = tmp_path / "batch8.yaml"
    bigger.write_text(config.read_text().replace("batch: 1,", "batch: 8,"))
    assert "batch: 8," in bigger.read_text()
    result = run("gate", config, bigger, "--format", "json")
    assert result.exit_code == 1
    found = rows(result)
    # Eight sequences share each weight read: more tokens per second, a slower token each.
    assert found[("baseline", "throughput_tok_s")]["verdict"] == "improved"
    assert found[("baseline", "itl_s")]["verdict"] == "regressed"
    assert found[("baseline", "weight_bytes")]["verdict"] == "unchanged"


# --- CPU-only traces ------------------------------------------------------------------------------


def cpu_trace(path: Path, relu_extra: bool = False) -> Path:
    """Two profiler steps of 100 µs and 140 µs; ops: linear ⊃ mm, then relu (twice in step 2 with
    ``relu_extra``); an mm after the last step, outside every step."""
    events = [
        {"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#1", "ts": 1000.0, "dur": 100.0},
        {"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#2", "ts": 1200.0, "dur": 140.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::linear", "ts": 1010.0, "dur": 40.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1015.0, "dur": 30.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::relu", "ts": 1060.0, "dur": 10.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::linear", "ts": 1210.0, "dur": 50.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1215.0, "dur": 40.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::relu", "ts": 1270.0, "dur": 12.0},
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1500.0, "dur": 5.0},
    ]
    if relu_extra:
        events.append({"ph": "X", "cat": "cpu_op", "name": "aten::relu", "ts": 1290.0, "dur": 8.0})
    body = ",\n".join(json.dumps({"pid": 1, "tid": 1, **event}) for event in events)
    path.write_text('{"schemaVersion": 1, "deviceProperties": [], "traceEvents": [\n' + body + "\n]}\n")
    return path


def test_a_cpu_only_trace_is_gated_on_host_times_and_call_counts(tmp_path: Path) -> None:
    trace = cpu_trace(tmp_path / "cpu.json")
    made = run("snapshot", trace)
    assert made.exit_code == 0, made.output
    snap = json.loads(made.stdout)
    assert (snap["kind"], snap["steps"], snap["fingerprint"]["device"]) == ("trace", 2, "cpu")
    entries = {e["name"]: e["metrics"] for e in snap["entries"]}
    assert sorted(entries) == ["aten::linear", "aten::mm", "aten::relu", "total"]
    # Steps of 100 and 140 µs: 120 µs per step. 3 ops in step 1, 3 in step 2 (the mm at 1500 µs
    # lies outside both steps and is left out).
    assert entries["total"]["wall_time_per_step_s"]["value"] == pytest.approx(120e-6)
    assert entries["total"]["wall_time_per_step_s"]["samples"] == pytest.approx([100e-6, 140e-6])
    assert entries["total"]["host_ops_per_step"]["value"] == 3.0
    # mm: 30 and 40 µs → 35 µs per step, 1 call each.
    assert entries["aten::mm"]["host_time_per_step_s"]["value"] == pytest.approx(35e-6)
    assert entries["aten::mm"]["calls_per_step"] == {**entries["aten::mm"]["calls_per_step"], "value": 1.0,
                                                     "kind": "exact"}
    extra = cpu_trace(tmp_path / "cpu_extra.json", relu_extra=True)
    result = run("gate", trace, extra, "--format", "json")
    assert result.exit_code == 1
    found = rows(result)
    # One more relu in step 2: 1 → 1.5 calls per step and 3 → 3.5 ops per step, both exact.
    assert (found[("aten::relu", "calls_per_step")]["baseline"], found[("aten::relu", "calls_per_step")]["current"]) \
        == (1.0, 1.5)
    assert found[("aten::relu", "calls_per_step")]["verdict"] == "regressed"
    assert found[("total", "host_ops_per_step")]["current"] == 3.5
    # Against a GPU trace: a different device, refused.
    one_line_error(run("gate", trace, KINETO / "mini_decode_eager.json.gz"), "fingerprints differ on device")


# --- bad input: one line, exit 2 -------------------------------------------------------------------


def test_bad_thresholds_exit_2_never_1(bench, tmp_path: Path) -> None:
    base, slower = bench  # a regression: a bad config must still say 2, not 1
    bad = tmp_path / "gate.yaml"
    bad.write_text("default:\n  direction: lower_is_better\n  fail: {relative: 0.1}\nrulez: []\n")
    one_line_error(run("gate", base, slower, "-t", bad), "gate.yaml:line 4: unknown key 'rulez' in thresholds file")
    bad.write_text("rules:\n  - metric: step_s\n    fail: {relative: 0.1}\n")
    one_line_error(run("gate", base, slower, "-t", bad), "missing required key 'rules[0].direction'")
    one_line_error(run("gate", base, slower, "-t", tmp_path / "nope.yaml"), "nope.yaml: file not found")


def test_a_snapshot_of_a_newer_schema_exits_2(bench, tmp_path: Path) -> None:
    base, _ = bench
    snap = tmp_path / "snap.json"
    assert run("snapshot", base, "-o", snap).exit_code == 0
    newer = json.loads(snap.read_text())
    newer["schema_version"] = 2
    future = write_json(tmp_path / "future.json", newer)
    one_line_error(run("gate", future, base), "snapshot schema_version 2 was written by a newer roofline")


def test_an_empty_current_run_exits_2(bench, tmp_path: Path) -> None:
    base, _ = bench
    one_line_error(run("gate", base, write_json(tmp_path / "empty.json", {})),
                   "the current run holds nothing to gate")
    snap = tmp_path / "snap.json"
    assert run("snapshot", base, "-o", snap).exit_code == 0
    hollow = json.loads(snap.read_text())
    hollow["entries"] = []
    one_line_error(run("gate", snap, write_json(tmp_path / "hollow.json", hollow)), "the current run holds nothing")
    (tmp_path / "zero.json").write_bytes(b"")
    one_line_error(run("gate", base, tmp_path / "zero.json"), "file is empty")


def test_snapshots_of_different_kinds_exit_2(bench) -> None:
    base, _ = bench
    one_line_error(run("gate", base, KINETO / "mini_decode_eager.json.gz"),
                   "cannot compare a benchmark snapshot with a trace snapshot")


def test_not_comparable_fingerprints_exit_2(tmp_path: Path) -> None:
    def snap(name: str, device: str) -> Path:
        return write_json(tmp_path / name, {"format": "roofline-snapshot", "schema_version": 1, "kind": "benchmark",
                                            "fingerprint": {"device": device},
                                            "entries": [{"name": "b", "group": "benchmark",
                                                         "metrics": {"t": {"value": 1.0, "unit": "s"}}}]})

    result = run("gate", snap("a.json", "NVIDIA H200"), snap("b.json", "NVIDIA A100-SXM4-80GB"), "--format", "json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["status"] == "not comparable"
    assert result.stderr.strip() == ("roofline: error: fingerprints differ on device: NVIDIA H200 (baseline) vs "
                                     "NVIDIA A100-SXM4-80GB (current); fingerprint.must_match in the thresholds file "
                                     "lists what must be equal")


def test_a_classify_result_is_not_mistaken_for_a_benchmark(tmp_path: Path) -> None:
    result = tmp_path / "classify.json"
    assert run("classify", KINETO / "gemm_bf16_8192.json.gz", "--format", "json", "-o", result).exit_code == 0
    one_line_error(run("gate", result, result), "a roofline --format json result, not a snapshot")


def test_snapshot_refuses_to_overwrite_its_input(bench) -> None:
    base, _ = bench
    one_line_error(run("snapshot", base, "-o", base), "would overwrite an input")


def test_an_internal_error_exits_3(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    import roofline.app.gate as gate_module

    def boom(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(gate_module, "compare_snapshots", boom)
    result = run("gate", *bench)
    assert result.exit_code == 3
    assert "internal error: ZeroDivisionError: boom" in result.stderr
    assert result.stderr.count("\n") == 1


def test_the_installed_entry_point_exit_codes(bench, tmp_path: Path) -> None:
    base, slower = bench
    roofline = shutil.which("roofline") or ""
    command = [roofline] if roofline else [sys.executable, "-m", "roofline"]
    codes = [subprocess.run([*command, "gate", *args], capture_output=True, text=True).returncode
             for args in ([str(base), str(base)], [str(base), str(slower)], [str(base), str(tmp_path / "nope.json")])]
    assert codes == [0, 1, 2]
