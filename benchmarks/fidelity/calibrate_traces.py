"""Held-out check of `roofline calibrate TRACE...`: fit a profile from the profiler traces of one model
shape and predict un-profiled steps of other shapes (docs/fidelity.md, "Calibrated from traces").

    python benchmarks/fidelity/calibrate_traces.py [--json OUT]

Fit split: the six `llama-1b-shape` traces of tests/data/h200/calibrate/ (prefill, eager and CUDA-graph
decode). Validate split, never seen by the fit:
  A. the same machine, other shape: the three `llama-3b-shape` steps timed un-profiled right before
     their traces were taken (tests/data/h200/calibrate/unprofiled.json), with the whole profile;
  B. another H200 machine (2026-11-21), other shapes: every `llama-3-8b` and `llama-3b-shape` step of
     results/h200_measured.json and results/h200_heldout.json, with the kernel constants only — the host
     constants describe the host that ran the traces (~15 µs per eager kernel there, ~10 µs here);
  C. a third machine of the pool (2026-12-02, measure_h200.py right after a second capture whose host
     proved noisy): the same 20 steps, results/h200_heldout_2026-12-02.json, kernel constants only.
Each prediction is compare.py's (roofline's HF step model on h200-sxm) with the fitted efficiencies, next
to the same prediction with the bundled huggingface profile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from roofline.app.calibrate_trace import calibrate_traces
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import load_engine_profile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare import predicted  # noqa: E402

DATA = HERE.parents[1] / "tests" / "data" / "h200" / "calibrate"
SHAPES = {  # measure_h200.MODELS (that module imports torch)
    "llama-1b-shape": (2048, 16, 16, 8, 5632, 32000),
    "llama-3-8b": (4096, 32, 32, 8, 14336, 128256),
    "llama-3b-shape": (3072, 28, 24, 8, 8192, 128256),
}
HOST_KEYS = ("host_s_per_kernel", "graph_submit_s_per_kernel", "graph_gap_s")


def with_shape(record: dict) -> dict:
    keys = ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab")
    return {**record, "shape": record.get("shape") or dict(zip(keys, SHAPES[record["model"]]))}


def rows(records: list[dict], roofs, fitted: Efficiency, base: Efficiency, split: str) -> list[dict]:
    out = []
    for r in map(with_shape, records):
        after, before = predicted(r, roofs, fitted), predicted(r, roofs, base)
        out.append({"split": split, **{k: r[k] for k in ("model", "phase", "mode", "batch", "tokens", "measured_s")},
                    "predicted_s": after, "error": after / r["measured_s"] - 1,
                    "base_s": before, "base_error": before / r["measured_s"] - 1})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    base = load_engine_profile("huggingface")
    traces = sorted(DATA.glob("hf_1b_*.json.gz"))
    fit = calibrate_traces(traces, base, load_registry(), hw="h200-sxm")
    profile = fit.calibration.profile
    roofs = roofs_from_spec(load_registry().resolve("h200-sxm"))
    defaults = Efficiency()
    base_eff, fitted = base.efficiency(defaults), profile.efficiency(defaults)
    kernels_only = profile.model_copy(update={"kernels": profile.kernels.model_copy(
        update=dict.fromkeys(HOST_KEYS))}).efficiency(defaults)
    same = [r for r in json.loads((DATA / "unprofiled.json").read_text())["records"] if r["model"] != "llama-1b-shape"]
    other = [r for name in ("h200_measured.json", "h200_heldout.json")
             for r in json.loads((HERE / "results" / name).read_text())["records"] if r["model"] != "llama-1b-shape"]
    third = json.loads((HERE / "results" / "h200_heldout_2026-12-02.json").read_text())["records"]
    table = (rows(same, roofs, fitted, base_eff, "A same machine") + rows(other, roofs, kernels_only, base_eff,
                                                                            "B other machine")
             + rows(third, roofs, kernels_only, base_eff, "C third machine"))
    print("fitted on", ", ".join(t.name for t in traces))
    for c in fit.calibration.constants:
        print(f"  {c.key:36s} {c.value:.4g} (default {c.default:.4g}) from {c.kernels} kernels")
    print("| split | model | phase | mode | batch | tokens | measured | calibrated | error | bundled profile | error |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r['split']} | {r['model']} | {r['phase']} | {r['mode']} | {r['batch']} | {r['tokens']} | "
              f"{r['measured_s'] * 1e3:.2f} ms | {r['predicted_s'] * 1e3:.2f} ms | {r['error']:+.0%} | "
              f"{r['base_s'] * 1e3:.2f} ms | {r['base_error']:+.0%} |")
    summary = {}
    for split in ("A same machine", "B other machine", "C third machine"):
        for group, keep in (("prefill", lambda r: r["phase"] == "prefill"),
                            ("decode, eager", lambda r: r["phase"] == "decode" and r["mode"] == "eager"),
                            ("decode, CUDA graph", lambda r: r["mode"] == "cudagraph")):
            members = [r for r in table if r["split"] == split and keep(r)]
            if members:
                summary[f"{split}: {group}"] = (statistics.median(abs(r["error"]) for r in members),
                                                statistics.median(abs(r["base_error"]) for r in members), len(members))
    print("\n| split: group | rows | calibrated | bundled profile |\n|---|---:|---:|---:|")
    for name, (after, before, n) in summary.items():
        print(f"| {name} | {n} | {after:.0%} | {before:.0%} |")
    if args.json:
        args.json.write_text(json.dumps({"fit": [t.name for t in traces], "rows": table, "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
