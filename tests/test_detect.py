"""`roofline hw detect` with a fake NVML: registry matching across variants, starter specs."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

import roofline.cli.hw_detect as hw_cli
import roofline.hardware.detect as detect_module
from roofline.cli import app
from roofline.hardware.detect import detect_gpus, match_spec, starter_spec
from roofline.hardware.registry import load_hw_file, load_registry
from roofline.hardware.spec import HardwareSpec

runner = CliRunner()
MiB = 2**20

# NVML memory totals as real boards report them (nvidia-smi "MiB" totals): an 80 GB H100 shows
# 81559 MiB, an H100 NVL 95830 MiB, the H200 150754820096 B (tests/data/h200/device.json).
H100_80 = 81559 * MiB
H100_NVL = 95830 * MiB
H200 = 150754820096


class FakeNVML(SimpleNamespace):
    """NVML with the H200 readings of tests/data/h200/device.json, per GPU name and memory."""

    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, gpus: list[tuple[str, int]], cores: int = 16896) -> None:
        super().__init__()
        self.gpus, self.cores = gpus, cores

    def nvmlInit(self) -> None: ...
    def nvmlShutdown(self) -> None: ...
    def nvmlDeviceGetCount(self) -> int: return len(self.gpus)
    def nvmlSystemGetDriverVersion(self) -> str: return "580.159.04"
    def nvmlDeviceGetHandleByIndex(self, index: int) -> int: return index
    def nvmlDeviceGetName(self, handle: int) -> bytes: return self.gpus[handle][0].encode()
    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=self.gpus[handle][1])
    def nvmlDeviceGetMaxClockInfo(self, handle: int, kind: int) -> int:
        return 1980 if kind == self.NVML_CLOCK_SM else 3201
    def nvmlDeviceGetClockInfo(self, handle: int, kind: int) -> int:
        return 345 if kind == self.NVML_CLOCK_SM else 3201  # idle SM clock, as seen on the H200
    def nvmlDeviceGetPowerManagementLimit(self, handle: int) -> int: return 700000
    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]: return (9, 0)
    def nvmlDeviceGetNumGpuCores(self, handle: int) -> int: return self.cores
    def nvmlDeviceGetMemoryBusWidth(self, handle: int) -> int: return 6016
    def nvmlDeviceGetUUID(self, handle: int) -> str: return f"GPU-0000000{handle}"
    def nvmlDeviceGetPciInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(busId=b"00000000:00:06.0")


H200_PROPS = {"sm_count": 132, "l2_bytes": 62914560, "shared_memory_per_sm_bytes": 233472,
              "total_memory_bytes": 150109880320}


@pytest.fixture
def registry():
    return load_registry()


@pytest.mark.parametrize(
    ("name", "memory", "expected", "method"),
    [
        ("NVIDIA H200", H200, "h200-sxm", "name"),
        ("NVIDIA H100 80GB HBM3", H100_80, "h100-sxm", "name"),  # NVML's name for the SXM5 part
        ("NVIDIA H100 PCIe", H100_80, "h100-pcie", "name"),
        ("NVIDIA H100 NVL", H100_NVL, "h100-nvl", "name"),
        # Names no alias lists: family + form-factor word + memory decide.
        ("NVIDIA H100 PCIe 80GB HBM2e", H100_80, "h100-pcie", "family+variant+memory"),
        ("NVIDIA H100 SXM5 80GB HBM3e", H100_80, "h100-sxm", "family+variant+memory"),
        ("NVIDIA H100 HBM3", H100_80, "h100-sxm", "family+variant+memory"),  # no form word: SXM naming
        ("NVIDIA H100 HBM3", H100_NVL, "h100-nvl", "family+variant+memory"),  # 94 GB: only the NVL has it
        # The alias 'h100' names the SXM part, but 94 GB of memory says NVL.
        ("NVIDIA H100", H100_NVL, "h100-nvl", "family+variant+memory"),
        ("NVIDIA A100-SXM4-40GB", 40960 * MiB, "a100-sxm4-40gb", "name"),
        ("NVIDIA A100-SXM4-80GB", 81920 * MiB, "a100-sxm4-80gb", "name"),
        ("NVIDIA A100 SXM4 40GB HBM2", 40960 * MiB, "a100-sxm4-40gb", "family+variant+memory"),
        ("NVIDIA A100 SXM4 80GB HBM2e", 81920 * MiB, "a100-sxm4-80gb", "family+variant+memory"),
    ],
)
def test_registry_match_by_name_variant_and_memory(registry, name, memory, expected, method) -> None:
    found = match_spec(registry, name, memory)
    assert found is not None and (found.name, found.method) == (expected, method)


@pytest.mark.parametrize(
    ("name", "memory"),
    [
        ("NVIDIA H200 NVL", H200),  # NVL variant of a family whose registry entry is SXM only
        ("NVIDIA A100-PCIE-40GB", 40960 * MiB),  # the registry's A100 PCIe has 80 GB (other bandwidth)
        ("NVIDIA L40", 46068 * MiB),  # not the L40S
        ("NVIDIA Z9000", 8 * 2**30),
    ],
)
def test_no_registry_match(registry, name, memory) -> None:
    assert match_spec(registry, name, memory) is None


def test_alias_kept_when_no_sibling_fits_the_memory(registry) -> None:
    # The 16 GB V100 is deliberately an alias of the 32 GB entry (same peaks and bandwidth).
    found = match_spec(registry, "Tesla V100-SXM2-16GB", 16160 * MiB)
    assert found is not None and found.name == "v100-sxm2"
    assert "differs from 32 GB" in found.note


def test_detect_reads_identity_memory_clocks_power(registry) -> None:
    (gpu,) = detect_gpus(registry, nvml=FakeNVML([("NVIDIA H200", H200)]))
    assert gpu.registry_name == "h200-sxm" and gpu.match_method == "name"
    assert gpu.memory_total_bytes == H200
    assert (gpu.max_sm_clock_mhz, gpu.sm_clock_mhz, gpu.max_memory_clock_mhz) == (1980, 345, 3201)
    assert gpu.power_limit_w == 700.0
    assert gpu.memory_bus_width_bits == 6016
    assert gpu.pci_bus_id == "00000000:00:06.0"
    assert gpu.driver == "580.159.04"


def test_starter_spec_from_nvml_and_torch_loads_and_derives_what_it_can(tmp_path: Path, registry) -> None:
    (gpu,) = detect_gpus(registry, nvml=FakeNVML([("NVIDIA Z9000", H200)]))
    assert gpu.registry_name is None
    text, spec = starter_spec(gpu, H200_PROPS)
    assert "NEEDS DATASHEET PEAKS" in text
    path = tmp_path / "z9000.yaml"
    path.write_text(text)
    loaded = load_hw_file(path)  # the draft validates as a spec as-is
    assert isinstance(loaded, HardwareSpec) and loaded == spec
    assert spec.name == "z9000" and spec.aliases == ["NVIDIA Z9000"]
    # 3201 MHz x 6016 bit x 2 (DDR) / 8 bit = 4.814 TB/s: the H200's 4.8 TB/s datasheet figure.
    assert spec.memory.bandwidth_tb_s == pytest.approx(4.814, abs=1e-3)
    # 16896 CUDA cores x 1980 MHz x 2 (FMA) = 66.9 TFLOP/s: the H100/H200 fp32 datasheet figure.
    assert spec.peak_tflops.vector["fp32"] == pytest.approx(66.9, abs=0.05)
    assert spec.peak_tflops.matrix == {}
    assert spec.memory.l2_mb == pytest.approx(62.9, abs=0.05) and spec.sm_count == 132
    assert spec.architecture == "hopper" and spec.tdp_w == 700.0
    # Capacity for max batch is torch's total_memory (tests/data/h200/device.json), not NVML's larger total.
    assert spec.memory.capacity_bytes == 150109880320 and spec.compute_capability == "9.0"


def test_starter_spec_without_torch_or_clocks_still_loads(registry) -> None:
    nvml = FakeNVML([("NVIDIA Z9000", 24 * 2**30)], cores=0)
    (gpu,) = detect_gpus(registry, nvml=nvml)
    text, spec = starter_spec(gpu, None)
    assert "UNKNOWN (placeholder 1.0)" in text
    assert spec.memory.capacity_gb == 24.0 and spec.sm_count is None


@pytest.fixture
def fake_nvml(monkeypatch: pytest.MonkeyPatch):
    def install(gpus: list[tuple[str, int]]) -> None:
        monkeypatch.setattr(detect_module, "_import_nvml", lambda: FakeNVML(gpus))
        monkeypatch.setattr(hw_cli, "torch_properties", lambda gpu: H200_PROPS)

    return install


def test_cli_detect_prints_match(fake_nvml) -> None:
    fake_nvml([("NVIDIA H100 PCIe 80GB HBM2e", H100_80)])
    result = runner.invoke(app, ["hw", "detect"])
    assert result.exit_code == 0, result.output
    assert "registry: h100-pcie (by family+variant+memory" in result.stdout
    assert "power limit 700.0 W" in result.stdout and "SM clock 345/1980 MHz" in result.stdout


def test_cli_detect_unknown_gpu_prints_starter_spec(fake_nvml) -> None:
    fake_nvml([("NVIDIA Z9000", H200)])
    result = runner.invoke(app, ["hw", "detect"])
    assert result.exit_code == 0, result.output
    assert "not in the registry" in result.stdout
    assert "# STARTER SPEC for NVIDIA Z9000" in result.stdout and "name: z9000" in result.stdout


def test_cli_detect_write_spec(fake_nvml, tmp_path: Path) -> None:
    fake_nvml([("NVIDIA H200", H200), ("NVIDIA Z9000", H200)])
    out = tmp_path / "z.yaml"
    result = runner.invoke(app, ["hw", "detect", "--write-spec", str(out)])
    assert result.exit_code == 0, result.output
    assert isinstance(load_hw_file(out), HardwareSpec)
    shown = runner.invoke(app, ["hw", "show", "z9000", "--hw-file", str(out), "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["display_name"] == "NVIDIA Z9000"


def test_cli_detect_write_spec_when_all_known_is_usage_error(fake_nvml, tmp_path: Path) -> None:
    fake_nvml([("NVIDIA H200", H200)])
    result = runner.invoke(app, ["hw", "detect", "--write-spec", str(tmp_path / "z.yaml")])
    assert result.exit_code == 2
    assert "every GPU here is in the registry (h200-sxm)" in result.stderr
    assert result.stderr.count("\n") == 1


def test_cli_detect_json(fake_nvml) -> None:
    fake_nvml([("NVIDIA H200", H200), ("NVIDIA Z9000", H200)])
    result = runner.invoke(app, ["hw", "detect", "--format", "json"])
    assert result.exit_code == 0, result.output
    known, unknown = json.loads(result.stdout)
    assert known["registry_name"] == "h200-sxm" and known["starter_spec"] is None
    assert unknown["registry_name"] is None and "NEEDS DATASHEET PEAKS" in unknown["starter_spec"]
