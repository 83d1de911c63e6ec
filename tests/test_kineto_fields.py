"""The reader's inlined fast paths (a float time, an integer id) and its general paths must agree:
odd but legal values are read as the general path reads them, bad ones are counted, never raised."""

from __future__ import annotations

import pytest

from roofline.analysis.event_table import MISSING
from roofline.sources.kineto import _Collector
from roofline.sources.kineto_columns import CODE_BASE


def _op(**fields) -> dict:
    event = {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "ts": 1.5, "dur": 2.25, "tid": 7,
             "args": {"External id": 11, "Input Dims": [[2, 3], [3, 4]]}}
    event.update(fields)
    return event


def _kernel(**fields) -> dict:
    event = {"ph": "X", "cat": "kernel", "name": "k", "ts": 10.0, "dur": 1.0, "pid": 0, "tid": 7,
             "args": {"correlation": 5, "External id": 11, "device": 0, "stream": 7}}
    event.update(fields)
    return event


@pytest.mark.parametrize("ts,dur,start_ns,dur_ns", [
    (1.5, 2.25, 1500, 2250),
    (3, 4, 3000, 4000),           # integer µs take the general path: same ns
    (1.0004, -5.0, 1000, 0),      # rounded to the ns; a negative op duration is 0
    (9.1e15, 1.0, 9_100_000_000_000_000_000, 1000),  # the largest times an int64 of ns holds
])
def test_op_times_in_ns(ts, dur, start_ns, dur_ns) -> None:
    collector = _Collector()
    collector.consume([_op(ts=ts, dur=dur)])
    collector.finish()
    assert collector.bad_events == 0
    assert list(collector.ops.start) == [start_ns] and list(collector.ops.dur) == [dur_ns]


@pytest.mark.parametrize("bad", [{"ts": 9.3e15}, {"dur": 9.3e15}, {"ts": True}, {"ts": "1"}, {"ts": float("nan")},
                                 {"name": 3}, {"args": [1]}])
def test_bad_op_fields_are_counted_and_leave_the_columns_aligned(bad) -> None:
    # 9.3e15 µs is past int64 ns: once an OverflowError in the middle of a row.
    collector = _Collector()
    collector.consume([_op(**bad), _op()])
    assert collector.bad_events == 1 and collector.cpu_events == 2
    ops = collector.ops
    assert {len(c) for c in (ops.external, ops.signature, ops.start_us, ops.dur_us, ops.tid)} == {1}


@pytest.mark.parametrize("tid,external,tid_code,external_code,bad_links", [
    (7, 11, 7, 11, 0),
    (7.0, 11.0, 7, 11, 0),                 # integral floats are integers
    ("main", "e1", CODE_BASE, CODE_BASE + 1, 0),  # strings get codes past 2**62
    (2**63, None, CODE_BASE, MISSING, 0),  # an integer too large is coded; no id is MISSING (a loose op)
    ([1], {"x": 1}, MISSING, MISSING, 2),  # unusable: the link is dropped and counted, the op kept
])
def test_op_ids(tid, external, tid_code, external_code, bad_links) -> None:
    collector = _Collector()
    args = {"Input Dims": [[1]]} if external is None else {"External id": external}
    collector.consume([_op(tid=tid, args=args)])
    assert (list(collector.ops.tid), list(collector.ops.external)) == ([tid_code], [external_code])
    assert collector.bad_links == bad_links and collector.bad_events == 0


def test_kernel_durations_and_ids() -> None:
    collector = _Collector()
    events = [_kernel(), _kernel(dur=3), _kernel(dur=-1.0), _kernel(args={"correlation": 5.0, "device": True})]
    missing = _kernel()
    del missing["dur"]
    collector.consume(events + [missing, _kernel(dur=None), _kernel(ts=9.3e15), _kernel(dur=-0.0004)])
    collector.finish()
    gpu = collector.gpu
    # Missing or negative: 0 ns, and reported; -0.4 ns rounds to 0 ns, which is no negative duration.
    assert list(gpu.dur) == [1000, 3000, 0, 1000, 0, 0]
    assert collector.bad_durations == 2 and collector.bad_events == 2  # dur None, ts past int64
    assert list(gpu.correlation)[3] == 5 and list(gpu.device)[3] == 1  # stream from tid, device True→1
    assert list(gpu.stream) == [7] * 6


def test_runtime_calls() -> None:
    collector = _Collector()
    collector.consume([
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 9.5, "dur": 0.5, "tid": 7,
         "args": {"correlation": 5, "External id": 11}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaStreamSynchronize", "ts": 20, "dur": 3, "tid": "t",
         "args": {"correlation": 6.0}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaGetDevice", "ts": 21.0, "args": {}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": 22.0, "dur": -1.0, "args": {"correlation": 7}},
    ])
    collector.finish()
    runtime = collector.runtime
    assert list(runtime.correlation) == [5, 6, 7] and list(runtime.start) == [9500, 20000, 22000]
    assert list(runtime.dur) == [500, 3000, 0]  # a negative call duration is 0
    assert list(runtime.tid) == [7, CODE_BASE, 0] and list(runtime.external) == [11, MISSING, MISSING]
    assert [runtime.apis.values[c] for c in runtime.api] == ["cudaLaunchKernel", "cudaStreamSynchronize"] * 1 + [
        "cudaLaunchKernel"]
    assert collector.syncs == [("cudaStreamSynchronize", 20000, 3000)]
