"""Models where they live: a Hugging Face repo id (``meta-llama/Llama-3.1-8B``) found in the local
hub cache, offline. The cache layout is the one ``huggingface_hub`` writes:
``<cache>/models--<org>--<name>/snapshots/<revision>/config.json``, with ``refs/main`` naming the
revision the library resolves by default (docs: huggingface_hub "Understand caching")."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

# A repo id is "org/name" (or a bare "name"), letters, digits, '-', '_', '.'; at most 96 characters each.
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def hub_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``$XDG_CACHE_HOME/huggingface/hub``, else
    ``~/.cache/huggingface/hub`` — the order huggingface_hub uses."""
    env = os.environ if environ is None else environ
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface" / "hub"
    return Path("~/.cache/huggingface/hub").expanduser()


def looks_like_repo_id(ref: str) -> bool:
    return "/" in ref and bool(_REPO_ID.match(ref)) and ".." not in ref


def find_config(repo_id: str, cache: Path) -> Path | None:
    """The ``config.json`` of ``repo_id`` in ``cache``: the revision ``refs/main`` names, else the
    most recently written snapshot that has one; None when the repo is not cached."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshots = repo / "snapshots"
    if not snapshots.is_dir():
        return None
    main = repo / "refs" / "main"
    if main.is_file():
        revision = main.read_text(encoding="utf-8", errors="replace").strip()
        candidate = snapshots / revision / "config.json"
        if revision and "/" not in revision and candidate.is_file():
            return candidate
    found = [p for p in snapshots.glob("*/config.json") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None
