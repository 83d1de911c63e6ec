"""Nsight Systems GPU trace: the CSV of ``nsys stats --report cuda_gpu_trace --format csv``.

One row per kernel, memcpy and memset, with start, duration, correlation id, launch shape, device,
stream and name. It carries no FLOPs and no bytes for kernels, so it gives a timeline, not a
roofline; see docs/inputs-nsys.md for what can be derived from it and which header variants are read.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from roofline.analysis.events import GpuEvent, finish_copy
from roofline.errors import InputError
from roofline.safetext import escape_controls, has_controls
from roofline.sources.base import LoadedInput, register_reader
from roofline.sources.gzipcap import GzipStream, is_gzip

UNKNOWN_REASON = (
    "Nsight Systems exports carry no FLOPs or bytes; "
    "declare them or use a kineto trace / Nsight Compute export"
)
EXPORT = "export it with: nsys stats --report cuda_gpu_trace --format csv --output out report.nsys-rep"
REQUIRED = ("start", "duration", "strm", "name")
# nsys prints a few lines ("Generating SQLite file ...", "Processing [...] with [...]...") before the
# table; the header is searched for this far down, so that a large unrelated file is not read whole.
HEADER_SEARCH_LINES = 200

# Header cells are "Start (ns)" (recent), "Start(sec)" (2021 "gputrace"), "Start" (no unit: nsys's
# documented default is ns) or the report script's raw alias "Start:ts_ns".
_CELL = re.compile(r"^\s*(?P<base>[^(:]*?)\s*(?:\((?P<unit>[^()]*)\)|:(?P<tag>\w+))?\s*$")
_TIME_NS = {"": 1, "ns": 1, "nsec": 1, "us": 10**3, "usec": 10**3, "µs": 10**3, "ms": 10**6, "msec": 10**6,
            "s": 10**9, "sec": 10**9}
# nsys prints memory sizes with decimal prefixes: a 4,194,304-byte copy shows as "4.194" under
# "Bytes (MB)". "MiB" (binary) and plain bytes are read as labelled.
_BYTES = {"": 1, "b": 1, "byte": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}
_DEVICE = re.compile(r"^(?P<name>.*?)\s*\((?P<index>\d+)\)\s*$")  # "NVIDIA H200 (0)"
Columns = dict[str, tuple[int, str, str]]  # base name -> (index, label as written, unit)
_Row = tuple[Path, int, list[str], Columns]  # file, line number, fields, columns


def split_cell(cell: str) -> tuple[str, str]:
    """``"Duration (ns)"`` -> ``("duration", "ns")``; ``"Bytes:mem_B"`` -> ``("bytes", "b")``."""
    match = _CELL.match(cell.replace("\ufeff", ""))
    if not match:
        return cell.strip().lower(), ""
    unit = match["unit"] if match["unit"] is not None else (match["tag"] or "").rpartition("_")[2]
    return match["base"].strip().lower(), unit.strip().lower()


def looks_like_header(cells: list[str]) -> bool:
    bases = {split_cell(c)[0] for c in cells}
    return {"start", "duration"} <= bases and bool(bases & {"corrid", "strm", "name"})


def _sniff(path: Path, head: bytes) -> bool:
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for line in text.splitlines()[:HEADER_SEARCH_LINES]:
        # nsys's own preamble (or its "SKIPPED: ... does not contain ..." line) claims the file too, so
        # that an export with no GPU rows gets nsys's reason rather than "unrecognised format".
        if "cuda_gpu_trace" in line and ("Processing" in line or "SKIPPED" in line or "**" in line):
            return True
        try:
            if looks_like_header(next(csv.reader([line]), [])):
                return True
        except csv.Error:
            continue
    return False


def _open(path: Path) -> IO[str]:
    # newline="" lets csv handle CRLF and newlines inside quoted names; utf-8-sig drops a BOM;
    # "replace" keeps one odd byte in a kernel name from becoming a UnicodeDecodeError.
    if is_gzip(path):  # capped against zip bombs; a cut-short stream ends like a truncated file
        raw = io.BufferedReader(GzipStream(path), buffer_size=1 << 20)
        return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


class _Recorder:
    """Line source for csv.reader that remembers the raw text of the record being parsed: the only
    way to tell a last row cut inside its quoted name (csv silently closes the quote at EOF)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines: Iterator[str] = lines
        self.raw: list[str] = []

    def __iter__(self) -> _Recorder:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.raw.append(line)
        return line

    def take(self) -> str:
        text, self.raw = "".join(self.raw), []
        return text


def number(text: str) -> Decimal | None:
    """A cell as a Decimal (exact, so seconds with 6 decimals become exact ns); None when empty.
    Thousands separators are dropped: nsys does not write them, but spreadsheets re-saving it do."""
    cleaned = text.strip().replace(",", "").replace("_", "").replace(" ", "").replace("\u202f", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


def _header_hint(bases: set[str]) -> str:
    if "tid" in bases or "result" in bases:
        return " (this looks like the cuda_api_trace report)"
    if "stream" in bases:
        return " (this looks like an nvprof --print-gpu-trace CSV)"
    return ""


def _columns(path: Path, line: int, cells: list[str]) -> Columns:
    """Columns by base name, checking that the required ones are there and their units are known."""
    columns: Columns = {}
    for index, cell in enumerate(cells):
        base, unit = split_cell(cell)
        columns.setdefault(base, (index, cell.strip(), unit))
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        names = ", ".join({"start": "Start", "duration": "Duration", "strm": "Strm", "name": "Name"}[m]
                          for m in missing)
        hint = _header_hint(set(columns))
        raise InputError(f"header lacks required column(s) {names}{hint}", file=path, place=f"line {line}",
                         fix=EXPORT)
    for base, table in (("start", _TIME_NS), ("duration", _TIME_NS), ("bytes", _BYTES)):
        if base in columns and columns[base][2] not in table:
            raise InputError(f"column '{columns[base][1]}' has an unknown unit", file=path,
                             place=f"line {line}", fix=f"units read: {', '.join(u for u in table if u)}")
    return columns


def _find_header(path: Path, handle: IO[str]) -> tuple[int, list[str]]:
    said = ""
    for line_no, line in enumerate(handle, start=1):
        if line_no > HEADER_SEARCH_LINES:
            break
        if "does not contain" in line or line.startswith(("SKIPPED", "ERROR")):
            said = line.strip()  # nsys's reason for writing no table
        try:
            cells = next(csv.reader([line]), [])
        except csv.Error:
            continue
        if looks_like_header(cells):
            return line_no, cells
    if said:
        raise InputError(f"nsys wrote no GPU trace table: {said}", file=path,
                         fix="profile with --trace=cuda so kernels and copies are recorded, then re-export")
    raise InputError(f"no cuda_gpu_trace header (Start, Duration, ..., Strm, Name) in the first "
                     f"{HEADER_SEARCH_LINES} lines", file=path, fix=EXPORT)


# Times, sizes and ids are int64 in nsys's database; a longer number is a damaged cell (and would
# overflow float arithmetic downstream).
MAX_CELL_VALUE = 2**63 - 1


def _int(row: _Row, base: str, scale: int = 1, required: bool = False) -> int | None:
    """A numeric cell as integer (ns, bytes, ids); InputError naming line and column if it is not one."""
    path, line, fields, columns = row
    text = fields[columns[base][0]] if base in columns else ""
    if text.isascii() and text.isdigit() and len(text) < 19:  # plain digits, the common case: no Decimal
        return int(text) * scale
    try:
        value = number(text)
        bad = value is not None and not 0 <= value * scale <= MAX_CELL_VALUE
    except (ValueError, ArithmeticError):  # decimal.Overflow: "1e999999999" ns
        value, bad = None, True
    if bad or (required and value is None):
        raise InputError(f"{text.strip()[:40]!r} is not a non-negative number below 2**63", file=path,
                         place=f"line {line}, column '{columns[base][1]}'",
                         fix=f"the export is damaged or was edited; {EXPORT}")
    return None if value is None else int((value * scale).to_integral_value(ROUND_HALF_EVEN))


def _triple(row: _Row, prefix: str) -> tuple[int, int, int] | None:
    x, y, z = (_int(row, prefix + axis) for axis in "xyz")
    return None if x is None or y is None or z is None else (x, y, z)


def _event(row: _Row, device: int) -> GpuEvent:
    _, _, fields, columns = row
    name = escape_controls(fields[columns["name"][0]].strip())
    # nsys names copies "[CUDA memcpy Host-to-Device]" (older: "[CUDA memcpy HtoD]"), fills "[CUDA memset]".
    kind = next((k for k in ("memcpy", "memset") if name.startswith(f"[CUDA {k}")), "kernel")
    event = GpuEvent(
        kind=kind,
        name=name,
        device=device,
        stream=_int(row, "strm", required=True) or 0,
        start_ns=_int(row, "start", _TIME_NS[columns["start"][2]], required=True) or 0,
        dur_ns=_int(row, "duration", _TIME_NS[columns["duration"][2]], required=True) or 0,
        correlation=_int(row, "corrid"),
        grid=_triple(row, "grd"),
        block=_triple(row, "blk"),
    )
    if kind == "kernel":
        event.unknown_reason = UNKNOWN_REASON
    else:
        # A copy or fill does no arithmetic; its size is in the trace (to the export's 1 kB resolution).
        event.flops = 0.0
        size = _int(row, "bytes", _BYTES[columns["bytes"][2]]) if "bytes" in columns else None
        event.bytes = None if size is None else float(size)
        if size is None:
            event.unknown_reason = "the export gives no Bytes value for this operation"
        else:
            event.source = "trace"
        finish_copy(event)
    return event


def _rows(
    path: Path, handle: IO[str], header_line: int, width: int, warnings: list[str]
) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data row. A row is yielded once the next one is read, so that the
    last row is known to be last: a file cut mid-write loses only that one, with a warning."""
    recorder = _Recorder(handle)
    reader = csv.reader(recorder)
    pending: tuple[int, list[str], str] | None = None
    while True:
        try:
            fields = next(reader, None)
        except csv.Error as exc:
            place = f"line {header_line + reader.line_num}"
            raise InputError(f"unreadable CSV: {exc}", file=path, place=place, fix=EXPORT) from None
        if fields is not None and not any(f.strip() for f in fields):
            recorder.take()
            continue  # blank lines: nsys ends its output with one
        if pending is not None:
            line, row, raw = pending
            cut = len(row) < width or (raw.count('"') % 2 == 1 and not raw.endswith("\n"))
            if cut and fields is None:
                why = f"{len(row)} of {width} fields" if len(row) < width else "its quoted name is cut short"
                warnings.append(f"line {line}: the last row is truncated ({why}); dropped")
            elif len(row) < width:
                raise InputError(f"row has {len(row)} fields, the header has {width}", file=path,
                                 place=f"line {line}", fix=f"the file is damaged or mixes reports; {EXPORT}")
            else:
                yield line, row
        if fields is None:
            return
        pending = (header_line + reader.line_num, fields, recorder.take())


def _fit(path: Path, line: int, fields: list[str], width: int, name_at: int) -> tuple[list[str], bool]:
    """An unquoted kernel name with commas ("void k<128, 4>(...)") spills into extra fields; Name is
    the last column in every nsys version, so they belong to it. Returns (fields, rejoined)."""
    if len(fields) == width:
        return fields, False
    if name_at == width - 1:
        return fields[:name_at] + [",".join(fields[name_at:])], True
    raise InputError(f"row has {len(fields)} fields, the header has {width}", file=path, place=f"line {line}",
                     fix=f"quote names that contain commas, or {EXPORT}")


def _device(label: str, known: dict[str, tuple[int, str | None]]) -> int:
    """Index of a Device cell ("NVIDIA H200 (0)": name and CUDA device id), remembered in ``known``."""
    if label not in known:
        match = _DEVICE.match(label)
        index = int(match["index"]) if match else len(known)
        known[label] = (index, (match["name"] if match else label) or None)
    return known[label][0]


@register_reader("nsys", description="Nsight Systems cuda_gpu_trace CSV (nsys stats)", sniff=_sniff)
def read_nsys(path: Path) -> LoadedInput:
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("file is empty", file=path, fix=EXPORT)
    warnings: list[str] = []
    events: list[GpuEvent] = []
    devices: dict[str, tuple[int, str | None]] = {}
    rejoined = zero_sized = unsafe = 0
    try:
        with _open(path) as handle:
            header_line, cells = _find_header(path, handle)
            columns = _columns(path, header_line, cells)
            width, name_at = len(cells), columns["name"][0]
            for line, fields in _rows(path, handle, header_line, width, warnings):
                fields, spilled = _fit(path, line, fields, width, name_at)
                rejoined += spilled
                label = fields[columns["device"][0]].strip() if "device" in columns else ""
                event = _event((path, line, fields, columns), _device(escape_controls(label), devices))
                unsafe += not fields[name_at].isprintable() and has_controls(fields[name_at])
                # Only a scaled column ("Bytes (MB)", 3 decimals) rounds a small size down to 0.
                zero_sized += event.kind != "kernel" and event.bytes == 0 and _BYTES[columns["bytes"][2]] > 1
                events.append(event)
            stream = getattr(getattr(handle, "buffer", None), "raw", None)
            if isinstance(stream, GzipStream) and stream.truncated:
                warnings.append("the gzip stream is truncated: the rows before the cut were read")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None
    if not events:
        raise InputError("the GPU trace has a header but no complete rows", file=path,
                         fix="profile with --trace=cuda over a region that launches GPU work, then re-export")
    if rejoined:
        warnings.append(f"{rejoined} row(s) had an unquoted kernel name with commas; the name was rejoined")
    if unsafe:
        warnings.append(f"{unsafe} kernel name(s) hold control characters: shown escaped (\\x1b)")
    if zero_sized:
        warnings.append(f"{zero_sized} memcpy/memset row(s) show 0 bytes: the export prints sizes to 1 kB, "
                        "so operations under 500 bytes read as 0")
    names = sorted({name for _, name in devices.values() if name})
    if len(names) > 1:
        warnings.append(f"the trace spans several device models ({', '.join(names)}); none is named")
    elif "device" not in columns:
        warnings.append("no Device column: every event is put on device 0 and no device is named")
    base = min(event.start_ns for event in events)
    for event in events:
        event.start_ns -= base  # relative to the earliest event, as every timeline reader gives it
    events.sort(key=lambda event: event.start_ns)  # stable: nsys's own order breaks ties
    return LoadedInput(
        path=path,
        format="nsys",
        events=events,
        device_name=names[0] if len(names) == 1 else None,
        warnings=warnings,
        extra={"devices": dict(sorted(devices.values(), key=lambda pair: pair[0])), "base_ns": base},
    )
