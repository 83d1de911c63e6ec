"""Read ``roofline classify --format json`` output back into :class:`ClassifyResult` objects, so a
result computed once (in CI, on the GPU box) can be plotted and reported elsewhere.

Only the schema version this tool writes is accepted: a newer file may mean something else by the
same field names (docs/json-schema.md), so it is refused rather than half-read.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson
from pydantic import ValidationError

from roofline.analysis.result import RESULT_SCHEMA_VERSION, ClassifyResult
from roofline.errors import InputError

# A classify result is small (kilobytes per kernel group); anything far larger is not one.
MAX_RESULT_BYTES = 256 * 1024 * 1024
_HEAD_BYTES = 4096


def looks_like_classify_json(path: Path) -> bool:
    """True for a JSON file whose opening holds the result's first keys. The kineto sniffer
    claims every JSON document, so this check has to run first.
    """
    if not Path(path).is_file():  # opening a FIFO would block: the reader gives the error
        return False
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return False
    text = head.lstrip()
    if text[:1] not in (b"{", b"["):
        return False
    return b'"schema_version"' in text and b'"traceEvents"' not in text and (
        b'"summary"' in text or b'"tool"' in text or b'"source_format"' in text
    )


def load_classify_json(path: Path) -> list[ClassifyResult]:
    """One result per input the classify run was given (a single object or a list of them)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path, fix="check the path")
    if path.stat().st_size > MAX_RESULT_BYTES:
        raise InputError("too large for a classify result", file=path, fix="pass the trace itself instead")
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", file=path, fix="regenerate it with --format json") from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise InputError("an empty list of results", file=path, fix="regenerate it with roofline classify --format json")
    return [_validate(item, path, index if isinstance(document, list) else None) for index, item in enumerate(items)]


def _validate(item: object, path: Path, index: int | None) -> ClassifyResult:
    where = f"[{index}]" if index is not None else None
    if not isinstance(item, dict):
        raise InputError("expected a JSON object", file=path, place=where, fix="regenerate it with --format json")
    version = item.get("schema_version")
    if version != RESULT_SCHEMA_VERSION:
        raise InputError(
            f"schema_version {version!r} is not supported (this roofline reads {RESULT_SCHEMA_VERSION})",
            file=path,
            place=_join(where, "schema_version"),
            fix="re-run roofline classify --format json with this version of roofline",
        )
    try:
        result = ClassifyResult.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        raise InputError(
            f"not a roofline classify result: {first['msg']}",
            file=path,
            place=_join(where, location),
            fix="pass the output of roofline classify --format json",
        ) from None
    bad = _bad_number(result.model_dump(mode="json"))
    if bad:
        # Pydantic reads "1e400" or "inf" as an infinite float and takes any sign: a result that
        # roofline wrote has neither, so this file was edited or damaged.
        raise InputError(f"not a roofline classify result: {bad[1]}", file=path, place=_join(where, bad[0]),
                         fix="regenerate it with roofline classify --format json")
    return result


# Amounts and times: never negative in a result roofline wrote.
_NON_NEGATIVE = {"span_s", "gpu_busy_s", "idle_s", "total_s", "count", "flops", "bytes", "hardware_flops", "ai",
                 "pct_of_roof", "l2_bytes", "l1_bytes", "peak_flops_per_s", "bandwidth_bytes_per_s", "value",
                 "datasheet_value", "achieved_flops_per_s", "achieved_bytes_per_s", "attainable_flops_per_s",
                 "compute_s", "memory_s", "launch_s", "ridge_point", "longest_run", "blocks_per_call"}


def _bad_number(data: object, where: str = "") -> tuple[str, str] | None:
    """(place, problem) of the first non-finite number, or negative amount, in a dumped result."""
    if isinstance(data, float) and not math.isfinite(data):
        return where, f"{where} is {data}"
    if isinstance(data, (int, float)) and not isinstance(data, bool) and data < 0 \
            and where.rsplit(".", 1)[-1] in _NON_NEGATIVE:
        return where, f"{where} is negative ({data})"
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        found = _bad_number(value, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else key)
        if found:
            return found
    return None


def _join(prefix: str | None, location: str) -> str:
    return f"{prefix}.{location}" if prefix else location
