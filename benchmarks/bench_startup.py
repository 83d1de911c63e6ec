"""How long a `roofline` command takes from start to exit, against `python -c "import typer, rich"`
measured in the same run (the floor any typer/rich CLI pays).

    python benchmarks/bench_startup.py                 # 7 runs of each, interleaved with the yardstick
    python benchmarks/bench_startup.py --runs 11 --json startup.json

Each command runs in a fresh process; the yardstick runs before each of its runs, so a machine
whose speed drifts moves both. Reported: the median wall time and the median of the per-pair
ratios, and the median CPU time (user + system of the child, from os.wait4), which a busy shared
machine inflates less than wall time. One warm-up run of everything first, so bytecode caches
exist (a fresh checkout compiles every module once; PYTHONDONTWRITEBYTECODE would make every run
pay that, so it is unset for the children).

Targets (issue 13): --version and --help within 2x the yardstick, hw list within 3x, plot and
report of a small trace under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TRACE = REPO / "tests" / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"
CONFIG = REPO / "examples" / "llama70b_h100_tp8.yaml"
YARDSTICK = [sys.executable, "-c", "import typer, rich"]


def commands(out: Path) -> dict[str, list[str]]:
    roofline = [sys.executable, "-m", "roofline"]
    return {
        "roofline --version": [*roofline, "--version"],
        "roofline --help": [*roofline, "--help"],
        "roofline classify --help": [*roofline, "classify", "--help"],
        "roofline hw list": [*roofline, "hw", "list"],
        "roofline classify TRACE": [*roofline, "classify", str(TRACE)],
        "roofline plot TRACE": [*roofline, "plot", str(TRACE), "-o", str(out / "r.png")],
        "roofline report TRACE": [*roofline, "report", str(TRACE), "-o", str(out / "r.html")],
        "roofline report TRACE CONFIG": [*roofline, "report", str(TRACE), str(CONFIG), "-o", str(out / "rc.html")],
    }


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", help="comma-separated command names (see the table)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["COLUMNS"] = "120"
    env.setdefault("PYTHONPATH", str(REPO / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        table = commands(Path(tmp))
        if args.only:
            table = {k: v for k, v in table.items() if k in args.only.split(",")}
        for argv in [YARDSTICK, *table.values()]:
            run_once(argv, env)  # warm-up: bytecode caches, the font cache, the page cache
        rows = {}
        for name, argv in table.items():
            walls, cpus, ratios, base_walls = [], [], [], []
            for _ in range(args.runs):
                base_wall, _ = run_once(YARDSTICK, env)
                wall, cpu = run_once(argv, env)
                walls.append(wall)
                cpus.append(cpu)
                base_walls.append(base_wall)
                ratios.append(wall / base_wall)
            rows[name] = {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus),
                          "yardstick_wall_s": statistics.median(base_walls),
                          "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}
    print(f"{'command':<32}{'wall':>9}{'cpu':>9}{'yardstick':>11}{'ratio':>8}  (min..max)")
    for name, row in rows.items():
        print(f"{name:<32}{row['wall_s']:>8.3f}s{row['cpu_s']:>8.3f}s{row['yardstick_wall_s']:>10.3f}s"
              f"{row['ratio']:>7.2f}x  ({row['ratio_min']:.2f}..{row['ratio_max']:.2f})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
