"""A directory of traces: read the headers, decide whether they are the ranks of one job, classify
each trace in parallel (a process pool, Dask, or a dask.distributed cluster), and reduce to the
fleet figures — or, for traces that are not one job, lay them side by side. What
``roofline classify DIR/`` and ``roofline.classify(DIR)`` run."""

from __future__ import annotations

import os
from pathlib import Path

from roofline.analysis.fleet import FleetResult, RankFailure, TraceSetResult, reduce_fleet, trace_set
from roofline.app.registry import spec_dirs
from roofline.errors import InputError
from roofline.fleet.ranks import discover
from roofline.fleet.runner import RECYCLE_AFTER_BYTES, MapOptions, RankOutcome, RankTask, classify_rank, run_map


def classify_directory(
    directory: Path,
    *,
    jobs: int | None = None,
    backend: str = "local",
    reference: Path | None = None,
    scheduler: str | None = None,
    one_job: bool = False,
    hw: str = "auto",
    ceilings: str | None = None,
    hw_files: list[Path] | None = None,
    hw_dirs: list[Path] | None = None,
    step: int | None = None,
    device: int | None = None,
) -> FleetResult | TraceSetResult:
    """The fleet of one job when the traces say they are one (or ``one_job`` says so), else the
    separate traces side by side. ``scheduler``: a dask.distributed address (``backend='dask'``)."""
    directory = Path(directory)
    if scheduler is not None and backend != "dask":
        raise InputError("a scheduler address needs the dask backend", place="--scheduler", fix="add --backend dask")
    found = discover(directory, one_job=one_job)
    warnings = found.warnings
    # Absolute paths: a worker elsewhere (a cluster, another working directory) reads them there.
    base = RankTask(path="", rank=None, hw=hw, ceilings=ceilings,
                    hw_files=tuple(str(Path(p).resolve()) for p in hw_files or []),
                    hw_dirs=tuple(str(p.resolve()) for p in spec_dirs(hw_dirs)), step=step, device=device)
    tasks = [RankTask(**{**base.__dict__, "path": str(f.path.resolve()), "rank": f.rank, "label": str(f.path)})
             for f in found.files]
    with_reference = reference is not None and found.job.one_job
    if reference is not None:
        reference = Path(reference)
        if not reference.is_file():
            raise InputError("not a trace file", file=reference, place="--reference",
                             fix="give the single-node trace of the same work")
        if with_reference:
            tasks.append(RankTask(**{**base.__dict__, "path": str(reference.resolve()), "rank": -1, "step": None,
                                     "label": str(reference)}))
        else:
            warnings.append("--reference is not used: a scaling tax compares the ranks of one job with a "
                            "single-node run, and these traces are not one job")
    local_workers = min(os.cpu_count() or 1, len(tasks))
    options = MapOptions(jobs=jobs if jobs or scheduler else local_workers, scheduler=scheduler,
                         large=any(Path(t.path).stat().st_size > RECYCLE_AFTER_BYTES for t in tasks))
    outcomes: list[RankOutcome] = run_map(classify_rank, tasks, backend=backend, options=options,
                                          lost=lambda task, why: RankOutcome(task.rank, task.label or task.path,
                                                                             error=f"{task.label}: {why}"))
    ref_outcome = outcomes.pop() if with_reference else None
    if ref_outcome is not None and ref_outcome.figures is None:
        raise InputError(ref_outcome.error or "could not be classified", place="--reference")
    figures = [o.figures for o in outcomes if o.figures is not None]
    failed = [RankFailure(rank=o.rank, file=o.file, error=o.error or "") for o in outcomes if o.figures is None]
    if not figures:
        hint = (" (the workers read the traces at these paths: is the directory there on every worker?)"
                if scheduler else "")
        raise InputError(f"no trace could be classified; first error: {failed[0].error}{hint}", file=directory)
    for failure in failed:
        who = f"rank {failure.rank}" if failure.rank is not None else Path(failure.file).name
        warnings.append(f"{who} left out: {failure.error}")
    if found.job.one_job:
        return reduce_fleet(figures, directory=str(directory), reference=ref_outcome.figures if ref_outcome else None,
                            failed=failed, warnings=warnings, job=found.job)
    return trace_set(figures, directory=str(directory), job=found.job, failed=failed, warnings=warnings)
