"""Measured dense-GEMM ceilings of H100/B200/GB200 from aiconfigurator's collected GEMM latencies, written
as registry overlays (hwspecs/measured/<hw>-aiconfigurator-gemm.yaml):

    python benchmarks/fidelity/gemm_ceilings.py [--data DIR] [--write]

aiconfigurator (github.com/ai-dynamo/aiconfigurator, Apache-2.0) times the GEMM kernels of TensorRT-LLM,
vLLM and SGLang on each system (``aic-core/src/aiconfigurator_core/systems/data/<system>/gemm/<engine>/
<version>/gemm_perf.parquet``: m, n, k, latency in ms per dtype). The ceiling of a precision is the
fastest of all those measurements (2·m·n·k / latency, every engine and release): the most any
measured kernel reached on that part. ``roofline calibrate`` bounds a fitted GEMM compute efficiency by
it (docs/plan.md, "Calibration"). Reading the parquet files needs pyarrow (not a roofline dependency:
the overlays are committed).
"""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

DATA = Path("/work/ext/ai-dynamo+aiconfigurator/aic-core/src/aiconfigurator_core/systems/data")
SYSTEMS = {"h100_sxm": "h100-sxm", "h200_sxm": "h200-sxm", "b200_sxm": "b200", "gb200": "gb200"}
DTYPES = {"bfloat16": "bf16", "fp8": "fp8", "fp8_static": "fp8", "fp8_block": "fp8", "nvfp4": "fp4"}


def ceilings(data: Path, system: str) -> dict[str, tuple[float, str]]:
    import pandas as pd  # noqa: PLC0415 — optional, only to regenerate the overlays

    best: dict[str, tuple[float, str]] = {}
    for path in sorted(glob.glob(str(data / system / "gemm" / "*" / "*" / "gemm_perf.parquet"))):
        df = pd.read_parquet(path)
        df["tflops"] = 2 * df.m * df.n * df.k / (df.latency * 1e-3) / 1e12
        where = "/".join(Path(path).parts[-3:-1])
        for dtype, group in df.groupby("gemm_dtype"):
            prec = DTYPES.get(str(dtype))
            if prec is None:
                continue
            row = group.loc[group.tflops.idxmax()]
            if row.tflops > best.get(prec, (0.0, ""))[0]:
                best[prec] = (float(row.tflops), f"{where} {dtype} m={row.m} n={row.n} k={row.k}")
    return best


def overlay(system: str, name: str, best: dict[str, tuple[float, str]]) -> str:
    lines = [f"# Measured dense-GEMM ceilings of {name}: the fastest GEMM of each precision in",
             f"# aiconfigurator's collected kernel timings for {system} (github.com/ai-dynamo/aiconfigurator,",
             f"# Apache-2.0: systems/data/{system}/gemm/*/*/gemm_perf.parquet, all engines and releases",
             "# there; measured_on.date is that snapshot's). Written by benchmarks/fidelity/gemm_ceilings.py;",
             "# only GEMM throughput: the rest stays the datasheet's.",
             *[f"#   {prec}: {tf:.0f} TFLOP/s ({src})" for prec, (tf, src) in sorted(best.items())],
             "schema_version: 1", "kind: ceilings", f"base: {name}", "measured_on:",
             "  date: '2026-04-23'",
             "  tool: aiconfigurator collector (gemm_perf), read by benchmarks/fidelity/gemm_ceilings.py",
             "peak_tflops:", "  matrix:",
             *[f"    {prec}: {tf:.0f}" for prec, (tf, _) in sorted(best.items())]]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--write", action="store_true",
                    help="write hwspecs/measured/<hw>-aiconfigurator-gemm.yaml")
    args = ap.parse_args()
    try:
        import pandas  # noqa: F401, PLC0415
        import pyarrow  # noqa: F401, PLC0415
    except ImportError as exc:
        print(f"gemm_ceilings.py: error: reading aiconfigurator's parquet files needs pandas and pyarrow ({exc.name} "
              "is missing) — pip install pandas pyarrow (the committed overlays need neither)", file=sys.stderr)
        return 2
    if not any(args.data.glob("*/gemm")):
        print(f"gemm_ceilings.py: error: {args.data}: no <system>/gemm/ folders — pass --data "
              "aic-core/src/aiconfigurator_core/systems/data of an aiconfigurator checkout", file=sys.stderr)
        return 2
    out = Path(__file__).resolve().parents[2] / "hwspecs" / "measured"
    for system, name in SYSTEMS.items():
        text = overlay(system, name, ceilings(args.data, system))
        print(text)
        if args.write:
            (out / f"{name}-aiconfigurator-gemm.yaml").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
