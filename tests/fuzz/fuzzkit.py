"""The fuzzing harness: targets (a reader or loader plus what runs on its result), the outcome
rule every input must meet, and the counters the terminal summary prints.

The rule (docs/robustness.md): for any input, a target returns a result — whose numbers are
finite and non-negative, and which carries a warning whenever data was dropped or altered — or
raises InputError, whose one-line message names the file. Anything else (another exception, a
hang past the time limit, an oracle saying data was silently lost) is a failure.
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import math
import os
import signal
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from roofline.errors import InputError

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

# --- budget -------------------------------------------------------------------------------------

# ROOFLINE_FUZZ_SCALE multiplies every test's number of examples (default 1: the whole fuzz suite
# in well under a minute on two cores); ROOFLINE_FUZZ_RANDOM=1 draws new inputs each run instead of
# the reproducible default. docs/robustness.md shows how to run a long campaign.
SCALE = float(os.environ.get("ROOFLINE_FUZZ_SCALE", "1") or 1)
RANDOM = os.environ.get("ROOFLINE_FUZZ_RANDOM", "") not in ("", "0")
# Seconds one input may take before it counts as a hang.
TIME_LIMIT_S = float(os.environ.get("ROOFLINE_FUZZ_TIME_LIMIT", "20"))


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=not RANDOM,
        database=None,  # nothing written into the checkout
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
    )


# --- counters -----------------------------------------------------------------------------------


@dataclass
class Stats:
    tried: int = 0
    accepted: int = 0  # a result (with its warnings)
    rejected: int = 0  # InputError, one line
    warned: int = 0  # accepted with at least one warning
    failed: int = 0
    failures: list[str] = field(default_factory=list)


STATS: dict[str, Stats] = defaultdict(Stats)


class FuzzFailure(AssertionError):
    pass


class _Hang(BaseException):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    value: Any
    warnings: list[str]


def attempt(target: str, path: Path, run: Callable[[Path], Outcome], *, what: str = "",
            must_reject: bool = False, must_warn: bool = False,
            oracle: Callable[[Outcome], str | None] | None = None) -> Outcome | None:
    """Run ``run(path)`` and hold it to the rule; count the input under ``target``. Returns the
    outcome, or None when the input was rejected with an InputError."""
    stats = STATS[target]
    stats.tried += 1

    def fail(reason: str) -> FuzzFailure:
        stats.failed += 1
        stats.failures.append(f"{what}: {reason}"[:500])
        return FuzzFailure(f"[{target}] {what}: {reason}")

    try:
        with time_limit(TIME_LIMIT_S):
            outcome = run(path)
    except InputError as exc:
        line = exc.one_line()
        if "\n" in line or "\r" in line:
            raise fail(f"InputError message spans lines: {line!r}") from None
        if str(path) not in line and path.name not in line:
            raise fail(f"InputError does not name the file: {line!r}") from None
        stats.rejected += 1
        return None
    except _Hang:
        raise fail(f"no answer within {TIME_LIMIT_S:.0f} s (a hang)") from None
    except RecursionError:
        raise fail("RecursionError") from None
    except Exception as exc:  # noqa: BLE001 - any other exception is what we hunt
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise fail(f"{type(exc).__name__}: {str(exc)[:200]} at {Path(where.filename).name}:{where.lineno}") from exc
    if must_reject:
        raise fail("accepted an input that must be rejected")
    if must_warn and not outcome.warnings:
        raise fail("data was dropped or altered without a warning")
    problem = oracle(outcome) if oracle else None
    if problem:
        raise fail(problem)
    stats.accepted += 1
    stats.warned += bool(outcome.warnings)
    return outcome


# --- what every result must look like ---------------------------------------------------------------

_NON_NEGATIVE = {"span_s", "gpu_busy_s", "idle_s", "total_s", "count", "flops", "bytes", "hardware_flops",
                 "ai", "pct_of_roof", "measured_s", "ttft_s", "itl_s", "throughput_tok_s", "max_batch",
                 "achieved_flops_per_s", "achieved_bytes_per_s", "attainable_flops_per_s"}


def number_problems(data: Any, where: str = "") -> str | None:
    """The first NaN/inf anywhere in a JSON-like result, or a negative time/amount."""
    if isinstance(data, bool) or data is None:
        return None
    if isinstance(data, float) and not math.isfinite(data):
        if data == math.inf and where.endswith(".ai"):
            return None  # a kernel moving no DRAM bytes is infinitely intense (JSON: null)
        return f"{where or 'value'} is {data}"
    if isinstance(data, (int, float)):
        key = where.rsplit(".", 1)[-1]
        if key in _NON_NEGATIVE and data < 0 and ".delta." not in f".{where}.":  # deltas may be negative
            return f"{where} is negative ({data})"
        return None
    if isinstance(data, dict):
        for key, value in data.items():
            found = number_problems(value, f"{where}.{key}" if where else str(key))
            if found:
                return found
    elif isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            found = number_problems(value, f"{where}[{index}]")
            if found:
                return found
    return None


def check_json_result(payload: Any) -> None:
    """Raise a plain AssertionError (counted as a failure) when the result holds a bad number."""
    from roofline import jsonout

    problem = number_problems(payload)
    if problem:
        raise AssertionError(f"silently wrong number: {problem}")
    jsonout.dumps(payload)  # what --format json writes: strict JSON


# --- targets ---------------------------------------------------------------------------------------


@cache
def registry() -> Any:
    from roofline.hardware.registry import load_registry

    return load_registry()


def run_classify(path: Path, hw: str = "h200-sxm") -> Outcome:
    """A trace or kernel list, read and classified, the result rendered as JSON and Markdown."""
    from roofline.app.classify import classify_loaded
    from roofline.report.text.markdown import classify_markdown
    from roofline.sources import read_input

    loaded = read_input(path)
    result = classify_loaded(loaded, registry(), hw, None)
    check_json_result(result.model_dump(mode="json"))
    classify_markdown(result, top=5)
    return Outcome((loaded, result), list(result.warnings))


def run_hwspec(path: Path) -> Outcome:
    """A hardware spec (added to the registry, then used to classify the declared workload) or a
    ceilings overlay (applied to its base device)."""
    from roofline.app.classify import classify_loaded
    from roofline.hardware.registry import load_hw_file, load_registry, resolve_roofs
    from roofline.hardware.spec import CeilingsOverlay
    from roofline.sources import read_input

    from roofline.hardware import registry as registry_module

    registry_module._load.cache_clear()  # the registry is cached by path; each example is a new file
    item = load_hw_file(path)
    if isinstance(item, CeilingsOverlay):
        # As 'hw show h200 --ceilings FILE' does: the device named, then the overlay's base checked.
        spec, roofs, _ = resolve_roofs(registry(), "h200-sxm", ceilings=path)
        check_json_result({"roofs": [r.value for r in roofs.compute.values()], "bw": roofs.memory_bandwidth.value})
        name, extended = spec.name, registry()
        ceilings: Path | None = path
    else:
        extended = load_registry(extra_files=[path])
        name, ceilings = item.name, None
    loaded = read_input(REPO / "workloads" / "ml_ops.yaml")
    result = classify_loaded(loaded, extended, name, str(ceilings) if ceilings else None)
    check_json_result(result.model_dump(mode="json"))
    return Outcome(item, list(result.warnings))


def run_serving(path: Path) -> Outcome:
    from roofline.app.plan import plan_config
    from roofline.hardware.registry import load_registry

    result = plan_config(path, load_registry(), max_steps=2).result
    check_json_result(result.model_dump(mode="json"))
    return Outcome(result, [])


def run_model(path: Path) -> Outcome:
    """An HF config.json, planned through a serving config beside it (the path rule applies)."""
    config = path.parent / "serve.yaml"
    config.write_text(f"model: {path.name}\nhardware: h100-sxm\ngpus: 8\nparallelism: {{tensor: 8}}\n"
                      "serving: {batch: 4, prompt_tokens: 512, output_tokens: 64}\n")
    try:
        return run_serving(config)
    except InputError as exc:
        if exc.file is None or Path(str(exc.file)) == config:
            # The plan names the serving config; for this target the file under test is the model.
            raise InputError(exc.message, file=path, place=exc.place, fix=exc.fix) from None
        raise


@cache
def _baseline() -> Any:
    from roofline.gating.snapshot import read_snapshot

    return read_snapshot(REPO / "examples" / "ci" / "baseline.json")


def run_thresholds(path: Path) -> Outcome:
    from roofline.gating.compare import GateOptions, compare_snapshots
    from roofline.gating.thresholds import load_thresholds

    config = load_thresholds(path)
    result = compare_snapshots(_baseline(), _baseline(), config, GateOptions())
    check_json_result(result.model_dump(mode="json"))
    return Outcome(result, [])


def run_snapshot(path: Path) -> Outcome:
    """A saved snapshot (or benchmark JSON): read as a gate input, gated against itself."""
    from roofline.gating.adapters import SnapshotOptions, snapshot_input
    from roofline.gating.compare import GateOptions, compare_snapshots
    from roofline.gating.snapshot import check_not_empty
    from roofline.gating.thresholds import GateConfig

    snapshot = snapshot_input(path, SnapshotOptions(hw="h200-sxm", registry=registry()))
    check_not_empty(snapshot, path, "baseline")
    result = compare_snapshots(snapshot, snapshot, GateConfig(), GateOptions())
    check_json_result(result.model_dump(mode="json"))
    return Outcome(result, list(snapshot.warnings))


def run_classify_json(path: Path) -> Outcome:
    from roofline.sources.classify_json import load_classify_json
    from roofline.report.charts.roofline import roofline_figure
    from roofline.report.text.markdown import classify_markdown

    results = load_classify_json(path)
    for result in results:
        try:
            roofline_figure(result, labels=5)
        except InputError as exc:
            # The chart names the trace the result describes ("no kernel can be placed …"); here
            # the file under test is the JSON.
            raise InputError(exc.message, file=path, place=exc.place, fix=exc.fix) from None
        classify_markdown(result, top=5)
        check_json_result(result.model_dump(mode="json"))
    return Outcome(results, [w for r in results for w in r.warnings])


# --- seeds -------------------------------------------------------------------------------------------

KINETO_SEEDS = [DATA / "h200" / "kineto" / "gemm_bf16_8192.json.gz",
                DATA / "h200" / "kineto" / "mini_decode_cudagraph.json.gz",
                DATA / "h200" / "captured" / "multistream_bf16.json.gz",
                DATA / "h200" / "captured" / "sdpa_flash_bf16.json.gz"]
NSYS_SEEDS = sorted((DATA / "nsys").glob("*.csv"))
NCU_SEEDS = sorted((DATA / "ncu").glob("*.csv"))
DECLARED_SEEDS = [REPO / "workloads" / "ml_ops.yaml"]
HWSPEC_SEEDS = [REPO / "hwspecs" / "h200-sxm.yaml", REPO / "hwspecs" / "mi300x.yaml", REPO / "hwspecs" / "l4.yaml"]
# The H200 overlays: the harnesses lay a ceilings file over h200-sxm (hw show h200 --ceilings FILE).
CEILINGS_SEEDS = sorted((REPO / "hwspecs" / "measured").glob("h200-sxm*.yaml"))
SERVING_SEEDS = [REPO / "examples" / "llama70b_h100_tp8.yaml"]
MODEL_SEEDS = sorted((REPO / "workloads" / "models").glob("*.json"))
THRESHOLD_SEEDS = [REPO / "examples" / "ci" / "gate.yaml"]
SNAPSHOT_SEEDS = [REPO / "examples" / "ci" / "baseline.json"]
BENCHMARK_DOC = {"decode": {"time_s": [0.0112, 0.0118, 0.0115], "tokens_per_s": {"value": 88.5, "unit": "tok/s",
                                                                                  "direction": "higher_is_better"}},
                 "prefill": {"time_s": 0.21, "flops": {"value": 1.2e12, "exact": True}}}


@cache
def seed_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@cache
def _seed_json(path: Path) -> str:
    return seed_bytes(path).decode()


def seed_json(path: Path) -> Any:
    return json.loads(_seed_json(path))


def seed_yaml(path: Path) -> Any:
    return yaml.safe_load(seed_bytes(path).decode())


@cache
def classify_json_seed() -> str:
    _, result = run_classify(KINETO_SEEDS[0]).value
    return json.dumps(result.model_dump(mode="json"), indent=1)


# --- hostile values and mutations --------------------------------------------------------------------

SPECIAL_NUMBERS = [0, -0.0, -1, -1e-300, 1e-320, 1e308, -1e308, 1.7976931348623157e308, 2**31, 2**53 + 1,
                   2**63, 2**64, -(2**63), 10**30, 1e16, 1e17, 0.5]
SPECIAL_TEXT = ["", " ", "nan", "NaN", "inf", "-inf", "1e400", "0x10", "1,5", "-1", "١٢٣", "true", "null",
                "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "&amp;&lt;", "\x00", "\x1b[2J\x1b[31m",
                "\u202eevil", "a\nb", "a\r\nb", "\t", "'", '"', "\\", "[/bold]", "$\\frac{", "%s%n", "{}", "[]",
                "../../etc/passwd", "/dev/zero", "\ud7ff\U0001f600", "x" * 5000]

hostile_scalars = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.sampled_from(SPECIAL_TEXT),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
hostile_values = st.one_of(
    hostile_scalars,
    st.lists(hostile_scalars, max_size=4),
    st.dictionaries(st.text(max_size=8), hostile_scalars, max_size=3),
    st.just([[1, 2, 3], [4, 5]]),
    st.just({"nested": {"deeper": [1]}}),
).map(copy.deepcopy)  # a value a later mutation edits in place must not change the next example


def leaf_paths(data: Any, prefix: tuple = (), limit: int = 4000) -> list[tuple]:
    """Paths to every node (dict key / list index) of a JSON-like tree, breadth-first."""
    paths: list[tuple] = []
    queue = [(prefix, data)]
    while queue and len(paths) < limit:
        where, node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            paths.append((*where, key))
            queue.append(((*where, key), value))
    return paths


def _parent(data: Any, path: tuple) -> Any:
    for key in path[:-1]:
        data = data[key]
    return data


def mutate_tree(draw: Callable[[Any], Any], data: Any, paths: list[tuple]) -> str:
    """Apply one structural mutation to ``data`` in place; returns its description."""
    if not paths:
        return "nothing left to mutate"
    path = draw(st.sampled_from(paths))
    parent, key = _parent(data, path), path[-1]
    operation = draw(st.sampled_from(["replace", "replace", "replace", "delete", "duplicate", "wrap"]))
    if operation == "replace":
        value = draw(hostile_values)
        parent[key] = value
        return f"{'/'.join(map(str, path))} = {value!r:.80}"
    if operation == "delete":
        del parent[key]
        return f"delete {'/'.join(map(str, path))}"
    if operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
        return f"duplicate {'/'.join(map(str, path))}"
    parent[key] = [parent[key]]
    return f"wrap {'/'.join(map(str, path))} in a list"


def damage_bytes(draw: Callable[[Any], Any], data: bytes) -> tuple[bytes, str]:
    """A byte-level accident: a cut, a flipped byte, a deleted or inserted stretch."""
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "insert"]))
    at = draw(st.integers(min_value=0, max_value=max(0, len(data) - 1)))
    if kind == "truncate":
        return data[:at], f"truncated at byte {at} of {len(data)}"
    if kind == "flip":
        value = draw(st.integers(min_value=0, max_value=255))
        return data[:at] + bytes([value]) + data[at + 1 :], f"byte {at} set to {value}"
    if kind == "delete":
        length = draw(st.integers(min_value=1, max_value=300))
        return data[:at] + data[at + length :], f"{length} bytes deleted at {at}"
    token = draw(st.sampled_from([b"{", b"}", b"[", b"]", b'"', b",", b"\\", b"\x00", b"\n{", b"NaN", b"Infinity",
                                  b"1e999", b"\xff\xfe", b"\r\n", b"\n", b'"a": 1,', b"\n  {\"ph\": \"X\"},"]))
    return data[:at] + token + data[at:], f"{token!r} inserted at {at}"


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def csv_text(rows: list[list[str]], quote_all: bool) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL).writerows(rows)
    return out.getvalue()
