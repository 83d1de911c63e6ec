"""Fuzz-suite plumbing: the per-target counters are printed at the end of every run that
included a fuzz test (and written as JSON to $ROOFLINE_FUZZ_REPORT when set)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fuzzkit import SCALE, STATS  # noqa: E402  (tests/fuzz is on sys.path, as for the test modules)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Everything here is the fuzz suite: `-m "not fuzz"` leaves it out of a quick local run.
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.fuzz)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    if not STATS:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz summary (ROOFLINE_FUZZ_SCALE={SCALE:g})")
    write(f"{'target':<24}{'inputs':>8}{'result':>8}{'+warning':>9}{'exit 2':>8}{'failed':>8}")
    total = [0, 0, 0, 0, 0]
    for target in sorted(STATS):
        s = STATS[target]
        row = [s.tried, s.accepted, s.warned, s.rejected, s.failed]
        total = [a + b for a, b in zip(total, row)]
        write(f"{target:<24}" + "".join(f"{n:>{w}}" for n, w in zip(row, (8, 8, 9, 8, 8))))
    write(f"{'total':<24}" + "".join(f"{n:>{w}}" for n, w in zip(total, (8, 8, 9, 8, 8))))
    for target in sorted(STATS):
        for failure in STATS[target].failures[:3]:
            write(f"FAILED {target}: {failure}")
    report = os.environ.get("ROOFLINE_FUZZ_REPORT")
    if report:
        Path(report).write_text(json.dumps({t: vars(s) for t, s in sorted(STATS.items())}, indent=1))
