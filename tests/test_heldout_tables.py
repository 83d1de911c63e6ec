"""The held-out published tables (benchmarks/fidelity/heldout.py): AMD's MI300X vLLM figures
(github.com/ROCm/vllm docs/dev-docker/README.md) and TensorRT-LLM 1.0's perf-overview throughput
(github.com/NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md), each row with its commit."""

from __future__ import annotations

import importlib.util
import re
import statistics
import sys
from pathlib import Path

import pytest

FIDELITY = Path(__file__).resolve().parent.parent / "benchmarks" / "fidelity"


def _heldout():
    sys.path.insert(0, str(FIDELITY))
    spec = importlib.util.spec_from_file_location("heldout", FIDELITY / "heldout.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_tables_load_with_their_source_and_the_transcribed_figures() -> None:
    h = _heldout()
    amd, trt, nim = h.read_rows("amd"), h.read_rows("trtllm"), h.read_rows("nim")
    assert len(amd) == 120 and len(trt) == 100 and len(nim) == 24
    assert all(re.fullmatch(r"[0-9a-f]{40}", r["commit"]) for r in amd + trt)  # the NIM page has no commit
    # NIM 1.8.0, Llama-3.3-70B, 2x H100 fp8 TP2, 5000/500 at one client:
    # TTFT 406.77 ms, ITL 18.58 ms, 51.67 tok/s.
    first = {r["metric"]: r["value"] for r in nim if r["concurrency"] == 1}
    assert first == {"ttft_ms": 406.77, "itl_ms": 18.58, "throughput": 51.67}
    assert 500 / (first["ttft_ms"] + 499 * first["itl_ms"]) * 1e3 == pytest.approx(51.67, rel=0.005)
    latency = [r for r in amd if r["table"] == "latency"]
    throughput = [r for r in amd if r["table"] == "throughput"]
    assert all(r["batch"] and r["num_prompts"] is None for r in latency)
    assert all(r["num_prompts"] and r["max_num_seqs"] and r["token_budget"] == 131072 for r in throughput)
    # Two figures read back against the sources: vLLM 0.9.1, 405B, batch 1, 128/2048: 48.453 s
    # (ROCm/vllm f94ec9be); TensorRT-LLM 1.0, H200, Llama-3.1-8B FP8, 128/2048: 26,221 tok/s.
    row = next(r for r in latency if r["release"] == "0.9.1" and r["model"] == "llama-3.1-405b"
               and r["batch"] == 1 and r["isl"] == 128)
    assert row["value"] == 48.453 and row["kv_cache"] == "fp16"  # that release's command sets no fp8 KV cache
    row = next(r for r in trt if r["hardware"] == "h200-sxm" and r["model"] == "llama-3.1-8b"
               and (r["isl"], r["osl"]) == (128, 2048))
    assert row["value"] == 26221 and row["num_prompts"] == 3000
    # The split: the vendors.amd fit sees only the 70B rows.
    assert {r["model"] for r in amd if r["split"] == "fit"} == {"llama-3.1-70b"}
    assert {r["model"] for r in amd if r["split"] == "validate"} == {"llama-3.1-405b"}


def _row(h, **want):
    return next(r for r in h.read_rows("amd") if all(r[k] == v for k, v in want.items()))


def test_a_batch_1_latency_row_against_the_published_figure_and_the_streaming_override() -> None:
    h = _heldout()
    row = _row(h, release="0.9.1", table="latency", model="llama-3.1-70b", batch=1, isl=128)
    assert row["value"] == 17.236  # seconds, 8x MI300X, fp8, 128 prompt + 2048 generated tokens
    nvidia = h.predict(row, vendor=False)
    assert nvidia["predicted"] == pytest.approx(17.236, rel=0.10)  # -5% with the NVIDIA-fitted constants
    # At batch 1 the decode GEMMs stream their weights: a streaming efficiency of 0.6 against the profile's
    # NVIDIA-fitted one adds, per token, the GEMM weight bytes per GPU / 5.3 TB/s x (1/0.6 - 1/eta).
    # Llama-3.1-70B GEMM weights: 80 x 8192 x (10240 + 8192 + 3 x 28672) + lm_head 128256 x 8192
    # = 69,501,714,432 fp8 bytes, / 8 GPUs = 8.688 GB -> 0.449 ms per token at eta 0.7181. (An fp8 compute
    # efficiency of 0.2 x 1/(1 + 64) at one row leaves them memory-bound: 2 x 8.688 GFLOP / 8.0 TFLOP/s
    # = 2.16 ms < 8.688 GB / 3.18 TB/s = 2.73 ms.) The override alone, the rest of vendors.amd left out:
    gemm_bytes = (80 * 8192 * (10240 + 8192 + 3 * 28672) + 128256 * 8192) / 8
    assert gemm_bytes / 5.3e12 * (1 / 0.6 - 1 / 0.7181) * 1e3 == pytest.approx(0.449, abs=0.001)  # at eta 0.7181
    from roofline.workload.engine_profile import Kernels, VendorOverride, load_engine_profile

    profile = load_engine_profile("vllm")
    eta = profile.kernels.gemm_memory["fp8"]
    streaming = profile.model_copy(update={"vendors": {"amd": VendorOverride(kernels=Kernels(
        gemm_memory={"fp8": 0.6}, gemm_compute={"fp8": 0.2}))}})
    amd = h.predict(row, streaming)
    expected_ms = gemm_bytes / 5.3e12 * (1 / 0.6 - 1 / eta) * 1e3
    assert amd["itl_ms"] - nvidia["itl_ms"] == pytest.approx(expected_ms, rel=0.01)


def test_the_amd_override_leaves_nvidia_rows_alone_and_the_tables_stay_within_their_figures() -> None:
    h = _heldout()
    trt = h.plan_rows(h.read_rows("trtllm"))
    same = h.plan_rows(h.read_rows("trtllm"), vendor=False)
    assert [r["predicted"] for r in trt] == [r["predicted"] for r in same]
    # 17% when this was written; 24% after the dense refit on the harness-corrected fit rows drove the trtllm
    # profile's fp4 GEMM compute efficiency to its bound (1.0: Blackwell NVFP4 rows +23…+74%); 20% since
    # calibrate bounds it by the measured NVFP4 ceiling and refuses constants the rows do not identify
    # (fp4 0.61, prefill attention at its default; Blackwell NVFP4 rows +17…+48%, docs/fidelity.md)
    assert statistics.median(abs(r["error"]) for r in trt) <= 0.22
    held_out = [r for r in h.plan_rows(h.read_rows("amd")) if r["split"] == "validate"]
    tput = [abs(r["error"]) for r in held_out if r["table"] == "throughput"]
    assert statistics.median(tput) <= 0.20  # 8% (99% without vendors.amd)
    latency = [abs(r["error"]) for r in held_out if r["table"] == "latency"]
    # 19% (+19%) since vendors.amd was refitted on the 70B half against the refitted NVIDIA constants (the
    # tile fill moved to 128 rows: 405B's batched steps over-predicted); 5% with the first fit, 14% without any
    assert statistics.median(latency) <= 0.22
