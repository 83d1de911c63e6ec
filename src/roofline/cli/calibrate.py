"""``roofline calibrate MEASUREMENTS.csv -o my-engine.yaml`` — fit an engine profile to measured
runs (docs/plan.md, "Calibration"); the fitting is roofline.planner.calibrate."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from roofline.app.calibrate_trace import split_inputs
from roofline.cli.calibrate_trace import run_traces
from roofline.cli.common import HwDirOption, HwFileOption, handle_errors, registry_from_options
from roofline.cli.output import write_output
from roofline.errors import InputError
from roofline.hardware.spec import roofs_from_spec
from roofline.planner.calibrate import HOST
from roofline.planner.calibrate import calibrate as fit_profile
from roofline.planner.calibrate import gemm_ceilings, median_errors
from roofline.planner.serving import build_context
from roofline.planner.serving_runs import predict_runs
from roofline.workload.engine_profile import (
    EngineProfile,
    load_engine_profile,
    load_profile_file,
    profile_yaml,
    version_matches,
)
from roofline.workload.model import load_model
from roofline.workload.runs import bundled_name, split_of
from roofline.workload.runs_csv import read_runs_csv


@handle_errors
def calibrate(
    inputs: Annotated[list[Path], typer.Argument(help="CSV of measured runs: model, hardware, tp, isl, osl, "
                                                 "concurrency, ttft_ms, tpot_ms (+ engine, precision, …), or "
                                                 "aiconfigurator's silicon_sample.csv as-is; or one or more "
                                                 "PyTorch profiler traces (.json/.json.gz) of your own prefill "
                                                 "and decode steps.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The profile YAML to write.")],
    engine: Annotated[str | None, typer.Option("--engine", help="Only rows of this engine (the CSV's engine/backend "
                                               "column).")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Start from this bundled engine or profile YAML (its "
                                             "token budget, caps, graphs); default: --engine's, else generic.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="The profile's name (default: the base's).")] = None,
    models: Annotated[str | None, typer.Option("--model", help="Only these models, comma-separated bundled names.")] = None,
    split: Annotated[str, typer.Option("--split", help="Fit on 'all' rows, or on the 'fit' side of the deterministic "
                                       "split and report the 'validate' side (docs/fidelity.md).")] = "all",
    engine_version: Annotated[str | None, typer.Option("--engine-version", help="Only rows of this engine version "
                                                       "(a prefix: 0.5.1 takes 0.5.1.post1).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=0, help="Cross-validation folds (whole sweeps).")] = 5,
    hw: Annotated[str, typer.Option("--hw", help="Traces: the device they ran on (default: read from the "
                                    "trace).")] = "auto",
    ceilings: Annotated[str | None, typer.Option("--ceilings", help="Traces: judge kernels against measured "
                                                 "ceilings ('measured' or a YAML) instead of the datasheet.")] = None,
    hold: Annotated[str | None, typer.Option("--hold", help="Host constants to leave at 0 rather than fit, "
                                             "comma-separated (e.g. per_request_layer_s).")] = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Fit an engine profile to measured runs (host time per iteration and sequence, per-request cost,
    queueing, kernel efficiencies, all-reduce latency; cross-validated), or to profiler traces
    (kernel efficiencies per op class and precision, host time per kernel, CUDA-graph gaps;
    leave-one-trace-out error)."""
    kind, paths = split_inputs(inputs)
    if kind == "trace":
        for option, given in (("--engine-version", engine_version), ("--model", models),
                              ("--split", None if split == "all" else split), ("--hold", hold)):
            if given is not None:
                raise InputError(f"{option} applies to a CSV of measured runs, not to traces", place=option,
                                 fix=f"drop {option}")
        run_traces(paths, output, base=base or engine or "generic", name=name, hw=hw, ceilings=ceilings,
                   registry=registry_from_options(hw_file, hw_dir))
        return
    measurements = paths[0]
    if split not in ("all", "fit"):
        raise InputError(f"unknown split '{split}'", place="--split", fix="all or fit")
    runs = read_runs_csv(measurements).runs
    if engine:
        runs = [r for r in runs if r.engine == engine.lower()]
    if engine_version:
        runs = [r for r in runs if r.engine_version and version_matches(engine_version, r.engine_version)]
    if models:
        wanted = {m.strip().lower() for m in models.split(",") if m.strip()}
        runs = [r for r in runs if bundled_name(r.model) in wanted]
    validate_rows = [r for r in runs if split_of(r) == "validate"] if split == "fit" else []
    if split == "fit":
        runs = [r for r in runs if split_of(r) == "fit"]
    if not runs:
        raise InputError("no rows to fit", file=measurements,
                         fix="check --engine/--model/--split against the CSV's engine and model columns")
    start = _base_profile(base or engine or "generic")
    if name:
        start = start.model_copy(update={"name": name})
    versions = sorted({r.engine_version for r in runs if r.engine_version})
    if engine_version:
        start = start.model_copy(update={"versions": [engine_version]})
    elif versions:
        start = start.model_copy(update={"versions": sorted({".".join(v.split(".")[:2]) for v in versions})})
    registry = registry_from_options(hw_file, hw_dir)

    @lru_cache(maxsize=None)
    def hardware(hw_name: str):
        spec = registry.resolve(hw_name)
        return spec, roofs_from_spec(spec)

    @lru_cache(maxsize=None)
    def model(model_name: str):
        return load_model(model_name)[0]

    def predict(rows, profile: EngineProfile):
        return predict_runs(rows, hardware=hardware, model=model, context_for=lambda cfg, arch, spec, roofs:
                            build_context(cfg, arch, spec, roofs, profile=profile))

    digest = hashlib.sha256(measurements.read_bytes()).hexdigest()
    source = f"{measurements.name} ({split} rows{', ' + engine if engine else ''})"
    held = frozenset(h.strip() for h in (hold or "").split(",") if h.strip())
    unknown = sorted(held - set(HOST))
    if unknown:
        raise InputError(f"unknown constant {', '.join(repr(u) for u in unknown)}", place="--hold",
                         fix=f"one of {', '.join(sorted(HOST))}")
    ceilings = gemm_ceilings(_measured_gemm(runs, registry))
    result = fit_profile(runs, start, predict, folds=folds, source=source, hold=held, ceilings=ceilings)
    if result.fit_rows == 0:
        raise InputError(f"the planner refused every row ({result.refused[0].refused})", file=measurements,
                         fix="rows need a bundled model and a registry hardware name")
    validated = median_errors(predict(validate_rows, result.profile)) if validate_rows else (None, None)
    from roofline.workload.engine_profile import FitRecord

    profile = result.profile.model_copy(update={"fit": FitRecord(
        corpus=measurements.name, sha256=digest, split=split, rows_fit=result.fit_rows, rows_validate=len(validate_rows),
        fit_ttft_error=result.fit_errors[0], fit_tpot_error=result.fit_errors[1], cv_ttft_error=result.cv_errors[0],
        cv_tpot_error=result.cv_errors[1], validate_ttft_error=validated[0], validate_tpot_error=validated[1])})
    header = (f"Engine profile '{profile.name}', written by `roofline calibrate` from {measurements.name}\n"
              f"(sha256 {digest[:16]}…, {result.fit_rows} rows fitted, split '{split}'). Each fitted constant's\n"
              "source and the error it gives are under provenance; docs/plan.md describes every key.")
    write_output(profile_yaml(profile, header), output)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for path, why in result.kept.items():
        err.print(f"warning: {path} not fitted — {why}; kept the default"
                  + (" (within its measured ceiling)" if path.startswith("kernels.gemm_compute.") else ""))
    for prec, share in sorted(ceilings.items()):
        err.print(f"note: kernels.gemm_compute.{prec} bounded by the measured GEMM ceiling, "
                  f"{share:.0%} of the datasheet (hwspecs/measured overlays of the rows' devices)")
    if result.refused:
        err.print(f"warning: {len(result.refused)} rows refused by the planner (first: {result.refused[0].refused})")
    console = Console(highlight=False, width=120)
    table = Table(title=f"engine profile {profile.name} → {output}")
    for column in ("constant", "value", "source"):
        table.add_column(column)
    for row in profile.constants():
        table.add_row(row[0], row[1], row[2][:70])
    console.print(table)
    console.print(f"fit on {result.fit_rows} rows: median |error| TTFT {_pct(result.fit_errors[0])}, "
                  f"TPOT {_pct(result.fit_errors[1])}; {folds}-fold cross-validated TTFT {_pct(result.cv_errors[0])}, "
                  f"TPOT {_pct(result.cv_errors[1])}" + (f"; validate split ({len(validate_rows)} rows) TTFT "
                                                          f"{_pct(validated[0])}, TPOT {_pct(validated[1])}"
                                                          if validate_rows else ""))


def _measured_gemm(runs, registry) -> list[tuple[str, float, float | None]]:
    """(GEMM precision, datasheet TFLOP/s, measured TFLOP/s or None) of every device the rows run on: the
    fastest of the registry's measured-ceilings overlays of each (hwspecs/measured/), the most measured."""
    out = set()
    for run in runs:
        try:
            spec = registry.resolve(run.hardware)
        except InputError:
            continue  # the planner refuses the row and says why
        peak = spec.peak_tflops.matrix.get(run.activations)
        if peak is None:
            continue
        figures = [o.peak_tflops.matrix[run.activations] for _, o in registry.overlays.get(spec.name, [])
                   if run.activations in o.peak_tflops.matrix]
        out.add((run.activations.value, peak, max(figures) if figures else None))
    return sorted(out, key=lambda t: (t[0], t[1], t[2] or 0.0))


def _base_profile(ref: str) -> EngineProfile:
    path = Path(ref)
    if path.suffix.lower() in (".yaml", ".yml"):
        return load_profile_file(path)
    return load_engine_profile(ref.lower())


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
