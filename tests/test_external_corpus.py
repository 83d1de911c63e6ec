"""``roofline classify`` on the public-trace corpus (tests/data/external/, issue 14).

The figures each trace must give come from ``tests/data/external/expected.json``, written by
``tests/data/external/independent_figures.py`` (plain gzip + json, no roofline code). What must
hold today is asserted; each target not met yet is a strict xfail naming the gap, so the suite
goes red when a gap closes and the mark has to go. ``benchmarks/bench_corpus.py`` prints the same
figures as a table; docs/corpus.md records them.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app

EXTERNAL = Path(__file__).parent / "data" / "external"
EXPECTED = json.loads((EXTERNAL / "expected.json").read_text())["traces"]
GPU = sorted(name for name, row in EXPECTED.items() if row["kind"] == "gpu")
NON_GPU = sorted(name for name, row in EXPECTED.items() if row["kind"] != "gpu")
runner = CliRunner()

# Where --hw auto cannot pick a spec (a detection gap), the figures below are taken with the spec
# of the device the trace names (A100-PG509-200 is the HGX A100 SXM4 40 GB board; the empty-named
# ROCm traces report gfx 9.4, 304 CUs and 192 GB: an MI300X).
SPEC_FOR = {
    "NVIDIA A100-PG509-200": "a100-sxm4-40gb",
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "AMD Instinct MI300X VF": "mi300x",
    "": "mi300x",
}
# A trace that names no device: GPU busy does not use the roofs, so it is checked with any spec;
# the share with a bound is not checked on it.
NO_SPEC = {"hta/timeline_analysis/sampled_rank-0.json.gz": "h100-sxm"}
# What each kind of non-GPU trace's message must say it is.
KIND_WORDS = {"cpu_only": "cpu-only", "mtia": "mtia", "cupti_range_profiler": "range-profil"}

# Serving traces are classified with the model their own facts identify, as a user would with
# --model (benchmarks/bench_corpus.py MODELS says how each was identified: experts from the router
# logits, hidden size from the all-reduce, layers from the calls per step, heads from attention).
MODEL_FOR = {
    "tracelens/b200/eager_trace.json.gz": "gpt-oss-120b",
    "tracelens/inference/vllm_decode_full/graph_execution.json.gz": "gpt-oss-20b",
    "tracelens/inference/vllm_prefilldecode_piecewise/graph_execution.json.gz": "gpt-oss-20b",
}

NO_SHAPES = "no shapes recorded: the ops cannot be costed"
GAPS = {
    "busy": {},
    "bound": {
        "hta/negative_queue_length_values_check/rank0.json.gz":
            "CUTLASS GEMMs replayed from CUDA graphs (and launched inside libraries) are not costed; the apex Adam multi-tensor kernel is, from its grid",
        "hta/nccl_parser_config/nccl_data.json.gz": NO_SHAPES,
        "hta/df_index_resolver/df_index_resolver.step3.json.gz": NO_SHAPES,
        "hta/critical_path/alexnet/benchmark_result_2869224_1695835535_trace.json.gz": NO_SHAPES,
        "hta/trace_diff/test/test.step1011.json.gz":
            "fbgemm split-embedding (TBE) forward/backward with row-wise Adagrad has no cost model",
        "tracelens/mi210/gpu_only_trace/gpu_only_trace.json.gz":
            "a trace of kernels only (no ops): the launches record grid and block, no shapes, so no honest bytes "
            "or FLOPs; the calls shorter than the launch floor (26% of kernel time) are launch-bound by their "
            "time alone, the rest gets a class by name (MIOpen conv, batch-norm, transpose, fill, elementwise) "
            "with that reason, and stays unknown",
        "tracelens/inference/sglang_decode/sglang_Qwen3-8B_decode.json.gz":
            "with --graph-capture 78% has a bound; SGLang's paged attention (22%) records no context lengths "
            "(the kv_indptr values are not recorded)",
    },
    "device": {},
    "kind": {},
}


def cases(names: list[str], check: str) -> list:
    gaps = GAPS[check]
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=gaps[name])) if name in gaps else name
        for name in names
    ]


@functools.lru_cache(maxsize=None)
def classify(name: str, hw: str = "auto", model: bool = True) -> tuple[int, str, str, BaseException | None]:
    # A graph replay with its capture profile beside it is classified as a user would, with it.
    capture = (EXTERNAL / name).parent / "capture_traces"
    extra = ["--graph-capture", str(capture)] if capture.is_dir() else []
    if model and name in MODEL_FOR:
        extra += ["--model", MODEL_FOR[name]]
    result = runner.invoke(app, ["classify", str(EXTERNAL / name), "--format", "json", "--hw", hw, *extra])
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, exc


def figures(name: str) -> dict:
    """The JSON of a GPU trace, with --hw auto or, where auto fails, the spec named above."""
    code, out, err, _ = classify(name)
    if code != 0:
        names = EXPECTED[name]["active_device_names"]
        hw = NO_SPEC.get(name) or (SPEC_FOR.get(names[0]) if len(names) == 1 else None)
        assert hw, f"--hw auto failed and no spec is known for {names}: {err}"
        code, out, err, _ = classify(name, hw)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_traceback(name: str) -> None:
    code, out, err, exc = classify(name)
    assert exc is None, f"{type(exc).__name__}: {exc}"
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("roofline: error: "), err
    else:
        assert json.loads(out)["summary"]["span_s"] > 0


@pytest.mark.parametrize("name", cases(NON_GPU, "kind"))
def test_non_gpu_trace_says_what_it_is(name: str) -> None:
    code, _, err, _ = classify(name)
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    message = err.replace(str(EXTERNAL / name), "FILE").lower()  # the path names the kind too
    assert KIND_WORDS[EXPECTED[name]["kind"]] in message, err


@pytest.mark.parametrize("name", cases([n for n in GPU if n not in NO_SPEC], "device"))
def test_named_device_is_detected(name: str) -> None:
    code, out, err, _ = classify(name)
    assert code == 0, err
    assert json.loads(out)["hardware"]["name"]


@pytest.mark.parametrize("name", cases(GPU, "busy"))
def test_gpu_busy_within_a_point_of_the_interval_union(name: str) -> None:
    summary = figures(name)["summary"]
    busy = summary["gpu_busy_s"] / summary["span_s"]
    assert busy == pytest.approx(EXPECTED[name]["busy_share"], abs=0.01)


@pytest.mark.parametrize("name", cases([n for n in GPU if n not in NO_SPEC], "bound"))
def test_nine_tenths_of_gpu_time_has_a_bound(name: str) -> None:
    times = figures(name)["summary"]["time_by_bound"]
    total = sum(times.values())
    assert total - times.get("unknown", 0.0) >= 0.9 * total  # every class but unknown is a bound


def test_without_the_model_the_moe_note_says_what_would_cost_it() -> None:
    name = "tracelens/b200/eager_trace.json.gz"
    code, out, err, _ = classify(name, model=False)
    assert code == 0, err
    doc = json.loads(out)
    times = doc["summary"]["time_by_bound"]
    assert times["unknown"] > 0.5 * sum(times.values())  # 56% unknown without it (43.7% bounded)
    moe = [k for k in doc["kernels"] if k["op"] == "vllm::moe_forward" and k["bound"] == "unknown"]
    assert moe and all("--model" in " ".join(k["notes"]) for k in moe)


def test_with_the_model_moe_forward_gets_the_model_arithmetic() -> None:
    """The B200 trace's 36 moe_forward calls on T=888 tokens, per GPU of 8 (64 heads in gpt-oss-120b's
    config, 8 recorded): 2·888·4·3·2880·2880/8 + 6·888·128 = 22,096,963,584 FLOPs per call."""
    doc = figures("tracelens/b200/eager_trace.json.gz")
    moe = [k for k in doc["kernels"] if k["op"] == "vllm::moe_forward"]
    assert sum(k["flops"] for k in moe) == pytest.approx(36 * 22_096_963_584, rel=1e-9)
    assert all(k["bound"] != "unknown" for k in moe)


def _independent():
    spec = importlib.util.spec_from_file_location("independent_figures", EXTERNAL / "independent_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_expected_json_is_what_the_independent_script_computes() -> None:
    """expected.json is not edited by hand: the script reproduces it (checked on the small traces)."""
    module = _independent()
    small = [name for name, row in EXPECTED.items() if row["bytes"] < 150_000]
    assert len(small) >= 10
    for name in small:
        row = dict(EXPECTED[name])
        for key in ("covers", "origin", "bytes"):
            row.pop(key)
        assert module.figures(str(EXTERNAL / name)) == row, name
    # The issue's own figure for this trace: 64.4 % idle by the union of kernel intervals.
    rank0 = EXPECTED["hta/negative_queue_length_values_check/rank0.json.gz"]
    assert rank0["idle_share"] == pytest.approx(0.644, abs=5e-4)


def test_every_corpus_file_has_its_licence_and_origin() -> None:
    readme = (EXTERNAL / "README.md").read_text()
    for folder in ("hta", "tracelens"):
        assert "MIT License" in (EXTERNAL / folder / "LICENSE").read_text()
    for name, row in EXPECTED.items():
        assert (EXTERNAL / name).stat().st_size == row["bytes"], name
        assert row["origin"]["path"] in readme and name in readme, name
    on_disk = {str(p.relative_to(EXTERNAL)) for folder in ("hta", "tracelens")
               for p in (EXTERNAL / folder).rglob("*.json.gz")}
    # Graph-capture profiles (cut: benchmarks/capture/cut_capture.py) sit beside their replay trace.
    captures = {name for name in on_disk if Path(name).parent.name == "capture_traces"}
    for name in captures:
        assert name in readme, name
    assert on_disk - captures == set(EXPECTED)


def test_rocm_memcpy_takes_the_size_of_its_runtime_call() -> None:
    # hipMemcpyWithStream records "size": "2560"; its op, aten::copy_ of a [5, 128] float tensor,
    # moves 5 x 128 x 4 = 2560 bytes: the two copies of the trace carry 5120 bytes and a bound.
    code, out, _, _ = classify("hta/amd_trace/mi250_minitoy_train_ROCm6_2_kineto.json.gz")
    copies = [k for k in json.loads(out)["kernels"] if k["name"].startswith("Memcpy HtoD")]
    assert code == 0 and copies
    assert sum(k["bytes"] for k in copies) == 2 * 5 * 128 * 4
    assert all(k["bound"] != "unknown" and k["source"] == "trace" for k in copies)
