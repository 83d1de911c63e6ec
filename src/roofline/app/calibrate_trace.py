"""``roofline calibrate TRACE.json.gz ...``: classify each profiler trace and fit an engine profile
to what its kernels and steps achieved (the fitting is roofline.planner.calibrate_trace)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from roofline.app.classify import analyse_path
from roofline.errors import InputError
from roofline.hardware.registry import Registry
from roofline.planner.calibrate_trace import (
    MIN_KERNELS,
    HeldOut,
    TraceCalibration,
    TraceFacts,
    fit_trace_profile,
    leave_one_out,
    trace_facts,
)
from roofline.sources.base import head_bytes
from roofline.workload.efficiency import Efficiency
from roofline.workload.engine_profile import EngineProfile, load_engine_profile, load_profile_file

TRACE_SUFFIXES = (".json", ".json.gz")


def base_profile(ref: str) -> EngineProfile:
    """``--base``: a profile YAML, or a bundled engine's name."""
    if ref.lower().endswith((".yaml", ".yml")):
        return load_profile_file(Path(ref))
    return load_engine_profile(ref.lower())


def input_kind(path: Path) -> str:
    """'trace' (kineto JSON, plain or gzipped) or 'csv' (measured runs), from the name, else the content."""
    name = path.name.lower()
    if name.endswith(TRACE_SUFFIXES):
        return "trace"
    if name.endswith(".csv"):
        return "csv"
    try:
        head = head_bytes(path, 256).lstrip()
    except (OSError, InputError):
        return "csv"
    return "trace" if head[:1] in (b"{", b"[") else "csv"


def split_inputs(paths: list[Path]) -> tuple[str, list[Path]]:
    """('csv', [one CSV]) or ('trace', [traces]); a mix, or several CSVs, is a usage error."""
    if not paths:
        raise InputError("no input given", fix="roofline calibrate RUNS.csv -o P.yaml, or TRACE.json.gz ... -o P.yaml")
    kinds = {p: input_kind(p) for p in paths}
    traces = [p for p in paths if kinds[p] == "trace"]
    csvs = [p for p in paths if kinds[p] == "csv"]
    if traces and csvs:
        raise InputError(f"mixes a CSV of measured runs with {len(traces)} profiler trace(s)", file=csvs[0],
                         fix="calibrate from the CSV or from the traces, in two runs")
    if len(csvs) > 1:
        raise InputError("more than one CSV of measured runs", file=csvs[1], fix="concatenate the CSVs into one file")
    return ("trace", traces) if traces else ("csv", csvs)


@dataclass
class TraceFit:
    calibration: TraceCalibration
    facts: list[TraceFacts]
    held_out: list[HeldOut] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    hardware: str = ""


def read_trace_facts(path: Path, registry: Registry, hw: str, ceilings: str | None) -> tuple[TraceFacts, str]:
    """Classify one trace; a trace without GPU kernels or steps is a one-line error naming the fix."""
    analysed = analyse_path(path, registry, hw, ceilings)
    result = analysed[0].result
    if analysed[0].events is None:
        raise InputError(f"is a {result.source_format} input, not a profiler trace", file=path,
                         fix="give kineto traces (torch.profiler export_chrome_trace) of your prefill and decode steps")
    kernels = [k for k in result.kernels if k.kind == "kernel"]
    if not kernels:
        raise InputError("has no GPU kernels (a CPU-only trace, or CUDA activity not recorded)", file=path,
                         fix="profile with activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA] on the GPU")
    if not any(k.source != "none" for k in kernels):
        raise InputError("no kernel has FLOPs or bytes (op shapes were not recorded)", file=path,
                         fix="profile with torch.profiler.profile(record_shapes=True)")
    return trace_facts(result, path.name), result.hardware.name


def calibrate_traces(paths: list[Path], base: EngineProfile, registry: Registry, *, hw: str = "auto",
                     ceilings: str | None = None, min_kernels: int = MIN_KERNELS) -> TraceFit:
    """Fit ``base``'s kernel and launch constants to the traces; leave-one-trace-out when ≥ 2."""
    facts: list[TraceFacts] = []
    devices: dict[str, Path] = {}
    for path in paths:
        fact, device = read_trace_facts(Path(path), registry, hw, ceilings)
        facts.append(fact)
        devices.setdefault(device, Path(path))
    if len(devices) > 1:
        first, second = list(devices.items())[:2]
        raise InputError(f"ran on {second[0]}, but {first[1].name} ran on {first[0]}", file=second[1],
                         fix="calibrate one device's traces at a time (or force one with --hw)")
    names = ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    defaults = Efficiency()
    calibration = fit_trace_profile(facts, base, defaults, min_kernels=min_kernels, source=names)
    held = leave_one_out(facts, base, defaults, min_kernels=min_kernels) if len(facts) >= 2 else []
    warnings = [f"{key} not fitted — {why}; kept the default" for key, why in calibration.kept.items()]
    if not calibration.constants:
        warnings.append("no constant fitted: the profile written is its base (give traces of whole prefill and "
                        "decode steps, recorded with record_shapes=True and ProfilerStep markers)")
    return TraceFit(calibration, facts, held, warnings, next(iter(devices)))
