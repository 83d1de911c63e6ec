"""Architectures served today, read from their public config.json (workloads/models/), pinned to the
model cards and to arithmetic done by hand from the config values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.workload.attention_layout import causal_attended, layer_windows
from roofline.workload.efficiency import Efficiency
from roofline.workload.memory import plan_memory
from roofline.workload.mla import absorbed_decode_cost, naive_prefill_cost
from roofline.workload.model import from_hf_config, load_model
from roofline.workload.moe import expected_max_load, experts_touched, tokens_per_expert
from roofline.workload.phases import PhaseShape, build_phase_ops
from roofline.workload.predict import predict_phase
from roofline.workload.serving import ServingConfig

REPO = Path(__file__).resolve().parents[1]


def cfg(**kw) -> ServingConfig:
    base = {"model": "deepseek-v3", "hardware": "h200-sxm", "gpus": 8}
    base.update(kw)
    return ServingConfig.model_validate(base)


# --- parameter counts against the model cards ---------------------------------------------------

@pytest.mark.parametrize(("model", "total", "active", "tol"), [
    # DeepSeek-V3/R1 model card: 671B total (685B on the hub with the 14B MTP module), 37B activated.
    ("deepseek-v3", 671e9, 37e9, 0.02),
    ("deepseek-r1", 671e9, 37e9, 0.02),
    # gpt-oss model card: 116.83B total, 5.13B active parameters per token.
    ("gpt-oss-120b", 116.83e9, 5.13e9, 0.01),
    # gpt-oss model card: 20.91B total, 3.61B active (the 24-layer, 32-expert sibling).
    ("gpt-oss-20b", 20.91e9, 3.61e9, 0.01),
    # Qwen3-235B-A22B model card: 235B total, 22B activated.
    ("qwen3-235b-a22b", 235e9, 22e9, 0.03),
    # Kimi-K2 model card: 1T total (1.04T), 32B activated.
    ("kimi-k2.5", 1.03e12, 32e9, 0.02),
])
def test_parameter_counts_match_the_model_cards(model: str, total: float, active: float, tol: float) -> None:
    arch, _ = load_model(model)
    assert arch.total_params == pytest.approx(total, rel=tol)
    assert arch.active_params == pytest.approx(active, rel=tol)


def test_deepseek_mla_attention_parameters_by_hand() -> None:
    # q_a 7168×1536 + norm 1536 + q_b 1536×128×192 + kv_a 7168×576 + norm 512 + kv_b 512×128×256
    # + o 128×128×7168, from the config's dimensions.
    arch, _ = load_model("deepseek-v3")
    by_hand = 7168 * 1536 + 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 + 512 * 128 * 256 + 128 * 128 * 7168
    assert arch.attention_params_per_layer == by_hand == 187_107_328
    assert arch.dense_layers == 3 and arch.moe_layers == 58 and arch.mtp_layers == 1


# --- KV cache ------------------------------------------------------------------------------------

def test_mla_kv_per_token_is_the_compressed_latent() -> None:
    # 61 layers × (kv_lora_rank 512 + qk_rope_head_dim 64) × 2 bytes (bf16) = 70,272 B: 1/57 of what
    # 128 heads × (192 + 128) per layer would cache uncompressed (61 × 128 × 320 × 2 = 4,997,120 B).
    arch, _ = load_model("deepseek-v3")
    assert arch.kv_bytes_per_token(2) == 61 * 576 * 2 == 70_272


def test_mla_cache_is_not_split_by_tp_but_by_attention_dp() -> None:
    arch, _ = load_model("deepseek-v3")
    tp8 = plan_memory(arch, cfg(parallelism={"tensor": 8}, precision={"weights": "fp8", "activations": "fp8",
                                                                         "kv_cache": "bf16"}), 141e9)
    dp8 = plan_memory(arch, cfg(parallelism={"tensor": 1, "attention_data": 8, "expert": 8},
                                precision={"weights": "fp8", "activations": "fp8", "kv_cache": "bf16"}), 141e9)
    assert tp8.kv_bytes_per_token == pytest.approx(70_272)  # every TP rank holds the whole latent
    assert dp8.kv_bytes_per_token == pytest.approx(70_272 / 8)  # a sequence lives on one DP rank


def test_gqa_kv_per_token_qwen3_235b() -> None:
    # 94 layers × 2 (K, V) × 4 KV heads × 128 × 2 bytes = 192,512 B.
    arch, _ = load_model("qwen3-235b-a22b")
    assert arch.kv_bytes_per_token(2) == 94 * 2 * 4 * 128 * 2


def test_sliding_window_caps_gpt_oss_kv_past_the_window() -> None:
    # 18 full layers hold the whole context, 18 sliding layers at most 128 tokens:
    # per token-layer 2 × 8 × 64 × 2 B = 2,048 B.
    arch, _ = load_model("gpt-oss-120b")
    assert arch.sliding_layers == 18 and arch.layer_windows[:2] == (128, 0)
    per = 2 * 8 * 64 * 2
    assert arch.kv_bytes_per_sequence(8192, 2) == (18 * 8192 + 18 * 128) * per
    assert arch.kv_bytes_per_sequence(100, 2) == 36 * 100 * per  # shorter than the window: all layers alike


def test_window_layouts_of_each_family() -> None:
    assert layer_windows({"model_type": "gemma2", "sliding_window": 4096}, 4) == (4096, 0, 4096, 0)
    # Gemma-3: every 6th layer global.
    assert layer_windows({"sliding_window": 1024, "sliding_window_pattern": 6}, 6) == (1024,) * 5 + (0,)
    assert layer_windows({"sliding_window": 4096}, 2) == (4096, 4096)  # Mistral 7B v0.1
    assert layer_windows({"sliding_window": 4096, "use_sliding_window": False}, 2) == ()  # Qwen2
    assert layer_windows({"sliding_window": None}, 2) == ()


def test_causal_attended_with_a_window() -> None:
    # Prompt 8, window 4: tokens 1..8 attend to 1,2,3,4,4,4,4,4 keys: mean 26/8.
    assert causal_attended(4, 8) == pytest.approx(26 / 8)
    assert causal_attended(0, 8) == 4  # full attention: half the prompt


# --- MLA attention cost ----------------------------------------------------------------------------

def test_absorbed_vs_naive_flops_per_key() -> None:
    arch, _ = load_model("deepseek-v3")
    mla = arch.mla
    absorbed = absorbed_decode_cost(mla, 128, 1, 1, 1000, 2, 2)
    naive = naive_prefill_cost(mla, 128, 1, 1000, 2)
    # Per query, head and key: 2·(576 + 512) = 2,176 FLOPs absorbed vs 2·(192 + 128) = 640 naive.
    assert absorbed.flops == 128 * 1000 * 2176
    assert naive.flops == 128 * 1000 * 640
    assert absorbed.kv_bytes == 1000 * 576 * 2  # the latent, once for all heads


def test_decode_step_reads_the_latent_cache() -> None:
    arch, _ = load_model("deepseek-v3")
    c = cfg(parallelism={"tensor": 8}, precision={"weights": "fp8", "activations": "fp8", "kv_cache": "bf16"})
    ops = build_phase_ops(arch, c, PhaseShape("decode", 32, 1, 4096))
    attention = next(op for op in ops if op.name == "mla_attention")
    assert attention.kv_bytes == 32 * 4096 * 576 * 2 and attention.count == 61
    assert {"q_a_proj", "q_b_proj", "kv_a_proj", "mla_absorb_uk", "mla_absorb_uv"} <= {op.name for op in ops}
    prefill = build_phase_ops(arch, c, PhaseShape("prefill", 1, 2048, 2048))
    assert "kv_b_proj" in {op.name for op in prefill} and "mla_absorb_uk" not in {op.name for op in prefill}


# --- MoE routing ---------------------------------------------------------------------------------

def test_experts_touched_and_max_load_against_simulation() -> None:
    # Monte Carlo of uniform top-8-of-256 routing (seeded), for the closed forms.
    rng = np.random.default_rng(0)
    E, k, T, ep = 256, 8, 64, 8
    touched, busiest = [], []
    for _ in range(400):
        picks = np.argsort(rng.random((T, E)), axis=1)[:, :k]
        touched.append(len(np.unique(picks)))
        busiest.append(np.bincount(picks.ravel() // (E // ep), minlength=ep).max())
    assert experts_touched(E, k, T) == pytest.approx(np.mean(touched), rel=0.01)
    assert expected_max_load(T * k, ep) == pytest.approx(np.mean(busiest), rel=0.06)
    assert tokens_per_expert(E, k, T) == pytest.approx(T * k / experts_touched(E, k, T))


def test_expert_parallel_step_has_all_to_all_and_a_share_of_experts() -> None:
    arch, _ = load_model("deepseek-v3")
    c = cfg(parallelism={"tensor": 1, "attention_data": 8, "expert": 8},
            precision={"weights": "fp8", "activations": "fp8", "kv_cache": "bf16"})
    ops = {op.name: op for op in build_phase_ops(arch, c, PhaseShape("decode", 256, 1, 2048))}
    assert ops["moe_dispatch"].count == ops["experts"].count == 58
    # Each of 8 ranks holds 32 experts; 256 tokens × 8 picks touch ~all of them: weights 32 × 3 × 7168 × 2048 B.
    assert ops["experts"].weight_bytes == pytest.approx(32 * 3 * 7168 * 2048, rel=0.01)
    # Dispatch per GPU: its 32 tokens × 8 picks × 7/8 remote × 7168 × 1 B (fp8).
    assert ops["moe_dispatch"].comm_bytes == pytest.approx(32 * 8 * 7 / 8 * 7168)
    assert ops["q_a_proj"].rows == 32  # attention runs on this rank's sequences only


def test_per_component_precision_gpt_oss_mxfp4_experts() -> None:
    # 114.7B routed-expert parameters at 4.25 bits (MXFP4: e8m0 scale per 32) + the rest in bf16.
    arch, _ = load_model("gpt-oss-120b")
    c = ServingConfig.model_validate({"model": "gpt-oss-120b", "hardware": "h200-sxm", "precision": {
        "weights": "bf16", "activations": "bf16", "experts": "fp4", "experts_group_size": 32}})
    memory = plan_memory(arch, c, 141e9)
    experts = 36 * 128 * 3 * 2880 * 2880
    assert arch.routed_expert_params == experts
    assert memory.weight_bytes == pytest.approx(experts * 4.25 / 8 + (arch.total_params - experts) * 2)


def test_sliding_layers_attend_to_the_window_in_decode() -> None:
    arch, _ = load_model("gpt-oss-120b")
    c = ServingConfig.model_validate({"model": "gpt-oss-120b", "hardware": "h200-sxm",
                                      "runtime": {"flash_attention": True}})
    ops = [op for op in build_phase_ops(arch, c, PhaseShape("decode", 8, 1, 8192)) if op.kind == "attention"]
    by_name = {op.name: op for op in ops}
    full, window = by_name["attention_fused"], by_name["attention_fused_window128"]
    assert full.count == window.count == 18
    assert full.kv_bytes / window.kv_bytes == pytest.approx(8192 / 128)


def test_a_step_predicts_on_h200() -> None:
    arch, _ = load_model("deepseek-r1")
    spec = load_registry().resolve("h200-sxm")
    c = cfg(model="deepseek-r1", parallelism={"tensor": 8},
            precision={"weights": "fp8", "activations": "fp8", "kv_cache": "bf16"}, runtime={"cuda_graphs": True})
    phase = predict_phase(arch, c, PhaseShape("decode", 64, 1, 2048), roofs_from_spec(spec), Efficiency())
    # Weights per GPU read once: the touched experts of 58 layers + attention/dense/shared at 1 B.
    assert 3e-3 < phase.time_s < 0.1 and phase.weight_bytes > 40e9


# --- bad input ---------------------------------------------------------------------------------

def test_unknown_architecture_names_keys_and_family(tmp_path: Path) -> None:
    config = json.loads((REPO / "workloads" / "models" / "deepseek-v3.json").read_text())
    config.update(model_type="deepseek_v32", index_topk=2048, index_n_heads=64)
    with pytest.raises(InputError) as err:
        from_hf_config(config, name="v32", source="config.json")
    message = str(err.value)
    assert "index_n_heads, index_topk" in message and "resembles deepseek_v3" in message and "\n" not in message


def test_unknown_model_type_with_known_keys_still_loads() -> None:
    config = json.loads((REPO / "workloads" / "models" / "llama-3-8b.json").read_text())
    config["model_type"] = "my_llama"
    arch, _ = from_hf_config(config, name="mine", source="config.json")
    assert arch.num_layers == 32


def test_mla_without_head_dims_is_an_error() -> None:
    config = json.loads((REPO / "workloads" / "models" / "deepseek-v3.json").read_text())
    del config["v_head_dim"]
    with pytest.raises(InputError, match="v_head_dim"):
        from_hf_config(config, name="x", source="config.json")


@pytest.mark.parametrize(("parallelism", "message"), [
    ({"tensor": 1, "attention_data": 8, "expert": 3, "expert_tensor": 1}, "must equal"),
    ({"tensor": 8, "expert": 8, "expert_tensor": 2}, "must equal"),
])
def test_layouts_that_do_not_multiply_out(parallelism: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cfg(parallelism=parallelism)


def test_ep_that_does_not_divide_the_experts() -> None:
    from roofline.workload.parallel import check_layout

    arch, _ = load_model("gpt-oss-120b")  # 128 experts
    c = ServingConfig.model_validate({"model": "gpt-oss-120b", "hardware": "h200-sxm", "gpus": 6,
                                      "parallelism": {"tensor": 6, "expert": 3, "expert_tensor": 2}})
    with pytest.raises(InputError, match="does not divide the 128 routed experts"):
        check_layout(arch, c)


# --- disaggregated serving -----------------------------------------------------------------------

def test_disaggregated_pools_larger_than_the_gpus_are_refused() -> None:
    with pytest.raises(ValueError, match="8 prefill \\+ 8 decode GPUs = 16, more than gpus 8"):
        cfg(parallelism={"tensor": 8}, serving={"concurrency": 8, "disaggregated": {
            "prefill": {"workers": 1, "tensor": 8}, "decode": {"workers": 1, "tensor": 8}}})


def test_disaggregated_closed_loop_arithmetic() -> None:
    from roofline.workload.disagg import Disaggregated, Pool, serve

    layout = Disaggregated(prefill=Pool(workers=1), decode=Pool(workers=1))
    # One client: no queueing; TTFT = prefill + transfer, TPOT = the step at batch 1.
    one = serve(clients=1, output=101, layout=layout, prefill_s=0.2, transfer_s=0.01, decode_step=lambda b: 0.01)
    assert one.ttft_s == pytest.approx(0.21, rel=1e-3) and one.tpot_s == 0.01
    # 100 clients, 0.2 s prefills, 1 s of decode each: the prefill worker saturates at 5 requests/s, and by
    # Little's law each client's cycle is 100 / 5 = 20 s, 1 s of it decoding: TTFT = 19 s.
    many = serve(clients=100, output=101, layout=layout, prefill_s=0.2, transfer_s=0.0, decode_step=lambda b: 0.01)
    assert many.request_rate == pytest.approx(5.0, rel=1e-3) and many.bottleneck == "prefill"
    assert many.ttft_s == pytest.approx(19.0, rel=1e-3)


def test_disaggregated_mva_two_clients_by_hand() -> None:
    """Exact MVA of a closed loop, one queue (service 1 s) and a delay Z, worked by hand:
    n = 1: R = 1, X = 1/(1 + Z), Q = X; n = 2: R = 1 + Q. With TPOT 0.1 s and OSL 3, Z = 0.2 s:
    R = 1 + 5/6 = 11/6 s (the TTFT), X = 2 / (11/6 + 1/5) = 60/61 requests/s. The decode batch starts
    at ⌈C/D⌉ = 2 (TPOT 0.2 s with decode_step(b) = 0.1·b) and settles where X·(OSL−1)·TPOT/D rounds
    up to 1 (60/61 · 2 · 0.1 = 0.197), so TPOT = 0.1 s."""
    from roofline.workload.disagg import Disaggregated, Pool, serve

    layout = Disaggregated(prefill=Pool(workers=1), decode=Pool(workers=1))
    times = serve(clients=2, output=3, layout=layout, prefill_s=1.0, transfer_s=0.0, decode_step=lambda b: 0.1 * b)
    assert times.decode_batch == 1 and times.tpot_s == pytest.approx(0.1)
    assert times.ttft_s == pytest.approx(11 / 6) and times.request_rate == pytest.approx(60 / 61)


def test_disaggregated_decode_batch_is_capped_by_the_pool_batch() -> None:
    """The corpus's decode_batch_size caps each decode worker: 1,000 clients whose decode dominates
    the cycle would put ~990 on one worker; with batch 16 the worker runs 16 (TPOT 16 ms), the decode
    slots pass 16 / (1000 × 0.016 s) = 1 request/s, so each client's cycle is 1000 s and the wait for
    a slot lands in TTFT: 1000 − 1000 × 0.016 = 984 s."""
    from roofline.workload.disagg import Disaggregated, Pool, serve

    layout = Disaggregated(prefill=Pool(workers=1), decode=Pool(workers=1, batch=16))
    times = serve(clients=1000, output=1001, layout=layout, prefill_s=0.001, transfer_s=0.0,
                  decode_step=lambda b: 0.001 * b)
    assert times.decode_batch == 16 and times.tpot_s == pytest.approx(0.016)
    assert times.request_rate == pytest.approx(1.0) and times.ttft_s == pytest.approx(984.0)
    assert times.bottleneck == "decode"


def test_disaggregated_prefill_servers_are_the_dp_ranks() -> None:
    """A prefill worker with 2 attention-DP ranks runs 2 prompts at once: 100 clients, 0.2 s prompts,
    1 s of decode each saturate it at 2 / 0.2 = 10 requests/s, so the cycle is 100 / 10 = 10 s and
    TTFT = 10 − 1 = 9 s (one server: 19 s, test above)."""
    from roofline.workload.disagg import Disaggregated, Pool, serve

    layout = Disaggregated(prefill=Pool(workers=1, attention_data=2), decode=Pool(workers=1))
    times = serve(clients=100, output=101, layout=layout, prefill_s=0.2, transfer_s=0.0, decode_step=lambda b: 0.01,
                  prefill_servers=2)
    assert times.request_rate == pytest.approx(10.0, rel=1e-3) and times.ttft_s == pytest.approx(9.0, rel=1e-3)


def test_kv_transfer_time() -> None:
    from roofline.workload.disagg import KV_TRANSFER_LATENCY_S, kv_transfer_s

    # DeepSeek-V3, 4096-token prompt in bf16: 4096 × 70,272 B = 287.8 MB over 8 GPUs × 50 GB/s × 0.8.
    assert kv_transfer_s(4096 * 70_272, 8, 50e9, 0.8) == pytest.approx(KV_TRANSFER_LATENCY_S + 287.8e6 / 320e9,
                                                                         rel=1e-3)


def test_mtp_draft_is_one_moe_layer_of_the_model() -> None:
    from roofline.workload.parallel import mtp_draft

    arch, _ = load_model("deepseek-r1")
    draft = mtp_draft(arch)
    assert draft.num_layers == 1 and draft.moe_layers == 1 and draft.mla == arch.mla
    with pytest.raises(InputError, match="no multi-token-prediction"):
        mtp_draft(load_model("qwen3-235b-a22b")[0])


# --- layouts the engines run that do not divide (heads and expert widths padded) -----------------

def test_mla_heads_that_tp_does_not_divide_are_padded() -> None:
    """aiconfigurator's corpus has DeepSeek-R1 at attention TP 20/36/48/72 on GB200 (TensorRT-LLM,
    SGLang): 128 heads over TP 48 run ⌈128/48⌉ = 3 heads per rank (144 padded), so the per-GPU
    decode attention does 3/2 the work of TP 64 (2 heads per rank) — arithmetic, not a fit."""
    from roofline.workload.parallel import check_layout, heads_per_gpu, layout_notes

    arch, _ = load_model("deepseek-r1")
    shape = PhaseShape("decode", 16, 1, 4096)
    c48 = cfg(model="deepseek-r1", hardware="gb200", gpus=48, parallelism={"tensor": 48, "expert": 1, "expert_tensor": 48})
    c64 = cfg(model="deepseek-r1", hardware="gb200", gpus=64, parallelism={"tensor": 64, "expert": 1, "expert_tensor": 64})
    check_layout(arch, c48)  # accepted
    assert heads_per_gpu(arch, 48) == 3
    att48 = next(op for op in build_phase_ops(arch, c48, shape) if op.kind == "attention")
    att64 = next(op for op in build_phase_ops(arch, c64, shape) if op.kind == "attention")
    assert att48.flops == pytest.approx(1.5 * att64.flops)
    assert any("padded to 144 (3 per GPU)" in n for n in layout_notes(arch, c48))
    assert layout_notes(arch, c64) == []  # 128 / 64 and 2048 / 64 divide


def test_gqa_heads_that_tp_does_not_divide_are_still_refused() -> None:
    from roofline.workload.parallel import check_layout

    arch, _ = load_model("qwen3-235b-a22b")  # 64 query heads, GQA: vLLM/TensorRT-LLM refuse TP 6
    c = cfg(model="qwen3-235b-a22b", gpus=6, parallelism={"tensor": 6, "expert": 1, "expert_tensor": 6})
    with pytest.raises(InputError, match="tensor parallelism 6 does not divide the 64 attention heads"):
        check_layout(arch, c)


def test_expert_width_that_expert_tensor_does_not_divide_is_padded() -> None:
    """DeepSeek's expert width 2048 over expert_tensor 12 (corpus: SGLang GB200 decode, tp 48 =
    moe_tp 12 × ep 4) runs ⌈2048/12⌉ = 171 columns per rank."""
    from roofline.workload.parallel import check_layout, expert_width_per_gpu

    arch, _ = load_model("deepseek-r1")
    c = cfg(model="deepseek-r1", hardware="gb200", gpus=48, parallelism={"tensor": 48, "expert": 4, "expert_tensor": 12})
    check_layout(arch, c)
    assert expert_width_per_gpu(arch, 12) == 171
    c8 = cfg(model="deepseek-r1", hardware="gb200", gpus=32, parallelism={"tensor": 32, "expert": 4, "expert_tensor": 8})
    shape = PhaseShape("decode", 64, 1, 2048)
    padded = next(op for op in build_phase_ops(arch, c, shape) if op.name == "experts")
    even = next(op for op in build_phase_ops(arch, c8, shape) if op.name == "experts")  # 2048 / 8 = 256 wide
    assert padded.weight_bytes == pytest.approx(even.weight_bytes * 171 / 256)


def test_moe_profile_constants_reach_the_ops() -> None:
    """The profile's moe section: the all-to-all latency replaces the all-reduce one on dispatch and
    combine only; grouped_gemm 0.5 doubles a bandwidth- or compute-bound expert GEMM (arithmetic of
    op_time: t = bytes / (bandwidth × η)); iteration_s replaces the dense host time for MoE models."""
    from roofline.workload.engine_profile import EngineProfile, MoEConstants, Scheduler
    from roofline.workload.op_record import PhaseOp
    from roofline.workload.predict import op_time
    from roofline.precision import Precision, Unit

    roofs = roofs_from_spec(load_registry().resolve("h200-sxm"))
    profile = EngineProfile(name="x", scheduler=Scheduler(iteration_s=1e-4),
                            moe=MoEConstants(alltoall_latency_s=40e-6, grouped_gemm=0.5, iteration_s=2e-3))
    eff = profile.efficiency(Efficiency())
    dispatch = PhaseOp("moe_dispatch", "comm", 0.0, 0.0, Precision.BF16, Unit.VECTOR, 1, 1, comm_bytes=0.0, group=8)
    reduce = PhaseOp("allreduce", "comm", 0.0, 0.0, Precision.BF16, Unit.VECTOR, 1, 1, comm_bytes=0.0, group=8)
    assert op_time(dispatch, roofs, eff)[0] == pytest.approx(40e-6)
    assert op_time(reduce, roofs, eff)[0] == pytest.approx(Efficiency().comm_latency_s)
    experts = PhaseOp("experts", "gemm", 1e6, 1e9, Precision.BF16, Unit.MATRIX, 3, 1, weight_bytes=1e9, rows=4)
    dense = PhaseOp("gate_up", "gemm", 1e6, 1e9, Precision.BF16, Unit.MATRIX, 3, 1, weight_bytes=1e9, rows=4)
    assert op_time(experts, roofs, eff)[0] == pytest.approx(2 * op_time(dense, roofs, eff)[0])
    assert profile.for_model(True).scheduler.iteration_s == 2e-3
    assert profile.for_model(False).scheduler.iteration_s == 1e-4


def test_redundant_experts_fill_the_slots_an_ep_width_does_not_divide() -> None:
    from roofline.workload.parallel import check_layout, layout_notes, weight_bytes_per_gpu

    arch, _ = load_model("deepseek-r1")  # 256 routed experts in 58 MoE layers (3 dense), 7168 × 2048 each
    base = {"model": "deepseek-r1", "hardware": "gb200", "gpus": 48,
            "parallelism": {"tensor": 1, "attention_data": 48, "expert": 48, "expert_tensor": 1}}
    bare = ServingConfig.model_validate(base)
    with pytest.raises(InputError, match=r"does not divide the 256 routed experts.*32 redundant experts.*288 slots"):
        check_layout(arch, bare)
    padded = ServingConfig.model_validate({**base, "parallelism": {**base["parallelism"], "redundant_experts": 32}})
    check_layout(arch, padded)  # 288 slots, 6 per GPU
    assert any("288 slots, 6 per GPU" in n for n in layout_notes(arch, padded))
    # Each GPU holds 6 whole experts instead of 256/48 = 5.33: 32/256/48 of the routed weights more.
    # Routed parameters by hand: 58 layers × 256 experts × 3 × 7168 × 2048 = 653,946,568,704.
    routed = 58 * 256 * 3 * 7168 * 2048
    assert arch.routed_expert_params == routed
    extra = weight_bytes_per_gpu(arch, padded, 8, 4) - weight_bytes_per_gpu(arch, bare, 8, 4)
    assert extra == pytest.approx(routed * 32 / 256 / 48 * 4 / 8)  # 0.85 GB of fp4 experts
    with pytest.raises(InputError, match="redundant experts need an MoE model"):
        check_layout(load_model("llama-3.1-8b")[0], ServingConfig.model_validate(
            {"model": "llama-3.1-8b", "hardware": "h200-sxm", "parallelism": {"redundant_experts": 8}}))


def test_redundant_copies_are_read_in_the_step_like_the_experts_they_copy() -> None:
    arch, _ = load_model("deepseek-r1")
    shape = PhaseShape("decode", 512, 1, 2048)
    par = {"tensor": 1, "attention_data": 48, "expert": 48, "expert_tensor": 1}
    base = {"model": "deepseek-r1", "hardware": "gb200", "gpus": 48, "parallelism": par}
    bare = ServingConfig.model_validate(base)
    padded = ServingConfig.model_validate({**base, "parallelism": {**par, "redundant_experts": 32}})
    w = {c: next(op for op in build_phase_ops(arch, c, shape) if op.name == "experts").weight_bytes
         for c in (bare, padded)}
    assert w[padded] == pytest.approx(w[bare] * 288 / 256)  # every expert touched: 6 slots read, not 5.33
