"""Write a PyTorch profiler trace back out with the diagnosis on it, for Perfetto or
chrome://tracing: every GPU event of a classified kernel group gets ``args["roofline"]`` (bound, AI,
% of roof, roof, op), and each device gets two counter tracks (``ph: "C"``): the GPU state over time
(busy by bound and each idle state) and the running verdict (each bound's share of the span so
far; its last sample is the trace verdict).

The input is streamed (``roofline.sources.jsonstream``) and the output written event by event to a
temporary file renamed into place, so the original is never touched. Memory: what classify already
holds (the timeline events) plus one timeline segment per kernel or gap (~100 bytes each) and one
lookup entry per kernel whose name alone does not identify its group (same kernel, several ops).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from roofline.analysis.classify import KernelVerdict
from roofline.atomicio import atomic_output
from roofline.analysis.events import GpuEvent
from roofline.analysis.result import ClassifyResult
from roofline.analysis.timeline import DeviceSegments, timeline_segments
from roofline.errors import InputError
from roofline.report.matching import VerdictIndex
from roofline.sources import LoadedInput
from roofline.sources.jsonstream import StreamState, iter_event_batches
from roofline.sources.kineto import GPU_CATEGORIES
from roofline.units import fmt_intensity, fmt_percent

ANNOTATION_KEY = "roofline"
STATE_COUNTER = "roofline: GPU state"
RUNNING_COUNTER = "roofline: running verdict (% of span so far)"
STATES = ("compute", "memory", "launch", "latency", "communication", "unknown", "launch wait", "host stall", "lead in",
          "graph gap", "other idle")
RUNNING = ("compute", "memory", "launch", "latency", "communication", "unknown", "host-stall", "idle", "lead-in",
           "profiler")
# Where each idle kind counts in the running verdict (analysis.result.verdict_candidates).
_RUNNING_OF_IDLE = {"launch_wait": "launch", "host_stall": "host-stall", "graph_gap": "idle", "other_idle": "idle",
                    "lead_in": "lead-in"}
# The running verdict changes slowly: this many samples per device show its course without
# adding an event per kernel to a trace that may hold millions.
RUNNING_SAMPLES = 2000


@dataclass(frozen=True)
class AnnotateSummary:
    path: Path
    gpu_events: int
    annotated: int
    counter_events: int
    truncated: bool = False

    def line(self) -> str:
        return (
            f"wrote {self.path}: {self.annotated:,} of {self.gpu_events:,} GPU events annotated, "
            f"{self.counter_events:,} counter samples"
            + (" (from a truncated trace: recovered events only)" if self.truncated else "")
            + "; open it in https://ui.perfetto.dev"
        )


def check_annotate_target(target: Path, inputs: list[Path]) -> None:
    """Refuse before any reading: a bad suffix, several inputs, or the input itself as output."""
    name = target.name.lower()
    if not (name.endswith(".json") or name.endswith(".json.gz")):
        raise InputError("the annotated trace must be .json or .json.gz", file=target, place="--annotate",
                         fix="e.g. --annotate trace.roofline.json.gz")
    if len(inputs) != 1:
        raise InputError(f"--annotate writes one trace, but {len(inputs)} inputs were given", place="--annotate",
                         fix="classify one trace at a time")
    if _same_file(target, inputs[0]):
        raise InputError("refusing to overwrite the input trace", file=target, place="--annotate",
                         fix="write the annotated copy to another path")
    if not target.parent.is_dir() and str(target.parent):
        raise InputError("output directory does not exist", file=target, place="--annotate", fix="create it first")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve() or os.path.samefile(a, b)
    except (OSError, RuntimeError):  # a missing file, or a symlink loop (RuntimeError up to 3.12)
        return False


def annotation(verdict: KernelVerdict) -> dict[str, Any]:
    """The args added to each event of a kernel group: the group's figures (mean over its calls)."""
    parts = [f"{verdict.bound.value}-bound"]
    if verdict.ai is not None:
        parts.append(f"AI {fmt_intensity(verdict.ai)} FLOP/B")
    if verdict.pct_of_roof is not None:
        parts.append(f"{fmt_percent(verdict.pct_of_roof)} of the {verdict.roof} roof")
    elif verdict.roof:
        parts.append(f"judged on the {verdict.roof} roof")
    payload: dict[str, Any] = {
        "verdict": " · ".join(parts),
        "bound": verdict.bound.value,
        "ai_flop_per_byte": verdict.ai,
        "pct_of_roof": verdict.pct_of_roof,
        "roof": verdict.roof,
        "roof_origin": verdict.roof_origin,
        "op": verdict.op,
        "group_calls": verdict.count,
        "source": verdict.source,
    }
    if verdict.notes:
        payload["note"] = verdict.notes[0]
    return payload


class _Resolver:
    """Raw trace event → its verdict. Most kernel names map to one group; for the rest the event's
    (device, correlation id, name) finds the op the reader linked it to."""

    def __init__(self, events: list[GpuEvent], index: VerdictIndex) -> None:
        groups: dict[tuple[str, str], set[tuple[str | None, bool]]] = defaultdict(set)
        for event in events:
            groups[(event.name, event.kind)].add((event.op, event.in_graph))
        self.by_name: dict[tuple[str, str], dict[str, Any]] = {}
        ambiguous = set()
        for (name, kind), keys in groups.items():
            if len(keys) == 1:
                op, in_graph = next(iter(keys))
                verdict = index.find(name, op, kind, in_graph)
                if verdict is not None:
                    self.by_name[(name, kind)] = annotation(verdict)
            else:
                ambiguous.add((name, kind))
        self.by_launch: dict[tuple[int, int, str], dict[str, Any]] = {}
        payloads: dict[int, dict[str, Any]] = {}
        for event in events:
            if (event.name, event.kind) in ambiguous and event.correlation is not None:
                verdict = index.for_event(event)
                if verdict is not None:
                    payload = payloads.setdefault(id(verdict), annotation(verdict))
                    self.by_launch[(event.device, event.correlation, event.name)] = payload

    def find(self, name: str, kind: str, device: int, correlation: Any) -> dict[str, Any] | None:
        found = self.by_name.get((name, kind))
        if found is not None or correlation is None:
            return found
        try:
            return self.by_launch.get((device, int(correlation), name))
        except (TypeError, ValueError):
            return None


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bound_of(event: GpuEvent, index: VerdictIndex) -> str:
    verdict = index.for_event(event)
    return verdict.bound.value if verdict is not None else "unknown"


def counter_samples(device: DeviceSegments, index: VerdictIndex,
                    profiler_share: float = 0.0) -> Iterator[tuple[str, int, dict[str, float]]]:
    """(counter name, time in ns relative to the trace origin, values) for one device.
    ``profiler_share``: the part of the launch wait the profiler's own overhead explains
    (Summary.profiler_wait_s / launch_wait_s), counted as "profiler", not "launch", as the verdict
    does."""
    state = None
    for segment in device.segments:
        if segment.kind != "busy":
            changes = [(segment.start_ns, segment.kind.replace("_", " "))]
        else:
            changes = [
                (max(e.start_ns, segment.start_ns), _bound_of(e, index))
                for e in sorted(segment.members, key=lambda e: e.start_ns)
                if e.start_ns < segment.end_ns
            ] or [(segment.start_ns, "unknown")]
        for at, now in changes:
            if now != state:
                state = now
                yield STATE_COUNTER, at, {s: float(s == now) for s in STATES}
    yield STATE_COUNTER, device.span_end_ns, {s: 0.0 for s in STATES}
    span = device.span_end_ns - device.span_start_ns
    step = span / RUNNING_SAMPLES if span > 0 else 0
    totals = dict.fromkeys(RUNNING, 0.0)
    last = None
    for number, segment in enumerate(device.segments):
        if segment.kind == "launch_wait":
            totals["launch"] += segment.dur_ns * (1.0 - profiler_share)
            totals["profiler"] += segment.dur_ns * profiler_share
        elif segment.kind in _RUNNING_OF_IDLE:
            totals[_RUNNING_OF_IDLE[segment.kind]] += segment.dur_ns
        else:
            # A busy piece is shared among the bounds of the kernels in it, by their time.
            weights: dict[str, float] = defaultdict(float)
            for e in segment.members:
                weights[_bound_of(e, index)] += e.dur_ns
            whole = sum(weights.values())
            for bound, weight in weights.items():
                totals[bound] += segment.dur_ns * (weight / whole if whole else 1.0 / len(weights))
            if not weights:
                totals["unknown"] += segment.dur_ns
        elapsed = segment.end_ns - device.span_start_ns
        final = number == len(device.segments) - 1
        if elapsed > 0 and (final or last is None or segment.end_ns - last >= step):
            last = segment.end_ns
            yield RUNNING_COUNTER, segment.end_ns, {k: round(100.0 * v / elapsed, 2) for k, v in totals.items()}


@contextmanager
def _atomic_stream(target: Path) -> Iterator[IO[bytes]]:
    """A binary stream to a temporary file beside ``target``, gzip-compressed for ``.gz``
    (mtime 0: the same input gives the same bytes), renamed over ``target`` only on success
    (roofline.atomicio, which every output goes through)."""
    with atomic_output(target) as out:
        yield out


def annotate_trace(loaded: LoadedInput, result: ClassifyResult, target: Path) -> AnnotateSummary:
    """Stream ``loaded.path`` into ``target`` with verdicts in the args and counter tracks added."""
    target = Path(target)
    if loaded.format != "kineto" or loaded.events is None:
        raise InputError(f"--annotate needs a PyTorch profiler trace, not a {loaded.format} input",
                         file=loaded.path, place="--annotate", fix="drop --annotate for this input")
    check_annotate_target(target, [loaded.path])
    events = loaded.events
    index = VerdictIndex(result)
    resolver = _Resolver(events, index)
    state = StreamState()
    min_start_ns: int | None = None
    pids: dict[int, Any] = {}
    gpu_events = annotated = counter_events = 0
    with _atomic_stream(target) as out:
        first = True  # no event written yet: the next one needs no separator
        header_written = False
        for batch in iter_event_batches(loaded.path, state):
            if not header_written:
                out.write(_header(state.header))  # the reader fills the header before the first batch
                header_written = True
            pieces = []
            for event in batch:
                if type(event) is dict and event.get("ph") == "X" and event.get("cat") in GPU_CATEGORIES:
                    gpu_events += 1
                    args = event.get("args")
                    args = args if isinstance(args, dict) else {}
                    device = _int(args.get("device", event.get("pid", 0)))
                    pids.setdefault(device, event.get("pid", device))
                    try:
                        start = int(round(event["ts"] * 1000.0))
                        min_start_ns = start if min_start_ns is None else min(min_start_ns, start)
                    except (KeyError, TypeError, ValueError):
                        pass
                    payload = resolver.find(event.get("name") or "", GPU_CATEGORIES[event["cat"]], device,
                                            args.get("correlation"))
                    if payload is not None and isinstance(event.get("args", {}), dict):
                        event["args"] = {**args, ANNOTATION_KEY: payload}
                        annotated += 1
                pieces.append(orjson.dumps(event))
            if pieces:
                out.write((b"" if first else b",\n") + b",\n".join(pieces))
                first = False
        if not header_written:
            out.write(_header(state.header))
        # Event times are relative to the reader's origin; the raw minimum maps them back.
        origin = (min_start_ns or 0) - min((e.start_ns for e in events), default=0)
        steps = list(loaded.extra.get("steps") or [])
        counters = []
        summary = result.summary
        share = (summary.profiler_wait_s or 0.0) / summary.launch_wait_s if summary.launch_wait_s > 0 else 0.0
        for device in timeline_segments(events, steps):
            pid = pids.get(device.device, device.device)
            for name, at, values in counter_samples(device, index, share):
                counters.append(orjson.dumps({"ph": "C", "name": name, "pid": pid, "tid": 0, "cat": "roofline",
                                              "ts": round((origin + at) / 1000.0, 3), "args": values}))
        counter_events = len(counters)
        if counters:
            out.write((b"" if first else b",\n") + b",\n".join(counters))
        out.write(_trailer(state.trailer))
    # A truncated input still gives complete JSON: the copy holds the events the reader recovered.
    return AnnotateSummary(target, gpu_events, annotated, counter_events, state.truncated)


def _header(header: dict[str, Any]) -> bytes:
    """Header keys first, as kineto writes them, then the event array one event per line (so this
    tool's own streaming reader reads the copy as fast as the original)."""
    opening = orjson.dumps(header)[:-1] if header else b"{"
    return opening + (b"," if header else b"") + b'\n"traceEvents": [\n'


def _trailer(trailer: dict[str, Any]) -> bytes:
    rest = orjson.dumps(trailer)[1:] if trailer else b"}"
    return b"\n]" + (b"," + rest if trailer else rest) + b"\n"
