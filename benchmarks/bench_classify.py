"""Benchmark: classify a large kineto trace, against orjson.loads of the same file, in one run.

Builds a trace of the requested size by replicating a real H200 decode trace
(tests/data/h200/kineto/mini_decode_eager.json.gz) with shifted timestamps, correlation ids and
External ids, then measures, each in a fresh process: wall time and peak RSS of
(a) ``orjson.loads`` of the file (the raw-parse reference) and (b) ``roofline classify --format json``.
Results are reported as ratios to the reference measured in the same run.

    python benchmarks/bench_classify.py --size-gb 1.0 [--keep /tmp/big.json] [--peers]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "tests" / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"


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


def measure(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return wall, usage.ru_maxrss * 1024 / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--keep", type=Path, help="write the trace here and keep it")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "big_trace.json"
    if not path.exists():
        events = build_trace(int(args.size_gb * 1e9), path)
        print(f"built {path} ({path.stat().st_size / 1e9:.2f} GB, {events:,} events)")
    size_gb = path.stat().st_size / 1e9
    ref_t, ref_m = measure([sys.executable, "-c", f"import orjson; orjson.loads(open({str(path)!r},'rb').read())"])
    ours_t, ours_m = measure([sys.executable, "-m", "roofline", "classify", str(path), "--format", "json"])
    rows = [
        ("orjson.loads (reference)", ref_t, ref_m),
        ("roofline classify", ours_t, ours_m),
    ]
    print(f"\nfile: {size_gb:.2f} GB\n")
    print("| tool | time (s) | peak RSS (GB) | time / orjson | RSS / orjson | RSS / file size |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, t, m in rows:
        print(f"| {name} | {t:.1f} | {m:.2f} | {t / ref_t:.2f} | {m / ref_m:.2f} | {m / size_gb:.2f} |")
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
