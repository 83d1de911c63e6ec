"""Re-fit the bundled engine profiles (workloads/engines/{vllm,trtllm,sglang}.yaml) from
aiconfigurator's public corpus with `roofline calibrate`, on the 'fit' side of the split only:

    python benchmarks/fidelity/fit_profiles.py [--csv silicon_sample.csv]

Each profile starts from its own file's scheduler facts (token budget, caps, CUDA-graph sizes,
memory fraction: engine defaults, cited there) and refits every other constant, so running this
twice gives the same files. Rows: dense models (Llama-3.1-8B/70B, Qwen3-32B), aggregated serving.
Then `python benchmarks/fidelity/corpus.py` reports the 'validate' side, which no fit has seen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from typer.testing import CliRunner

from roofline.cli import app

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus import DENSE, default_csv  # noqa: E402

ENGINES = ("vllm", "trtllm", "sglang")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=default_csv())
    args = parser.parse_args()
    if args.csv is None:
        print("fit_profiles.py: give --csv PATH to aiconfigurator's silicon_sample.csv", file=sys.stderr)
        return 2
    engines_dir = HERE.parent.parent / "workloads" / "engines"
    for engine in ENGINES:
        target = engines_dir / f"{engine}.yaml"
        fresh = target.with_suffix(".new.yaml")  # roofline never overwrites an input: write beside, then replace
        result = CliRunner().invoke(app, ["calibrate", str(args.csv), "--engine", engine, "--base", str(target),
                                          "--model", ",".join(DENSE), "--split", "fit", "-o", str(fresh)])
        print(result.output)
        if result.exit_code:
            fresh.unlink(missing_ok=True)
            return result.exit_code
        fresh.replace(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
