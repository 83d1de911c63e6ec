"""Streaming reader for Chrome-trace JSON (the kineto format): header keys, then the
``traceEvents`` array in bounded-memory batches, then trailing keys.

Memory stays bounded by one chunk of text plus what the caller keeps. The trick that makes it
fast: JSON never contains a raw newline inside a string, so a line that starts with ``{`` inside
the event array is a safe place to cut; each cut region is parsed by ``orjson`` in one call as
``[ … ]``. When the array is one long line (traces re-serialised by other tools), the cut is the
comma of ``}, {`` instead. A region that does not parse is taken apart event by event
(``jsonsalvage``): a damaged or truncated event is dropped and counted, never the rest of the file.
"""

from __future__ import annotations

import bisect
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from roofline.errors import InputError
from roofline.sources.gzipcap import MAX_DECOMPRESSED_BYTES, check_inflation
from roofline.sources.jsonsalvage import find_array_end, parse_robust, salvage_tail

# 4 MB of JSON decodes to ~40 MB of event dicts; 16 MB chunks made that transient the largest
# term of the peak (423 MB vs 153 MB reading a 0.2 GB trace, measured) and were no faster.
CHUNK_BYTES = 4 * 1024 * 1024
# Each chunk's events are parsed, and handed to the caller, in regions of about this size: the
# ~1 MB of dicts one decodes to stays in the processor's L2 cache while orjson builds it and the
# caller reads it. Reading the 0.2 GB bench trace (read_kineto, CPU s, 2-3 runs each on the
# development VM, 1 MB of L2 a core): 4 MB regions 4.4-4.7, 1 MB 4.0-4.1, 256 kB 3.9-4.6,
# 128 kB 2.4-2.8, 96 kB 2.4-3.0, 64 kB 2.3-2.8, 32 kB 2.7-3.0 (the per-region cost shows).
PARSE_BYTES = 96 * 1024
_EVENTS_KEY = re.compile(rb'"traceEvents"\s*:\s*\[')
_EVENT_START = re.compile(rb"\n[ \t]*\{")
# The whole array on one line (traces re-serialised by other tools): cut at the comma of "}, {".
_INLINE_EVENT_START = re.compile(rb",[ \t\r\n]*(?=\{)")
# The keys before "traceEvents" are a few kB; this much without it is not a kineto trace.
MAX_HEADER_BYTES = 256 * 1024 * 1024
# Without a cut in this much of the array, the text is no event array we can stream.
MAX_EVENT_BYTES = 256 * 1024 * 1024
# Bytes at the end of the buffer kept unparsed until more text (or the end) comes: more than any
# trailer a profiler writes (8 GPUs' deviceProperties are ~4 kB).
TRAILER_HOLDBACK = 1024 * 1024


@dataclass
class StreamState:
    header: dict[str, Any] = field(default_factory=dict)
    trailer: dict[str, Any] = field(default_factory=dict)
    events_seen: int = 0
    bytes_read: int = 0
    truncated: bool = False
    lost_bytes: int = 0
    # Damaged stretches of the event array that were dropped (each costs the events in it).
    skipped_regions: int = 0
    skipped_bytes: int = 0
    first_skipped_at: int | None = None  # byte offset in the (decompressed) JSON
    warnings: list[str] = field(default_factory=list)


class _CountingReader:
    """Reads raw bytes (decompressing gzip), counting compressed bytes for progress and refusing
    decompressed output past a cap. A gzip stream cut short yields what it had and flags it.
    """

    def __init__(self, path: Path, on_progress: Callable[[int], None] | None) -> None:
        self.path = path
        self.raw: BinaryIO = path.open("rb")
        magic = self.raw.read(2)
        self.raw.seek(0)
        self.gzip = magic == b"\x1f\x8b"
        self.decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.gzip else None
        self.on_progress = on_progress
        self.total_out = 0
        self.truncated = False

    def read(self, size: int) -> bytes:
        if not self.gzip:
            data = self.raw.read(size)
            if self.on_progress:
                self.on_progress(self.raw.tell())
            return data
        assert self.decompressor is not None
        out = bytearray()
        while len(out) < size:
            if self.decompressor.unconsumed_tail:
                chunk = self.decompressor.unconsumed_tail
            else:
                chunk = self.raw.read(1 << 20)
                if self.on_progress:
                    self.on_progress(self.raw.tell())
                if not chunk:
                    if not self.decompressor.eof:
                        self.truncated = True
                    break
            try:
                out += self.decompressor.decompress(chunk, size - len(out))
            except zlib.error as exc:
                if not out and self.total_out == 0:
                    raise InputError(f"corrupt gzip data ({exc})", file=self.path, fix="re-export the trace") from None
                self.truncated = True
                break
            if self.decompressor.eof:
                # A concatenated gzip member may follow; kineto writes one, so stop here.
                break
        self.total_out += len(out)
        # Zip bombs: capped in size and in ratio (sources/gzipcap.py).
        consumed = self.raw.tell() - len(self.decompressor.unconsumed_tail)
        check_inflation(self.path, consumed, self.total_out, MAX_DECOMPRESSED_BYTES)
        return bytes(out)

    def close(self) -> None:
        self.raw.close()


def _parse_header(text: bytes, path: Path) -> dict[str, Any]:
    body = text.strip()
    if not body.startswith(b"{"):
        raise InputError("not a JSON object", file=path, fix="expected a PyTorch profiler (kineto) trace")
    body = body.rstrip().rstrip(b",")
    try:
        parsed = orjson.loads(body + b"}")
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def iter_event_batches(
    path: Path,
    state: StreamState,
    *,
    on_progress: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[list[Any]]:
    """Yield lists of decoded trace events; fill ``state`` with header/trailer and damage report."""
    reader = _CountingReader(path, on_progress)
    try:
        yield from _iter_batches(reader, path, state, chunk_bytes)
    finally:
        reader.close()
    if reader.truncated:
        state.truncated = True


def _iter_batches(reader: _CountingReader, path: Path, state: StreamState, chunk_bytes: int) -> Iterator[list[Any]]:
    buffer = b""
    # 1. Header: everything before "traceEvents": [
    while True:
        chunk = reader.read(chunk_bytes)
        state.bytes_read += len(chunk)
        buffer += chunk
        match = _EVENTS_KEY.search(buffer)
        if match:
            state.header = _parse_header(buffer[: match.start()], path)
            buffer = b"\n" + buffer[match.end() :]
            break
        if buffer.lstrip()[:1] == b"[":  # a bare Chrome-trace event array: streamed the same way
            buffer = b"\n" + buffer[buffer.index(b"[") + 1 :]
            break
        if not chunk:
            yield from _whole_document(buffer, path, state, reader)
            return
        if len(buffer) > MAX_HEADER_BYTES:
            raise InputError(f"no 'traceEvents' array in the first {MAX_HEADER_BYTES // 2**20} MB", file=path,
                             fix="expected a PyTorch profiler (kineto) trace")
    # 2. Events, cut at lines that start with '{' (kineto's layout), or at "}, {" when the whole
    #    array is one line. A damaged event is dropped and reported (jsonsalvage), not the rest.
    cut_at = _EVENT_START
    eof = False
    found: list[int] = []  # cuts in the buffer so far, while fewer than two
    scanned = 0
    while True:
        if not eof:
            chunk = reader.read(chunk_bytes)
            state.bytes_read += len(chunk)
            eof = not chunk
            buffer += chunk
        if not eof:
            # A buffer still waiting for its second cut is scanned only past where the last scan
            # ended: a long stretch without one (garbage, a gzip bomb of spaces) stays linear.
            start = max(0, scanned - 64)
            cuts = [c for c in found if c < start] + _cuts(buffer, cut_at, start, PARSE_BYTES)
            found, scanned = cuts, len(buffer)
            if len(cuts) < 2:
                if cut_at is _EVENT_START and len(buffer) > 2 * chunk_bytes:
                    cut_at, found, scanned = _INLINE_EVENT_START, [], 0
                elif len(buffer) > MAX_EVENT_BYTES:
                    raise InputError(f"no boundary between events in {MAX_EVENT_BYTES // 2**20} MB of the event array",
                                     file=path, place=f"byte {state.bytes_read - len(buffer) + 1:,}",
                                     fix="the trace is damaged, or not a Chrome-trace event array")
                continue
            # The last TRAILER_HOLDBACK bytes wait for the next read: the keys after the array
            # ("deviceProperties": [{…}] of pretty-printed exports) must reach the final region
            # whole, where the array's end is found, not be parsed as events.
            usable = [c for c in cuts if c <= len(buffer) - TRAILER_HOLDBACK]
            if len(usable) < 2:
                continue
            offset = state.bytes_read - len(buffer) + 1
            consumed, size, last = 0, PARSE_BYTES, usable[-1]
            while consumed < last:
                end = usable[min(bisect.bisect_left(usable, consumed + size), len(usable) - 1)]
                parsed = parse_robust(buffer[consumed:end], cut_at, final=False)
                _note_skipped(state, parsed.skipped, offset + consumed)
                state.events_seen += len(parsed.events)
                if parsed.events:
                    yield parsed.events
                if consumed + parsed.consumed == end:
                    consumed, size = end, PARSE_BYTES
                    continue
                # An event that may continue past the region: the next region starts with it and
                # is twice as long (progress stays linear); past the last cut it waits for more text.
                consumed += parsed.consumed
                if end == last:
                    break
                size = 2 * (end - consumed) + PARSE_BYTES
            buffer, found, scanned = buffer[consumed:], [], 0
            continue
        # End of input: the last region holds the final events, the closing ']' and the trailer.
        start = state.bytes_read - len(buffer) + 1
        if cut_at is _EVENT_START and _EVENT_START.search(buffer, 1) is None:
            cut_at = _INLINE_EVENT_START  # a small one-line array
        end = find_array_end(buffer, cut_at)
        if end is None:
            state.truncated = True  # no closing bracket: the file was cut short
        else:
            buffer, state.trailer = buffer[: end[0]], end[1]
        parsed = parse_robust(buffer, cut_at, final=True)
        skipped = parsed.skipped
        if state.truncated and skipped and skipped[-1][1] == len(buffer):
            tail_start = skipped[-1][0]
            tail_events, used = salvage_tail(buffer[tail_start:])  # "{…}\n], "traceNa" keeps its event
            parsed.events.extend(tail_events)
            state.lost_bytes = len(buffer) - tail_start - used  # the incomplete last event
            skipped = skipped[:-1]
        _note_skipped(state, skipped, start)
        state.events_seen += len(parsed.events)
        if parsed.events:
            yield parsed.events
        return


def _cuts(buffer: bytes, cut_at: re.Pattern[bytes], start: int, step: int) -> list[int]:
    """Event starts in ``buffer`` from ``start``: the first, the next after it, then one at least
    every ``step`` bytes -- what splitting into regions needs, without a match per event (2.5 M a
    GB of kineto JSON)."""
    first = cut_at.search(buffer, start)
    if first is None:
        return []
    cuts = [first.start()]
    match = cut_at.search(buffer, first.start() + 1)
    while match is not None:
        cuts.append(match.start())
        match = cut_at.search(buffer, match.start() + step)
    return cuts


def _note_skipped(state: StreamState, skipped: list[tuple[int, int]], offset: int) -> None:
    for start, end in skipped:
        if state.first_skipped_at is None:
            state.first_skipped_at = offset + start
        state.skipped_regions += 1
        state.skipped_bytes += end - start


def _read_all(reader: _CountingReader, state: StreamState) -> bytes:
    parts = []
    while True:
        chunk = reader.read(CHUNK_BYTES)
        if not chunk:
            break
        state.bytes_read += len(chunk)
        parts.append(chunk)
    return b"".join(parts)


def _whole_document(buffer: bytes, path: Path, state: StreamState, reader: _CountingReader) -> Iterator[list[Any]]:
    text = buffer + _read_all(reader, state)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON ({exc})", file=path, fix="expected a PyTorch profiler (kineto) trace, .json or .json.gz"
        ) from None
    if isinstance(document, list):
        events = document  # a bare Chrome-trace event array
    elif isinstance(document, dict) and "traceEvents" in document:
        events = document.pop("traceEvents")
        state.header = document
    else:
        raise InputError(
            "JSON without 'traceEvents'", file=path, fix="expected a PyTorch profiler (kineto) trace"
        )
    if not isinstance(events, list):
        raise InputError("'traceEvents' is not a list", file=path, fix="expected a PyTorch profiler trace")
    state.events_seen += len(events)
    if events:
        yield events

