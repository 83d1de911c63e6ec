"""The GPU timeline in columns: one numpy array per :class:`GpuEvent` field, strings interned in
small tables. A gigabyte trace holds millions of kernels; as Python objects each costs ~430 bytes
(the slots, its boxed integers and floats), as columns ~100, and the analysis runs on whole arrays
instead of looping over objects. This is what keeps ``roofline classify`` of a 5 GB trace under
1.5 GB of memory (docs/performance.md).

The table is also a read-only ``Sequence[GpuEvent]``: code written for event lists (charts, the
annotated trace, the gate) iterates it unchanged; the objects are built on first use and cached.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from roofline.analysis.events import GpuEvent
from roofline.precision import Precision, Unit

# "No value" in an integer column (correlation, launch times, step).
MISSING = np.iinfo(np.int64).min
KINDS = ("kernel", "memcpy", "memset")
SOURCES = ("none", "shapes", "counters", "declared", "trace")
LINKS = ("dram", "host", "peer")
PRECISIONS: tuple[Precision, ...] = tuple(Precision)
UNITS: tuple[Unit, ...] = tuple(Unit)

_INT_COLUMNS = ("device", "stream", "start_ns", "dur_ns", "correlation", "launch_start_ns", "launch_dur_ns", "step")
_CODE_COLUMNS = ("kind", "name", "op", "api", "precision", "unit", "source", "reason", "grid", "block", "link", "comm")


class StringTable:
    """Interned values (names, ops, grids …) and their codes; code 0 is ``None`` where allowed."""

    def __init__(self, values: Sequence[Any] = (), *, with_none: bool = True) -> None:
        self.values: list[Any] = [None] if with_none else []
        self.codes: dict[Any, int] = {None: 0} if with_none else {}
        for value in values:
            self.code(value)

    def code(self, value: Any) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def __len__(self) -> int:
        return len(self.values)


@dataclass(eq=False)
class EventTable(Sequence[GpuEvent]):
    """Columns of equal length; ``names``/``ops``/``apis``/``reasons``/``grids``/``blocks`` decode
    the code columns of the same name. Floats are NaN where a GpuEvent field is ``None``; integer
    columns hold :data:`MISSING`; ``precision`` is -1 for ``None``.
    """

    kind: np.ndarray  # int8, index into KINDS
    name: np.ndarray  # int32, index into names
    op: np.ndarray  # int32, index into ops (0: no op)
    device: np.ndarray  # int64
    stream: np.ndarray  # int64
    start_ns: np.ndarray  # int64
    dur_ns: np.ndarray  # int64
    correlation: np.ndarray  # int64 or MISSING
    api: np.ndarray  # int32, index into apis (0: no launch call)
    launch_start_ns: np.ndarray  # int64 or MISSING
    launch_dur_ns: np.ndarray  # int64 or MISSING
    in_graph: np.ndarray  # bool
    flops: np.ndarray  # float64, NaN: unknown
    bytes: np.ndarray  # float64, NaN: unknown
    precision: np.ndarray  # int8, index into PRECISIONS, -1: none
    unit: np.ndarray  # int8, index into UNITS
    source: np.ndarray  # int8, index into SOURCES
    reason: np.ndarray  # int32, index into reasons (0: none)
    grid: np.ndarray  # int32, index into grids (0: none)
    block: np.ndarray  # int32, index into blocks (0: none)
    step: np.ndarray  # int64 or MISSING
    link: np.ndarray  # int8, index into LINKS
    comm: np.ndarray  # int32, index into comms: a collective's recorded call (0: none)
    names: StringTable = field(default_factory=lambda: StringTable(with_none=False))
    ops: StringTable = field(default_factory=StringTable)
    apis: StringTable = field(default_factory=StringTable)
    reasons: StringTable = field(default_factory=StringTable)
    grids: StringTable = field(default_factory=StringTable)
    blocks: StringTable = field(default_factory=StringTable)
    comms: StringTable = field(default_factory=StringTable)
    _objects: list[GpuEvent] | None = field(default=None, repr=False, compare=False)

    # --- construction ---------------------------------------------------------------------------

    @classmethod
    def empty(cls, size: int = 0) -> EventTable:
        ints = {name: np.full(size, MISSING, dtype=np.int64) for name in _INT_COLUMNS}
        for name in ("device", "stream", "start_ns", "dur_ns"):
            ints[name][:] = 0
        return cls(
            kind=np.zeros(size, np.int8), name=np.zeros(size, np.int32), op=np.zeros(size, np.int32),
            api=np.zeros(size, np.int32), in_graph=np.zeros(size, bool),
            flops=np.full(size, np.nan), bytes=np.full(size, np.nan), precision=np.full(size, -1, np.int8),
            unit=np.full(size, UNITS.index(Unit.VECTOR), np.int8), source=np.zeros(size, np.int8),
            reason=np.zeros(size, np.int32), grid=np.zeros(size, np.int32), block=np.zeros(size, np.int32),
            link=np.zeros(size, np.int8), comm=np.zeros(size, np.int32), **ints,
        )

    @classmethod
    def from_events(cls, events: Sequence[GpuEvent]) -> EventTable:
        """Columns of an event list (nsys, tests); ``to_events`` gives equal events back."""
        if isinstance(events, EventTable):
            return events
        table = cls.empty(len(events))
        opt = _optional
        for i, e in enumerate(events):
            table.kind[i] = KINDS.index(e.kind)
            table.name[i] = table.names.code(e.name)
            table.op[i] = table.ops.code(e.op)
            table.device[i] = e.device
            table.stream[i] = e.stream
            table.start_ns[i] = e.start_ns
            table.dur_ns[i] = e.dur_ns
            table.correlation[i] = opt(e.correlation)
            table.api[i] = table.apis.code(e.launch_api)
            table.launch_start_ns[i] = opt(e.launch_start_ns)
            table.launch_dur_ns[i] = opt(e.launch_dur_ns)
            table.in_graph[i] = e.in_graph
            table.flops[i] = np.nan if e.flops is None else e.flops
            table.bytes[i] = np.nan if e.bytes is None else e.bytes
            table.precision[i] = -1 if e.precision is None else PRECISIONS.index(e.precision)
            table.unit[i] = UNITS.index(e.unit)
            table.source[i] = SOURCES.index(e.source)
            table.reason[i] = table.reasons.code(e.unknown_reason)
            table.grid[i] = table.grids.code(e.grid)
            table.block[i] = table.blocks.code(e.block)
            table.step[i] = opt(e.step)
            table.link[i] = LINKS.index(e.link)
            table.comm[i] = table.comms.code(e.collective)
        return table

    def take(self, index: np.ndarray) -> EventTable:
        """The rows at ``index`` (an integer index or a boolean mask), sharing the string tables."""
        columns = {name: getattr(self, name)[index] for name in (*_INT_COLUMNS, *_CODE_COLUMNS,
                                                                  "in_graph", "flops", "bytes")}
        return EventTable(**columns, names=self.names, ops=self.ops, apis=self.apis, reasons=self.reasons,
                          grids=self.grids, blocks=self.blocks, comms=self.comms)

    def reorder(self, order: np.ndarray) -> EventTable:
        """Permute the rows in place, one column at a time (no second copy of the table)."""
        for name in (*_INT_COLUMNS, *_CODE_COLUMNS, "in_graph", "flops", "bytes"):
            setattr(self, name, getattr(self, name)[order])
        self._objects = None
        return self

    # --- derived columns ------------------------------------------------------------------------

    @property
    def end_ns(self) -> np.ndarray:
        return self.start_ns + self.dur_ns

    def has(self, column: str) -> np.ndarray:
        """Mask of rows where an optional integer column holds a value."""
        return getattr(self, column) != MISSING

    def name_mask(self, predicate: Any) -> np.ndarray:
        """Rows whose kernel name satisfies ``predicate`` (evaluated once per distinct name)."""
        per_code = np.fromiter((bool(predicate(n)) for n in self.names.values), bool, len(self.names))
        return per_code[self.name] if len(per_code) else np.zeros(len(self), bool)

    # --- the Sequence[GpuEvent] view ------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.start_ns)

    @overload
    def __getitem__(self, index: int) -> GpuEvent: ...
    @overload
    def __getitem__(self, index: slice) -> list[GpuEvent]: ...
    def __getitem__(self, index: int | slice) -> GpuEvent | list[GpuEvent]:
        return self.to_events()[index]

    def __iter__(self) -> Iterator[GpuEvent]:
        return iter(self.to_events())

    def to_events(self) -> list[GpuEvent]:
        """The rows as GpuEvent objects, built once (for code that works on event lists)."""
        if self._objects is None:
            self._objects = [self._event(i) for i in range(len(self))]
        return self._objects

    def _event(self, i: int) -> GpuEvent:
        def opt(column: np.ndarray) -> int | None:
            value = int(column[i])
            return None if value == MISSING else value

        flops, nbytes, precision = float(self.flops[i]), float(self.bytes[i]), int(self.precision[i])
        return GpuEvent(
            kind=KINDS[self.kind[i]],
            name=self.names.values[self.name[i]],
            device=int(self.device[i]),
            stream=int(self.stream[i]),
            start_ns=int(self.start_ns[i]),
            dur_ns=int(self.dur_ns[i]),
            correlation=opt(self.correlation),
            launch_api=self.apis.values[self.api[i]],
            launch_start_ns=opt(self.launch_start_ns),
            launch_dur_ns=opt(self.launch_dur_ns),
            in_graph=bool(self.in_graph[i]),
            op=self.ops.values[self.op[i]],
            flops=None if flops != flops else flops,
            bytes=None if nbytes != nbytes else nbytes,
            precision=None if precision < 0 else PRECISIONS[precision],
            unit=UNITS[self.unit[i]],
            source=SOURCES[self.source[i]],
            unknown_reason=self.reasons.values[self.reason[i]],
            grid=self.grids.values[self.grid[i]],
            block=self.blocks.values[self.block[i]],
            step=opt(self.step),
            link=LINKS[self.link[i]],
            collective=self.comms.values[self.comm[i]],
        )


def _optional(value: int | None) -> int:
    return MISSING if value is None else value


def rows_where(events: Sequence[GpuEvent], column: str, value: Any) -> Sequence[GpuEvent]:
    """The events whose ``column`` equals ``value``: a table stays a table, a list a list."""
    if isinstance(events, EventTable):
        return events.take(getattr(events, column) == (MISSING if value is None else value))
    return [e for e in events if getattr(e, column) == value]


def distinct(events: Sequence[GpuEvent], column: str) -> list[Any]:
    """Sorted distinct values of one field."""
    if isinstance(events, EventTable):
        return np.unique(getattr(events, column)).tolist()
    return sorted({getattr(e, column) for e in events})
