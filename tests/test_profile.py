"""`roofline profile` and `roofline.capture`: CPU-only runs of real PyTorch scripts (subprocesses of
the installed entry point), usage errors, and the real H200 capture in tests/data/h200/profiled/."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.cli.profile import child_command, child_environment

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "llama_decode.py"
PROFILED = Path(__file__).resolve().parent / "data" / "h200" / "profiled"


def profile(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roofline", "profile", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def trace_steps(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        events = json.load(handle)["traceEvents"]
    return sorted({e["name"] for e in events if str(e.get("name", "")).startswith("ProfilerStep#")})


@pytest.fixture
def torch_cpu():
    return pytest.importorskip("torch")


def test_import_roofline_does_not_import_torch() -> None:
    code = ("import sys, roofline, roofline.cli; assert callable(roofline.capture); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_capture_api_on_cpu(tmp_path: Path, torch_cpu) -> None:
    import roofline

    torch = torch_cpu
    model = torch.nn.Linear(32, 32)
    x = torch.randn(4, 32)
    path = tmp_path / "api.json"
    with roofline.capture(path, steps=2, warmup=1) as cap:
        for _ in range(10):
            model(x)
            cap.step()
            if cap.done:
                break
    assert cap.done and cap.steps_taken == 3 and cap.active_steps_recorded == 2
    assert trace_steps(path) == ["ProfilerStep#1", "ProfilerStep#2"]
    trace = json.loads(path.read_text())
    assert trace["record_shapes"] == 1
    assert any(e.get("args", {}).get("Input Dims") for e in trace["traceEvents"])


def test_capture_api_stopped_during_warmup_warns(tmp_path: Path, torch_cpu) -> None:
    import roofline

    with pytest.warns(RuntimeWarning, match="only 1 step"):
        with roofline.capture(tmp_path / "none.json", steps=2, warmup=2) as cap:
            cap.step()
    assert not cap.written and not (tmp_path / "none.json").exists()


def test_capture_api_rejects_bad_counts() -> None:
    import roofline
    from roofline.errors import InputError

    with pytest.raises(InputError, match="steps must be at least 1"):
        roofline.capture("x.json", steps=0)


def test_profile_cpu_script_prints_its_output_and_a_no_gpu_verdict(tmp_path: Path, torch_cpu) -> None:
    out = tmp_path / "decode.json.gz"
    done = profile("--steps", "3", "--warmup", "2", "-o", str(out), "--", sys.executable, str(EXAMPLE), "--small",
                   "--device", "cpu", "--tokens", "8")
    assert done.returncode == 0, done.stderr
    assert "decode: plain torch model" in done.stdout and "8 tokens in" in done.stdout  # the script's own output
    assert "verdict: no GPU activity was recorded" in done.stdout
    assert "3 profiled step(s), calls of MiniLlama.forward" in done.stderr
    assert trace_steps(out) == ["ProfilerStep#2", "ProfilerStep#3", "ProfilerStep#4"]


def test_profile_training_script_steps_on_the_optimizer(tmp_path: Path, torch_cpu) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))\n"
        "loss_fn = torch.nn.MSELoss()\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for _ in range(6):\n"
        "    opt.zero_grad()\n"
        "    loss = loss_fn(model(torch.randn(8, 16)), torch.randn(8, 1))\n"
        "    loss.backward()\n"
        "    opt.step()\n"
        "print('trained')\n"
    )
    out = tmp_path / "train.json"
    done = profile("--steps", "2", "--warmup", "1", "-o", str(out), "--", str(script))  # bare script.py
    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout and "2 profiled step(s), optimizer steps" in done.stderr
    assert trace_steps(out) == ["ProfilerStep#1", "ProfilerStep#2"]


def test_profile_crashing_script_keeps_its_traceback_and_says_its_exit_code(tmp_path: Path, torch_cpu) -> None:
    script = tmp_path / "crash.py"
    script.write_text("import torch\nm = torch.nn.Linear(4, 4).eval()\nm(torch.randn(2, 4))\n"
                      "raise ValueError('boom from the script')\n")
    done = profile("-o", str(tmp_path / "t.json"), "--", sys.executable, str(script))
    assert done.returncode == 4  # the script failed: not 1, which the gate uses for a regression
    assert "Traceback (most recent call last)" in done.stderr and f'File "{script}", line 4' in done.stderr
    assert "ValueError: boom from the script" in done.stderr
    assert "roofline/" not in done.stderr.split("ValueError")[0]  # no roofline frame in the script's traceback
    assert "the script exited with code 1" in done.stderr


def test_profile_names_the_scripts_exit_code_and_still_classifies(tmp_path: Path, torch_cpu) -> None:
    script = tmp_path / "exit5.py"
    script.write_text("import sys, torch\nm = torch.nn.Linear(4, 4).eval()\n"
                      "for _ in range(4):\n    m(torch.randn(2, 4))\nsys.exit(5)\n")
    done = profile("--steps", "1", "--warmup", "1", "-o", str(tmp_path / "t.json"), "--", sys.executable, str(script))
    assert done.returncode == 4
    assert "the script exited with code 5; classifying the trace it left (exit 4)" in done.stderr
    assert "verdict: no GPU activity was recorded" in done.stdout  # the trace was complete: still classified


def test_auto_steps_on_forward_calls_of_a_model_left_in_training_mode(tmp_path: Path, torch_cpu) -> None:
    # An inference loop that never calls .eval() nor no_grad(): auto used to wait for optimizer
    # steps that never come, then advise lowering --warmup.
    script = tmp_path / "serve.py"
    script.write_text("import torch\nm = torch.nn.Linear(8, 8)\nfor _ in range(6):\n    m(torch.randn(2, 8))\n")
    out = tmp_path / "t.json"
    done = profile("--steps", "2", "--warmup", "1", "-o", str(out), "--", sys.executable, str(script))
    assert done.returncode == 0, done.stderr
    assert "Linear is in training mode but no optimizer stepped" in done.stderr
    assert "2 profiled step(s), calls of Linear.forward" in done.stderr
    assert len(trace_steps(out)) == 2


def test_auto_profiles_the_whole_run_of_a_script_without_a_module(tmp_path: Path, torch_cpu) -> None:
    script = tmp_path / "plain.py"
    script.write_text("import torch\nx = torch.randn(64, 64)\nfor _ in range(3):\n    x = x @ x / 64\nprint('done')\n")
    out = tmp_path / "t.json"
    done = profile("-o", str(out), "--", sys.executable, str(script))
    assert done.returncode == 0, done.stderr
    assert "no nn.Module was called: the whole run was profiled" in done.stderr
    assert "the whole run, no steps" in done.stderr and out.is_file()


def test_a_single_forward_in_training_mode_gets_the_fix_that_applies(tmp_path: Path, torch_cpu) -> None:
    script = tmp_path / "once.py"
    script.write_text("import torch\nm = torch.nn.Linear(8, 8)\nm(torch.randn(2, 8))\n")
    done = profile("-o", str(tmp_path / "t.json"), "--", sys.executable, str(script))
    assert done.returncode == 2
    assert "no optimizer step ran, but Linear.forward was called 1 time(s)" in done.stderr
    assert "--step-on module" in done.stderr


def test_profile_too_few_steps_is_a_usage_error(tmp_path: Path, torch_cpu) -> None:
    done = profile("--warmup", "20", "-o", str(tmp_path / "t.json"), "--", sys.executable, str(EXAMPLE), "--small",
                   "--device", "cpu", "--tokens", "3")
    assert done.returncode == 2
    assert "the script made 3 step(s) (calls of MiniLlama.forward), fewer than --warmup 20 + 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_profile_command_that_never_imports_torch(tmp_path: Path) -> None:
    done = profile("-o", str(tmp_path / "t.json"), "--", sys.executable, "-c", "print('hello')")
    assert done.returncode == 2 and "hello" in done.stdout
    assert "the profiler never started" in done.stderr


def test_profile_unknown_command(tmp_path: Path) -> None:
    done = profile("-o", str(tmp_path / "t.json"), "--", "no-such-program-xyz")
    assert done.returncode == 2
    assert done.stderr.startswith("roofline: error: profile: cannot run 'no-such-program-xyz'")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "t.json", "python", "script.py"], "missing '--' before the command to profile"),
        (["-o", "t.json"], "missing '--' before the command to profile"),
        (["-o", "t.json", "--"], "no command after '--'"),
        (["-o", "t.json", "stray", "--", "python", "x.py"], "unexpected argument(s) before '--': stray"),
    ],
)
def test_profile_usage_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["profile", *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_options_after_the_separator_belong_to_the_command(tmp_path: Path) -> None:
    # roofline would reject '--bogus'; after '--' it is the command's, untouched.
    result = runner.invoke(app, ["profile", "-o", str(tmp_path / "t.json"), "--", "no-such-program-xyz", "--bogus"])
    assert result.exit_code == 2
    assert "cannot run 'no-such-program-xyz'" in result.stderr


def test_child_command_and_environment() -> None:
    assert child_command(["train.py", "--lr", "3"]) == [sys.executable, "train.py", "--lr", "3"]
    assert child_command(["python3", "-m", "pkg"]) == ["python3", "-m", "pkg"]
    env = child_environment({"PYTHONPATH": "/a", "HOME": "/h"}, "/site", {"out": "t.json"})
    assert env["PYTHONPATH"].split(":") == ["/site", "/a"] and env["HOME"] == "/h"
    assert json.loads(env["ROOFLINE_PROFILE_CONFIG"]) == {"out": "t.json"}
    assert child_environment({}, "/site", {})["PYTHONPATH"] == "/site"


@pytest.mark.gpu
def test_profile_cuda_script_classifies_gpu_kernels(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    out = tmp_path / "gpu.json.gz"
    done = profile("--steps", "3", "--warmup", "2", "-o", str(out), "--format", "json", "--", sys.executable,
                   str(EXAMPLE), "--tokens", "8")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout[done.stdout.index("{"):])
    assert result["summary"]["verdict"] and result["kernels"]
    assert trace_steps(out) == ["ProfilerStep#2", "ProfilerStep#3", "ProfilerStep#4"]
