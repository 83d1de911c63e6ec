"""Benchmark: peak memory of the client of ``roofline classify DIR/`` on ~100 rank traces, on the
local process pool, on dask's process scheduler and on a dask.distributed cluster.

Builds ``--ranks`` per-rank traces (copies of the real H200 decode trace
tests/data/h200/kineto/mini_decode_eager.json.gz, with distributedInfo; one rank 1.5x slower, as
tests/fleet_ranks.py writes them) in a temporary directory, starts a dask scheduler and
``--workers`` worker processes on 127.0.0.1 (``dask scheduler`` / ``dask worker``, separate
processes, so none of their memory is the client's), then runs, one fresh process at a time,
the client of each backend and records its own peak resident memory (``VmHWM`` of that process:
pool workers and cluster workers are other processes) and wall time. A floor run
(import roofline and read the directory's headers, no classify) shows what any client costs.

    PYTHONPATH=src:tests python benchmarks/bench_fleet_memory.py --ranks 25 100 --json out.json

Needs ``pip install 'roofline[dask]'`` (dask and distributed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def client(mode: str, directory: Path, scheduler: str | None, jobs: int) -> dict:
    """Run in a fresh process: one backend's classify of ``directory``; its own peak RSS."""
    started = time.perf_counter()
    from roofline.app.fleet import classify_directory
    from roofline.fleet.ranks import discover

    ranks = None
    if mode == "floor":
        ranks = len(discover(directory).files)
    else:
        backend = "local" if mode == "local" else "dask"
        result = classify_directory(directory, jobs=jobs, backend=backend,
                                    scheduler=scheduler if mode == "cluster" else None)
        ranks = len(result.ranks)  # type: ignore[union-attr]
    return {"mode": mode, "ranks": ranks, "wall_s": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(peak_rss_bytes() / 2**20, 1)}


def peak_rss_bytes() -> int:
    """This process's own peak resident memory. Not ru_maxrss: Linux carries the parent's RSS at
    fork into it across exec, so every child would read at least its parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere: an upper bound


def start_cluster(workdir: Path, workers: int) -> tuple[str, list[subprocess.Popen]]:
    scheduler_file = workdir / "scheduler.json"
    env = {**os.environ}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)], **quiet)]
    deadline = time.monotonic() + 60
    address = None
    while address is None:
        if time.monotonic() > deadline or procs[0].poll() is not None:
            raise SystemExit("the dask scheduler did not start")
        time.sleep(0.2)
        try:
            address = json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            continue  # not written yet, or written half-way
    procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                                   str(scheduler_file), "--nworkers", str(workers), "--nthreads", "1",
                                   "--no-dashboard"], **quiet))
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(workers, timeout=120)
    return address, procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[100])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (local pool, dask, cluster)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--client", nargs=3, metavar=("MODE", "DIR", "SCHEDULER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        mode, directory, scheduler = args.client
        print(json.dumps(client(mode, Path(directory), None if scheduler == "-" else scheduler, args.workers)))
        return

    sys.path.insert(0, str(ROOT / "tests"))
    from fleet_ranks import build_ranks

    results = []
    with tempfile.TemporaryDirectory(prefix="bench_fleet_") as tmp:
        workdir = Path(tmp)
        address, procs = start_cluster(workdir, args.workers)
        try:
            for n in args.ranks:
                directory = build_ranks(workdir / f"ranks{n}", ranks=n, slow_rank=n // 2, factor=1.5)
                size = sum(p.stat().st_size for p in directory.iterdir())
                for mode in ("floor", "local", "dask", "cluster"):
                    out = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--client", mode,
                                          str(directory), address if mode == "cluster" else "-"],
                                         capture_output=True, text=True, check=True)
                    row = {**json.loads(out.stdout.strip().splitlines()[-1]), "directory_bytes": size}
                    results.append(row)
                    print(f"{n:4d} ranks ({size / 1e6:.1f} MB gz)  {mode:8s}  client peak {row['peak_rss_mb']:7.1f} MB"
                          f"  wall {row['wall_s']:6.2f} s", flush=True)
        finally:
            for proc in reversed(procs):
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.platform(), "cpus": os.cpu_count(),
                                         "python": platform.python_version(), "workers": args.workers,
                                         "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
