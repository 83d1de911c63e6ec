"""Fuzzing the trace readers — kineto JSON (plain and gzip), Nsight Systems and Nsight Compute
CSV — from the real H200 fixtures, through classification and rendering."""

from __future__ import annotations

import copy
import gzip
import json
import random
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fuzzkit import (
    KINETO_SEEDS,
    NCU_SEEDS,
    NSYS_SEEDS,
    Outcome,
    SPECIAL_TEXT,
    attempt,
    csv_rows,
    csv_text,
    damage_bytes,
    fuzz_settings,
    hostile_values,
    mutate_tree,
    run_classify,
    seed_bytes,
    seed_json,
)

GPU_CATEGORIES = {"kernel", "gpu_memcpy", "gpu_memset", "Memcpy", "Memset"}
EVENT_FIELDS = ["ts", "dur", "name", "cat", "ph", "pid", "tid", "args", "args/External id", "args/correlation",
                "args/device", "args/stream", "args/bytes", "args/grid", "args/block", "args/Input Dims",
                "args/Input type", "args/Concrete Inputs", "args/Input Strides"]


def _gpu_count(events: list) -> int:
    return sum(isinstance(e, dict) and e.get("ph") == "X" and isinstance(e.get("cat"), str)
               and e["cat"] in GPU_CATEGORIES for e in events)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _needs_warning(field: str, value: object) -> bool:
    """A GPU event's time, size or name that cannot be used as written: the reader must say so
    (dropping the event or counting it as 0 without a word would be a silently wrong number)."""
    if field in ("ts", "dur"):
        return not _is_number(value) or not -1e16 <= value <= 1e16 or (field == "dur" and value < 0)
    if field == "bytes":
        return value is not None and (not _is_number(value) or value < 0)
    if field == "name":
        return value is not None and not isinstance(value, str)
    return False


def _kineto_oracle(expected: int):
    """Fewer GPU events than the file holds must come with a warning; the numbers themselves are
    checked by run_classify."""

    def check(outcome: Outcome) -> str | None:
        loaded, _ = outcome.value
        got = sum(e.kind in ("kernel", "memcpy", "memset") for e in loaded.events)
        if got > expected:
            return f"{got} GPU events read from a file that holds {expected}"
        if got < expected and not outcome.warnings:
            return f"{expected - got} of {expected} GPU events dropped without a warning"
        return None

    return check


@given(data=st.data(), seed=st.sampled_from(KINETO_SEEDS), gz=st.booleans())
@fuzz_settings(150)
def test_kineto_event_fields(workdir: Path, data: st.DataObject, seed: Path, gz: bool) -> None:
    """Wrong types, NaN-free hostile numbers, unicode/control/HTML text in every field of an event."""
    doc = seed_json(seed)
    events = doc["traceEvents"]
    described = []
    tampered_gpu = False
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(events) - 1))
        event = events[index]
        if not isinstance(event, dict):
            continue
        field = data.draw(st.sampled_from(EVENT_FIELDS))
        value = data.draw(hostile_values)
        target = event
        if field.startswith("args/"):
            if not isinstance(event.get("args"), dict):
                event["args"] = {}
            target, field = event["args"], field[5:]
        if isinstance(event.get("cat"), str) and event["cat"] in GPU_CATEGORIES and event.get("ph") == "X":
            tampered_gpu |= _needs_warning(field, value)
        target[field] = value
        described.append(f"event {index} {field} = {value!r:.60}")
    text = json.dumps(doc, indent=1).encode()
    path = workdir / ("t.json.gz" if gz else "t.json")
    path.write_bytes(gzip.compress(text, 1) if gz else text)
    attempt("kineto: fields", path, run_classify, what=f"{seed.name}: {'; '.join(described)}",
            must_warn=tampered_gpu, oracle=_kineto_oracle(_gpu_count(events)))


@given(data=st.data(), seed=st.sampled_from(KINETO_SEEDS))
@fuzz_settings(80)
def test_kineto_structure(workdir: Path, data: st.DataObject, seed: Path) -> None:
    """Events out of order, duplicated (duplicate ids), deleted, wrapped; header keys replaced."""
    doc = seed_json(seed)
    events = doc["traceEvents"]
    operation = data.draw(st.sampled_from(["shuffle", "reverse", "duplicate_ids", "tree", "header", "not_a_list"]))
    if operation == "shuffle":
        random.Random(data.draw(st.integers(0, 2**32))).shuffle(events)
    elif operation == "reverse":
        events.reverse()
    elif operation == "duplicate_ids":
        # Every GPU event gets the same External id and correlation as the first one.
        first = next(e for e in events if isinstance(e, dict) and e.get("cat") == "kernel")
        for event in events:
            if isinstance(event, dict) and isinstance(event.get("args"), dict):
                for key in ("External id", "correlation"):
                    if key in event["args"] and key in first["args"]:
                        event["args"][key] = first["args"][key]
        events.extend(copy.deepcopy(events[: len(events) // 3]))
    elif operation == "tree":
        paths = [("traceEvents", i) for i in range(len(events))]
        operation = mutate_tree(data.draw, doc, paths)
    elif operation == "header":
        key = data.draw(st.sampled_from([k for k in doc if k != "traceEvents"] + ["deviceProperties"]))
        doc[key] = data.draw(hostile_values)
    else:
        doc["traceEvents"] = data.draw(hostile_values)
    path = workdir / "t.json"
    path.write_text(json.dumps(doc))
    events = doc["traceEvents"] if isinstance(doc.get("traceEvents"), list) else []
    attempt("kineto: structure", path, run_classify, what=f"{seed.name}: {operation}",
            oracle=_kineto_oracle(_gpu_count(events)))


@given(data=st.data(), seed=st.sampled_from(KINETO_SEEDS), gz=st.booleans())
@fuzz_settings(150)
def test_kineto_truncated_at_any_byte(workdir: Path, data: st.DataObject, seed: Path, gz: bool) -> None:
    """A profiler killed mid-write: the JSON, or the gzip stream, cut at any byte. Every cut file
    must either be refused or warn that it is truncated."""
    text = json.dumps(seed_json(seed), indent=1).encode()
    blob = gzip.compress(text, 6) if gz else text
    cut = data.draw(st.integers(0, len(blob) - 1))
    path = workdir / ("cut.json.gz" if gz else "cut.json")
    path.write_bytes(blob[:cut])
    attempt("kineto: truncated", path, run_classify, what=f"{seed.name} cut at {cut}/{len(blob)} (gzip={gz})",
            must_warn=True)


@given(data=st.data(), seed=st.sampled_from(KINETO_SEEDS))
@fuzz_settings(120)
def test_kineto_damaged_bytes(workdir: Path, data: st.DataObject, seed: Path) -> None:
    text = json.dumps(seed_json(seed), indent=1).encode()
    damaged, how = damage_bytes(data.draw, text)
    path = workdir / "damaged.json"
    path.write_bytes(damaged)
    attempt("kineto: bytes", path, run_classify, what=f"{seed.name}: {how}",
            must_warn=how.startswith("truncated"))


# --- Nsight Systems ------------------------------------------------------------------------------


def _header_index(rows: list[list[str]], marker: str) -> int:
    return next((i for i, row in enumerate(rows) if row and marker in row[0]), 0)


@given(data=st.data(), seed=st.sampled_from(NSYS_SEEDS), quote=st.booleans())
@fuzz_settings(200)
def test_nsys_cells_and_rows(workdir: Path, data: st.DataObject, seed: Path, quote: bool) -> None:
    rows = csv_rows(seed_bytes(seed).decode())
    header = _header_index(rows, "Start")
    body = list(range(header + 1, len(rows)))
    operation = data.draw(st.sampled_from(["cell", "cell", "cell", "duplicate", "shuffle", "delete", "width"]))
    if operation == "cell" and body:
        for _ in range(data.draw(st.integers(1, 3))):
            row = rows[data.draw(st.sampled_from(body))]
            if row:
                column = data.draw(st.integers(0, len(row) - 1))
                row[column] = data.draw(st.one_of(st.sampled_from(SPECIAL_TEXT), st.text(max_size=20),
                                                  st.integers(-(2**70), 2**70).map(str)))
    elif operation == "duplicate" and body:
        index = data.draw(st.sampled_from(body))
        rows.insert(index, list(rows[index]))
    elif operation == "shuffle":
        tail = rows[header + 1 :]
        random.Random(data.draw(st.integers(0, 2**32))).shuffle(tail)
        rows = rows[: header + 1] + tail
    elif operation == "delete" and body:
        del rows[data.draw(st.sampled_from(body))]
    elif operation == "width" and body:
        row = rows[data.draw(st.sampled_from(body))]
        row[:] = row[: data.draw(st.integers(0, len(row)))] if data.draw(st.booleans()) else row + ["extra"]
    path = workdir / "nsys.csv"
    path.write_text(csv_text(rows, quote))
    data_rows = sum(1 for row in rows[header + 1 :] if any(cell.strip() for cell in row))

    def no_silent_loss(outcome: Outcome) -> str | None:
        loaded, _ = outcome.value
        if len(loaded.events) < data_rows and not outcome.warnings:
            return f"{data_rows - len(loaded.events)} of {data_rows} rows dropped without a warning"
        return None

    attempt("nsys: cells/rows", path, run_classify, what=f"{seed.name}: {operation}", oracle=no_silent_loss)


@given(data=st.data(), seed=st.sampled_from(NSYS_SEEDS), gz=st.booleans())
@fuzz_settings(80)
def test_nsys_damaged_bytes(workdir: Path, data: st.DataObject, seed: Path, gz: bool) -> None:
    damaged, how = damage_bytes(data.draw, seed_bytes(seed))
    path = workdir / ("nsys.csv.gz" if gz else "nsys.csv")
    path.write_bytes(gzip.compress(damaged) if gz else damaged)
    attempt("nsys: bytes", path, run_classify, what=f"{seed.name}: {how}")


# --- Nsight Compute ------------------------------------------------------------------------------


@given(data=st.data(), seed=st.sampled_from(NCU_SEEDS), quote=st.booleans())
@fuzz_settings(150)
def test_ncu_cells_and_rows(workdir: Path, data: st.DataObject, seed: Path, quote: bool) -> None:
    text = seed_bytes(seed).decode()
    prefix_lines = [line for line in text.splitlines(keepends=True) if line.startswith("==")]
    rows = csv_rows("".join(line for line in text.splitlines(keepends=True) if not line.startswith("==")))
    operation = data.draw(st.sampled_from(["cell", "cell", "cell", "unit", "duplicate", "shuffle", "delete"]))
    body = list(range(1, len(rows)))
    if operation in ("cell", "unit") and body:
        for _ in range(data.draw(st.integers(1, 3))):
            row = rows[1] if operation == "unit" else rows[data.draw(st.sampled_from(body))]
            if row:
                column = data.draw(st.integers(0, len(row) - 1))
                row[column] = data.draw(st.one_of(
                    st.sampled_from(SPECIAL_TEXT),
                    st.sampled_from(["Gbyte", "byte/second", "ns", "msecond", "inst", "%", "cycle", "hz", "Tbyte"]),
                    st.floats(allow_nan=True, allow_infinity=True).map(str),
                    st.integers(-(2**70), 2**70).map(lambda n: f"{n:,}")))
    elif operation == "duplicate" and body:
        index = data.draw(st.sampled_from(body))
        rows.insert(index, list(rows[index]))
    elif operation == "shuffle" and len(rows) > 3:
        tail = rows[2:]
        random.Random(data.draw(st.integers(0, 2**32))).shuffle(tail)
        rows = rows[:2] + tail
    elif operation == "delete" and body:
        del rows[data.draw(st.sampled_from(body))]
    path = workdir / "ncu.csv"
    path.write_text("".join(prefix_lines) + csv_text(rows, quote))
    attempt("ncu: cells/rows", path, run_classify, what=f"{seed.name}: {operation}")


@given(data=st.data(), seed=st.sampled_from(NCU_SEEDS), gz=st.booleans())
@fuzz_settings(80)
def test_ncu_damaged_bytes(workdir: Path, data: st.DataObject, seed: Path, gz: bool) -> None:
    damaged, how = damage_bytes(data.draw, seed_bytes(seed))
    path = workdir / ("ncu.csv.gz" if gz else "ncu.csv")
    path.write_bytes(gzip.compress(damaged) if gz else damaged)
    attempt("ncu: bytes", path, run_classify, what=f"{seed.name}: {how}")


@given(data=st.data(), seed=st.sampled_from(KINETO_SEEDS))
@fuzz_settings(60)
def test_kineto_cpu_only_through_the_gate(workdir: Path, data: st.DataObject, seed: Path) -> None:
    """A trace without GPU activity is gated on host ops (gate/adapters.py): the same hostile
    fields, through snapshot and a self-comparison."""
    from fuzzkit import run_snapshot

    doc = seed_json(seed)
    doc["traceEvents"] = [e for e in doc["traceEvents"]
                          if not (isinstance(e, dict) and e.get("cat") in GPU_CATEGORIES)]
    events = doc["traceEvents"]
    described = []
    for _ in range(data.draw(st.integers(1, 3))):
        index = data.draw(st.integers(0, len(events) - 1))
        field = data.draw(st.sampled_from(["ts", "dur", "name", "cat", "ph", "args"]))
        if isinstance(events[index], dict):
            events[index][field] = data.draw(hostile_values)
            described.append(f"event {index} {field}")
    path = workdir / "cpu.json"
    path.write_text(json.dumps(doc))
    attempt("kineto: cpu-only gate", path, run_snapshot, what=f"{seed.name}: {'; '.join(described)}")
