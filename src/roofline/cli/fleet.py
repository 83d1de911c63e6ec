"""``roofline classify DIR/``: every trace of a directory, classified in parallel; when the traces
say they are the ranks of one job, the fleet summary (stragglers, spread, MFU/MBU, scaling tax
against ``--reference``), else the traces side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from roofline import jsonout
from roofline.analysis.fleet import FleetResult, TraceSetResult
from roofline.app.fleet import classify_directory as run_fleet
from roofline.cli.output import emit, write_output
from roofline.errors import InputError
from roofline.report.text.fleet import fleet_markdown, fleet_renderable, trace_set_markdown, trace_set_renderable

JobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Directory of ranks: parallel workers (default: CPU cores, at most "
                 "one per trace); with --scheduler, tasks in flight. Memory is about jobs x one trace's analysis."),
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Directory of ranks: where the per-rank map runs: 'local' (process pool) or "
                 "'dask' (dask's process scheduler, or a cluster with --scheduler; needs the roofline\\[dask] "
                 "extra)."),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Directory of ranks, --backend dask: a dask.distributed scheduler address "
                 "(tcp://host:8786). Its workers read the traces at the same paths; only figures come back."),
]
OneJobOption = Annotated[
    bool,
    typer.Option("--one-job", help="Directory of ranks: treat the traces as the ranks of one job even though "
                 "their headers do not say so (ranks from distributedInfo, else file names, else file order)."),
]
ReferenceOption = Annotated[
    Path | None,
    typer.Option("--reference", help="Directory of ranks: a single-node trace of the same work, for the scaling "
                 "tax (1 - fleet MFU / reference MFU)."),
]


def classify_directory(directory: Path, *, fmt: str, output: Path | None,
                       **options: Any) -> FleetResult | TraceSetResult:
    """Classify the traces of ``directory`` (roofline.app.fleet) and render the result: the fleet of
    one job, or the set of separate traces."""
    result = run_fleet(directory, **options)
    if fmt == "json":
        write_output(jsonout.dumps(result.model_dump(mode="json"), indent=2) + "\n", output)
    elif fmt == "md":
        write_output(fleet_markdown(result) if isinstance(result, FleetResult) else trace_set_markdown(result),
                     output)
    else:
        # A file or pipe: room for the rank table.
        width = None if output is None and Console().is_terminal else 120
        emit([fleet_renderable(result) if isinstance(result, FleetResult) else trace_set_renderable(result)],
             output, width=width)
    return result


def check_directory_options(inputs: list[Path], *, annotate: Path | None, counters: Path | None,
                            plan: bool = False) -> Path | None:
    """The directory, when the input is one; usage errors for what a directory cannot take."""
    directories = [p for p in inputs if p.is_dir()]
    if not directories:
        return None
    if len(inputs) > 1:
        raise InputError("give one directory of per-rank traces, or trace files, not both", file=directories[0],
                         fix="roofline classify DIR/ (one trace per rank inside)")
    if annotate is not None or counters is not None or plan:
        raise InputError("--annotate, --counters and --plan take trace files, not a directory of ranks",
                         file=directories[0], fix="give one rank's trace file")
    return directories[0]
