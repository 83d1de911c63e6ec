"""Source adapters: files → :class:`Snapshot`. Each adapter registers itself with a sniffer that
looks at the file's first bytes; the first that claims a file reads it. Anything no adapter claims
goes to the roofline input readers (kineto, Nsight Compute, Nsight Systems, declared kernels),
classified and turned into a trace or kernel-list snapshot.

Adding a source is one small function::

    @register_adapter("my-bench", kind="benchmark", description="my benchmark's CSV",
                      sniff=lambda path, head: head.startswith(b"bench,"))
    def my_bench_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
        ...  # read the file, return Snapshot(kind="benchmark", entries=[Entry(..., metrics={
             #   "time_s": measured(value, "s", "lower_is_better", samples), ...})])

plus its module's name in ``ADAPTER_MODULES`` when it lives outside this file. Order matters:
adapters are asked in registration order, so a narrow sniffer goes before a broad one.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from roofline.version import __version__
from roofline.errors import InputError
from roofline.safetext import escape_controls
from roofline.gating.from_plan import looks_like_plan_json
from roofline.gating.snapshot import SnapshotKind, Snapshot, SourceRef, looks_like_snapshot, read_snapshot
from roofline.hardware.registry import Registry

# A JSON object this small is parsed whole to sniff it; traces are far larger and say so early.
MAX_BENCHMARK_BYTES = 32 * 1024 * 1024
# Modules whose import registers more adapters (a plan adapter, for one).
ADAPTER_MODULES: tuple[str, ...] = ()


@dataclass
class SnapshotOptions:
    """How raw inputs are classified before they are snapshotted (the ``classify`` options)."""

    hw: str = "auto"
    ceilings: str | None = None
    registry: Registry | None = None
    # KEY=VALUE facts the input cannot know (torch version, driver, runner), added to the fingerprint.
    env: dict[str, str] = field(default_factory=dict)


Sniffer = Callable[[Path, bytes], bool]
Adapter = Callable[[Path, SnapshotOptions], Snapshot]


@dataclass(frozen=True)
class AdapterEntry:
    name: str
    kind: SnapshotKind | None  # None: the adapter reads files of any kind (saved snapshots)
    description: str
    sniff: Sniffer
    read: Adapter


_ADAPTERS: dict[str, AdapterEntry] = {}


def register_adapter(name: str, *, kind: SnapshotKind | None, description: str,
                     sniff: Sniffer) -> Callable[[Adapter], Adapter]:
    def decorate(read: Adapter) -> Adapter:
        if name in _ADAPTERS:
            raise RuntimeError(f"snapshot adapter '{name}' registered twice")
        _ADAPTERS[name] = AdapterEntry(name, kind, description, sniff, read)
        return read

    return decorate


def registered_adapters() -> dict[str, AdapterEntry]:
    for module in ADAPTER_MODULES:
        importlib.import_module(module)
    return dict(_ADAPTERS)


def snapshot_input(path: Path, options: SnapshotOptions) -> Snapshot:
    """Read one file — a saved snapshot or any raw input — as a snapshot."""
    from roofline.sources.base import head_bytes

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise InputError("is a directory", file=path, fix="give a snapshot, trace, export or benchmark file")
    if not path.is_file():  # a FIFO or device: opening it could block
        raise InputError("is not a regular file", file=path, fix="give a snapshot, trace, export or benchmark file")
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path, fix="re-create it; an empty run cannot be gated")
    try:
        head = head_bytes(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    for entry in registered_adapters().values():
        if entry.sniff(path, head):
            snapshot = entry.read(path, options)
            return _with_env(snapshot, options.env) if entry.kind is not None else snapshot
    return _with_env(roofline_input_snapshot(path, options, head), options.env)


def _with_env(snapshot: Snapshot, env: dict[str, str]) -> Snapshot:
    if not env:
        return snapshot
    return snapshot.model_copy(update={"fingerprint": {**snapshot.fingerprint, **env}})


def _base_fingerprint() -> dict[str, str]:
    return {"roofline": __version__}


# --- saved snapshots -------------------------------------------------------------------------


@register_adapter("snapshot", kind=None, description="roofline snapshot JSON",
                  sniff=lambda path, head: looks_like_snapshot(head.lstrip()))
def saved_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
    return read_snapshot(path)


# --- benchmark JSON --------------------------------------------------------------------------


def _small_json_object(path: Path, head: bytes) -> bool:
    if head[:2] == b"\x1f\x8b" or not head.lstrip().startswith(b"{"):
        return False
    return path.stat().st_size <= MAX_BENCHMARK_BYTES and b'"traceEvents"' not in head


def _load_json(path: Path) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}", file=path, fix="check the benchmark output") from None


@register_adapter("pytest-benchmark", kind="benchmark", description="pytest --benchmark-json output",
                  sniff=lambda path, head: _small_json_object(path, head) and b'"machine_info"' in head)
def pytest_benchmark_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
    from roofline.gating.from_benchmark import pytest_benchmark_entries

    data = _load_json(path)
    if not isinstance(data, dict):
        raise InputError("not a pytest-benchmark JSON object", file=path, fix="write it with --benchmark-json")
    entries, fingerprint = pytest_benchmark_entries(data, str(path))
    return Snapshot(kind="benchmark", sources=[SourceRef(path=str(path), format="pytest-benchmark")],
                    fingerprint={**_base_fingerprint(), **fingerprint}, entries=entries)


# --- plans (before the benchmark adapter, which would claim any small JSON object) -----------


@register_adapter("plan", kind="plan", description="roofline plan --format json output",
                  sniff=lambda path, head: _small_json_object(path, head) and looks_like_plan_json(head))
def plan_json_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
    from roofline.gating.from_plan import plan_entries

    entries, fingerprint = plan_entries(_load_json(path), str(path))
    return Snapshot(kind="plan", sources=[SourceRef(path=str(path), format="plan")],
                    fingerprint={**_base_fingerprint(), **fingerprint}, entries=entries)


def _serving_config(path: Path, head: bytes) -> bool:
    # A serving config names a model and a device at the top level; declared-kernel YAML says
    # ``kind: kernels`` and goes to the classify readers.
    if path.suffix.lower() not in (".yaml", ".yml") or re.search(rb"^kind\s*:", head, re.M):
        return False
    return bool(re.search(rb"^model\s*:", head, re.M) and re.search(rb"^hardware\s*:", head, re.M))


@register_adapter("plan-config", kind="plan", description="serving config YAML, planned on the fly (roofline plan)",
                  sniff=_serving_config)
def plan_config_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
    from roofline.app.plan import plan_config
    from roofline.gating.from_plan import plan_entries
    from roofline.hardware.registry import load_registry

    result = plan_config(path, options.registry or load_registry(), hw=options.hw, ceilings=options.ceilings).result
    entries, fingerprint = plan_entries(result.model_dump(mode="json"), str(path))
    return Snapshot(kind="plan", sources=[SourceRef(path=str(path), format="serving-config")],
                    fingerprint={**_base_fingerprint(), **fingerprint}, entries=entries)


@register_adapter("benchmark", kind="benchmark", description="benchmark JSON {name: {metric: value or [samples]}}",
                  sniff=lambda path, head: _small_json_object(path, head) and b'"deviceProperties"' not in head
                  and b'"schemaVersion"' not in head)
def simple_benchmark_snapshot(path: Path, options: SnapshotOptions) -> Snapshot:
    from roofline.gating.from_benchmark import simple_benchmark_entries

    data = _load_json(path)
    if isinstance(data, (dict, list)) and _is_roofline_result(data):
        raise InputError("a roofline --format json result, not a snapshot, trace or benchmark", file=path,
                         fix="gate the input it was made from, or its snapshot (roofline snapshot INPUT -o FILE)")
    entries = simple_benchmark_entries(data, str(path))
    return Snapshot(kind="benchmark", sources=[SourceRef(path=str(path), format="benchmark")],
                    fingerprint=_base_fingerprint(), entries=entries)


def _is_roofline_result(data: Any) -> bool:
    """``roofline classify/hw show --format json`` output (an object, or a list of them for several
    inputs): its ``tool`` says roofline and it has a schema_version — no benchmark looks like it."""
    first = data[0] if isinstance(data, list) and data else data
    return (isinstance(first, dict) and "schema_version" in first
            and str(first.get("tool", "")).startswith("roofline "))


# --- traces and kernel lists (the classify readers) ------------------------------------------


def roofline_input_snapshot(path: Path, options: SnapshotOptions, head: bytes) -> Snapshot:
    from roofline.app.classify import classify_loaded
    from roofline.gating.from_trace import kernel_list_entries, trace_entries
    from roofline.hardware.registry import load_registry
    from roofline.sources import read_input

    try:
        loaded = read_input(path)
    except InputError as exc:
        # The kineto reader refuses a trace without GPU activity (sources/kineto.py) — right for
        # classify, but a CPU-only CI runner can still gate step times and op call counts.
        if exc.message.startswith("no GPU activity"):
            return host_trace_snapshot(path)
        raise
    registry = options.registry or load_registry()
    result = classify_loaded(loaded, registry, options.hw, options.ceilings)
    fingerprint = {**_base_fingerprint(), **trace_header_fingerprint(head)}
    if loaded.device_name:
        fingerprint.setdefault("device", loaded.device_name)
    fingerprint["hardware"] = result.hardware.name
    fingerprint["ceilings"] = result.hardware.ceilings
    source = [SourceRef(path=str(path), format=loaded.format)]
    if loaded.events is not None:
        steps = list(loaded.extra.get("steps") or [])  # type: ignore[call-overload]
        syncs = list(loaded.extra.get("syncs") or [])  # type: ignore[call-overload]
        entries = trace_entries(result, loaded.events, steps, syncs)
        return Snapshot(kind="trace", sources=source, steps=len(steps) or None, fingerprint=fingerprint,
                        entries=entries, warnings=list(result.warnings))
    return Snapshot(kind="kernels", sources=source, fingerprint=fingerprint,
                    entries=kernel_list_entries(result), warnings=list(result.warnings))


def host_trace_snapshot(path: Path) -> Snapshot:
    """A CPU-only kineto trace: its ``cpu_op`` events and ``ProfilerStep`` spans, streamed."""
    from roofline.gating.from_host_trace import HOST_DEVICE, HostOp, host_trace_entries
    from roofline.sources.jsonstream import StreamState, iter_event_batches

    state = StreamState()
    ops: list[HostOp] = []
    steps: list[tuple[int, int, int]] = []
    malformed = 0
    for batch in iter_event_batches(path, state):
        for event in batch:
            if not isinstance(event, dict) or event.get("ph") != "X":
                continue
            try:
                start, dur = round(float(event["ts"]) * 1000.0), max(round(float(event.get("dur", 0)) * 1000.0), 0)
                name = event.get("name", "")
                if not isinstance(name, str):
                    raise TypeError(name)
            except (KeyError, TypeError, ValueError, OverflowError):  # 1.5e308 µs overflowed (exit 3)
                malformed += 1
                continue
            name = escape_controls(name)
            if event.get("cat") == "cpu_op":
                ops.append(HostOp(name, start, dur))
            elif event.get("cat") == "user_annotation" and name.startswith("ProfilerStep#"):
                number = name.split("#", 1)[1]
                steps.append((int(number) if number.isdigit() else len(steps), start, start + dur))
    if not ops:
        raise InputError("no framework ops in the trace", file=path,
                         fix="profile with torch.profiler (roofline profile) so that ops are recorded")
    return Snapshot(kind="trace", sources=[SourceRef(path=str(path), format="kineto (CPU only)")],
                    steps=len(steps) or None, fingerprint={**_base_fingerprint(), "device": HOST_DEVICE},
                    entries=host_trace_entries(ops, steps),
                    warnings=["no GPU activity in the trace: gated on host op times and call counts"]
                    + ([f"{malformed:,} malformed events were skipped"] if malformed else [])
                    + (["the trace is truncated or damaged: only its readable events were used"]
                       if state.truncated or state.skipped_regions else []))


def trace_header_fingerprint(head: bytes) -> dict[str, str]:
    """Device and CUDA versions from a kineto trace's header (the keys before ``traceEvents``).
    The header says which CUDA the driver supports, not the driver's own version (580.x): pass
    that, and torch's version, with ``--env``."""
    marker = head.find(b'"traceEvents"')
    if marker < 0:
        return {}
    body = head[:marker].strip().rstrip(b",")
    try:
        header = orjson.loads(body + b"}")
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(header, dict):
        return {}
    found: dict[str, str] = {}
    props = header.get("deviceProperties")
    if isinstance(props, list) and props and isinstance(props[0], dict) and props[0].get("name"):
        found["device"] = str(props[0]["name"])
    for key, out in (("cuda_driver_version", "cuda_driver"), ("cuda_runtime_version", "cuda_runtime")):
        value = header.get(key)
        if isinstance(value, int) and value > 0:
            # CUDA encodes 13.0 as 13000: major·1000 + minor·10.
            found[out] = f"{value // 1000}.{(value % 1000) // 10}"
    if isinstance(header.get("cupti_version"), int):
        found["cupti"] = str(header["cupti_version"])
    return found


def parse_env(pairs: list[str]) -> dict[str, str]:
    """``--env torch=2.11.0`` → {"torch": "2.11.0"}. Facts are given explicitly, never read from
    the process environment: behaviour toggled by variables nobody can see is what we avoid."""
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(f"--env {pair!r}: expected KEY=VALUE", place="--env", fix="e.g. --env torch=2.11.0")
        env[key.strip()] = value.strip()
    return env
