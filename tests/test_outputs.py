"""No data lost (docs/robustness.md): every output is written atomically through roofline.atomicio,
no command overwrites its own input, baselines change only with --update-baseline, and an
interrupted command leaves no partial file and says what it did write."""

from __future__ import annotations

import ast
import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline import atomicio
from roofline.cli import app
from roofline.errors import InputError

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "roofline"
KINETO = REPO / "tests" / "data" / "h200" / "kineto"
TRACE = KINETO / "gemm_bf16_8192.json.gz"
PLAN = REPO / "examples" / "llama70b_h100_tp8.yaml"
runner = CliRunner()

# Writes that do not go through roofline.atomicio, each with its reason.
ALLOWED_DIRECT_WRITES = {
    "atomicio.py": "the helper itself",
    "cli/profile.py": "sitecustomize.py in a private temporary directory, read by the child process",
    "capture.py": "the child's status file in the parent's private temporary directory; the trace is "
                  "exported to a temporary name and renamed",
}


def _direct_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("write_text", "write_bytes", "savefig", "mkstemp", "replace", "rename"):
            # savefig to a BytesIO is fine; flag calls whose first argument is not 'buffer'.
            first = node.args[0] if node.args else None
            if name == "savefig" and isinstance(first, ast.Name) and first.id == "buffer":
                continue
            if name == "replace" and not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                                          and func.value.id == "os"):
                continue  # str.replace
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {name}()")
        elif name == "open" or name == "GzipFile":
            modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
            modes += [k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
            if any(isinstance(m, str) and set(m) & set("wax+") for m in modes):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}: {name}(mode={modes[0]!r})")
    return found


def test_every_file_write_goes_through_atomicio() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        relative = str(path.relative_to(SRC))
        if relative in ALLOWED_DIRECT_WRITES:
            continue
        problems += _direct_writes(path)
    assert not problems, "write through roofline.atomicio (atomic_output / write_atomic):\n" + "\n".join(problems)


def test_the_write_scan_sees_writes(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from pathlib import Path\nPath('x').write_text('y')\nopen('x', 'w')\n"
                      "gzip.open('x', mode='wt')\nfig.savefig('a.png')\nfig.savefig(buffer)\n'a'.replace('a', 'b')\n")
    assert len(_direct_writes(sample.rename(SRC / "_scan_sample_tmp.py"))) == 4
    (SRC / "_scan_sample_tmp.py").unlink()


# --- atomic writes --------------------------------------------------------------------------------


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp") or ".partial" in p.name)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, error: type[BaseException]) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    with pytest.raises(error):
        with atomicio.atomic_output(target) as handle:
            handle.write(b"half of the new")
            raise error()
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_modes_follow_the_umask_or_the_replaced_file(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomicio.write_atomic(tmp_path / "new.txt", b"x")
        assert (tmp_path / "new.txt").stat().st_mode & 0o777 == 0o644
        (tmp_path / "kept.txt").write_text("y")
        os.chmod(tmp_path / "kept.txt", 0o600)
        atomicio.write_atomic(tmp_path / "kept.txt", b"z")
        assert (tmp_path / "kept.txt").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_gz_outputs_are_compressed_and_reproducible(tmp_path: Path) -> None:
    for name in ("a.json.gz", "b.json.gz"):
        with atomicio.atomic_output(tmp_path / name) as handle:
            handle.write(b'{"k": 1}')
    assert gzip.decompress((tmp_path / "a.json.gz").read_bytes()) == b'{"k": 1}'
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()


def test_atomic_append_keeps_what_was_there(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# step 1\n")
    atomicio.append_atomic(summary, "# step 2\n")
    assert summary.read_text() == "# step 1\n# step 2\n"


def test_output_into_a_missing_directory_or_onto_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        atomicio.write_atomic(tmp_path / "no" / "x.txt", b"")
    with pytest.raises(InputError, match="is a directory"):
        atomicio.write_atomic(tmp_path, b"")


def test_capture_exports_under_a_temporary_name(tmp_path: Path) -> None:
    from roofline.capture import Capture

    class Profiler:
        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def export_chrome_trace(self, name: str) -> None:
            assert Path(name).name.startswith(".") and name.endswith(".gz")
            Path(name).write_bytes(gzip.compress(b'{"traceEvents": []}')[: 10 if self.fail else None])
            if self.fail:
                raise KeyboardInterrupt

    capture = Capture(tmp_path / "trace.json.gz")
    with pytest.raises(KeyboardInterrupt):
        capture._export(Profiler(fail=True))
    assert list(tmp_path.iterdir()) == [] and not capture.written
    capture._export(Profiler(fail=False))
    assert [p.name for p in tmp_path.iterdir()] == ["trace.json.gz"] and capture.written


# --- never overwrite an input ---------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_refusal(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, (args, result.output)
    assert needle in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_outputs_that_name_an_input_are_refused_before_any_work(tmp_path: Path) -> None:
    trace = tmp_path / "trace.json.gz"
    trace.write_bytes(TRACE.read_bytes())
    config = tmp_path / "plan.yaml"
    config.write_text(PLAN.read_text())
    spec = tmp_path / "gpu.yaml"
    spec.write_text((REPO / "hwspecs" / "h200-sxm.yaml").read_text())
    thresholds = tmp_path / "gate.yaml"
    thresholds.write_text("schema_version: 1\n")
    before = {p: _digest(p) for p in (trace, config, spec, thresholds)}
    cases = [
        ["classify", str(trace), "--hw", "h200", "-o", str(trace)],
        ["classify", str(trace), "--hw", "h200", "-o", str(tmp_path / "." / "trace.json.gz")],
        ["classify", str(trace), "--hw", "h200", "--counters", str(spec), "-o", str(spec)],
        ["classify", str(trace), "--hw", "h200", "--hw-file", str(spec), "-f", "json", "-o", str(spec)],
        ["plan", str(config), "-o", str(config)],
        ["snapshot", str(trace), "-o", str(trace)],
        ["gate", str(trace), str(trace), "--thresholds", str(thresholds), "--junit", str(thresholds)],
        ["gate", str(trace), str(trace), "--markdown", str(trace)],
        ["report", str(trace), "--hw", "h200", "-o", str(trace)],
        ["hw", "measure", "--hw-file", str(spec), "--output", str(spec)],
        ["hw", "detect", "--hw-file", str(spec), "--write-spec", str(spec)],
    ]
    for args in cases:
        _one_line_refusal(args, "would overwrite an input")
    assert {p: _digest(p) for p in before} == before


def test_hard_links_and_files_inside_an_input_directory_count_as_inputs(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    trace = runs / "rank0.json.gz"
    trace.write_bytes(TRACE.read_bytes())
    link = tmp_path / "link.json.gz"
    link.hardlink_to(trace)
    _one_line_refusal(["classify", str(trace), "--hw", "h200", "-o", str(link)], "would overwrite an input")
    _one_line_refusal(["classify", str(runs), "--hw", "h200", "-o", str(trace)], "would overwrite an input")


def test_two_outputs_to_one_file_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    _one_line_refusal(["gate", str(TRACE), str(TRACE), "--hw", "h200", "-o", str(out), "--junit", str(out)],
                      "--output and --junit name the same file")


def test_baseline_is_replaced_only_with_update_baseline(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    assert runner.invoke(app, ["snapshot", str(TRACE), "--hw", "h200", "-o", str(baseline)]).exit_code == 0
    before = _digest(baseline)
    slower = KINETO / "gemv_bf16_decode.json.gz"
    result = runner.invoke(app, ["gate", str(baseline), str(slower), "--hw", "h200"])
    assert result.exit_code in (0, 1, 2) and _digest(baseline) == before
    result = runner.invoke(app, ["gate", str(baseline), str(TRACE), "--hw", "h200", "--update-baseline"])
    assert result.exit_code == 0, result.output
    assert json.loads(baseline.read_text())["format"] == "roofline-snapshot"


# --- interrupted commands -------------------------------------------------------------------------


def test_ctrl_c_says_what_was_written_and_leaves_no_partial_file(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import roofline.cli.gate as gate_cli

    def interrupted(*args: object, **kwargs: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(gate_cli, "gate_junit", interrupted)
    table, junit = tmp_path / "table.txt", tmp_path / "junit.xml"
    result = runner.invoke(app, ["gate", str(TRACE), str(TRACE), "--hw", "h200", "-o", str(table),
                                 "--junit", str(junit)])
    assert result.exit_code == 130
    assert f"written before the interrupt: {table}" in result.output and "not written" in result.output
    assert table.is_file() and not junit.exists() and _leftovers(tmp_path) == []


def test_ctrl_c_before_any_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import roofline.cli.plan as plan_cli

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(plan_cli, "render_plan", interrupted)
    result = runner.invoke(app, ["plan", str(PLAN), "-o", str(tmp_path / "plan.txt")])
    assert result.exit_code == 130 and "no output was written" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def big_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = json.loads(gzip.decompress((KINETO / "tiny_ops_launch.json.gz").read_bytes()))
    doc["traceEvents"] = doc["traceEvents"] * 4
    path = tmp_path_factory.mktemp("big") / "big.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_annotate_leaves_no_file(tmp_path: Path, big_trace: Path, signum: int) -> None:
    # A big output written by streaming, killed once its temporary file exists: no file under
    # the final name, no temporary left behind, and the message says nothing was written.
    target = tmp_path / "annotated.json.gz"
    process = subprocess.Popen([sys.executable, "-m", "roofline", "classify", str(big_trace), "--hw", "h200",
                                "-f", "json", "--annotate", str(target)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _leftovers(tmp_path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted; no output was written" in stderr and not target.exists()
    assert _leftovers(tmp_path) == []
