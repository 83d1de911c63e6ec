"""The streaming reader parses each chunk in small regions (jsonstream.PARSE_BYTES) for speed:
every event must still come out once, in order, and damage inside one region must cost only the
damaged event, also when events are larger than a region."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from roofline.sources import jsonstream
from roofline.sources.jsonstream import StreamState, iter_event_batches

SEED = Path(__file__).parent / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"


def _events(copies: int, pad: int = 0) -> list[dict]:
    seed = json.loads(gzip.decompress(SEED.read_bytes()))["traceEvents"]
    out = []
    for k in range(copies):
        for event in seed:
            e = dict(event, ts=event.get("ts", 0) + k)
            if pad:
                e["args"] = dict(e.get("args") or {}, note="x" * pad)
            out.append(e)
    return out


def _write(path: Path, events: list[dict]) -> bytes:
    text = b'{"schemaVersion": 1, "traceEvents": [\n' + b",\n".join(json.dumps(e).encode() for e in events)
    text += b'\n], "traceName": "t"}\n'
    path.write_bytes(text)
    return text


@pytest.mark.parametrize("chunk", [64 * 1024, jsonstream.CHUNK_BYTES])
def test_a_multi_megabyte_trace_comes_out_whole_in_small_batches(tmp_path: Path, chunk: int) -> None:
    events = _events(8)
    text = _write(tmp_path / "t.json", events)
    assert len(text) > 3 * jsonstream.TRAILER_HOLDBACK  # several chunks and regions
    state = StreamState()
    batches = list(iter_event_batches(tmp_path / "t.json", state, chunk_bytes=chunk))
    assert [e for batch in batches for e in batch] == events
    assert state.trailer == {"traceName": "t"} and state.skipped_regions == 0 and not state.truncated
    # Regions of ~PARSE_BYTES: a batch holds a few hundred events, not a chunk's worth.
    per_event = len(text) / len(events)
    assert max(len(b) for b in batches[:-1]) < 2 * jsonstream.PARSE_BYTES / per_event


@pytest.mark.parametrize("pad", [0, 100_000])
def test_an_unclosed_event_costs_only_itself(tmp_path: Path, pad: int) -> None:
    # With pad=100 kB each event is a good part of a region: the region after the damaged event
    # must grow until the damage is told apart from an event cut by the region's end.
    events = _events(6 if not pad else 1, pad)[: 60 if pad else None]
    text = _write(tmp_path / "t.json", events)
    broken = len(events) // 2
    line = json.dumps(events[broken]).encode()
    at = text.index(line)
    path = tmp_path / "broken.json"
    path.write_bytes(text[:at] + line[:-1] + text[at + len(line):])  # its closing brace removed
    started = time.perf_counter()
    state = StreamState()
    got = [e for batch in iter_event_batches(path, state) for e in batch]
    assert time.perf_counter() - started < 5.0
    assert got == events[:broken] + events[broken + 1:]
    assert state.first_skipped_at == at  # the byte where the damaged event begins
    assert state.skipped_regions == 1
