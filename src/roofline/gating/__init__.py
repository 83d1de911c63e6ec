"""The CI regression gate: snapshots of what a run measured, a thresholds config, a pure
comparison into per-row verdicts, and renderers. ``roofline snapshot`` and ``roofline gate``
(cli/gate.py) wire them together; docs/gate.md is the user's guide.
"""

from roofline.gating.adapters import SnapshotOptions, register_adapter, registered_adapters, snapshot_input
from roofline.gating.compare import GateOptions, compare_snapshots
from roofline.gating.result import GateResult, Row
from roofline.gating.snapshot import Entry, Metric, Snapshot, exact, label, measured
from roofline.gating.thresholds import GateConfig, load_thresholds

__all__ = [
    "Entry", "GateConfig", "GateOptions", "GateResult", "Metric", "Row", "Snapshot", "SnapshotOptions",
    "compare_snapshots", "exact", "label", "load_thresholds", "measured", "register_adapter",
    "registered_adapters", "snapshot_input",
]
