"""Pausing the cyclic garbage collector around bulk construction of acyclic records."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small acyclic objects are built:
    otherwise its full collections rescan an ever larger heap and reading turns superlinear
    (3.3x slower on a 300 MB trace, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
