"""`roofline hw measure`: the plan, the statistics and the overlay with a fake backend; the torch
paths on the CPU; the real thing on a GPU (marked ``gpu``)."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

import roofline.cli.hw_measure as hw_cli
from roofline.cli import app
from roofline.hardware import measure as m
from roofline.hardware.registry import load_hw_file, load_registry, resolve_roofs
from roofline.hardware.spec import CeilingsOverlay
from roofline.precision import Precision, Unit

runner = CliRunner()
MiB = 2**20
H200_L2 = 62914560  # tests/data/h200/device.json L2_cache_size
H200_MEMORY = 150109880320  # tests/data/h200/device.json total_memory

# The H200 figures of tests/data/h200/ceilings.json (H200CEIL), as SI rates the fake device runs at.
H200CEIL = {
    "hbm_copy": 4.264e12, "hbm_read": 4.422e12, "hbm_write": 4.654e12, "l2_read": 9.5e12,
    "gemm_fp64": 58.99e12, "gemm_fp32": 50.58e12, "gemm_tf32": 396.35e12, "gemm_fp16": 739.0e12,
    "gemm_bf16": 768.64e12, "gemm_fp8": 1385.14e12, "gemm_int8": 127.34e12,
    "launch_eager": 13.82e-6, "launch_graph": 0.856e-6,
}
H200_IDENTITY = {"device_name": "NVIDIA H200", "memory_bytes": H200_MEMORY, "l2_bytes": H200_L2,
                 "sm_count": 132, "compute_capability": "9.0", "torch": "2.11.0+cu130", "cuda": "13.0",
                 "driver": "580.159.04"}


class FakeBackend:
    """A device that runs each benchmark at a given rate, with a ±1% jitter cycle (so spreads show)."""

    def __init__(self, rates: dict[str, float], unsupported: tuple[str, ...] = ()) -> None:
        self.rates, self.unsupported = rates, unsupported
        self.calls: list[str] = []
        self.released = 0
        self._jitter = [1.0, 1.01, 0.99]

    def identity(self) -> dict:
        return dict(H200_IDENTITY)

    def prepare(self, bench: m.Benchmark):
        if bench.key in self.unsupported:
            raise m.Unsupported("not on this device")
        rate = self.rates[bench.key]
        seconds = bench.work * rate if bench.kind == "launch" else bench.work / rate
        return lambda: seconds

    def time(self, fn, clock: str) -> float:
        self.calls.append(clock)
        return fn() * self._jitter[len(self.calls) % 3]

    def clocks(self) -> dict[str, float]:
        return {"sm_clock_mhz": 1980.0, "memory_clock_mhz": 3201.0}

    def release(self) -> None:
        self.released += 1


def measure_fake(quick: bool = False, **kwargs):
    settings, benches = m.plan(H200_L2, H200_MEMORY, quick=quick)
    backend = FakeBackend(H200CEIL, **kwargs)
    return settings, benches, backend, m.run_benchmarks(backend, settings, benches)


@pytest.fixture(scope="module")
def h200():
    return load_registry().resolve("h200")


def test_plan_sizes_for_an_h200() -> None:
    settings, benches = m.plan(H200_L2, H200_MEMORY, quick=False)
    # 2 GiB DRAM buffers are 34x the 60 MiB L2; 8192³ GEMMs; the L2 buffer a quarter of L2.
    assert settings.hbm_bytes == 2 * m.GiB and settings.hbm_bytes >= 32 * H200_L2
    assert settings.gemm_n == 8192 and settings.l2_bytes == H200_L2 // 4
    by_key = {b.key: b for b in benches}
    assert by_key["hbm_copy"].work == 2 * 2 * m.GiB  # read + write bytes
    assert by_key["gemm_bf16"].work == 2 * 8192**3  # 1.0995e12 FLOP
    assert by_key["launch_eager"].clock == "host" and by_key["launch_graph"].clock == "device"
    assert {b.precision for b in benches if b.kind == "compute"} == set(m.GEMM_PRECISIONS)
    quick, _ = m.plan(H200_L2, H200_MEMORY, quick=True)
    assert quick.gemm_n == 4096 and quick.reps < settings.reps and quick.hbm_bytes == 8 * H200_L2


def test_plan_caps_buffers_on_a_small_gpu() -> None:
    settings, _ = m.plan(4 * MiB, 8 * m.GiB, quick=False)
    assert settings.hbm_bytes == m.GiB  # an eighth of memory


def test_stats_median_and_spread() -> None:
    s = m.stats([10.0, 9.0, 11.0, 10.5, 9.5])
    assert (s.median, s.low, s.high, s.reps) == (10.0, 9.0, 11.0, 5)
    assert s.spread_pct == pytest.approx(10.0)


def test_run_benchmarks_warms_up_and_repeats() -> None:
    settings, benches, backend, results = measure_fake()
    assert len(backend.calls) == len(benches) * (settings.warmup + settings.reps)
    assert backend.released == len(benches)  # buffers freed after every benchmark
    copy = next(r for r in results if r.bench.key == "hbm_copy")
    assert copy.figure is not None and copy.figure.reps == settings.reps
    assert copy.figure.median == pytest.approx(4.264e12, rel=1e-9)
    assert copy.figure.low < copy.figure.median < copy.figure.high  # the ±1% jitter shows as spread
    launch = next(r for r in results if r.bench.key == "launch_eager")
    assert launch.figure.median == pytest.approx(13.82e-6, rel=1e-9)  # seconds per launch


def test_overlay_from_h200_measurements(h200) -> None:
    _, _, _, results = measure_fake()
    overlay, notes = m.build_overlay(results, h200, "h200-sxm", {"date": "2026-11-21"})
    # The same choices as hwspecs/measured/h200-sxm-2026-10.yaml, made by the code.
    assert overlay.peak_tflops.matrix == {Precision.BF16: 768.6, Precision.FP16: 739.0, Precision.TF32: 396.4,
                                          Precision.FP8: 1385.1, Precision.FP64: 59.0}
    assert overlay.peak_tflops.vector == {Precision.FP32: 50.6}  # TF32 off: the CUDA-core roof
    assert overlay.memory.bandwidth_tb_s == 4.26 and overlay.memory.read_bandwidth_tb_s == 4.42
    assert overlay.memory.write_bandwidth_tb_s == 4.65 and overlay.memory.l2_bandwidth_tb_s == 9.5
    assert (overlay.launch_overhead_us.eager, overlay.launch_overhead_us.graph) == (13.82, 0.86)
    # 127.3 TOPS int8 is 6% of the 1978.9 datasheet: another code path, left out with a note.
    assert Precision.INT8 not in overlay.peak_tflops.matrix
    assert any(n.startswith("GEMM 8192³ int8: 127.3 TOPS is 6% of 1978.9") for n in notes)


def test_fp64_without_tensor_cores_goes_to_the_vector_roof() -> None:
    l4 = load_registry().resolve("l4")  # Ada: no fp64 matrix peak
    bench = m.Benchmark("gemm_fp64", "GEMM fp64", "compute", 1.0, 8, precision="fp64")
    assert m.roof_of(bench, l4) == ("vector", "fp64")


def test_unsupported_benchmarks_are_skipped_and_noted(h200) -> None:
    _, _, _, results = measure_fake(unsupported=("gemm_fp8", "launch_graph"))
    fp8 = next(r for r in results if r.bench.key == "gemm_fp8")
    assert fp8.figure is None and fp8.skipped == "not on this device"
    overlay, notes = m.build_overlay(results, h200, "h200-sxm", {})
    assert Precision.FP8 not in overlay.peak_tflops.matrix and overlay.launch_overhead_us.graph is None
    assert any("not measured (not on this device)" in n for n in notes)


def test_figure_above_the_datasheet_is_flagged(h200) -> None:
    settings, benches = m.plan(H200_L2, H200_MEMORY, quick=True)
    results = m.run_benchmarks(FakeBackend(dict(H200CEIL, gemm_bf16=1100e12)), settings, benches)
    _, notes = m.build_overlay(results, h200, "h200-sxm", {})
    assert any("bf16: 1100.0 TFLOP/s is above the datasheet 111% of 989.4" in n for n in notes)


def test_overlay_yaml_loads_and_applies_as_ceilings(tmp_path: Path, h200) -> None:
    settings, _, backend, results = measure_fake()
    fields = m.measured_on(backend.identity(), results, settings, date="2026-11-21", tool="roofline test")
    overlay, _ = m.build_overlay(results, h200, "h200-sxm", fields)
    text = m.overlay_yaml(overlay, results, h200, settings)
    assert "DRAM copy (read + write)" in text and "±" in text and "89% of 4.8" in text
    path = tmp_path / "ceilings.yaml"
    path.write_text(text)
    loaded = load_hw_file(path)
    assert isinstance(loaded, CeilingsOverlay) and loaded == overlay
    assert loaded.measured_on["driver"] == "580.159.04" and loaded.measured_on["sm_clock_mhz_after_gemms"] == "1980..1980"
    assert "GEMM 8192^3" in str(loaded.measured_on["method"])
    _, roofs, used = resolve_roofs(load_registry(), "h200", ceilings=str(path))
    assert used == path
    bf16 = roofs.compute[(Unit.MATRIX, Precision.BF16)]
    assert bf16.origin == "measured" and bf16.value == pytest.approx(768.6e12)
    assert roofs.memory_bandwidth.value == pytest.approx(4.26e12)


@pytest.fixture
def fake_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hw_cli.m, "TorchBackend", lambda device: FakeBackend(H200CEIL))


def test_cli_measure_writes_an_overlay_that_applies(fake_gpu, tmp_path: Path) -> None:
    out = tmp_path / "h200.yaml"
    result = runner.invoke(app, ["hw", "measure", "--quick", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "registry: h200-sxm" in result.stderr and "measured ceilings" in result.stderr
    overlay = load_hw_file(out)
    assert isinstance(overlay, CeilingsOverlay) and overlay.base == "h200-sxm"
    assert overlay.measured_on["mode"] == "quick" and overlay.measured_on["device_name"] == "NVIDIA H200"
    shown = runner.invoke(app, ["hw", "show", "h200", "--ceilings", str(out), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["roofs"]["bf16 matrix"] == {"flops_per_s": 768.6e12, "origin": "measured"}


def test_cli_measure_to_stdout(fake_gpu) -> None:
    result = runner.invoke(app, ["hw", "measure", "--quick"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["kind"] == "ceilings"


def test_cli_measure_base_override(fake_gpu, tmp_path: Path) -> None:
    result = runner.invoke(app, ["hw", "measure", "--quick", "--base", "h100-sxm", "-o", str(tmp_path / "x.yaml")])
    assert result.exit_code == 0, result.output
    assert load_hw_file(tmp_path / "x.yaml").base == "h100-sxm"


def test_cli_measure_without_torch_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # import fails as if not installed
    result = runner.invoke(app, ["hw", "measure"])
    assert result.exit_code == 2
    assert result.stderr == "roofline: error: hw measure: torch is not installed — pip install 'roofline[torch]' (a CUDA build)\n"


def test_cli_measure_without_gpu_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_torch = SimpleNamespace(__version__="2.13.0+cpu", cuda=SimpleNamespace(is_available=lambda: False))
    monkeypatch.setitem(sys.modules, "torch", cpu_torch)
    result = runner.invoke(app, ["hw", "measure", "--quick"])
    assert result.exit_code == 2
    assert "no CUDA GPU is visible to torch 2.13.0+cpu" in result.stderr
    assert result.stderr.count("\n") == 1


def test_torch_paths_run_on_the_cpu() -> None:
    """Every torch benchmark body runs (tiny sizes, CPU): no GPU needed to catch API drift."""
    pytest.importorskip("torch")
    backend = m.TorchBackend(allow_cpu=True)
    settings, benches = m.plan(MiB, 8 * m.GiB, quick=True)
    settings = replace(settings, warmup=1, reps=2)
    benches = [replace(b, size=64, work=2.0 * 64**3) if b.kind == "compute" else
               replace(b, size=MiB, work=2.0 * MiB) if b.kind == "bandwidth" else b for b in benches]
    results = {r.bench.key: r for r in m.run_benchmarks(backend, settings, benches)}
    assert results["launch_graph"].skipped == "CUDA graphs need a GPU"
    for key in ("hbm_copy", "hbm_read", "hbm_write", "l2_read", "gemm_fp64", "gemm_fp32", "gemm_tf32",
                "gemm_bf16", "launch_eager"):
        assert results[key].figure is not None and results[key].figure.median > 0, (key, results[key].skipped)
    assert backend.identity()["torch"]


@pytest.mark.gpu
def test_measure_on_the_gpu(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    out = tmp_path / "ceilings.yaml"
    result = runner.invoke(app, ["hw", "measure", "--quick", "--output", str(out)])
    assert result.exit_code == 0, result.output
    overlay = load_hw_file(out)
    assert isinstance(overlay, CeilingsOverlay)
    spec = load_registry().lookup(overlay.base)
    if spec is not None:  # a registered GPU: the quick figures land in broad bands of its datasheet
        assert 0.5 * spec.memory.bandwidth_tb_s < overlay.memory.bandwidth_tb_s < 1.05 * spec.memory.bandwidth_tb_s
        bf16 = spec.peak_tflops.matrix.get(Precision.BF16)
        if bf16:
            assert 0.4 * bf16 < overlay.peak_tflops.matrix[Precision.BF16] < 1.05 * bf16
    assert overlay.launch_overhead_us.graph < overlay.launch_overhead_us.eager


def test_cli_measure_out_is_a_deprecated_spelling_of_output(fake_gpu, tmp_path: Path) -> None:
    # Every command writes its file with --output; hw measure's former --out still works, hidden.
    out = tmp_path / "old.yaml"
    result = runner.invoke(app, ["hw", "measure", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "--out is deprecated; use --output" in result.stderr
    assert isinstance(load_hw_file(out), CeilingsOverlay)
    both = runner.invoke(app, ["hw", "measure", "--quick", "--out", str(out), "--output", str(tmp_path / "b.yaml")])
    assert both.exit_code == 2 and "--out and --output both given" in both.stderr
    assert "--out " not in runner.invoke(app, ["hw", "measure", "--help"], env={"COLUMNS": "200"}).stdout
