"""The traces of a directory and what their headers say about the job they ran in: PyTorch's
``distributedInfo`` (rank, world size, backend, process groups) and a job identifier.

Whether they are the ranks of one job is decided by :func:`roofline.fleet.job.check_job`; a rank
then comes from ``distributedInfo.rank``. With ``one_job`` (the user says so), a trace without
one is numbered from its file name (``rank3.json.gz``, ``worker_rank-3.pt.trace.json``), else by
file-name order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from roofline.analysis.fleet import JobCheck
from roofline.errors import InputError
from roofline.fleet.job import JOB_ID_KEYS, TraceHeader, check_job
from roofline.sources.base import head_bytes

_RANK_IN_NAME = re.compile(r"rank[_-]?(\d+)", re.IGNORECASE)
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_INFO_KEY = re.compile(rb'"distributedInfo"\s*:\s*')
TRACE_SUFFIXES = (".json", ".json.gz")
HEADER_BYTES = 1 << 20
# Some writers put distributedInfo after the events; in a plain .json file the tail is cheap to read.
TRAILER_BYTES = 1 << 16


@dataclass(frozen=True)
class RankFile:
    path: Path
    rank: int | None  # None: a trace of a set of separate traces
    world_size: int | None = None
    rank_from: str = "distributedInfo"  # distributedInfo | name | order | none | unreadable


@dataclass
class Discovery:
    files: list[RankFile]
    job: JobCheck
    warnings: list[str] = field(default_factory=list)


def trace_files(directory: Path) -> list[Path]:
    """The kineto traces directly inside ``directory`` (``*.json``, ``*.json.gz``), sorted."""
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(TRACE_SUFFIXES))


def _as_int(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _header(path: Path) -> tuple[dict[str, Any], bool]:
    """The header object before ``traceEvents`` (or {}), and whether the head holds ``traceEvents``.
    Raises OSError or InputError when the file cannot be read."""
    head = head_bytes(path, HEADER_BYTES)
    match = _EVENTS_KEY.search(head)
    if not match:
        return {}, len(head) >= HEADER_BYTES
    prefix = head[: match.start()].rstrip().rstrip(b",")
    try:
        header = orjson.loads(prefix + b"}")
    except orjson.JSONDecodeError:
        return {}, True
    return (header if isinstance(header, dict) else {}), True


def _trailer_info(path: Path) -> Any:
    """``distributedInfo`` standing after the events of a plain-JSON trace, or None."""
    if path.name.endswith(".gz"):
        return None
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - TRAILER_BYTES))
            tail = handle.read()
    except OSError:
        return None
    match = None
    for match in _INFO_KEY.finditer(tail):
        pass
    if match is None:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(tail[match.end():].decode("utf-8", "replace"))
    except json.JSONDecodeError:
        return None
    return value


def _default_group(info: dict[str, Any]) -> tuple[int, ...] | None:
    groups = info.get("pg_config")
    if not isinstance(groups, list):
        return None
    for group in groups:
        if isinstance(group, dict) and (str(group.get("pg_name")) == "0" or group.get("pg_desc") == "default_pg"):
            ranks = group.get("ranks")
            if isinstance(ranks, list) and all(_as_int(r) is not None for r in ranks):
                return tuple(ranks)
    return None


def read_header(path: Path) -> TraceHeader | None:
    """What ``path``'s header says about its job; None when the file is not a profiler trace (a
    small JSON file without ``traceEvents``, such as an engine's execution_details.json)."""
    try:
        header, is_trace = _header(path)
    except (OSError, InputError):
        return TraceHeader(path=path, readable=False)  # its classify says why; it is no evidence either way
    if not is_trace:
        return None
    info = header.get("distributedInfo")
    if info is None:
        info = _trailer_info(path)
    job_id = next((f"{key}={header[key]}" for key in JOB_ID_KEYS if isinstance(header.get(key), (str, int))), None)
    if not isinstance(info, dict):
        return TraceHeader(path=path, job_id=job_id)
    backend = info.get("backend")
    return TraceHeader(
        path=path,
        has_info=True,
        rank=_as_int(info.get("rank")),
        world_size=_as_int(info.get("world_size")) or None,
        backend=str(backend) if isinstance(backend, str) else None,
        default_group=_default_group(info),
        job_id=job_id,
    )


def discover(directory: Path, *, one_job: bool = False) -> Discovery:
    """The traces of ``directory``, whether they are one job, and each one's rank when they are.

    ``one_job``: the user says the traces are the ranks of one job even though their headers do
    not; ranks then come from the header, else the file name, else file-name order.
    """
    if not directory.is_dir():
        raise InputError("is not a directory", file=directory, fix="give a directory of per-rank traces")
    paths = trace_files(directory)
    if not paths:
        raise InputError("no traces (*.json, *.json.gz) in the directory", file=directory,
                         fix="give a directory holding one PyTorch profiler trace per rank")
    headers: list[TraceHeader] = []
    warnings: list[str] = []
    for path in paths:
        header = read_header(path)
        if header is None:
            warnings.append(f"{path.name} left out: not a profiler trace (no traceEvents)")
        else:
            headers.append(header)
    if not headers:
        raise InputError("none of the JSON files is a profiler trace (no traceEvents)", file=directory,
                         fix="give a directory holding one PyTorch profiler trace per rank")
    unreadable = [RankFile(h.path, None, None, "unreadable") for h in headers if not h.readable]
    headers = [h for h in headers if h.readable]
    if not headers:
        return Discovery(unreadable, check_job([]), warnings)
    job = check_job(headers)
    if one_job and not job.one_job:
        files, more = _asserted_ranks(headers, directory)
        job = job.model_copy(update={"one_job": True, "basis": "asserted"})
        warnings += more
    elif job.one_job:
        files = [RankFile(h.path, h.rank, h.world_size, "distributedInfo") for h in headers]
        warnings += _name_disagreements(headers)
    else:
        return Discovery([RankFile(h.path, None, None, "none") for h in headers] + unreadable, job, warnings)
    world = job.world_size
    if world:
        missing = sorted(set(range(world)) - {f.rank for f in files})
        if missing:
            shown = ", ".join(map(str, missing[:16])) + (" …" if len(missing) > 16 else "")
            warnings.append(f"{len(missing)} of world size {world} ranks have no trace here: {shown}")
    return Discovery(sorted(files, key=lambda f: f.rank or 0) + unreadable, job, warnings)


def _name_disagreements(headers: list[TraceHeader]) -> list[str]:
    out = []
    for h in headers:
        match = _RANK_IN_NAME.search(h.path.name)
        if match and h.rank is not None and int(match.group(1)) != h.rank:
            out.append(f"{h.path.name}: the name says rank {match.group(1)}, distributedInfo says {h.rank} "
                       "(distributedInfo is used)")
    return out


def _asserted_ranks(headers: list[TraceHeader], directory: Path) -> tuple[list[RankFile], list[str]]:
    """Ranks of traces the user says are one job: the header's, else the name's, else file order."""
    found: list[RankFile] = []
    unnamed: list[Path] = []
    for h in headers:
        match = _RANK_IN_NAME.search(h.path.name)
        if h.rank is not None:
            found.append(RankFile(h.path, h.rank, h.world_size, "distributedInfo"))
        elif match:
            found.append(RankFile(h.path, int(match.group(1)), h.world_size, "name"))
        else:
            unnamed.append(h.path)
    warnings = []
    if unnamed and found:
        raise InputError("cannot tell which rank this trace is", file=unnamed[0], place="--one-job",
                         fix="name it rankN.json(.gz) or keep the profiler's distributedInfo header")
    if unnamed:
        found = [RankFile(path, i, None, "order") for i, path in enumerate(unnamed)]
        warnings.append(f"no file names its rank and no trace carries distributedInfo: ranks 0–{len(found) - 1} "
                        "follow file-name order")
    seen: dict[int | None, Path] = {}
    for item in found:
        if item.rank in seen:
            raise InputError(f"rank {item.rank} appears twice ({seen[item.rank].name} and {item.path.name})",
                             file=directory, place="--one-job", fix="keep one trace per rank in the directory")
        seen[item.rank] = item.path
    return found, warnings
