"""``roofline classify DIR/``: every per-rank trace of a directory, classified in parallel, and the
fleet summary (stragglers, spread, MFU/MBU, scaling tax against ``--reference``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from roofline import jsonout
from roofline.analysis.fleet import FleetResult, RankFailure, reduce_fleet
from roofline.cli.common import HW_PATH_ENV, write_output
from roofline.errors import InputError
from roofline.fleet.ranks import discover
from roofline.fleet.runner import RECYCLE_AFTER_BYTES, RankOutcome, RankTask, classify_rank, run_map
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


def classify_directory(
    directory: Path,
    *,
    fmt: str,
    output: Path | None,
    jobs: int | None,
    backend: str,
    reference: Path | None,
    hw: str,
    ceilings: str | None,
    hw_files: list[Path] | None,
    hw_dirs: list[Path] | None,
    step: int | None,
    device: int | None,
) -> FleetResult:
    files, warnings = discover(directory)
    dirs = [str(p) for p in hw_dirs or []]
    dirs += [p for p in os.environ.get(HW_PATH_ENV, "").split(os.pathsep) if p.strip()]
    base = RankTask(path="", rank=0, hw=hw, ceilings=ceilings, hw_files=tuple(str(p) for p in hw_files or []),
                    hw_dirs=tuple(dirs), step=step, device=device)
    tasks = [RankTask(**{**base.__dict__, "path": str(f.path), "rank": f.rank}) for f in files]
    if reference is not None:
        if not reference.is_file():
            raise InputError("not a trace file", file=reference, place="--reference",
                             fix="give the single-node trace of the same work")
        tasks.append(RankTask(**{**base.__dict__, "path": str(reference), "rank": -1, "step": None}))
    workers = jobs if jobs else min(os.cpu_count() or 1, len(tasks))
    large = any(Path(t.path).stat().st_size > RECYCLE_AFTER_BYTES for t in tasks)
    outcomes: list[RankOutcome] = run_map(classify_rank, tasks, jobs=workers, backend=backend, large=large)
    ref_outcome = outcomes.pop() if reference is not None else None
    if ref_outcome is not None and ref_outcome.figures is None:
        raise InputError(ref_outcome.error or "could not be classified", place="--reference")
    ranks = [o.figures for o in outcomes if o.figures is not None]
    failed = [RankFailure(rank=o.rank, file=o.file, error=o.error or "") for o in outcomes if o.figures is None]
    if not ranks:
        raise InputError(f"no rank could be classified; first error: {failed[0].error}", file=directory)
    for failure in failed:
        warnings.append(f"rank {failure.rank} left out: {failure.error}")
    result = reduce_fleet(ranks, directory=str(directory), reference=ref_outcome.figures if ref_outcome else None,
                          failed=failed, warnings=warnings)
    if fmt == "json":
        write_output(jsonout.dumps(result.model_dump(mode="json"), indent=2) + "\n", output)
    elif fmt == "md":
        write_output(fleet_markdown(result), output)
    else:
        console = Console(record=output is not None)
        if not console.is_terminal:
            console = Console(record=output is not None, width=120)  # a file or pipe: room for the rank table
        console.print(fleet_renderable(result))
        if output is not None:
            write_output(console.export_text(), output)
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
