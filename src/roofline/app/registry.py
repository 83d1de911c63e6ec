"""The hardware registry a command works with: the bundled specs plus the user's own."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from roofline.hardware.registry import Registry, load_registry

# Extra spec directories, ':'-separated, for every command (docs/hardware.md): a site-wide
# registry without passing --hw-dir each time.
HW_PATH_ENV = "ROOFLINE_HW_PATH"


def spec_dirs(hw_dirs: Iterable[str | Path] | None = None, *, environ: dict[str, str] | None = None) -> list[Path]:
    """``hw_dirs`` followed by those of ``$ROOFLINE_HW_PATH``."""
    env = (os.environ if environ is None else environ).get(HW_PATH_ENV, "")
    return [Path(p) for p in hw_dirs or []] + [Path(p) for p in env.split(os.pathsep) if p.strip()]


def registry_for(hw_files: Iterable[str | Path] | None = None, hw_dirs: Iterable[str | Path] | None = None) -> Registry:
    """The bundled registry with ``hw_files`` and ``hw_dirs`` (and ``$ROOFLINE_HW_PATH``) laid over it."""
    return load_registry(extra_dirs=spec_dirs(hw_dirs), extra_files=[Path(p) for p in hw_files or []])
