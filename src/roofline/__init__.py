"""roofline: roofline diagnosis of GPU workloads and ordered, quantified optimization plans."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "capture"]


def __getattr__(name: str) -> Any:
    # `roofline.capture(...)` without importing the capture module (and nothing of torch) on
    # `import roofline`: the CLI and the analysis must start fast on machines without torch.
    if name == "capture":
        from roofline.capture import capture

        return capture
    raise AttributeError(f"module 'roofline' has no attribute {name!r}")
