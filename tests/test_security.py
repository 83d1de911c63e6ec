"""Security rules (docs/robustness.md): safe YAML only, no pickle/eval/exec, no network, HTML
escaped, and what a config file names is read only when it is safe to read (a regular file, capped)."""

from __future__ import annotations

import ast
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "roofline"
TRACE = REPO / "tests" / "data" / "h200" / "kineto" / "gemm_bf16_8192.json.gz"
runner = CliRunner()

# Deserialisers that run code, and calls that evaluate strings.
BANNED_IMPORTS = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "jsonpickle"}
BANNED_CALLS = {"eval", "exec", "__import__"}
BANNED_YAML = {"load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all", "Loader",
               "UnsafeLoader", "FullLoader"}
# Modules that talk to the network; none may be imported by roofline at run time.
NETWORK_MODULES = ("urllib.request", "http.client", "requests", "urllib3", "httpx", "aiohttp", "ftplib", "smtplib",
                   "xmlrpc.client", "ssl")


def _python_files() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _unsafe(tree: ast.AST, where: str) -> list[str]:
    problems = []
    for node in ast.walk(tree):
        at = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            problems += [f"{at}: import {a.name}" for a in node.names if a.name.split(".")[0] in BANNED_IMPORTS]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in BANNED_IMPORTS:
            problems.append(f"{at}: from {node.module} import")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in BANNED_CALLS:
            problems.append(f"{at}: {node.func.id}()")
        elif (isinstance(node, ast.Attribute) and node.attr in BANNED_YAML
              and isinstance(node.value, ast.Name) and node.value.id == "yaml"):
            problems.append(f"{at}: yaml.{node.attr} (use yaml.safe_load / yaml.SafeLoader)")
        elif (isinstance(node, ast.Attribute) and node.attr == "load" and isinstance(node.value, ast.Name)
              and node.value.id in ("torch", "np", "numpy")):
            problems.append(f"{at}: {node.value.id}.load (unpickles)")
        elif isinstance(node, ast.keyword) and node.arg == "shell" and getattr(node.value, "value", False):
            problems.append(f"{at}: subprocess shell=True")
    return problems


def test_source_has_no_unsafe_deserialisation_or_eval() -> None:
    problems = []
    for path in _python_files():
        problems += _unsafe(ast.parse(path.read_text(), filename=str(path)), str(path.relative_to(REPO)))
    assert not problems, "\n".join(problems)


def test_the_scan_catches_what_it_should() -> None:
    code = ("import pickle\nfrom marshal import loads\nimport yaml\nyaml.load(s, Loader=yaml.Loader)\n"
            "eval('1')\nexec(c)\ntorch.load(f)\nsubprocess.run(c, shell=True)\nyaml.safe_load(s)\nx.evaluate(1)\n")
    found = _unsafe(ast.parse(code), "sample")
    assert sorted(p.split(": ", 1)[1].split(" ")[0] for p in found) == sorted([
        "import", "from", "yaml.load", "yaml.Loader", "eval()", "exec()", "torch.load", "subprocess"])


def test_importing_everything_and_running_commands_imports_no_network_module(tmp_path: Path) -> None:
    script = f"""
import importlib, pkgutil, sys
import roofline
for info in pkgutil.walk_packages(roofline.__path__, "roofline."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
from typer.testing import CliRunner
from roofline.cli import app
runner = CliRunner()
for args in (["classify", {str(TRACE)!r}], ["plan", {str(REPO / "examples" / "llama70b_h100_tp8.yaml")!r}],
             ["report", {str(TRACE)!r}, "-o", {str(tmp_path / "r.html")!r}], ["hw", "show", "h200"],
             ["snapshot", {str(TRACE)!r}]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
print(sorted(m for m in sys.modules if m in {NETWORK_MODULES!r}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "ROOFLINE_HW_PATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("args", [
    ["classify", str(TRACE), "--hw", "auto"],
    ["classify", "--hw", "no-such-gpu", str(TRACE)],
    ["plan", str(REPO / "examples" / "llama70b_h100_tp8.yaml")],
    ["hw", "show", "an-unknown-device"],
])
def test_no_socket_is_opened_even_for_unknown_names(no_network: None, args: list[str]) -> None:
    # An unknown device or model must never fall back to a download (the anti-pattern in STYLE.md).
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 2), result.output
    assert "network access attempted" not in repr(result.exception)


def _hostile_trace(tmp_path: Path) -> Path:
    doc = json.loads(gzip.decompress(TRACE.read_bytes()))
    kernels = [e for e in doc["traceEvents"] if e.get("cat") == "kernel"]
    kernels[0]["name"] = "<script>alert(1)</script>"
    kernels[1]["name"] = '"><img src=x onerror=alert(2)>'
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    return path


def test_html_report_escapes_names_and_title(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(_hostile_trace(tmp_path)), "--hw", "h200", "-o", str(out),
                                 "--title", "<b onmouseover=alert(3)>t</b>"])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    for raw in ("<script>alert(1)", "<img src=x", "<b onmouseover"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)" in html and "&lt;img src=x" in html and "&lt;b onmouseover" in html


def test_markdown_and_svg_escape_names(tmp_path: Path) -> None:
    trace = _hostile_trace(tmp_path)
    result = runner.invoke(app, ["classify", str(trace), "--hw", "h200", "-f", "md"])
    assert result.exit_code == 0 and "<script>" not in result.output and "&lt;script&gt;" in result.output
    svg = tmp_path / "r.svg"
    result = runner.invoke(app, ["plot", str(trace), "--hw", "h200", "-o", str(svg), "--labels", "5"])
    assert result.exit_code == 0, result.output
    assert "<script>" not in svg.read_text() and "<img" not in svg.read_text()


# --- a serving config's model: path: read where it lives, refused only when unsafe to read -----------


def _serving(directory: Path, model: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "serve.yaml"
    path.write_text(f"model: {model}\nhardware: h100-sxm\ngpus: 8\nparallelism: {{tensor: 8}}\n")
    return path


@pytest.mark.parametrize("model", ["../outside/config.json", "sub/../../outside/config.json", "ABSOLUTE"])
def test_serving_config_model_path_is_read_where_it_lives(tmp_path: Path, model: str) -> None:
    # issue 13: a config.json is wherever the user keeps it (an absolute path, a sibling directory,
    # the Hugging Face cache); only what is unsafe to read is refused (test_model_paths.py).
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(REPO / "workloads" / "models" / "llama-3-70b.json", outside / "config.json")
    (tmp_path / "cfg" / "sub").mkdir(parents=True)
    config = _serving(tmp_path / "cfg", str(outside / "config.json") if model == "ABSOLUTE" else model)
    result = runner.invoke(app, ["plan", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output


def test_serving_config_model_that_is_not_a_config_is_one_line_exit_2(tmp_path: Path) -> None:
    config = _serving(tmp_path / "cfg", "/etc/passwd")
    result = runner.invoke(app, ["plan", str(config)])
    assert result.exit_code == 2
    assert "not a readable JSON config" in result.output and "root:" not in result.output


def test_serving_config_model_symlink_is_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(REPO / "workloads" / "models" / "llama-3-70b.json", outside / "config.json")
    config = _serving(tmp_path / "cfg", "link/config.json")
    (tmp_path / "cfg" / "link").symlink_to(outside, target_is_directory=True)
    result = runner.invoke(app, ["plan", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output


def test_hw_dir_symlink_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    specs, outside = tmp_path / "specs", tmp_path / "outside"
    specs.mkdir()
    outside.mkdir()
    text = (REPO / "hwspecs" / "h200-sxm.yaml").read_text().replace("name: h200-sxm", "name: my-gpu", 1)
    (outside / "my-gpu.yaml").write_text(text)
    (specs / "my-gpu.yaml").symlink_to(outside / "my-gpu.yaml")
    result = runner.invoke(app, ["hw", "show", "my-gpu", "--hw-dir", str(specs)])
    assert result.exit_code == 2 and "outside the spec directory" in result.output
    (specs / "my-gpu.yaml").unlink()
    (specs / "real.yaml").write_text(text)
    result = runner.invoke(app, ["hw", "show", "my-gpu", "--hw-dir", str(specs)])
    assert result.exit_code == 0, result.output
