"""Charts of a serving plan (per-phase bars after each step, the batch sweep's frontier, the
predicted ops on the roofline), the plan in reports: checked for
content in the SVG (ids, texts, marker counts), not pixels. The plan is SPEC §4's 70B example.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.text import Text
from typer.testing import CliRunner

from roofline.analysis.result import hardware_used
from roofline.cli import app
from roofline.app.plan import plan_config, sweep_rows
from roofline.hardware.registry import load_registry
from roofline.report.charts import mpl
from roofline.report.charts.plan import default_sweep, frontier_figure, plan_roofline_figure, plan_steps_figure
from roofline.report.charts.roofline_mpl import draw_roofline

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "examples" / "llama70b_h100_tp8.yaml"
KINETO = Path(__file__).parent / "data" / "h200" / "kineto"
SVG = "{http://www.w3.org/2000/svg}"
runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def ids(root: ET.Element, prefix: str) -> list[str]:
    return [g.get("id") or "" for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(prefix)]


def group(root: ET.Element, gid: str) -> ET.Element | None:
    return next((g for g in root.iter(f"{SVG}g") if g.get("id") == gid), None)


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def markers(root: ET.Element, gid: str) -> int:
    found = group(root, gid)
    if found is None:
        return 0
    uses = list(found.iter(f"{SVG}use"))
    return len(uses) if uses else len(list(found.iter(f"{SVG}path")))


@pytest.fixture(scope="module")
def planned():
    p = plan_config(CONFIG, load_registry())
    return p.result, p.config, p.context


def test_step_bars_split_each_phase_and_add_up_to_its_latency(planned) -> None:
    result, _, _ = planned
    figure = plan_steps_figure(result)
    assert [b.label for b in figure.bars][0] == "baseline" and len(figure.bars) == 1 + len(result.steps)
    assert figure.bars[1].label.startswith("1. int4 weight-only quantization")
    for bar, metrics in zip(figure.bars, [result.baseline] + [s.after for s in result.steps]):
        # Without speculative decoding one decode step is the ITL and one prefill the TTFT.
        assert sum(bar.decode_s.values()) == pytest.approx(metrics.itl_s, rel=1e-9)
        assert sum(bar.prefill_s.values()) == pytest.approx(metrics.ttft_s, rel=1e-9)
    # Each step's "before" is the previous bar: the chart shows every step's before and after.
    for previous, step in zip(figure.bars, result.steps):
        assert sum(previous.decode_s.values()) == pytest.approx(step.before.itl_s, rel=1e-9)
    assert figure.slo == {"ttft": 0.5, "itl": 0.05, "throughput": 1000.0}


def test_plot_steps_svg(tmp_path: Path, planned) -> None:
    result, _, _ = planned
    out = tmp_path / "steps.svg"
    done = run("plot", CONFIG, "--steps", "-o", out)
    assert done.exit_code == 0, done.output
    root = ET.parse(out).getroot()
    words = texts(root)
    assert "Plan steps · llama-3-70b on 8× h100-sxm" in words
    assert {"baseline  (batch 1)", "prefill per GPU ≈ TTFT", "decode step per GPU ≈ ITL"} <= set(words)
    assert "10.2 ms ✓" in words and "96 ✗" in words  # baseline ITL meets its SLO, throughput does not
    for phase in ("prefill", "decode"):
        for term in ("memory", "launch", "communication"):
            assert len(ids(root, f"bars-{phase}-{term}-")) == len(result.steps) + 1, (phase, term)
    # Decode at batch 1 is never compute-bound here; once batched, each ITL also carries the
    # compute-bound prompt chunks of arriving requests (continuous batching, docs/plan.md).
    for bar, m in zip(plan_steps_figure(result).bars, [result.baseline] + [s.after for s in result.steps]):
        assert (bar.decode_s["compute"] > 0) == (m.batch > 1), bar.label
    assert group(root, "slo-throughput") is not None  # 1,000 tok/s is on the scale, TTFT 500 ms is not
    assert "time (ms) · SLO 500 ms (off the scale →)" in words
    assert "communication (tensor-parallel all-reduce)" in words
    assert len(ids(root, "throughput-")) == len(result.steps) + 1
    every = [gid for gid in ids(root, "") if gid]
    assert len(every) == len(set(every))


def test_default_sweep_reaches_the_memory_limit() -> None:
    assert default_sweep([365, 443]) == [1, 2, 4, 8, 16, 32, 64, 128, 256, 365, 443]
    assert default_sweep([1]) == [1]


def test_frontier_from_the_sweep(tmp_path: Path, planned) -> None:
    result, cfg, context = planned
    rows = sweep_rows(cfg, context, [1, 8, 32, 128, 4096])
    figure = frontier_figure(result, rows)
    [curve] = figure.curves
    assert [p.batch for p in curve.points] == [1, 8, 32, 128]
    assert [b for b, _ in curve.failed] == [4096] and "does not fit" in curve.failed[0][1]
    # Throughput grows with batch while ITL grows slowly: decode stays weight-streaming bound.
    assert all(a.throughput_tok_s < b.throughput_tok_s for a, b in zip(curve.points, curve.points[1:]))
    assert curve.chosen is not None and curve.chosen.batch == 1

    out = tmp_path / "frontier.svg"
    done = run("plot", CONFIG, "--frontier", "--sweep", "batch=1,8,32,128", "-o", out)
    assert done.exit_code == 0, done.output
    root = ET.parse(out).getroot()
    words = texts(root)
    assert group(root, "curve-0") is not None and group(root, "curve-1") is not None  # as given, after the plan
    assert markers(root, "frontier-points-0-memory") == 4
    assert group(root, "chosen-0") is not None and group(root, "chosen-1") is not None
    assert group(root, "slo-itl") is not None and group(root, "slo-throughput") is not None
    assert {"b=1", "b=8", "b=32", "b=128"} <= set(words)
    assert "inter-token latency, ITL (ms) — lower is better" in words


def test_plan_ops_on_the_roofline(planned) -> None:
    result, cfg, context = planned
    hardware = hardware_used(context.spec, context.roofs, None)
    figure = plan_roofline_figure(result, hardware, decode_steps=cfg.serving.output_tokens)
    labels = {roof.label for roof in figure.roofs}
    assert "fp16 matrix" in labels or "fp16/bf16 matrix" in labels
    assert all(p.predicted for p in figure.points)
    assert sum(p.share for p in figure.points) <= 1.0 + 1e-9
    labelled = [p.label for p in figure.points if p.label]
    assert any(label.startswith("prefill · ") for label in labelled)
    assert any(label.startswith("decode · ") for label in labelled)
    # SPEC §5: batch-1 decode GEMMs sit at AI ≈ 1 FLOP/B, memory-bound.
    qkv = next(p for p in figure.points if p.name == "decode · qkv_proj")
    assert qkv.ai == pytest.approx(1.0, rel=0.05) and qkv.bound == "memory"
    with mpl.styled():
        fig = draw_roofline(figure)
        renderer = fig.canvas.get_renderer()
        boxes = [Text.get_window_extent(a, renderer) for a in fig.axes[0].texts
                 if (a.get_gid() or "").startswith(("label-", "roof-label-"))]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_plan_in_reports(tmp_path: Path) -> None:
    md = tmp_path / "plan.md"
    done = run("report", CONFIG, "-o", md)
    assert done.exit_code == 0, done.output
    text = md.read_text()
    assert "## Serving plan: llama-3-70b on 8× h100-sxm" in text
    assert "| 1 | int4 weight-only quantization (AWQ/GPTQ, group 128) | memory |" in text
    for chart in ("plan-steps", "plan-frontier", "plan-roofline"):
        assert f"](plan.{chart}.png)" in text
        assert (tmp_path / f"plan.{chart}.png").read_bytes().startswith(b"\x89PNG")
    html = tmp_path / "both.html"
    done = run("report", KINETO / "gemv_bf16_decode.json.gz", CONFIG, "--sweep", "batch=1,16", "-o", html)
    assert done.exit_code == 0, done.output
    page = html.read_text()
    for figure_id in ("figure-roofline", "figure-timeline", "figure-plan-steps", "figure-plan-frontier",
                      "figure-plan-roofline"):
        assert f'<figure id="{figure_id}">' in page
    assert page.index('id="summary"') < page.index('id="plan-summary"')
    assert "<title>roofline report: gemv_bf16_decode.json.gz, llama70b_h100_tp8.yaml</title>" in page


@pytest.mark.parametrize("args,needle", [
    (("plot", CONFIG, "--timeline", "-o", "{tmp}/x.png"), "is a serving config"),
    (("plot", CONFIG, "--steps", "--frontier", "-o", "{tmp}/x.png"), "pick one"),
    (("plot", CONFIG, "--sweep", "batch=1,8", "-o", "{tmp}/x.png"), "--sweep goes with --frontier"),
    (("plot", CONFIG, "--frontier", "--sweep", "batch=0", "-o", "{tmp}/x.png"), "batch sizes must be ≥ 1"),
    (("plot", CONFIG, "--frontier", "--sweep", "batch=100000", "-o", "{tmp}/x.png"), "no batch of the sweep"),
    (("plot", KINETO / "gelu_bf16_256M.json.gz", "--steps", "-o", "{tmp}/x.png"), "draw a serving plan"),
    (("plot", CONFIG, "--steps", "-o", "{tmp}/x.gif"), "unsupported image extension"),
    (("plot", CONFIG, "--steps", "-o", "{tmp}/missing/x.png"), "does not exist"),
])
def test_plan_chart_errors_are_one_line(tmp_path: Path, args: tuple, needle: str) -> None:
    result = run(*[str(a).replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2, result.output
    assert needle in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "x.png").exists()
