"""Read a CSV of measured serving runs into :class:`MeasuredRun` records.

Two layouts (docs/plan.md, "Calibration"):

* the documented one — ``model, hardware, tp, isl, osl, concurrency, ttft_ms, tpot_ms`` required;
  ``engine, engine_version, precision, kv_cache, pp, mode, id`` optional;
* aiconfigurator's ``silicon_sample.csv`` as-is — ``backend, backend_version, model_path, system,
  precision, gemm_quant_mode, mode, isl, osl, batch_size, tp_size, pp_size, silicon_ttft_ms,
  silicon_tpot_ms`` (``batch_size`` is the concurrency of one engine replica); ``silicon_data_source`` is
  kept as the run's source (roofline.workload.runs.harness_of reads it, and a blank ``backend_version``
  that the source fixes is filled in: inferred_engine_version).

A missing column or a cell that is not a number is an InputError naming the file, line and column.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from roofline.errors import InputError
from roofline.precision import Precision, parse_precision
from roofline.workload.runs import MeasuredRun, inferred_engine_version, precision_of
from roofline.yamlio import read_text

MAX_CSV_BYTES = 256 * 1024 * 1024

NATIVE = {"model": "model", "hardware": "hardware", "tp": "tp", "isl": "isl", "osl": "osl",
          "concurrency": "concurrency", "ttft_ms": "ttft_ms", "tpot_ms": "tpot_ms"}
AICONFIGURATOR = {"model": "model_path", "hardware": "system", "tp": "tp_size", "isl": "isl", "osl": "osl",
                  "concurrency": "batch_size", "ttft_ms": "silicon_ttft_ms", "tpot_ms": "silicon_tpot_ms"}
_OPTIONAL_NATIVE = {"engine": "engine", "engine_version": "engine_version", "precision": "precision",
                    "gemm_quant_mode": "gemm_quant_mode", "kv_cache": "kv_cache", "pp": "pp", "mode": "mode",
                    "id": "id"}
_OPTIONAL_AIC = {"engine": "backend", "engine_version": "backend_version", "precision": "precision",
                 "gemm_quant_mode": "gemm_quant_mode", "pp": "pp_size", "mode": "mode", "id": "id",
                 "source": "silicon_data_source"}


@dataclass(frozen=True)
class RunsFile:
    runs: list[MeasuredRun]
    skipped: dict[str, int]  # reason → rows not read (disaggregated serving is not modelled)


def read_runs_csv(path: Path) -> RunsFile:
    text = read_text(path, what="measurements CSV", max_bytes=MAX_CSV_BYTES)
    return parse_runs_csv(text, path)


def parse_runs_csv(text: str, path: Path | str) -> RunsFile:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise InputError("no header row", file=path, place="line 1",
                         fix=f"write the columns {', '.join(NATIVE.values())} (docs/plan.md)")
    reader.fieldnames = header
    aic = "silicon_ttft_ms" in header
    required, optional = (AICONFIGURATOR, _OPTIONAL_AIC) if aic else (NATIVE, _OPTIONAL_NATIVE)
    missing = [column for column in required.values() if column not in header]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}",
                         file=path, place="line 1",
                         fix=f"the columns are {', '.join(required.values())} (docs/plan.md, 'Calibration')")
    runs: list[MeasuredRun] = []
    skipped: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        mode = (row.get(optional["mode"]) or "agg").strip().lower()
        if mode != "agg":
            reason = f"mode '{mode[:20]}' (disaggregated prefill/decode is not modelled)"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue

        def cell(field: str, table: dict[str, str] = required) -> str:
            column = table.get(field)
            return (row.get(column) or "").strip() if column else ""

        def number(field: str, *, integer: bool, default: float | None = None) -> float:
            column = required.get(field) or optional.get(field, field)
            raw = cell(field) if field in required else cell(field, optional)
            if not raw and default is not None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise InputError(f"not a number: {raw[:40]!r}", file=path, place=f"line {line}, column '{column}'",
                                 fix="every measured cell must be a number") from None
            if not value > 0 or value != value or value == float("inf") or (integer and value != int(value)):
                raise InputError(f"expected a positive {'integer' if integer else 'number'}, got {raw[:40]!r}",
                                 file=path, place=f"line {line}, column '{column}'", fix="check the row")
            return value

        precision = cell("precision", optional)
        try:
            weights, acts, group = precision_of(precision, cell("gemm_quant_mode", optional))
            kv_raw = cell("kv_cache", optional)
            kv = parse_precision(kv_raw) if kv_raw else (Precision.BF16 if acts in (Precision.FP8, Precision.FP4)
                                                          else acts)
        except ValueError as exc:
            raise InputError(str(exc), file=path, place=f"line {line}, column 'precision'",
                             fix="bf16, fp16, fp8, fp4 (nvfp4), mxfp4 or int4") from None
        runs.append(MeasuredRun(
            line=line,
            id=cell("id", optional) or f"line{line}",
            engine=(cell("engine", optional) or "generic").lower(),
            # A blank version that the row's source fixes (InferenceX's Llama-70B images) is filled in.
            engine_version=cell("engine_version", optional) or inferred_engine_version(
                cell("source", optional), engine=(cell("engine", optional) or "generic").lower(), model=cell("model")),
            model=cell("model"),
            hardware=cell("hardware"),
            weights=weights, activations=acts, kv_cache=kv, weight_group_size=group,
            isl=int(number("isl", integer=True)),
            osl=int(number("osl", integer=True)),
            concurrency=int(number("concurrency", integer=True)),
            tp=int(number("tp", integer=True)),
            pp=int(number("pp", integer=True, default=1)),
            mode=mode,
            ttft_s=number("ttft_ms", integer=False) / 1e3,
            tpot_s=number("tpot_ms", integer=False) / 1e3,
            source=cell("source", optional),
        ))
    return RunsFile(runs, skipped)
