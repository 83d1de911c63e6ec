"""Regression tests for Nsight CSV cells the fuzzers (tests/fuzz/) broke: each names the input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from roofline.errors import InputError
from roofline.sources import read_input

DATA = Path(__file__).parent / "data"


def _edit_cell(source: Path, target: Path, column: str, value: str, *, header_prefix: str) -> Path:
    lines = source.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(header_prefix))
    rows = list(csv.reader(io.StringIO("".join(lines[start:]))))
    at = rows[0].index(column)
    data_row = next(i for i, row in enumerate(rows[1:], 1) if row and row[0] and row[0] != "")
    if not rows[data_row][at]:
        data_row += 1
    rows[data_row][at] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL).writerows(rows)
    target.write_text("".join(lines[:start]) + out.getvalue())
    return target


@pytest.mark.parametrize("value", ["1e308", "-1", "1e31"])
def test_ncu_counter_out_of_range_is_an_error_naming_line_and_column(tmp_path: Path, value: str) -> None:
    # 1e308 Gbyte overflowed to inf and reached the JSON output as NaN (ValueError, exit 3);
    # a negative byte count was used as is.
    path = _edit_cell(DATA / "ncu" / "ops_metrics_raw.csv", tmp_path / "ncu.csv", "dram__bytes_read.sum", value,
                      header_prefix='"ID"')
    with pytest.raises(InputError) as caught:
        read_input(path)
    message = caught.value.one_line()
    assert "out of range for a counter" in message and "column dram__bytes_read.sum" in message
    assert str(path) in message and "\n" not in message


@pytest.mark.parametrize("value", ["9" * 400, "1e999999999", "99999999999999999999"])
def test_nsys_number_past_int64_is_an_error(tmp_path: Path, value: str) -> None:
    # 400 digits overflowed float conversion in the timeline (OverflowError, exit 3);
    # 1e999999999 raised decimal.Overflow.
    path = _edit_cell(DATA / "nsys" / "v100_2021_gputrace.csv", tmp_path / "nsys.csv", "Duration(nsec)", value,
                      header_prefix="Start")
    with pytest.raises(InputError) as caught:
        read_input(path)
    assert "below 2**63" in caught.value.one_line() and "line" in caught.value.one_line()


def test_nsys_control_characters_in_names_are_escaped(tmp_path: Path) -> None:
    path = _edit_cell(DATA / "nsys" / "v100_2021_gputrace.csv", tmp_path / "nsys.csv", "Name", "k\x1b[2J",
                      header_prefix="Start")
    loaded = read_input(path)
    assert any(event.name == "k\\x1b[2J" for event in loaded.events)
    assert any("control characters" in w for w in loaded.warnings)


def test_error_messages_escape_what_they_quote(tmp_path: Path) -> None:
    path = _edit_cell(DATA / "nsys" / "v100_2021_gputrace.csv", tmp_path / "nsys.csv", "Duration(nsec)",
                      "12\x1b[2J", header_prefix="Start")
    with pytest.raises(InputError) as caught:
        read_input(path)
    assert "\x1b" not in caught.value.one_line() and "\\x1b[2J" in caught.value.one_line()
