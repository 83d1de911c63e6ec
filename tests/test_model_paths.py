"""Models where they live (issue 13): a bundled name, a path relative to the serving config, an
absolute path, a model directory, or a Hugging Face repo id in the local hub cache — and
``roofline plan --model`` overriding the config's model. Refused only what is unsafe to read."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.errors import InputError
from roofline.workload.hub_cache import find_config, hub_cache_dir, looks_like_repo_id
from roofline.workload.model import load_model

REPO = Path(__file__).resolve().parents[1]
LLAMA_8B = REPO / "workloads" / "models" / "llama-3-8b.json"
runner = CliRunner()


def _hub(tmp_path: Path, repo_id: str, revisions: list[str], main: str | None) -> Path:
    """A hub cache laid out as huggingface_hub writes it: blobs, and snapshots linking to them."""
    cache = tmp_path / "hub"
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True)
    blob = repo / "blobs" / "0123abcd"
    shutil.copy(LLAMA_8B, blob)
    for revision in revisions:
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True)
        (snapshot / "config.json").symlink_to(os.path.relpath(blob, snapshot))
    if main is not None:
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(main)
    return cache


def test_hub_cache_dir_follows_huggingface_hub_precedence(tmp_path: Path) -> None:
    assert hub_cache_dir({"HF_HUB_CACHE": "/a", "HF_HOME": "/b"}) == Path("/a")
    assert hub_cache_dir({"HF_HOME": "/b"}) == Path("/b/hub")
    assert hub_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/huggingface/hub")
    assert hub_cache_dir({}) == Path("~/.cache/huggingface/hub").expanduser()


def test_repo_ids_are_told_from_paths() -> None:
    assert looks_like_repo_id("meta-llama/Llama-3.1-8B")
    assert not looks_like_repo_id("llama-3-8b") and not looks_like_repo_id("../x/config.json")
    assert not looks_like_repo_id("/abs/config.json")


def test_repo_id_resolves_to_the_revision_refs_main_names(tmp_path: Path) -> None:
    cache = _hub(tmp_path, "meta-llama/Llama-3.1-8B", ["aaa111", "bbb222"], main="bbb222")
    found = find_config("meta-llama/Llama-3.1-8B", cache)
    assert found is not None and found.parent.name == "bbb222"
    arch, _ = load_model("meta-llama/Llama-3.1-8B", hub_cache=cache)
    reference, _ = load_model("llama-3-8b")
    assert arch.name == "llama-3.1-8b"
    assert (arch.num_layers, arch.hidden_size, arch.num_kv_heads) == (reference.num_layers, reference.hidden_size,
                                                                      reference.num_kv_heads)


def test_repo_id_not_in_the_cache_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load_model("org/not-there", hub_cache=tmp_path / "hub")
    assert "not in the Hugging Face cache" in error.value.message and str(tmp_path / "hub") in error.value.message


def test_serving_config_names_a_cached_repo_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(_hub(tmp_path, "meta-llama/Llama-3.1-8B", ["c0ffee"], main=None)))
    config = tmp_path / "serve.yaml"
    config.write_text("model: meta-llama/Llama-3.1-8B\nhardware: h100-sxm\n")
    result = runner.invoke(app, ["plan", str(config), "-f", "json"])
    assert result.exit_code == 0, result.output
    payload = orjson.loads(result.stdout)
    assert payload["model"] == "meta-llama/Llama-3.1-8B"
    # Llama-3.1-8B's weights: 8.03e9 parameters in fp16, 16.1 GB (the bundled 8B's config).
    assert payload["memory"]["weight_bytes"] == pytest.approx(16.06e9, rel=0.01)


def test_model_directory_and_absolute_path(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    shutil.copy(LLAMA_8B, checkpoint / "config.json")
    assert load_model(str(checkpoint))[0].name == "ckpt"
    assert load_model(str(checkpoint / "config.json"))[0].name == "ckpt"
    assert load_model("ckpt", base=tmp_path)[0].name == "ckpt"


def test_plan_model_option_overrides_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("model: llama-3-70b\nhardware: h100-sxm\ngpus: 8\nparallelism: {tensor: 8}\n")
    (tmp_path / "mine").mkdir()
    shutil.copy(LLAMA_8B, tmp_path / "mine" / "config.json")
    monkeypatch.chdir(tmp_path)
    # A --model path is relative to the working directory, like any command-line argument.
    result = runner.invoke(app, ["plan", str(config), "--model", "mine/config.json", "-f", "json"])
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["model"] == str(tmp_path / "mine" / "config.json")
    bundled = runner.invoke(app, ["plan", str(config), "--model", "llama-3-8b", "-f", "json"])
    assert orjson.loads(bundled.stdout)["model"] == "llama-3-8b"


def test_plan_model_option_for_a_trace_costs_its_ops_and_is_checked() -> None:
    trace = REPO / "tests" / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"
    result = runner.invoke(app, ["plan", str(trace), "--model", "llama-3-8b"])  # no engine ops to size: same plan
    assert result.exit_code == 0, result.output
    bad = runner.invoke(app, ["plan", str(trace), "--model", "llama-3-8bb"])
    assert bad.exit_code == 2 and "--model" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_fifo_is_refused_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as error:
        load_model(str(fifo))  # opening it would block for ever
    assert "not a regular file" in error.value.message


def test_a_directory_without_config_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        load_model(str(tmp_path))
    assert "not a regular file" in error.value.message
