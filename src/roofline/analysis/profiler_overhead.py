"""The PyTorch profiler's own host cost, paid per recorded op: under ``torch.profiler`` the host
issues each op more slowly than it does unprofiled, so a trace's launch wait overstates what the
host costs in production. One constant, in one place, so a measurement can replace it.

Sources: pytorch/pytorch issue #82793 (2022, PyTorch 1.12, an A100): "the exact overhead number ...
4 us per op on CUDA"; and our H200 measurement of the same training steps with and without the
profiler (benchmarks/results/profiler_overhead.json, docs/corpus.md; torch 2.11): 4.8 µs per
recorded op on ResNet-50 and 4.6 µs on a Llama step with roofline's capture settings
(record_shapes, stacks off), 2.8 µs with CPU+CUDA activities only. 4 µs is kept: the low end of
what was measured, so the tool takes out no more of a launch wait than the profiler surely added
(a verdict errs toward what was measured, not toward what was modelled).
"""

from __future__ import annotations

PROFILER_OVERHEAD_PER_OP_S = 4e-6
PROFILER_OVERHEAD_SOURCE = "pytorch/pytorch#82793; 4.6–4.8 µs measured on an H200"


def overhead_basis(recorded_ops: int) -> str:
    """'1,248 recorded ops × 4 µs (pytorch/pytorch#82793)': how an overhead figure was reached."""
    return f"{recorded_ops:,} recorded ops × {PROFILER_OVERHEAD_PER_OP_S * 1e6:g} µs ({PROFILER_OVERHEAD_SOURCE})"


def profiler_overhead_s(recorded_ops: int) -> float:
    """Host time the profiler added while recording ``recorded_ops`` cpu_ops."""
    return max(recorded_ops, 0) * PROFILER_OVERHEAD_PER_OP_S


def removable_overhead_s(overhead_s: float, *, launch_wait_s: float, busy_s: float, eager_launches: int,
                         launch_floor_s: float) -> float:
    """How much of the measured launch wait the profiler's overhead explains: at most the overhead
    and the wait itself, and never so much that the unprofiled host would issue its eager launches
    faster than the launch floor allows (busy + wait − removed ≥ launches × floor)."""
    floor_time = max(eager_launches, 0) * max(launch_floor_s, 0.0)
    return max(0.0, min(overhead_s, launch_wait_s, busy_s + launch_wait_s - floor_time))
