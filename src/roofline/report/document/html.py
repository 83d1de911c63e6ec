"""A report as one self-contained HTML file: inline CSS, charts as inline SVG, no scripts, nothing
fetched (a Content-Security-Policy forbids it, so even a mistake cannot phone home).

Kernel names, op names, file names and findings come from untrusted traces: every piece of text
goes through ``html.escape(…, quote=True)`` and every attribute is double-quoted. Chart SVG comes
from matplotlib, which escapes text; it is still checked for script before it is inlined.
"""

from __future__ import annotations

import html
import re

from roofline.report.document.model import Block, Bullets, Cell, Chart, Paragraph, Report, Section, Table, Verdict

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
TONE_COLOURS = {
    "compute": "#CC79A7",
    "memory": "#0072B2",
    "launch": "#E69F00",
    "latency": "#56B4E9",
    "communication": "#009E73",
    "unknown": "#999999",
    "idle": "#D55E00",
}
_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1b1b;background:#fff;margin:0}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:20px;margin:32px 0 10px;border-bottom:1px solid #e3e3e3;padding-bottom:4px}
h3{font-size:17px;margin:22px 0 8px}
.sub,.muted{color:#5a5a5a}
.muted{font-size:13.5px}
nav{font-size:13.5px;margin:10px 0 0}
nav a{margin-right:12px;color:#0b5cad;text-decoration:none}
.verdict{border-left:6px solid var(--tone);background:#f6f6f6;padding:10px 14px;margin:8px 0 14px;font-size:17px}
.verdict strong{color:var(--tone-text,#111)}
table{border-collapse:collapse;font-size:13.5px;margin:6px 0 10px}
th,td{padding:4px 9px;border-bottom:1px solid #ececec;vertical-align:top;text-align:left}
th{background:#fafafa;font-weight:600}
td.r,th.r{text-align:right;font-variant-numeric:tabular-nums}
td.name{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.badge{display:inline-block;padding:0 7px;border-radius:9px;color:#fff;font-size:12px;background:var(--tone)}
figure{margin:8px 0 16px}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:13px;color:#5a5a5a}
.scroll{overflow-x:auto}
footer{margin-top:36px;font-size:12.5px;color:#777}
"""
_TAG = re.compile(r"<[^<>]+>")
_DANGEROUS = re.compile(r"<\s*(script|foreignObject|iframe)|\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _tone(tone: str | None) -> str:
    colour = TONE_COLOURS.get(tone or "", "#777777")
    return f' style="--tone:{colour}"'


def inline_svg(svg: bytes, id_prefix: str) -> str:
    """matplotlib's SVG made fit to sit inside HTML: no XML prolog, scalable, and ids prefixed so
    two charts in one page cannot share a clip-path id. Only tags are rewritten: text between tags
    is left exactly as matplotlib escaped it.
    """
    text = svg.decode("utf-8")
    start = text.find("<svg")
    if start < 0:
        raise ValueError("not an SVG document")
    text = text[start:]
    prefix = re.sub(r"[^A-Za-z0-9_-]", "-", id_prefix) + "-"

    def fix(match: re.Match[str]) -> str:
        tag = match.group(0)
        tag = re.sub(r'(\sid=")', r"\1" + prefix, tag)
        tag = tag.replace("url(#", "url(#" + prefix)
        tag = re.sub(r'(href=")#', r"\1#" + prefix, tag)
        return tag

    text = _TAG.sub(fix, text)
    text = re.sub(r'(<svg[^>]*?)\swidth="[^"]*"\sheight="[^"]*"', r"\1", text, count=1)
    if any(_DANGEROUS.search(tag) for tag in _TAG.findall(text)):
        raise ValueError("refusing to inline an SVG with script or event handlers")
    return text


def _cell(cell: Cell, tag: str, align: str) -> str:
    classes = []
    if align == "r":
        classes.append("r")
    if cell.hint is not None:
        classes.append("name")
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    if cell.hint is not None:
        attrs += f' title="{esc(cell.hint)}"'
    body = esc(cell.text)
    if cell.tone is not None:
        body = f'<span class="badge"{_tone(cell.tone)}>{body}</span>'
    return f"<{tag}{attrs}>{body}</{tag}>"


def _table(table: Table) -> str:
    align = list(table.align) + ["l"] * (len(table.headers) - len(table.align))
    head = "".join(_cell(Cell(h), "th", a) for h, a in zip(table.headers, align))
    rows = "".join("<tr>" + "".join(_cell(c, "td", a) for c, a in zip(row, align)) + "</tr>\n" for row in table.rows)
    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table></div>'


def _block(block: Block) -> str:
    if isinstance(block, Verdict):
        detail = f" — {esc(block.detail)}" if block.detail else ""
        return f'<div class="verdict"{_tone(block.tone)}>Verdict: <strong>{esc(block.headline)}</strong>{detail}</div>'
    if isinstance(block, Paragraph):
        return f'<p class="muted">{esc(block.text)}</p>' if block.muted else f"<p>{esc(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{esc(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Chart):
        svg = inline_svg(block.draw("svg"), f"chart-{block.name}")
        svg = svg.replace("<svg", f'<svg role="img" aria-label="{esc(block.alt)}"', 1)
        return f'<figure id="figure-{esc(block.name)}">{svg}<figcaption>{esc(block.alt)}</figcaption></figure>'
    raise TypeError(f"unknown report block {type(block).__name__}")


def _section(section: Section) -> str:
    level = min(max(section.level, 2), 4)
    body = "\n".join(_block(b) for b in section.blocks)
    return f'<section id="{esc(section.id)}">\n<h{level}>{esc(section.title)}</h{level}>\n{body}\n</section>'


def _scoped_rule(rule: str) -> str:
    """``sel1,sel2{…}`` of the page's styles, applied inside ``.roofline-view`` only (``body`` is the div)."""
    selectors, _, body = rule.partition("{")
    scoped = []
    for selector in selectors.split(","):
        selector = selector.strip()
        scoped.append(".roofline-view" if selector == "body" else f".roofline-view {selector}")
    return ",".join(scoped) + "{" + body


def render_fragment(sections: list[Section] | tuple[Section, ...], *, title: str | None = None) -> str:
    """Sections as an HTML fragment for a notebook cell: the report's styles scoped to one
    ``div``, no page, no scripts; the same escaping as :func:`render_html`."""
    scoped = "\n".join(_scoped_rule(line) for line in _CSS.strip().splitlines())
    heading = f"<h3>{esc(title)}</h3>" if title else ""
    body = "\n".join(_section(s) for s in sections)
    return f'<div class="roofline-view"><style>{scoped}</style>{heading}{body}</div>'


def render_html(report: Report) -> str:
    toc = " ".join(
        f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in report.sections if s.level <= 2 or not s.blocks
    )
    sections = "\n".join(_section(s) for s in report.sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="generator" content="roofline">
<title>{esc(report.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
<h1>{esc(report.title)}</h1>
<p class="sub">{esc(report.subtitle)}</p>
<nav>{toc}</nav>
</header>
{sections}
<footer>Self-contained: no scripts, nothing loaded from the network. Numbers are SI (1 GB = 1e9 bytes).</footer>
</main>
</body>
</html>
"""
