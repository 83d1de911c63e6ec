"""The ``--format json`` text of every command: strict JSON, which ``json.dumps`` alone is not.

Python writes an infinite or NaN float as ``Infinity``/``NaN``, which jq, orjson, browsers and
roofline's own readers refuse. Such a value is legitimate inside the analysis (a kernel that
moves no DRAM bytes has an infinite arithmetic intensity) but has no JSON spelling, so it is
written as ``null`` (docs/json-schema.md).
"""

from __future__ import annotations

import json
import math
from typing import Any


def finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def dumps(payload: Any, **options: Any) -> str:
    """Strict JSON text of ``payload`` (``json.dumps`` options pass through)."""
    return json.dumps(finite(payload), allow_nan=False, **options)
