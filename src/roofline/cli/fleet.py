"""``roofline classify DIR/``: every per-rank trace of a directory, classified in parallel, and the
fleet summary (stragglers, spread, MFU/MBU, scaling tax against ``--reference``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.analysis.fleet import FleetResult
from roofline.app.fleet import classify_directory as run_fleet
from roofline.cli.output import emit, write_output
from roofline.errors import InputError
from roofline.report.fleet import fleet_markdown, fleet_renderable

JobsOption = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Directory of ranks: parallel workers (default: CPU cores, at most "
                 "one per trace). Memory is about jobs x one trace's analysis."),
]
BackendOption = Annotated[
    str,
    typer.Option("--backend", help="Directory of ranks: where the per-rank map runs: 'local' (process pool) or "
                 "'dask' (dask's process scheduler; needs the roofline\\[dask] extra)."),
]
ReferenceOption = Annotated[
    Path | None,
    typer.Option("--reference", help="Directory of ranks: a single-node trace of the same work, for the scaling "
                 "tax (1 - fleet MFU / reference MFU)."),
]


def classify_directory(directory: Path, *, fmt: str, output: Path | None, **options) -> FleetResult:
    """Classify the ranks of ``directory`` (roofline.app.fleet) and render the fleet result."""
    result = run_fleet(directory, **options)
    if fmt == "json":
        write_output(jsonout.dumps(result.model_dump(mode="json"), indent=2) + "\n", output)
    elif fmt == "md":
        write_output(fleet_markdown(result), output)
    else:
        # A file or pipe: room for the rank table.
        width = None if output is None and Console().is_terminal else 120
        emit([fleet_renderable(result)], output, width=width)
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
