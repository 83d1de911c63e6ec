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
    "mi210",
    "mi250",
    "mi250x",
    "mi355x",
    "b300",
    "gb300",
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


@pytest.mark.parametrize(
    ("device", "package_peak", "package_bandwidth"),
    [
        # ROCm mi250.md peak table (package, two GCDs): FP16 362.1, matrix FP64 90.5; 3.2 Gb/s HBM2e on
        # 8192 bits = 3.2768 TB/s. A GCD is one PyTorch device: half of each.
        ("mi250", {Precision.FP16: 362.1, Precision.FP64: 90.5}, 3.2768),
        # MI250X launch table (220 CUs): FP16 383.0, matrix FP64 95.7, same memory.
        ("mi250x", {Precision.FP16: 383.0, Precision.FP64: 95.7}, 3.2768),
    ],
)
def test_mi250_specs_are_per_gcd(device: str, package_peak: dict, package_bandwidth: float) -> None:
    spec = load_registry().resolve(device)
    assert spec.devices_per_package == 2
    for precision, peak in package_peak.items():
        assert spec.peak_tflops.matrix[precision] == pytest.approx(peak / 2, abs=0.06)
    assert spec.memory.bandwidth_tb_s == pytest.approx(package_bandwidth / 2)
    assert spec.memory.capacity_gb == 128 / 2


def test_mi210_is_one_mi250_gcd_with_its_own_links() -> None:
    # AnandTech's MI210 column: 104 CUs at 1.7 GHz, FP16 181, FP64 matrix 45.3, 64 GB, 1.6 TB/s.
    registry = load_registry()
    mi210, gcd = registry.resolve("mi210"), registry.resolve("mi250")
    assert mi210.peak_tflops == gcd.peak_tflops and mi210.sm_count == gcd.sm_count == 104
    assert mi210.peak_tflops.matrix[Precision.FP16] == pytest.approx(104 * 1.7e9 * 1024 / 1e12, abs=0.1)
    assert mi210.interconnect.bandwidth_gb_s == 300 and mi210.devices_per_package == 1


def test_mi355x_peaks_are_cus_times_clock_times_rate() -> None:
    # 256 CUs (ROCm gpu-specs) x 2.4 GHz x 8192 FP8 FLOPS/clk/CU (ISSCC 2026) = 5033.2 TFLOP/s.
    spec = load_registry().resolve("mi355x")
    fp8 = 256 * 2.4e9 * 8192 / 1e12
    assert spec.peak_tflops.matrix[Precision.FP8] == pytest.approx(fp8, abs=0.1)
    assert spec.peak_tflops.matrix[Precision.FP16] == pytest.approx(fp8 / 2, abs=0.1)
    assert spec.peak_tflops.matrix[Precision.FP4] == spec.peak_tflops.matrix[Precision.FP6] == pytest.approx(2 * fp8,
                                                                                                             abs=0.1)
    roofs = roofs_from_spec(spec)
    assert roofs.compute_roof(Precision.TF32, Unit.MATRIX) is None  # no CDNA 4 TF32 figure: no roof
    assert roofs.ridge_point(Precision.FP4, Unit.MATRIX) == pytest.approx(10066.3 / 8.0, rel=1e-4)


@pytest.mark.parametrize(
    ("device", "fp4", "bf16"),
    [
        ("b200", 9000, 2250),  # Blackwell datasheet, HGX B200: FP4 18 PF sparse -> 9 dense
        ("gb200", 10000, 2500),
        ("b300", 14000, 2250),  # Blackwell Ultra (aiconfigurator b300_sxm): FP4 14 PF dense, 18 sparse
        ("gb300", 15000, 2500),  # GB300: FP4 15 PF dense
    ],
)
def test_blackwell_parts_have_an_fp4_tensor_roof(device: str, fp4: float, bf16: float) -> None:
    roofs = roofs_from_spec(load_registry().resolve(device))
    assert roofs.compute_roof(Precision.FP4, Unit.MATRIX).value == pytest.approx(fp4 * 1e12)
    assert roofs.compute_roof(Precision.BF16, Unit.MATRIX).value == pytest.approx(bf16 * 1e12)


def test_blackwell_ultra_cuts_int8_and_fp64() -> None:
    # The Blackwell Ultra trade (Hot Chips 2025): far less INT8 and FP64 than B200.
    registry = load_registry()
    b200, b300 = registry.resolve("b200"), registry.resolve("b300")
    assert b300.peak_tflops.matrix[Precision.INT8] < b200.peak_tflops.matrix[Precision.INT8] / 25
    assert b300.peak_tflops.matrix[Precision.FP64] < b200.peak_tflops.matrix[Precision.FP64] / 25
    assert b300.compute_capability == registry.resolve("gb300").compute_capability == "10.3"


def test_every_gpu_spec_can_be_identified_without_a_name() -> None:
    # Nameless trace devices are matched by compute capability (gfx target on AMD).
    for spec in load_registry().specs.values():
        if spec.vendor in ("nvidia", "amd"):
            assert spec.compute_capability, spec.name
        if spec.vendor == "amd":
            assert spec.gfx_arch, spec.name
