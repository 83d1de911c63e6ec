"""PyTorch profiler (kineto) traces, ``.json`` or ``.json.gz``: the GPU timeline, the host launches
that issued each kernel, and the aten op (with its input shapes) that each kernel belongs to.

Linking, in order of trust: the kernel's ``External id`` → the cpu_op with that id; else the
``correlation`` → the runtime launch call → its ``External id``; else the innermost cpu_op on the
launching thread whose time span encloses the launch. Kernels replayed from a CUDA graph carry no
op link: they are matched by kernel name to an eager kernel of the same trace where one exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from roofline.analysis.collectives import call_from_args, call_from_symm_mem
from roofline.analysis.event_table import MISSING, EventTable
from roofline.errors import InputError
from roofline.gcpause import paused_gc
from roofline.safetext import escape_controls
from roofline.sources.base import LoadedInput, register_reader
from roofline.sources.jsonstream import StreamState, iter_event_batches
from roofline.sources.kineto_nogpu import no_gpu_error
from roofline.sources.kineto_columns import (
    CODE_BASE,
    GpuColumns,
    LinkIds,
    OpColumns,
    RuntimeColumns,
    link_events,
    op_signatures,
    time_origin,
)

GPU_CATEGORIES = {"kernel": "kernel", "gpu_memcpy": "memcpy", "gpu_memset": "memset", "Memcpy": "memcpy", "Memset": "memset"}
RUNTIME_CATEGORIES = {"cuda_runtime", "cuda_driver", "runtime", "driver"}
GRAPH_LAUNCH_APIS = {"cudaGraphLaunch", "cudaGraphLaunch_v10000", "cuGraphLaunch", "hipGraphLaunch"}
KERNEL_LAUNCH_APIS = {
    "cudaLaunchKernel", "cudaLaunchKernelExC", "cudaLaunchKernelExC_v11060", "cuLaunchKernel", "cuLaunchKernelEx",
    "cudaLaunchCooperativeKernel", "cudaLaunchCooperativeKernelMultiDevice", "hipLaunchKernel",
    "hipExtLaunchKernel", "hipExtModuleLaunchKernel", "hipModuleLaunchKernel", "hipLaunchCooperativeKernel",
    *GRAPH_LAUNCH_APIS,
}
# Calls that block the host until the GPU catches up. (cudaStreamWaitEvent is not one: it orders
# two streams on the device and returns at once.)
SYNC_APIS = {"cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "hipDeviceSynchronize",
             "hipStreamSynchronize", "hipEventSynchronize"}


# A timestamp or duration beyond this many µs (about three centuries) is no clock reading: the
# event is malformed. Checking here keeps 1e308 from overflowing the ns conversion, and keeps
# every time in ns within an int64 column (2**63 ns is 9.22e15 µs).
_MAX_TIME_US = 9.2e15


def _us(microseconds: Any) -> int | float:
    """A time in µs as the trace has it. ValueError for anything but a finite number of plausible
    size: a string, a bool, a list, ``1.5e308``."""
    if type(microseconds) not in (int, float) or not -_MAX_TIME_US <= microseconds <= _MAX_TIME_US:
        raise ValueError(f"not a time in µs: {microseconds!r}")
    return microseconds


def _ns(microseconds: Any) -> int:
    """µs → integer ns (ValueError as ``_us``); the columns' ns_column rounds the same way."""
    return int(round(_us(microseconds) * 1000.0))


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


def _name(event: dict[str, Any]) -> str:
    name = event.get("name")
    if name is None:
        return ""
    if type(name) is not str:
        raise ValueError(f"event name is not a string: {name!r}")
    return name


_BAD_ID = object()


def _link_id(value: Any) -> Any:
    """An ``External id`` / ``correlation`` / thread id usable as a dict key: an integer or a
    string. Anything else (a list, an object, a bool) is ``_BAD_ID``: the link is dropped and
    counted, the event kept."""
    if value is None or type(value) in (int, str):
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return _BAD_ID


@dataclass(slots=True)
class Step:
    number: int
    start_ns: int
    end_ns: int


_OP_ARG_KEYS = ("Input Dims", "Input type", "Input Strides", "Concrete Inputs", "kernel_backend", "kernel_file",
                "kernel_hash", "grid")
# What PyTorch records about a collective, on record_param_comms and (recent versions) on the NCCL kernel.
_COMM_ARG_KEYS = ("Collective name", "In msg nelems", "Out msg nelems", "Group size", "dtype")
_GPU = "gpu"
_RUNTIME = "runtime"


class _Collector:
    """Keeps the few fields the analysis needs from each event, as rows of compact columns
    (kineto_columns: ~8 bytes a field instead of a tuple per event).

    cpu_ops are the bulk of a trace and mostly repeat a handful of (name, shapes, types)
    signatures: each op keeps only (signature index, start, duration, thread), and each distinct
    signature is stored once.
    """

    def __init__(self) -> None:
        ids = LinkIds()
        # (kind, name, start, dur, device, stream, correlation, external_id, bytes, grid, block, comm)
        self.gpu = GpuColumns(ids)
        # (External id or MISSING, signature, start, dur, tid)
        self.ops = OpColumns(ids)
        self.signatures: dict[tuple[str, bytes, Any], int] = {}
        self.signature_table: list[tuple[str, dict[str, Any]]] = []
        # correlation -> (api name, start, dur, tid, external_id); times in µs until finish()
        self.runtime = RuntimeColumns(ids)
        self.syncs: list[tuple[str, int, int]] = []
        self.steps: list[Step] = []
        self.names: dict[str, str] = {}
        self.cpu_events = 0
        self.bad_events = 0
        self.bad_links = 0
        self.bad_durations = 0
        self.bad_bytes = 0
        self.unsafe_names = 0
        self.with_dims = 0
        # Complete events of other categories, by category: what a trace without GPU activity holds.
        self.other_categories: dict[Any, int] = {}

    def _link(self, value: Any) -> Any:
        value = _link_id(value)
        if value is _BAD_ID:
            self.bad_links += 1
            return None
        return value

    def consume(self, batch: list[Any]) -> None:
        # The hot loop of reading a trace (~2.5 M events a GB): attribute look-ups, counters and
        # the cpu_op row (the bulk of the events) are local, the common cases (a float time, an
        # integer id) inline; anything else takes the general path (_ns, _link, LinkIds.code).
        gpu_append = self.gpu.append
        ops = self.ops
        op_external, op_signature, op_start, op_dur, op_tid = (
            ops.external.append, ops.signature.append, ops.start_us.append, ops.dur_us.append, ops.tid.append)
        code = ops.ids.code
        link = self._link
        signatures = self.signatures
        runtime = self.runtime
        known_name = self.names.get  # a name seen before, already made safe to print
        new_name = self._new_name
        dumps = orjson.dumps
        max_us, base = _MAX_TIME_US, CODE_BASE
        cpu_events = with_dims = bad_events = 0
        other = self.other_categories
        try:
            for event in batch:
                if type(event) is not dict:
                    bad_events += 1
                    continue
                if event.get("ph") != "X":
                    continue
                category = event.get("cat")
                try:
                    if category == "cpu_op":
                        cpu_events += 1
                        args = event.get("args") or {}
                        name = event.get("name")
                        if type(name) is not str:
                            name = _name(event)
                        dims = args.get("Input Dims")
                        if dims:
                            with_dims += 1
                        comm = (call_from_args(args) if "Collective name" in args or "In msg nelems" in args
                                else call_from_symm_mem(name, args) if name.startswith("symm_mem::") else None)
                        key = (name, dumps((dims, args.get("Input type"), args.get("Input Strides"),
                                            args.get("Concrete Inputs"), args.get("kernel_file"))), comm)
                        signature = signatures.get(key)
                        if signature is None:
                            signature = len(self.signature_table)
                            signatures[key] = signature
                            op_args = {k: args[k] for k in _OP_ARG_KEYS if k in args}
                            if comm is not None:
                                op_args["collective"] = comm
                            self.signature_table.append((known_name(name) or new_name(name), op_args))
                        start = event["ts"]
                        if not (type(start) is float and -max_us <= start <= max_us):
                            start = _us(start)
                        dur = event.get("dur", 0)
                        if not (type(dur) is float and -max_us <= dur <= max_us):
                            dur = _us(dur)
                        tid = event.get("tid", 0)
                        if type(tid) is not int or not -base < tid < base:
                            tid = code(link(tid))
                        external = args.get("External id")
                        if type(external) is not int or not -base < external < base:
                            external = link(external)
                            external = MISSING if external is None else code(external)
                        # Every value fits its column by now (times bounded above): the row is whole.
                        op_external(external)
                        op_signature(signature)
                        op_start(start)
                        op_dur(dur)
                        op_tid(tid)
                    elif category in GPU_CATEGORIES:
                        args = event.get("args") or {}
                        name = event.get("name")
                        if type(name) is not str:
                            name = _name(event)
                        start = event["ts"]
                        if not (type(start) is float and -max_us <= start <= max_us):
                            start = _us(start)
                        if "dur" in event:
                            dur = event["dur"]
                            if not (type(dur) is float and -max_us <= dur <= max_us):
                                dur = _us(dur)
                            if dur < 0 and _ns(dur) < 0:  # negative: counted as 0 ns, and reported
                                self.bad_durations += 1
                                dur = 0.0
                        else:  # missing: the same
                            self.bad_durations += 1
                            dur = 0.0
                        device = args.get("device", event.get("pid", 0))
                        stream = args.get("stream", event.get("tid", 0))
                        correlation = args.get("correlation")
                        external = args.get("External id")
                        nbytes = args.get("bytes")
                        gpu_append((
                            GPU_CATEGORIES[category],
                            known_name(name) or new_name(name),
                            start,
                            dur,
                            device if type(device) is int else _int(device),
                            stream if type(stream) is int else _int(stream),
                            correlation if type(correlation) is int else link(correlation),
                            external if type(external) is int else link(external),
                            None if nbytes is None else self._bytes(nbytes),
                            args.get("grid"),
                            args.get("block"),
                            call_from_args(args) if "Collective name" in args or "In msg nelems" in args else None,
                        ))
                    elif category in RUNTIME_CATEGORIES:
                        args = event.get("args") or {}
                        name = event.get("name")
                        if type(name) is not str:
                            name = _name(event)
                        name = known_name(name) or new_name(name)
                        start = event["ts"]
                        if not (type(start) is float and -max_us <= start <= max_us):
                            start = _us(start)
                        dur = event.get("dur", 0)
                        if not (type(dur) is float and -max_us <= dur <= max_us):
                            dur = _us(dur)
                        correlation = args.get("correlation")
                        if type(correlation) is not int:
                            correlation = link(correlation)
                        if correlation is not None:
                            tid = event.get("tid", 0)
                            external = args.get("External id")
                            runtime[correlation] = (name, start, dur, tid if type(tid) is int else link(tid),
                                                    external if type(external) is int else link(external),
                                                    _copy_size(args) if "Memcpy" in name else None)
                        if name in SYNC_APIS:
                            self.syncs.append((name, _ns(start), max(_ns(dur), 0)))
                    elif category == "user_annotation":
                        name = _name(event)
                        if name.startswith("ProfilerStep#"):
                            start = _ns(event["ts"])
                            self.steps.append(Step(_int(name.split("#", 1)[1], -1), start,
                                                   start + max(_ns(event.get("dur", 0)), 0)))
                    elif type(category) is str:
                        other[category] = other.get(category, 0) + 1
                except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
                    bad_events += 1
        finally:
            self.cpu_events += cpu_events
            self.with_dims += with_dims
            self.bad_events += bad_events

    def finish(self) -> None:
        """Times in ns for every store, once the last batch is in."""
        for store in (self.gpu, self.ops, self.runtime):
            store.finish()

    def _new_name(self, name: str) -> str:
        """Intern a name on first sight, with control characters escaped (a kernel named
        ESC "[2J" would otherwise clear the terminal of whoever prints the table)."""
        safe = escape_controls(name)
        if safe is not name:
            self.unsafe_names += 1
        return self.names.setdefault(name, safe)

    def _bytes(self, value: Any) -> float | None:
        """A copy's byte count: a non-negative finite number, else unknown (and reported)."""
        if value is None:
            return None
        if type(value) in (int, float) and 0 <= value < float("inf"):
            return float(value)
        self.bad_bytes += 1
        return None


def _copy_size(args: dict) -> float | None:
    """The byte count a copy call records (ROCm's ``hipMemcpyWithStream`` writes ``"size": "2560"``);
    None where it is absent or not a non-negative finite number."""
    value = args.get("size")
    try:
        size = float(value) if type(value) in (int, float, str) else None
    except ValueError:
        return None
    return size if size is not None and 0 <= size < float("inf") else None


def _sniff(path: Path, head: bytes) -> bool:
    # Any JSON document is claimed: a JSON that is not a trace then gets a precise message
    # ("JSON without 'traceEvents'") instead of "unrecognised format".
    return head.lstrip()[:1] in (b"{", b"[")


def read_kineto(path: Path, *, on_progress: Callable[[int], None] | None = None) -> LoadedInput:
    with paused_gc():
        return _read_kineto(path, on_progress)


def _read_kineto(path: Path, on_progress: Callable[[int], None] | None) -> LoadedInput:
    state = StreamState()
    collector = _Collector()
    for batch in iter_event_batches(path, state, on_progress=on_progress):
        collector.consume(batch)
    collector.finish()
    warnings = list(state.warnings)
    if state.truncated:
        warnings.append(
            f"the trace is truncated (a profiler killed mid-write?): {state.events_seen:,} complete events "
            f"were recovered" + (f", an incomplete tail of {state.lost_bytes:,} bytes was dropped" if state.lost_bytes else "")
        )
    integrity = []
    if state.truncated:
        integrity.append(f"truncated trace: {state.events_seen:,} events recovered, its end is missing")
    if state.skipped_regions:
        integrity.append(f"damaged trace: {state.skipped_regions:,} unreadable stretch(es), their events missing")
        warnings.append(
            f"{state.skipped_regions:,} damaged stretch(es) of the event array ({state.skipped_bytes:,} bytes, the "
            f"first at byte {state.first_skipped_at:,} of the JSON) could not be parsed: the events in them are missing"
        )
    if collector.bad_events:
        warnings.append(f"{collector.bad_events:,} malformed events were skipped (a time, name or field of the "
                        "wrong type or out of range)")
    if collector.bad_durations:
        warnings.append(f"{collector.bad_durations:,} GPU events have a missing or negative 'dur': counted as 0 s")
    if collector.bad_links:
        warnings.append(f"{collector.bad_links:,} 'External id' / 'correlation' / 'tid' values are not integers: "
                        "those op links were dropped")
    if collector.unsafe_names:
        warnings.append(f"{collector.unsafe_names:,} name(s) hold control characters: shown escaped (\\x1b)")
    if collector.bad_bytes:
        warnings.append(f"{collector.bad_bytes:,} copies have a negative or non-numeric 'bytes': their size is unknown")
    # A file cut short before its first (GPU) event says so, rather than blaming the profiler set-up.
    cut = f" (the file is truncated after {state.bytes_read:,} bytes)" if state.truncated else ""
    if state.events_seen == 0:
        raise InputError(f"the trace holds no events{cut}", file=path,
                         fix="re-run the profiler; was it stopped before a step?")
    if not collector.gpu:
        raise no_gpu_error(path, collector.other_categories, collector.cpu_events, len(collector.runtime),
                           device_properties(state.header, state.trailer), cut)
    ops_per_step = _ops_per_step(collector)  # before _build_events moves the steps to the trace origin
    events = _build_events(collector, warnings)
    entries = device_properties(state.header, state.trailer)
    device_id = _main_device(events, entries)
    device_name = next((e.get("name") or None for e in entries if e["id"] == device_id), None)
    record_shapes = state.header.get("record_shapes", state.trailer.get("record_shapes"))
    if collector.cpu_events and not collector.with_dims:
        warnings.append("no 'Input Dims' on any op: FLOPs and bytes need torch.profiler.profile(record_shapes=True)")
    elif record_shapes == 0:
        warnings.append("record_shapes was off: FLOPs and bytes need torch.profiler.profile(record_shapes=True)")
    return LoadedInput(
        path=path,
        format="kineto",
        events=events,
        device_name=device_name,
        warnings=warnings,
        extra={
            "steps": [(s.number, s.start_ns, s.end_ns) for s in sorted(collector.steps, key=lambda s: s.start_ns)],
            "syncs": collector.syncs,
            "devices": {e["id"]: e.get("name", "") for e in entries},
            "device_properties": entries,
            "device_id": device_id,
            "host_ops": ops_per_step,
            "integrity": integrity,
            # (cpu_ops carrying Input Dims, cpu_ops): whether the trace was recorded with shapes
            "ops_with_shapes": (collector.with_dims, collector.cpu_events),
        },
    )


def _ops_per_step(collector: _Collector) -> dict[int | None, int]:
    """cpu_ops recorded per ProfilerStep number (the key None: the whole trace), for the profiler's
    own host overhead, which is paid per recorded op."""
    starts = np.frombuffer(collector.ops.start, dtype=np.int64) if len(collector.ops) else np.zeros(0, np.int64)
    counts: dict[int | None, int] = {None: int(len(starts))}
    if not collector.steps or not len(starts):
        return counts
    starts = np.sort(starts)
    for step in collector.steps:
        inside = int(np.searchsorted(starts, step.end_ns, "right") - np.searchsorted(starts, step.start_ns, "left"))
        counts[step.number] = counts.get(step.number, 0) + inside
    return counts


# The deviceProperties fields device identification uses (hardware/trace_device.py), kept as the
# trace has them: integers must be integers, text is escaped.
_DEVICE_INT_KEYS = ("id", "totalGlobalMem", "computeMajor", "computeMinor", "numSms", "warpSize")
_DEVICE_TEXT_KEYS = ("name", "gcnArchName")


def device_properties(header: dict[str, Any], trailer: dict[str, Any]) -> list[dict[str, Any]]:
    """The trace's ``deviceProperties`` entries, from the keys before ``traceEvents`` or, as
    some exporters write them, after it; only the fields identification reads, validated."""
    props = header.get("deviceProperties")
    if not isinstance(props, list):
        props = trailer.get("deviceProperties")
    if not isinstance(props, list):
        return []
    entries = []
    for index, raw in enumerate(props):
        if not isinstance(raw, dict):
            continue
        entry: dict[str, Any] = {"id": index}
        for key in _DEVICE_INT_KEYS:
            value = raw.get(key)
            if type(value) is int and 0 <= value < 2**62:
                entry[key] = value
        for key in _DEVICE_TEXT_KEYS:
            value = raw.get(key)
            if isinstance(value, str):
                entry[key] = escape_controls(value[:256])
        entries.append(entry)
    return entries


def _main_device(events: EventTable, entries: list[dict[str, Any]]) -> int | None:
    """The id of the device most GPU events ran on, when the trace lists it; else the first."""
    if len(events.device):
        ids, counts = np.unique(events.device, return_counts=True)
        busiest = int(ids[int(np.argmax(counts))])
        if any(e["id"] == busiest for e in entries):
            return busiest
    return entries[0]["id"] if entries else None


def _build_events(collector: _Collector, warnings: list[str]) -> EventTable:
    """Link, cost and order the collected GPU events; times become relative to the trace origin."""
    from roofline.sources.kineto_cost import attribute_costs

    origin = time_origin(collector.gpu, collector.runtime, [step.start_ns for step in collector.steps])
    for step in collector.steps:
        step.start_ns -= origin
        step.end_ns -= origin
    collector.syncs = [(name, start - origin, dur) for name, start, dur in collector.syncs]
    steps = [(s.number, s.start_ns, s.end_ns) for s in collector.steps]
    table, instance, op_row = link_events(collector.gpu, collector.ops, collector.runtime, steps, origin,
                                          GRAPH_LAUNCH_APIS)
    row_signature = op_signatures(collector.ops)
    op_code = np.array([table.ops.code(name) for name, _ in collector.signature_table] or [0], np.int32)
    linked = op_row >= 0
    table.op[linked] = op_code[row_signature[op_row[linked]]]
    attribute_costs(table, instance, op_row, row_signature, collector.signature_table, warnings)
    _collectives_from_ops(table, op_row, row_signature, collector.signature_table)
    return table.reorder(np.lexsort((table.start_ns, table.device)))


def _collectives_from_ops(table: EventTable, op_row: np.ndarray, row_signature: np.ndarray,
                          signatures: list[tuple[str, dict[str, Any]]]) -> None:
    """A collective kernel whose own args record nothing (older PyTorch) takes the call its
    launching record_param_comms op recorded."""
    if not len(table):
        return
    bare = np.flatnonzero((table.comm == 0) & (op_row >= 0))
    if not len(bare):
        return
    calls = [args.get("collective") for _, args in signatures]
    if not any(calls):
        return
    code = np.array([0 if call is None else table.comms.code(call) for call in calls], np.int32)
    table.comm[bare] = code[row_signature[op_row[bare]]]


register_reader("kineto", description="PyTorch profiler trace (.json / .json.gz)", sniff=_sniff)(read_kineto)
