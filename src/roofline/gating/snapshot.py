"""Snapshots: what a run measured, in the form the gate compares — entries (a trace's total, an op,
a kernel group, a benchmark) each holding named metrics, plus the environment they ran in.

A snapshot is the committed baseline of a CI gate, so its JSON form is a stable, versioned
contract (docs/gate.md): ``schema_version`` is bumped when a field changes meaning, and a file
from a newer schema is refused rather than misread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from roofline.version import __version__
from roofline.errors import InputError

SNAPSHOT_SCHEMA_VERSION = 1
# The first key of every snapshot file: how a snapshot is told from a trace or a benchmark JSON.
SNAPSHOT_FORMAT = "roofline-snapshot"
MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024

Direction = Literal["lower_is_better", "higher_is_better"]
# measured: noisy (timings, rates, shares) — thresholds and, with samples, a significance test.
# exact: deterministic (FLOPs, bytes, counts, predictions) — any change beyond a tiny margin counts.
# label: categorical (bound, precision) — a change is reported, it has no direction.
MetricKind = Literal["measured", "exact", "label"]
# trace: kineto / nsys timelines; kernels: Nsight Compute or declared kernels without a timeline;
# benchmark: a user's benchmark JSON; plan: predictions of ``roofline plan``.
SnapshotKind = Literal["trace", "kernels", "benchmark", "plan"]


class Metric(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: MetricKind = "measured"
    value: float | None = None
    label: str | None = None
    unit: str = ""
    # The sense the producer knows (time: lower; bandwidth: higher); None leaves it to the
    # thresholds file's default rule (a user's own benchmark metrics).
    direction: Direction | None = None
    # Per-step (or per-round) samples behind ``value`` when the input had several.
    samples: list[float] | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("samples")
    @classmethod
    def _finite_samples(cls, samples: list[float] | None) -> list[float] | None:
        if samples is not None and not all(math.isfinite(x) for x in samples):
            raise ValueError("samples must be finite numbers")
        return samples


class Entry(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1)
    group: str = Field(description="total | op | kernel | benchmark | plan")
    # Kernel groups: the op part of the name, so a run whose kernels carry no op (CUDA-graph
    # replays are not linked to ops) can still be matched by kernel name.
    op: str | None = None
    kernel: str | None = Field(default=None, description="the demangled kernel name, when the entry is one kernel")
    metrics: dict[str, Metric]
    notes: list[str] = Field(default_factory=list)


class SourceRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    path: str
    format: str


class Snapshot(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["roofline-snapshot"] = SNAPSHOT_FORMAT
    schema_version: int = SNAPSHOT_SCHEMA_VERSION
    kind: SnapshotKind
    tool: str = f"roofline {__version__}"
    sources: list[SourceRef] = Field(default_factory=list)
    steps: int | None = Field(default=None, description="profiled steps behind per-step figures (traces)")
    # device, hardware, ceilings, cuda_driver, cuda_runtime, cupti, torch, roofline, and --env extras.
    fingerprint: dict[str, str] = Field(default_factory=dict)
    entries: list[Entry]
    warnings: list[str] = Field(default_factory=list)

    def entry_map(self) -> dict[str, Entry]:
        return {entry.name: entry for entry in self.entries}


def measured(value: float | None, unit: str, direction: Direction, samples: list[float] | None = None) -> Metric:
    if samples is not None and len(samples) < 2:
        samples = None  # one sample carries nothing a significance test could use
    return Metric(kind="measured", value=value, unit=unit, direction=direction, samples=samples)


def exact(value: float | None, unit: str, direction: Direction | None) -> Metric:
    return Metric(kind="exact", value=value, unit=unit, direction=direction)


def label(text: str | None) -> Metric:
    return Metric(kind="label", label=text)


def snapshot_json(snapshot: Snapshot) -> bytes:
    """The file form: ``format`` first (sniffing reads the head), stable key order, no nulls
    left out so a diff of two baselines lines up."""
    return orjson.dumps(snapshot.model_dump(mode="json"), option=orjson.OPT_INDENT_2) + b"\n"


def looks_like_snapshot(head: bytes) -> bool:
    return b'"format"' in head[:512] and SNAPSHOT_FORMAT.encode() in head[:512]


def parse_snapshot(raw: bytes, path: Path) -> Snapshot:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", file=path, fix="re-create it with roofline snapshot") from None
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise InputError("not a roofline snapshot", file=path, fix="create one with roofline snapshot INPUT -o FILE")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("schema_version is missing or not an integer", file=path, place="schema_version",
                         fix="re-create the snapshot with roofline snapshot")
    if version > SNAPSHOT_SCHEMA_VERSION:
        raise InputError(
            f"snapshot schema_version {version} was written by a newer roofline ({data.get('tool', 'unknown')})",
            file=path,
            place="schema_version",
            fix=f"this roofline ({__version__}) reads schema_version {SNAPSHOT_SCHEMA_VERSION}: upgrade roofline, "
            "or re-create the baseline with this version",
        )
    if version < 1:
        raise InputError(f"invalid schema_version {version}", file=path, place="schema_version",
                         fix="re-create the snapshot with roofline snapshot")
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InputError(f"invalid snapshot: {where}: {error['msg']}", file=path, place=where or None,
                         fix="re-create it with roofline snapshot") from None


def read_snapshot(path: Path) -> Snapshot:
    size = path.stat().st_size
    if size > MAX_SNAPSHOT_BYTES:
        raise InputError(f"snapshot is {size / 1e6:.0f} MB, over the {MAX_SNAPSHOT_BYTES / 1e6:.0f} MB limit",
                         file=path, fix="check that this is the right file")
    return parse_snapshot(path.read_bytes(), path)


def check_not_empty(snapshot: Snapshot, path: Path | str, side: str) -> None:
    """An empty run is bad input, never a pass: a gate with nothing to check must not go green."""
    if not snapshot.entries or not any(entry.metrics for entry in snapshot.entries):
        raise InputError(
            f"the {side} run holds nothing to gate (no entries with metrics)",
            file=path,
            fix="check that the profiler captured GPU work / the benchmark ran",
        )


def merge_snapshots(parts: list[tuple[str, Snapshot]]) -> Snapshot:
    """One snapshot of several inputs (``roofline snapshot a.json.gz b.json.gz``). Each entry name
    gets its input's label as a prefix (``a: total``) so that names stay unique and match the same
    input next time. All parts must be of one kind and ran on one device."""
    if len(parts) == 1:
        return parts[0][1]
    first_label, first = parts[0]
    labels = [label_ for label_, _ in parts]
    duplicate = next((name for name in labels if labels.count(name) > 1), None)
    if duplicate is not None:
        raise InputError(f"two inputs share the label '{duplicate}'", place="INPUT",
                         fix="rename one file: entries are prefixed with the file name's stem")
    entries: list[Entry] = []
    sources: list[SourceRef] = []
    warnings: list[str] = []
    for part_label, part in parts:
        if part.kind != first.kind:
            raise InputError(f"inputs of different kinds: '{first_label}' is a {first.kind} snapshot, "
                             f"'{part_label}' a {part.kind} one", place="INPUT",
                             fix="snapshot each kind into its own file")
        device, other = first.fingerprint.get("device"), part.fingerprint.get("device")
        if device and other and device != other:
            raise InputError(f"inputs from different devices: '{first_label}' ran on {device}, "
                             f"'{part_label}' on {other}", place="INPUT", fix="snapshot each device into its own file")
        entries += [entry.model_copy(update={"name": f"{part_label}: {entry.name}"}) for entry in part.entries]
        sources += part.sources
        warnings += [f"{part_label}: {warning}" for warning in part.warnings]
    fingerprint = dict(first.fingerprint)
    for _, part in parts[1:]:
        for key, value in part.fingerprint.items():
            if fingerprint.get(key, value) != value:
                fingerprint[key] = "mixed"
            else:
                fingerprint.setdefault(key, value)
    steps = {part.steps for _, part in parts}
    return Snapshot(kind=first.kind, sources=sources, steps=steps.pop() if len(steps) == 1 else None,
                    fingerprint=fingerprint, entries=entries, warnings=warnings)
