"""A directory of per-rank traces: discover the ranks, classify each in parallel (a process pool
or Dask), reduce to the fleet figures. What ``roofline classify DIR/`` and ``roofline.classify(DIR)`` run."""

from __future__ import annotations

import os
from pathlib import Path

from roofline.analysis.fleet import FleetResult, RankFailure, reduce_fleet
from roofline.app.registry import spec_dirs
from roofline.errors import InputError
from roofline.fleet.ranks import discover
from roofline.fleet.runner import RECYCLE_AFTER_BYTES, RankOutcome, RankTask, classify_rank, run_map


def classify_directory(
    directory: Path,
    *,
    jobs: int | None = None,
    backend: str = "local",
    reference: Path | None = None,
    hw: str = "auto",
    ceilings: str | None = None,
    hw_files: list[Path] | None = None,
    hw_dirs: list[Path] | None = None,
    step: int | None = None,
    device: int | None = None,
) -> FleetResult:
    directory = Path(directory)
    files, warnings = discover(directory)
    base = RankTask(path="", rank=0, hw=hw, ceilings=ceilings, hw_files=tuple(str(p) for p in hw_files or []),
                    hw_dirs=tuple(str(p) for p in spec_dirs(hw_dirs)), step=step, device=device)
    tasks = [RankTask(**{**base.__dict__, "path": str(f.path), "rank": f.rank}) for f in files]
    if reference is not None:
        if not Path(reference).is_file():
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
    return reduce_fleet(ranks, directory=str(directory), reference=ref_outcome.figures if ref_outcome else None,
                        failed=failed, warnings=warnings)
