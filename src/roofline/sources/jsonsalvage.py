"""Damage-tolerant parsing of the Chrome-trace event array, for the streaming reader.

The fast path parses a whole region of events in one ``orjson`` call. When that fails (a byte
flipped, an event cut by a killed profiler, a cut that fell inside an event), these functions
go event by event, in time linear in the region: a damaged event costs that event — reported,
with its byte offset — never the rest of the trace, and never a re-parse of everything before
it (which made one bad byte in a 1 MB trace take five seconds, and in a 5 GB one forever).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

# A cut piece that does not parse is merged with the next ones, up to this many, before it is
# declared damaged: a kineto event spans one piece; nested objects on their own lines add more.
MAX_MERGE_PIECES = 32
# The closing ']' is looked for among this many candidates, in this many bytes from the end.
MAX_END_CANDIDATES = 4096
MAX_TRAILER_BYTES = 16 * 1024 * 1024


def _body(text: bytes) -> bytes:
    # A region or piece may begin with the comma that ends the previous event (inline layout).
    return text.strip().strip(b",").strip()


def parse_region(region: bytes) -> list[Any] | None:
    """Parse ``{…},\\n  {…},\\n  {…}`` (a run of whole events) in one orjson call."""
    body = _body(region)
    if not body:
        return []
    try:
        parsed = orjson.loads(b"[" + body + b"]")
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, list) else None


def parse_piece(piece: bytes) -> tuple[list[Any] | None, bool]:
    """Parse the text between two cuts: ``(events, False)``, or ``(None, incomplete)`` where
    ``incomplete`` says the text broke off at its end (a cut inside an event, which more text
    may complete) rather than somewhere inside (damage)."""
    body = _body(piece)
    if not body:
        return [], False
    text = b"[" + body + b"]"
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        # orjson counts characters, not bytes; the last one is the ']' added above.
        length = len(text) if text.isascii() else len(text.decode("utf-8", "replace"))
        return None, "end of data" in str(exc) or exc.pos >= length - 1
    return (parsed, False) if isinstance(parsed, list) else (None, False)


@dataclass
class Parsed:
    events: list[Any]
    consumed: int  # bytes of the region used; the rest (an event the chunk cut) carries over
    skipped: list[tuple[int, int]]  # damaged stretches dropped, (start, end) in the region


def parse_robust(region: bytes, cut_at: re.Pattern[bytes], *, final: bool) -> Parsed:
    """Parse a region of events: one orjson call when it is sound; else piece by piece between
    the cuts ``cut_at`` finds, merging an event spread over several pieces, dropping (and
    reporting) a piece that cannot be parsed. Unless ``final``, a last event that may continue
    past the region is left unconsumed for the next chunk.
    """
    events = parse_region(region)
    if events is not None:
        return Parsed(events, len(region), [])
    cuts = [0] + [m.start() for m in cut_at.finditer(region) if m.start() > 0] + [len(region)]
    pieces = len(cuts) - 1
    parsed = Parsed([], len(region), [])
    i = 0
    while i < pieces:
        j = i + 1
        while True:
            found, incomplete = parse_piece(region[cuts[i] : cuts[j]])
            if found is not None:
                parsed.events.extend(found)
                i = j
                break
            if incomplete and j < pieces and j - i < MAX_MERGE_PIECES:
                j += 1
                continue
            if incomplete and j == pieces and not final:
                parsed.consumed = cuts[i]
                return parsed
            if parsed.skipped and parsed.skipped[-1][1] == cuts[i]:
                parsed.skipped[-1] = (parsed.skipped[-1][0], cuts[i + 1])
            else:
                parsed.skipped.append((cuts[i], cuts[i + 1]))
            i += 1
            break
    return parsed


def trailer_or_none(rest: bytes) -> dict[str, Any] | None:
    """The keys after the event array (``, "traceName": …}``), or None when ``rest`` is not a
    trailer, i.e. the ``]`` before it was not the one closing the array."""
    body = rest.strip()
    if not body or body == b"}":
        return {}
    if not body.endswith(b"}"):
        return None
    body = body.lstrip(b",").strip()
    try:
        parsed = orjson.loads(b"{" + body)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def find_array_end(buffer: bytes, cut_at: re.Pattern[bytes]) -> tuple[int, dict[str, Any]] | None:
    """The offset of the ``]`` closing the event array and the trailer after it; None when the
    file ends before it (truncated). Candidates are tried from the end: each costs a parse of
    what follows it (failing early for a ``]`` inside an event) and, when that is a trailer, a
    parse of the one event before it.
    """
    position, tried = len(buffer), 0
    floor = max(0, len(buffer) - MAX_TRAILER_BYTES)
    fallback: tuple[int, dict[str, Any]] | None = None
    while tried < MAX_END_CANDIDATES:
        position = buffer.rfind(b"]", floor, position)
        if position < 0:
            break
        tried += 1
        trailer = trailer_or_none(buffer[position + 1 :])
        if trailer is None:
            continue
        last, _ = parse_piece(buffer[_last_cut(buffer, cut_at, position) : position])
        if last is None:
            continue
        # A list in the trailer ("deviceProperties": [{…}]) also ends in "}\n  ]" followed by a
        # trailer: the array's own end is the one whose last element is a trace event (Chrome
        # trace events all carry "ph"), or that closes an empty array.
        if not last or (isinstance(last[-1], dict) and "ph" in last[-1]):
            return position, trailer
        if fallback is None:
            fallback = (position, trailer)
    return fallback


def _last_cut(buffer: bytes, cut_at: re.Pattern[bytes], end: int) -> int:
    """The last cut before ``end`` (0 when there is none: one event, or a one-line array)."""
    window = 1 << 20
    while True:
        start = max(0, end - window)
        last = None
        for match in cut_at.finditer(buffer, start, end):
            last = match.start()
        if last is not None or start == 0:
            return last or 0
        window *= 16


def salvage_tail(piece: bytes) -> tuple[list[Any], int]:
    """The events of a last piece that ends in a cut-short trailer (``{…}\\n], "traceNa``):
    those before a ``]`` that parse, and the number of bytes they use (0 when none do)."""
    position, tried = len(piece), 0
    while tried < MAX_END_CANDIDATES:
        position = piece.rfind(b"]", 0, position)
        if position < 0:
            break
        tried += 1
        found, _ = parse_piece(piece[:position])
        if found:
            return found, position
    return [], 0
