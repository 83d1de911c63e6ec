"""Column stores for the kineto reader, and the linking pass that turns them into an
:class:`~roofline.analysis.event_table.EventTable`.

A 5 GB trace has ~8 M cpu_ops, ~2 M runtime calls and ~2 M kernels. Kept as tuples in dicts they
cost ~250 bytes each and, allocated between the parser's short-lived objects, pin its memory
arenas (measured: 1.2 GB resident for a 1 GB trace). Here each record is a row of ``array.array``
columns (8 bytes a field, one growing buffer per column), and linking kernel → launch call → op is
a handful of sorts and binary searches over whole columns.

The stores keep the collector's interface (``gpu.append(record)``, ``ops[external] = record``,
``loose_ops.append(record)``, ``runtime[correlation] = record``): the event loop that validates
each field does not change. Dict semantics are kept where they matter: a repeated External id or
correlation id resolves to the last record with that id.

Times are kept as the trace writes them, µs floats, while reading (``start_us``, ``dur_us``), and
turned into int64 ns columns (``start``, ``dur``) for the whole store at once by ``finish()``:
rounding each of 5 M values a GB in Python was a tenth of the read. ``np.rint`` rounds half to even
as ``round()`` does, on the same float64 product, so the ns are the same.
"""

from __future__ import annotations

import bisect
from array import array
from typing import Any

import numpy as np

from roofline.analysis.event_table import KINDS, MISSING, EventTable, StringTable

CODE_BASE = 1 << 62


class LinkIds:
    """int64 codes for link ids (External id, correlation, thread id): integers as themselves,
    anything else (strings, integers past 2**62) as codes above 2**62, equal values equal codes."""

    def __init__(self) -> None:
        self.others: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        if value is None:
            return MISSING
        if type(value) is int and -CODE_BASE < value < CODE_BASE:
            return value
        code = self.others.get(value)
        if code is None:
            code = self.others[value] = CODE_BASE + len(self.others)
        return code


def ns_column(microseconds: array, *, clamp_negative: bool = False) -> np.ndarray:
    """A column of µs (float64) as int64 ns, each ``round(us * 1000.0)``; negative ones 0 with
    ``clamp_negative``. The reader bounds every time so the ns fit an int64."""
    values = np.frombuffer(microseconds, np.float64) if len(microseconds) else np.zeros(0)
    ns = np.rint(values * 1000.0)
    if clamp_negative:
        np.maximum(ns, 0.0, out=ns)
    return ns.astype(np.int64)


def _release(owner: object, *names: str) -> None:
    """Drop columns already converted: rebound to empty ones, so their memory goes back once the
    last view of it is gone. (Emptying them in place raises BufferError while a view is alive —
    and a sampling profiler, as in a dask worker, can hold a frame whose locals still view one.)"""
    for name in names:
        setattr(owner, name, array(getattr(owner, name).typecode))


def _truncate(columns: tuple[array, ...], size: int) -> None:
    """Undo a partly appended row: a value out of range (OverflowError) must leave the columns
    aligned; the caller re-raises, and the event is counted as malformed."""
    for column in columns:
        del column[size:]


def _int3(value: Any) -> tuple[int, int, int] | None:
    if not isinstance(value, list) or len(value) < 3:
        return None
    out = []
    for item in value[:3]:
        try:
            out.append(int(item))
        except (TypeError, ValueError, OverflowError):
            out.append(0)
    return (out[0], out[1], out[2])


class GpuColumns:
    """GPU activities: (kind, name, start_us, dur_us, device, stream, correlation, external_id,
    bytes, grid, block, collective call or None) per row; ``start``/``dur`` in ns after ``finish()``."""

    def __init__(self, ids: LinkIds) -> None:
        self.ids = ids
        self.names = StringTable(with_none=False)
        self.grids = StringTable()
        self.blocks = StringTable()
        self.comms = StringTable()
        self.kind = array("b")
        self.name = array("i")
        self.start_us = array("d")
        self.dur_us = array("d")
        self.device = array("q")
        self.stream = array("q")
        self.correlation = array("q")
        self.external = array("q")
        self.bytes = array("d")
        self.grid = array("i")
        self.block = array("i")
        self.comm = array("i")
        self._columns = (self.kind, self.name, self.start_us, self.dur_us, self.device, self.stream, self.correlation,
                         self.external, self.bytes, self.grid, self.block, self.comm)
        self._kinds = {kind: code for code, kind in enumerate(KINDS)}

    def append(self, record: tuple) -> None:
        kind, name, start, dur, device, stream, correlation, external, nbytes, grid, block, comm = record
        if not (type(correlation) is int and -CODE_BASE < correlation < CODE_BASE):
            correlation = self.ids.code(correlation)
        if not (type(external) is int and -CODE_BASE < external < CODE_BASE):
            external = self.ids.code(external)
        name_code = self.names.codes.get(name)
        if name_code is None:
            name_code = self.names.code(name)
        size = len(self.kind)
        try:
            self.kind.append(self._kinds[kind])
            self.name.append(name_code)
            self.start_us.append(start)
            self.dur_us.append(dur)
            self.device.append(device)
            self.stream.append(stream)
            self.correlation.append(correlation)
            self.external.append(external)
            self.bytes.append(np.nan if nbytes is None else float(nbytes))
            self.grid.append(_code3(self.grids, grid))
            self.block.append(_code3(self.blocks, block))
            self.comm.append(0 if comm is None else self.comms.code(comm))
        except (OverflowError, TypeError):
            _truncate(self._columns, size)
            raise

    def finish(self) -> None:
        self.start, self.dur = ns_column(self.start_us), ns_column(self.dur_us)
        _release(self, "start_us", "dur_us")

    def __len__(self) -> int:
        return len(self.kind)


def _code3(table: StringTable, value: Any) -> int:
    """Code of a grid/block ``[x, y, z]`` as an (int, int, int) tuple; 0 for none."""
    if value is None:
        return 0
    try:
        key = tuple(value) if type(value) is list else None
        code = table.codes.get(key)  # the raw triple is usually already known
        if code is not None and key is not None:
            return code
    except TypeError:  # unhashable items: convert them
        pass
    return table.code(_int3(value))


class OpColumns:
    """cpu_ops: External id (MISSING for ops without one), signature, start_us, dur_us and thread
    per row, appended column by column by the reader's event loop; ``start``/``dur`` in ns (negative
    durations 0) after ``finish()``."""

    def __init__(self, ids: LinkIds) -> None:
        self.ids = ids
        self.external = array("q")
        self.signature = array("i")
        self.start_us = array("d")
        self.dur_us = array("d")
        self.tid = array("q")

    def finish(self) -> None:
        self.start, self.dur = ns_column(self.start_us), ns_column(self.dur_us, clamp_negative=True)
        _release(self, "start_us", "dur_us")

    def __len__(self) -> int:
        return len(self.external)


class RuntimeColumns:
    """Runtime/driver calls with a correlation id: (api, start_us, dur_us, tid, external_id[,
    copy_bytes]); ``start``/``dur`` in ns (negative durations 0) after ``finish()``. ``copy_bytes``
    is the ``size`` a copy call records (ROCm's ``hipMemcpyWithStream``), NaN where none."""

    def __init__(self, ids: LinkIds) -> None:
        self.ids = ids
        self.apis = StringTable()
        self.correlation = array("q")
        self.api = array("i")
        self.start_us = array("d")
        self.dur_us = array("d")
        self.tid = array("q")
        self.external = array("q")
        self.copy_bytes = array("d")
        self._columns = (self.correlation, self.api, self.start_us, self.dur_us, self.tid, self.external,
                         self.copy_bytes)

    def __setitem__(self, correlation: Any, record: tuple) -> None:
        name, start, dur, tid, external = record[:5]
        copy_bytes = record[5] if len(record) > 5 and record[5] is not None else np.nan
        code = self.ids.code
        if not (type(correlation) is int and -CODE_BASE < correlation < CODE_BASE):
            correlation = code(correlation)
        if not (type(tid) is int and -CODE_BASE < tid < CODE_BASE):
            tid = code(tid)
        if not (type(external) is int and -CODE_BASE < external < CODE_BASE):
            external = code(external)
        api = self.apis.codes.get(name)
        if api is None:
            api = self.apis.code(name)
        size = len(self.correlation)
        try:
            self.correlation.append(correlation)
            self.api.append(api)
            self.start_us.append(start)
            self.dur_us.append(dur)
            self.tid.append(tid)
            self.external.append(external)
            self.copy_bytes.append(copy_bytes)
        except (OverflowError, TypeError):
            _truncate(self._columns, size)
            raise

    def finish(self) -> None:
        self.start, self.dur = ns_column(self.start_us), ns_column(self.dur_us, clamp_negative=True)
        _release(self, "start_us", "dur_us")

    def __len__(self) -> int:
        return len(self.correlation)


def _np(column: array, dtype: Any) -> np.ndarray:
    return np.frombuffer(column, dtype=dtype) if len(column) else np.zeros(0, dtype)


class _Index:
    """Lookup from id to the row of its last record (dict semantics), over whole columns."""

    def __init__(self, keys: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        last = np.ones(len(ordered), bool)
        if len(ordered) > 1:
            last[:-1] = ordered[1:] != ordered[:-1]
        last &= ordered != MISSING
        self.keys = ordered[last]
        del ordered  # millions of ops: keep the peak to three columns, not four
        self.rows = order[last]

    def rows_of(self, queries: np.ndarray) -> np.ndarray:
        """Row of each query's last record, or -1."""
        if not len(self.keys) or not len(queries):
            return np.full(len(queries), -1, np.int64)
        position = np.searchsorted(self.keys, queries)
        position = np.minimum(position, len(self.keys) - 1)
        found = (self.keys[position] == queries) & (queries != MISSING)
        return np.where(found, self.rows[position], -1)


def kept_runtime_rows(runtime: RuntimeColumns) -> np.ndarray:
    """Rows of the runtime calls a correlation id resolves to (the last of each id)."""
    return _Index(_np(runtime.correlation, np.int64)).rows


class _Enclosing:
    """Innermost op on a thread whose span encloses a time: the fallback link for kernels whose
    events carry no usable External id (older PyTorch)."""

    def __init__(self, ops: OpColumns, candidate_rows: np.ndarray) -> None:
        tid = _np(ops.tid, np.int64)[candidate_rows]
        start = _np(ops.start, np.int64)[candidate_rows]
        order = np.lexsort((candidate_rows, start, tid))
        self.rows = candidate_rows[order]
        self.tid = tid[order]
        self.start = start[order]
        self.dur = _np(ops.dur, np.int64)[self.rows]

    def find(self, tid: int, at_ns: int) -> int:
        lo = bisect.bisect_left(self.tid, tid)
        hi = bisect.bisect_right(self.tid, tid)
        if lo == hi:
            return -1
        index = int(np.searchsorted(self.start[lo:hi], at_ns, side="right")) - 1 + lo
        for i in range(index, max(lo, index - 64) - 1, -1):
            if i < lo:
                break
            if self.start[i] <= at_ns <= self.start[i] + self.dur[i]:
                return int(self.rows[i])
        return -1


def link_events(
    gpu: GpuColumns,
    ops: OpColumns,
    runtime: RuntimeColumns,
    steps: list[tuple[int, int, int]],
    origin: int,
    graph_apis: set[str],
) -> tuple[EventTable, np.ndarray, np.ndarray]:
    """The GPU events as a table, with times relative to ``origin``, each linked to its launch call
    and op, and to the step (times already relative) whose span holds its launch. Returns (table, op instance per event or -1, op row per event or -1): the instance
    tells which events one op call launched (their cost is shared), the row gives its signature.
    """
    size = len(gpu)
    table = EventTable.empty(size)
    table.names = gpu.names
    table.grids = gpu.grids
    table.blocks = gpu.blocks
    table.apis = StringTable(runtime.apis.values[1:])
    table.kind[:] = _np(gpu.kind, np.int8)
    table.name[:] = _np(gpu.name, np.int32)
    table.device[:] = _np(gpu.device, np.int64)
    table.stream[:] = _np(gpu.stream, np.int64)
    table.start_ns[:] = _np(gpu.start, np.int64) - origin
    table.dur_ns[:] = _np(gpu.dur, np.int64)
    correlation = _np(gpu.correlation, np.int64)
    table.correlation[:] = correlation
    table.bytes[:] = _np(gpu.bytes, np.float64)
    table.grid[:] = _np(gpu.grid, np.int32)
    table.block[:] = _np(gpu.block, np.int32)
    table.comms = gpu.comms
    table.comm[:] = _np(gpu.comm, np.int32)

    # Kernel → launch call, by correlation id.
    call = _Index(_np(runtime.correlation, np.int64)).rows_of(correlation)
    has_call = call >= 0
    calls = call[has_call]
    table.api[has_call] = _np(runtime.api, np.int32)[calls]
    table.launch_start_ns[has_call] = _np(runtime.start, np.int64)[calls] - origin
    table.launch_dur_ns[has_call] = _np(runtime.dur, np.int64)[calls]
    graph_codes = np.array([api in graph_apis for api in runtime.apis.values], bool)
    table.in_graph[has_call] = graph_codes[_np(runtime.api, np.int32)[calls]]
    # A copy with no byte count of its own takes the size its runtime call records (ROCm).
    sized = np.flatnonzero(has_call & np.isnan(table.bytes) & (table.kind == KINDS.index("memcpy")))
    if len(sized):
        table.bytes[sized] = _np(runtime.copy_bytes, np.float64)[call[sized]]

    # Kernel → op: its own External id, else its launch call's, else the enclosing op.
    op_ids = _np(ops.external, np.int64)
    by_external = _Index(op_ids)
    op_row = by_external.rows_of(_np(gpu.external, np.int64))
    instance = op_row.copy()
    via_call = (op_row < 0) & has_call
    if via_call.any():
        call_external = np.full(size, MISSING, np.int64)
        call_external[via_call] = _np(runtime.external, np.int64)[call[via_call]]
        found = by_external.rows_of(call_external)
        op_row = np.where(via_call, found, op_row)
        instance = op_row.copy()
    enclose = np.flatnonzero((op_row < 0) & has_call & ~table.in_graph)
    if len(enclose) and len(ops):
        candidates = np.union1d(by_external.rows, np.flatnonzero(op_ids == MISSING))
        enclosing = _Enclosing(ops, candidates)
        tids = _np(runtime.tid, np.int64)[call[enclose]]
        ats = _np(runtime.start, np.int64)[call[enclose]]
        for event, tid, at in zip(enclose.tolist(), tids.tolist(), ats.tolist()):
            row = enclosing.find(tid, at)
            if row >= 0:
                op_row[event] = row
                instance[event] = len(ops) + row  # an op found by time is its own instance

    # Step of each event: the ProfilerStep whose span holds its launch (else its start).
    if steps:
        ordered = sorted(steps, key=lambda s: s[1])
        numbers = np.array([s[0] for s in ordered], np.int64)
        starts = np.array([s[1] for s in ordered], np.int64)
        ends = np.array([s[2] for s in ordered], np.int64)
        at = np.where(has_call, table.launch_start_ns, table.start_ns)
        index = np.searchsorted(starts, at, side="right") - 1
        inside = index >= 0
        inside[inside] &= at[inside] <= ends[index[inside]]
        table.step[inside] = numbers[index[inside]]
    return table, instance, op_row


def time_origin(gpu: GpuColumns, runtime: RuntimeColumns, step_starts: list[int]) -> int:
    """The trace's base time: the earliest GPU activity, linked launch call or step."""
    candidates = [int(_np(gpu.start, np.int64).min())] if len(gpu) else []
    rows = kept_runtime_rows(runtime)
    if len(rows):
        candidates.append(int(_np(runtime.start, np.int64)[rows].min()))
    candidates.extend(step_starts)
    return min(candidates) if candidates else 0


def op_signatures(ops: OpColumns) -> np.ndarray:
    return _np(ops.signature, np.int32)
