"""A report as GitHub-flavoured Markdown, for a PR comment or ``$GITHUB_STEP_SUMMARY``.

GitHub strips data-URI images from Markdown, so charts cannot be inline: the caller writes them as
PNG files and passes their relative paths in ``images``; a chart without a path is replaced by a
one-line note. All text is escaped with ``md_escape`` (kernel names come from untrusted traces).
"""

from __future__ import annotations

from collections.abc import Mapping

from roofline.report.document.model import Block, Bullets, Chart, Paragraph, Report, Section, Table, Verdict
from roofline.report.text.markdown import md_escape


def _table(table: Table) -> list[str]:
    align = list(table.align) + ["l"] * (len(table.headers) - len(table.align))
    lines = [
        "| " + " | ".join(md_escape(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(md_escape(cell.text) for cell in row) + " |")
    return lines


def _block(block: Block, images: Mapping[str, str]) -> list[str]:
    if isinstance(block, Verdict):
        detail = f" — {md_escape(block.detail)}" if block.detail else ""
        return [f"> **Verdict: {md_escape(block.headline)}**{detail}"]
    if isinstance(block, Paragraph):
        return [f"_{md_escape(block.text)}_" if block.muted else md_escape(block.text)]
    if isinstance(block, Bullets):
        return [f"- {md_escape(item)}" for item in block.items]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        path = images.get(block.name)
        alt = md_escape(block.alt).replace("[", "\\[").replace("]", "\\]")
        if path is None:
            return [f"_Chart not included ({alt}); write the report as HTML to see it inline._"]
        return [f"![{alt}]({path.replace(' ', '%20').replace(')', '%29')})"]
    raise TypeError(f"unknown report block {type(block).__name__}")


def _section(section: Section, images: Mapping[str, str]) -> list[str]:
    lines = ["#" * min(max(section.level, 2), 4) + " " + md_escape(section.title), ""]
    for block in section.blocks:
        lines += _block(block, images)
        lines.append("")
    return lines


def render_markdown(report: Report, images: Mapping[str, str] | None = None) -> str:
    """``images`` maps a chart's name to the path (relative to the Markdown file) of its PNG."""
    lines = [f"# {md_escape(report.title)}", "", f"_{md_escape(report.subtitle)}_", ""]
    for section in report.sections:
        lines += _section(section, images or {})
    return "\n".join(lines).rstrip("\n") + "\n"
