"""`roofline plan` against aiconfigurator's measured corpus for the MoE/MLA models served today
(DeepSeek-R1/V3, gpt-oss-120b, Qwen3-235B-A22B, Kimi-K2.5), aggregated and disaggregated rows, with
each row's own layout (tp, attention_dp, moe_tp, moe_ep; prefill_* and decode_* pools).

    python benchmarks/fidelity/corpus_moe.py [--csv silicon_sample.csv] [--split validate|fit|all] [--limit N]

Nothing here is fitted: every row runs through the bundled engine profiles as they are (fitted on the
dense models' fit side, benchmarks/fidelity/fit_profiles.py), so both splits are held out for these
models; the split only keeps whole concurrency sweeps apart for a later fit. Precision per row:
gemm_quant_mode for the non-expert GEMMs, moe_quant_mode for the routed experts; fp4 on a part without
fp4 tensor cores (H100/H200 rows of gpt-oss, as the corpus labels them) is MXFP4 weight-only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import statistics
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.precision import Precision, Unit
from roofline.workload.model import load_model
from roofline.workload.runs import hardware_name, harness_sections, precision_of
from roofline.workload.serving import ServingConfig

MODELS = {"deepseek-ai/DeepSeek-R1": "deepseek-r1", "deepseek-ai/DeepSeek-V3": "deepseek-v3",
          "openai/gpt-oss-120b": "gpt-oss-120b", "Qwen/Qwen3-235B-A22B-FP8": "qwen3-235b-a22b",
          "moonshotai/Kimi-K2.5": "kimi-k2.5"}
DEFAULT_CSV = Path("/work/ext/ai-dynamo+aiconfigurator/aic-core/src/aiconfigurator_core/systems/silicon_sample.csv")


def _int(row: dict[str, str], key: str, default: int = 1) -> int:
    value = (row.get(key) or "").strip()
    return (int(float(value)) if value else 0) or default


def split(row: dict[str, str]) -> str:
    key = "|".join(row[k] for k in ("backend", "model_path", "system", "precision", "mode", "tp_size",
                                    "attention_dp_size", "moe_ep_size", "isl", "osl", "prefill_tp_size",
                                    "decode_tp_size"))
    return "fit" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "validate"


@lru_cache(maxsize=None)
def _hardware(name: str):
    spec = load_registry().resolve(name)
    return spec, roofs_from_spec(spec)


def precision(row: dict[str, str], has_fp4: bool) -> dict[str, object]:
    weights, acts, group = precision_of(row["precision"], row["gemm_quant_mode"])
    experts, expert_acts, expert_group = precision_of(row["precision"], row["moe_quant_mode"] or row["gemm_quant_mode"])
    if weights == Precision.FP4 and not has_fp4:  # MXFP4 checkpoints served weight-only on Hopper
        weights, acts, group = Precision.BF16, Precision.BF16, None
    if experts == Precision.FP4 and not has_fp4:
        expert_group = 32
    if acts == Precision.FP4 and weights != Precision.FP4:
        acts = Precision.FP8
    return {"weights": weights.value, "activations": acts.value, "weight_group_size": group,
            "kv_cache": "fp8" if acts in (Precision.FP8, Precision.FP4) else "bf16",
            "experts": experts.value, "experts_group_size": expert_group}


def pool(row: dict[str, str], prefix: str) -> dict[str, int]:
    """A row's layout. The MoE layers span moe_tp × moe_ep GPUs; where that exceeds tp × dp (vLLM's
    Qwen3 rows: tp 1, moe_tp 2, attention_dp blank) the engine ran data-parallel attention over the
    rest (vLLM --data-parallel-size: world = tp × dp = moe_tp × moe_ep), so dp is that quotient."""
    tp, dp = _int(row, f"{prefix}tp_size"), _int(row, f"{prefix}attention_dp_size")
    ep = _int(row, f"{prefix}moe_ep_size")
    moe_tp = _int(row, f"{prefix}moe_tp_size", 0) or tp * dp // ep
    if moe_tp * ep > tp * dp and (moe_tp * ep) % tp == 0:
        dp = moe_tp * ep // tp
    return {"tensor": tp, "attention_data": dp, "expert": ep, "expert_tensor": moe_tp}


def concurrency(row: dict[str, str]) -> int:
    """The clients of the deployment. Disaggregated rows leave ``batch_size`` blank: their
    concurrency is only in ``silicon_data_source`` (``silicon_concurrency=N``). In attention-DP agg
    rows ``batch_size`` is per DP rank (batch_size × attention_dp_size = silicon_concurrency in every
    such row of the corpus), so the source's figure is taken there too; elsewhere ``batch_size``."""
    found = re.search(r"silicon_concurrency=(\d+)", row.get("silicon_data_source", ""))
    if found and (row["mode"] == "disagg" or _int(row, "attention_dp_size") > 1):
        return int(found.group(1))
    return _int(row, "batch_size")


def mode_label(row: dict[str, str]) -> str:
    """'agg', 'disagg', or 'disagg?' for the disaggregated rows that leave the worker counts and the
    decode batch blank (1,306 of the 1,572 for the bundled models: the 2026-03-25 and 2026-04-06
    source files): they run with one prefill and one decode worker, a guess, so they are reported apart."""
    if row["mode"] != "disagg":
        return row["mode"]
    return "disagg" if (row.get("decode_num_workers") or "").strip() else "disagg?"


def decode_batch(row: dict[str, str]) -> int | None:
    """Sequences per decode worker: ``decode_batch_size`` counts per attention-DP rank (in all 264
    corpus rows that give it, decode_batch_size × decode_attention_dp_size × decode_num_workers is
    the concurrency), so a worker holds that times its DP ranks. None where the row leaves it blank."""
    per_rank = _int(row, "decode_batch_size", 0)
    return per_rank * _int(row, "decode_attention_dp_size") if per_rank else None


def row_config(row: dict[str, str], model: str, harness: bool = True) -> ServingConfig:
    hardware = hardware_name(row["system"])
    spec, roofs = _hardware(hardware)
    data: dict[str, object] = {
        "model": model, "hardware": hardware, "precision": precision(row, (Unit.MATRIX, Precision.FP4) in roofs.compute),
        "runtime": {"engine": row["backend"]},
    }
    if row["mode"] == "disagg":
        pre, dec = pool(row, "prefill_"), pool(row, "decode_")
        workers = {"prefill": _int(row, "prefill_num_workers"), "decode": _int(row, "decode_num_workers")}
        layout = {"prefill": {"workers": workers["prefill"], **pre},
                  "decode": {"workers": workers["decode"], **dec, "batch": decode_batch(row)}}
        gpus = sum(workers[k] * p["tensor"] * p["attention_data"] for k, p in (("prefill", pre), ("decode", dec)))
        data.update(gpus=gpus, parallelism=dec, serving={"concurrency": concurrency(row), "prompt_tokens":
                    _int(row, "isl"), "output_tokens": _int(row, "osl"), "disaggregated": layout})
    else:
        par = pool(row, "")
        data.update(gpus=par["tensor"] * par["attention_data"], parallelism=par, serving={
            "concurrency": concurrency(row), "prompt_tokens": _int(row, "isl"), "output_tokens": _int(row, "osl")})
    if harness:  # what the row's benchmark harness fixes (roofline.workload.runs.harness_sections)
        fixed = harness_sections(row.get("silicon_data_source", ""), engine=row["backend"], model=row.get("model_path", model),
                                 isl=_int(row, "isl"), osl=_int(row, "osl"), tp=_int(row, "tp_size"))
        for section, values in fixed.items():
            data[section] = {**data.get(section, {}), **values}  # type: ignore[dict-item]
    return ServingConfig.model_validate(data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--split", default="validate", choices=("validate", "fit", "all"))
    ap.add_argument("--limit", type=int, default=0, help="rows per model×backend×system×mode at most (0: all)")
    ap.add_argument("--no-harness", action="store_true",
                    help="predict the steady state, without what each row's benchmark harness fixes")
    args = ap.parse_args(argv)
    rows = [r for r in csv.DictReader(args.csv.open()) if r["model_path"] in MODELS]
    if args.split != "all":
        rows = [r for r in rows if split(r) == args.split]
    groups: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    refused: dict[tuple[str, ...], list[str]] = defaultdict(list)
    taken: dict[tuple[str, ...], int] = defaultdict(int)
    for row in rows:
        model = MODELS[row["model_path"]]
        key = (model, row["backend"], row["system"], mode_label(row))
        if args.limit and taken[key] >= args.limit:
            continue
        taken[key] += 1
        try:
            cfg = row_config(row, model, harness=not args.no_harness)
            spec, roofs = _hardware(cfg.hardware)
            context = build_context(cfg, load_model(model)[0], spec, roofs)
            p = evaluate(cfg, context).prediction
        except (InputError, ValueError) as exc:
            refused[key].append(str(exc).splitlines()[0][:120])
            continue
        groups[key].append((p.ttft_s * 1e3 / float(row["silicon_ttft_ms"]) - 1,
                            p.itl_s * 1e3 / float(row["silicon_tpot_ms"]) - 1))
    print("| model | backend | system | mode | rows | refused | TTFT median abs err | TPOT median abs err | TPOT bias |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|")
    everything = []
    for key in sorted(set(groups) | set(refused)):
        errs = groups.get(key, [])
        everything += errs
        med = (lambda xs: f"{statistics.median(xs):.0%}" if xs else "–")
        print(f"| {' | '.join(key)} | {len(errs) + len(refused[key])} | {len(refused[key])} | "
              f"{med([abs(t) for t, _ in errs])} | {med([abs(i) for _, i in errs])} | {med([i for _, i in errs])} |")
    for key, reasons in refused.items():
        if reasons:
            print(f"refused {' '.join(key)}: {reasons[0]}", file=sys.stderr)
    if everything:
        print(f"\nall: {len(everything)} rows, TTFT {statistics.median(abs(t) for t, _ in everything):.0%}, "
              f"TPOT {statistics.median(abs(i) for _, i in everything):.0%} median |error|; "
              f"{sum(len(r) for r in refused.values())} refused")
        for mode in ("agg", "disagg", "disagg?"):
            errs = [e for key, es in groups.items() if key[3] == mode for e in es]
            if errs:
                print(f"{mode}: {len(errs)} rows, TTFT {statistics.median(abs(t) for t, _ in errs):.0%}, "
                      f"TPOT {statistics.median(abs(i) for _, i in errs):.0%} median |error|")
    return 0


if __name__ == "__main__":
    sys.exit(main())
