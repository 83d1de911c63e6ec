"""Roofline, comparison and timeline charts: checked for content (axes, roofs, points, labels,
colours) by parsing the SVG, not for pixels. Expected ridge points are SPEC §5's datasheet figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.analysis.timeline import analyse_timeline, timeline_segments
from roofline.cli import app
from roofline.app.classify import classify_loaded
from roofline.analysis.result import hardware_used
from roofline.hardware.registry import load_registry, resolve_roofs
from roofline.report.charts import mpl
from roofline.report.charts.roofline import compare_figure, label_name, roofline_figure
from roofline.report.charts.roofline_mpl import draw_compare, draw_roofline, render_roofline
from roofline.report.charts.timeline import timeline_figure
from roofline.sources import read_input
from matplotlib.text import Text

DATA = Path(__file__).parent / "data"
KINETO = DATA / "h200" / "kineto"
REPO = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def svg_tree(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def group(root: ET.Element, gid: str) -> ET.Element | None:
    return next((g for g in root.iter(f"{SVG}g") if g.get("id") == gid), None)


def ids(root: ET.Element, prefix: str) -> list[str]:
    return [g.get("id") for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(prefix)]


def texts(root: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def point_count(root: ET.Element, gid: str) -> int:
    """Markers in a scatter: matplotlib writes a <path> per marker, or one <defs> path and a <use>
    per marker when that is shorter."""
    found = group(root, gid)
    if found is None:
        return 0
    uses = list(found.iter(f"{SVG}use"))
    return len(uses) if uses else len(list(found.iter(f"{SVG}path")))


def classify(path: Path, hw: str = "auto", ceilings: str | None = None):
    return classify_loaded(read_input(path), load_registry(), hw, ceilings)


def test_importing_roofline_does_not_import_matplotlib() -> None:
    code = (
        "import sys, roofline, roofline.cli, roofline.report.charts.roofline_mpl, roofline.report.document.html, "
        "roofline.report.annotate, roofline.report.charts.timeline_mpl\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_declared_roofs_and_ridges_match_the_spec_figures() -> None:
    figure = roofline_figure(classify(REPO / "workloads" / "ml_ops.yaml", "h100-sxm"))
    ridges = {roof.label: roof.ridge_point for roof in figure.roofs}
    # SPEC §5: H100 SXM 989 TFLOP/s fp16 at 3.35 TB/s → ridge 295; fp8 1979 → 591 (the top matrix roof).
    assert ridges["fp16 matrix"] == pytest.approx(295.3, abs=0.1)
    assert ridges["fp8 matrix"] == pytest.approx(590.7, abs=0.1)
    assert [s.bytes_per_s for s in figure.slopes] == [3.35e12]
    gemm = next(p for p in figure.points if p.name == "gemm_4096x4096x4096")
    assert gemm.ai == pytest.approx(1365.3, abs=0.1) and gemm.bound == "compute" and gemm.predicted
    assert sum(p.label is not None for p in figure.points) == min(8, len(figure.points))


def test_trace_plot_svg_content(tmp_path: Path) -> None:
    out = tmp_path / "gemm.svg"
    result = run("plot", KINETO / "gemm_bf16_8192.json.gz", "-o", out)
    assert result.exit_code == 0, result.output
    root = svg_tree(out)
    words = texts(root)
    assert "Arithmetic intensity (FLOP/byte of DRAM traffic)" in words
    assert "Performance (FLOP/s)" in words
    assert "Roofline · NVIDIA H200 SXM 141GB" in words and "gemm_bf16_8192.json.gz (kineto)" in words
    # Log-log: decade ticks with SI prefixes on both axes.
    assert {"1k", "100"} <= set(words.split("\n")) and "1P" in words.split("\n")
    # One roof per precision the kernels use plus the top matrix roof (fp8), and the DRAM slope.
    assert sorted(ids(root, "roof-")) == sorted(
        ["roof-bf16-matrix-datasheet", "roof-fp8-matrix-datasheet", "roof-label-bf16-matrix-datasheet",
         "roof-label-fp8-matrix-datasheet"])
    assert group(root, "slope-dram-bandwidth-datasheet") is not None
    assert group(root, "ridge-bf16-matrix-datasheet") is not None
    assert "bf16 matrix 989 TFLOP/s · ridge 206" in words
    assert point_count(root, "points-compute") == 1
    assert group(root, "points-memory") is None
    assert "nvjet_sm90_tst_320x128_64x3_1x2_h_bz…" in words or "nvjet_sm90_tst_320x128" in words
    assert "compute-bound" in words and "ridge point = peak ÷ bandwidth" in words


def test_points_are_coloured_by_bound(tmp_path: Path) -> None:
    out = tmp_path / "decode.svg"
    assert run("plot", KINETO / "mini_decode_eager.json.gz", "-o", out).exit_code == 0
    root = svg_tree(out)
    memory = group(root, "points-memory")
    launch = group(root, "points-launch")
    assert memory is not None and launch is not None
    assert "#0072b2" in ET.tostring(memory, encoding="unicode").lower()
    assert "#e69f00" in ET.tostring(launch, encoding="unicode").lower()
    result = classify(KINETO / "mini_decode_eager.json.gz")
    placed = [k for k in result.kernels if k.flops and k.bytes]
    assert point_count(root, "points-memory") + point_count(root, "points-launch") == len(placed)


def test_measured_ceilings_drawn_dashed_beside_datasheet(tmp_path: Path) -> None:
    out = tmp_path / "measured.svg"
    assert run("plot", KINETO / "gemm_bf16_8192.json.gz", "--ceilings", "measured", "-o", out).exit_code == 0
    root = svg_tree(out)
    measured = ET.tostring(group(root, "roof-bf16-matrix-measured"), encoding="unicode")
    datasheet = ET.tostring(group(root, "roof-bf16-matrix-reference"), encoding="unicode")
    assert "stroke-dasharray" in measured and "stroke-dasharray" not in datasheet
    words = texts(root)
    # tests/data/h200/profiled/measure.txt (the newest bundled overlay): bf16 GEMM 786 TFLOP/s,
    # datasheet 989; copy bandwidth 4.25 TB/s.
    # The measured roof's label quotes the datasheet peak drawn (unlabelled) beside it.
    assert "bf16 matrix 786 TFLOP/s (measured; datasheet 989 TFLOP/s) · ridge 185" in words
    assert group(root, "roof-label-bf16-matrix-reference") is None
    assert "DRAM 4.25 TB/s (measured)" in words
    assert "measured ceiling (used)" in words and "datasheet roof" in words


def test_hierarchical_points_from_nsight_compute(tmp_path: Path) -> None:
    out = tmp_path / "ncu.svg"
    assert run("plot", DATA / "ncu" / "ops_metrics_raw.csv", "-o", out).exit_code == 0
    root = svg_tree(out)
    figure = roofline_figure(classify(DATA / "ncu" / "ops_metrics_raw.csv"))
    with_levels = [p for p in figure.points if p.levels]
    assert len(with_levels) >= 5
    assert len(ids(root, "hier-")) == len(with_levels)
    assert group(root, "level-L2") is not None
    assert "same kernel at L2 bytes" in texts(root)


def test_labels_do_not_overlap() -> None:
    figure = roofline_figure(classify(DATA / "h200" / "captured" / "decode_bf16_eager.json.gz"))
    with mpl.styled():
        fig = draw_roofline(figure)
        renderer = fig.canvas.get_renderer()
        labels = [a for a in fig.axes[0].texts if (a.get_gid() or "").startswith(("label-", "roof-label-"))]
        # The text itself, not its leader line (an Annotation's own extent includes the arrow).
        boxes = [Text.get_window_extent(a, renderer) for a in labels]
    assert len(labels) == 8 + len(figure.roofs)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)


def test_label_names_keep_distinguishing_ends() -> None:
    a = label_name("nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT")
    b = label_name("nvjet_sm90_tst_128x8_64x12_2x1_v_bz_splitK_TNT")
    assert a != b and "…" in a and len(a) <= 38
    assert label_name("void at::native::vectorized_elementwise_kernel<8, at::native::GeluFunctor>(int)") == (
        "vectorized_elementwise_kernel<8, …>")


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".pdf", b"%PDF-"), (".svg", b"<?xml")])
def test_formats_by_suffix(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"chart{suffix}"
    assert run("plot", KINETO / "gelu_bf16_256M.json.gz", "-o", out).exit_code == 0
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_output_is_deterministic(fmt: str) -> None:
    figure = roofline_figure(classify(KINETO / "gemv_bf16_decode.json.gz"))
    assert render_roofline(figure, fmt) == render_roofline(figure, fmt)


def test_bad_outputs_and_inputs_are_one_line_errors(tmp_path: Path) -> None:
    cases = [
        (("plot", KINETO / "gelu_bf16_256M.json.gz", "-o", tmp_path / "x.gif"), "unsupported image extension"),
        (("plot", KINETO / "gelu_bf16_256M.json.gz", "-o", tmp_path / "missing" / "x.png"), "does not exist"),
        (("plot", KINETO / "mini_decode_cudagraph.json.gz", "-o", tmp_path / "x.png"), "no kernel can be placed"),
        (("plot", KINETO / "gelu_bf16_256M.json.gz"), "no output file"),
        (("plot", tmp_path / "nope.json", "-o", tmp_path / "x.png"), "file not found"),
        (("plot", "--compare", "h100-sxm", "-o", tmp_path / "x.png"), "at least two"),
        (("plot", "--compare", "h100-sxm", "h100-sxn", "-o", tmp_path / "x.png"), "did you mean"),
    ]
    for args, needle in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()


def test_classify_json_round_trip(tmp_path: Path) -> None:
    saved = tmp_path / "result.json"
    assert run("classify", KINETO / "gelu_bf16_256M.json.gz", "--format", "json", "-o", saved).exit_code == 0
    out = tmp_path / "from-json.svg"
    result = run("plot", saved, "-o", out)
    assert result.exit_code == 0, result.output
    assert point_count(svg_tree(out), "points-memory") == 1
    assert "gelu_bf16_256M.json.gz (kineto)" in texts(svg_tree(out))
    data = json.loads(saved.read_text())
    data["schema_version"] = 2
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps(data))
    refused = run("plot", newer, "-o", tmp_path / "x.svg")
    assert refused.exit_code == 2 and "schema_version 2 is not supported (this roofline reads 1)" in refused.output
    data["schema_version"] = 1
    data["kernels"][0]["bound"] = "sideways"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    refused = run("plot", broken, "-o", tmp_path / "x.svg")
    assert refused.exit_code == 2 and "kernels.0.bound" in refused.output
    timeline = run("plot", saved, "--timeline", "-o", tmp_path / "t.svg")
    assert timeline.exit_code == 2 and "no timeline" in timeline.output
    other_hw = run("plot", saved, "--hw", "a100", "-o", tmp_path / "x.svg")
    assert other_hw.exit_code == 2 and "classified on h200-sxm" in other_hw.output


REGIME_WORKLOAD = """\
schema_version: 1
kind: kernels
title: Regime change across generations
kernels:
  # 64 square fp16 GEMMs of 640: 64·2·640³ FLOPs, 64·3·640²·2 bytes → AI 213 FLOP/B, between the
  # V100/A100 ridges (139, 153) and the H100/B200 ones (295, 281): SPEC §5. (Batched, so that one
  # call outlasts the launch floor on every device.)
  - name: bmm_64x640
    op: aten::bmm
    flops: 33554432000
    bytes: 157286400
    precision: fp16
    unit: matrix
  - name: gelu_4096x4096
    op: aten::gelu
    flops: 83886080
    bytes: 67108864
    precision: fp16
"""


def test_compare_devices_overlay_and_regime_change(tmp_path: Path) -> None:
    workload = tmp_path / "regime.yaml"
    workload.write_text(REGIME_WORKLOAD)
    out = tmp_path / "compare.svg"
    result = run("plot", "--compare", "v100-sxm2", "a100-sxm4-80gb", "h100-sxm", "b200", "--input", workload,
                 "-o", out)
    assert result.exit_code == 0, result.output
    root = svg_tree(out)
    assert sorted(ids(root, "device-") ) == sorted(
        [f"device-{d}" for d in ("v100-sxm2", "a100-sxm4-80gb", "h100-sxm", "b200")]
        + [f"device-label-{d}" for d in ("v100-sxm2", "a100-sxm4-80gb", "h100-sxm", "b200")])
    words = texts(root)
    assert "ridge points (FLOP/byte): v100-sxm2 139 → a100-sxm4-80gb 153 → h100-sxm 295 → b200 281" in words
    assert "bmm_64x640 changes regime: compute-bound on v100-sxm2, a100-sxm4-80gb; memory-bound on h100-sxm, b200" in words
    assert group(root, "compare-points-v100-sxm2-compute") is not None
    assert group(root, "compare-points-h100-sxm-memory") is not None
    assert len(ids(root, "workload-line-")) == 2


def test_compare_without_workload_draws_only_roofs(tmp_path: Path) -> None:
    hardware = []
    from roofline.analysis.result import hardware_used
    from roofline.hardware.registry import resolve_roofs

    for name in ("h100-sxm", "a100-sxm4-80gb"):
        spec, roofs, _ = resolve_roofs(load_registry(), name)
        hardware.append(hardware_used(spec, roofs, None))
    figure = compare_figure(hardware)
    assert [round(d.ridge_point) for d in figure.devices] == [295, 153]
    assert figure.points == [] and figure.notes == []
    result = run("plot", "--compare", "h100-sxm", "a100-sxm4-80gb", "-o", tmp_path / "c.png")
    assert result.exit_code == 0 and (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_labels_run_along_their_lines_without_overlap() -> None:
    registry = load_registry()
    names = ("v100-sxm2", "a100-sxm4-80gb", "h100-sxm", "b200")
    hardware = [hardware_used(*resolve_roofs(registry, name)[:2], None) for name in names]
    loaded = read_input(REPO / "workloads" / "ml_ops.yaml")
    results = [classify_loaded(loaded, registry, hw.name, None) for hw in hardware]
    figure = compare_figure(hardware, results=results)
    with mpl.styled():
        fig = draw_compare(figure)
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = [t for t in ax.texts if (t.get_gid() or "").startswith("label-")]
        boxes = [t.get_window_extent(renderer) for t in labels]
        ais = dict(figure.kernels)
        for text in labels:
            # Rotated along the dashed line at the AI of the kernel(s) it names.
            assert text.get_rotation() == 90
            named = [ais[name] for name in text.get_text().split(" · ")]
            assert min(named) * 0.9 <= text.get_position()[0] <= max(named) * 1.1
        # Every kernel is named once, in some label.
        joined = " · ".join(t.get_text() for t in labels)
        assert all(kernel in joined for kernel, _ in figure.kernels)
        # No label overlaps another or covers a device's marker.
        points = [ax.transData.transform((p.ai, p.flops_per_s)) for p in figure.points]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
        assert not any(a.contains(x, y) for x, y in points), a


def test_timeline_segments_match_the_accounting() -> None:
    for name in ("tiny_ops_launch", "mini_decode_eager", "mini_decode_cudagraph"):
        loaded = read_input(KINETO / f"{name}.json.gz")
        steps = loaded.extra["steps"]
        figures = analyse_timeline(loaded.events, steps)
        totals: dict[str, int] = {}
        for device in timeline_segments(loaded.events, steps):
            previous = device.span_start_ns
            for segment in device.segments:
                assert segment.start_ns == previous  # contiguous: the whole span, nothing twice
                previous = segment.end_ns
                totals[segment.kind] = totals.get(segment.kind, 0) + segment.dur_ns
            assert previous == device.span_end_ns
        assert totals.get("busy", 0) * 1e-9 == pytest.approx(figures.gpu_busy_s, abs=1e-12)
        assert totals.get("launch_wait", 0) * 1e-9 == pytest.approx(figures.launch_wait_s, abs=1e-12)
        assert totals.get("other_idle", 0) * 1e-9 == pytest.approx(figures.other_idle_s, abs=1e-12)
        for kind in ("host_stall", "lead_in", "graph_gap"):
            assert totals.get(kind, 0) * 1e-9 == pytest.approx(getattr(figures, f"{kind}_s"), abs=1e-12)


def test_timeline_chart_of_a_launch_bound_trace(tmp_path: Path) -> None:
    out = tmp_path / "timeline.svg"
    result = run("plot", KINETO / "tiny_ops_launch.json.gz", "--timeline", "-o", out)
    assert result.exit_code == 0, result.output
    root = svg_tree(out)
    words = texts(root)
    assert "GPU 0" in words and "stream 7" in words
    # 20.25 ms of launch wait in the 22.13 ms span; the 254 µs before each step's first launch is host stall.
    assert "idle · waiting for the host to launch" in words and "(91.5% of the span)" in words
    assert "idle · host stall (nothing launched)" in words
    assert group(root, "lane-0-launch_wait") is not None and group(root, "lane-0-launch") is not None
    assert group(root, "lane-1-launch") is not None and group(root, "lane-1-launch_wait") is None
    assert len(ids(root, "step-")) == 3


def test_timeline_bins_when_there_are_too_many_bars() -> None:
    loaded = read_input(KINETO / "tiny_ops_launch.json.gz")
    result = classify_loaded(loaded, load_registry(), "auto", None)
    steps = loaded.extra["steps"]
    figure = timeline_figure(result, timeline_segments(loaded.events, steps), steps, max_bars=200)
    device = figure.rows[0]
    assert device.binned and len(device.bars) <= 100
    assert {bar.category for bar in device.bars} <= {"launch_wait", "launch", "other_idle", "host_stall", "lead_in"}
    exact = timeline_figure(result, timeline_segments(loaded.events, steps), steps)
    # 3601 bars before host stall and lead-in had their own: each of the 3 steps opens with one of each.
    assert not exact.rows[0].binned and len(exact.rows[0].bars) == 3604


def test_installed_entry_point_plots(tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    done = subprocess.run(
        [sys.executable, "-m", "roofline", "plot", str(REPO / "workloads" / "ml_ops.yaml"), "--hw", "h100-sxm", "-o",
         str(out)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_labels_tell_template_instances_apart() -> None:
    # Three instances of distribution_elementwise_grid_stride_kernel (float/half, float, double) would
    # all read "…distribution_elementwise_g…": each label must name one point only.
    figure = roofline_figure(classify(DATA / "ncu" / "precisions_roofline_sections_raw.csv", "h200"))
    labels = [p.label for p in figure.points if p.label]
    assert len(labels) == len(set(labels)) == 8
    instances = [label for label in labels if label.startswith("distribution_elementwi")]
    assert len(instances) == 3 and any("double" in label for label in instances)
