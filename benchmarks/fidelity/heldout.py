"""`roofline plan` against published serving measurements from other sources: a held-out set.

    python benchmarks/fidelity/heldout.py [--table amd|trtllm|all] [--no-vendor] [--json OUT] [--markdown]

Tables (benchmarks/fidelity/tables/, each row with its source commit; the CSV headers say how each
figure was measured and read):

* ``amd_vllm_mi300x.csv`` — AMD's vLLM figures on 8x MI300X (github.com/ROCm/vllm docs/dev-docker/README.md,
  releases 0.8.5 / 0.9.1 / 0.10.0): ``latency`` = benchmark_latency.py, one batch of B prompts decoded
  together (planned ``serving.mode: static``; predicted end-to-end = TTFT + (OSL - 1) x ITL);
  ``throughput`` = benchmark_throughput.py, num_prompts requests queued at once into an engine capped at
  max_num_seqs with a 131,072-token budget (planned ``continuous``, concurrency = num_prompts, the
  profile's ``max_running``/``token_budget``/``memory_fraction`` set to the run's flags).
* ``trtllm_perf_overview.csv`` — TensorRT-LLM 1.0's trtllm-bench throughput on H100/H200/B200/GB200
  (NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md): offline, every request queued at once
  (planned ``continuous``, concurrency = the document's request count, bundled ``trtllm`` profile).

Every row is planned in-process with ``runtime.frontend: offline`` (both harnesses are in-process: no
HTTP front end). Nothing here is fitted on these rows except the ``vendors.amd`` overrides, fitted by
``--fit-amd`` on the Llama-3.1-70B rows of the AMD table only (the 405B rows are reported held out);
``--no-vendor`` plans the AMD rows without those overrides (NVIDIA-fitted constants as they are).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import _hardware, _model  # noqa: E402  (the corpus benchmark's cached loaders)
from published import read_table, summarise, summary_lines  # noqa: E402

from roofline.errors import InputError  # noqa: E402
from roofline.planner.serving import build_context, evaluate  # noqa: E402
from roofline.workload.engine_profile import EngineProfile, load_engine_profile  # noqa: E402
from roofline.workload.serving import ServingConfig  # noqa: E402

TABLES = {
    "amd": (HERE / "tables" / "amd_vllm_mi300x.csv", "vllm"),
    "trtllm": (HERE / "tables" / "trtllm_perf_overview.csv", "trtllm"),
    "nim": (HERE / "tables" / "nim_llama33_70b_h100.csv", "trtllm"),
}
INTS = ("tp", "batch", "isl", "osl", "num_prompts", "max_num_seqs", "token_budget", "concurrency")
# The AMD rows the vendors.amd overrides are fitted on; the rest of the AMD table is reported held out.
AMD_FIT_MODEL = "llama-3.1-70b"


def read_rows(table: str) -> list[dict]:
    path, engine = TABLES[table]
    rows = read_table(path, ints=INTS, floats=("value", "memory_fraction"))
    for row in rows:
        row["engine"] = engine
        fit = table == "amd" and row["model"] == AMD_FIT_MODEL
        row["split"] = "fit" if fit else "validate"
    return rows


def row_config(row: dict) -> ServingConfig:
    static = row["table"] == "latency"
    serving: dict[str, object] = {"mode": "static" if static else "continuous", "prompt_tokens": row["isl"],
                                  "output_tokens": row["osl"]}
    if static:
        serving["batch"] = row["batch"]
    else:  # offline benchmarks queue every request at once; a served closed loop has `concurrency` clients
        serving["concurrency"] = row.get("concurrency") or row["num_prompts"]
    served = row["table"] == "serving"  # through an HTTP front end: the profile's per-request cost applies
    precision: dict[str, object] = {"weights": row["weights"], "activations": row["activations"],
                                    "kv_cache": row["kv_cache"]}
    if row["weights"] == "fp4":
        precision["weight_group_size"] = 16  # NVFP4: an e4m3 scale per 16 weights
    return ServingConfig.model_validate({
        "model": row["model"], "hardware": row["hardware"], "gpus": row["tp"],
        "parallelism": {"tensor": row["tp"]},
        "precision": precision, "serving": serving,
        "runtime": {"engine": row["engine"], "frontend": "server" if served else "offline"}})


def row_profile(row: dict, base: EngineProfile, vendor: bool = True) -> EngineProfile:
    """The engine profile as the row's run set it: the scheduler flags the source gives replace the
    profile's defaults (they are the run's settings, not fitted constants)."""
    updates = {k: row[src] for k, src in (("token_budget", "token_budget"), ("max_running", "max_num_seqs"),
                                          ("memory_fraction", "memory_fraction")) if row.get(src) is not None}
    profile = base
    if updates:
        profile = base.model_copy(update={"scheduler": base.scheduler.model_copy(update=updates)})
    return profile if vendor else profile.model_copy(update={"vendors": {}})


def predict(row: dict, base: EngineProfile | None = None, vendor: bool = True) -> dict:
    """The planner's figure for the row, in the row's unit: end-to-end seconds of a latency row,
    output tokens/s of the replica for a throughput row."""
    try:
        cfg = row_config(row)
        spec, roofs = _hardware(cfg.hardware)
        profile = row_profile(row, base or load_engine_profile(row["engine"]), vendor)
        p = evaluate(cfg, build_context(cfg, _model(cfg.model), spec, roofs, profile=profile)).prediction
    except InputError as exc:
        return {"refused": exc.message}
    out = {"ttft_ms": p.ttft_s * 1e3, "itl_ms": p.itl_s * 1e3, "running": p.running}
    if row["table"] == "latency":
        out["predicted"] = p.ttft_s + (row["osl"] - 1) * p.itl_s
    elif row.get("metric") in ("ttft_ms", "itl_ms"):
        out["predicted"] = out[row["metric"]]
    else:
        out["predicted"] = p.throughput_tok_s
    return out


def plan_rows(rows: list[dict], base: EngineProfile | None = None, vendor: bool = True) -> list[dict]:
    for row in rows:
        for key in ("predicted", "error", "refused", "ttft_ms", "itl_ms", "running"):
            row.pop(key, None)
        row.update(predict(row, base, vendor))
        if "predicted" in row:
            row["error"] = row["predicted"] / row["value"] - 1
    return rows


def group_keys(row: dict) -> list[str]:
    source = f"{row['source']} {row['table']}" + (f" {row['metric']}" if row.get("metric") else "")
    vendor = _hardware(row["hardware"])[0].vendor
    metric = f" {row['metric']}" if row.get("metric") else ""
    keys = [f"{source} all", f"{source} {row['split']}",
            f"vendor {vendor} engine {row['engine']} {row['table']}{metric}"]
    if row["source"].startswith("rocm"):
        keys.append(f"{source} {row['release']} {row['model']}")
    elif row["source"].startswith("nim"):
        keys.append(f"{source} concurrency {'<= 50' if row['concurrency'] <= 50 else '> 50 (queued)'}")
    else:
        keys.append(f"{source} {row['hardware']} {row['model']}")
    return keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", choices=(*TABLES, "all"), default="all")
    ap.add_argument("--no-vendor", action="store_true",
                    help="plan AMD rows without the profile's vendors.amd")
    ap.add_argument("--json", type=Path, help="write every row and the summary here")
    ap.add_argument("--markdown", action="store_true", help="print the rows as a Markdown table")
    args = ap.parse_args(argv)
    rows = [r for t in (tuple(TABLES) if args.table == "all" else (args.table,)) for r in read_rows(t)]
    plan_rows(rows, vendor=not args.no_vendor)
    head = ["source", "release", "table", "hardware", "model", "tp", "batch/prompts/clients", "isl", "osl",
            "measured", "predicted", "error", "split"]
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        fmt = "{:,.2f}" if r["table"] == "latency" or r.get("metric") == "itl_ms" else "{:,.0f}"
        cells = [r["source"], r["release"], r["table"], r["hardware"], r["model"], str(r["tp"]),
                 str(r["batch"] if r["table"] == "latency" else r.get("concurrency") or r["num_prompts"]),
                 str(r["isl"]),
                 str(r["osl"]),
                 fmt.format(r["value"]), fmt.format(r["predicted"]) if "predicted" in r else "refused",
                 f"{100 * r['error']:+.0f}%" if "error" in r else r.get("refused", "")[:90], r["split"]]
        print(f"| {' | '.join(cells)} |" if args.markdown else " ".join(cells))
    summary = summarise(rows, group_keys)
    print()
    print("\n".join(summary_lines(summary)))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
