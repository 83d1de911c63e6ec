"""How the measured TTFT of aiconfigurator's MoE/MLA rows is structured, against `roofline plan`'s
prediction — an analysis of the FIT half only (nothing here is fitted or reported as fidelity):

    python benchmarks/fidelity/ttft_structure_moe.py [--csv silicon_sample.csv] [--split fit]

Per mode (agg, disagg, disagg?) it prints the median of measured/predicted TTFT by concurrency, by
prompt length, and by the prefill pool's utilisation ρ = λ·t_p / ranks, where λ = C / (TTFT + OSL·TPOT)
is the closed loop's request rate from the *measured* figures (Little's law), t_p the predicted prefill
of one prompt, and ranks the prefill pool's attention-DP ranks (agg: the row's attention_dp); and a
least-squares fit log TTFT = a + b·log t_p + c·log C (how TTFT scales, not a model).

``--hypotheses`` adds what issue #16's candidate mechanisms give on the same rows (docs/fidelity.md, MoE TTFT):

* **later waves**: the benchmark's 10 waves simulated per row (InferenceX harness rows) with the planner's
  own step times — C clients, the prefill pool's servers (agg: 1; disagg: workers × attention-DP ranks)
  each t_p per prompt (the planner's prefill step of the prompt alone; disagg: of one prompt per DP rank), first come first served, then a decode of L·TPOT, L uniform in [⌊0.8·OSL⌋, OSL]
  (seed 1), the client's next prompt on completion: the mean wait behind other prefills of waves 2–10
  over wave 1's (0 where the waves de-synchronise, 1 where each wave queues like the first);
* **every wave synchronised** (agg): the first wave's excess over the steady TTFT in all 10 waves, not diluted
  over them, with the best per-request constant for it;
* **dTTFT/dC**: within one sweep (same engine, model, system, lengths, layout), the TTFT added per client
  between neighbouring concurrencies (≤ 2× apart), in units of t_p / servers: measured and predicted
  (a wave that queues in full adds ½; the first wave alone, diluted over 10 waves, ~0.05);
* **ISL slope at C ≤ 8** (agg): per engine × model × system with both 1k and 8k prompts, the measured TTFT
  per prompt token against the predicted t_p per token, and the intercept (the fixed cost at 0 tokens);
* **decode slots** (disagg): clients / (decode workers × per-worker cap) — above 1 a first token waits for a slot;
* **per-model constant** (what ``moe.per_request_s`` could absorb at best): the median |error| with the
  best constant per model instead of the engine's (an upper bound, chosen on these rows: not a fit).
"""

from __future__ import annotations

import argparse
import csv
import heapq
import math
import random
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import inferencex_layouts as ix  # noqa: E402
from corpus_moe import DEFAULT_CSV, MODELS, _hardware, _int, concurrency, mode_label, row_config, split, usable  # noqa: E402

from roofline.errors import InputError  # noqa: E402
from roofline.planner.serving import build_context, evaluate  # noqa: E402
from roofline.workload.model import load_model  # noqa: E402
from roofline.workload.scheduling import request_host_time  # noqa: E402

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


def later_wave_share(clients: int, servers: int, prefill_s: float, output: int, tpot_s: float,
                     waves: int = 10, seed: int = 1) -> float:
    """Mean prefill wait of waves 2…``waves`` over wave 1's, simulated (docstring: later waves)."""
    rng = random.Random(seed)
    free, arrivals, waits = [0.0] * servers, [0.0] * clients, []
    for _ in range(waves):
        nxt = [0.0] * clients
        for k in sorted(range(clients), key=arrivals.__getitem__):
            start = max(arrivals[k], heapq.heappop(free))
            heapq.heappush(free, start + prefill_s)
            waits.append(start - arrivals[k])
            nxt[k] = start + prefill_s + rng.randint(math.floor(0.8 * output), output) * tpot_s
        arrivals = nxt
    first = statistics.fmean(waits[:clients])
    return statistics.fmean(waits[clients:]) / first if first > 0 else 0.0


def hypotheses(mode: str, rows: list[dict]) -> None:
    """Print what the candidate mechanisms give on ``rows`` (module docstring)."""
    bands: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r["harness"] and r["C"] <= 2048:
            bands[_bin(r["C"], BINS["C"])].append(later_wave_share(r["C"], r["servers"], r["t_p"], r["osl"], r["ptpot"]))
    order = sorted(bands, key=lambda g: float(g.split(",")[0].strip("(> ")))
    print("  later waves, mean wait over wave 1's (median): " + "; ".join(
        f"{g} {statistics.median(bands[g]):.2f} (max {max(bands[g]):.2f}, n={len(bands[g])})" for g in order))
    if mode == "agg":  # every wave queueing like the first: the first wave's excess undiluted (× 10, not × 1)
        def synced(r: dict, fixed: float) -> float:
            return r["pred_minus_fixed"] + fixed + (9 * r["burst"] if r["harness"] else 0.0)
        grid = [i / 100 for i in range(41)]
        best = min(grid, key=lambda x: statistics.median(abs(synced(r, x) / r["ttft"] - 1) for r in rows))
        by_band: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            by_band[_bin(r["C"], BINS["C"])].append(r["ttft"] / synced(r, best))
        order = sorted(by_band, key=lambda g: float(g.split(",")[0].strip("(> ")))
        print(f"  every wave synchronised, best constant {best:.2f} s: TTFT "
              f"{statistics.median(abs(synced(r, best) / r['ttft'] - 1) for r in rows):.0%} median |error|; measured/predicted "
              + "; ".join(f"{g} {statistics.median(by_band[g]):.2f}" for g in order))
    sweeps: dict[tuple, dict[int, dict]] = defaultdict(dict)
    for r in rows:
        if r["harness"]:
            sweeps[r["sweep"]].setdefault(r["C"], r)
    slopes: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for byc in sweeps.values():
        cs = sorted(byc)
        for lo, hi in zip(cs, cs[1:]):
            if hi <= 2 * lo:
                a, b = byc[lo], byc[hi]
                unit = a["t_p"] / a["servers"] * (hi - lo)
                slopes[_bin(hi, BINS["C"])].append(((b["ttft"] - a["ttft"]) / unit, (b["pttft"] - a["pttft"]) / unit))
    order = sorted(slopes, key=lambda g: float(g.split(",")[0].strip("(> ")))
    print("  dTTFT/dC in t_p/servers, measured vs predicted (median): " + "; ".join(
        f"{g} {statistics.median(m for m, _ in slopes[g]):.2f} vs {statistics.median(q for _, q in slopes[g]):.2f} "
        f"(n={len(slopes[g])})" for g in order))
    if mode == "agg":
        groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            if r["C"] <= 8:
                groups[r["group"]].append(r)
        for key, rs in sorted(groups.items()):
            short, long_ = [r for r in rs if r["ISL"] <= 1100], [r for r in rs if r["ISL"] >= 8000]
            if len(short) < 2 or len(long_) < 2:
                continue
            med = (lambda xs, f: statistics.median(f(x) for x in xs))
            span = med(long_, lambda r: r["ISL"]) - med(short, lambda r: r["ISL"])
            slope = (med(long_, lambda r: r["ttft"]) - med(short, lambda r: r["ttft"])) / span
            predicted = (med(long_, lambda r: r["t_p"]) - med(short, lambda r: r["t_p"])) / span
            intercept = med(short, lambda r: r["ttft"]) - slope * med(short, lambda r: r["ISL"])
            print(f"  ISL slope at C ≤ 8, {' '.join(key)}: measured {slope * 1e6:.0f} µs/token, predicted prefill "
                  f"{predicted * 1e6:.1f} µs/token, intercept {intercept * 1e3:.0f} ms")
    ratios = [r["C"] / r["cap_slots"] for r in rows if r["cap_slots"]]
    if ratios:
        print(f"  decode slots: clients / (workers × cap) median {statistics.median(ratios):.2f}, above 1 in "
              f"{sum(x > 1.001 for x in ratios)} of {len(ratios)} rows")
    errors, by_model = [], defaultdict(list)
    for r in rows:
        by_model[r["model"]].append(r)
    for model, rs in sorted(by_model.items()):
        grid = [i / 100 for i in range(41)]
        best = min(grid, key=lambda x: statistics.median(abs((r["pred_minus_fixed"] + x) / r["ttft"] - 1) for r in rs))
        errs = [abs((r["pred_minus_fixed"] + best) / r["ttft"] - 1) for r in rs]
        errors += errs
        print(f"  best constant for {model}: {best:.2f} s, TTFT {statistics.median(errs):.0%} ({len(rs)} rows)")
    print(f"  with the best constant per model: TTFT {statistics.median(errors):.0%} median |error| "
          f"(engine constant now: {statistics.median(abs(1 / r['ratio'] - 1) for r in rows):.0%})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--split", default="fit", choices=("fit", "validate", "all"))
    ap.add_argument("--hypotheses", action="store_true", help="what issue #16's candidate mechanisms give (docstring)")
    args = ap.parse_args(argv)
    entries = ix.load_table(ix.TABLE)  # the InferenceX rows' layouts, as corpus_moe.py plans them
    table: dict[str, list[dict[str, float]]] = defaultdict(list)
    for row in csv.DictReader(args.csv.open()):
        if row["model_path"] not in MODELS or (args.split != "all" and split(row) != args.split):
            continue
        model = MODELS[row["model_path"]]
        found = ix.match(row, entries)
        try:
            cfg = row_config(row, model, usable(found))
            spec, roofs = _hardware(cfg.hardware)
            arch = load_model(model)[0]
            context = build_context(cfg, arch, spec, roofs)
            p = evaluate(cfg, context).prediction
        except (InputError, ValueError):
            continue
        ttft, tpot = float(row["silicon_ttft_ms"]) / 1e3, float(row["silicon_tpot_ms"]) / 1e3
        clients, osl = concurrency(row), _int(row, "osl")
        prefill = p.ttft_breakdown_s.get("compute") or p.ttft_breakdown_s.get("own") or p.ttft_s
        pools = cfg.serving.disaggregated  # the row's layout as planned (the InferenceX matrix's where matched)
        ranks = pools.prefill.workers * pools.prefill.attention_data if pools else cfg.parallelism.attention_data
        rate = clients / (ttft + osl * tpot)
        dec = pools.decode if pools else None
        table[mode_label(row, found)].append({
            "ratio": ttft / p.ttft_s, "C": clients, "ISL": _int(row, "isl"), "rho": rate * prefill / ranks,
            "ttft": ttft, "prefill": prefill, "t_p": p.prefill.time_s, "burst": p.ttft_burst_s, "pttft": p.ttft_s, "ptpot": p.itl_s, "osl": osl, "servers": ranks if pools else 1,
            "harness": cfg.serving.benchmark is not None,
            "sweep": (row["backend"], model, row["system"], _int(row, "isl"), osl, cfg.parallelism.attention_data,
                      str(pools)), "model": model, "group": (row["backend"], model, row["system"]),
            "cap_slots": dec.workers * dec.batch if dec and dec.batch else None,
            "pred_minus_fixed": p.ttft_s - request_host_time(context.scheduler_for(cfg), arch.num_layers)})
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
        if args.hypotheses:
            hypotheses(mode, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
