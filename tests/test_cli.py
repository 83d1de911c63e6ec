"""The command line through typer's runner and the installed entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.hardware.detect import detect_gpus
from roofline.hardware.registry import load_registry

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_hw_show_json_reports_ridge_points() -> None:
    result = run("hw", "show", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ridges = data["ridge_points"]
    assert ridges["fp16 matrix"] == pytest.approx(295.3, abs=0.1)
    assert ridges["bf16 matrix"] == pytest.approx(295.3, abs=0.1)
    assert ridges["fp8 matrix"] == pytest.approx(590.7, abs=0.1)
    assert data["memory"]["bandwidth_tb_s"] == 3.35
    assert data["name"] == "h100-sxm"


def test_hw_show_table_lists_roofs() -> None:
    result = run("hw", "show", "NVIDIA H200")
    assert result.exit_code == 0, result.output
    assert "h200-sxm" in result.stdout
    assert "206" in result.stdout  # fp16 matrix ridge
    assert "--ceilings measured" in result.stdout


def test_hw_show_measured_ceilings() -> None:
    result = run("hw", "show", "h200", "--ceilings", "measured", "--format", "json")
    assert result.exit_code == 0, result.output
    roofs = json.loads(result.stdout)["roofs"]
    assert roofs["bf16 matrix"]["origin"] == "measured"
    # The newest bundled overlay: `roofline hw measure` on an H200, 2026-11-30
    # (tests/data/h200/profiled/measure.txt): bf16 GEMM 8192³ 786.3 TFLOP/s.
    assert roofs["bf16 matrix"]["flops_per_s"] == pytest.approx(786.3e12)


def test_hw_show_an_older_measured_overlay_by_path(repo: Path) -> None:
    older = repo / "hwspecs" / "measured" / "h200-sxm-2026-10.yaml"
    result = run("hw", "show", "h200", "--ceilings", str(older), "--format", "json")
    assert result.exit_code == 0, result.output
    # fixtures/h200/ceilings.json (SPEC §6): 768.6 TFLOP/s bf16.
    assert json.loads(result.stdout)["roofs"]["bf16 matrix"]["flops_per_s"] == pytest.approx(768.6e12)


def test_hw_list_has_all_devices() -> None:
    result = run("hw", "list", "--format", "json")
    assert result.exit_code == 0
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"h100-sxm", "h200-sxm", "a100-sxm4-80gb", "mi300x", "b200"} <= names
    table = run("hw", "list")
    assert "h100-sxm" in table.stdout


def test_classify_example_labels(repo: Path) -> None:
    result = run("classify", str(repo / "workloads" / "ml_ops.yaml"), "--hw", "h100-sxm", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    bounds = {k["name"]: k["bound"] for k in data["kernels"]}
    assert bounds["gemm_4096x4096x4096"] == "compute"
    assert bounds["gelu_4096x4096"] == "memory"
    assert bounds["decode_b1_gemv_4096"] == "memory"
    assert bounds["small_add_4096"] == "launch"
    # SPEC §3 minimal fields.
    assert {"span_s", "gpu_busy_s", "idle_s", "time_by_bound", "verdict"} <= set(data["summary"])
    # SPEC §3's four, plus the latency and communication bounds of SPEC §2.
    assert set(data["summary"]["time_by_bound"]) == {"compute", "memory", "launch", "latency", "communication",
                                                     "unknown"}
    for kernel in data["kernels"]:
        assert {"name", "op", "count", "total_s", "flops", "bytes", "precision", "ai", "bound", "pct_of_roof",
                "source"} <= set(kernel)
    assert data["hardware"]["name"] == "h100-sxm"
    assert data["hardware"]["ceilings"] == "datasheet"
    # Sorted by time, the 70B decode step (5.2 ms) first.
    assert data["kernels"][0]["name"] == "llama70b_decode_step_tp8"


def test_classify_table_and_markdown(repo: Path) -> None:
    example = str(repo / "workloads" / "ml_ops.yaml")
    table = run("classify", example)  # --hw auto: the YAML names h100-sxm
    assert table.exit_code == 0, table.output
    assert "verdict: memory-bound" in table.stdout
    assert "gemm_4096x4096x4096" in table.stdout
    md = run("classify", example, "--format", "md", "--top", "3")
    assert md.exit_code == 0
    assert md.stdout.startswith("## roofline classify")
    assert "| kernel | calls |" in md.stdout
    assert "5 more kernel groups not shown" in md.stdout


def test_classify_output_file(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run("classify", str(repo / "workloads" / "ml_ops.yaml"), "--format", "json", "-o", str(out))
    assert result.exit_code == 0
    assert json.loads(out.read_text())["summary"]["verdict"] == "memory"


def test_classify_with_measured_ceilings(repo: Path) -> None:
    result = run(
        "classify", str(repo / "workloads" / "ml_ops.yaml"), "--hw", "h200", "--ceilings", "measured", "-f", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hardware"]["ceilings"] == "mixed"
    gemm = next(k for k in data["kernels"] if k["name"] == "gemm_4096x4096x4096")
    assert gemm["roof_origin"] == "measured"
    assert gemm["peak_flops_per_s"] == pytest.approx(749.7e12)  # fp16 GEMM, profiled/measure.txt


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["classify", "missing.yaml", "--hw", "h100"], "missing.yaml: file not found"),
        (["classify", "{example}", "--hw", "h100-sxn"], "unknown device 'h100-sxn'"),
        (["hw", "show", "z9000"], "unknown device 'z9000'"),
        (["classify", "{example}", "--hw", "l40s", "--ceilings", "measured"], "no bundled measured ceilings"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(repo: Path, args: list[str], needle: str) -> None:
    args = [a.replace("{example}", str(repo / "workloads" / "ml_ops.yaml")) for a in args]
    result = run(*args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("roofline: error: ")
    assert needle in lines[0]
    assert "Traceback" not in result.output


def test_bad_yaml_through_cli(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text("schema_version: 1\nkernels:\n  - {name: k, flops: 1, bytes: 1, precison: fp16}\n")
    result = run("classify", str(bad), "--hw", "h100")
    assert result.exit_code == 2
    assert "did you mean 'precision'?" in result.stderr
    assert "line 3" in result.stderr


def test_input_without_device_needs_hw(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("schema_version: 1\nkernels:\n  - {name: k, flops: 1, bytes: 1, precision: fp16}\n")
    result = run("classify", str(path))
    assert result.exit_code == 2
    assert "does not say which device" in result.stderr


def test_hw_detect_without_pynvml_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails as if not installed
    result = run("hw", "detect")
    assert result.exit_code == 2
    assert "pynvml is not installed" in result.stderr


class FakeNVML(SimpleNamespace):
    """An NVML stand-in with the readings of the H200 in tests/data/h200/device.json."""

    NVML_CLOCK_SM = 1
    NVML_CLOCK_MEM = 2

    def __init__(self, names: list[str], fail_init: bool = False) -> None:
        super().__init__()
        self.names = names
        self.fail_init = fail_init

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return len(self.names)

    def nvmlSystemGetDriverVersion(self) -> str:
        return "580.159.04"

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:
        return self.names[handle].encode()

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=150754820096)

    def nvmlDeviceGetMaxClockInfo(self, handle: int, kind: int) -> int:
        return 1980 if kind == self.NVML_CLOCK_SM else 3201

    def nvmlDeviceGetPowerManagementLimit(self, handle: int) -> int:
        return 700000

    def nvmlDeviceGetCudaComputeCapability(self, handle: int) -> tuple[int, int]:
        return (9, 0)

    def nvmlDeviceGetNumGpuCores(self, handle: int) -> int:
        return 16896

    def nvmlDeviceGetUUID(self, handle: int) -> str:
        return "GPU-2f2c368c"


def test_detect_with_fake_nvml_matches_registry() -> None:
    (gpu,) = detect_gpus(load_registry(), nvml=FakeNVML(["NVIDIA H200"]))
    assert gpu.registry_name == "h200-sxm"
    assert gpu.memory_total_bytes == 150754820096
    assert gpu.max_sm_clock_mhz == 1980
    assert gpu.power_limit_w == 700.0
    assert gpu.compute_capability == "9.0"


def test_detect_unknown_gpu_has_no_match() -> None:
    (gpu,) = detect_gpus(load_registry(), nvml=FakeNVML(["NVIDIA Z9000"]))
    assert gpu.registry_name is None


def test_detect_without_driver_is_input_error() -> None:
    from roofline.errors import InputError

    with pytest.raises(InputError, match="NVML could not start"):
        detect_gpus(load_registry(), nvml=FakeNVML([], fail_init=True))


def test_installed_entry_point_and_module() -> None:
    version = subprocess.run([sys.executable, "-m", "roofline", "--version"], capture_output=True, text=True)
    assert version.returncode == 0
    assert version.stdout.startswith("roofline ")
    bad = subprocess.run([sys.executable, "-m", "roofline", "hw", "show", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_internal_error_exits_3(monkeypatch: pytest.MonkeyPatch, repo: Path) -> None:
    import roofline.app.classify as classify_module

    def boom(*args, **kwargs):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(classify_module, "classify_kernel", boom)
    result = run("classify", str(repo / "workloads" / "ml_ops.yaml"))
    assert result.exit_code == 3
    assert "internal error: ZeroDivisionError: boom" in result.stderr
    assert result.stderr.count("\n") == 1


def test_heavy_dependencies_are_not_imported_by_default() -> None:
    code = (
        "import sys, roofline.cli; from roofline.cli import app; "
        "assert 'torch' not in sys.modules and 'pynvml' not in sys.modules and 'matplotlib' not in sys.modules"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
