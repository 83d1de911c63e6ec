"""The map: classify one rank's trace and keep only its fleet figures; and the engines that run
it over many ranks — in this process, on a local process pool, on Dask's process scheduler, or on
a ``dask.distributed`` cluster given by its scheduler's address (``roofline[dask]``).

A task is a small frozen record (paths and options); an outcome is a :class:`RankFigures` or the
one-line error that rank's file gave. Events never leave the worker, so a worker's memory is one
trace's analysis; on a cluster the client keeps at most a bounded number of tasks in flight and
holds nothing but the outcomes (a few hundred bytes each).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from roofline.analysis.fleet import RankFigures, rank_figures
from roofline.errors import InputError, MissingDependencyError

T = TypeVar("T")
R = TypeVar("R")
# A worker that read a trace this large is replaced after it: the next trace starts from a clean heap.
RECYCLE_AFTER_BYTES = 256 * 1024 * 1024
# How long to wait for a dask scheduler to answer before saying it cannot be reached.
CONNECT_TIMEOUT_S = 10.0
# Tasks in flight per worker thread of a cluster: one running and one queued keeps a worker busy
# while its last outcome travels back, without handing the scheduler the whole directory at once.
IN_FLIGHT_PER_THREAD = 2


@dataclass(frozen=True)
class RankTask:
    path: str  # absolute: a worker on another machine or in another directory reads it there
    rank: int | None
    hw: str = "auto"
    ceilings: str | None = None
    hw_files: tuple[str, ...] = ()
    hw_dirs: tuple[str, ...] = ()
    step: int | None = None
    device: int | None = None
    label: str | None = None  # the path as the user gave it, for the report


@dataclass(frozen=True)
class RankOutcome:
    rank: int | None
    file: str
    figures: RankFigures | None = None
    error: str | None = None


def classify_rank(task: RankTask) -> RankOutcome:
    """Read and classify one trace; return its fleet figures (or the error, one line)."""
    from roofline.app.classify import classify_loaded
    from roofline.hardware.registry import load_registry
    from roofline.sources import read_input

    label = task.label or task.path
    try:
        registry = load_registry(extra_dirs=[Path(p) for p in task.hw_dirs],
                                 extra_files=[Path(p) for p in task.hw_files])
        loaded = read_input(Path(task.path))
        result = classify_loaded(loaded, registry, task.hw, task.ceilings, step=task.step, device_index=task.device)
    except InputError as exc:
        return RankOutcome(task.rank, label, error=exc.one_line())
    return RankOutcome(task.rank, label, figures=rank_figures(result, task.rank, label))


@dataclass(frozen=True)
class MapOptions:
    jobs: int | None = None  # workers (local); tasks in flight (cluster); None: the engine's default
    large: bool = False  # the inputs are big: each local worker process handles one and exits
    scheduler: str | None = None  # a dask.distributed scheduler address


Lost = Callable[[Any, str], Any]  # (task, why) -> the outcome recorded for a task whose worker died
Engine = Callable[[Callable[[T], R], Sequence[T], MapOptions, Lost | None], list[R]]
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


def run_map(fn: Callable[[T], R], tasks: Sequence[T], *, backend: str = "local",
            options: MapOptions | None = None, lost: Lost | None = None) -> list[R]:
    """``[fn(t) for t in tasks]`` on the named engine, results in task order. ``lost`` turns a task
    whose worker died into an outcome (engines that can tell); without it that is an error."""
    engine = _ENGINES.get(backend)
    if engine is None:
        raise InputError(f"unknown backend '{backend}'", place="--backend", fix=f"use one of: {', '.join(_ENGINES)}")
    options = options or MapOptions()
    if options.scheduler is not None and backend != "dask":
        raise InputError("a scheduler address needs the dask backend", place="--scheduler",
                         fix="add --backend dask")
    return engine(fn, tasks, options, lost)


@register_engine("local")
def _local(fn: Callable[[T], R], tasks: Sequence[T], options: MapOptions, lost: Lost | None) -> list[R]:
    jobs = max(1, options.jobs or 1)
    if jobs == 1 or len(tasks) <= 1:
        return [fn(task) for task in tasks]
    kwargs: dict[str, Any] = {}
    if options.large and sys.version_info >= (3, 11):
        kwargs["max_tasks_per_child"] = 1
    # spawn, not fork: a worker starts from a clean interpreter, not a copy of this one's heap.
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=multiprocessing.get_context("spawn"),
                             **kwargs) as pool:
        return list(pool.map(fn, tasks))


@register_engine("dask")
def _dask(fn: Callable[[T], R], tasks: Sequence[T], options: MapOptions, lost: Lost | None) -> list[R]:
    if options.scheduler is not None:
        return _dask_cluster(fn, tasks, options, lost)
    try:
        import dask
    except ImportError:
        raise MissingDependencyError("the dask backend needs dask, which is not installed", place="--backend",
                                     fix="pip install 'roofline[dask]'") from None
    delayed = [dask.delayed(fn, pure=True)(task) for task in tasks]
    return list(dask.compute(*delayed, scheduler="processes", num_workers=max(1, options.jobs or 1)))


class _Future(Protocol):
    def result(self) -> Any: ...


def bounded_map(submit: Callable[[T], _Future], wait_first: Callable[[list[Any]], Iterable[Any]],
                tasks: Sequence[T], window: int, lost: Callable[[T, BaseException], R] | None = None,
                is_lost: Callable[[BaseException], bool] = lambda exc: False) -> list[R]:
    """Results of ``submit(task)`` in task order, with at most ``window`` tasks in flight.

    ``wait_first(futures)`` returns the futures of the list that are done (at least one), as
    ``concurrent.futures.wait(..., return_when=FIRST_COMPLETED).done`` does; each result is taken
    and its future dropped, so the caller holds only the outcomes. A task whose result raises an
    exception that ``is_lost`` accepts becomes ``lost(task, exc)``.
    """
    results: list[Any] = [None] * len(tasks)
    queue = iter(enumerate(tasks))
    in_flight: dict[Any, int] = {}

    def top_up() -> None:
        for index, task in queue:
            in_flight[submit(task)] = index
            if len(in_flight) >= window:
                return

    top_up()
    while in_flight:
        for future in list(wait_first(list(in_flight))):
            index = in_flight.pop(future)
            try:
                results[index] = future.result()
            except BaseException as exc:
                if lost is None or not is_lost(exc):
                    raise
                results[index] = lost(tasks[index], exc)
        top_up()
    return results


def _in_event_loop() -> bool:
    import asyncio  # here, not at the top: asyncio imports ssl, and only --scheduler talks to a network

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _probe(address: str, timeout_s: float) -> None:
    """Open and close one connection to the scheduler; raises OSError / ValueError when it cannot."""
    from distributed.comm import connect

    comm = await connect(address, timeout=timeout_s)
    await comm.close()


def _dask_cluster(fn: Callable[[T], R], tasks: Sequence[T], options: MapOptions, lost: Lost | None) -> list[R]:
    """On a dask.distributed cluster: the workers read the files at the paths in the tasks."""
    try:
        import distributed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise MissingDependencyError("--scheduler needs dask.distributed, which is not installed",
                                     place="--scheduler", fix="pip install 'roofline[dask]'") from None
    address = options.scheduler or ""
    try:
        # Probe first: a Client that fails half-way through its constructor hangs in __del__ later.
        if not _in_event_loop():  # (from a notebook's loop the Client's own timeout has to do)
            import asyncio

            asyncio.run(_probe(address, CONNECT_TIMEOUT_S))
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"cannot reach the dask scheduler at {address} ({reason[:160]})", place="--scheduler",
                         fix="start one ('dask scheduler', then 'dask worker ADDRESS') and give its address, "
                             "e.g. tcp://127.0.0.1:8786") from None
    with client:
        threads = sum(client.nthreads().values())
        if threads == 0:
            raise InputError(f"the dask scheduler at {address} has no workers", place="--scheduler",
                             fix="start workers: dask worker ADDRESS")
        window = options.jobs or IN_FLIGHT_PER_THREAD * threads

        def submit(task: T) -> Any:
            return client.submit(fn, task, pure=False)

        def wait_first(futures: list[Any]) -> Any:
            return distributed.wait(futures, return_when="FIRST_COMPLETED").done

        def died(task: T, exc: BaseException) -> R:
            assert lost is not None
            return lost(task, f"a dask worker died while classifying it ({' '.join(str(exc).split())[:160]}): "
                        "give the workers more memory or fewer threads")

        with client.as_current():  # distributed.wait finds the client as the current one, not a global default
            return bounded_map(submit, wait_first, tasks, window, died if lost else None,
                               lambda exc: isinstance(exc, KilledWorker))
