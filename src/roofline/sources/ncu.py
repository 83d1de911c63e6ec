"""Nsight Compute CSV exports: per-launch hardware counters turned into kernel work.

Reads both ``ncu --csv --page raw`` (one row per launch, one column per metric, a units row
under the header) and ``ncu --csv --page details`` (one row per launch *and* metric). FLOPs,
DRAM bytes and time come from counters, so they are hardware numbers: padding, masked tiles
and recomputation included. See docs/inputs-ncu.md for the command lines and the derivations.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from roofline.analysis.classify import KernelWork
from roofline.errors import InputError
from roofline.precision import Precision, Unit, precision_or_none
from roofline.safetext import escape_controls
from roofline.sources.base import LoadedInput, register_reader
from roofline.sources.gzipcap import read_bytes_capped

TIME = "gpu__time_duration.sum"
DRAM_READ, DRAM_WRITE = "dram__bytes_read.sum", "dram__bytes_write.sum"
DRAM_TOTAL, DRAM_RATE = "dram__bytes.sum", "dram__bytes.sum.per_second"
L2_BYTES, L1_BYTES = "lts__t_bytes.sum", "l1tex__t_bytes.sum"

_OPS = ("add", "mul", "fma")
_SASS = re.compile(
    r"^(sm|smsp)__sass_thread_inst_executed_op_([dfh])(add|mul|fma)_pred_on\.sum(\.per_cycle_elapsed)?$"
)
_TENSOR = re.compile(
    r"^sm__ops_path_tensor_(?:op_(?P<op>[a-z0-9]+)_)?src_(?P<src>[a-z0-9]+)"
    r"(?:_dst_(?P<dst>[a-z0-9]+))?(?:_sparsity_(?P<sparsity>on|off))?\.sum$"
)
_SASS_PRECISION = {"d": Precision.FP64, "f": Precision.FP32, "h": Precision.FP16}
# FLOPs per thread instruction: an FMA is a multiply and an add. Half-precision instructions are
# packed two-wide (HADD2/HMUL2/HFMA2), and Nsight Compute's own roofline counts them so: its
# derived metrics are ..._hfma_pred_on_x4 and ..._hadd_pred_on_x2.
_FLOPS_PER_INST = {"add": 1, "mul": 1, "fma": 2}
_PACKED_WIDTH = {"d": 1, "f": 1, "h": 2}

# No counter of one launch comes near this (1e30 FLOPs or bytes is ~1e13 s of an H200 at peak).
MAX_COUNTER_VALUE = 1e30
_NOT_COLLECTED = ("", "n/a", "N/A", "no data")
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?$")
_UNIT_PART = re.compile(r"^(?P<prefix>[KkMGTPmunµp]?)(?P<base>byte|second|s|hz|inst|ops?|cycle)$")
_PREFIX = {"": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
           "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12}
_BASE = {"byte": "byte", "second": "second", "s": "second", "inst": "", "op": "", "ops": "", "cycle": "cycle"}
# Details-page section metrics that are counters by another name: (name, dimension) → counter.
_SECTION_METRICS = {("Duration", ("second", "")): TIME, ("Memory Throughput", ("byte", "second")): DRAM_RATE}

COLLECT_METRICS = ",".join([
    "regex:^sm__ops_path_tensor_.*\\.sum$", TIME, DRAM_READ, DRAM_WRITE, L2_BYTES, L1_BYTES,
    *(f"sm__sass_thread_inst_executed_op_{p}{op}_pred_on.sum" for p in "dfh" for op in _OPS),
])
COLLECT_FIX = (f"profile with: ncu --csv --page raw --metrics '{COLLECT_METRICS}' <app> > out.csv "
               "(or --set roofline; see docs/inputs-ncu.md)")
DETAILS_FIX = ("profile with: ncu --csv --page details --section SpeedOfLight "
               f"--section MemoryWorkloadAnalysis --metrics '{COLLECT_METRICS}' <app> > out.csv, "
               "or use --page raw (see docs/inputs-ncu.md)")
DETAILS_NO_FLOPS = "an ncu details page has no FLOP counters unless --metrics adds them (docs/inputs-ncu.md)"
_DAMAGED = "re-export the CSV with ncu; the file was edited or damaged"
_KNOWN = {TIME, DRAM_READ, DRAM_WRITE, DRAM_TOTAL, DRAM_RATE, L2_BYTES, L1_BYTES,
          "device__attribute_display_name"}

Rows = list[tuple[int, list[str]]]  # CSV rows with their 1-based line numbers


@dataclass(frozen=True)
class Cell:
    text: str
    unit: str
    line: int


@dataclass
class Launch:
    """One profiled kernel launch (an ncu ``ID``) and its metric cells by raw metric name."""

    id: str
    name: str
    cells: dict[str, Cell]
    device: str | None = None


def parse_number(text: str) -> float:
    """``"137,438,953,472"`` → 137438953472.0; ``"1,5"`` and ``"12x"`` raise ValueError."""
    text = text.strip()
    if not _NUMBER.match(text):
        raise ValueError(f"cannot read {text!r} as a number")
    return float(text.replace(",", ""))


def parse_unit(unit: str) -> tuple[float, tuple[str, str]]:
    """Scale to SI and dimension (numerator, denominator) of an ncu unit:
    ``"Gbyte/second"`` → (1e9, ("byte", "second")), ``"ns"`` → (1e-9, ("second", "")),
    ``"inst/cycle"`` → (1, ("", "cycle")), ``"hz"`` → (1, ("", "second")). Unknown units
    (``"register/thread"``) scale by 1 and keep their text as the dimension.
    """
    scale, dims = 1.0, ["", ""]
    for index, part in enumerate(unit.strip().split("/", 1)):
        match = _UNIT_PART.match(part)
        if match is None:
            dims[index] = part
            continue
        factor = _PREFIX[match["prefix"]]
        scale = scale * factor if index == 0 else scale / factor
        if match["base"] == "hz":  # a frequency is a count per second
            dims[1 - index] = "second"
        else:
            dims[index] = _BASE[match["base"]]
    return scale, (dims[0], dims[1])


def cell_value(cells: dict[str, Cell], name: str, path: Path, dims: tuple[str, str]) -> float | None:
    """A metric in SI units; None when absent or not collected (``n/a``). A cell that is not a
    number, or whose unit is not of dimension ``dims``, is an error naming line and column.
    """
    cell = cells.get(name)
    if cell is None or cell.text.strip() in _NOT_COLLECTED:
        return None
    place = f"line {cell.line}, column {name}"
    try:
        number = parse_number(cell.text)
    except ValueError as exc:
        raise InputError(str(exc), file=path, place=place, fix=_DAMAGED) from None
    scale, found = parse_unit(cell.unit)
    if found != dims:
        want = (dims[0] or "count") + (f"/{dims[1]}" if dims[1] else "")
        raise InputError(f"unit {cell.unit!r} (units row) is not a {want}", file=path, place=place,
                         fix=_DAMAGED)
    value = number * scale
    # Counters, times and rates are never negative; 1e308 Gbyte overflows to inf, which would
    # reach the output as NaN. Either is a damaged file, not a number to compute with.
    if number < 0 or not math.isfinite(value) or value > MAX_COUNTER_VALUE:
        raise InputError(f"{cell.text.strip()!r} {cell.unit} is out of range for a counter", file=path,
                         place=place, fix=_DAMAGED)
    return value


def cycles_elapsed(cells: dict[str, Cell], unit: str, duration: float | None, path: Path) -> float | None:
    count = cell_value(cells, f"{unit}__cycles_elapsed.avg", path, ("cycle", ""))
    if count is None and duration is not None:
        rate = cell_value(cells, f"{unit}__cycles_elapsed.avg.per_second", path, ("", "second"))
        count = rate * duration if rate is not None else None
    return count


def sass_flops(cells: dict[str, Cell], duration: float | None, path: Path) -> dict[Precision, float] | None:
    """CUDA-core FLOPs by precision from SASS instruction counters: the totals (``.sum``), else
    the per-cycle rates that ``--set roofline`` exports times the elapsed cycles of their unit.
    """
    found: dict[Precision, float] = {}
    for p in "dfh":
        for op in _OPS:
            stem = f"sass_thread_inst_executed_op_{p}{op}_pred_on.sum"
            count = cell_value(cells, f"sm__{stem}", path, ("", ""))
            if count is None:  # the sum over SM sub-partitions is the same total
                count = cell_value(cells, f"smsp__{stem}", path, ("", ""))
            for unit in ("smsp", "sm"):
                rate = cell_value(cells, f"{unit}__{stem}.per_cycle_elapsed", path, ("", "cycle"))
                if count is None and rate is not None:
                    cycles = cycles_elapsed(cells, unit, duration, path) if rate else 0.0
                    count = rate * cycles if cycles is not None else None
            if count is not None:
                precision = _SASS_PRECISION[p]
                flops = count * _FLOPS_PER_INST[op] * _PACKED_WIDTH[p]
                found[precision] = found.get(precision, 0.0) + flops
    return found or None


def tensor_flops(cells: dict[str, Cell], path: Path) -> dict[Precision, float] | None:
    """Tensor-core FLOPs by source precision from the ``sm__ops_path_tensor_*`` op counters,
    which count 2 per multiply-add (a 4096³ GEMM reads 2·4096³). The counters nest (all paths ⊇
    hgmma ⊇ hgmma sparsity_off), so only the outermost present one of each nest is summed.
    """
    present: dict[tuple[str | None, ...], float] = {}
    for name in cells:
        match = _TENSOR.match(name)
        value = cell_value(cells, name, path, ("", "")) if match else None
        if match and value is not None:
            present[(match["op"], match["src"], match["dst"], match["sparsity"])] = value

    def covered(key: tuple[str | None, ...]) -> bool:
        return any(o != key and all(a is None or a == b for a, b in zip(o, key)) for o in present)

    found: dict[Precision, float] = {}
    for key, value in present.items():
        precision = precision_or_none(str(key[1]))  # int1 (binary) ops have no roof: skipped
        if precision is not None and not covered(key):
            found[precision] = found.get(precision, 0.0) + value
    return found or None


def dram_bytes(cells: dict[str, Cell], duration: float | None, path: Path) -> float | None:
    read = cell_value(cells, DRAM_READ, path, ("byte", ""))
    write = cell_value(cells, DRAM_WRITE, path, ("byte", ""))
    if read is not None and write is not None:
        return read + write
    total = cell_value(cells, DRAM_TOTAL, path, ("byte", ""))
    if total is not None:
        return total
    rate = cell_value(cells, DRAM_RATE, path, ("byte", "second"))
    return rate * duration if rate is not None and duration is not None else None


def dominant_precision(
    tensor: dict[Precision, float], sass: dict[Precision, float]
) -> tuple[Precision, Unit]:
    """The tensor precision with most FLOPs if tensor cores did most of the work, else the SASS
    one. A kernel with no floating-point work (a copy) gets fp32 vector: with 0 FLOPs only its
    memory and launch terms can bind, whichever roof it is set against.
    """
    if sum(tensor.values()) > sum(sass.values()):
        return max(tensor, key=lambda p: tensor[p]), Unit.MATRIX
    if sum(sass.values()) > 0:
        return max(sass, key=lambda p: sass[p]), Unit.VECTOR
    return Precision.FP32, Unit.VECTOR


def launch_work(launch: Launch, path: Path, *, no_flops_reason: str) -> KernelWork:
    cells = launch.cells
    duration = cell_value(cells, TIME, path, ("second", ""))
    tensor, sass = tensor_flops(cells, path), sass_flops(cells, duration, path)
    num_bytes = dram_bytes(cells, duration, path)
    flops, precision, unit, reason = None, None, Unit.VECTOR, None
    if tensor is None and sass is None:
        reason = no_flops_reason
    else:
        flops = sum((tensor or {}).values()) + sum((sass or {}).values())
        precision, unit = dominant_precision(tensor or {}, sass or {})
    if num_bytes is None:
        reason = reason or f"no DRAM byte counter values for this launch ({DRAM_READ} + {DRAM_WRITE})"
    return KernelWork(
        name=launch.name, count=1, flops=flops, hardware_flops=flops, bytes=num_bytes, precision=precision,
        unit=unit, measured_s=duration, source="counters", unknown_reason=reason,
        l2_bytes=cell_value(cells, L2_BYTES, path, ("byte", "")),
        l1_bytes=cell_value(cells, L1_BYTES, path, ("byte", "")),
    )


def _total(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def group_by_name(works: list[KernelWork]) -> list[KernelWork]:
    """One record per kernel name, in first-seen order: totals summed, count = launches; the
    precision is that of the launch with most FLOPs.
    """
    groups: dict[str, list[KernelWork]] = {}
    for work in works:
        groups.setdefault(work.name, []).append(work)
    merged = []
    for name, group in groups.items():
        lead = max(group, key=lambda w: w.flops or 0.0)
        merged.append(KernelWork(
            name=name, count=sum(w.count for w in group), precision=lead.precision, unit=lead.unit,
            flops=_total([w.flops for w in group]), hardware_flops=_total([w.hardware_flops for w in group]),
            bytes=_total([w.bytes for w in group]), measured_s=_total([w.measured_s for w in group]),
            l2_bytes=_total([w.l2_bytes for w in group]), l1_bytes=_total([w.l1_bytes for w in group]),
            source="counters",
            unknown_reason=next((w.unknown_reason for w in group if w.unknown_reason), None),
        ))
    return merged


def _wanted(name: str) -> bool:
    # Only the metrics read below are kept: a --set full export has ~7,800 columns per launch.
    return (name in _KNOWN or "__cycles_elapsed.avg" in name
            or _SASS.match(name) is not None or _TENSOR.match(name) is not None)


def _is_message(line: str) -> bool:
    # ncu's own messages (==PROF==, ==WARNING==, ==ERROR==) interleave with the CSV.
    return line.startswith("==") or not line.strip()


def _header_cells(line: str) -> list[str] | None:
    if not line.lstrip().startswith(('"ID"', "ID,")):
        return None
    try:
        cells = next(csv.reader([line]), [])
    except csv.Error:  # a NUL byte, say: not a header
        return None
    return cells if cells[:1] == ["ID"] and "Kernel Name" in cells else None


def _sniff(path: Path, head: bytes) -> bool:
    text = head.decode("utf-8", "replace").lstrip("\ufeff")
    if text.lstrip().startswith(("{", "[")):  # a JSON trace can quote anything
        return False
    lines = text.splitlines()
    if any(line.startswith("==PROF==") for line in lines):  # ncu's log, even without --csv
        return True
    header = next((h for h in map(_header_cells, lines) if h), [])
    return "Metric Name" in header or any("__" in c for c in header)


def read_rows(path: Path, lines: list[str], start: int) -> tuple[Rows, list[str]]:
    """CSV rows after line index ``start``, skipping ncu's messages. A last row cut short (an
    unclosed quote at the very end) is dropped with a warning; an unclosed quote further up
    swallows the rest of the file, so it is an error.
    """
    numbers: list[int] = []

    def feed():
        for number, line in enumerate(lines[start:], start + 1):
            if not _is_message(line):
                numbers.append(number)
                yield line

    reader, rows = csv.reader(feed(), strict=True), []
    while True:
        first = len(numbers)
        try:
            cells = next(reader)
        except StopIteration:
            return rows, []
        except csv.Error as exc:
            at = numbers[min(first, len(numbers) - 1)]
            if len(numbers) - first > 1 or any(not _is_message(line) for line in lines[numbers[-1]:]):
                raise InputError(f"bad CSV ({exc})", file=path, place=f"line {at}", fix=_DAMAGED) from None
            return rows, [f"line {at}: the last row is cut short (file truncated?); it was skipped"]
        rows.append((numbers[first], cells))


def _bad_row(path: Path, line: int, got: int, need: int, is_last: bool, warnings: list[str]) -> None:
    if not is_last:
        raise InputError(f"{got} columns, the header {need}", file=path, place=f"line {line}", fix=_DAMAGED)
    warnings.append(f"line {line}: the last row has {got} of {need} columns (truncated?); it was skipped")


def raw_launches(path: Path, header: list[str], rows: Rows, warnings: list[str]) -> list[Launch]:
    if not rows or rows[0][1][:1] != [""]:
        at = f"line {rows[0][0]}" if rows else "header"
        raise InputError("no units row under the header", file=path, place=at,
                         fix="export with ncu --csv --page raw, which writes one")
    units, col = rows[0][1] + [""] * len(header), {name: i for i, name in enumerate(header)}
    launches = []
    for k, (line, row) in enumerate(rows[1:], 2):
        if len(row) != len(header):
            _bad_row(path, line, len(row), len(header), k == len(rows), warnings)
            continue
        cells = {h: Cell(row[i], units[i], line) for h, i in col.items() if _wanted(h)}
        device = row[col["device__attribute_display_name"]] if "device__attribute_display_name" in col else ""
        launches.append(Launch(row[col["ID"]], escape_controls(row[col["Kernel Name"]]), cells,
                               escape_controls(device) or None))
    return launches


def details_launches(path: Path, header: list[str], rows: Rows, warnings: list[str]) -> list[Launch]:
    """Pivot the long details page into launches. Raw metric names (from --metrics, listed under
    "Command line profiler metrics") are kept; of the section metrics only Duration and Memory
    Workload Analysis' DRAM "Memory Throughput" (byte/s) stand in for counters.
    """
    need = ("Metric Name", "Metric Unit", "Metric Value")
    col = {name: i for i, name in enumerate(header)}
    if not all(n in col for n in need):
        raise InputError(f"a details page needs the columns {', '.join(need)}", file=path, place="header",
                         fix=_DAMAGED)
    launches: dict[str, Launch] = {}
    for k, (line, row) in enumerate(rows, 1):
        if len(row) <= max(col[n] for n in need):
            _bad_row(path, line, len(row), len(header), k == len(rows), warnings)
            continue
        name, unit, value = (row[col[n]] for n in need)
        launch = launches.get(row[col["ID"]])
        if launch is None:
            launch = launches[row[col["ID"]]] = Launch(row[col["ID"]], escape_controls(row[col["Kernel Name"]]), {})
        if "__" not in name:
            name = _SECTION_METRICS.get((name, parse_unit(unit)[1]), "")
            if not name or name in launch.cells:  # a --metrics counter wins over the section's copy
                continue
        if _wanted(name):
            launch.cells[name] = Cell(value, unit, line)
    for launch in launches.values():  # the Device column is an index: only this metric names the GPU
        named = launch.cells.get("device__attribute_display_name")
        launch.device = escape_controls(named.text) if named and named.text else None
    return list(launches.values())


def missing_metrics(names: set[str]) -> dict[str, str]:
    """Which of FLOPs, DRAM bytes and duration no column (raw) or metric row (details) gives."""
    missing = {}
    if not any(_SASS.match(n) or _TENSOR.match(n) for n in names):
        missing["flops"] = "FLOP counters (sm__sass_thread_inst_executed_op_*.sum, sm__ops_path_tensor_*.sum)"
    if not ({DRAM_READ, DRAM_WRITE} <= names or DRAM_TOTAL in names or {DRAM_RATE, TIME} <= names):
        missing["bytes"] = f"DRAM bytes ({DRAM_READ} + {DRAM_WRITE}, or {DRAM_TOTAL})"
    if TIME not in names:
        missing["time"] = f"duration ({TIME})"
    return missing


def metric_warnings(names: set[str], missing: dict[str, str]) -> list[str]:
    """What a usable export still lacks: each gap undercounts FLOPs or leaves times predicted."""
    warnings = []
    if "time" in missing:
        warnings.append(f"no {TIME}: kernel times are predicted from the roofs, not measured")
    if "flops" in missing:
        return [*warnings, "the details page has no FLOP counters, so kernels stay unknown; " + DETAILS_FIX]
    if not any(_TENSOR.match(n) for n in names):
        warnings.append("no tensor-core counters (sm__ops_path_tensor_*.sum): tensor FLOPs are not counted")
    found = {m[2] + m[3] for m in map(_SASS.match, names) if m}
    gaps = [p + op for p in "dfh" for op in _OPS if p + op not in found]
    if gaps:
        stems = "sm__sass_thread_inst_executed_op_<op>_pred_on.sum"
        warnings.append(f"no SASS counters for {', '.join(gaps)} ({stems}): those FLOPs are not counted")
    return warnings


# The reader holds the whole export in memory; ncu's raw page with the roofline metrics is ~1 kB
# per launch, so this is millions of launches.
MAX_EXPORT_BYTES = 2 * 1024**3


def read_text(path: Path) -> tuple[str, bool]:
    """The export's text (decompressed, capped: sources/gzipcap.py) and whether a gzip stream
    was cut short."""
    try:
        data, truncated = read_bytes_capped(path, MAX_EXPORT_BYTES, "Nsight Compute export")
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    return data.decode("utf-8", "replace").lstrip("\ufeff"), truncated


@register_reader("ncu", description="Nsight Compute CSV (ncu --csv --page raw or details)", sniff=_sniff)
def read_ncu(path: Path) -> LoadedInput:
    path = Path(path)
    text, cut_short = read_text(path)
    lines = text.splitlines(keepends=True)
    cut = f" (the gzip stream is truncated after {len(text):,} characters)" if cut_short else ""
    if not any(line.strip() for line in lines):
        raise InputError(f"file is empty{cut}", file=path, fix=COLLECT_FIX)
    start = next((i for i, line in enumerate(lines) if _header_cells(line)), None)
    if start is None:
        raise InputError(f'no ncu CSV header (a row "ID",…,"Kernel Name",…){cut}', file=path,
                         fix="ncu profiled no kernel, or the output is not --csv; " + COLLECT_FIX)
    header = _header_cells(lines[start]) or []
    rows, warnings = read_rows(path, lines, start + 1)
    if cut_short:
        warnings.append("the gzip stream is truncated: the rows before the cut were read")
    details = "Metric Name" in header
    launches = (details_launches if details else raw_launches)(path, header, rows, warnings)
    if not launches:
        raise InputError(f"no profiled kernel launches under the header{cut}", file=path, place=f"line {start + 1}",
                         fix="check ncu's --kernel-name / --launch-count filters")
    names = {name for launch in launches for name in launch.cells}
    missing = missing_metrics(names)
    # A raw page was collected for its metrics, so it must have FLOPs and bytes; a details page
    # without FLOP counters still gives time and bytes (its kernels stay unknown, with the reason).
    if missing.keys() & ({"bytes"} if details else {"flops", "bytes"}):
        lacking = "; ".join(missing.values())
        raise InputError(f"this Nsight Compute export lacks the roofline metrics: {lacking}",
                         file=path, place="header", fix=DETAILS_FIX if details else COLLECT_FIX)
    warnings += metric_warnings(names, missing)
    reason = DETAILS_NO_FLOPS if details else "no FLOP counter values for this launch (n/a)"
    works = [launch_work(launch, path, no_flops_reason=reason) for launch in launches]
    devices = sorted({launch.device for launch in launches if launch.device})
    if len(devices) > 1:
        warnings.append(f"launches ran on several devices ({', '.join(devices)}); pass --hw")
    return LoadedInput(
        path=path, format="ncu", kernels=group_by_name(works), warnings=warnings,
        device_name=devices[0] if len(devices) == 1 else None,
        extra={"page": "details" if details else "raw", "launches": len(launches)},
    )
