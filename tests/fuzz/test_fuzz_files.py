"""What is not a regular file given as one — directories, dangling and looping symlinks, FIFOs,
devices, empty files — to every reader and loader; symlinks to real files work; and a 100 MB
single line to every reader, read in bounded time and memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from fuzzkit import (
    CEILINGS_SEEDS,
    DECLARED_SEEDS,
    HWSPEC_SEEDS,
    KINETO_SEEDS,
    MODEL_SEEDS,
    NCU_SEEDS,
    NSYS_SEEDS,
    SERVING_SEEDS,
    SNAPSHOT_SEEDS,
    THRESHOLD_SEEDS,
    Outcome,
    attempt,
    classify_json_seed,
    run_classify,
    run_classify_json,
    run_hwspec,
    run_model,
    run_serving,
    run_snapshot,
    run_thresholds,
    seed_bytes,
    seed_json,
    time_limit,
)
from roofline.cli import app

runner = CliRunner()


def run_declared(path: Path) -> Outcome:
    return run_classify(path, hw="h100-sxm")


def run_hw_dir(path: Path) -> Outcome:
    """The registry extended by the --hw-dir holding ``path``."""
    from roofline.hardware.registry import _load, load_registry

    _load.cache_clear()  # cached by path: each case is a new directory content
    return Outcome(load_registry(extra_dirs=[path.parent]), [])


# target name, runner, a real seed file (for the symlink-to-a-real-file case), file name to use
TARGETS: list[tuple[str, Callable[[Path], Outcome], Path | None, str]] = [
    ("kineto", run_classify, KINETO_SEEDS[0], "trace.json.gz"),
    ("nsys", run_classify, NSYS_SEEDS[0], "gpu.csv"),
    ("ncu", run_classify, NCU_SEEDS[0], "ncu.csv"),
    ("declared kernels", run_declared, DECLARED_SEEDS[0], "kernels.yaml"),
    ("hardware spec", run_hwspec, HWSPEC_SEEDS[0], "spec.yaml"),
    ("ceilings overlay", run_hwspec, CEILINGS_SEEDS[0], "ceilings.yaml"),
    ("serving config", run_serving, SERVING_SEEDS[0], "serve.yaml"),
    # A model that fits the 8 GPUs of run_model's serving config (a 671B MoE does not).
    ("hf config.json", run_model, next(p for p in MODEL_SEEDS if p.stem == "llama-3-8b"), "config.json"),
    ("gate thresholds", run_thresholds, THRESHOLD_SEEDS[0], "gate.yaml"),
    ("snapshot", run_snapshot, SNAPSHOT_SEEDS[0], "baseline.json"),
    ("classify json", run_classify_json, None, "result.json"),
]


def _not_a_file(kind: str, where: Path, name: str) -> Path:
    path = where / name
    if kind == "directory":
        path.mkdir()
    elif kind == "dangling symlink":
        path.symlink_to(where / "nowhere" / name)
    elif kind == "symlink loop":
        path.symlink_to(where / f"loop-{name}")
        (where / f"loop-{name}").symlink_to(path)
    elif kind == "symlink to a directory":
        (where / "adir").mkdir()
        path.symlink_to(where / "adir")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "only whitespace":
        path.write_bytes(b" \n\t\n" * 100)
    elif kind == "binary garbage":
        path.write_bytes(bytes(range(256)) * 64)
    return path


NOT_FILES = ["directory", "dangling symlink", "symlink loop", "symlink to a directory", "fifo",
             "symlink to /dev/zero", "empty file", "only whitespace", "binary garbage"]


@pytest.mark.parametrize("kind", NOT_FILES)
@pytest.mark.parametrize("target", [t[0] for t in TARGETS])
def test_not_a_regular_file(tmp_path: Path, target: str, kind: str) -> None:
    _, run, _, name = next(t for t in TARGETS if t[0] == target)
    path = _not_a_file(kind, tmp_path, name)
    attempt(f"files: {target}", path, run, what=kind, must_reject=True)


@pytest.mark.parametrize("target", [t[0] for t in TARGETS if t[2] is not None])
def test_symlink_to_a_real_file_is_read(tmp_path: Path, target: str) -> None:
    _, run, seed, name = next(t for t in TARGETS if t[0] == target)
    real = tmp_path / "real"
    real.mkdir()
    (real / name).write_bytes(seed.read_bytes())
    link = tmp_path / name
    link.symlink_to(real / name)
    assert attempt(f"files: {target}", link, run, what="symlink to the real file") is not None


@pytest.mark.parametrize("kind", ["dangling symlink", "symlink loop", "fifo", "directory", "symlink to /dev/zero"])
def test_hw_dir_entries_that_are_not_files(tmp_path: Path, kind: str) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    path = _not_a_file(kind, specs, "spec.yaml")
    attempt("files: --hw-dir entry", path, run_hw_dir, what=kind, must_reject=True)


@pytest.mark.parametrize("kind", ["directory", "fifo", "dangling symlink", "symlink to /dev/zero"])
@pytest.mark.parametrize("command", [["classify", "--hw", "h200"], ["plan"], ["snapshot"], ["report", "-o", "r.md"],
                                     ["plot", "-o", "p.svg"]])
def test_cli_exit_2_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str],
                                kind: str) -> None:
    monkeypatch.chdir(tmp_path)
    path = _not_a_file(kind, tmp_path, "input.json")
    with time_limit(20):  # a FIFO opened by a sniffer blocked plot/report forever
        result = runner.invoke(app, [command[0], str(path), *command[1:]])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("roofline: error: ") and str(path) in lines[0], result.output


# --- a 100 MB single line -------------------------------------------------------------------------

LINE_BYTES = 100 * 1024 * 1024


def _one_line_trace(path: Path) -> int:
    """A valid kineto trace of ~100 MB on one line (orjson writes no newlines): the real events of
    a small capture repeated, each copy shifted in time. Returns the number of GPU events."""
    doc = seed_json(KINETO_SEEDS[0])
    events = [e for e in doc["traceEvents"] if isinstance(e, dict) and isinstance(e.get("ts"), (int, float))]
    span = max(e["ts"] + e.get("dur", 0) for e in events) - min(e["ts"] for e in events) + 100.0
    gpu = sum(e.get("cat") == "kernel" for e in events)
    copies = written = 0
    with path.open("wb") as handle:
        header = {k: v for k, v in doc.items() if k != "traceEvents"}
        handle.write(orjson.dumps(header)[:-1] + b', "traceEvents": [')
        while written <= LINE_BYTES:
            shifted = [{**e, "ts": e["ts"] + copies * span} for e in events]
            block = (b"," if copies else b"") + orjson.dumps(shifted)[1:-1]
            handle.write(block)
            written += len(block)
            copies += 1
        handle.write(b"]}")
    return gpu * copies


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_kineto_100mb_single_line_streams(tmp_path: Path) -> None:
    path = tmp_path / "oneline.json"
    kernels = _one_line_trace(path)
    assert path.stat().st_size > LINE_BYTES and path.read_bytes().count(b"\n") == 0
    # VmHWM of the child itself (ru_maxrss would carry the parent's peak across exec).
    script = ("import json, sys\nfrom roofline.sources import read_input\n"
              "loaded = read_input(__import__('pathlib').Path(sys.argv[1]))\n"
              "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
              "print(json.dumps({'kernels': sum(e.kind == 'kernel' for e in loaded.events), "
              "'warnings': loaded.warnings, 'rss_mb': int(hwm) / 1024}))\n")
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["kernels"] == kernels and report["warnings"] == []
    # Streamed in chunks: well under the ~1 GB a whole-document parse of 100 MB of events takes.
    assert report["rss_mb"] < 600, report


def _giant(name: str, tmp_path: Path) -> Path:
    """A file of the given format whose second line is one 100 MB line."""
    giant = "x" * LINE_BYTES
    path = tmp_path / name
    if name.endswith(".csv") and "nsys" in name:
        header = seed_bytes(NSYS_SEEDS[0]).decode().splitlines()[0]
        path.write_text(f"{header}\n1,2,3,,,,,,,,,,,,,,NVIDIA H200 (0),1,,7,{giant}\n")
    elif name.endswith(".csv"):
        lines = [line for line in seed_bytes(NCU_SEEDS[0]).decode().splitlines() if not line.startswith("==")]
        path.write_text(f"{lines[0]}\n{lines[1]}\n\"{giant}\"\n")
    elif name.endswith(".yaml"):
        path.write_text(f"schema_version: 1\ntitle: {giant}\n")
    elif name == "config.json":
        doc = seed_json(MODEL_SEEDS[0])
        path.write_text(json.dumps({**doc, "model_type": giant}))
    elif name == "result.json":
        path.write_text(classify_json_seed().replace('"title": null', f'"title": "{giant}"', 1))
    else:
        doc = seed_json(SNAPSHOT_SEEDS[0])
        path.write_text(json.dumps({**doc, "tool": giant}))
    return path


@pytest.mark.parametrize("target", ["nsys", "ncu", "declared kernels", "hardware spec", "serving config",
                                    "hf config.json", "gate thresholds", "snapshot", "classify json"])
def test_100mb_single_line_in_every_other_reader(tmp_path: Path, target: str) -> None:
    _, run, _, name = next(t for t in TARGETS if t[0] == target)
    if target == "nsys":
        name = "nsys.csv"
    path = _giant(name, tmp_path)
    before = _rss_mb()
    attempt(f"100 MB line: {target}", path, run, what="one 100 MB line")
    # Refused by a size cap or a field limit, or read: never several copies of the line at once.
    assert _rss_mb() - before < 1200
