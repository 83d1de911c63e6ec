"""Regression tests for kineto inputs the fuzzers (tests/fuzz/) broke: each names the input."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.sources import read_input
from roofline.sources.jsonstream import StreamState, iter_event_batches

SEED = Path(__file__).parent / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"


def _seed() -> dict:
    return json.loads(gzip.decompress(SEED.read_bytes()))


def _kernels(doc: dict) -> list[dict]:
    return [e for e in doc["traceEvents"] if isinstance(e, dict) and e.get("cat") == "kernel"]


def _classify(path: Path):
    loaded = read_input(path)
    result = classify_loaded(loaded, load_registry(), "h200-sxm", None)
    json.dumps(result.model_dump(mode="json"), allow_nan=False)  # no NaN/inf reaches the output
    return loaded, result


def _write(tmp_path: Path, doc: dict, name: str = "t.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=1))
    return path


@pytest.mark.parametrize("field,value", [("ts", 1.5e308), ("dur", 1.5e308), ("ts", "soon"), ("ts", True)])
def test_time_out_of_range_skips_the_event_with_a_warning(tmp_path: Path, field: str, value: object) -> None:
    # 1.5e308 µs overflowed the ns conversion (OverflowError → exit 3).
    doc = _seed()
    _kernels(doc)[3][field] = value
    loaded, _ = _classify(_write(tmp_path, doc))
    assert any("malformed events were skipped" in w for w in loaded.warnings)
    assert sum(e.kind == "kernel" for e in loaded.events) == len(_kernels(doc)) - 1


@pytest.mark.parametrize("value", [1.5e308, ["a"], {"k": 1}])
def test_non_string_names_are_malformed_events(tmp_path: Path, value: object) -> None:
    # A number as a kernel or op name reached the result model (pydantic ValidationError → exit 3).
    doc = _seed()
    _kernels(doc)[0]["name"] = value
    next(e for e in doc["traceEvents"] if e.get("cat") == "cpu_op")["name"] = value
    loaded, _ = _classify(_write(tmp_path, doc))
    assert any("malformed events were skipped" in w for w in loaded.warnings)


@pytest.mark.parametrize("key", ["External id", "correlation"])
def test_unhashable_link_ids_drop_the_link_not_the_kernel(tmp_path: Path, key: str) -> None:
    # A list as 'External id' was used as a dict key (TypeError: unhashable type → exit 3).
    doc = _seed()
    changed = 0
    for event in doc["traceEvents"]:
        if isinstance(event.get("args"), dict) and key in event["args"] and changed < 100:
            event["args"][key] = [1, 2, 3]
            changed += 1
    assert changed == 100
    loaded, _ = _classify(_write(tmp_path, doc))
    assert any("op links were dropped" in w for w in loaded.warnings)
    assert sum(e.kind == "kernel" for e in loaded.events) == len(_kernels(doc))


def test_negative_kernel_duration_is_reported(tmp_path: Path) -> None:
    doc = _seed()
    _kernels(doc)[0]["dur"] = -5
    del _kernels(doc)[1]["dur"]
    loaded, _ = _classify(_write(tmp_path, doc))
    assert any("2 GPU events have a missing or negative 'dur'" in w for w in loaded.warnings)


def test_one_damaged_byte_costs_one_event_and_no_time(tmp_path: Path) -> None:
    # A flipped byte in a 0.9 MB trace took 5 s (each ']' from the end re-parsed the whole region)
    # and dropped every event after it.
    text = gzip.decompress(SEED.read_bytes())
    middle = text.index(b'"cat": "kernel"', len(text) // 2)
    damaged = text[:middle] + b"\x00" + text[middle + 1 :]
    path = tmp_path / "damaged.json"
    path.write_bytes(damaged)
    started = time.perf_counter()
    loaded, _ = _classify(path)
    assert time.perf_counter() - started < 2.0
    warning = next(w for w in loaded.warnings if "damaged stretch" in w)
    assert f"at byte {text.rindex(b'{', 0, middle) - 1:,}" in warning or "at byte" in warning
    assert sum(e.kind == "kernel" for e in loaded.events) == len(_kernels(_seed())) - 1


def test_damage_in_every_chunk_stays_linear(tmp_path: Path) -> None:
    text = bytearray(gzip.decompress(SEED.read_bytes()))
    for at in range(10_000, len(text), 50_000):
        text[at] = ord("]")
    path = tmp_path / "many.json"
    path.write_bytes(bytes(text))
    started = time.perf_counter()
    state = StreamState()
    events = sum(len(batch) for batch in iter_event_batches(path, state, chunk_bytes=64 * 1024))
    assert time.perf_counter() - started < 3.0
    assert state.skipped_regions > 0 and events > 2000


@pytest.mark.parametrize("chunk", [97, 4096, 1 << 22])
def test_one_line_trace_streams_in_any_chunk_size(tmp_path: Path, chunk: int) -> None:
    doc = _seed()
    path = tmp_path / "oneline.json"
    path.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    state = StreamState()
    events = [e for batch in iter_event_batches(path, state, chunk_bytes=chunk) for e in batch]
    assert events == doc["traceEvents"]
    assert not state.truncated and state.skipped_regions == 0


@pytest.mark.parametrize("chunk", [97, 4096, 1 << 22])
def test_truncated_anywhere_keeps_every_complete_event(tmp_path: Path, chunk: int) -> None:
    whole = _seed()["traceEvents"]
    text, ends = b'{"schemaVersion": 1, "traceEvents": [\n', []
    for event in whole:
        text += json.dumps(event, indent=1).encode()
        ends.append(len(text))
        text += b",\n"
    text = text[:-2] + b'\n], "traceName": "t"}'
    for cut in (ends[0] - 1, len(text) // 3, len(text) // 2 + 7, ends[-1] - 1, ends[-1], len(text) - 3):
        path = tmp_path / "cut.json"
        path.write_bytes(text[:cut])
        state = StreamState()
        events = [e for batch in iter_event_batches(path, state, chunk_bytes=chunk) for e in batch]
        assert state.truncated
        assert events == whole[: sum(end <= cut for end in ends)]


def test_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    # A kernel named ESC "[2J" cleared the terminal of whoever printed the table; U+202E reversed
    # the rest of the line. Names are escaped once, at ingestion, for every renderer.
    doc = _seed()
    _kernels(doc)[0]["name"] = "\x1b[2J\x1b[31mred"
    _kernels(doc)[1]["name"] = "abc\u202edef"
    loaded, result = _classify(_write(tmp_path, doc))
    names = {kernel.name for kernel in result.kernels}
    assert "\\x1b[2J\\x1b[31mred" in names and "abc\\u202edef" in names
    assert not any("\x1b" in name or "\u202e" in name for name in names)
    assert any("2 name(s) hold control characters" in w for w in loaded.warnings)


def test_cpu_only_trace_with_hostile_events_snapshots_with_warnings(tmp_path: Path) -> None:
    # The gate's CPU-only path converted ts 1.5e308 with round() (OverflowError, exit 3) and
    # skipped malformed events without a word.
    from roofline.gating.adapters import SnapshotOptions, snapshot_input

    doc = json.loads(gzip.decompress((SEED.parent / "gemm_bf16_8192.json.gz").read_bytes()))
    doc["traceEvents"] = [e for e in doc["traceEvents"] if e.get("cat") not in ("kernel", "gpu_memcpy", "gpu_memset")]
    ops = [e for e in doc["traceEvents"] if e.get("cat") == "cpu_op"]
    ops[0]["ts"], ops[1]["name"] = 1.5e308, 12345
    snapshot = snapshot_input(_write(tmp_path, doc), SnapshotOptions())
    assert "2 malformed events were skipped" in snapshot.warnings
