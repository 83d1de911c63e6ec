"""Fleet (many-rank) results and sets of separate traces, for a terminal and for Markdown; JSON is
the model itself."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.table import Table
from rich.markup import escape
from rich.text import Text

from roofline.analysis.fleet import FleetResult, JobCheck, Straggler, TraceSetResult
from roofline.report.text.fit import Column, FitTable
from roofline.report.text.console import BOUND_STYLE
from roofline.report.text.markdown import md_escape
from roofline.safetext import escape_controls
from roofline.units import fmt_percent, fmt_seconds

_METRIC = {"step_time_s": "step time", "kernel_time_s": "kernel time", "span_s": "span", "mfu": "MFU", "mbu": "MBU"}


def _fleet_line(result: FleetResult) -> str:
    fleet = result.fleet
    verdicts = ", ".join(f"{name} ×{n}" for name, n in fleet.verdicts.items())
    parts = [f"{fleet.ranks} ranks ({verdicts})", f"slowest span {fmt_seconds(fleet.slowest_span_s)}",
             f"fleet MFU {fmt_percent(fleet.mfu)}", f"fleet MBU {fmt_percent(fleet.mbu)}"]
    if result.reference is not None:
        ref = result.reference
        parts.append(f"reference MFU {fmt_percent(ref.mfu)}, MBU {fmt_percent(ref.mbu)}")
        if result.scaling_tax is not None:
            parts.append(f"scaling tax {fmt_percent(result.scaling_tax)} (by {result.scaling_tax_basis.upper()})"
                         if result.scaling_tax_basis else f"scaling tax {fmt_percent(result.scaling_tax)}")
    return " · ".join(parts)


def job_line(job: JobCheck | None) -> str | None:
    """What the one-job decision rested on, or why the traces are separate."""
    if job is None:
        return None
    if job.basis == "distributedInfo":
        facts = [f"world size {job.world_size}"] + [x for x in (job.backend, job.job_id) if x]
        return f"one job: each of the {job.traces} traces carries distributedInfo ({', '.join(facts)})"
    if job.basis == "asserted":
        return "one job because --one-job says so; the traces do not: " + "; ".join(job.reasons)
    return (f"not one job — each trace is shown on its own, with no stragglers, fleet MFU or scaling tax: "
            + "; ".join(job.reasons))


def _straggler_line(s: Straggler) -> str:
    return (f"rank {s.rank}: {_METRIC[s.metric]} {fmt_seconds(s.value)}, {fmt_percent(s.excess)} over the median "
            f"{fmt_seconds(s.median)} (threshold {fmt_seconds(s.threshold)})")


def _spread_line(result: FleetResult, metric: str) -> str | None:
    s = result.spread.get(metric)
    if s is None:
        return None
    fmt = fmt_percent if metric in ("mfu", "mbu") else fmt_seconds
    ratio = f", max/median {s.max_over_median:.2f}" if s.max_over_median is not None else ""
    return f"{_METRIC[metric]}: min {fmt(s.min)}, median {fmt(s.median)}, max {fmt(s.max)}{ratio}"


# The rank, its verdict, step time and the straggler flag stay at any width.
RANK_COLUMNS = (
    Column("rank"),
    Column("verdict", "left"),
    Column("step"),
    Column("kernels", keep=4),
    Column("busy", keep=3),
    Column("launch\nwait", keep=2),
    Column("MFU", keep=1),
    Column("MBU", keep=1),
    Column("FLOPs\nknown", keep=5),
    Column("straggler", "left"),
)


def fleet_renderable(result: FleetResult) -> Group:
    head = Text()
    head.append("roofline classify", style="bold")
    head.append(f" · {result.directory} · {len(result.ranks)} ranks · {', '.join(result.hardware)}\n")
    head.append(_fleet_line(result))
    basis = job_line(result.job)
    if basis:
        head.append(f"\n{escape_controls(basis)}", style="dim")
    flagged: dict[int, list[str]] = {}
    for s in result.stragglers:
        flagged.setdefault(s.rank, []).append(_METRIC[s.metric])
    rows = [
        [str(r.rank), Text(r.verdict, style=BOUND_STYLE.get(r.verdict, "")), fmt_seconds(r.step_time_s),
         fmt_seconds(r.kernel_time_s), fmt_seconds(r.gpu_busy_s), fmt_seconds(r.launch_wait_s), fmt_percent(r.mfu),
         fmt_percent(r.mbu), fmt_percent(r.flops_coverage), Text(", ".join(flagged.get(r.rank, [])), style="bold red")]
        for r in result.ranks
    ]
    table = FitTable(RANK_COLUMNS, rows, show_edge=False, pad_edge=False, header_style="bold")
    parts: list = [head, table]
    lines = Text()
    if result.stragglers:
        lines.append("stragglers:\n", style="bold")
        for s in result.stragglers:
            lines.append(f"  • {_straggler_line(s)}\n")
    else:
        lines.append("stragglers: none\n", style="bold")
    lines.append("spread:\n", style="bold")
    for metric in ("step_time_s", "kernel_time_s", "mfu", "mbu"):
        line = _spread_line(result, metric)
        if line:
            lines.append(f"  • {line}\n")
    peaks = sorted({f"{r.peak_label}" for r in result.ranks if r.peak_label})
    lines.append(f"rule: straggler = {result.rule.description}; MFU against the {', '.join(peaks) or '—'} peak",
                 style="dim")
    parts.append(lines)
    for warning in result.warnings:
        parts.append(Text(f"warning: {escape(warning)}", style="yellow"))
    return Group(*parts)


def fleet_markdown(result: FleetResult) -> str:
    lines = [
        f"## roofline classify: {md_escape(result.directory)} ({len(result.ranks)} ranks)",
        "",
        f"**{md_escape(_fleet_line(result))}** on {md_escape(', '.join(result.hardware))}.",
        "",
        *([f"_{md_escape(basis)}._", ""] if (basis := job_line(result.job)) else []),
        "| rank | verdict | step time | steps | kernel time | span | busy | launch wait | MFU | MBU | FLOPs known | straggler |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    flagged: dict[int, list[str]] = {}
    for s in result.stragglers:
        flagged.setdefault(s.rank, []).append(_METRIC[s.metric])
    for r in result.ranks:
        lines.append(
            f"| {r.rank} | {r.verdict} ({fmt_percent(r.verdict_share)}) | {fmt_seconds(r.step_time_s)} | {r.steps} | "
            f"{fmt_seconds(r.kernel_time_s)} | {fmt_seconds(r.span_s)} | {fmt_seconds(r.gpu_busy_s)} | "
            f"{fmt_seconds(r.launch_wait_s)} | {fmt_percent(r.mfu)} | {fmt_percent(r.mbu)} | "
            f"{fmt_percent(r.flops_coverage)} | {', '.join(flagged.get(r.rank, []))} |"
        )
    lines += ["", "### Stragglers", ""]
    lines += [f"- {md_escape(_straggler_line(s))}" for s in result.stragglers] or ["- none"]
    lines += ["", "### Spread", ""]
    lines += [f"- {md_escape(line)}" for m in ("step_time_s", "kernel_time_s", "mfu", "mbu")
              if (line := _spread_line(result, m))]
    lines += ["", f"_Straggler rule: {md_escape(result.rule.description)}._"]
    if result.warnings:
        lines += ["", "### Warnings", ""]
        lines += [f"- {md_escape(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _set_line(result: TraceSetResult) -> str:
    verdicts = ", ".join(f"{name} ×{n}" for name, n in result.verdicts.items())
    return f"{_traces(len(result.traces), 'separate ')} ({verdicts})"


def _traces(n: int, what: str = "") -> str:
    return f"{n} {what}trace{'s' if n != 1 else ''}"


def trace_set_renderable(result: TraceSetResult) -> Group:
    head = Text()
    head.append("roofline classify", style="bold")
    head.append(f" · {result.directory} · {_traces(len(result.traces))} · {', '.join(result.hardware)}\n")
    head.append(_set_line(result))
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    devices = len(result.hardware) > 1  # one device is named in the head line
    columns = ["trace"] + (["device"] if devices else []) + ["verdict", "step", "kernels", "busy", "launch wait",
                                                               "MFU", "MBU", "FLOPs known"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("trace", "device", "verdict") else "right",
                         no_wrap=column != "trace", overflow="fold", max_width=26 if column == "trace" else None)
    for t in result.traces:
        table.add_row(
            Text(escape_controls(Path(t.file).name)), *([Text(t.hardware)] if devices else []),
            Text(f"{t.verdict} ({fmt_percent(t.verdict_share)})", style=BOUND_STYLE.get(t.verdict, "")),
            fmt_seconds(t.step_time_s), fmt_seconds(t.kernel_time_s), fmt_seconds(t.gpu_busy_s),
            fmt_seconds(t.launch_wait_s), fmt_percent(t.mfu), fmt_percent(t.mbu), fmt_percent(t.flops_coverage),
        )
    parts: list = [head, table, Text(f"note: {escape_controls(job_line(result.job) or '')}", style="yellow")]
    for warning in result.warnings:
        parts.append(Text(f"warning: {escape(warning)}", style="yellow"))
    return Group(*parts)


def trace_set_markdown(result: TraceSetResult) -> str:
    lines = [
        f"## roofline classify: {md_escape(result.directory)} ({_traces(len(result.traces), 'separate ')})",
        "",
        f"**{md_escape(_set_line(result))}** on {md_escape(', '.join(result.hardware))}.",
        "",
        f"_Note: {md_escape(job_line(result.job) or '')}._",
        "",
        "| trace | device | verdict | step time | steps | kernel time | span | busy | launch wait | MFU | MBU "
        "| FLOPs known |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in result.traces:
        lines.append(
            f"| {md_escape(Path(t.file).name)} | {md_escape(t.hardware)} | {t.verdict} ({fmt_percent(t.verdict_share)}) "
            f"| {fmt_seconds(t.step_time_s)} | {t.steps} | {fmt_seconds(t.kernel_time_s)} | {fmt_seconds(t.span_s)} "
            f"| {fmt_seconds(t.gpu_busy_s)} | {fmt_seconds(t.launch_wait_s)} | {fmt_percent(t.mfu)} "
            f"| {fmt_percent(t.mbu)} | {fmt_percent(t.flops_coverage)} |"
        )
    if result.warnings:
        lines += ["", "### Warnings", ""]
        lines += [f"- {md_escape(w)}" for w in result.warnings]
    return "\n".join(lines) + "\n"
