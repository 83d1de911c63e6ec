"""The columnar timeline (EventTable, timeline_table) against the event-list reference
(timeline.analyse_timeline / group_events on GpuEvent objects): equal figures on every real trace
in the test data, so a figure added to one path and not the other fails here.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from roofline.analysis import timeline, timeline_table
from roofline.analysis.event_table import EventTable
from roofline.errors import InputError
from roofline.sources import read_input

DATA = Path(__file__).parent / "data"
# external/nongpu holds traces with no GPU timeline, refused by the reader (test_nongpu_traces.py).
TRACES = sorted(p for p in DATA.rglob("*.json.gz") if "nongpu" not in p.parts)


def _close(a: object, b: object, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path  # type: ignore[union-attr]
        for key in a:
            _close(a[key], b[key], f"{path}.{key}")  # type: ignore[index]
    elif isinstance(a, list):
        assert len(a) == len(b), path  # type: ignore[arg-type]
        for i, (x, y) in enumerate(zip(a, b)):  # type: ignore[call-overload]
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("path", TRACES, ids=lambda p: p.name)
def test_table_figures_equal_list_figures(path: Path) -> None:
    try:
        loaded = read_input(path)
    except InputError as exc:  # the public corpus holds CPU-only and MTIA traces: refused, as they should be
        pytest.skip(f"not a GPU trace: {exc.message}")
    if not isinstance(loaded.events, EventTable):
        pytest.skip("not a kineto trace")
    table = loaded.events
    events = list(table)
    steps = list(loaded.extra.get("steps") or [])
    for scope in (steps, []):
        _close(timeline_table.analyse_timeline(table, scope).model_dump(),
               timeline.analyse_timeline(events, scope).model_dump())
    from dataclasses import asdict

    _close([asdict(w) for w in timeline_table.group_events(table)],
           [asdict(w) for w in timeline.group_events(events)])


def test_round_trip_through_columns() -> None:
    loaded = read_input(DATA / "h200" / "kineto" / "mini_decode_cudagraph.json.gz")
    events = list(loaded.events or [])
    again = EventTable.from_events(events).to_events()
    assert again == events


def test_take_selects_rows_and_shares_names() -> None:
    loaded = read_input(DATA / "h200" / "kineto" / "mini_decode_eager.json.gz")
    table = loaded.events
    assert isinstance(table, EventTable)
    mask = table.kind == 0
    part = table.take(mask)
    assert len(part) == int(mask.sum())
    assert part.names is table.names
    assert [e.name for e in part] == [e.name for e in table if e.kind == "kernel"]
    assert np.all(np.diff(part.start_ns) >= 0)


def _random_events(draw_seed: int) -> tuple[list, list[tuple[int, int, int]]]:
    from roofline.analysis.events import GpuEvent

    rng = np.random.default_rng(draw_seed)
    names = ["gemm", "ncclKernel_AllReduce", "elementwise", "rccl_send", "copy"]
    steps = [(1, 0, 4000), (2, 4000, 8000), (2, 8000, 9000)] if rng.random() < 0.7 else []
    events = []
    for _ in range(int(rng.integers(1, 60))):
        in_graph = bool(rng.random() < 0.3)
        start = int(rng.integers(0, 10000))
        launch = int(start - rng.integers(-50, 500)) if rng.random() < 0.8 else None
        step = None
        if steps and launch is not None:
            step = next((s[0] for s in steps if s[1] <= launch <= s[2]), None)
        events.append(GpuEvent(
            kind=str(rng.choice(["kernel", "kernel", "kernel", "memcpy"])),
            name=str(rng.choice(names)),
            device=int(rng.integers(0, 2)),
            stream=int(rng.integers(7, 10)),
            start_ns=start,
            dur_ns=int(rng.integers(0, 800)),
            correlation=int(rng.integers(0, 6)) if rng.random() < 0.9 else None,
            launch_start_ns=launch,
            launch_dur_ns=int(rng.integers(1, 20)) if launch is not None else None,
            in_graph=in_graph,
            op=str(rng.choice(["aten::mm", "aten::add", ""])) if rng.random() < 0.8 else None,
            flops=float(rng.integers(0, 1000)) if rng.random() < 0.8 else None,
            bytes=float(rng.integers(1, 1000)) if rng.random() < 0.9 else None,
            grid=(int(rng.integers(1, 9)), 1, 2) if rng.random() < 0.5 else None,
            step=step,
            unknown_reason=str(rng.choice(["a", "b"])) if rng.random() < 0.3 else None,
        ))
    events.sort(key=lambda e: (e.device, e.start_ns))
    return events, steps


@pytest.mark.parametrize("seed", range(200))
def test_table_figures_equal_list_figures_on_random_timelines(seed: int) -> None:
    """Overlapping streams, CUDA-graph replays, communication kernels, steps, several devices."""
    from dataclasses import asdict

    events, steps = _random_events(seed)
    table = EventTable.from_events(events)
    _close(timeline_table.analyse_timeline(table, steps).model_dump(),
           timeline.analyse_timeline(events, steps).model_dump())
    _close([asdict(w) for w in timeline_table.group_events(table)],
           [asdict(w) for w in timeline.group_events(events)])


def test_a_value_out_of_column_range_drops_the_event_and_keeps_columns_aligned(tmp_path: Path) -> None:
    """A time that overflows int64 ns, an id past 2**63: the event is reported, the rest kept."""
    import gzip
    import json

    trace = json.loads(gzip.decompress((DATA / "h200" / "kineto" / "gemm_bf16_8192.json.gz").read_bytes()))
    kernels = [e for e in trace["traceEvents"] if e.get("cat") == "kernel"]
    gpu = [e for e in trace["traceEvents"] if e.get("cat") in ("kernel", "gpu_memset", "gpu_memcpy")]
    bad = dict(kernels[0], ts=9.9e15, dur=5e15)  # 1.49e19 ns: past int64
    huge_id = dict(kernels[0], args={**kernels[0]["args"], "correlation": 2**70})
    trace["traceEvents"] += [bad, huge_id]
    path = tmp_path / "t.json"
    path.write_text(json.dumps(trace))
    loaded = read_input(path)
    table = loaded.events
    assert isinstance(table, EventTable)
    assert len(table) == len(gpu) + 1  # the overflowing one dropped, the huge id kept (unlinked)
    assert any("malformed" in w for w in loaded.warnings)
    assert len({len(getattr(table, c)) for c in ("kind", "name", "start_ns", "grid", "bytes")}) == 1
