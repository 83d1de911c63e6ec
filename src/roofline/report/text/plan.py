"""Plan results as rich tables and Markdown."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from roofline.planner.result import Metrics, PlanResult
from roofline.report.text.fit import Column, FitTable, Name
from roofline.report.text.markdown import md_escape
from roofline.units import fmt_bytes, fmt_flops, fmt_percent, fmt_seconds
from roofline.workload.predict import PhasePrediction

TERM_ORDER = ("compute", "memory", "launch", "communication")


def _breakdown(values: dict[str, float]) -> str:
    total = sum(values.values()) or 1.0
    return ", ".join(f"{t} {fmt_percent(values.get(t, 0.0) / total)}" for t in TERM_ORDER if values.get(t, 0.0) > 0)


def _slo_cell(result: PlanResult, metrics: Metrics, name: str, value: str) -> str:
    ratio = metrics.slo_ratios.get(name)
    if ratio is None:
        return value
    return f"{value} {'✓' if ratio <= 1 else '✗'}"


def _metric_row(result: PlanResult, m: Metrics) -> list[str]:
    return [
        _slo_cell(result, m, "ttft", fmt_seconds(m.ttft_s)),
        _slo_cell(result, m, "itl", fmt_seconds(m.itl_s)),
        _slo_cell(result, m, "throughput", f"{m.throughput_tok_s:,.0f} tok/s"),
        str(m.batch),
        str(m.max_batch),
    ]


PHASE_COLUMNS = (
    Column("phase", "left"),
    Column("time"),
    Column("ideal\nroofline", keep=3),
    Column("bound", "left"),
    Column("split", "left", prose=True, min_width=16, keep=6),
    Column("kernels", keep=4),
    Column("MFU", keep=2),
    Column("MBU", keep=1),
    Column("weights\nread", keep=5),
    Column("KV\nread", keep=7),
)


def phase_table(result: PlanResult) -> FitTable:
    rows = [
        [phase.phase, fmt_seconds(phase.time_s), fmt_seconds(phase.ideal_s), phase.bound, _breakdown(phase.breakdown),
         str(phase.kernels), fmt_percent(phase.mfu), fmt_percent(phase.mbu), fmt_bytes(phase.weight_bytes),
         fmt_bytes(phase.kv_bytes)]
        for phase in (result.prefill, result.decode)
    ]
    return FitTable(PHASE_COLUMNS, rows, title="phases (per GPU, baseline; bytes read per step)", header_style="bold")


OP_COLUMNS = (
    Column("op", "left", name=True, min_width=12),
    Column("kernels", keep=4),
    Column("time"),
    Column("ideal", keep=3),
    Column("bound", "left"),
    Column("AI", keep=2),
    Column("FLOPs", keep=6),
    Column("bytes", keep=5),
    Column("precision", "left", keep=7),
)


def op_table(phase: PhasePrediction, top: int = 12) -> FitTable:
    rows = [
        [Name(op.name), str(op.kernels), fmt_seconds(op.gpu_s), fmt_seconds(op.ideal_s), op.bound,
         f"{op.ai:.3g}" if op.ai is not None else "—", fmt_flops(op.flops), fmt_bytes(op.bytes), op.precision]
        for op in sorted(phase.ops, key=lambda o: -o.gpu_s)[:top]
    ]
    return FitTable(OP_COLUMNS, rows, title=f"{phase.phase} ops (per GPU, all layers)", header_style="bold")


STEP_COLUMNS = (
    Column("#"),
    Column("change", "left", prose=True, min_width=14),
    Column("attacks", "left", keep=5),
    Column("TTFT", keep=1),
    Column("ITL"),
    Column("throughput", keep=2),
    Column("batch", keep=3),
    Column("max\nbatch", keep=4),
)


def steps_table(result: PlanResult) -> FitTable:
    rows = [["", "baseline", "", *_metric_row(result, result.baseline)]]
    rows += [[str(step.index), step.technique, step.targets, *_metric_row(result, step.after)] for step in result.steps]
    return FitTable(STEP_COLUMNS, rows, title="plan", header_style="bold")


def step_details(result: PlanResult) -> Text:
    """Why each step, its risks and how to verify it: prose under the table, wrapped at words."""
    text = Text()
    for step in result.steps:
        text.append(f"{step.index}. {step.technique}", style="bold")
        text.append(f" — {step.rationale}\n")
        text.append(f"   risks: {'; '.join(step.risks)}\n   verify: {step.verify}\n", style="dim")
    return text


def engine_line(result: PlanResult) -> str:
    """The engine profile and the constants it set (all of them: `--format json` has their sources)."""
    e = result.engine
    b = result.baseline
    served = (f"{e.mode}, {b.concurrency} clients, {b.batch} running" + (f", {b.queued} queued" if b.queued else "")
              if e.mode == "continuous" else f"{e.mode} batch {b.batch}")
    if b.ttft_burst_s:
        served += f", benchmark burst start {b.ttft_burst_s * 1e3:+.1f} ms on mean TTFT"
    if b.ttft_batch_wait_s:
        served += f", batch wait {b.ttft_batch_wait_s * 1e3:.1f} ms"
    constants = "; ".join(f"{c['name']}={c['value']}" for c in e.constants)
    fit = ""
    if e.fit:
        fit = (f" (fitted on {e.fit['rows_fit']} rows of {e.fit['corpus']}, validated TTFT/TPOT "
               + "/".join("n/a" if e.fit[k] is None else f"{e.fit[k]:.0%}"
                          for k in ("validate_ttft_error", "validate_tpot_error")) + ")")
    return f"engine: {e.name}{' ' + ','.join(e.versions) if e.versions else ''}{fit} · {served} · {constants or 'no constants'}"


def plan_renderable(result: PlanResult) -> Group:
    head = Text()
    head.append("roofline plan", style="bold")
    head.append(f" · {result.model} on {result.gpus}× {result.hardware} · ceilings: {result.ceilings} · "
                f"efficiency: {result.efficiency}\n")
    head.append(engine_line(result) + "\n")
    mem = result.memory
    head.append(
        f"memory per GPU: weights {fmt_bytes(mem.weight_bytes)} ({mem.weight_bits:g} bits; "
        f"{fmt_bytes(result.decode.weight_bytes)} read per step, the embedding table only as looked up), KV "
        f"{fmt_bytes(mem.kv_bytes_per_request)} per {mem.context_tokens}-token request "
        f"({fmt_bytes(mem.kv_bytes_per_token)}/token), workspace {fmt_bytes(mem.workspace_bytes)}, reserve "
        f"{fmt_bytes(mem.reserve_bytes)} of {fmt_bytes(mem.capacity_bytes)} → max batch {mem.max_batch}"
    )
    tail = Text()
    if result.unmet_slos:
        tail.append(f"unmet SLOs after the plan: {', '.join(result.unmet_slos)} — {result.stop_reason}\n", style="bold red")
    else:
        tail.append(f"{result.stop_reason}\n", style="bold green")
    for note in result.notes:
        tail.append(f"note: {note}\n", style="dim")
    return Group(head, phase_table(result), op_table(result.decode), steps_table(result), step_details(result), tail)


def plan_markdown(result: PlanResult) -> str:
    mem = result.memory
    lines = [
        f"## roofline plan: {md_escape(result.model)} on {result.gpus}× {md_escape(result.hardware)}",
        "",
        f"Memory per GPU: weights {fmt_bytes(mem.weight_bytes)}, KV {fmt_bytes(mem.kv_bytes_per_request)} per "
        f"{mem.context_tokens}-token request, max batch **{mem.max_batch}**.",
        "",
        md_escape(engine_line(result)),
        "",
        "| phase | time | ideal | bound | split | MFU | MBU |",
        "|---|---:|---:|---|---|---:|---:|",
    ]
    for phase in (result.prefill, result.decode):
        lines.append(
            f"| {phase.phase} | {fmt_seconds(phase.time_s)} | {fmt_seconds(phase.ideal_s)} | {phase.bound} | "
            f"{_breakdown(phase.breakdown)} | {fmt_percent(phase.mfu)} | {fmt_percent(phase.mbu)} |"
        )
    lines += ["", "| # | change | attacks | TTFT | ITL | throughput | batch | max batch |", "|---|---|---|---:|---:|---:|---:|---:|"]
    lines.append("|  | baseline |  | " + " | ".join(_metric_row(result, result.baseline)) + " |")
    for step in result.steps:
        lines.append(f"| {step.index} | {md_escape(step.technique)} | {step.targets} | "
                     + " | ".join(_metric_row(result, step.after)) + " |")
    lines.append("")
    for step in result.steps:
        lines += [
            f"**{step.index}. {md_escape(step.technique)}** — {md_escape(step.rationale)}.",
            f"Risks: {md_escape('; '.join(step.risks))}. Verify: {md_escape(step.verify)}.",
            "",
        ]
    if result.unmet_slos:
        lines.append(f"**Unmet SLOs:** {', '.join(result.unmet_slos)} ({md_escape(result.stop_reason)}).")
    else:
        lines.append(f"**{md_escape(result.stop_reason)}.**")
    return "\n".join(lines) + "\n"


SWEEP_COLUMNS = (
    Column("batch"),
    Column("TTFT", keep=2),
    Column("ITL"),
    Column("throughput"),
    Column("per GPU", keep=3),
    Column("decode\nbound", "left", keep=1),
    Column("note", "left", prose=True, min_width=12, keep=4),
)


def sweep_table(rows: list[dict[str, object]]) -> FitTable:
    cells = []
    for row in rows:
        if row.get("error"):
            cells.append([str(row["batch"]), "—", "—", "—", "—", "—", str(row["error"])])
            continue
        cells.append([
            str(row["batch"]), fmt_seconds(row["ttft_s"]), fmt_seconds(row["itl_s"]),  # type: ignore[arg-type]
            f"{row['throughput_tok_s']:,.0f} tok/s", f"{row['throughput_tok_s_per_gpu']:,.0f}",
            str(row["decode_bound"]), "",
        ])
    return FitTable(SWEEP_COLUMNS, cells, title="batch sweep (latency / throughput frontier)", header_style="bold")
