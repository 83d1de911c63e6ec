"""Compare `roofline plan`'s phase predictions with real H200 measurements
(benchmarks/fidelity/results/h200_measured.json, from measure_h200.py) and write the table.

    python benchmarks/fidelity/compare.py [--measured FILE] [--json OUT] [--markdown OUT]

Each measured case becomes a serving config on h200-sxm with framework: huggingface, fused (SDPA)
attention, bf16 everywhere and the case's batch and context; the prediction is the decode step
(or the prefill pass) the planner computes for it, with default efficiencies.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.workload.efficiency import Efficiency
from roofline.workload.model import ModelArch
from roofline.workload.phases import PhaseShape
from roofline.workload.predict import predict_phase
from roofline.workload.serving import ServingConfig

HERE = Path(__file__).resolve().parent


def arch_of(record: dict) -> ModelArch:
    s = record["shape"]
    return ModelArch(name=record["model"], num_layers=s["layers"], hidden_size=s["hidden"], num_heads=s["heads"],
                     num_kv_heads=s["kv_heads"], head_dim=s["hidden"] // s["heads"], intermediate_size=s["intermediate"],
                     vocab_size=s["vocab"])


def predicted(record: dict, roofs, efficiency: Efficiency) -> float:
    graphs = record["mode"] == "cudagraph"
    cfg = ServingConfig.model_validate({
        "model": record["model"], "hardware": "h200-sxm",
        "precision": {"weights": "bf16", "activations": "bf16", "kv_cache": "bf16"},
        "serving": {"batch": record["batch"], "prompt_tokens": record["tokens"], "output_tokens": 1},
        "runtime": {"cuda_graphs": graphs, "flash_attention": True, "compiled": False, "framework": "huggingface"},
    })
    if record["phase"] == "prefill":
        shape = PhaseShape("prefill", record["batch"], record["tokens"], record["tokens"])
    else:
        shape = PhaseShape("decode", record["batch"], 1, record["tokens"] + 1)
    return predict_phase(arch_of(record), cfg, shape, roofs, efficiency).time_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--measured", type=Path, default=HERE / "results" / "h200_measured.json")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "h200_fidelity.json")
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    data = json.loads(args.measured.read_text())
    roofs = roofs_from_spec(load_registry().resolve("h200-sxm"))
    efficiency = Efficiency()
    rows = []
    for record in data["records"]:
        pred = predicted(record, roofs, efficiency)
        rows.append({**{k: record[k] for k in ("model", "phase", "mode", "batch", "tokens", "measured_s")},
                     "predicted_s": pred, "error": (pred - record["measured_s"]) / record["measured_s"]})
    groups = {
        "decode, CUDA graph": [r for r in rows if r["phase"] == "decode" and r["mode"] == "cudagraph"],
        "decode, eager": [r for r in rows if r["phase"] == "decode" and r["mode"] == "eager"],
        "prefill": [r for r in rows if r["phase"] == "prefill"],
    }
    summary = {name: statistics.median(abs(r["error"]) for r in members) for name, members in groups.items() if members}
    lines = ["| model | phase | mode | batch | tokens | measured | predicted | error |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['phase']} | {r['mode']} | {r['batch']} | {r['tokens']} | "
                     f"{r['measured_s'] * 1e3:.2f} ms | {r['predicted_s'] * 1e3:.2f} ms | {r['error'] * 100:+.0f}% |")
    lines += ["", "| group | median absolute error |", "|---|---:|"]
    lines += [f"| {name} | {value * 100:.0f}% |" for name, value in summary.items()]
    table = "\n".join(lines)
    print(table)
    args.json.write_text(json.dumps({"environment": data.get("environment"), "efficiency": efficiency.model_dump(),
                                     "rows": rows, "median_abs_error": summary}, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()
