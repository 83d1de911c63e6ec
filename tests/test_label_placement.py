"""Label placement on charts of hundreds of kernel groups (issue 14: ``plot`` spent most of its
time testing label boxes one by one). The vectorised box store must give the same areas and
containment counts as matplotlib's own ``Bbox`` arithmetic, and a many-group chart must still
keep its labels apart. Speed itself is measured by benchmarks/bench_plot.py, not timed here.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from roofline.app.classify import classify_loaded
from roofline.hardware.registry import load_registry
from roofline.report.charts import mpl
from roofline.report.charts.roofline import roofline_figure
from roofline.report.charts.roofline_mpl import _Boxes, draw_roofline
from roofline.sources import read_input

DATA = Path(__file__).parent / "data"


def _random_boxes(rng: random.Random, count: int) -> list[Bbox]:
    boxes = []
    for _ in range(count):
        x, y = rng.uniform(0, 500), rng.uniform(0, 300)
        boxes.append(Bbox.from_extents(x, y, x + rng.uniform(1, 60), y + rng.uniform(1, 20)))
    return boxes


def test_box_store_gives_matplotlibs_overlaps_and_containment() -> None:
    rng = random.Random(14)
    boxes = _random_boxes(rng, 400)
    store = _Boxes()
    store += boxes
    pad = 2.0
    for probe in _random_boxes(rng, 50):
        # Reference: the area each pair shares, from matplotlib's intersection of the padded box.
        padded = Bbox.from_extents(probe.x0 - pad, probe.y0 - pad, probe.x1 + pad, probe.y1 + pad)
        expected = 0.0
        for other in boxes:
            shared = Bbox.intersection(padded, other)
            if shared is not None and shared.width > 0 and shared.height > 0:
                expected += shared.width * shared.height
        assert np.isclose(store.overlap_area(probe, pad), expected, rtol=1e-12, atol=1e-9)
    points = [(rng.uniform(0, 560), rng.uniform(0, 320)) for _ in range(300)]
    expected_inside = sum(1 for x, y in points for other in boxes if other.contains(x, y))
    assert expected_inside > 0
    assert store.containing(points) == expected_inside
    assert _Boxes().containing(points) == 0


def test_chart_of_hundreds_of_groups_keeps_labels_apart() -> None:
    # A real H200 decode trace's points, repeated as 10 renamed sets slowed by 1 + 0.25 k (the
    # layout of benchmarks/bench_plot.py): ~250 markers crowd the labels' candidate spots.
    result = classify_loaded(read_input(DATA / "h200" / "captured" / "decode_bf16_eager.json.gz"), load_registry(),
                             "auto", None)
    figure = roofline_figure(result, labels=12)
    crowd = [dataclasses.replace(p, name=f"{p.name}_v{k}", label=None, flops_per_s=p.flops_per_s / (1 + 0.25 * k))
             for k in range(1, 10) for p in figure.points]
    many = dataclasses.replace(figure, points=figure.points + crowd)
    assert len(many.points) >= 200
    with mpl.styled():
        fig = draw_roofline(many)
        renderer = fig.canvas.get_renderer()
        labels = [a for a in fig.axes[0].texts if (a.get_gid() or "").startswith(("label-", "roof-label-"))]
        boxes = [Text.get_window_extent(a, renderer) for a in labels]
    assert len(labels) == 12 + len(figure.roofs)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
