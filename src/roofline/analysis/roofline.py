"""The roofline model and the iron law, as pure functions of SI quantities.

attainable = min(R_peak, AI × BW);  ridge = R_peak / BW;
T ≈ max(F / R_peak, B / BW) + t_launch  (seed 002, equations 1–3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Bound(str, Enum):
    COMPUTE = "compute"
    MEMORY = "memory"
    LAUNCH = "launch"
    # Measured far longer than its launch yet far below its roof: too little parallel work.
    LATENCY = "latency"
    # A collective (NCCL/RCCL), judged against the interconnect roof.
    COMMUNICATION = "communication"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


def arithmetic_intensity(flops: float, num_bytes: float) -> float:
    """FLOP per byte moved. Zero bytes with work is infinitely intense; no work is zero."""
    if flops < 0 or num_bytes < 0:
        raise ValueError("FLOPs and bytes must be non-negative")
    if num_bytes == 0:
        return math.inf if flops > 0 else 0.0
    return flops / num_bytes


def ridge_point(peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """Arithmetic intensity (FLOP/B) where the memory slope meets the compute roof."""
    if peak_flops_per_s <= 0 or bandwidth_bytes_per_s <= 0:
        raise ValueError("peak and bandwidth must be positive")
    return peak_flops_per_s / bandwidth_bytes_per_s


def attainable_flops_per_s(intensity: float, peak_flops_per_s: float, bandwidth_bytes_per_s: float) -> float:
    """min(R_peak, AI × BW): the best FLOP/s a kernel of this intensity can reach."""
    if intensity < 0:
        raise ValueError("arithmetic intensity must be non-negative")
    if math.isinf(intensity):
        return peak_flops_per_s
    return min(peak_flops_per_s, intensity * bandwidth_bytes_per_s)


@dataclass(frozen=True)
class IronLawTerms:
    """Per-call time terms of the iron law, in seconds."""

    compute_s: float
    memory_s: float
    launch_s: float

    @property
    def roof_s(self) -> float:
        """Time at the roof: the slower of compute and data movement (they overlap)."""
        return max(self.compute_s, self.memory_s)

    @property
    def predicted_s(self) -> float:
        """T ≈ max(F/R, B/BW) + t_launch."""
        return self.roof_s + self.launch_s

    @property
    def bound(self) -> Bound:
        """The largest term. Ties: at the ridge (compute = memory) the kernel can reach the
        compute peak, so it is compute-bound (seed: I < I_ridge is memory-bound); launch wins only
        when strictly larger than both, so a zero-work kernel (all terms zero but launch) is launch.
        """
        if self.launch_s > self.roof_s:
            return Bound.LAUNCH
        if self.compute_s >= self.memory_s:
            if self.compute_s == 0:
                return Bound.LAUNCH
            return Bound.COMPUTE
        return Bound.MEMORY


def iron_law_terms(
    flops: float,
    num_bytes: float,
    *,
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    launch_floor_s: float,
) -> IronLawTerms:
    if flops < 0 or num_bytes < 0:
        raise ValueError("FLOPs and bytes must be non-negative")
    return IronLawTerms(
        compute_s=flops / peak_flops_per_s,
        memory_s=num_bytes / bandwidth_bytes_per_s,
        launch_s=launch_floor_s,
    )


# Launch-bound only while a call lasts at most this many launch floors. Eager, the host's launch
# and the kernel run one after the other when the GPU waits on the host: the launch is then at
# least t_launch / (t + t_launch) of each call's cost, a third at t = 2 t_launch. Beyond that the
# kernel's own duration dominates and removing launches (CUDA graphs) recovers under a third, while
# the GPU time itself is what is long: latency-bound. (GPU idle caused by a slow host is counted
# apart, as launch wait on the timeline, whatever the kernels' bounds.)
LATENCY_FACTOR = 2.0
# A kernel whose grid has fewer blocks than the GPU has SMs and that runs under this share of its
# roof is under-occupied (the fill_the_sms trace rule uses the same two tests).
UNDER_OCCUPIED_SHARE = 0.5


def measured_bound(terms: IronLawTerms, measured_per_call_s: float | None, *, blocks_per_call: float | None = None,
                   sm_count: int | None = None) -> Bound:
    """The iron-law bound, corrected by the measured time of one call.

    * A ``launch`` kernel (its work at the roof is under the launch floor) that lasts more than
      LATENCY_FACTOR launch floors on the GPU is ``latency``-bound: the launch is not what it costs.
    * A ``compute``/``memory`` kernel with fewer blocks than SMs, measured under UNDER_OCCUPIED_SHARE
      of its roof and longer than LATENCY_FACTOR launch floors, is ``latency``-bound too: the SMs it
      leaves empty, not the roof, set its time.
    """
    bound = terms.bound
    if measured_per_call_s is None or measured_per_call_s <= LATENCY_FACTOR * terms.launch_s:
        return bound
    if bound is Bound.LAUNCH:
        return Bound.LATENCY
    if (blocks_per_call is not None and sm_count and blocks_per_call < sm_count
            and terms.roof_s / measured_per_call_s < UNDER_OCCUPIED_SHARE):
        return Bound.LATENCY
    return bound


def fraction_of_roof(terms: IronLawTerms, measured_s: float) -> float:
    """Achieved / attainable = max(F/R, B/BW) / t_measured.

    For a kernel with FLOPs this equals (F / t) / min(R, AI·BW); for a pure copy it is the
    achieved bandwidth over the roof. Above 1.0 means the model or the roofs are wrong (or caches
    served the bytes): a red flag to report, not to clip.
    """
    if measured_s <= 0:
        raise ValueError("measured time must be positive")
    return terms.roof_s / measured_s
