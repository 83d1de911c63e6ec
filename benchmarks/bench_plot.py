"""Benchmark: ``roofline plot`` of a trace with hundreds of kernel groups against ``roofline
classify`` of the same trace, measured side by side in one run (issue 14: plot within 2x of
classify).

The default trace is built from a real H200 capture committed with the tests
(tests/data/h200/captured/decode_bf16_eager.json.gz, 28 distinct kernels): ``--copies`` copies of
its events, one after another in time, each with its kernel names suffixed ``_v<k>`` (so every copy
is its own set of kernel groups) and its times stretched by ``1 + 0.25 k`` (so the copies' points
spread down the chart instead of sitting on each other), correlation and External ids shifted.
``--trace FILE`` benchmarks real traces instead (e.g. HTA's tests/data/trace_diff/control, 201
kernel groups).

Each command runs as a fresh process, alternating classify and plot ``--repeat`` times; the
report gives the median wall time and the median CPU time (user + system, from ``wait4``: less
disturbed by other jobs on a shared machine than wall time) and the plot/classify ratios.

    python benchmarks/bench_plot.py --copies 8 --repeat 3
    python benchmarks/bench_plot.py --trace /path/to/HTA/tests/data/trace_diff/control/control.json.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "tests" / "data" / "h200" / "captured" / "decode_bf16_eager.json.gz"


def build_trace(copies: int, out: Path, seed: Path = SEED) -> int:
    """Write ``copies`` renamed, stretched copies of ``seed``; returns the number of kernel names."""
    data = json.loads(gzip.decompress(seed.read_bytes()))
    events = data.pop("traceEvents")
    timed = [e for e in events if isinstance(e.get("ts"), (int, float))]
    t0 = min(e["ts"] for e in timed)
    span = max(e["ts"] + e.get("dur", 0) for e in timed) - t0
    out_events = []
    names = set()
    base = t0
    for k in range(copies):
        stretch = 1.0 + 0.25 * k
        id_shift = k * 10_000_000
        for event in events:
            e = dict(event)
            if isinstance(e.get("ts"), (int, float)):
                e["ts"] = round(base + (e["ts"] - t0) * stretch, 3)
            if isinstance(e.get("dur"), (int, float)):
                e["dur"] = round(e["dur"] * stretch, 3)
            if "args" in e and isinstance(e["args"], dict):
                args = dict(e["args"])
                for key in ("External id", "correlation"):
                    if isinstance(args.get(key), int):
                        args[key] += id_shift
                e["args"] = args
            if e.get("cat") == "kernel":
                e["name"] = f"{e['name']}_v{k}"
                names.add(e["name"])
            if isinstance(e.get("name"), str) and e["name"].startswith("ProfilerStep#"):
                e["name"] = f"ProfilerStep#{int(e['name'].split('#')[1]) + 100 * k}"
            if e.get("ph") == "f" or e.get("ph") == "s":  # flow arrows: ids must stay unique
                if isinstance(e.get("id"), int):
                    e["id"] += id_shift
            out_events.append(e)
        base += span * stretch + 1000.0
    data["traceEvents"] = out_events
    out.write_bytes(gzip.compress(json.dumps(data).encode(), 6))
    return len(names)


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one fresh process; raises when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    assert proc.stderr is not None
    errors = proc.stderr.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {errors.strip().splitlines()[-1:]}")
    return wall, usage.ru_utime + usage.ru_stime


def groups(trace: Path) -> tuple[int, int]:
    """(kernel groups, groups placed on the roofline) of the trace."""
    out = subprocess.run([sys.executable, "-m", "roofline", "classify", str(trace), "--format", "json"],
                         capture_output=True, check=True).stdout
    kernels = json.loads(out)["kernels"]
    placed = sum(1 for k in kernels if k.get("flops") and k.get("bytes") and k.get("collective") is None)
    return len(kernels), placed


def bench(trace: Path, repeat: int, labels: int, workdir: Path) -> dict[str, object]:
    total, placed = groups(trace)
    classify = [sys.executable, "-m", "roofline", "classify", str(trace), "--format", "json"]
    plot = [sys.executable, "-m", "roofline", "plot", str(trace), "-o", str(workdir / "plot.png"),
            "--labels", str(labels)]
    runs: dict[str, list[tuple[float, float]]] = {"classify": [], "plot": []}
    for _ in range(repeat):
        runs["classify"].append(timed(classify))
        runs["plot"].append(timed(plot))
    row: dict[str, object] = {"trace": trace.name, "kernel_groups": total, "placed": placed, "labels": labels}
    for tool, samples in runs.items():
        row[f"{tool}_wall_s"] = statistics.median(w for w, _ in samples)
        row[f"{tool}_cpu_s"] = statistics.median(c for _, c in samples)
    row["ratio_wall"] = row["plot_wall_s"] / row["classify_wall_s"]  # type: ignore[operator]
    row["ratio_cpu"] = row["plot_cpu_s"] / row["classify_cpu_s"]  # type: ignore[operator]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8, help="copies of the seed trace (28 kernels each)")
    parser.add_argument("--trace", type=Path, nargs="*", default=[], help="benchmark these traces instead")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--labels", type=int, default=8, help="plot --labels")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        traces = list(args.trace)
        if not traces:
            path = workdir / f"many_groups_x{args.copies}.json.gz"
            names = build_trace(args.copies, path)
            print(f"built {path.name}: {args.copies} copies, {names} distinct kernel names", flush=True)
            traces = [path]
        for trace in traces:
            row = bench(trace, args.repeat, args.labels, workdir)
            rows.append(row)
            print(f"{row['trace']}: {row['kernel_groups']} kernel groups ({row['placed']} placed), "
                  f"classify {row['classify_wall_s']:.2f} s wall / {row['classify_cpu_s']:.2f} s CPU, "
                  f"plot {row['plot_wall_s']:.2f} s / {row['plot_cpu_s']:.2f} s: "
                  f"plot/classify {row['ratio_wall']:.2f}x wall, {row['ratio_cpu']:.2f}x CPU", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, " \
              f"load average {os.getloadavg()[0]:.1f}"
    print(f"machine: {machine}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "repeat": args.repeat, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
