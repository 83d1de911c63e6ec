"""Matplotlib set-up shared by every chart: imported lazily (``import roofline`` must stay light
and must not touch a user's matplotlib backend), drawn on an explicit Agg canvas (no pyplot, no
global state), and saved byte-for-byte reproducibly.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from roofline.errors import InputError

FORMATS = ("png", "svg", "pdf")
PNG_DPI = 120

# Text stays text in SVG (searchable, testable, selectable in the HTML report); DejaVu Sans ships
# with matplotlib, so the output does not depend on the fonts of the machine; kernel names with
# '$' must not be read as mathtext; the SVG id salt and missing dates make files reproducible.
_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "roofline",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.parse_math": False,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "legend.fontsize": 8.5,
    "pdf.compression": 6,
    "path.simplify": True,
}
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": "roofline"},
    "pdf": {"CreationDate": None, "ModDate": None, "Creator": "roofline", "Producer": "roofline"},
}


def format_for(path: Path) -> str:
    """The image format named by an output path's suffix, or a one-line error."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(
            f"unsupported image extension '{Path(path).suffix or '(none)'}'",
            file=path,
            fix="use .png, .svg or .pdf",
        )
    return fmt


@contextmanager
def styled() -> Iterator[Any]:
    """Yields the ``matplotlib`` module with this tool's rc settings in force."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield matplotlib


def new_figure(width_in: float, height_in: float) -> Any:
    """A figure on its own Agg canvas (text extents are measured on it for label placement)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=PNG_DPI)
    FigureCanvasAgg(figure)
    return figure


def save(figure: Any, fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=_METADATA[fmt])
    return buffer.getvalue()
