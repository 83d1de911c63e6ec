"""`roofline plan` against aiconfigurator's public measured corpus (TensorRT-LLM, vLLM, SGLang runs
on H100/H200/B200/GB200): median |error| and bias of TTFT and TPOT per backend, model, system,
precision, TP and concurrency band, the worst rows with a diagnosis, and the planning rate.

    python benchmarks/fidelity/corpus.py [--csv silicon_sample.csv] [--split validate|fit|all]
                                         [--baseline] [--json OUT] [--markdown OUT] [--worst 10]

The corpus: github.com/ai-dynamo/aiconfigurator, aic-core/src/aiconfigurator_core/systems/
silicon_sample.csv (Apache-2.0, 5,221 rows; the copy used here has SHA-256 4240bfaf…499adb). It is
not committed: pass its path, or put it at benchmarks/fidelity/data/silicon_sample.csv.

Rows kept: aggregated serving (one engine does prefill and decode) of the dense models bundled with
the planner (Llama-3.1-8B/70B, Qwen3-32B). Each row is one replica (``tp_size`` GPUs) at
``batch_size`` concurrent requests. ``--baseline`` predicts as the planner did before engine
profiles (the batch = concurrency, one prefill as TTFT); otherwise each row runs in continuous mode
with the row's engine profile. The split (roofline.workload.runs.split_of) puts whole concurrency
sweeps on the fit or the validation side; the bundled profiles are fitted on 'fit' only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving_runs import RunPrediction, predict_runs
from roofline.workload.model import load_model
from roofline.workload.runs import MeasuredRun, bundled_name, concurrency_band, split_of
from roofline.workload.runs_csv import read_runs_csv

HERE = Path(__file__).resolve().parent
CANDIDATES = (
    HERE / "data" / "silicon_sample.csv",
    Path("/work/ext/ai-dynamo+aiconfigurator/aic-core/src/aiconfigurator_core/systems/silicon_sample.csv"),
)
DENSE = ("llama-3.1-8b", "llama-3.1-70b", "qwen3-32b")


def default_csv() -> Path | None:
    return next((p for p in CANDIDATES if p.is_file()), None)


def dense_runs(runs: list[MeasuredRun], split: str) -> list[MeasuredRun]:
    kept = [r for r in runs if bundled_name(r.model) in DENSE]
    return kept if split == "all" else [r for r in kept if split_of(r) == split]


@lru_cache(maxsize=None)
def _hardware(name: str):
    spec = load_registry().resolve(name)
    return spec, roofs_from_spec(spec)


@lru_cache(maxsize=None)
def _model(name: str):
    return load_model(name)[0]


def predict(runs: list[MeasuredRun], *, baseline: bool, harness: bool = True) -> list[RunPrediction]:
    return predict_runs(runs, hardware=_hardware, model=_model, legacy=baseline, harness=harness)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def partition_rows(results: list[RunPrediction]) -> list[dict[str, object]]:
    keys = {
        "all": lambda r: "all",
        "backend": lambda r: r.engine,
        "model": lambda r: bundled_name(r.model),
        "system": lambda r: r.hardware,
        "precision": lambda r: r.weights.value if r.weights == r.activations else f"{r.weights.value}-weights",
        "tp": lambda r: f"tp{r.tp}",
        "concurrency": lambda r: f"c {concurrency_band(r.concurrency)}",
        "backend×model": lambda r: f"{r.engine} {bundled_name(r.model)}",
        "backend×model×system×tp×c": lambda r: (f"{r.engine} {bundled_name(r.model)} {r.hardware} tp{r.tp} "
                                                f"c {concurrency_band(r.concurrency)}"),
    }
    rows: list[dict[str, object]] = []
    for dimension, key in keys.items():
        groups: dict[str, list[RunPrediction]] = defaultdict(list)
        for result in results:
            groups[key(result.run)].append(result)
        for value in sorted(groups):
            members = groups[value]
            ok = [m for m in members if m.prediction is not None]
            ttft = [m.ttft_error for m in ok]
            tpot = [m.tpot_error for m in ok]
            rows.append({
                "partition": dimension, "value": value, "rows": len(members), "refused": len(members) - len(ok),
                "ttft_abs": _median([abs(e) for e in ttft]), "ttft_bias": _median(ttft),
                "tpot_abs": _median([abs(e) for e in tpot]), "tpot_bias": _median(tpot),
            })
    return rows


def diagnosis(result: RunPrediction) -> str:
    """Why a row is off, read from what the model predicted for it."""
    run, p = result.run, result.prediction
    if p is None:
        return f"refused: {result.refused}"
    notes = []
    ttft, tpot = result.ttft_error or 0.0, result.tpot_error or 0.0
    if abs(ttft) >= abs(tpot):
        ratio = run.ttft_s / p.ttft_s
        if ratio > 1.5 and run.concurrency > 1:
            notes.append(f"measured TTFT is {ratio:.1f}x the prediction at concurrency {run.concurrency}: "
                         "waiting behind other requests' prefills")
        elif ratio > 1.5:
            notes.append(f"measured TTFT is {ratio:.1f}x one predicted prefill: fixed per-request cost")
        elif p.queued:
            notes.append(f"TTFT over-predicted {1 / ratio:.1f}x: the paged bf16 KV cache predicted holds {p.running} of "
                         f"{run.concurrency} requests, so {p.queued} wait {p.queue_s:.0f} s for a slot; the engine admitted "
                         "more (an fp8 KV cache, or preemption that keeps TTFT short and moves the wait into TPOT)")
        else:
            notes.append(f"TTFT over-predicted {1 / ratio:.1f}x (prefill {p.prefill.bound}-bound)")
    else:
        shares = {k: v / p.decode.time_s for k, v in p.decode.breakdown.items() if p.decode.time_s}
        top = max(shares, key=lambda k: shares[k]) if shares else "?"
        notes.append(f"TPOT {'under' if tpot < 0 else 'over'}-predicted ({tpot:+.0%}); decode step "
                     f"{top}-dominated ({shares.get(top, 0):.0%}) at batch {p.decode.batch}, TP{run.tp}")
    return "; ".join(notes)


def worst_rows(results: list[RunPrediction], n: int) -> list[dict[str, object]]:
    def badness(r: RunPrediction) -> float:
        if r.prediction is None:
            return float("inf")
        return max(abs(r.ttft_error or 0), abs(r.tpot_error or 0))

    rows = []
    for result in sorted(results, key=badness, reverse=True)[:n]:
        run, p = result.run, result.prediction
        rows.append({
            "id": run.id, "engine": run.engine, "model": bundled_name(run.model), "system": run.hardware,
            "precision": run.weights.value, "tp": run.tp, "isl": run.isl, "osl": run.osl, "concurrency": run.concurrency,
            "ttft_ms": run.ttft_s * 1e3, "tpot_ms": run.tpot_s * 1e3,
            "pred_ttft_ms": p.ttft_s * 1e3 if p else None, "pred_tpot_ms": p.itl_s * 1e3 if p else None,
            "diagnosis": diagnosis(result),
        })
    return rows


def markdown(rows: list[dict[str, object]], worst: list[dict[str, object]], header: str) -> str:
    out = [header, "", "| partition | value | rows | refused | TTFT median abs | TTFT bias | TPOT median abs | TPOT bias |",
           "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['partition']} | {r['value']} | {r['rows']} | {r['refused']} | {r['ttft_abs']:.0%} | "
                   f"{r['ttft_bias']:+.0%} | {r['tpot_abs']:.0%} | {r['tpot_bias']:+.0%} |")
    out += ["", "| row | engine | model | system | prec | TP | ISL/OSL | C | TTFT meas/pred ms | TPOT meas/pred ms | diagnosis |",
            "|---|---|---|---|---|---:|---|---:|---:|---:|---|"]
    for w in worst:
        pt = f"{w['pred_ttft_ms']:.1f}" if w["pred_ttft_ms"] is not None else "—"
        pp = f"{w['pred_tpot_ms']:.2f}" if w["pred_tpot_ms"] is not None else "—"
        out.append(f"| {str(w['id'])[:40]} | {w['engine']} | {w['model']} | {w['system']} | {w['precision']} | {w['tp']} | "
                   f"{w['isl']}/{w['osl']} | {w['concurrency']} | {w['ttft_ms']:.1f} / {pt} | {w['tpot_ms']:.2f} / {pp} | "
                   f"{w['diagnosis']} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=default_csv())
    parser.add_argument("--split", choices=("validate", "fit", "all"), default="validate")
    parser.add_argument("--baseline", action="store_true", help="predict as the planner did before engine profiles")
    parser.add_argument("--no-harness", action="store_true",
                        help="predict the steady state, without what each row's benchmark harness fixes")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--worst", type=int, default=10)
    args = parser.parse_args(argv)
    if args.csv is None or not args.csv.is_file():
        print("corpus.py: give --csv PATH to aiconfigurator's silicon_sample.csv (see the module docstring)",
              file=sys.stderr)
        return 2
    runs = dense_runs(read_runs_csv(args.csv).runs, args.split)
    start = time.perf_counter()
    results = predict(runs, baseline=args.baseline, harness=not args.no_harness)
    elapsed = time.perf_counter() - start
    rows = partition_rows(results)
    worst = worst_rows(results, args.worst)
    mode = "baseline (before engine profiles)" if args.baseline else "continuous mode, engine profiles" + (
        "" if args.no_harness else ", benchmark harness")
    header = (f"### {args.split} split, {len(runs)} dense agg rows — {mode}; "
              f"{len(runs) / elapsed:.0f} configs/s in-process")
    text = markdown(rows, worst, header)
    if args.markdown:
        args.markdown.write_text(text)
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "mode": mode, "rows": len(runs),
                                         "seconds": elapsed, "partitions": rows, "worst": worst}, indent=1) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
