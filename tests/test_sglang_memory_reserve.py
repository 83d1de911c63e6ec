"""SGLang's default mem_fraction_static, derived from the device (server_args.py _handle_gpu_memory_settings),
against the source's formula worked by hand: reserved MiB = 512 + 1.5 x max(chunked_prefill_size, 2048)
+ 2 x cuda_graph_max_bs + tp x pp / 8 x 1024 (+ DP-attention padding), at least 10 GiB above 60 GiB."""

from __future__ import annotations

import pytest

from roofline.hardware.registry import load_registry
from roofline.workload.engine_profile import MemoryReserve, load_engine_profile, reserved_memory_fraction

H100 = 85_018_279_936  # totalGlobalMem of an H100 80GB HBM3 (hwspecs/h100-sxm.yaml): 81,079.6 MiB
H200 = 150_109_880_320  # 143,155.9 MiB
B200 = 191_503_138_816  # 182,631.6 MiB


def _fraction(device: int, tp: int, budget: int = 8192, dp: int = 1) -> float:
    return reserved_memory_fraction(MemoryReserve(), device, token_budget=budget, graph_max_batch=256, tp=tp, dp=dp)


def test_h100_by_hand() -> None:
    # TP1: 512 + 12,288 + 512 + 128 = 13,440 MiB → (81,079.6 − 13,440) / 81,079.6 = 0.834.
    assert _fraction(H100, 1) == 0.834
    # TP8: cuda_graph_max_bs 512 → 512 + 12,288 + 1,024 + 1,024 = 14,848 MiB → 0.817.
    assert _fraction(H100, 8) == 0.817


def test_h200_and_b200_by_hand() -> None:
    assert _fraction(H200, 1) == 0.906  # (143,155.9 − 13,440) / 143,155.9
    # B200: chunked_prefill_size 16,384 there → 512 + 24,576 + 1,024 + 128 = 26,240 MiB → 0.856.
    assert _fraction(B200, 1, budget=16384) == 0.856
    # Attention DP 8 at TP 8 on an H200: + 512·8·3 + 512·8·1.5 = 18,432 MiB more → 33,280 MiB → 0.768.
    assert _fraction(H200, 8, dp=8) == 0.768


def test_the_ten_gib_floor_above_sixty_gib() -> None:
    small = MemoryReserve(per_budget_token_mib=0.0, per_graph_batch_mib=0.0, graph_batch_at_tp4=None)
    # 512 + 128 MiB reserved, raised to 10,240 on an 80 GB part: (81,079.6 − 10,240) / 81,079.6 = 0.874.
    assert reserved_memory_fraction(small, H100, token_budget=8192, graph_max_batch=0, tp=1) == 0.874
    # A 40 GiB part keeps the 640 MiB: (40,960 − 640) / 40,960 = 0.984.
    assert reserved_memory_fraction(small, 40 * 2**30, token_budget=8192, graph_max_batch=0, tp=1) == 0.984


def test_the_sglang_profile_plans_its_pool_with_it() -> None:
    from roofline.hardware.spec import roofs_from_spec
    from roofline.planner.serving import build_context
    from roofline.workload.model import load_model
    from roofline.workload.serving import ServingConfig

    spec = load_registry().resolve("h100-sxm")
    assert spec.memory.usable_bytes == H100
    assert load_engine_profile("sglang").scheduler.memory_reserve is not None
    assert load_engine_profile("vllm").scheduler.memory_reserve is None
    cfg = ServingConfig.model_validate({
        "model": "qwen3-32b", "hardware": "h100-sxm", "runtime": {"engine": "sglang"},
        "serving": {"mode": "continuous", "prompt_tokens": 1024, "output_tokens": 128, "concurrency": 16},
        "parallelism": {"tensor": 1}})
    arch = load_model("qwen3-32b")[0]
    ctx = build_context(cfg, arch, spec, roofs_from_spec(spec))
    assert ctx.capacity_for(cfg) == pytest.approx(H100 * 0.834)


def test_a_deployed_memory_fraction_replaces_the_derived_one() -> None:
    # --mem-fraction-static 0.95 (InferenceX's dynamo-sglang GB200 low-latency scripts): 0.95 of the H100's
    # 85,018,279,936 B, not the derived 0.834; vLLM's --gpu-memory-utilization likewise replaces its profile's.
    from roofline.hardware.spec import roofs_from_spec
    from roofline.planner.serving import build_context
    from roofline.workload.model import load_model
    from roofline.workload.serving import ServingConfig

    spec = load_registry().resolve("h100-sxm")
    arch = load_model("qwen3-32b")[0]
    for engine in ("sglang", "vllm"):
        cfg = ServingConfig.model_validate({
            "model": "qwen3-32b", "hardware": "h100-sxm", "runtime": {"engine": engine, "memory_fraction": 0.95},
            "serving": {"mode": "continuous", "prompt_tokens": 1024, "output_tokens": 128, "concurrency": 16}})
        assert build_context(cfg, arch, spec, roofs_from_spec(spec)).capacity_for(cfg) == pytest.approx(H100 * 0.95)
    # A static batch still allocates its own cache from the whole GPU.
    static = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"mode": "static", "batch": 4})})
    assert build_context(static, arch, spec, roofs_from_spec(spec)).capacity_for(static) == H100
    with pytest.raises(ValueError, match="memory_fraction"):
        ServingConfig.model_validate({"model": "qwen3-32b", "runtime": {"memory_fraction": 1.2}})
