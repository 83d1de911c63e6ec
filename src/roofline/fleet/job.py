"""Are these traces the ranks of one job? Only when the traces say so.

A folder of traces is often not one job: a few single-GPU runs collected together, rank 0 of
several runs, a capture next to a replay. Reading them as ranks would invent stragglers and a
fleet MFU. PyTorch's profiler writes ``distributedInfo`` into the trace header of a process that
has initialised ``torch.distributed`` (``backend``, ``rank``, ``world_size``, and in recent releases
``pg_count`` and ``pg_config``, the process groups with their ``ranks``); a launcher may add a job
identifier (``group_trace_id``, ``tw_job`` in the Meta traces of Holistic Trace Analysis' test
data). The traces are one job when every one of them carries a rank and a world size, and they
agree: one world size above 1, distinct ranks inside it, one backend, one default process group,
one job identifier. Kineto's ``trace_id`` is drawn per trace file, so it is not evidence either way.

Pure: the headers are read by :mod:`roofline.fleet.ranks`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from roofline.analysis.fleet import JobCheck

# Header keys that name the job a trace belongs to (seen in HTA's tests/data: mtia_inference_trace
# carries group_trace_id, ns_resolution_trace carries tw_job), and a generic one a launcher may add.
JOB_ID_KEYS = ("group_trace_id", "tw_job", "job_id")
_SHOWN = 3  # files named per reason


@dataclass(frozen=True)
class TraceHeader:
    """What a trace's header says about the job it ran in."""

    path: Path
    readable: bool = True  # False: the header could not be read (the classify of the file says why)
    has_info: bool = False  # a distributedInfo object is present
    rank: int | None = None
    world_size: int | None = None
    backend: str | None = None
    default_group: tuple[int, ...] | None = None  # ranks of pg_config's default group ("0")
    job_id: str | None = None  # "key=value"


def _names(paths: list[Path]) -> str:
    shown = ", ".join(p.name for p in paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def _disagreement(what: str, by_value: dict[object, list[Path]]) -> str:
    parts = [f"{value} ({_names(paths)})" for value, paths in sorted(by_value.items(), key=lambda kv: str(kv[0]))]
    return f"{what} differ: " + "; ".join(parts)


def check_job(headers: list[TraceHeader]) -> JobCheck:
    """One job, or the reasons the traces are separate (every reason found, not just the first)."""
    if not headers:
        return JobCheck(one_job=False, basis="none", traces=0, reasons=["no trace header could be read"])
    reasons: list[str] = []
    n = len(headers)
    no_info = [h.path for h in headers if not h.has_info]
    if no_info:
        reasons.append(f"{len(no_info)} of {n} traces carry no distributedInfo ({_names(no_info)}): "
                       "the profiler writes it only in a process that has initialised torch.distributed")
    with_info = [h for h in headers if h.has_info]
    no_rank = [h.path for h in with_info if h.rank is None]
    if no_rank:
        reasons.append(f"distributedInfo without a rank in {_names(no_rank)}")
    no_world = [h.path for h in with_info if h.world_size is None]
    if no_world:
        reasons.append(f"distributedInfo without a world_size in {_names(no_world)}")

    worlds: dict[object, list[Path]] = defaultdict(list)
    for h in headers:
        if h.world_size is not None:
            worlds[h.world_size].append(h.path)
    world = next(iter(worlds)) if len(worlds) == 1 else None
    if len(worlds) > 1:
        reasons.append(_disagreement("world sizes", worlds))
    if world == 1:
        reasons.append("each trace is a world of one (world_size 1): separate single-process runs")

    by_rank: dict[int, list[Path]] = defaultdict(list)
    for h in headers:
        if h.rank is not None:
            by_rank[h.rank].append(h.path)
    twice = {rank: paths for rank, paths in by_rank.items() if len(paths) > 1}
    if twice:
        rank, paths = min(twice.items())
        more = f" (and {len(twice) - 1} more ranks)" if len(twice) > 1 else ""
        reasons.append(f"rank {rank} appears in {len(paths)} traces ({_names(paths)}){more}: "
                       "traces of more than one run")
    if isinstance(world, int) and world > 1:
        outside = sorted(rank for rank in by_rank if rank >= world)
        if outside:
            reasons.append(f"rank {outside[0]} is outside world size {world}")

    backends: dict[object, list[Path]] = defaultdict(list)
    groups: dict[object, list[Path]] = defaultdict(list)
    for h in headers:
        if h.backend is not None:
            backends[h.backend].append(h.path)
        if h.default_group is not None:
            groups[_span(h.default_group)].append(h.path)
    if len(backends) > 1:
        reasons.append(_disagreement("backends", backends))
    if len(groups) > 1:
        reasons.append(_disagreement("default process groups", groups))

    ids: dict[object, list[Path]] = defaultdict(list)
    for h in headers:
        if h.job_id is not None:
            ids[h.job_id].append(h.path)
    without_id = [h.path for h in headers if h.job_id is None]
    if len(ids) > 1:
        reasons.append(_disagreement("job identifiers", ids))
    elif ids and without_id:
        reasons.append(f"{next(iter(ids))} is in {n - len(without_id)} of {n} traces, not in {_names(without_id)}")

    return JobCheck(
        one_job=not reasons,
        basis="distributedInfo" if not reasons else "none",
        traces=n,
        world_size=world if isinstance(world, int) else None,
        backend=str(next(iter(backends))) if len(backends) == 1 else None,
        job_id=str(next(iter(ids))) if len(ids) == 1 else None,
        reasons=reasons,
    )


def _span(ranks: tuple[int, ...]) -> str:
    """A group's ranks, short: '0-7' when contiguous."""
    if ranks and list(ranks) == list(range(ranks[0], ranks[0] + len(ranks))):
        return f"ranks {ranks[0]}-{ranks[-1]}" if len(ranks) > 1 else f"rank {ranks[0]}"
    return "ranks " + ",".join(map(str, ranks[:8])) + (" …" if len(ranks) > 8 else "")
