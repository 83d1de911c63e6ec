"""Reports: self-contained HTML (escaped, no scripts, nothing fetched) and Markdown for PR comments,
built from a list of sections that other results can extend.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.report.document.model import Bullets, Chart, Paragraph, Section, Table, Cell
from roofline.report.document.html import inline_svg, render_html
from roofline.report.document.markdown import render_markdown
from roofline.report.document.classify import ReportItem, build_report
from roofline.sources import read_input

DATA = Path(__file__).parent / "data"
KINETO = DATA / "h200" / "kineto"
REPO = Path(__file__).resolve().parent.parent
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


class Elements(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


HOSTILE = Path(__file__).parent / "data" / "hostile_kernels.yaml"


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def test_html_report_of_a_trace_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("report", KINETO / "mini_decode_eager.json.gz", "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    elements = parse(html)
    tags = [tag for tag, _ in elements.tags]
    assert "script" not in tags and "iframe" not in tags and "link" not in tags
    # Nothing can be fetched: no external URLs in attributes, and the CSP forbids it anyway.
    for tag, attrs in elements.tags:
        for name, value in attrs.items():
            if name in ("src", "href") and value:
                assert value.startswith(("#", "data:")), (tag, name, value)
    csp = next(a["content"] for t, a in elements.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in csp
    assert tags.count("svg") == 2  # the roofline and the timeline, inline
    for section in ("summary", "findings", "roofline", "timeline", "kernels"):
        assert f'<section id="{section}">' in html
    text = " ".join(elements.text)
    # The launch wait is within the profiler's own host overhead: memory-bound, and the headline says why.
    assert "memory-bound" in text and "44.9% of the 6.52 ms span" in text
    assert "launch-bound as measured, but within the profiler's own host overhead" in text
    assert "The GPU is busy 51.3% of the 6.52 ms span" in text
    assert "nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT" in text


def test_inline_svg_ids_are_prefixed_per_chart(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert run("report", KINETO / "gelu_bf16_256M.json.gz", KINETO / "gemv_bf16_decode.json.gz", "-o", out).exit_code == 0
    html = out.read_text()
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids between inline charts"
    for reference in re.findall(r'url\(#([^)]+)\)', html):
        assert reference in ids
    assert '<section id="input-1-summary">' in html and '<section id="input-2-summary">' in html


def test_html_escapes_hostile_kernel_names(hostile: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run("report", hostile, "--hw", "h100-sxm", "-o", out)
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert SCRIPT not in html and "<img" not in html and BREAKOUT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    elements = parse(html)
    assert not [t for t, _ in elements.tags if t in ("script", "img")]
    assert not [a for _, attrs in elements.tags for a in attrs if a.startswith("on")]
    # The names still read as text, in the table (with the full name in a quoted title) and the chart.
    text = "".join(elements.text)
    assert SCRIPT in text and BREAKOUT in text
    titles = [attrs["title"] for tag, attrs in elements.tags if tag == "td" and "title" in attrs]
    assert SCRIPT in titles and BREAKOUT in titles
    svg = html[html.index("<svg"): html.index("</svg>") + 6]
    root = ET.fromstring(svg)
    svg_text = "".join(root.itertext())
    assert SCRIPT in svg_text  # the title line, escaped by matplotlib and read back as text
    assert not [e for e in root.iter() if e.tag.split("}")[-1] in ("script", "foreignObject")]


def test_inline_svg_refuses_script() -> None:
    with pytest.raises(ValueError):
        inline_svg(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x")
    with pytest.raises(ValueError):
        inline_svg(b'<svg xmlns="http://www.w3.org/2000/svg"><rect onload="alert(1)"/></svg>', "x")
    safe = inline_svg(b'<?xml version="1.0"?>\n<svg width="10pt" height="5pt" viewBox="0 0 10 5">'
                      b'<text id="t">a id="x" &lt;b&gt;</text></svg>', "c")
    assert safe.startswith("<svg") and 'id="c-t"' in safe and 'a id="x" &lt;b&gt;' in safe
    assert 'width="10pt"' not in safe


def test_markdown_report_structure_and_images(tmp_path: Path) -> None:
    out = tmp_path / "summary.md"
    result = run("report", KINETO / "tiny_ops_launch.json.gz", "-o", out)
    assert result.exit_code == 0, result.output
    md = out.read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == ["# roofline report: tiny_ops_launch.json.gz", "## Summary", "## Findings", "## Roofline",
                        "## GPU timeline", "## Kernels", "## Plan from the trace: what to change first"]
    # 66%, not 99.8%: 1,800 recorded ops × 4 µs of the launch wait is the profiler's own overhead.
    assert "> **Verdict: launch-bound** — 66.0% of the 22.1 ms span" in md
    assert "| kernel | op | calls | time | share | bound | AI (FLOP/B) |" in md
    assert "|---|---|---:|---:|---:|---|---:|" in md
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert images == ["summary.roofline.png", "summary.timeline.png"]
    for name in images:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    assert "vectorized_elementwise_kernel&lt;4, …&gt;" in md


def test_markdown_without_images(tmp_path: Path, hostile: Path) -> None:
    out = tmp_path / "step-summary.md"
    result = run("report", hostile, "--hw", "h100-sxm", "--no-images", "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.yaml", "step-summary.md"]
    md = out.read_text()
    assert "_Chart not included (" in md and "![" not in md
    assert SCRIPT not in md and "<img" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md


def test_extra_sections_extend_the_report() -> None:
    result = classify_loaded(read_input(REPO / "workloads" / "ml_ops.yaml"), load_registry(), "h100-sxm", None)
    plan = Section(
        "plan",
        "LLM serving plan",
        (
            Paragraph("Two steps meet the SLO."),
            Table(("step", "ITL before", "ITL after"), ((Cell("CUDA graphs"), Cell("52 ms"), Cell("41 ms")),),
                  ("l", "r", "r")),
            Bullets(("risk: <capture> breaks dynamic shapes",)),
            Chart("plan-waterfall", "per-phase time", lambda fmt: b'<svg viewBox="0 0 1 1"></svg>'),
        ),
    )
    document = build_report([ReportItem(result)], extra_sections=[plan])
    assert [s.id for s in document.sections][-1] == "plan"
    html = render_html(document)
    assert '<section id="plan">' in html and "risk: &lt;capture&gt; breaks dynamic shapes" in html
    assert 'id="figure-plan-waterfall"' in html
    md = render_markdown(document, {"plan-waterfall": "plan.png"})
    assert "## LLM serving plan" in md and "| CUDA graphs | 52 ms | 41 ms |" in md and "](plan.png)" in md
    with pytest.raises(ValueError):
        build_report([ReportItem(result)], extra_sections=[Section("summary", "again")])


def test_report_of_classify_json_with_several_results(tmp_path: Path) -> None:
    saved = tmp_path / "both.json"
    assert run("classify", KINETO / "gelu_bf16_256M.json.gz", KINETO / "gemm_bf16_8192.json.gz", "--format", "json",
               "-o", saved).exit_code == 0
    assert isinstance(json.loads(saved.read_text()), list)
    out = tmp_path / "r.md"
    result = run("report", saved, "--no-images", "-o", out)
    assert result.exit_code == 0, result.output
    md = out.read_text()
    assert "## 1. gelu_bf16_256M.json.gz on NVIDIA H200 SXM 141GB" in md
    assert "## 2. gemm_bf16_8192.json.gz on NVIDIA H200 SXM 141GB" in md
    assert "### GPU timeline" not in md  # a classify JSON keeps no timeline
    refused = run("plot", saved, "-o", tmp_path / "x.svg")
    assert refused.exit_code == 2 and "holds 2 classify results" in refused.output


def test_report_without_placeable_kernels_says_so(tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    assert run("report", KINETO / "mini_decode_cudagraph.json.gz", "-o", out).exit_code == 0
    md = out.read_text()
    assert "_No roofline chart: no kernel can be placed on the roofline" in md
    assert "## GPU timeline" in md


def test_report_bad_output_is_a_one_line_error(tmp_path: Path) -> None:
    for output, needle in ((tmp_path / "r.pdf", "unsupported extension"), (tmp_path / "no" / "r.html", "does not exist")):
        result = run("report", KINETO / "gelu_bf16_256M.json.gz", "-o", output)
        assert result.exit_code == 2 and needle in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_outputs_are_not_private_files(tmp_path: Path) -> None:
    # Written through a temporary file (mkstemp: 0600), then given the mode a new file gets, so a
    # report can be served or shared as is.
    import os

    old = os.umask(0o022)
    try:
        out = tmp_path / "r.md"
        assert run("report", REPO / "workloads" / "ml_ops.yaml", "--hw", "h100-sxm", "--no-images", "-o", out).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        assert run("report", REPO / "workloads" / "ml_ops.yaml", "--hw", "h100-sxm", "--no-images", "-o", out).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o640  # replacing a file keeps its mode
    finally:
        os.umask(old)
