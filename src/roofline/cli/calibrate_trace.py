"""``roofline calibrate TRACE.json.gz ... -o P.yaml``: the trace half of the calibrate command —
prints the fit table and the leave-one-trace-out error; the work is roofline.app.calibrate_trace."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

from rich.console import Console
from rich.table import Table

from roofline.app.calibrate_trace import base_profile, calibrate_traces
from roofline.cli.output import write_output
from roofline.planner.calibrate_trace import HOST_BOUND_SHARE, MIN_COSTED_SHARE
from roofline.hardware.registry import Registry
from roofline.units import fmt_seconds
from roofline.workload.engine_profile import FitRecord, profile_yaml


def _value(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    if key.endswith("_bytes"):
        return f"{value / 1e6:.3g} MB"
    return fmt_seconds(value) if key.endswith("_s") or key.endswith("_per_kernel") else f"{value:.3g}"


def run_traces(paths: list[Path], output: Path, *, base: str, name: str | None, hw: str, ceilings: str | None,
               registry: Registry) -> None:
    start = base_profile(base)
    if name:
        start = start.model_copy(update={"name": name})
    fit = calibrate_traces(paths, start, registry, hw=hw, ceilings=ceilings)
    held = fit.held_out
    scored = [h for h in held if h.costed_share >= MIN_COSTED_SHARE]
    median = statistics.median(abs(h.error) for h in scored) if scored else None
    digest = hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in paths)).hexdigest()
    profile = fit.calibration.profile.model_copy(update={"fit": FitRecord(
        corpus=", ".join(p.name for p in paths), sha256=digest, split="traces", rows_fit=len(paths),
        rows_validate=len(scored))})
    header = (f"Engine profile '{profile.name}', written by `roofline calibrate` from {len(paths)} profiler "
              f"trace{'s' if len(paths) != 1 else ''}\n(on {fit.hardware}; sha256 {digest[:16]}…). Each fitted "
              "constant's source is under provenance;\ndocs/plan.md ('Calibration from traces') describes the "
              "derivation. Leave-one-trace-out median |error| of the GPU busy\ntime per step: "
              + (f"{median:.1%} over {len(scored)} traces." if median is not None else "not available."))
    write_output(profile_yaml(profile, header), output)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in fit.warnings:
        err.print(f"warning: {warning}")
    console = Console(highlight=False, width=140)
    traces = Table(title="traces")
    for column in ("trace", "steps", "launch", "kernels/step", "span/step", "GPU busy/step", "host-bound"):
        traces.add_column(column, justify="left" if column == "trace" else "right")
    for f in fit.facts:
        steps = f.steps
        span = sum(st.span_s for st in steps) / len(steps) if steps else None
        kernels = round(sum(st.kernels for st in steps) / len(steps)) if steps else None
        bound = sum(1 for st in steps if not st.graph and st.launch_wait_s >= HOST_BOUND_SHARE * st.span_s)
        traces.add_row(f.name, str(len(steps)), "CUDA graph" if f.graph else "eager",
                       f"{kernels:,}" if kernels is not None else "—", fmt_seconds(span) if span else "—",
                       fmt_seconds(f.busy_per_step_s), f"{bound}/{len(steps)}" if not f.graph else "—")
    console.print(traces)
    table = Table(title=f"engine profile {profile.name} from {len(paths)} trace(s) on {fit.hardware} → {output}")
    for column in ("constant", "value", "default", "from", "spread"):
        table.add_column(column, justify="left" if column == "constant" else "right")
    for c in fit.calibration.constants:
        table.add_row(c.key, _value(c.key, c.value), _value(c.key, c.default), f"{c.kernels:,} kernels",
                      f"{_value(c.key, c.spread[0])}–{_value(c.key, c.spread[1])}")
    console.print(table)
    if held:
        loo = Table(title="leave one trace out: GPU busy time per step, predicted by the profile of the other traces")
        for column in ("trace", "measured", "predicted", "error", "base profile", "costed"):
            loo.add_column(column, justify="left" if column == "trace" else "right")
        for h in held:
            scored_row = h.costed_share >= MIN_COSTED_SHARE
            loo.add_row(h.trace, fmt_seconds(h.measured_s), fmt_seconds(h.predicted_s),
                        f"{h.error:+.0%}" if scored_row else "n/a", f"{h.default_error:+.0%}" if scored_row else "n/a",
                        f"{h.costed_share:.0%}")
        console.print(loo)
        console.print(("median |error| " + (f"{median:.0%} over {len(scored)} traces" if median is not None else "n/a"))
                      + f"; costed: share of kernel time in the fitted classes (the rest enters at its measured time); "
                      f"a trace under {MIN_COSTED_SHARE:.0%} is not scored (CUDA-graph replays carry no op shapes: "
                      "classify them with --graph-capture)")
    else:
        console.print("one trace: no leave-one-trace-out error (give two or more)")
