"""Benchmark: ``roofline classify`` of large kineto traces against the raw parse and two peers,
in one run.

Builds traces of the requested sizes by replicating a real H200 decode trace
(tests/data/h200/kineto/mini_decode_eager.json.gz) with shifted timestamps, step numbers,
correlation ids and External ids (optionally also gzipped), then measures, one fresh process at a
time, wall time and peak RSS of:

* ``orjson.loads`` of the whole file — the raw-parse reference (skipped, with the reason, where it
  cannot fit in memory: it needs ~9x the decompressed size);
* the raw parse streamed: roofline's chunked reader with ``orjson`` and no analysis at all;
* ``roofline classify FILE --format json`` (read, link, cost, classify, report);
* the peers, with ``--peers``: Holistic Trace Analysis (``pip install traceinsight``;
  ``TraceAnalysis`` of the file, with HTA_DISABLE_NS_ROUNDING=1) and AMD TraceLens
  (github.com/AMD-AGI/TraceLens; ``TreePerfAnalyzer.from_file``), run from a separate virtual
  environment (``--peer-python``), never imported here.

On a shared machine, ``--repeat N`` runs each file's tools N times, interleaved, and the table
keeps each tool's least disturbed run (every run is in ``--json``).

Each child runs under a resident-memory cap (``--mem-cap-gb``, its process group is killed past
it) and a wall-time limit (``--timeout``): a child that exceeds them is recorded as "out of
memory" or "did not finish", not retried.

    python benchmarks/bench_classify.py --sizes 0.2 1 5 --gzip 0.2 --peers \\
        --peer-python /tmp/peers-venv/bin/python --workdir /tmp/bench --json results.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "tests" / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"
# orjson.loads of a kineto trace holds ~8.5x the file in Python objects (8.86 GB for 1.05 GB).
ORJSON_BYTES_PER_BYTE = 9.0


def build_trace(target_bytes: int, out: Path) -> int:
    """Write a kineto-layout trace of about ``target_bytes``; returns the number of events."""
    data = json.loads(gzip.decompress(SEED.read_bytes()))
    events = [e for e in data["traceEvents"] if e.get("ph") == "X"]
    span = max(e["ts"] + e.get("dur", 0) for e in events) - min(e["ts"] for e in events)
    header = {k: v for k, v in data.items() if k != "traceEvents"}
    head = json.dumps({k: v for k, v in header.items() if k != "traceName"}, indent=2)[:-2]
    written = 0
    count = 0
    copy = 0
    with out.open("w") as handle:
        handle.write(head + ',\n  "traceEvents": [\n')
        first = True
        while written < target_bytes:
            shift = copy * (span + 1000.0)
            id_shift = copy * 10_000_000
            lines = []
            for event in events:
                e = dict(event)
                e["ts"] = round(e["ts"] + shift, 3)
                args = dict(e.get("args") or {})
                for key in ("External id", "correlation"):
                    if key in args:
                        args[key] = args[key] + id_shift
                if e.get("name", "").startswith("ProfilerStep#"):
                    e["name"] = f"ProfilerStep#{int(e['name'].split('#')[1]) + 3 * copy}"
                e["args"] = args
                lines.append(("  " if first else ",\n  ") + json.dumps(e))
                first = False
            text = "".join(lines)
            handle.write(text)
            written += len(text)
            count += len(events)
            copy += 1
        handle.write('\n  ],\n  "traceName": "bench"\n}\n')
    return count


def gzip_copy(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    if not target.exists():
        with path.open("rb") as source, gzip.open(target, "wb", compresslevel=6) as sink:
            shutil.copyfileobj(source, sink, 16 << 20)
    return target


@dataclass
class Measurement:
    file: str
    file_gb: float
    decompressed_gb: float
    tool: str
    outcome: str  # ok | out of memory | did not finish | failed | not run
    wall_s: float | None = None
    peak_rss_gb: float | None = None
    note: str = ""
    cpu_s: float | None = None  # user + system time of the process (and its children)


def group_rss_bytes(pgid: int) -> int:
    """Resident bytes of every process in a process group (the child and anything it spawned)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
            if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, …, rss is the 22nd
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    return total


_OOM_TEXT = ("MemoryError", "bad_alloc", "Not enough memory", "Cannot allocate memory", "out of memory")


def run_child(cmd: list[str], *, timeout_s: float, mem_cap_gb: float, env: dict[str, str] | None = None
              ) -> tuple[str, float, float, str, float]:
    """(outcome, wall seconds, peak RSS GB, note, CPU seconds) of one fresh process. CPU time
    (user + system) is less disturbed than wall time by other jobs on a shared machine.

    Memory is capped on resident memory, as a person watching ``top`` would: the process group is
    killed when its RSS passes ``mem_cap_gb``. The address-space limit is only a backstop near the
    machine's RAM (an address-space cap at the RSS cap kills allocators that reserve more than
    they touch — TraceLens segfaulted at 4.6 GB resident under a 14 GB address-space cap).
    """
    cap = int(mem_cap_gb * 1e9)
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    backstop = max(cap, int(0.92 * ram))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (backstop, backstop))

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit,
                            start_new_session=True, env={**os.environ, **(env or {})})
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    errors = bytearray()
    killed = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        chunk = proc.stderr.read()
        if chunk:
            errors += chunk[-65536:]
            del errors[:-65536]
        if pid:
            break
        if time.perf_counter() - start > timeout_s:
            killed = "time"
        elif group_rss_bytes(proc.pid) > cap:
            killed = "memory"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.1)
    wall = time.perf_counter() - start
    peak = usage.ru_maxrss * 1024 / 1e9
    text = errors.decode(errors="replace")
    lines = text.strip().splitlines()
    last = lines[-1][:200] if lines else ""
    code = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    if killed == "time":
        return "did not finish", wall, peak, f"killed after {timeout_s:.0f} s", cpu
    if killed == "memory":
        return "out of memory", wall, peak, f"resident memory passed the {mem_cap_gb:.0f} GB cap", cpu
    if code == 0:
        return "ok", wall, peak, "", cpu
    if any(marker in text for marker in _OOM_TEXT):
        return "out of memory", wall, peak, f"allocation failed: {last}", cpu
    return "failed", wall, peak, f"exit {code}: {last}", cpu


ORJSON = ("import gzip, sys, orjson; p = sys.argv[1]; raw = open(p, 'rb').read(); "
          "orjson.loads(gzip.decompress(raw) if p.endswith('.gz') else raw)")
# The collector off, as roofline's reader runs it: otherwise its collections of the young
# decoded events, not the parse, dominate (3x slower).
STREAM = ("import gc, sys; from pathlib import Path; from roofline.sources.jsonstream import StreamState, "
          "iter_event_batches; gc.disable()\nfor batch in iter_event_batches(Path(sys.argv[1]), StreamState()): pass")
HTA = ("import os, sys; from hta.trace_analysis import TraceAnalysis; p = sys.argv[1]; "
       "TraceAnalysis(trace_files={0: p}, trace_dir=os.path.dirname(p))")
TRACELENS = "import sys; from TraceLens import TreePerfAnalyzer; TreePerfAnalyzer.from_file(sys.argv[1])"
TOOL_KEYS = {"orjson.loads": "orjson", "raw parse, streamed": "stream", "roofline classify": "roofline",
             "HTA TraceAnalysis": "hta", "TraceLens from_file": "tracelens"}


def bench_file(path: Path, decompressed: float, args: argparse.Namespace) -> list[Measurement]:
    size = path.stat().st_size / 1e9
    rows: list[Measurement] = []

    def record(tool: str, cmd: list[str], *, cap: float, env: dict[str, str] | None = None) -> None:
        if args.tools and TOOL_KEYS[tool] not in args.tools:
            return
        outcome, wall, peak, note, cpu = run_child(cmd, timeout_s=args.timeout, mem_cap_gb=cap, env=env)
        rows.append(Measurement(path.name, size, decompressed, tool, outcome, wall, peak, note, cpu))
        print(f"  {tool:<28} {outcome:<15} {wall:8.1f} s {cpu:8.1f} s CPU {peak:7.2f} GB  {note}", flush=True)

    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    need = ORJSON_BYTES_PER_BYTE * decompressed
    if args.tools and "orjson" not in args.tools:
        pass
    elif need > 0.9 * available:
        rows.append(Measurement(path.name, size, decompressed, "orjson.loads", "not run",
                                note=f"needs ~{need:.0f} GB (~{ORJSON_BYTES_PER_BYTE:.0f}x the JSON) on a "
                                     f"{available:.0f} GB machine"))
        print(f"  {'orjson.loads':<28} not run: {rows[-1].note}", flush=True)
    else:
        record("orjson.loads", [sys.executable, "-c", ORJSON, str(path)], cap=0.95 * available)
    record("raw parse, streamed", [sys.executable, "-c", STREAM, str(path)], cap=args.mem_cap_gb)
    record("roofline classify", [sys.executable, "-m", "roofline", "classify", str(path), "--format", "json"],
           cap=args.mem_cap_gb)
    if args.peers:
        record("HTA TraceAnalysis", [args.peer_python, "-c", HTA, str(path)], cap=args.mem_cap_gb,
               env={"HTA_DISABLE_NS_ROUNDING": "1"})
        record("TraceLens from_file", [args.peer_python, "-c", TRACELENS, str(path)], cap=args.mem_cap_gb)
    return rows


def best_of(rows: list[Measurement]) -> list[Measurement]:
    """One row per (file, tool): with ``--repeat``, its least disturbed run (the shortest wall time
    of those that succeeded, with the shortest CPU time and the largest peak RSS of any run);
    the first row otherwise (not run, or no run succeeded)."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for row in rows:
        groups.setdefault((row.file, row.tool), []).append(row)
    out = []
    for group in groups.values():
        ok = [r for r in group if r.outcome == "ok"]
        if not ok:
            out.append(group[0])
            continue
        best = min(ok, key=lambda r: r.wall_s or 0.0)
        cpu = [r.cpu_s for r in ok if r.cpu_s is not None]
        note = f"best of {len(ok)} runs" if len(ok) > 1 else best.note
        out.append(Measurement(best.file, best.file_gb, best.decompressed_gb, best.tool, "ok", best.wall_s,
                               max(r.peak_rss_gb or 0.0 for r in ok), note, min(cpu) if cpu else None))
    return out


def table(rows: list[Measurement]) -> str:
    lines = ["| file | tool | outcome | time (s) | CPU time (s) | peak RSS (GB) | time / orjson | CPU time / orjson | "
             "RSS / orjson | time / streamed parse |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    by_file: dict[str, dict[str, Measurement]] = {}
    for row in best_of(rows):
        by_file.setdefault(row.file, {})[row.tool] = row
    for file, tools in by_file.items():
        ref = tools.get("orjson.loads")
        stream = tools.get("raw parse, streamed")
        for row in tools.values():
            ok = row.outcome == "ok"
            t = f"{row.wall_s:.1f}" if row.wall_s is not None else "–"
            m = f"{row.peak_rss_gb:.2f}" if row.peak_rss_gb is not None else "–"
            c = f"{row.cpu_s:.1f}" if row.cpu_s is not None else "–"
            rt = f"{row.wall_s / ref.wall_s:.2f}" if ok and ref and ref.outcome == "ok" else "–"
            rc = f"{row.cpu_s / ref.cpu_s:.2f}" if ok and ref and ref.outcome == "ok" and ref.cpu_s else "–"
            rm = f"{row.peak_rss_gb / ref.peak_rss_gb:.2f}" if ok and ref and ref.outcome == "ok" else "–"
            rs = f"{row.wall_s / stream.wall_s:.2f}" if ok and stream and stream.outcome == "ok" else "–"
            outcome = row.outcome + (f" ({row.note})" if row.note and not ok else "")
            lines.append(f"| {file} ({row.file_gb:.2f} GB) | {row.tool} | {outcome} | {t} | {c} | {m} | {rt} | {rc} | {rm} "
                         f"| {rs} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0], help="plain JSON sizes, GB")
    parser.add_argument("--gzip", type=float, nargs="*", default=[], help="of those sizes, also bench a .json.gz")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/roofline-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the generated traces")
    parser.add_argument("--peers", action="store_true", help="also run HTA and TraceLens")
    parser.add_argument("--peer-python", default=str(Path("/tmp/peers-venv/bin/python")))
    parser.add_argument("--timeout", type=float, default=600.0, help="per process, seconds")
    parser.add_argument("--mem-cap-gb", type=float, default=14.0, help="resident-memory cap per process")
    parser.add_argument("--only", nargs="*", help="run only these files (names in workdir), after building")
    parser.add_argument("--tools", nargs="*", choices=sorted(TOOL_KEYS.values()),
                        help="run only these (default: all; the peers only with --peers)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each file's tools this many times, interleaved; the table keeps each tool's best run")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows: list[Measurement] = []
    files: list[tuple[Path, float]] = []
    for size in args.sizes:
        path = args.workdir / f"trace_{size:g}gb.json"
        if not path.exists():
            started = time.perf_counter()
            events = build_trace(int(size * 1e9), path)
            print(f"built {path} ({path.stat().st_size / 1e9:.2f} GB, {events:,} events, "
                  f"{time.perf_counter() - started:.0f} s)", flush=True)
        decompressed = path.stat().st_size / 1e9
        files.append((path, decompressed))
        if size in args.gzip:
            files.append((gzip_copy(path), decompressed))
    for path, decompressed in files:
        if args.only and path.name not in args.only:
            continue
        print(f"\n{path} ({path.stat().st_size / 1e9:.2f} GB on disk, {decompressed:.2f} GB of JSON)", flush=True)
        for run in range(args.repeat):
            if args.repeat > 1:
                print(f" run {run + 1} of {args.repeat}", flush=True)
            rows.extend(bench_file(path, decompressed, args))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, " \
              f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM, Python {platform.python_version()}, " \
              f"load average {os.getloadavg()[0]:.1f} at the end"
    print(f"\nmachine: {machine}\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "timeout_s": args.timeout, "mem_cap_gb": args.mem_cap_gb,
                                         "measurements": [asdict(r) for r in rows]}, indent=2) + "\n")
    if not args.keep:
        for path, _ in files:
            path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
