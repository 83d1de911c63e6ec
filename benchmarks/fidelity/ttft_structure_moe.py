"""How the measured TTFT of aiconfigurator's MoE/MLA rows is structured, against `roofline plan`'s
prediction — an analysis of the FIT half only (nothing here is fitted or reported as fidelity):

    python benchmarks/fidelity/ttft_structure_moe.py [--csv silicon_sample.csv] [--split fit]

Per mode (agg, disagg, disagg?) it prints the median of measured/predicted TTFT by concurrency, by
prompt length, and by the prefill pool's utilisation ρ = λ·t_p / ranks, where λ = C / (TTFT + OSL·TPOT)
is the closed loop's request rate from the *measured* figures (Little's law), t_p the predicted prefill
of one prompt, and ranks the prefill pool's attention-DP ranks (agg: the row's attention_dp); and a
least-squares fit log TTFT = a + b·log t_p + c·log C (how TTFT scales, not a model).
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus_moe import DEFAULT_CSV, MODELS, _hardware, _int, concurrency, mode_label, row_config, split  # noqa: E402

from roofline.errors import InputError  # noqa: E402
from roofline.planner.serving import build_context, evaluate  # noqa: E402
from roofline.workload.model import load_model  # noqa: E402

BINS = {"C": (2, 8, 32, 128, 512), "ISL": (1500, 4000, 9000), "rho": (0.1, 0.3, 0.6, 0.9, 2.0)}


def _bin(value: float, edges: tuple[float, ...]) -> str:
    for lo, hi in zip((0.0, *edges), edges):
        if value <= hi:
            return f"({lo:g}, {hi:g}]"
    return f"> {edges[-1]:g}"


def _lstsq3(xs: list[tuple[float, float]], ys: list[float]) -> tuple[float, float, float]:
    """Ordinary least squares of y on (1, x1, x2) via the normal equations (Cramer's rule)."""
    n = len(ys)
    s = [[n, sum(a for a, _ in xs), sum(b for _, b in xs)],
         [0, sum(a * a for a, _ in xs), sum(a * b for a, b in xs)],
         [0, 0, sum(b * b for _, b in xs)]]
    s[1][0], s[2][0], s[2][1] = s[0][1], s[0][2], s[1][2]
    t = [sum(ys), sum(a * y for (a, _), y in zip(xs, ys)), sum(b * y for (_, b), y in zip(xs, ys))]

    def det(m):
        return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))
    d = det(s)
    return tuple(det([[t[i] if j == k else s[i][j] for j in range(3)] for i in range(3)]) / d for k in range(3))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--split", default="fit", choices=("fit", "validate", "all"))
    args = ap.parse_args(argv)
    table: dict[str, list[dict[str, float]]] = defaultdict(list)
    for row in csv.DictReader(args.csv.open()):
        if row["model_path"] not in MODELS or (args.split != "all" and split(row) != args.split):
            continue
        model = MODELS[row["model_path"]]
        try:
            cfg = row_config(row, model)
            spec, roofs = _hardware(cfg.hardware)
            p = evaluate(cfg, build_context(cfg, load_model(model)[0], spec, roofs)).prediction
        except (InputError, ValueError):
            continue
        ttft, tpot = float(row["silicon_ttft_ms"]) / 1e3, float(row["silicon_tpot_ms"]) / 1e3
        clients, osl = concurrency(row), _int(row, "osl")
        prefill = p.ttft_breakdown_s.get("compute") or p.ttft_breakdown_s.get("own") or p.ttft_s
        ranks = _int(row, "prefill_attention_dp_size" if row["mode"] == "disagg" else "attention_dp_size")
        ranks *= _int(row, "prefill_num_workers") if row["mode"] == "disagg" else 1
        rate = clients / (ttft + osl * tpot)
        table[mode_label(row)].append({"ratio": ttft / p.ttft_s, "C": clients, "ISL": _int(row, "isl"),
                                       "rho": rate * prefill / ranks, "ttft": ttft, "prefill": prefill})
    for mode in ("agg", "disagg", "disagg?"):
        rows = table.get(mode, [])
        if not rows:
            continue
        print(f"\n{mode}: {len(rows)} rows, measured/predicted TTFT median {statistics.median(r['ratio'] for r in rows):.2f}")
        for key, edges in BINS.items():
            groups: dict[str, list[float]] = defaultdict(list)
            for r in rows:
                groups[_bin(r[key], edges)].append(r["ratio"])
            order = sorted(groups, key=lambda g: float(g.split(",")[0].strip("(> ")))
            print(f"  by {key}: " + "; ".join(f"{g} {statistics.median(groups[g]):.2f} (n={len(groups[g])})" for g in order))
        a, b, c = _lstsq3([(math.log(r["prefill"]), math.log(r["C"])) for r in rows], [math.log(r["ttft"]) for r in rows])
        print(f"  log TTFT = {a:.2f} + {b:.2f}·log t_p + {c:.2f}·log C")
    return 0


if __name__ == "__main__":
    sys.exit(main())
