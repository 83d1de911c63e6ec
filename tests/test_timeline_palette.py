"""The timeline chart's palette: busy time in its bound's colour, idle time in neutral greys (the
wait for the host hatched), so no idle state can be read as a launch-bound kernel's orange."""

from __future__ import annotations

from pathlib import Path

from matplotlib.colors import to_rgb

from roofline.report.charts.roofline import BOUND_COLOURS
from roofline.report.charts.timeline import CATEGORY_COLOURS, CATEGORY_HATCHES

IDLE = ("launch_wait", "other_idle")


def _saturation(colour: str) -> float:
    r, g, b = to_rgb(colour)
    return max(r, g, b) - min(r, g, b)


def test_idle_states_are_neutral_and_the_host_wait_is_hatched() -> None:
    for state in IDLE:
        assert _saturation(CATEGORY_COLOURS[state]) < 0.02, state  # a grey, not a hue
        assert CATEGORY_COLOURS[state] not in BOUND_COLOURS.values()
    assert CATEGORY_HATCHES.get("launch_wait") and "other_idle" not in CATEGORY_HATCHES
    busy = [CATEGORY_COLOURS[b] for b in ("compute", "memory", "launch")]
    assert len(set(busy)) == 3 and all(_saturation(c) > 0.3 for c in busy)


def test_the_svg_hatches_the_wait_for_the_host(tmp_path) -> None:
    from typer.testing import CliRunner

    from roofline.cli import app

    trace = str(Path(__file__).parent / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz")
    out = tmp_path / "t.svg"
    result = CliRunner().invoke(app, ["plot", trace, "--timeline", "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert 'id="lane-0-launch_wait"' in svg and "<pattern" in svg  # matplotlib writes hatches as patterns
    assert "#d55e00" not in svg.lower()
