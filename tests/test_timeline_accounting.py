"""Timeline accounting that matches the GPU: busy is the union of kernel/copy intervals (graph
replays included), and every idle gap lands in one bucket — launch wait, host stall, lead-in, graph
gap, other. Pinned to hand-built timelines, to an interval union computed here independently of the
tool, and to real traces (H200 captures in tests/data/h200, a TraceLens vLLM trace in
tests/data/timeline). Also: the host-stall verdict and plan rule, syncs before CUDA graphs, the
profiler's overhead taken out of the launch verdict, and honest headlines for damaged input.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from roofline.analysis import timeline, timeline_table
from roofline.analysis.event_table import EventTable
from roofline.analysis.events import GpuEvent
from roofline.analysis.profiler_overhead import PROFILER_OVERHEAD_PER_OP_S, removable_overhead_s
from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.planner.trace import TraceDiagnosis, TraceModel, evaluate_trace, trace_model
from roofline.planner.trace_planner import plan_trace
from roofline.planner.trace_rules import cuda_graphs, host_stall
from roofline.sources import read_input

DATA = Path(__file__).parent / "data"
H200 = DATA / "h200"
VLLM = DATA / "timeline" / "tracelens_vllm_decode_full.json.gz"


def union_ns(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Length of the union of [a, b) clipped to [lo, hi): a sort and a merge, nothing shared
    with the tool's sweep."""
    total, end = 0.0, lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in intervals):
        if b <= a:
            continue
        if a > end:
            total, end = total + (b - a), b
        elif b > end:
            total, end = total + (b - end), b
    return total


def _both(events: list[GpuEvent], steps: list[tuple[int, int, int]]) -> timeline.TimelineFigures:
    """The event-list figures, checked equal to the column path's."""
    figures = timeline.analyse_timeline(events, steps)
    columns = timeline_table.analyse_timeline(EventTable.from_events(events), steps)
    for field in ("gpu_busy_s", "launch_wait_s", "host_stall_s", "lead_in_s", "graph_gap_s", "other_idle_s",
                  "launch_gaps"):
        assert getattr(columns, field) == pytest.approx(getattr(figures, field), abs=1e-15), field
    return figures


def kernel(start: int, dur: int, launch: int | None, *, step: int | None = None, graph: int | None = None,
           stream: int = 7) -> GpuEvent:
    return GpuEvent(kind="kernel", name="k", device=0, stream=stream, start_ns=start, dur_ns=dur,
                    correlation=graph, launch_start_ns=launch, launch_dur_ns=5 if launch is not None else None,
                    in_graph=graph is not None, step=step)


# --- hand-built timelines ---------------------------------------------------------------------------

def test_gaps_inside_a_graph_replay_are_idle_not_busy() -> None:
    # One replay (cudaGraphLaunch at 0): kernels 10-20, 50-60, 90-100; the span 0..100.
    events = [kernel(10, 10, 0, graph=1), kernel(50, 10, 0, graph=1), kernel(90, 10, 0, graph=1)]
    f = _both(events, [])
    assert f.gpu_busy_s * 1e9 == pytest.approx(30)  # 3 × 10 ns of kernels, not the 90 ns window
    assert f.graph_gap_s * 1e9 == pytest.approx(60)  # 20-50 and 60-90
    assert f.lead_in_s * 1e9 == pytest.approx(10)  # the launch at 0 to the first kernel at 10
    assert f.launch_wait_s == 0


def test_without_steps_the_wait_for_the_first_gpu_activity_is_lead_in() -> None:
    # The span opens on a launch 5 ms before the GPU runs anything (a big graph being submitted).
    events = [kernel(5_000_000, 1000, 0), kernel(5_001_000, 1000, 10)]
    f = _both(events, [])
    assert f.lead_in_s * 1e9 == pytest.approx(5_000_000) and f.launch_wait_s == 0


def test_idle_before_a_steps_first_launch_is_host_stall() -> None:
    # Step 1 [0, 1000): launch at 50, kernel 60-100. Step 2 [1000, 2000): the host sleeps; its first
    # launch at 1500, kernel 1510-1600, then a second kernel launched at 1700 (after the GPU went
    # idle at 1600) runs 1705-1800.
    steps = [(1, 0, 1000), (2, 1000, 2000)]
    events = [kernel(60, 40, 50, step=1), kernel(1510, 90, 1500, step=2), kernel(1705, 95, 1700, step=2)]
    f = _both(events, steps)
    # Hand-computed: host stall 0-50 and 100-1500; lead-in 50-60 and 1500-1510; launch wait
    # 1600-1705; busy 40 + 90 + 95; other idle 1800-2000.
    assert f.host_stall_s * 1e9 == pytest.approx(50 + 1400)
    assert f.lead_in_s * 1e9 == pytest.approx(10 + 10)
    assert f.launch_wait_s * 1e9 == pytest.approx(105) and f.launch_gaps == 1
    assert f.gpu_busy_s * 1e9 == pytest.approx(225)
    assert f.other_idle_s * 1e9 == pytest.approx(200)
    # Per step: step 2 alone stalls from its start (1000) to its first launch.
    assert f.steps[1].host_stall_s * 1e9 == pytest.approx(500)


def test_queued_work_that_does_not_start_is_other_idle() -> None:
    # Launched at 0 (before the GPU went idle at 100), yet started only at 300: a dependency.
    events = [kernel(0, 100, 0), kernel(300, 10, 0, stream=8)]
    f = _both(events, [])
    assert f.other_idle_s * 1e9 == pytest.approx(200) and f.launch_wait_s == 0


def _random(seed: int) -> tuple[list[GpuEvent], list[tuple[int, int, int]]]:
    rng = np.random.default_rng(seed)
    steps = [(1, 0, 5000), (2, 5000, 10000)] if rng.random() < 0.6 else []
    events = []
    for _ in range(int(rng.integers(1, 50))):
        start = int(rng.integers(0, 10000))
        launch = int(start - rng.integers(0, 400)) if rng.random() < 0.85 else None
        step = next((s[0] for s in steps if launch is not None and s[1] <= launch < s[2]), None) if steps else None
        graph = int(rng.integers(0, 4)) if rng.random() < 0.3 else None
        events.append(kernel(start, int(rng.integers(0, 700)), launch, step=step, graph=graph,
                             stream=int(rng.integers(7, 10))))
    return events, steps


@pytest.mark.parametrize("seed", range(40))
def test_busy_is_the_interval_union_and_the_buckets_fill_the_span(seed: int) -> None:
    events, steps = _random(seed)
    f = _both(events, steps)
    lo, hi = timeline.trace_span(events, steps)
    scoped = [e for e in events if e.step is not None or not steps]
    assert f.gpu_busy_s * 1e9 == pytest.approx(union_ns([(e.start_ns, e.end_ns) for e in scoped], lo, hi), abs=1e-6)
    idle = f.launch_wait_s + f.host_stall_s + f.lead_in_s + f.graph_gap_s + f.other_idle_s
    assert f.gpu_busy_s + idle == pytest.approx(f.span_s, abs=1e-15)
    assert f.idle_s == pytest.approx(idle, abs=1e-15)


# --- real traces: busy against an independent union -----------------------------------------------

def _raw_union(path: Path, lo_ns: float, hi_ns: float) -> float:
    """Union (ns) of the trace's kernel/copy/memset intervals in [lo, hi) relative to the tool's
    origin, which is recovered as the earliest of GPU starts, launch starts and step starts."""
    document = json.loads(gzip.decompress(path.read_bytes()))
    events = document["traceEvents"] if isinstance(document, dict) else document
    gpu = [e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    # Times to integer ns, as any reader of µs floats must (the tool does too).
    starts = [round(float(e["ts"]) * 1e3) for e in gpu]
    return union_ns([(a, a + round(float(e.get("dur", 0)) * 1e3)) for a, e in zip(starts, gpu)], lo_ns, hi_ns)


def classify(path: Path, hw: str = "auto"):
    loaded = read_input(path)
    return loaded, classify_loaded(loaded, load_registry(), hw, None)


@pytest.mark.parametrize("path, hw", [(VLLM, "mi300x"), (H200 / "captured" / "decode_bf16_cudagraph.json.gz", "auto"),
                                      (H200 / "kineto" / "mini_decode_cudagraph.json.gz", "auto")])
def test_gpu_busy_is_the_union_of_the_gpu_intervals_on_real_traces(path: Path, hw: str) -> None:
    loaded, result = classify(path, hw)
    s = result.summary
    events = list(loaded.events or [])
    steps = loaded.extra["steps"]
    lo, hi = timeline.trace_span(events, steps)
    # The trace's time origin: the tool's event times are relative; shift the raw ones the same way.
    document = json.loads(gzip.decompress(path.read_bytes()))
    raw = document["traceEvents"] if isinstance(document, dict) else document
    first_gpu = min(round(float(e["ts"]) * 1e3) for e in raw if e.get("ph") == "X" and e.get("cat") == "kernel")
    first_ours = min(e.start_ns for e in events if e.kind == "kernel")
    shift = first_gpu - first_ours
    independent = _raw_union(path, lo + shift, hi + shift)
    if steps:  # the tool counts only work launched inside the steps; here every kernel is
        assert s.gpu_busy_s * 1e9 <= independent + 2.0
        assert s.gpu_busy_s * 1e9 == pytest.approx(independent, rel=0.01)
    else:
        assert s.gpu_busy_s * 1e9 == pytest.approx(independent, abs=2.0)
    assert s.gpu_busy_s <= s.span_s


def test_a_graph_replay_trace_is_not_told_to_use_cuda_graphs() -> None:
    # TraceLens vLLM decode: the span opens 7.8 ms before the first GPU activity. That is lead-in;
    # before, it was booked as one launch wait of 42% and the plan prescribed CUDA graphs.
    _, result = classify(VLLM, "mi300x")
    s = result.summary
    assert s.launch_wait_s == 0
    assert s.lead_in_s == pytest.approx(7.837e-3, rel=1e-3)
    assert s.graph_kernels and s.graph_kernels > 0.8 * (s.kernels or 0)
    assert "cuda_graphs" not in [step.candidate.rule for step in plan_trace(result).steps]


def test_replayed_graph_gaps_are_their_own_bucket_on_a_capture() -> None:
    # H200 decode replayed from a CUDA graph: the replay windows used to count as busy.
    _, result = classify(H200 / "captured" / "decode_bf16_cudagraph.json.gz")
    s = result.summary
    assert s.graph_gap_s > 0 and s.gpu_busy_s + s.graph_gap_s <= s.span_s
    assert s.gpu_busy_s < sum(k.total_s for k in result.kernels) + 1e-12


# --- host stall: verdict and plan -------------------------------------------------------------------

def _kineto(path: Path, steps: list[tuple[float, float]], kernels: list[tuple[int, float, float, float]]) -> Path:
    """A minimal kineto trace: ProfilerStep spans (µs), and kernels as (step, launch ts, start, dur)."""
    events: list[dict] = [{"ph": "X", "cat": "user_annotation", "name": f"ProfilerStep#{i}", "ts": a, "dur": b - a,
                           "pid": 1, "tid": 1} for i, (a, b) in enumerate(steps)]
    for n, (_, launch, start, dur) in enumerate(kernels):
        events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "ts": launch, "dur": 2,
                       "pid": 1, "tid": 1, "args": {"correlation": n + 1}})
        events.append({"ph": "X", "cat": "kernel", "name": "gemv", "ts": start, "dur": dur, "pid": 0, "tid": 7,
                       "args": {"device": 0, "stream": 7, "correlation": n + 1}})
    path.write_text(json.dumps({"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "NVIDIA H200"}],
                                "traceEvents": events}))
    return path


def _stalled(tmp_path: Path) -> Path:
    # Four steps of 10 ms: the host sleeps 8 ms (a slow data loader), then launches 10 kernels of
    # 150 µs back to back (the GPU never waits for them once it starts).
    steps, kernels = [], []
    for i in range(4):
        t0 = i * 10_000.0
        steps.append((t0, t0 + 10_000.0))
        for k in range(10):
            kernels.append((i, t0 + 8_000 + 10 * k, t0 + 8_010 + 150 * k, 150.0))
    return _kineto(tmp_path / "stalled.json", steps, kernels)


def test_a_slow_data_loader_is_a_host_stall_verdict_and_plan(tmp_path: Path) -> None:
    _, result = classify(_stalled(tmp_path))
    s = result.summary
    # Hand-computed: each step's kernels run back to back from +8.01 ms to +9.51 ms (busy 1.5 ms).
    # Stall: 8 ms before the first step's first launch; then from the previous step's last kernel
    # (+9.51 ms) to the next first launch (+18 ms): 8.49 ms, three times. Lead-in 10 µs a step.
    assert s.verdict == "host-stall"
    assert s.host_stall_s * 1e3 == pytest.approx(8.0 + 3 * 8.49, rel=1e-6)
    assert s.launch_wait_s == 0 and s.gpu_busy_s * 1e3 == pytest.approx(4 * 1.5, rel=1e-6)
    rules = [step.candidate.rule for step in plan_trace(result).steps]
    assert rules and rules[0] == "host_stall" and "cuda_graphs" not in rules


def test_host_stall_delta_is_what_the_rest_of_the_step_cannot_hide() -> None:
    # Hand-computed: a 3 s stall, 2 s for the rest of the step. One background worker overlaps the
    # next batch's 3 s with the 2 s: 1 s stays, the step goes from 5 s to 3 s.
    model = TraceModel(steps=1, groups=(), lead_in_s=0.0, host_s=2.0, fixed_gap_s=0.0, other_idle_s=0.0,
                       overlap=1.0, launch_floor_s=5e-6, host_stall_s=3.0)
    evaluation = evaluate_trace(model)
    assert evaluation.step_s == pytest.approx(5.0)
    candidate = host_stall(TraceDiagnosis(model, evaluation, None))  # type: ignore[arg-type]
    assert candidate is not None and "2 workers would hide it entirely" in candidate.rationale
    assert evaluate_trace(candidate.apply(model)).step_s == pytest.approx(3.0)


# --- syncs before CUDA graphs -----------------------------------------------------------------------

def test_cuda_graphs_wait_for_the_syncs_that_break_capture() -> None:
    host_paced = dict(steps=1, lead_in_s=0.0, host_s=10e-3, fixed_gap_s=0.0, other_idle_s=0.0,
                      overlap=1.0, launch_floor_s=5e-6)
    from roofline.planner.trace import GroupModel

    groups = (GroupModel("k", "aten::mm", "kernel", 100, 1e-3, "memory", 1.0, 1.0, "bf16", "matrix", None, None,
                         None, False),)
    with_syncs = TraceModel(**host_paced, groups=groups, syncs=60, sync_s=2e-3)  # type: ignore[arg-type]
    assert cuda_graphs(TraceDiagnosis(with_syncs, evaluate_trace(with_syncs), None)) is None  # type: ignore[arg-type]
    without = TraceModel(**host_paced, groups=groups)  # type: ignore[arg-type]
    assert cuda_graphs(TraceDiagnosis(without, evaluate_trace(without), None)) is not None  # type: ignore[arg-type]


def test_a_step_with_a_sync_per_layer_removes_them_before_capturing() -> None:
    # 27 syncs in 3 steps (H200 capture, one .item() per layer): remove_syncs, then cuda_graphs,
    # re-evaluated on the step the sync removal left.
    _, result = classify(H200 / "captured" / "decode_bf16_sync_per_layer.json.gz")
    steps = plan_trace(result).steps
    rules = [s.candidate.rule for s in steps]
    assert "remove_syncs" in rules and "cuda_graphs" in rules
    assert rules.index("remove_syncs") < rules.index("cuda_graphs")
    graphs = steps[rules.index("cuda_graphs")]
    assert graphs.state_before.syncs == 0


# --- the profiler's own overhead --------------------------------------------------------------------

def test_removable_overhead_is_bounded_by_the_wait_and_the_launch_floor() -> None:
    # 1000 ops × 4 µs = 4 ms of overhead; 5 ms of launch wait; 1 ms busy; 300 launches × 5 µs floor.
    assert removable_overhead_s(4e-3, launch_wait_s=5e-3, busy_s=1e-3, eager_launches=300,
                                launch_floor_s=5e-6) == pytest.approx(4e-3)
    # The host cannot issue 300 launches in less than 1.5 ms: at most 6 − 1.5 ms comes out.
    assert removable_overhead_s(9e-3, launch_wait_s=5e-3, busy_s=1e-3, eager_launches=300,
                                launch_floor_s=5e-6) == pytest.approx(4.5e-3)
    assert removable_overhead_s(9e-3, launch_wait_s=1e-3, busy_s=10e-3, eager_launches=10,
                                launch_floor_s=5e-6) == pytest.approx(1e-3)


def test_a_launch_wait_within_the_profiler_overhead_says_so_in_the_verdict() -> None:
    # H200 mini decode: 416 recorded ops per step × 4 µs ≈ 1.66 ms of profiler overhead per step,
    # more than its 0.84 ms of launch wait; 112 launches × the 5 µs floor fit under GPU busy.
    _, result = classify(H200 / "kineto" / "mini_decode_eager.json.gz")
    s = result.summary
    assert s.host_ops == 3 * 416
    assert s.profiler_overhead_s == pytest.approx(3 * 416 * PROFILER_OVERHEAD_PER_OP_S)
    assert s.profiler_wait_s == pytest.approx(s.launch_wait_s)
    assert s.verdict == "memory"
    assert any("within the profiler's own host overhead" in c for c in s.caveats)
    # As profiled (the --verify view) the host sets the pace; unprofiled, the GPU does, and the plan
    # no longer opens with CUDA graphs.
    assert evaluate_trace(trace_model(result, profiled=True)).critical == "host"
    assert evaluate_trace(trace_model(result)).critical == "gpu"
    assert "cuda_graphs" not in [step.candidate.rule for step in plan_trace(result).steps]


# --- honest headlines -------------------------------------------------------------------------------

def test_a_truncated_trace_says_so_in_the_verdict_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from roofline.cli import app

    text = gzip.decompress((H200 / "kineto" / "mini_decode_eager.json.gz").read_bytes())
    cut = tmp_path / "cut.json"
    cut.write_bytes(text[: int(len(text) * 0.8)])
    done = CliRunner().invoke(app, ["classify", str(cut), "--top", "1"])
    assert done.exit_code == 0, done.output
    verdict_line = next(line for line in done.stdout.splitlines() if line.startswith("verdict:"))
    assert "truncated trace" in verdict_line
    md = CliRunner().invoke(app, ["classify", str(cut), "-f", "md"])
    assert "truncated trace" in next(line for line in md.stdout.splitlines() if line.startswith("**Verdict"))


def test_a_pretty_printed_trace_with_a_trailer_list_is_not_damaged(tmp_path: Path) -> None:
    # json.dumps(indent=2) of a real trace, deviceProperties moved after the events (as TraceLens'
    # H100 traces have it): the list's closing bracket used to be taken for the event array's, and
    # the real closing bracket reported as a damaged stretch.
    original = H200 / "kineto" / "mini_decode_eager.json.gz"
    document = json.loads(gzip.decompress(original.read_bytes()))
    properties = document.pop("deviceProperties")
    events = document.pop("traceEvents")
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps({**document, "traceEvents": events, "deviceProperties": properties,
                                  "traceName": "pretty"}, indent=2))
    loaded = read_input(pretty)
    assert not any("damaged" in w for w in loaded.warnings), loaded.warnings
    assert loaded.extra["integrity"] == []
    assert len(loaded.events or []) == len(read_input(original).events or [])
