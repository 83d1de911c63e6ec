"""Which file is which rank: ``rank3.json.gz``, ``worker_rank-3.pt.trace.json`` (the name), else
the trace's own ``distributedInfo.rank`` (PyTorch writes it in the header of distributed runs)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from roofline.errors import InputError
from roofline.sources.base import head_bytes

_RANK_IN_NAME = re.compile(r"rank[_-]?(\d+)", re.IGNORECASE)
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
TRACE_SUFFIXES = (".json", ".json.gz")
HEADER_BYTES = 1 << 20


@dataclass(frozen=True)
class RankFile:
    path: Path
    rank: int
    world_size: int | None = None
    rank_from: str = "name"  # name | distributedInfo | order


def trace_files(directory: Path) -> list[Path]:
    """The kineto traces directly inside ``directory`` (``*.json``, ``*.json.gz``), sorted."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(TRACE_SUFFIXES))


def distributed_info(path: Path) -> dict[str, Any]:
    """``distributedInfo`` from the trace header (the first MB), or {}."""
    try:
        head = head_bytes(path, HEADER_BYTES)
    except OSError:
        return {}
    match = _EVENTS_KEY.search(head)
    if not match:
        return {}
    prefix = head[: match.start()].rstrip().rstrip(b",")
    try:
        header = orjson.loads(prefix + b"}")
    except orjson.JSONDecodeError:
        return {}
    info = header.get("distributedInfo") if isinstance(header, dict) else None
    return info if isinstance(info, dict) else {}


def _as_int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def discover(directory: Path) -> tuple[list[RankFile], list[str]]:
    """Each trace of ``directory`` with its rank; warnings for what looks incomplete.

    A rank comes from the file name, else the header. Files with neither are numbered in name
    order only when no file names its rank (then says so); duplicate ranks are an error.
    """
    if not directory.is_dir():
        raise InputError("is not a directory", file=directory, fix="give a directory of per-rank traces")
    files = trace_files(directory)
    if not files:
        raise InputError("no traces (*.json, *.json.gz) in the directory", file=directory,
                         fix="give a directory holding one PyTorch profiler trace per rank")
    found: list[RankFile] = []
    unnamed: list[Path] = []
    world_sizes: set[int] = set()
    for path in files:
        info = distributed_info(path)
        world = _as_int(info.get("world_size"))
        if world:
            world_sizes.add(world)
        match = _RANK_IN_NAME.search(path.name)
        if match:
            found.append(RankFile(path, int(match.group(1)), world, "name"))
        elif _as_int(info.get("rank")) is not None:
            found.append(RankFile(path, int(info["rank"]), world, "distributedInfo"))
        else:
            unnamed.append(path)
    warnings: list[str] = []
    if unnamed and found:
        raise InputError("cannot tell which rank this trace is", file=unnamed[0],
                         fix="name it rankN.json(.gz) or keep the profiler's distributedInfo header")
    if unnamed:
        found = [RankFile(path, i, None, "order") for i, path in enumerate(unnamed)]
        warnings.append(f"no file names its rank and no trace carries distributedInfo: ranks 0–{len(found) - 1} "
                        "follow file-name order")
    seen: dict[int, Path] = {}
    for item in found:
        if item.rank in seen:
            raise InputError(f"rank {item.rank} appears twice ({seen[item.rank].name} and {item.path.name})",
                             file=directory, fix="keep one trace per rank in the directory")
        seen[item.rank] = item.path
    if len(world_sizes) == 1:
        world = world_sizes.pop()
        missing = sorted(set(range(world)) - set(seen))
        if missing:
            shown = ", ".join(map(str, missing[:16])) + (" …" if len(missing) > 16 else "")
            warnings.append(f"{len(missing)} of world size {world} ranks have no trace here: {shown}")
    return sorted(found, key=lambda f: f.rank), warnings
