"""Renderers of a :class:`GateResult`: a rich table, Markdown for ``$GITHUB_STEP_SUMMARY``, JUnit
XML (one testcase per entry × metric) and GitHub workflow annotations. They format; they never
decide a verdict. Rows no limit judged (not comparable, ignored, unchanged) are left out of the
table unless asked and folded in Markdown, and both say how many; JSON and JUnit carry every row.
Rows keep the result's order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from rich.console import Group
from rich.text import Text

from roofline.gating.result import GateResult, Row
from roofline.report.text.fit import Column, FitTable, Name
from roofline.report.text.markdown import md_escape
from roofline.gating.fmt import fmt_value

LEVEL_MARK = {"fail": "FAIL", "warn": "warn", "info": "", "ok": ""}
LEVEL_EMOJI = {"fail": "❌", "warn": "⚠️", "info": "ℹ️", "ok": "✅"}
LEVEL_STYLE = {"fail": "bold red", "warn": "yellow", "info": "", "ok": "dim"}
STATUS_TEXT = {"pass": "passed", "fail": "failed", "not comparable": "not comparable"}


def fmt_rel(row: Row) -> str:
    if row.delta_rel is None:
        # A zero baseline: any change is an infinite relative one.
        return "—" if not row.delta else ("+∞" if row.delta > 0 else "−∞")
    return f"{100 * row.delta_rel:+.1f}%"


def cell_values(row: Row) -> tuple[str, str, str]:
    if row.baseline_label is not None or row.current_label is not None:
        return row.baseline_label or "—", row.current_label or "—", ""
    return (fmt_value(row.baseline, row.unit), fmt_value(row.current, row.unit),
            fmt_value(row.delta, row.unit, signed=True) if row.delta is not None else "—")


def headline(result: GateResult) -> str:
    counts = ", ".join(f"{n} {verdict}" for verdict, n in result.counts.items())
    return (f"roofline gate {STATUS_TEXT[result.status]}: {result.failures} failing, {result.warnings} warning"
            f"{'' if result.warnings == 1 else 's'} ({counts}); exit {result.exit_code}")


def _sides(result: GateResult) -> str:
    def side(s) -> str:
        device = s.fingerprint.get("device")
        return f"{s.path} ({s.kind}{', ' + device if device else ''})"

    thresholds = result.thresholds or "built-in defaults"
    return f"baseline {side(result.baseline)} → current {side(result.current)}; thresholds: {thresholds}"


# Rows no limit judged: the table leaves them out unless asked, Markdown folds them; both say so.
UNJUDGED = ("not comparable", "ignored", "unchanged")


def split_rows(result: GateResult, show_all: bool) -> tuple[list[Row], list[Row]]:
    shown = [r for r in result.rows if show_all or r.verdict not in UNJUDGED]
    hidden = [r for r in result.rows if not show_all and r.verdict in UNJUDGED]
    return shown, hidden


def verdict_counts(rows: list[Row]) -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.verdict] = counts.get(row.verdict, 0) + 1
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def gate_renderable(result: GateResult, *, show_all: bool = False) -> Group:
    shown, hidden = split_rows(result, show_all)
    # Numbers, metric names and verdicts never wrap; entry names are cut at their end, reasons and
    # long labels (a plan's list of steps) wrap between words in what width is left.
    rows = []
    for row in shown:
        base, cur, delta = cell_values(row)
        style = LEVEL_STYLE[row.level]
        rows.append([Text(LEVEL_MARK[row.level], style=style), Name(row.name), row.metric, base, cur, delta,
                     fmt_rel(row), row.threshold, Text(row.verdict, style=style), row.reason])
    numbers = [cell for row in shown if row.baseline_label is None and row.current_label is None
               for cell in cell_values(row)[:2]]
    number_width = max((len(cell) for cell in numbers), default=8)
    columns = (
        Column("", "left"),
        Column("entry", "left", name=True, min_width=16, want=40),
        Column("metric", "left"),
        Column("baseline", prose=True, min_width=number_width),
        Column("current", prose=True, min_width=number_width),
        Column("Δ", keep=3),
        Column("Δ%", keep=1),
        Column("threshold", "left", prose=True, min_width=10, keep=5),
        Column("verdict", "left"),
        Column("reason", "left", prose=True, min_width=16, keep=4),
    )
    table = FitTable(columns, rows, show_lines=False, header_style="bold", pad_edge=False)
    parts: list = [Text(_sides(result))]
    parts += [Text(f"note: {note}", style="dim") for note in result.notes]
    if shown:
        parts.append(table)
    if hidden:
        parts.append(Text(f"{verdict_counts(hidden)} rows not listed (--all lists them; --format json and --junit "
                          "carry every row)", style="dim"))
    if result.refusal:
        parts.append(Text(f"not compared: {result.refusal}", style="bold red"))
    parts.append(Text(headline(result), style="bold red" if result.exit_code else "bold green"))
    return Group(*parts)


MD_HEADER = ["| | entry | metric | baseline | current | Δ | Δ% | threshold | verdict | reason |",
             "|---|---|---|--:|--:|--:|--:|---|---|---|"]


def _md_row(row: Row) -> str:
    base, cur, delta = cell_values(row)
    verdict = f"**{row.verdict}**" if row.level == "fail" else row.verdict
    cells = [md_escape(c) for c in (row.name, row.metric, base, cur, delta, fmt_rel(row), row.threshold)]
    return f"| {LEVEL_EMOJI[row.level]} | " + " | ".join(cells) + f" | {verdict} | {md_escape(row.reason)} |"


def gate_markdown(result: GateResult) -> str:
    """A section for ``$GITHUB_STEP_SUMMARY`` (appended, so several gates can share one page).
    Judged rows come first; not comparable, ignored and unchanged rows follow under a fold."""
    judged, folded = split_rows(result, show_all=False)
    emoji = "✅" if result.status == "pass" else ("❌" if result.status == "fail" else "⛔")
    lines = [f"### {emoji} {md_escape(headline(result))}", "", md_escape(_sides(result)), ""]
    lines += [f"- {md_escape(note)}" for note in result.notes]
    if result.refusal:
        lines.append(f"- **Not compared:** {md_escape(result.refusal)}")
    if result.notes or result.refusal:
        lines.append("")
    if judged:
        lines += MD_HEADER + [_md_row(row) for row in judged] + [""]
    if folded:
        lines += [f"<details><summary>{md_escape(verdict_counts(folded))} rows</summary>", ""]
        lines += MD_HEADER + [_md_row(row) for row in folded] + ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def _summary_line(row: Row) -> str:
    base, cur, _ = cell_values(row)
    line = f"{row.verdict}: {base} → {cur} ({fmt_rel(row)})"
    return f"{line}; {row.threshold}" if row.threshold else line


def gate_junit(result: GateResult) -> str:
    """JUnit XML, one testcase per entry × metric: fail rows are failures; ignored and
    not-comparable rows are skipped; warnings pass with the warning in system-out."""
    failures = sum(1 for r in result.rows if r.level == "fail")
    skipped = sum(1 for r in result.rows if r.verdict in ("ignored", "not comparable") and r.level != "fail")
    attributes = {"name": "roofline gate", "tests": str(len(result.rows)), "failures": str(failures),
                  "errors": "0", "skipped": str(skipped)}
    suites = ET.Element("testsuites", attributes)
    suite = ET.SubElement(suites, "testsuite", attributes)
    properties = ET.SubElement(suite, "properties")
    for key, value in (("baseline", result.baseline.path), ("current", result.current.path),
                       ("thresholds", result.thresholds or "built-in defaults"), ("status", result.status),
                       ("exit_code", str(result.exit_code))):
        ET.SubElement(properties, "property", {"name": key, "value": value})
    if result.refusal:
        ET.SubElement(properties, "property", {"name": "not_compared", "value": result.refusal})
    for row in result.rows:
        case = ET.SubElement(suite, "testcase", {"classname": row.name, "name": row.metric})
        message = _summary_line(row)
        if row.level == "fail":
            failure = ET.SubElement(case, "failure", {"message": message, "type": row.verdict})
            failure.text = row.reason
        elif row.verdict in ("ignored", "not comparable"):
            ET.SubElement(case, "skipped", {"message": f"{row.verdict}: {row.reason}"})
        else:
            out = ET.SubElement(case, "system-out")
            prefix = "warning: " if row.level == "warn" else ""
            out.text = f"{prefix}{message}" + (f"; {row.reason}" if row.reason else "")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _escape_data(text: str) -> str:
    # GitHub's workflow-command encoding (actions/toolkit, command.ts: escapeData / escapeProperty).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: GateResult) -> str:
    """``::error`` for failing rows, ``::warning`` for warnings, one per row (GitHub shows the first
    few per step on the run page; the step summary and the log keep them all)."""
    lines = []
    if result.refusal:
        lines.append(f"::error title={_escape_property('roofline gate: not compared')}::{_escape_data(result.refusal)}")
    for row in result.rows:
        if row.level not in ("fail", "warn"):
            continue
        command = "error" if row.level == "fail" else "warning"
        title = _escape_property(f"roofline gate: {row.name} {row.metric}")
        lines.append(f"::{command} title={title}::{_escape_data(_summary_line(row) + '; ' + row.reason)}")
    return "".join(line + "\n" for line in lines)
