"""Declared-kernel YAML: the bundled example classifies as the seed says; bad input is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.roofline import Bound
from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.precision import Precision, Unit
from roofline.sources import read_input


@pytest.fixture
def h100():
    return roofs_from_spec(load_registry().resolve("h100-sxm"))


def test_example_workload_bounds_match_seed_table(repo: Path, h100) -> None:
    loaded = read_input(repo / "workloads" / "ml_ops.yaml")
    assert loaded.format == "declared"
    assert loaded.device_name == "h100-sxm"
    bounds = {work.name: classify_kernel(work, h100).bound for work in loaded.kernels}
    assert bounds == {
        "gemm_4096x4096x4096": Bound.COMPUTE,
        "attention_naive_s2048_h32_d128": Bound.MEMORY,
        "attention_fused_s2048_h32_d128": Bound.COMPUTE,
        "gelu_4096x4096": Bound.MEMORY,
        "layer_norm_4096x4096": Bound.MEMORY,
        "decode_b1_gemv_4096": Bound.MEMORY,
        "llama70b_decode_step_tp8": Bound.MEMORY,
        "small_add_4096": Bound.LAUNCH,
    }


def test_example_intensities(repo: Path, h100) -> None:
    loaded = {k.name: k for k in read_input(repo / "workloads" / "ml_ops.yaml").kernels}
    verdict = classify_kernel(loaded["gemm_4096x4096x4096"], h100)
    assert verdict.ai == pytest.approx(1365.3, abs=0.1)
    assert verdict.ridge_point == pytest.approx(295.3, abs=0.1)
    assert verdict.time_basis == "predicted"
    # 137.4 GFLOP / 989.4 TFLOP/s = 138.9 µs, plus the 5 µs eager launch floor.
    assert verdict.total_s == pytest.approx(137.439e9 / 989.4e12 + 5e-6, rel=1e-6)
    attention = classify_kernel(loaded["attention_naive_s2048_h32_d128"], h100)
    assert 50 <= attention.ai <= 200  # seed table 4: self-attention (seq 2048) ~50–200 FLOP/B
    decode = classify_kernel(loaded["llama70b_decode_step_tp8"], h100)
    assert decode.memory_s == pytest.approx(5.22e-3, rel=1e-3)  # napkin math 1.1


def test_measured_duration_gives_achieved_rates(h100) -> None:
    # A 4096³ fp16 GEMM measured at 176 µs: 780.9 TFLOP/s achieved of a 989.4 roof = 78.9%.
    work = KernelWork(
        name="gemm", flops=137438953472, bytes=100663296, precision=Precision.FP16, unit=Unit.MATRIX,
        measured_s=176e-6,
    )
    verdict = classify_kernel(work, h100)
    assert verdict.achieved_flops_per_s == pytest.approx(137438953472 / 176e-6)
    assert verdict.pct_of_roof == pytest.approx(137438953472 / 176e-6 / 989.4e12)
    assert verdict.attainable_flops_per_s == pytest.approx(989.4e12)
    assert verdict.achieved_bytes_per_s == pytest.approx(100663296 / 176e-6)


def test_point_above_the_roof_is_reported_not_hidden(h100) -> None:
    # 100 MB "moved" in 10 µs is 10 TB/s on a 3.35 TB/s part: the model or the roof is wrong.
    work = KernelWork(name="copy", flops=0, bytes=100e6, precision=Precision.FP16, measured_s=10e-6)
    verdict = classify_kernel(work, h100)
    assert verdict.pct_of_roof == pytest.approx(100e6 / 3.35e12 / 10e-6)
    assert any(note.startswith("above the roof") for note in verdict.notes)


def test_unknown_flops_give_unknown_with_reason(h100) -> None:
    work = KernelWork(name="mystery", measured_s=1e-3, source="none", unknown_reason="no formula for op 'foo'")
    verdict = classify_kernel(work, h100)
    assert verdict.bound is Bound.UNKNOWN
    assert verdict.total_s == pytest.approx(1e-3)
    assert verdict.notes == ["no formula for op 'foo'"]


def test_precision_without_a_roof_is_unknown() -> None:
    a100 = roofs_from_spec(load_registry().resolve("a100-sxm4-80gb"))
    work = KernelWork(name="fp8_gemm", flops=1e12, bytes=1e9, precision=Precision.FP8, unit=Unit.MATRIX)
    verdict = classify_kernel(work, a100)
    assert verdict.bound is Bound.UNKNOWN
    assert "no fp8 matrix peak" in verdict.notes[0]


def test_count_divides_totals_into_per_call_terms(h100) -> None:
    # 300 calls of 24.6 KB each: per-call memory term is 24.6 KB / 3.35 TB/s, not 300× that.
    work = KernelWork(name="add", flops=300 * 4096, bytes=300 * 24576, precision=Precision.FP16, count=300,
                      measured_s=300 * 2e-6)
    verdict = classify_kernel(work, h100)
    assert verdict.memory_s == pytest.approx(24576 / 3.35e12)
    assert verdict.bound is Bound.LAUNCH


def test_graph_runtime_uses_the_graph_launch_floor(tmp_path: Path, h100) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(
        "schema_version: 1\nruntime: graph\nkernels:\n"
        "  - {name: k, flops: 1e6, bytes: 8e6, precision: bf16}\n"
    )
    (work,) = read_input(path).kernels
    verdict = classify_kernel(work, h100)
    # 8 MB / 3.35 TB/s = 2.39 µs: memory-bound against a 1 µs graph floor, launch-bound against 5 µs eager.
    assert verdict.launch_s == pytest.approx(1e-6)
    assert verdict.bound is Bound.MEMORY


def test_si_suffixes_are_read(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(
        "schema_version: 1\nkernels:\n  - {name: k, flops: 137.4G, bytes: 100.7 MB, precision: fp16}\n"
        "  - {name: j, flops: 1e3, bytes: 64 MiB, precision: fp16}\n"
    )
    first, second = read_input(path).kernels
    assert first.flops == pytest.approx(137.4e9)
    assert first.bytes == pytest.approx(100.7e6)
    assert second.bytes == 64 * 2**20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "schema_version: 1\nkernels:\n  - name: k\n    flop: 1\n    bytes: 1\n    precision: fp16\n",
            ["line 4", "unknown key 'kernels[0].flop'", "did you mean 'flops'?"],
        ),
        (
            "schema_version: 1\nkernels:\n  - name: k\n    flops: -5\n    bytes: 1\n    precision: fp16\n",
            ["line 4", "'kernels[0].flops'", "greater than or equal to 0"],
        ),
        (
            "schema_version: 1\nkernels:\n  - name: k\n    flops: 1\n    bytes: 1\n    precision: fp17\n",
            ["line 6", "unknown precision 'fp17'"],
        ),
        (
            "schema_version: 1\nkernals:\n  - {name: k, flops: 1, bytes: 1, precision: fp16}\n",
            ["line 2", "unknown key 'kernals'", "did you mean 'kernels'?"],
        ),
        ("schema_version: 1\nkernels: [\n", ["invalid YAML"]),
        ("just a string\n", ["expected a mapping"]),
        ("schema_version: 1\nkernels: []\n", ["'kernels'", "at least 1"]),
        (
            "schema_version: 1\nkernels:\n  - {name: k, flops: 1, bytes: 1, precision: fp16}\n"
            "  - {name: k, flops: 1, bytes: 1, precision: fp16}\n",
            ["kernel name 'k' appears more than once"],
        ),
    ],
)
def test_bad_declared_input_is_one_line(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_input(path)
    message = info.value.one_line()
    assert "\n" not in message
    assert message.startswith(str(path))
    for part in expected:
        assert part in message


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_input(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(InputError, match="file is empty"):
        read_input(empty)
    blank = tmp_path / "blank.yaml"
    blank.write_text("\n# only a comment\n")
    with pytest.raises(InputError, match="file is empty|no YAML document"):
        read_input(blank)


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    lines.append("schema_version: 1\nkernels: *a7")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError):
        read_input(path)


def test_yaml_is_never_executed(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("schema_version: 1\nkernels: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(InputError, match="invalid YAML"):
        read_input(path)
