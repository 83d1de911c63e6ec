"""How far ``roofline classify`` is from the issue-14 targets on traces nobody here tuned it on.

Runs the classify path in-process (``classify_loaded``, from ``roofline.app.classify`` where the
application package exists, else ``roofline.cli.classify``) on every trace of the public corpus
(``tests/data/external/``, figures in its ``expected.json``) and on the H200 captures
(``tests/data/h200/training/`` and ``tests/data/h200/captured/``, whose independent figures are
computed here by the same self-contained script, ``tests/data/external/independent_figures.py``).

Per trace it prints:

* ``busy``: roofline's GPU busy share of its span, the independent interval union's share of the
  same kind of span, and the difference in points (target: within 1 point);
* ``bound``: the share of kernel time with a bound, i.e. any class but ``unknown`` (compute,
  memory, communication, launch, and the latency-bound / under-occupied class) (target: >= 90%);
* the verdict and its share, roofline's launch-wait share;
* ``device``: what ``--hw auto`` picked, or why it failed (target: every named device detected).
  Where auto fails and the trace's device has a spec under another name, the figures are computed
  with that spec (``FALLBACK_HW``, marked ``->``) so the other columns still say something; where
  it has none, only GPU busy is shown (computed with any spec: the timeline uses no roofs);
* a trace with a ``capture_traces/`` folder beside it (a graph replay and the profile of its
  capture) is classified with ``graph_capture=`` that folder, as ``classify --graph-capture``;
* a trace whose model its own facts identify (``MODELS``) is classified with ``model=`` that
  model, as ``classify --model`` (``--no-models`` gives the figures without it);
* errors: the one-line message of an input error (what a user sees with exit 2), or the exception
  of a crash (a bug).

    PYTHONPATH=src python benchmarks/bench_corpus.py                 # the table
    PYTHONPATH=src python benchmarks/bench_corpus.py --markdown      # the table for docs/corpus.md
    PYTHONPATH=src python benchmarks/bench_corpus.py --json out.json --only hta/,training/

docs/corpus.md records the figures of the day it was written as the baseline.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.sources import read_input

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = ROOT / "tests" / "data" / "external"
CAPTURE_DIRS = [ROOT / "tests" / "data" / "h200" / "training", ROOT / "tests" / "data" / "h200" / "captured",
                ROOT / "tests" / "data" / "h200" / "captured" / "graph_pair"]
ANY_SPEC = "h100-sxm"  # for the busy figure of a trace whose device has no spec (busy uses no roofs)
UNBOUND = "unknown"  # every other class (compute, memory, communication, launch, latency) is a bound

# The registry spec to use when --hw auto fails, by the trace's device name (or, for traces whose
# name is empty, by file). The bench's own choice, only so the other columns have figures:
#   A100-PG509-200 is the 40 GB SXM4 board of HGX A100 systems; the V100 spec is the SXM2 one
#   (the 16 GB part has the same rates); the empty-named ROCm traces report gfx 9.4 with 304 CUs
#   and 192 GB (MI300X) in deviceProperties; the H100 traces name 'NVIDIA H100 80GB HBM3' (SXM5).
FALLBACK_HW = {
    "NVIDIA A100-PG509-200": "a100-sxm4-40gb",
    "Tesla V100-SXM2-16GB": "v100-sxm2",
    "Tesla V100-SXM2-32GB": "v100-sxm2",
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "AMD Instinct MI300X VF": "mi300x",
    "": "mi300x",
}

# The model of a serving trace, where the trace's own facts identify it (docs/op-costs.md):
#   tracelens/b200: vLLM on 8 B200s; vllm::moe_forward's router_logits are [T, 128] (128 experts),
#   the all-reduce after attention carries [T, 2880] (hidden size 2880, padded to 3072 for the
#   MXFP4 MoE), 36 moe_forward and 36 attention calls per step (36 layers), attention's query
#   [T, 8, 64] and key [T, 1, 64] on one of 8 GPUs (64 query and 8 KV heads of dim 64), MXFP4
#   expert kernels (bmm_…MxE2m1…): gpt-oss-120b's config.json says each of these.
#   tracelens/inference/vllm_*: vLLM on one GPU (world size 1); their capture profiles record
#   moe_forward's router_logits [T, 32] (32 experts), 24 moe_forward and 24 attention calls
#   (24 layers), hidden states [T, 2880] (padded to 3072 for the MoE), query [T, 64, 64] and key
#   [T, 8, 64] (64 query and 8 KV heads of dim 64), the 5120-wide qkv projection (64+2·8 heads ×
#   64): gpt-oss-20b's config.json.
MODELS = {
    "tracelens/b200/eager_trace.json.gz": "gpt-oss-120b",
    "tracelens/inference/vllm_decode_full/graph_execution.json.gz": "gpt-oss-20b",
    "tracelens/inference/vllm_prefilldecode_piecewise/graph_execution.json.gz": "gpt-oss-20b",
}


def classify_loaded_fn():
    for module in ("roofline.app.classify", "roofline.cli.classify"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, "classify_loaded"):
            return mod.classify_loaded, module
    raise SystemExit("no classify_loaded in roofline.app.classify or roofline.cli.classify")


def independent_module():
    spec = importlib.util.spec_from_file_location("independent_figures", EXTERNAL / "independent_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def corpus(only: list[str]) -> list[tuple[str, Path, dict | None]]:
    expected = json.loads((EXTERNAL / "expected.json").read_text())["traces"]
    items = [(name, EXTERNAL / name, row) for name, row in expected.items()]
    for folder in CAPTURE_DIRS:
        for path in sorted(folder.glob("*.json.gz")):
            items.append((f"{folder.name}/{path.name}", path, None))
    return [item for item in items if not only or any(o in item[0] for o in only)]


def one_trace(name: str, path: Path, expected: dict | None, classify, registry, figures,
              use_models: bool = True) -> dict:
    row: dict = {"trace": name}
    if expected is None:
        expected = figures(str(path))
    row.update(kind=expected["kind"], union_share=expected.get("busy_share"),
               names=expected.get("active_device_names") or expected.get("device_names") or [])
    t0 = time.perf_counter()
    try:
        loaded = read_input(path)
    except InputError as exc:
        row.update(error=exc.one_line(), exit=2, seconds=time.perf_counter() - t0)
        return row
    except Exception as exc:  # noqa: BLE001  (a crash is what the bench is for: record it)
        row.update(crash=_crash(exc), where=_where(exc), seconds=time.perf_counter() - t0)
        return row
    # A graph replay with its capture profile beside it (TraceLens's capture_traces/) is
    # classified as a user would: with --graph-capture.
    capture = path.parent / "capture_traces"
    extra = {"graph_capture": capture} if capture.is_dir() else {}
    if use_models and name in MODELS:
        from roofline.app.model_context import model_layer

        extra["model"] = model_layer(MODELS[name])
        row["model"] = MODELS[name]
    try:
        result = classify(loaded, registry, "auto", None, **extra)
        row["device"] = result.hardware.name
    except InputError as exc:
        row.update(error=exc.one_line(), exit=2)
        if expected["kind"] != "gpu":
            row["seconds"] = time.perf_counter() - t0
            return row
        names = row["names"]
        fallback = FALLBACK_HW.get(names[0]) if len(names) == 1 else None
        busy_only = fallback is None  # no spec for this device: the timeline does not use the roofs
        fallback = fallback or ANY_SPEC
        row["device"] = f"-> {fallback}" + (" (busy only)" if busy_only else "")
        try:
            result = classify(loaded, registry, fallback, None, **extra)
        except InputError as exc2:
            row.update(error=exc2.one_line(), seconds=time.perf_counter() - t0)
            return row
        except Exception as exc2:  # noqa: BLE001
            row.update(crash=_crash(exc2), where=_where(exc2))
            row["seconds"] = time.perf_counter() - t0
            return row
    except Exception as exc:  # noqa: BLE001
        row.update(crash=_crash(exc), where=_where(exc), seconds=time.perf_counter() - t0)
        return row
    row["seconds"] = time.perf_counter() - t0
    s = result.summary
    times = s.time_by_bound.model_dump()
    total = sum(times.values())
    with_dims, cpu_ops = loaded.extra.get("ops_with_shapes", (0, 0))
    kernel_s = sum(k.total_s for k in result.kernels)
    linked_s = sum(k.total_s for k in result.kernels if k.op)
    row.update(
        # Recorded with shapes (the target population): most ops carry Input Dims and most
        # kernel time is linked to an op (not a kernels-only trace, not a graph replay without its capture).
        with_shapes=bool(cpu_ops) and with_dims >= 0.5 * cpu_ops and kernel_s > 0 and linked_s >= 0.5 * kernel_s,
        ops_with_dims_share=with_dims / cpu_ops if cpu_ops else 0.0,
        op_linked_share=linked_s / kernel_s if kernel_s else 0.0,
        busy_share=s.gpu_busy_s / s.span_s if s.span_s else None,
        bound_share=(total - times.get(UNBOUND, 0.0)) / total if total else None,
        by_bound={k: v / total for k, v in times.items()} if total else {},
        verdict=s.verdict,
        verdict_share=s.verdict_share,
        launch_wait_share=s.launch_wait_s / s.span_s if s.span_s else None,
        kernel_groups=len(result.kernels),
        warnings=len(result.warnings),
    )
    if row["device"].endswith("(busy only)"):
        for key in ("bound_share", "by_bound", "verdict", "verdict_share", "launch_wait_share"):
            row.pop(key)
    if row["busy_share"] is not None and row["union_share"] is not None:
        row["busy_pts"] = 100 * (row["busy_share"] - row["union_share"])
    return row


def _crash(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _where(exc: BaseException) -> str:
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def cells(row: dict) -> list[str]:
    pts = row.get("busy_pts")
    problem = row.get("crash") and f"CRASH {row['crash']} ({row['where']})" or short_error(row)
    return [
        row["trace"] + (f" (--model {row['model']})" if row.get("model") else ""),
        row["kind"],
        _pct(row.get("busy_share")),
        _pct(row.get("union_share")),
        "—" if pts is None else f"{pts:+.1f}",
        _pct(row.get("bound_share")),
        f"{row['verdict']} ({_pct(row.get('verdict_share'))})" if row.get("verdict") else "—",
        _pct(row.get("launch_wait_share")),
        row.get("device", "—"),
        problem.replace("|", "\\|"),
    ]


def short_error(row: dict) -> str:
    """The one-line message without the trace's path in front and its fix after the dash."""
    text = row.get("error", "")
    text = text.split(": ", 1)[1] if text.startswith("/") and ": " in text else text
    return text.split(" — ")[0][:110]


HEADER = ["trace", "kind", "busy", "union", "Δ pts", "bound", "verdict", "launch wait", "device", "error"]


def targets(rows: list[dict]) -> list[str]:
    gpu = [r for r in rows if r["kind"] == "gpu"]
    busy_ok = [r for r in gpu if r.get("busy_pts") is not None and abs(r["busy_pts"]) <= 1.0]
    costed = [r for r in gpu if r.get("bound_share") is not None]
    bound_ok = [r for r in costed if r["bound_share"] >= 0.9]
    shaped = [r for r in costed if r.get("with_shapes")]
    shaped_ok = [r for r in shaped if r["bound_share"] >= 0.9]
    unshaped = sorted(r["trace"] for r in costed if not r.get("with_shapes"))
    named = [r for r in gpu if any(r["names"])]
    detected = [r for r in named if r.get("device") and not str(r["device"]).startswith("->")]
    crashes = [r for r in rows if r.get("crash")]
    non_gpu = [r for r in rows if r["kind"] != "gpu"]
    non_gpu_ok = [r for r in non_gpu if r.get("exit") == 2]
    return [
        f"GPU busy within 1 point of the interval union: {len(busy_ok)} of {len(gpu)} GPU traces",
        f">= 90% of kernel time with a bound: {len(bound_ok)} of {len(costed)} GPU traces with a spec",
        f"  of those recorded with shapes (most ops carry Input Dims, most kernel time linked to an op): "
        f"{len(shaped_ok)} of {len(shaped)}; not recorded with shapes: {', '.join(unshaped) or 'none'}",
        f"device detected by --hw auto: {len(detected)} of {len(named)} traces that name one",
        f"non-GPU traces refused with exit 2: {len(non_gpu_ok)} of {len(non_gpu)}",
        f"crashes (tracebacks): {len(crashes)}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated substrings of trace names")
    parser.add_argument("--json", type=Path, help="also write every row here")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--no-models", action="store_true", help="classify without the MODELS table (no --model)")
    args = parser.parse_args(argv)
    classify, module = classify_loaded_fn()
    registry = load_registry()
    figures = independent_module().figures
    rows = []
    for name, path, expected in corpus([o for o in args.only.split(",") if o]):
        rows.append(one_trace(name, path, expected, classify, registry, figures,
                              use_models=not args.no_models))
        if not args.markdown:
            print("  ".join(cells(rows[-1])), flush=True)
    if args.markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for row in rows:
            print("| " + " | ".join(cells(row)) + " |")
    print(f"\n(classify_loaded from {module}; {sum(r.get('seconds', 0) for r in rows):.1f} s in all)")
    for line in targets(rows):
        print(("* " if args.markdown else "") + line)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
