"""Efficiency derates: how far below the roofline real kernels run, per op class, and the runtime
constants of launching them. Every default says where it comes from; measured ceilings
(``--ceilings``) replace the compute and bandwidth ones.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from roofline.hardware.spec import Roofs


class Efficiency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Large GEMMs reach 78–87% of the dense bf16 peak (H200 here: 769/989 at 8192³; H100 MAMF 80%).
    gemm_compute: float = Field(0.78, gt=0, le=1)
    # Fewer rows fill fewer tensor-core tiles: efficiency × M / (M + gemm_half_rows). Fitted to two H200
    # points: 256-row MLP GEMMs at 600–650 TFLOP/s (tests/data captures) and 8192³ at 769.
    gemm_half_rows: float = Field(64.0, ge=0)
    # Weight-streaming GEMV/GEMM reads: 56–88% of 4.8 TB/s in the H200 decode traces (tests/data),
    # 0.8 in aiconfigurator's model for NVIDIA parts.
    gemm_memory: float = Field(0.80, gt=0, le=1)
    # A weight-streaming GEMM pays a fixed latency t0 besides its bytes: t = t0 + B / (η·BW), i.e.
    # η × B / (B + gemm_memory_half_bytes) with half_bytes = t0·η·BW. 0 (the default): no size
    # dependence. `roofline calibrate` fits it from traces whose GEMVs span sizes (H200 HF decode:
    # 0.24 of 4.8 TB/s at 6 MB a call, 0.58 at 23 MB, 0.80 at 131 MB, 0.90 at 789 MB; tests/data/h200/calibrate).
    gemm_memory_half_bytes: float = Field(0.0, ge=0)
    # Weight-only int4/fp4 GEMMs dequantize on the fly: the seed's case study sees weight reads get
    # ~2x faster for 4x fewer bytes, i.e. about half the streaming efficiency of an fp16 GEMV.
    dequant_memory: float = Field(0.55, gt=0, le=1)
    # Fused attention: 26–47% of the bf16 peak on the H200 (flash 255, cuDNN 468 TFLOP/s captured).
    attention_compute: float = Field(0.45, gt=0, le=1)
    attention_memory: float = Field(0.70, gt=0, le=1)
    # Elementwise and norm kernels: 30–90% of DRAM bandwidth in the H200 captures.
    elementwise_memory: float = Field(0.60, gt=0, le=1)
    # Hugging Face KV-cache copies: StaticCache's GQA expansion runs at ~1.15 TB/s on the H200
    # (benchmarks/fidelity/kernel_breakdown.py at batch 16, context 2048) …
    hf_cache_copy_memory: float = Field(0.24, gt=0, le=1)
    # … and DynamicCache's torch.cat of a strided cache runs at ~0.65 TB/s (same measurement).
    hf_cache_cat_memory: float = Field(0.14, gt=0, le=1)
    # NVLink collectives: 78–88% of the link (nvbandwidth, NCCL busbw).
    comm_bandwidth: float = Field(0.80, gt=0, le=1)
    # Per-call latency of a small NCCL all-reduce inside a node (seed: ~5 µs launch overhead).
    comm_latency_s: float = Field(6e-6, ge=0)
    # Expert-parallel all-to-all (MoE dispatch and combine) per call; default as a small all-reduce,
    # engine profiles replace it with a fit (workloads/engines/*.yaml, moe section).
    alltoall_latency_s: float = Field(6e-6, ge=0)
    # The routed experts' grouped GEMM against a dense GEMM of the same shape (both efficiencies are
    # multiplied by it; its tile fill already falls with the tokens per expert): 1 by default.
    grouped_gemm: float = Field(1.0, gt=0, le=1)
    # No kernel takes less than this on the GPU (H200 tiny kernels: 1.5–2.5 µs).
    min_kernel_s: float = Field(2.0e-6, ge=0)
    # Host time to issue one eager kernel; None: the device's eager launch floor (inference engine).
    host_s_per_kernel: float | None = Field(None, ge=0)
    # Hugging Face transformers eager: ~10 µs of Python per kernel, measured without a profiler on the
    # H200 (benchmarks/fidelity: 6.9 ms per ~740-kernel decode step, 14.5 ms per ~1440-kernel one).
    # Under torch.profiler the same step takes ~3x longer (28 µs per kernel in tests/data traces).
    huggingface_host_s_per_kernel: float = Field(10e-6, ge=0)
    # CUDA-graph replay: host submit cost per kernel of the graph (H200: ~320 µs for 429 kernels).
    graph_submit_s_per_kernel: float = Field(0.75e-6, ge=0)
    # GPU-side gap between back-to-back kernels: fed from the stream queue (eager) vs replayed from a
    # graph. Medians in the H200 traces (tests/data): 1.12 µs eager, 0.42 µs graph.
    eager_gap_s: float = Field(1.1e-6, ge=0)
    graph_gap_s: float = Field(0.42e-6, ge=0)
    # Engine profiles (workloads/engines/) refine the single derates above by what runs: a GEMM's
    # compute and streaming efficiency per compute precision (an fp8 GEMM does not reach the same
    # fraction of its doubled roof as a bf16 one), decode attention apart from prefill attention,
    # and the all-reduce latency per call by tensor-parallel size. Empty: the single derates.
    gemm_compute_by_precision: dict[str, float] = Field(default_factory=dict)
    gemm_memory_by_precision: dict[str, float] = Field(default_factory=dict)
    decode_attention_memory: float | None = Field(None, gt=0, le=1)
    prefill_attention_compute: float | None = Field(None, gt=0, le=1)
    # The routed experts' weight streaming by compute precision, where the engine's MoE kernels differ
    # from its dense GEMMs (an engine profile's moe.expert_memory); empty: the dense GEMM's.
    expert_memory_by_precision: dict[str, float] = Field(default_factory=dict)
    comm_latency_by_tp: dict[int, float] = Field(default_factory=dict)
    source: str = "defaults (docs/plan.md)"

    def gemm_compute_for(self, precision: str) -> float:
        return self.gemm_compute_by_precision.get(precision, self.gemm_compute)

    def gemm_memory_for(self, precision: str) -> float:
        return self.gemm_memory_by_precision.get(precision, self.gemm_memory)

    def expert_memory_for(self, precision: str) -> float:
        return self.expert_memory_by_precision.get(precision, self.gemm_memory_for(precision))

    def comm_latency_for(self, tp: int) -> float:
        return self.comm_latency_by_tp.get(tp, self.comm_latency_s)


def calibrated(efficiency: Efficiency, roofs: Roofs) -> Efficiency:
    """With measured ceilings, the measured GEMM peak and copy bandwidth are what good kernels reach:
    derates become relative to those roofs (GEMMs at the measured peak, streaming at 95% of the copy)."""
    if not roofs.uses_measured:
        return efficiency
    updates: dict[str, object] = {"source": "measured ceilings"}
    if any(r.origin == "measured" for r in roofs.compute.values()):
        updates["gemm_compute"] = 1.0
        updates["gemm_compute_by_precision"] = {}
    if roofs.memory_bandwidth.origin == "measured":
        updates["gemm_memory"] = 0.95
        updates["gemm_memory_by_precision"] = {}
        updates["expert_memory_by_precision"] = {}
    return efficiency.model_copy(update=updates)
