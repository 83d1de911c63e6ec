"""How every command writes what it produced: a table on the terminal, or JSON/Markdown/text to
stdout or to ``--output`` (then only the file is written, and stderr says so)."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console

from roofline import jsonout
from roofline.atomicio import write_atomic

# A file or a pipe has no width of its own; tables are laid out for this many columns there.
FILE_WIDTH = 160


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    md = "md"


def stdout_console(**options: Any) -> Console:
    return Console(highlight=False, **options)


def write_output(text: str, output: Path | None) -> None:
    """Print to stdout, or write ``output`` atomically (temp file + rename, roofline.atomicio)
    and say so on stderr."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomic(output, text.encode("utf-8"))
    print(f"roofline: wrote {output}", file=sys.stderr)


def emit(renderables: Iterable[Any], output: Path | None, *, width: int | None = None) -> None:
    """Print rich renderables on stdout, or write them as plain text to ``output`` alone."""
    if output is None:
        console = stdout_console(width=width) if width else stdout_console()
        for item in renderables:
            console.print(item)
        return
    console = Console(file=io.StringIO(), record=True, highlight=False, width=width or FILE_WIDTH,
                      color_system=None)
    for item in renderables:
        console.print(item)
    write_output(console.export_text(), output)


def json_text(payloads: list[Any]) -> str:
    """The ``--format json`` document: one object for one input, a list for several."""
    return jsonout.dumps(payloads[0] if len(payloads) == 1 else payloads, indent=2) + "\n"


def classify_text(results: list, fmt: OutputFormat, top: int | None, plans: list | None = None) -> str | None:
    """JSON or Markdown text (None: the table, printed by the caller). With ``plans``, each result
    carries its trace plan (JSON key ``plan``; a Markdown section after its tables)."""
    if fmt is OutputFormat.json:
        payload = [r.model_dump(mode="json") for r in results]
        for item, plan in zip(payload, plans or []):
            item["plan"] = plan.model_dump(mode="json")
        return json_text(payload)
    if fmt is OutputFormat.md:
        from roofline.report.text.markdown import classify_markdown

        if plans is None:
            return "\n".join(classify_markdown(r, top=top) for r in results)
        from roofline.report.text.trace_plan import trace_plan_markdown

        return "\n".join(classify_markdown(r, top=top) + "\n" + trace_plan_markdown(p) for r, p in zip(results, plans))
    return None


def render_trace_plans(plans: list, fmt: str, output: Path | None) -> None:
    from roofline.report.text.trace_plan import (
        trace_plan_markdown,
        trace_plan_renderable,
        verification_markdown,
        verification_renderable,
    )

    if fmt == "json":
        write_output(json_text([p.model_dump(mode="json") for p in plans]), output)
        return
    if fmt == "md":
        parts = []
        for p in plans:
            parts.append(trace_plan_markdown(p))
            if p.verification is not None:
                parts.append(verification_markdown(p.verification))
        write_output("\n".join(parts), output)
        return
    items = []
    for p in plans:
        items.append(trace_plan_renderable(p))
        if p.verification is not None:
            items.append(verification_renderable(p.verification))
    emit(items, output)
