"""`roofline plan` in static mode against TensorRT-LLM's published static-batch tables.

    python benchmarks/fidelity/trtllm_static.py [--engine trtllm|generic] [--json OUT] [--markdown]

The measurements (benchmarks/fidelity/tables/trtllm_session_tables.csv, with their source) are
TensorRT-LLM 0.5.0 / 0.6.1 ``gptSessionBenchmark`` runs: B sequences of ISL prompt tokens prefilled
as one batch, then decoded together for OSL tokens, in-process (no server), on H100 SXM (fp8
weights, activations and KV cache) and A100 SXM 80GB (fp16). Each row is planned as
``serving.mode: static`` with the row's model, GPU, tensor parallelism, batch and lengths and the
bundled engine profile; nothing is fitted on these rows (a held-out set: the profiles are fitted on
aiconfigurator's corpus, docs/fidelity.md). Per row: the measured and predicted figure (output
tok/s per GPU or for the TP group, as the table gives it; first-token latency in ms) and the error;
then the median |error| per table, release and GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from published import read_table, summarise, summary_lines  # noqa: E402

import roofline  # noqa: E402
from roofline.errors import InputError  # noqa: E402

DATA = Path(__file__).resolve().parent / "tables" / "trtllm_session_tables.csv"
PRECISION = {"h100-sxm": "fp8", "a100-sxm4-80gb": "fp16"}


def read_rows(path: Path = DATA) -> list[dict]:
    return read_table(path, ints=("batch", "tp", "isl", "osl"))


def predict(row: dict, engine: str) -> dict:
    p = PRECISION[row["hardware"]]
    try:
        plan = roofline.plan(row["model"], hardware=row["hardware"], gpus=row["tp"], tensor=row["tp"],
                             batch=row["batch"], prompt_tokens=row["isl"], output_tokens=row["osl"],
                             max_context_tokens=row["isl"] + row["osl"], mode="static", engine=engine,
                             weights=p, activations=p, kv_cache=p, frontend="offline", max_steps=0)
    except InputError as exc:
        return {"refused": exc.message}
    base = plan.to_dict()["baseline"]
    if row["table"] == "first_token":
        return {"predicted": base["ttft_s"] * 1e3}
    per_gpu = row["unit"].startswith("per_gpu")
    return {"predicted": base["throughput_tok_s_per_gpu" if per_gpu else "throughput_tok_s"],
            "ttft_ms": base["ttft_s"] * 1e3, "itl_ms": base["itl_s"] * 1e3}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", default="trtllm", help="engine profile to plan with (default trtllm)")
    ap.add_argument("--json", type=Path, help="write every row and the summary here")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args(argv)
    rows = read_rows()
    for row in rows:
        row.update(predict(row, args.engine))
        if "predicted" in row:
            row["error"] = row["predicted"] / row["value"] - 1
    sep = "|" if args.markdown else " "
    head = ["release", "table", "hardware", "model", "batch", "tp", "isl", "osl", "measured", "unit", "predicted",
            "error"]
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        cells = [r["release"], r["table"], r["hardware"], r["model"], str(r["batch"]), str(r["tp"]), str(r["isl"]),
                 str(r["osl"]), f"{r['value']:,.0f}", r["unit"],
                 f"{r['predicted']:,.0f}" if "predicted" in r else "refused",
                 f"{100 * r['error']:+.0f}%" if "error" in r else r.get("refused", "")[:90]]
        print((f"| {' | '.join(cells)} |") if args.markdown else sep.join(cells))
    summary = summarise(rows, lambda r: (f"{r['table']} all", f"{r['table']} {r['release']} {r['hardware']}"))
    print()
    print("\n".join(summary_lines(summary)))
    if args.json:
        args.json.write_text(json.dumps({"engine": args.engine, "rows": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
