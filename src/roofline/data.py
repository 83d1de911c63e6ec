"""Where the bundled data (hardware registry, example workloads) lives.

In a wheel it sits inside the package (``roofline/_data``); in a source checkout or an editable
install it is the repository's top-level ``hwspecs/`` and ``workloads/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """Directory of bundled data ``name`` (``hwspecs`` or ``workloads``)."""
    inside = _PACKAGE_DIR / "_data" / name
    if inside.is_dir():
        return inside
    checkout = _PACKAGE_DIR.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise RuntimeError(f"bundled data '{name}' not found next to the roofline package; reinstall roofline")
