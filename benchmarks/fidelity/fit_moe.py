"""Fit the MoE constants of the bundled engine profiles (the ``moe`` section of
workloads/engines/{trtllm,sglang,vllm}.yaml) on the 'fit' half of aiconfigurator's MoE/MLA rows:

    python benchmarks/fidelity/fit_moe.py [--csv silicon_sample.csv] [--limit N] [--dry-run] [--only NAME ...]

The constants: the expert-parallel all-to-all latency per call, the grouped-GEMM efficiency of the
routed experts against a dense GEMM (its tile fill by tokens per expert stays in the op model), the
routed experts' weight-streaming efficiency at fp4 (the fused fp4 MoE kernels are not the dense
NVFP4 GEMMs the dense fit measured), and the host time per iteration for MoE models. They enter TPOT
through the decode step — and, in the
disaggregated rows, through the closed loop whose batch depends on TPOT — so they are not linear
features of one prediction (what roofline calibrate fits); each is searched over a grid, one at a
time, two passes (coordinate descent), minimising the median |TPOT error| of the engine's fit rows
— the mean of the agg and the disagg medians, so that each serving mode counts the same —
(at most ``--limit`` per model × system × mode group, for time; not the disaggregated rows whose
worker counts are blank, corpus_moe.mode_label). Then, those fixed, the fixed cost per request before
its first token (``per_request_s``, replacing the dense scheduler's for MoE models) is searched over
its grid minimising the mean of the agg and the disagg median |TTFT error| of the same rows: the
fit half's measured TTFT stays 2-6x the predicted one even where the prefill pool is idle
(benchmarks/fidelity/ttft_structure_moe.py), a cost that does not scale with the prompt.
The validate half is never read here; benchmarks/fidelity/corpus_moe.py reports it.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus_moe import DEFAULT_CSV, MODELS, _hardware, mode_label, row_config, split  # noqa: E402

from roofline.errors import InputError  # noqa: E402
from roofline.planner.serving import build_context, evaluate  # noqa: E402
from roofline.workload.engine_profile import EngineProfile, MoEConstants, load_profile_file, profile_yaml  # noqa: E402
from roofline.workload.model import load_model  # noqa: E402

ENGINES = ("trtllm", "sglang", "vllm")
GRID = {
    "alltoall_latency_s": (6e-6, 12e-6, 25e-6, 50e-6, 100e-6, 200e-6),
    "grouped_gemm": (1.0, 0.8, 0.65, 0.5, 0.4, 0.3),
    "iteration_s": (None, 0.25e-3, 0.5e-3, 1e-3, 2e-3, 4e-3),  # None: the dense fit's value
    # The fp4 routed experts' streaming efficiency; None: the dense fp4 GEMM's. fp4 only: the dense
    # NVFP4 fit (Llama-3.1-70B, TensorRT-LLM 0.54 and vLLM 0.49 of the HBM roof) is the one whose kernels
    # the MoE path does not share (fused fp4 MoE on Blackwell); an fp8 entry was tried and traded one
    # partition against another (TRT-LLM Qwen3 H100 12% -> 16% for DeepSeek fp8 H200) without a cause.
    "expert_memory.fp4": (None, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
}
TTFT_GRID = (None, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)  # per_request_s; None: the dense fit's value


def fit_rows(csv_path: Path, engine: str, limit: int) -> list[dict[str, str]]:
    taken: dict[tuple[str, ...], int] = defaultdict(int)
    out = []
    for row in csv.DictReader(csv_path.open()):
        if row["model_path"] not in MODELS or row["backend"] != engine or split(row) != "fit":
            continue
        if mode_label(row) == "disagg?":  # worker counts blank: the layout is a guess, not fitted on
            continue
        key = (row["model_path"], row["system"], row["mode"])
        if limit and taken[key] >= limit:
            continue
        taken[key] += 1
        out.append(row)
    return out


def tpot_errors(rows: list[dict[str, str]], profile: EngineProfile, ttft: bool = False) -> dict[str, list[float]]:
    """TPOT errors (TTFT errors with ``ttft``) by serving mode (agg, disagg)."""
    errors: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        model = MODELS[row["model_path"]]
        try:
            cfg = row_config(row, model)
            spec, roofs = _hardware(cfg.hardware)
            p = evaluate(cfg, build_context(cfg, load_model(model)[0], spec, roofs, profile=profile)).prediction
        except (InputError, ValueError):
            continue
        errors[row["mode"]].append(p.ttft_s * 1e3 / float(row["silicon_ttft_ms"]) - 1 if ttft
                                   else p.itl_s * 1e3 / float(row["silicon_tpot_ms"]) - 1)
    return errors


def moe_fields(values: dict[str, float | None]) -> dict[str, object]:
    """MoEConstants keywords from the flat grid values ('expert_memory.fp4' → expert_memory['fp4'])."""
    fields: dict[str, object] = {k: v for k, v in values.items() if v is not None and "." not in k}
    experts = {k.split(".", 1)[1]: v for k, v in values.items()
               if v is not None and k.startswith("expert_memory.")}
    return {**fields, **({"expert_memory": experts} if experts else {})}


def with_moe(profile: EngineProfile, values: dict[str, float | None]) -> EngineProfile:
    return profile.model_copy(update={"moe": MoEConstants(**moe_fields(values))})


def current_values(moe: MoEConstants | None) -> dict[str, float | None]:
    """The flat grid values of a profile's moe section (None where it sets nothing)."""
    values: dict[str, float | None] = dict.fromkeys(GRID)
    if moe is not None:
        values.update({k: getattr(moe, k) for k in GRID if "." not in k})
        values.update({f"expert_memory.{p}": v for p, v in moe.expert_memory.items()
                       if f"expert_memory.{p}" in GRID})
    return values


def fit_engine(rows: list[dict[str, str]], base: EngineProfile,
               start_values: dict[str, float | None] | None = None,
               only: tuple[str, ...] = ()) -> tuple[dict[str, float | None], float, float]:
    """Coordinate descent over GRID (only the ``only`` constants, the others held at ``start_values``);
    returns the values, the starting and the fitted median |TPOT error|."""
    values: dict[str, float | None] = dict(start_values or dict.fromkeys(GRID))

    def loss(v: dict[str, float | None]) -> float:
        by_mode = tpot_errors(rows, with_moe(base, v))
        # Each serving mode counts the same: agg rows outnumber the disaggregated ones 3:1.
        return statistics.fmean(statistics.median(abs(e) for e in errs) for errs in by_mode.values()) \
            if by_mode else float("inf")

    start = best = loss(values)
    for _ in range(2):
        for name, grid in GRID.items():
            if only and name not in only:
                continue
            for candidate in grid:
                trial = {**values, name: candidate}
                if trial == values:
                    continue
                value = loss(trial)
                if value < best - 1e-4:
                    best, values = value, trial
    return values, start, best


def fit_ttft(rows: list[dict[str, str]], base: EngineProfile, values: dict[str, float | None]
             ) -> tuple[float | None, float, float]:
    """The per-request cost over TTFT_GRID, the TPOT constants fixed; returns it and the starting and
    the fitted mean of the agg and disagg median |TTFT error|."""
    def loss(per_request: float | None) -> float:
        by_mode = tpot_errors(rows, with_moe(base, {**values, "per_request_s": per_request}), ttft=True)
        return statistics.fmean(statistics.median(abs(e) for e in errs) for errs in by_mode.values()) \
            if by_mode else float("inf")

    scores = {v: loss(v) for v in TTFT_GRID}
    chosen = min(TTFT_GRID, key=lambda v: (scores[v] > scores[None] - 1e-4, scores[v]))
    return chosen, scores[None], scores[chosen]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--limit", type=int, default=0, help="fit rows per model × system × mode at most (0: all)")
    ap.add_argument("--dry-run", action="store_true", help="print the fit, leave the profiles as they are")
    ap.add_argument("--only", nargs="+", default=(), choices=tuple(GRID),
                    help="search these constants only, the others (and per_request_s) held at the profile's")
    args = ap.parse_args(argv)
    engines_dir = HERE.parent.parent / "workloads" / "engines"
    for engine in ENGINES:
        path = engines_dir / f"{engine}.yaml"
        loaded = load_profile_file(path)
        base = loaded.model_copy(update={"moe": None})
        rows = fit_rows(args.csv, engine, args.limit)
        held = current_values(loaded.moe) if args.only else None
        values, start, best = fit_engine(rows, base, held, tuple(args.only))
        print(f"{engine}: {len(rows)} fit rows, median |TPOT error| {start:.1%} -> {best:.1%} with {values}")
        if args.only:  # the TTFT constant is held too
            per_request = loaded.moe.per_request_s if loaded.moe else None
            ttft_start = ttft_best = statistics.fmean(
                statistics.median(abs(e) for e in errs) for errs in tpot_errors(
                    rows, with_moe(base, {**values, "per_request_s": per_request}), ttft=True).values())
        else:
            per_request, ttft_start, ttft_best = fit_ttft(rows, base, values)
        values["per_request_s"] = per_request
        print(f"{engine}: median |TTFT error| {ttft_start:.1%} -> {ttft_best:.1%} with per_request_s {per_request}")
        best = statistics.fmean(statistics.median(abs(e) for e in errs)
                                for errs in tpot_errors(rows, with_moe(base, values)).values())
        if args.dry_run:
            continue
        grids = {**GRID, "per_request_s": TTFT_GRID}
        edge = [k for k, v in values.items() if v is not None and v in (grids[k][0], grids[k][-1]) and v != grids[k][0]]
        limit_note = f"at most {args.limit} per model × system × mode, " if args.limit else ""
        rows_note = (f"{len(rows)} MoE fit rows of silicon_sample.csv ({limit_note}split 'fit', "
                     "disaggregated rows with blank worker counts left out)")
        if args.only:
            source = (f"fitted by benchmarks/fidelity/fit_moe.py --only {' '.join(args.only)} on {rows_note}, "
                      "the other MoE constants held: median |TPOT error| (mean of agg and disagg) "
                      f"{start:.0%} -> {best:.0%}"
                      + (f"; at the grid's edge: {', '.join(e for e in edge if e in args.only)}"
                         if any(e in args.only for e in edge) else ""))
        else:
            source = (f"fitted by benchmarks/fidelity/fit_moe.py on {rows_note}: median |TPOT error| (mean of "
                      f"agg and disagg) {start:.0%} with the dense constants, {best:.0%} fitted; median |TTFT error| "
                      f"{ttft_start:.0%} -> {ttft_best:.0%} with per_request_s"
                      + (f"; at the grid's edge: {', '.join(edge)}" if edge else ""))
        moe = MoEConstants(**moe_fields(values), rows_fit=len(rows),
                           fit_tpot_error=round(best, 4), fit_ttft_error=round(ttft_best, 4),
                           source=f"{loaded.moe.source.split('; then ')[0]}; then {source}"
                           if args.only and loaded.moe else source)
        if args.only:  # the held constants keep their provenance
            provenance = {k: v for k, v in loaded.provenance.items()
                          if not any(k == f"moe.{name}" for name in args.only)}
            provenance.update({f"moe.{k}": source for k in args.only if values.get(k) is not None})
        else:
            provenance = {k: v for k, v in base.provenance.items() if not k.startswith("moe.")}
            provenance.update({f"moe.{k}": source for k, v in values.items() if v is not None})
        profile = base.model_copy(update={"moe": moe, "provenance": provenance})
        header = "\n".join(line[2:] if line.startswith("# ") else line[1:]
                           for line in path.read_text().split("schema_version:")[0].splitlines()
                           if not line.startswith("# MoE constants"))
        header += (f"\nMoE constants (moe:) fitted on {len(rows)} MoE fit rows: median |TPOT error| (agg/disagg mean) "
                   f"{start:.0%} -> {best:.0%}")
        fresh = path.with_suffix(".new.yaml")
        fresh.write_text(profile_yaml(profile, header))
        load_profile_file(fresh)  # it loads back
        fresh.replace(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
