"""Cost CUDA/HIP-graph replays from the profile of their capture.

A graph replay's kernels carry no op link: the replay trace shows one ``cudaGraphLaunch`` /
``hipGraphLaunch`` and the kernels it ran. The ops and their input shapes were recorded when the
graph was *captured*: a profile of the capture holds, between each ``StreamBeginCapture`` and
``StreamEndCapture``, the kernel launches the graph will replay (``args.kernel`` names the kernel)
and, through their ``External id``, the op that issued each one (vLLM and SGLang write such
capture profiles; TraceLens keeps them beside its replay traces in ``capture_traces/``).

The join: each replay's kernels, in GPU order, are matched to a captured graph's launches by
kernel name, scanning forward and skipping captured launches the replay does not show (a capture
records a few launches the graph never replays). The first captured graph that matches every
kernel of the replay gives each kernel its op; the op's cost comes from the op cost formulas on
its recorded shapes and is shared among that op's kernels in this replay as for eager kernels
(bytes by GPU time, FLOPs to the kernels that do them). Replays no captured graph matches keep
their reason, and a warning says how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from roofline.analysis.event_table import KINDS, PRECISIONS, SOURCES, UNITS, EventTable
from roofline.errors import InputError
from roofline.precision import Unit
from roofline.sources.gzipcap import read_bytes_capped

_KERNEL = KINDS.index("kernel")
CAPTURE_LIMIT = 8 * 1024**3


@dataclass(frozen=True)
class CapturedGraph:
    """One capture window: the kernels it launched in order, and for each the index of the op
    (in ``ops``) that launched it (-1: no op recorded)."""

    source: str
    kernels: tuple[str, ...]
    op_of_kernel: tuple[int, ...]
    ops: tuple[dict[str, Any], ...]  # {"name", "args"} of each op


def capture_files(path: Path) -> list[Path]:
    """The capture profiles at ``path``: the file itself, or a directory's traces (those its
    ``execution_details.json`` lists where it has one)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError("does not exist", file=path, place="--graph-capture",
                         fix="pass the capture profile, or the directory holding them")
    details = path / "execution_details.json"
    if details.is_file():
        try:
            listed = orjson.loads(details.read_bytes())
            files = [path / str(entry["file"]) for entry in listed]
        except (orjson.JSONDecodeError, TypeError, KeyError) as exc:
            raise InputError(f"is not a list of {{file, batch_size, mode}} entries ({type(exc).__name__})",
                             file=details, place="--graph-capture",
                             fix="fix the file, or pass the capture profile itself") from None
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise InputError(f"lists {missing[0].name}, which is not there", file=details, place="--graph-capture",
                             fix="pass the capture profile itself")
        return files
    files = sorted(p for p in path.iterdir() if p.name.endswith((".json", ".json.gz")))
    if not files:
        raise InputError("holds no .json or .json.gz capture profile", file=path, place="--graph-capture",
                         fix="pass the directory the capture profiles were written to")
    return files


def read_graph_capture(path: Path) -> list[CapturedGraph]:
    """Every capture window in the capture profile(s) at ``path``."""
    graphs: list[CapturedGraph] = []
    for file in capture_files(path):
        graphs.extend(_windows(file))
    if not graphs:
        raise InputError("records no graph capture (no StreamBeginCapture/StreamEndCapture pair)",
                         file=path, place="--graph-capture",
                         fix="profile the engine while it captures its graphs (vLLM/SGLang capture profiling)")
    return graphs


def _windows(file: Path) -> list[CapturedGraph]:
    content, truncated = read_bytes_capped(file, CAPTURE_LIMIT, "graph capture profile")
    try:
        document = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        what = "is truncated" if truncated else "is not JSON"
        raise InputError(f"{what} ({exc})", file=file, place="--graph-capture",
                         fix="pass the complete capture profile") from None
    events = document.get("traceEvents") if isinstance(document, dict) else document
    if not isinstance(events, list):
        raise InputError("has no traceEvents list", file=file, place="--graph-capture",
                         fix="pass a PyTorch profiler trace of the graph capture")
    begins: list[float] = []
    ends: list[float] = []
    launches: list[tuple[float, str, Any]] = []
    ops: dict[Any, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("ts"), (int, float)):
            continue
        name = event.get("name")
        args = event.get("args") if isinstance(event.get("args"), dict) else {}
        category = event.get("cat")
        if category == "cpu_op":
            ops.setdefault(args.get("External id"), {"name": name, "args": args})
        elif category in ("cuda_runtime", "cuda_driver") and isinstance(name, str):
            if "StreamBeginCapture" in name:
                begins.append(event["ts"] + float(event.get("dur") or 0))
            elif "StreamEndCapture" in name:
                ends.append(event["ts"])
            elif "Launch" in name and "GraphLaunch" not in name:
                kernel = args.get("kernel")
                launches.append((event["ts"], kernel if isinstance(kernel, str) else None, args.get("External id"),
                                 event.get("tid"), event["ts"] + float(event.get("dur") or 0)))
    begins.sort()
    ends.sort()
    launches = _outermost(sorted(launches, key=lambda launch: launch[0]))
    times = np.array([launch[0] for launch in launches])
    graphs = []
    for begin, end in zip(begins, ends):
        lo, hi = np.searchsorted(times, [begin, end])
        window = launches[lo:hi]
        if not window:
            continue
        index: dict[Any, int] = {}
        window_ops: list[dict[str, Any]] = []
        op_of_kernel = []
        for _, _, external, *_ in window:
            op = ops.get(external) if external is not None else None
            if op is None:
                op_of_kernel.append(-1)
                continue
            if external not in index:
                index[external] = len(window_ops)
                window_ops.append(op)
            op_of_kernel.append(index[external])
        graphs.append(CapturedGraph(str(file), tuple(launch[1] for launch in window), tuple(op_of_kernel),
                                    tuple(window_ops)))
    return graphs


def _outermost(launches: list[tuple]) -> list[tuple]:
    """The launches not nested in another launch call of the same thread: a runtime launch
    (``cudaLaunchKernelExC``) that CUPTI also records as the driver call it makes (``cuLaunchKernelEx``)
    is one kernel, not two."""
    kept: list[tuple] = []
    open_until: dict[Any, float] = {}
    for launch in launches:
        start, _, _, thread, end = launch
        if start < open_until.get(thread, -np.inf):
            continue
        open_until[thread] = end
        kept.append(launch)
    return kept


def align(replayed: list[str], captured: tuple[str | None, ...]) -> list[int] | None:
    """For each replayed kernel name, the index of its captured launch: a forward scan that skips
    captured launches the replay does not show; None when a replayed kernel finds none.

    CUDA's runtime callbacks name no kernel on a launch (kineto records ``args.kernel`` on ROCm and in
    the engines' capture profiles, not on a plain PyTorch CUDA capture): a capture whose launches are
    all nameless matches by position, and only a replay of exactly as many kernels as it launched."""
    if captured and all(name is None for name in captured):
        return list(range(len(replayed))) if len(replayed) == len(captured) else None
    out = []
    position = 0
    for name in replayed:
        while position < len(captured) and captured[position] != name:
            position += 1
        if position == len(captured):
            return None
        out.append(position)
        position += 1
    return out


def apply_graph_capture(table: EventTable, graphs: list[CapturedGraph], warnings: list[str]) -> int:
    """Give the graph-replayed kernels of ``table`` the op and cost of their captured launch;
    returns how many kernels were matched."""
    from roofline.opcost import NoCost, OpCall, op_cost
    from roofline.opcost.model_layer import active_model, shards_from_attention, using_model
    from roofline.sources.kineto_cost import _flop_takers, _shares

    rows_all = np.flatnonzero((table.kind == _KERNEL) & table.in_graph)
    if not len(rows_all):
        warnings.append("--graph-capture given, but the trace has no graph-replayed kernels")
        return 0
    order = np.lexsort((table.start_ns[rows_all], table.correlation[rows_all]))
    rows_all = rows_all[order]
    replay_ids, starts = np.unique(table.correlation[rows_all], return_index=True)
    bounds = list(starts) + [len(rows_all)]
    matched_rows: list[np.ndarray] = []
    instance: list[np.ndarray] = []
    op_of: list[dict[str, Any]] = []  # per instance
    unmatched = 0
    for g in range(len(replay_ids)):
        rows = rows_all[bounds[g]:bounds[g + 1]]
        names = [table.names.values[code] for code in table.name[rows].tolist()]
        hit = None
        for graph_index, graph in enumerate(graphs):
            positions = align(names, graph.kernels)
            if positions is not None:
                hit = graph_index, graph, positions
                break
        if hit is None:
            unmatched += len(rows)
            continue
        _, graph, positions = hit
        ops_here = np.array([graph.op_of_kernel[p] for p in positions], np.int64)
        keep = ops_here >= 0
        unmatched += int((~keep).sum())
        base = len(op_of)
        for op_index in np.unique(ops_here[keep]).tolist():
            op_of.append(graph.ops[op_index])
        local = {op: base + i for i, op in enumerate(np.unique(ops_here[keep]).tolist())}
        matched_rows.append(rows[keep])
        instance.append(np.array([local[op] for op in ops_here[keep].tolist()], np.int64))
    if not matched_rows:
        warnings.append(f"none of {len(rows_all)} graph-replayed kernels matches a kernel of the {len(graphs)} captured "
                        "graph(s) by name and order: is the capture profile from the same engine build and batch size?")
        return 0
    # The reader's "no op link and no eager twin" count is superseded by this join's own.
    warnings[:] = [w for w in warnings if "CUDA-graph kernels have no op link and no eager twin" not in w]
    rows = np.concatenate(matched_rows)
    inverse = np.concatenate(instance)
    groups = len(op_of)
    durations = table.dur_ns[rows].astype(np.float64)
    share = _shares(inverse, durations, np.ones(len(rows), bool), groups)
    flop_share = _shares(inverse, durations, _flop_takers(table, rows, inverse, groups), groups)
    costs: dict[bytes, Any] = {}
    per_instance = []
    # classify --model: the captured attention ops tell how many GPUs share the layer's work
    layer = active_model()
    if layer is not None:
        layer = shards_from_attention(layer, ((str(op.get("name")), (op.get("args") or {}).get("Input Dims"))
                                              for op in op_of))
    with using_model(layer):
        for op in op_of:
            key = orjson.dumps(op, option=orjson.OPT_SORT_KEYS, default=str)
            if key not in costs:
                try:
                    costs[key] = op_cost(OpCall.from_event(op))
                except Exception as exc:  # a formula bug must not lose the trace: report and go on
                    costs[key] = NoCost(f"cost formula for {op.get('name')} failed: {type(exc).__name__}")
            per_instance.append(costs[key])
    cost = [per_instance[i] for i in inverse.tolist()]
    no_cost = np.array([isinstance(c, NoCost) for c in cost], bool)
    op_names = np.array([table.ops.code(str(op_of[i].get("name"))) for i in inverse.tolist()], np.int32)
    table.op[rows] = op_names
    for where in np.flatnonzero(no_cost).tolist():
        table.reason[rows[where]] = table.reasons.code(f"captured op: {cost[where].reason}")
    costed = np.flatnonzero(~no_cost)
    for where in costed.tolist():
        c, row = cost[where], rows[where]
        table.flops[row] = c.flops * flop_share[where]
        table.bytes[row] = c.bytes * share[where]
        table.precision[row] = PRECISIONS.index(c.precision)
        # A kernel that gets none of a matrix op's FLOPs (a transpose, a fill) is data movement.
        unit = c.unit if flop_share[where] > 0 or c.flops == 0 else Unit.VECTOR
        table.unit[row] = UNITS.index(unit)
        table.source[row] = SOURCES.index("shapes")
        table.reason[row] = 0
    if unmatched:
        warnings.append(f"{unmatched} of {len(rows_all)} graph-replayed kernels match no captured launch with an op "
                        "(by name and order): their bound stays unknown")
    return len(rows)


__all__ = ["CapturedGraph", "align", "apply_graph_capture", "capture_files", "read_graph_capture"]
