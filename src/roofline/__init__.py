"""roofline: roofline diagnosis of GPU workloads and ordered, quantified optimization plans.

The Python API (docs/python-api.md): ``roofline.classify``, ``plan``, ``plan_trace``,
``calibrate_traces``, ``snapshot``, ``gate``, ``registry``, ``device`` and ``capture``; errors are
:class:`roofline.InputError`. Importing ``roofline`` loads none of them (nor torch, nor
matplotlib) until one is used.
"""

from __future__ import annotations

from typing import Any

from roofline.errors import InputError, MissingDependencyError

from roofline.version import __version__

_API = ("classify", "plan", "plan_trace", "calibrate_traces", "snapshot", "gate", "registry", "device")
__all__ = ["__version__", "InputError", "MissingDependencyError", "capture", *_API]


def __getattr__(name: str) -> Any:
    # Resolved on first use, so `import roofline` (and the CLI's start-up) stays light.
    if name == "capture":
        from roofline.capture import capture

        return capture
    if name in _API:
        from roofline import api

        return getattr(api, name)
    raise AttributeError(f"module 'roofline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
