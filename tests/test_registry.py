"""The hardware registry: every bundled spec loads, ridge points match SPEC §5, names resolve."""

from __future__ import annotations

from pathlib import Path

import pytest

from roofline.data import bundled_dir
from roofline.errors import InputError
from roofline.hardware.registry import load_registry, normalize_name, resolve_roofs
from roofline.hardware.spec import roofs_from_spec
from roofline.precision import Precision, Unit

REQUIRED = [
    "v100-sxm2",
    "a100-sxm4-40gb",
    "a100-sxm4-80gb",
    "a100-pcie-80gb",
    "h100-sxm",
    "h100-pcie",
    "h100-nvl",
    "h200-sxm",
    "b200",
    "gb200",
    "l4",
    "l40s",
    "rtx-4090",
    "mi300x",
    "mi325x",
]


def test_every_required_device_is_registered() -> None:
    registry = load_registry()
    missing = [name for name in REQUIRED if name not in registry.specs]
    assert not missing


@pytest.mark.parametrize(
    ("device", "precision", "expected"),
    [
        # SPEC §5 / seed 002 table 3: ridge = dense peak / HBM bandwidth.
        ("h100-sxm", Precision.FP16, 295),  # 989.4 / 3.35
        ("h100-sxm", Precision.FP8, 591),  # 1978.9 / 3.35
        ("a100-sxm4-80gb", Precision.FP16, 153),  # 312 / 2.039
        ("v100-sxm2", Precision.FP16, 139),  # 125 / 0.9
        ("h200-sxm", Precision.FP16, 206),  # 989.4 / 4.8
        ("b200", Precision.FP16, 281),  # 2250 / 8 as tabled in the seed
    ],
)
def test_ridge_points_match_reference(device: str, precision: Precision, expected: float) -> None:
    spec = load_registry().resolve(device)
    ridge = roofs_from_spec(spec).ridge_point(precision, Unit.MATRIX)
    assert ridge == pytest.approx(expected, abs=1.0)


def test_peaks_are_dense_not_sparse() -> None:
    # The datasheet headline for H100 SXM bf16 is 1979 "with sparsity"; the registry's roof is 989.4.
    spec = load_registry().resolve("h100-sxm")
    assert spec.peak_tflops.matrix[Precision.BF16] == pytest.approx(989.4)
    assert spec.sparse_peak_tflops is not None
    assert spec.sparse_peak_tflops.matrix[Precision.BF16] == pytest.approx(2 * 989.4, rel=1e-3)
    roofs = roofs_from_spec(spec)
    assert roofs.compute[(Unit.MATRIX, Precision.BF16)].value == pytest.approx(989.4e12)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("h100", "h100-sxm"),
        ("H100-SXM5-80GB", "h100-sxm"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H200", "h200-sxm"),
        ("h200", "h200-sxm"),
        ("NVIDIA A100-SXM4-80GB", "a100-sxm4-80gb"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H100 NVL", "h100-nvl"),
        ("AMD Instinct MI300X", "mi300x"),
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("Tesla V100-SXM2-32GB", "v100-sxm2"),
    ],
)
def test_aliases_resolve(alias: str, name: str) -> None:
    assert load_registry().resolve(alias).name == name


def test_every_spec_cites_its_sources() -> None:
    for path in sorted(bundled_dir("hwspecs").glob("*.yaml")):
        head = path.read_text().splitlines()[:40]
        comments = [line for line in head if line.startswith("#")]
        assert any("source" in line.lower() for line in comments), f"{path.name} cites no sources"


def test_unknown_device_suggests_close_names() -> None:
    with pytest.raises(InputError) as info:
        load_registry().resolve("h100-sxn")
    message = str(info.value)
    assert "unknown device 'h100-sxn'" in message
    assert "h100-sxm" in message


def test_normalize_name_ignores_case_punctuation_and_vendor() -> None:
    assert normalize_name("NVIDIA H200") == normalize_name("h200")
    assert normalize_name("H100-SXM5-80GB") == "h100sxm580gb"


def test_user_spec_file_extends_registry(tmp_path: Path) -> None:
    spec = tmp_path / "mygpu.yaml"
    spec.write_text(
        "schema_version: 1\nname: my-gpu\ndisplay_name: My GPU\nvendor: other\naliases: ['My GPU 9000']\n"
        "peak_tflops: {matrix: {bf16: 100}, vector: {fp32: 10}}\n"
        "memory: {capacity_gb: 16, bandwidth_tb_s: 1.0}\nlaunch_overhead_us: {eager: 4, graph: 1}\n"
    )
    registry = load_registry(extra_files=[spec])
    assert registry.resolve("My GPU 9000").name == "my-gpu"
    ridge = roofs_from_spec(registry.resolve("my-gpu")).ridge_point(Precision.BF16, Unit.MATRIX)
    assert ridge == pytest.approx(100.0)  # 100e12 / 1e12
    assert "h100-sxm" in registry.specs  # bundled specs remain


def test_user_directory_extends_registry(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text(
        "schema_version: 1\nname: x-gpu\ndisplay_name: X\nvendor: other\n"
        "peak_tflops: {vector: {fp32: 10}}\nmemory: {capacity_gb: 1, bandwidth_tb_s: 0.5}\n"
        "launch_overhead_us: {eager: 4, graph: 1}\n"
    )
    assert load_registry(extra_dirs=[tmp_path]).resolve("x-gpu").display_name == "X"


def test_typo_in_spec_names_file_key_and_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "schema_version: 1\nname: bad\ndisplay_name: Bad\nvendor: other\n"
        "peak_tflops: {vector: {fp32: 10}}\nmemory: {capacity_gb: 1, bandwith_tb_s: 0.5}\n"
        "launch_overhead_us: {eager: 4, graph: 1}\n"
    )
    with pytest.raises(InputError) as info:
        load_registry(extra_files=[spec])
    message = str(info.value)
    assert str(spec) in message
    assert "line 6" in message
    assert "memory.bandwith_tb_s" in message
    assert "did you mean 'bandwidth_tb_s'" in message


def test_unknown_precision_in_spec_is_an_error(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "schema_version: 1\nname: bad\ndisplay_name: Bad\nvendor: other\n"
        "peak_tflops: {vector: {fp33: 10}}\nmemory: {capacity_gb: 1, bandwidth_tb_s: 0.5}\n"
        "launch_overhead_us: {eager: 4, graph: 1}\n"
    )
    with pytest.raises(InputError, match="unknown precision 'fp33'"):
        load_registry(extra_files=[spec])


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    spec = tmp_path / "future.yaml"
    spec.write_text(
        "schema_version: 2\nname: f\ndisplay_name: F\nvendor: other\n"
        "peak_tflops: {vector: {fp32: 10}}\nmemory: {capacity_gb: 1, bandwidth_tb_s: 0.5}\n"
        "launch_overhead_us: {eager: 4, graph: 1}\n"
    )
    with pytest.raises(InputError, match="unsupported schema_version 2"):
        load_registry(extra_files=[spec])


def test_measured_ceilings_override_datasheet_roofs() -> None:
    registry = load_registry()
    spec, roofs, path = resolve_roofs(registry, "h200", ceilings="measured")
    assert path is not None
    bf16 = roofs.compute[(Unit.MATRIX, Precision.BF16)]
    # The newest overlay, tests/data/h200/profiled/measure.txt: 786.3 TFLOP/s bf16 at 8192³, a
    # 4.25 TB/s copy, 6.66 µs per eager launch from Python.
    assert bf16.origin == "measured"
    assert bf16.value == pytest.approx(786.3e12, rel=1e-3)
    assert roofs.memory_bandwidth.value == pytest.approx(4.25e12, rel=1e-3)
    assert roofs.launch_floor_eager.value == pytest.approx(6.66e-6, rel=1e-2)
    # Datasheet roofs are kept beside the measured ones.
    assert roofs.datasheet_compute[(Unit.MATRIX, Precision.BF16)].value == pytest.approx(989.5e12, rel=1e-3)
    # A roof that was not measured stays datasheet.
    assert roofs.compute[(Unit.VECTOR, Precision.FP64)].origin == "datasheet"
    assert roofs.uses_measured


def test_ceilings_for_another_device_are_refused() -> None:
    with pytest.raises(InputError, match="measured on 'h200-sxm', not 'h100-sxm'"):
        overlay = next(iter(load_registry().overlays["h200-sxm"]))[0]
        resolve_roofs(load_registry(), "h100-sxm", ceilings=str(overlay))


def test_fp32_gemm_falls_back_to_the_vector_roof_on_nvidia() -> None:
    roofs = roofs_from_spec(load_registry().resolve("h100-sxm"))
    roof = roofs.compute_roof(Precision.FP32, Unit.MATRIX)
    assert roof is not None and roof.label == "fp32 vector"
    # AMD CDNA3 has an fp32 matrix path.
    amd = roofs_from_spec(load_registry().resolve("mi300x"))
    assert amd.compute_roof(Precision.FP32, Unit.MATRIX).label == "fp32 matrix"
    # No fp8 matrix on A100: no roof rather than a wrong one.
    a100 = roofs_from_spec(load_registry().resolve("a100-sxm4-80gb"))
    assert a100.compute_roof(Precision.FP8, Unit.MATRIX) is None
