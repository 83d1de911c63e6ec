"""Snapshots and the regression gate: record what can be gated from any input, and compare a
current run with a baseline. What ``roofline snapshot``/``gate`` and ``roofline.snapshot()``/``gate()`` run."""

from __future__ import annotations

from pathlib import Path

from roofline.gating.adapters import SnapshotOptions, snapshot_input
from roofline.gating.compare import GateOptions, compare_snapshots
from roofline.gating.result import GateResult
from roofline.gating.snapshot import Snapshot, merge_snapshots
from roofline.gating.thresholds import GateConfig, load_thresholds


def snapshot_label(path: Path) -> str:
    """The prefix of a file's entries in a merged snapshot: its name without the known suffixes."""
    name = Path(path).name
    for suffix in (".gz", ".json", ".csv", ".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name


def snapshot_paths(inputs: list[Path], options: SnapshotOptions) -> Snapshot:
    """One snapshot of ``inputs``: several inputs of one kind make one, entries prefixed with each stem."""
    return merge_snapshots([(snapshot_label(path), snapshot_input(Path(path), options)) for path in inputs])


def gate_paths(baseline: Path, current: Path, options: SnapshotOptions, *, thresholds: Path | None = None,
               config: GateConfig | None = None, fail_on_improvement: bool = False) -> tuple[GateResult, Snapshot]:
    """Compare ``current`` with ``baseline`` (snapshots, or raw inputs snapshotted on the fly);
    the result and the current run's snapshot (the proposed new baseline). ``config``: the
    thresholds already loaded from ``thresholds`` (default: loaded here, or the built-in rules)."""
    if config is None:
        config = load_thresholds(Path(thresholds)) if thresholds is not None else GateConfig()
    base_snapshot = snapshot_input(Path(baseline), options)
    current_snapshot = snapshot_input(Path(current), options)
    result = compare_snapshots(base_snapshot, current_snapshot, config, GateOptions(
        fail_on_improvement=fail_on_improvement, baseline_path=str(baseline), current_path=str(current),
        thresholds_path=str(thresholds) if thresholds is not None else None))
    return result, current_snapshot
