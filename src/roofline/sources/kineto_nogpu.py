"""What a kineto trace without GPU activity is, and what to capture instead: one line each for
an MTIA accelerator's trace, a CUPTI range-profiler trace, a trace whose CUDA activity was not
recorded, and a CPU-only profile (issue 14: all four read "CPU-only profile")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roofline.errors import InputError

_GPU_TIMELINE = "torch.profiler.profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])"
# kineto's CUPTI range profiler (experimental_config=_ExperimentalConfig(profiler_metrics=[...]))
# writes one event per kernel range with its counters, instead of the kernel timeline.
RANGE_CATEGORY = "cuda_profiler_range"
MTIA_PREFIX = "mtia_"  # mtia_ccp_events (device), mtia_runtime (host), as Meta's MTIA profiler writes


def no_gpu_error(path: Path, categories: dict[Any, int], cpu_ops: int, runtime_calls: int,
                 devices: list[dict[str, Any]], cut: str) -> InputError:
    """The error for a trace whose events hold no GPU kernel, copy or memset. ``categories``
    counts the complete events of the categories the reader does not otherwise read."""
    mtia = sum(n for cat, n in categories.items() if cat.startswith(MTIA_PREFIX))
    if mtia:
        names = sorted({d["name"] for d in devices if d.get("name")})
        device = f" (device {', '.join(names)})" if names else ""
        kinds = "/".join(sorted(c for c in categories if c.startswith(MTIA_PREFIX)))
        return InputError(
            f"no GPU activity in the trace: it is a Meta MTIA accelerator trace{device}: {mtia:,} {kinds} events, "
            f"which roofline has no device model for{cut}",
            file=path,
            fix=f"roofline models NVIDIA and AMD GPUs: profile the workload on one with {_GPU_TIMELINE}",
        )
    ranges = categories.get(RANGE_CATEGORY, 0)
    if ranges:
        return InputError(
            f"no GPU activity in the trace: it is a CUPTI range-profiler trace ({ranges:,} kernel ranges with "
            f"counters, no kernel timeline: range profiling replaces it){cut}",
            file=path,
            fix=f"capture the timeline with {_GPU_TIMELINE} and no profiler_metrics in experimental_config; "
            "for counters per kernel, add an Nsight Compute export with --counters",
        )
    if runtime_calls:
        return InputError(
            f"no GPU activity in the trace: {runtime_calls:,} CUDA/HIP runtime calls were recorded but no kernel, "
            f"copy or memset (the GPU activity was not captured){cut}",
            file=path,
            fix=f"profile with {_GPU_TIMELINE}; check that CUPTI (roctracer on ROCm) is available to the process",
        )
    listed = ", and no GPU in deviceProperties" if not devices else ""
    return InputError(
        f"no GPU activity in the trace: a CPU-only profile ({cpu_ops:,} cpu_ops; no kernel, copy or runtime "
        f"call{listed}){cut}",
        file=path,
        fix=f"profile a GPU run with {_GPU_TIMELINE}",
    )
