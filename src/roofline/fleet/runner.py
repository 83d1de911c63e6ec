"""The map: classify one rank's trace and keep only its fleet figures; and the engines that run
it over many ranks — in this process, on a local process pool, or on Dask (``roofline[dask]``).

A task is a small frozen record (paths and options); an outcome is a :class:`RankFigures` or the
one-line error that rank's file gave. Events never leave the worker, so memory is bounded by
``jobs`` × one trace's analysis, and a task can be shipped to any engine that pickles functions.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from roofline.analysis.fleet import RankFigures, rank_figures
from roofline.errors import InputError, MissingDependencyError

T = TypeVar("T")
R = TypeVar("R")
# A worker that read a trace this large is replaced after it: the next trace starts from a clean heap.
RECYCLE_AFTER_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class RankTask:
    path: str
    rank: int
    hw: str = "auto"
    ceilings: str | None = None
    hw_files: tuple[str, ...] = ()
    hw_dirs: tuple[str, ...] = ()
    step: int | None = None
    device: int | None = None


@dataclass(frozen=True)
class RankOutcome:
    rank: int
    file: str
    figures: RankFigures | None = None
    error: str | None = None


def classify_rank(task: RankTask) -> RankOutcome:
    """Read and classify one trace; return its fleet figures (or the error, one line)."""
    from roofline.app.classify import classify_loaded
    from roofline.hardware.registry import load_registry
    from roofline.sources import read_input

    try:
        registry = load_registry(extra_dirs=[Path(p) for p in task.hw_dirs],
                                 extra_files=[Path(p) for p in task.hw_files])
        loaded = read_input(Path(task.path))
        result = classify_loaded(loaded, registry, task.hw, task.ceilings, step=task.step, device_index=task.device)
    except InputError as exc:
        return RankOutcome(task.rank, task.path, error=exc.one_line())
    return RankOutcome(task.rank, task.path, figures=rank_figures(result, task.rank, task.path))


Engine = Callable[[Callable[[T], R], Sequence[T], int, bool], list[R]]
_ENGINES: dict[str, Engine] = {}


def register_engine(name: str) -> Callable[[Engine], Engine]:
    def decorate(engine: Engine) -> Engine:
        if name in _ENGINES:
            raise RuntimeError(f"engine '{name}' registered twice")
        _ENGINES[name] = engine
        return engine

    return decorate


def engines() -> list[str]:
    return list(_ENGINES)


def run_map(fn: Callable[[T], R], tasks: Sequence[T], *, jobs: int, backend: str = "local",
            large: bool = False) -> list[R]:
    """``[fn(t) for t in tasks]`` on the named engine with ``jobs`` workers, results in task order.
    ``large``: the inputs are big, so each worker process handles one and exits."""
    engine = _ENGINES.get(backend)
    if engine is None:
        raise InputError(f"unknown backend '{backend}'", place="--backend", fix=f"use one of: {', '.join(_ENGINES)}")
    return engine(fn, tasks, max(1, jobs), large)


@register_engine("local")
def _local(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, large: bool) -> list[R]:
    if jobs == 1 or len(tasks) <= 1:
        return [fn(task) for task in tasks]
    options: dict[str, Any] = {}
    if large and sys.version_info >= (3, 11):
        options["max_tasks_per_child"] = 1
    # spawn, not fork: a worker starts from a clean interpreter, not a copy of this one's heap.
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"),
                             **options) as pool:
        return list(pool.map(fn, tasks))


@register_engine("dask")
def _dask(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, large: bool) -> list[R]:
    try:
        import dask
    except ImportError:
        raise MissingDependencyError("the dask backend needs dask, which is not installed", place="--backend",
                                     fix="pip install 'roofline[dask]'") from None
    # dask's local process scheduler; for a cluster, map classify_rank with a dask.distributed
    # Client (docs/ranks.md) — the task and the outcome are the same.
    delayed = [dask.delayed(fn, pure=True)(task) for task in tasks]
    return list(dask.compute(*delayed, scheduler="processes", num_workers=jobs))
