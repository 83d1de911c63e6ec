"""``classify DIR/ --backend dask --scheduler ADDRESS``: the per-rank map on a dask.distributed
cluster — here a LocalCluster of two worker processes on loopback TCP (127.0.0.1 only) — with the
workers reading the traces at their paths and only per-rank figures coming back."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fleet_ranks import build_ranks
from roofline.cli import app
from roofline.fleet import runner as fleet_runner
from roofline.fleet.runner import bounded_map

runner = CliRunner()
DEADLINE_S = 120.0  # no cluster test may hang the suite: each CLI run is given this long


def run(*args: object) -> Any:
    """Invoke the CLI in a thread and fail, rather than hang, past DEADLINE_S."""
    box: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", runner.invoke(app, [str(a) for a in args])),
                              daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), f"roofline {' '.join(map(str, args))} did not finish in {DEADLINE_S:.0f} s"
    return box["result"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       scheduler_port=0, dashboard_address=None)
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def ranks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ranks(tmp_path_factory.mktemp("cluster") / "ranks", ranks=4, slow_rank=2, factor=1.5)


def test_cluster_gives_the_same_fleet_as_the_local_pool(scheduler: str, ranks_dir: Path) -> None:
    local = run("classify", ranks_dir, "--format", "json", "--jobs", "1")
    cluster = run("classify", ranks_dir, "--format", "json", "--backend", "dask", "--scheduler", scheduler)
    assert cluster.exit_code == 0, cluster.output
    assert json.loads(cluster.stdout) == json.loads(local.stdout)
    assert {s["rank"] for s in json.loads(cluster.stdout)["stragglers"]} == {2}


def test_workers_read_the_traces_the_client_reads_only_headers(scheduler: str, ranks_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # In this (the client's) process, reading a whole trace now fails; the workers are other
    # processes and read the files themselves, so the run still classifies every rank.
    def no_reading(path: Path, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"the client read {path}")

    monkeypatch.setattr("roofline.sources.read_input", no_reading)
    result = run("classify", ranks_dir, "--format", "json", "--backend", "dask", "--scheduler", scheduler,
                 "--jobs", "2")
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    assert [r["rank"] for r in fleet["ranks"]] == list(range(4)) and fleet["failed"] == []


def test_a_set_of_separate_traces_runs_on_the_cluster_too(scheduler: str) -> None:
    kineto = Path(__file__).parent / "data" / "h200" / "kineto"
    result = run("classify", kineto, "--format", "json", "--backend", "dask", "--scheduler", scheduler)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kind"] == "traces"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_is_a_one_line_error(ranks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    monkeypatch.setattr(fleet_runner, "CONNECT_TIMEOUT_S", 1.0)
    started = time.monotonic()
    result = run("classify", ranks_dir, "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}")
    assert time.monotonic() - started < 30
    assert result.exit_code == 2
    message = result.output.strip()
    assert "\n" not in message and "Traceback" not in message
    assert "--scheduler: cannot reach the dask scheduler at tcp://127.0.0.1:" in message


def test_missing_distributed_is_a_one_line_error(ranks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    result = run("classify", ranks_dir, "--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2
    message = result.output.strip()
    assert "\n" not in message and "dask.distributed" in message and "roofline[dask]" in message


def test_scheduler_needs_the_dask_backend(ranks_dir: Path) -> None:
    result = run("classify", ranks_dir, "--scheduler", "tcp://127.0.0.1:8786")
    assert result.exit_code == 2 and "add --backend dask" in result.output


def test_bounded_map_keeps_at_most_window_tasks_in_flight() -> None:
    in_flight = 0  # submitted and not yet collected
    peak = 0

    def work(task: int) -> int:
        time.sleep(0.002 * (task % 3))
        if task == 7:
            raise ConnectionError("worker lost")
        return task * task

    with ThreadPoolExecutor(max_workers=8) as pool:
        def submit(task: int) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            return pool.submit(work, task)

        def wait_first(futures: list[Any]) -> Any:
            nonlocal in_flight
            done = wait(futures, return_when=FIRST_COMPLETED).done
            in_flight -= len(done)
            return done

        results = bounded_map(submit, wait_first, list(range(20)), 3,
                              lost=lambda task, exc: -task, is_lost=lambda exc: isinstance(exc, ConnectionError))
    # Results in task order, the lost task replaced by its 'lost' outcome, never more than 3 at once.
    assert results == [-7 if t == 7 else t * t for t in range(20)]
    assert peak == 3 and in_flight == 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        with pytest.raises(ConnectionError):  # not a lost task: the error is the caller's
            bounded_map(lambda t: pool.submit(work, t), lambda fs: wait(fs, return_when=FIRST_COMPLETED).done,
                        [7], 2)
