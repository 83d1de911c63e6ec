"""A kernel of unknown FLOPs/bytes whose measured call is shorter than the launch floor is
launch-bound: its work at the roof takes at most its measured time (it ran in that time), so
max(F/R, B/BW) < t_launch and the iron law's launch term is the largest whatever F and B are.
The h200-sxm spec's floors (5 µs eager, 1 µs in a CUDA graph) are the figures compared with."""

from __future__ import annotations

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.roofline import Bound
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec

ROOFS = roofs_from_spec(load_registry().resolve("h200-sxm"))


def _verdict(per_call_s: float, *, in_graph: bool = False, count: int = 10):
    work = KernelWork(name="k", count=count, measured_s=per_call_s * count, source="none", in_graph=in_graph,
                      unknown_reason="no launching op in the trace")
    return classify_kernel(work, ROOFS)


def test_a_call_under_the_eager_floor_is_launch_bound_without_flops_or_bytes() -> None:
    v = _verdict(3e-6)  # 3 µs < 5 µs
    assert v.bound == Bound.LAUNCH.value or v.bound == Bound.LAUNCH
    assert "launch-bound by its measured time alone" in v.notes[0] and "no launching op" in v.notes[0]
    assert v.compute_s is None and v.memory_s is None  # still no F or B claimed


def test_at_or_over_the_floor_stays_unknown() -> None:
    assert _verdict(5e-6).bound in (Bound.UNKNOWN, Bound.UNKNOWN.value)  # equal: the roof could tie it
    assert _verdict(20e-6).bound in (Bound.UNKNOWN, Bound.UNKNOWN.value)


def test_a_graph_replay_is_judged_against_the_graph_floor() -> None:
    assert _verdict(3e-6, in_graph=True).bound in (Bound.UNKNOWN, Bound.UNKNOWN.value)  # 3 µs > 1 µs
    assert _verdict(0.5e-6, in_graph=True).bound in (Bound.LAUNCH, Bound.LAUNCH.value)
