"""`roofline plan` against aiconfigurator's measured corpus for the MoE/MLA models served today
(DeepSeek-R1/V3, gpt-oss-120b, Qwen3-235B-A22B, Kimi-K2.5), aggregated and disaggregated rows, with
each row's own layout (tp, attention_dp, moe_tp, moe_ep; prefill_* and decode_* pools).

    python benchmarks/fidelity/corpus_moe.py [--csv silicon_sample.csv] [--split validate|fit|all] [--limit N]
                                             [--layouts TABLE|none]

Nothing here is fitted: every row runs through the bundled engine profiles as they are (fitted on the
dense models' fit side, benchmarks/fidelity/fit_profiles.py), so both splits are held out for these
models; the split only keeps whole concurrency sweeps apart for a later fit. Precision per row:
gemm_quant_mode for the non-expert GEMMs, moe_quant_mode for the routed experts; fp4 on a part without
fp4 tensor cores (H100/H200 rows of gpt-oss, as the corpus labels them) is MXFP4 weight-only.

The disaggregated InferenceX rows (2026-03-25 / 2026-04-06 source files) leave the worker counts, the decode
EP, attention-DP and speculative decoding blank; those found in InferenceX's benchmark matrix
(benchmarks/fidelity/tables/inferencex_layouts.csv, inferencex_layouts.py) run with its layout and MTP
draft length, the rest (no entry, or several) as before with one prefill and one decode worker (``disagg?``).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import statistics
import sys
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.serving import build_context, evaluate
from roofline.planner.serving_rules_moe import MTP_ACCEPTANCE
from roofline.precision import Precision, Unit
from roofline.workload.model import load_model
from roofline.workload.runs import hardware_name, harness_sections, precision_of
from roofline.workload.serving import ServingConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
import inferencex_layouts as ix  # noqa: E402  (a sibling script)

sys.path.remove(str(Path(__file__).resolve().parent))

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


def tensor_parallel(par: dict[str, int]) -> dict[str, int]:
    """A pool's GPUs run as one tensor-parallel group (attention and experts), whatever it records."""
    width = par["tensor"] * par["attention_data"]
    return {"tensor": width, "attention_data": 1, "expert": 1, "expert_tensor": width}


def inferencex_record(row: dict[str, str]) -> bool:
    """Rows aiconfigurator imported from InferenceX (its database dump or the 2026-… source files)."""
    source = row.get("silicon_data_source", "")
    return "db-dump/" in source or "source_file=2026-" in source


def unsquared(row: dict[str, str], par: dict[str, int]) -> dict[str, int]:
    """An InferenceX agg record of a single-node ``{tp: N, ep: N}`` point (ids ``…_tp4_ep4_…``) gives
    moe_tp = moe_ep = N and N² as tp_size (or attention_dp_size): the import multiplied tp by ep. The
    run used N GPUs — InferenceX's search space (configs/nvidia-master.yaml: ``{ tp: 4, ep: 4 }`` for
    dsr1-fp4-b200-sglang, one B200 node) launched as ``--tensor-parallel-size $TP --ep-size $EP_SIZE``
    (benchmarks/single_node/dsr1_fp4_b200.sh) — with attention over the N GPUs (tensor N, or
    attention DP N where tp_size is 1) and the experts expert-parallel over them."""
    n, gpus = par["expert"], par["tensor"] * par["attention_data"]
    if not (inferencex_record(row) and n > 1 and par["expert_tensor"] == n and gpus == n * n):
        return par
    tp, dp = (n, 1) if par["tensor"] > 1 else (1, n)
    return {"tensor": tp, "attention_data": dp, "expert": n, "expert_tensor": 1}


def concurrency(row: dict[str, str]) -> int:
    """The clients of the deployment. Disaggregated rows leave ``batch_size`` blank: their
    concurrency is only in ``silicon_data_source`` (``silicon_concurrency=N``). In attention-DP agg
    rows ``batch_size`` is per DP rank (batch_size × attention_dp_size = silicon_concurrency in every
    such row of the corpus), so the source's figure is taken there too; elsewhere ``batch_size``."""
    found = re.search(r"silicon_concurrency=(\d+)", row.get("silicon_data_source", ""))
    if found and (row["mode"] == "disagg" or _int(row, "attention_dp_size") > 1):
        return int(found.group(1))
    return _int(row, "batch_size")


def usable(found: ix.Match | None) -> ix.Entry | None:
    """The matrix entry a row runs with: matched, and its speculation fully known (an MTP entry without a
    draft length, as the dynamo-sglang configs give none, is not used)."""
    if found is None or found.status != "matched" or found.entry is None:
        return None
    return found.entry if found.entry.draft_tokens is not None else None


def stand_in(found: ix.Match | None) -> ix.Entry | None:
    """For a row the matrix does not resolve to one layout (``ambiguous``), the candidate it is planned
    with — the row stays ``disagg?``: the one on the fewest GPUs, without speculation before with it, then
    in matrix order, among those whose speculation is fully known. Better than the row's blank worker
    counts (one GPU per worker, which does not even hold the weights); still a guess, so reported apart."""
    if found is None or found.status != "ambiguous":
        return None
    known = [e for e in found.candidates if e.draft_tokens is not None]
    if not known:
        return None

    def gpus(e: ix.Entry) -> int:
        try:
            return sum(p.workers * ix.worker_gpus(p, e.system, e.backend) for p in (e.prefill, e.decode))
        except InputError:  # nodes that do not split over the workers: last
            return 10**9
    return min(known, key=lambda e: (gpus(e), e.draft_tokens or 0))


def mode_label(row: dict[str, str], found: ix.Match | None = None) -> str:
    """'agg', 'disagg', or 'disagg?' for the disaggregated rows that leave the worker counts and the
    decode batch blank (1,306 of the 1,572 for the bundled models: the 2026-03-25 and 2026-04-06
    source files) and are not found in InferenceX's matrix (``found``): they run with one prefill and
    one decode worker, a guess, so they are reported apart."""
    if row["mode"] != "disagg":
        return row["mode"]
    known = (row.get("decode_num_workers") or "").strip() or usable(found) is not None
    return "disagg" if known else "disagg?"


def decode_batch(row: dict[str, str]) -> int | None:
    """Sequences per decode worker: ``decode_batch_size`` counts per attention-DP rank (in all 264
    corpus rows that give it, decode_batch_size × decode_attention_dp_size × decode_num_workers is
    the concurrency), so a worker holds that times its DP ranks. None where the row leaves it blank."""
    per_rank = _int(row, "decode_batch_size", 0)
    return per_rank * _int(row, "decode_attention_dp_size") if per_rank else None


def redundant_experts(experts: int, ep: int) -> int:
    """The redundant expert copies an EP width that does not divide the routed experts runs with. The
    corpus records none; InferenceX's SGLang recipes for GLM-5.1 (256 routed experts, like DeepSeek-R1/V3;
    benchmarks/multi_node/srt-slurm-recipes/sglang/glm5.1/gb300-fp8/) set ``ep-num-redundant-experts``
    32 at EP 16/24/32/48 and 24 at EP 40/56: 32 where 256 + 32 divides, else the fewest copies that make
    the slots divide — the rule used here. 0 where EP divides."""
    if experts % ep == 0:
        return 0
    return 32 if (experts + 32) % ep == 0 else -experts % ep


@lru_cache(maxsize=None)
def _routed_experts(model: str) -> int:
    moe = load_model(model)[0].moe
    return moe.num_experts if moe is not None else 0


def _with_redundant(par: dict, model: str) -> dict:
    experts = _routed_experts(model)
    extra = redundant_experts(experts, par["expert"]) if experts and par.get("expert", 1) > 1 else 0
    return {**par, "redundant_experts": extra} if extra else par


def row_config(row: dict[str, str], model: str, entry: ix.Entry | None = None,
               harness: bool = True, script_mode: str = "") -> ServingConfig:
    """The row as a serving config; ``entry``: its InferenceX matrix entry, whose pools, decode batch cap
    (the recipe's batchN per rank) and MTP draft length replace the row's blanks; ``script_mode``: the launch
    script of a db-dump row's matrix entry (ix.recorded_entry): a low-latency one runs every worker
    tensor-parallel at a memory fraction of 0.95 whatever the row records (ix.low_latency). MTP acceptance: the
    DeepSeek-V3 report's 85% for the second token (MTP_ACCEPTANCE), per drafted token — InferenceX
    publishes no acceptance for DeepSeek-R1 (golden_al_distribution/ covers other models), so this is
    the planner's documented default, not a measured figure."""
    hardware = hardware_name(row["system"])
    spec, roofs = _hardware(hardware)
    data: dict[str, object] = {
        "model": model, "hardware": hardware, "precision": precision(row, (Unit.MATRIX, Precision.FP4) in roofs.compute),
        "runtime": {"engine": row["backend"]},
    }
    if row["mode"] == "disagg" and entry is not None:
        layout = {"prefill": ix.planner_pool(entry.prefill, row["system"], row["backend"],
                                             script_mode=entry.script_mode),
                  "decode": ix.planner_pool(entry.decode, row["system"], row["backend"], entry.decode_batch,
                                            entry.script_mode)}
        if ix.low_latency(entry.prefill, row["backend"], entry.script_mode):
            data["runtime"] = {**data["runtime"], **ix.LOW_LATENCY_RUNTIME}  # type: ignore[dict-item]
        gpus = sum(p["workers"] * p["tensor"] * p["attention_data"] for p in layout.values())
        dec = {k: v for k, v in layout["decode"].items() if k not in ("workers", "batch")}
        data.update(gpus=gpus, parallelism=dec, serving={"concurrency": concurrency(row), "prompt_tokens":
                    _int(row, "isl"), "output_tokens": _int(row, "osl"), "disaggregated": layout})
        if entry.draft_tokens:
            data["speculative"] = {"mtp": True, "k": entry.draft_tokens, "acceptance": MTP_ACCEPTANCE}
    elif row["mode"] == "disagg":
        pre, dec = pool(row, "prefill_"), pool(row, "decode_")
        if script_mode.endswith("low-latency") and row["backend"] == "sglang":
            pre, dec = (tensor_parallel(p) for p in (pre, dec))
            data["runtime"] = {**data["runtime"], **ix.LOW_LATENCY_RUNTIME}  # type: ignore[dict-item]
        workers = {"prefill": _int(row, "prefill_num_workers"), "decode": _int(row, "decode_num_workers")}
        layout = {"prefill": {"workers": workers["prefill"], **pre},
                  "decode": {"workers": workers["decode"], **dec, "batch": decode_batch(row)}}
        gpus = sum(workers[k] * p["tensor"] * p["attention_data"] for k, p in (("prefill", pre), ("decode", dec)))
        data.update(gpus=gpus, parallelism=dec, serving={"concurrency": concurrency(row), "prompt_tokens":
                    _int(row, "isl"), "output_tokens": _int(row, "osl"), "disaggregated": layout})
    else:
        par = unsquared(row, pool(row, ""))
        data.update(gpus=par["tensor"] * par["attention_data"], parallelism=par, serving={
            "concurrency": concurrency(row), "prompt_tokens": _int(row, "isl"), "output_tokens": _int(row, "osl")})
    data["parallelism"] = _with_redundant(data["parallelism"], model)  # type: ignore[arg-type]
    layout = data["serving"].get("disaggregated")  # type: ignore[union-attr]
    if layout:
        layout.update({name: _with_redundant(pool, model) for name, pool in layout.items()})
    if harness:  # what the row's benchmark harness fixes (roofline.workload.runs.harness_sections)
        fixed = harness_sections(row.get("silicon_data_source", ""), engine=row["backend"], model=row.get("model_path", model),
                                 isl=_int(row, "isl"), osl=_int(row, "osl"), tp=_int(row, "tp_size"))
        for section, values in fixed.items():
            data[section] = {**data.get(section, {}), **values}  # type: ignore[dict-item]
        if (interval := recv_interval(row, model)) is not None:
            data["runtime"] = {**data["runtime"], "recv_interval": interval}  # type: ignore[dict-item]
    return ServingConfig.model_validate(data)


def recv_interval(row: dict[str, str], model: str) -> int | None:
    """SGLang's --scheduler-recv-interval in InferenceX's single-node DeepSeek-R1 B200 scripts of the corpus's
    time (benchmarks/single_node/dsr1_fp4_b200.sh and dsr1_fp8_b200.sh at b4202bb6e, 2026-03-25): 30 at
    concurrency ≥ 16, else 10 (the fp8 script's TP 4 branch: 10 at any concurrency). None for other rows."""
    if not (inferencex_record(row) and row["backend"] == "sglang" and row["mode"] == "agg"
            and row["system"] == "b200_sxm" and model in ("deepseek-r1", "deepseek-v3")):
        return None
    par = unsquared(row, pool(row, ""))
    fp8_tp4 = row["gemm_quant_mode"] == "fp8" and par["tensor"] * par["attention_data"] == 4
    return 30 if concurrency(row) >= 16 and not fp8_tp4 else 10


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--split", default="validate", choices=("validate", "fit", "all"))
    ap.add_argument("--limit", type=int, default=0, help="rows per model×backend×system×mode at most (0: all)")
    ap.add_argument("--layouts", default=str(ix.TABLE),
                    help="InferenceX layout table (inferencex_layouts.py); 'none': every InferenceX row as disagg?")
    ap.add_argument("--no-harness", action="store_true",
                    help="predict the steady state, without what each row's benchmark harness fixes")
    ap.add_argument("--dump", type=Path, help="write every planned row (layout, measured, predicted) to this CSV")
    args = ap.parse_args(argv)
    if args.dump and not args.dump.parent.is_dir():
        print(f"error: --dump {args.dump}: folder {args.dump.parent} does not exist — give a path in an existing folder",
              file=sys.stderr)
        return 2
    try:
        entries = [] if args.layouts == "none" else ix.load_table(Path(args.layouts))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = [r for r in csv.DictReader(args.csv.open()) if r["model_path"] in MODELS]
    if args.split != "all":
        rows = [r for r in rows if split(r) == args.split]
    groups: dict[tuple[str, ...], list[tuple[float, float]]] = defaultdict(list)
    refused: dict[tuple[str, ...], list[str]] = defaultdict(list)
    taken: dict[tuple[str, ...], int] = defaultdict(int)
    from_matrix: dict[str, list[tuple[float, float]]] = defaultdict(list)  # by speculation
    by_pool: dict[str, list[tuple[float, float]]] = defaultdict(list)  # by engine, decode attention, speculation
    joined: Counter = Counter()
    dumped: list[dict[str, object]] = []
    for row in rows:
        model = MODELS[row["model_path"]]
        found = ix.match(row, entries) if entries else None
        if found is not None and ix.source_file(row) in ix.SOURCE_FILES and row["mode"] == "disagg":
            joined["matched, no draft length" if found.status == "matched" and usable(found) is None
                   else found.status] += 1
        key = (model, row["backend"], row["system"], mode_label(row, found))
        if args.limit and taken[key] >= args.limit:
            continue
        taken[key] += 1
        try:
            recorded = ix.recorded_entry(row, entries) if entries else None
            cfg = row_config(row, model, usable(found) or stand_in(found), harness=not args.no_harness,
                             script_mode=recorded.script_mode if recorded else "")
            spec, roofs = _hardware(cfg.hardware)
            context = build_context(cfg, load_model(model)[0], spec, roofs)
            p = evaluate(cfg, context).prediction
        except (InputError, ValueError) as exc:
            refused[key].append(str(exc).splitlines()[0][:120])
            continue
        groups[key].append((p.ttft_s * 1e3 / float(row["silicon_ttft_ms"]) - 1,
                            p.itl_s * 1e3 / float(row["silicon_tpot_ms"]) - 1))
        if args.dump:
            dumped.append({"model": model, "backend": row["backend"], "system": row["system"], "mode": key[3],
                           "gpus": cfg.gpus, "concurrency": concurrency(row), "isl": row["isl"], "osl": row["osl"],
                           "precision": row["gemm_quant_mode"], "moe_precision": row["moe_quant_mode"],
                           "layout": cfg.model_dump_json(include={"parallelism", "serving", "speculative"}),
                           "source": row.get("silicon_data_source", ""),
                           "ttft_ms": row["silicon_ttft_ms"], "ttft_pred_ms": round(p.ttft_s * 1e3, 3),
                           "tpot_ms": row["silicon_tpot_ms"], "tpot_pred_ms": round(p.itl_s * 1e3, 4)})
        if (entry := usable(found)) is not None:
            from_matrix[f"MTP {entry.draft_tokens} draft tokens" if entry.draft_tokens else "no speculation"].append(
                groups[key][-1])
            by_pool[f"{row['backend']} attention-{'DP' if entry.decode.dp_attn else 'TP'} decode, "
                    f"{'MTP' if entry.draft_tokens else 'no MTP'}"].append(groups[key][-1])
    if args.dump and not dumped:
        print(f"error: --dump {args.dump}: no row was planned, nothing written", file=sys.stderr)
        return 2
    if args.dump:
        try:
            with args.dump.open("w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(dumped[0]))
                writer.writeheader()
                writer.writerows(dumped)
        except OSError as exc:
            print(f"error: --dump {args.dump}: {exc.strerror} — give a writable path", file=sys.stderr)
            return 2
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
    if joined:
        print(f"\nInferenceX disaggregated rows against the matrix: "
              + ", ".join(f"{k} {v}" for k, v in sorted(joined.items())))
    for label, errs in sorted(from_matrix.items()):
        print(f"  planned with the matrix layout, {label}: {len(errs)} rows, TTFT "
              f"{statistics.median(abs(t) for t, _ in errs):.0%}, TPOT {statistics.median(abs(i) for _, i in errs):.0%} "
              f"median |error|, TPOT bias {statistics.median(i for _, i in errs):+.0%}")
    for label, errs in sorted(by_pool.items()):
        print(f"  matrix layout, {label}: {len(errs)} rows, TPOT {statistics.median(abs(i) for _, i in errs):.0%} "
              f"median |error|, bias {statistics.median(i for _, i in errs):+.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
