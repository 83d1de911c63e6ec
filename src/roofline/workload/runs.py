"""Measured serving runs (one row of a benchmark: engine, model, hardware, TP, precision, ISL/OSL,
concurrency, measured TTFT and TPOT) and the serving config each one is: the records that
calibration fits an engine profile to and the fidelity benchmark checks the planner against.

Pure: the CSV reader is ``roofline.workload.runs_csv``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from roofline.precision import Precision


@dataclass(frozen=True)
class MeasuredRun:
    """One measured operating point of a serving engine (per replica: ``tp × pp`` GPUs)."""

    line: int  # the CSV line it came from
    id: str
    engine: str
    engine_version: str
    model: str  # as written (a Hugging Face id, a bundled name)
    hardware: str  # as written (``h100_sxm``, ``h100-sxm``)
    weights: Precision
    activations: Precision
    kv_cache: Precision
    weight_group_size: int | None
    isl: int
    osl: int
    concurrency: int  # requests in flight on this replica (closed-loop clients)
    tp: int
    pp: int
    mode: str  # agg (one engine serves prefill and decode) or disagg
    ttft_s: float
    tpot_s: float
    # Where the row came from (aiconfigurator's ``silicon_data_source``): it names the harness that measured it.
    source: str = ""


# NVFP4 stores one fp8 (e4m3) scale per 16 weights; MXFP4 one e8m0 scale per 32.
NVFP4_GROUP = 16


def precision_of(precision: str, gemm_mode: str = "") -> tuple[Precision, Precision, int | None]:
    """(weights, activations, group size) of a run's quantization as benchmarks name it.

    aiconfigurator writes ``precision`` (''/bf16, fp8, fp4, int4) and ``gemm_quant_mode`` ('' ,
    fp8, fp8_block, nvfp4, int4_wo). fp8 is W8A8; nvfp4 and mxfp4 are W4A4 with block scales;
    int4_wo is weight-only int4 with bf16 activations."""
    p, g = precision.strip().lower(), gemm_mode.strip().lower()
    if g in ("int4_wo", "w4a16") or p in ("int4", "w4a16"):
        return Precision.INT4, Precision.BF16, 128
    if g == "nvfp4" or p in ("fp4", "nvfp4"):
        return Precision.FP4, Precision.FP4, NVFP4_GROUP
    if g == "mxfp4" or p == "mxfp4":
        return Precision.FP4, Precision.FP4, 32
    if g.startswith("fp8") or p.startswith("fp8"):
        return Precision.FP8, Precision.FP8, None
    if p in ("", "bf16", "bfloat16", "fp16", "float16", "half"):
        return (Precision.FP16, Precision.FP16, None) if p in ("fp16", "float16", "half") else \
            (Precision.BF16, Precision.BF16, None)
    raise ValueError(f"unknown precision '{precision}'")


_SUFFIXES = ("-instruct", "-fp8", "-nvfp4", "-awq", "-gptq", "-base")


def bundled_name(model: str) -> str:
    """The bundled model a benchmark's model id names: ``meta-llama/Llama-3.1-8B-Instruct`` →
    ``llama-3.1-8b``, ``nvidia/Qwen3-32B-NVFP4`` → ``qwen3-32b`` (the checkpoint's organisation,
    chat tuning and quantization suffixes do not change the architecture)."""
    name = model.strip().split("/")[-1].lower()
    changed = True
    while changed:
        changed = False
        for suffix in _SUFFIXES:
            if name.endswith(suffix):
                name, changed = name[: -len(suffix)], True
    return re.sub(r"^meta-", "", name)


def hardware_name(system: str) -> str:
    """aiconfigurator's ``h100_sxm`` is the registry's ``h100-sxm`` (underscores for dashes)."""
    return system.strip().lower().replace("_", "-")


def split_of(run: MeasuredRun) -> str:
    """The deterministic fit/validation split: a whole concurrency sweep (engine, model, hardware,
    precision, TP, ISL/OSL) goes to one side, by the parity of the first byte of the SHA-256 of
    that key — so no validated point has a fitted neighbour at another concurrency."""
    key = "|".join(str(v) for v in (run.engine, bundled_name(run.model), hardware_name(run.hardware),
                                     run.weights.value, run.activations.value, run.tp, run.pp, run.isl, run.osl))
    return "fit" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "validate"


def concurrency_band(concurrency: int) -> str:
    for limit, label in ((1, "1"), (8, "2-8"), (32, "9-32"), (128, "33-128")):
        if concurrency <= limit:
            return label
    return ">128"


# SemiAnalysis InferenceX records in aiconfigurator's corpus (``source_file=`` of silicon_data_source).
INFERENCEX_FILES = ("2026-03-25.csv", "2026-04-06.csv")
# What InferenceX's benchmark scripts run (github.com/SemiAnalysisAI/InferenceX, Apache-2.0; docs/fidelity.md
# cites the files and commits): benchmark_serving.py --num-prompts $((CONC * 10)) --max-concurrency $CONC
# --request-rate inf --random-range-ratio 0.8 (every workflow's random-range-ratio) --ignore-eos.
INFERENCEX_BENCHMARK = {"requests_per_client": 10, "burst_start": True, "length_range_ratio": 0.8, "statistic": "mean"}


# The images InferenceX's Llama-70B workflow ran from 2025-10-01 to its removal on 2025-10-29
# (.github/workflows/70b-tmpl.yml): the 2026-04-06 file's Llama rows, measured 2025-10-29, leave
# backend_version blank.
INFERENCEX_LLAMA70B_IMAGES = {"trtllm": "1.1.0rc2.post2", "vllm": "0.10.2"}


def inferred_engine_version(source: str, *, engine: str, model: str) -> str:
    """The engine version a run's source fixes where its own version cell is blank ('' if none)."""
    if source_file(source) in INFERENCEX_FILES and bundled_name(model) == "llama-3.1-70b":
        return INFERENCEX_LLAMA70B_IMAGES.get(engine, "")
    return ""


def source_file(source: str) -> str:
    """The ``source_file=`` of an aiconfigurator ``silicon_data_source`` cell ('' when it names none)."""
    match = re.search(r"source_file=([^;]+)", source)
    return match.group(1).strip() if match else ""


def harness_of(run: MeasuredRun) -> dict[str, dict[str, object]]:
    """``harness_sections`` of a measured run."""
    return harness_sections(run.source, engine=run.engine, model=run.model, isl=run.isl, osl=run.osl, tp=run.tp)


def harness_sections(source: str, *, engine: str, model: str, isl: int, osl: int, tp: int) -> dict[str, dict[str, object]]:
    """Config sections the benchmark harness and the deployment script behind a run fix, from the run's
    source and columns alone (no per-sweep choice): {'serving': …, 'runtime': …, 'precision': …}, empty
    where the source names no harness known here.

    InferenceX records get its benchmark_serving settings. Its Llama-3.1-70B scripts of October 2025
    (benchmarks/70b_*.sh, the 2026-04-06 file's Llama rows, measured 2025-10-29) also run an fp8 KV cache
    (vLLM kv-cache-dtype fp8, TensorRT-LLM kv_cache_config.dtype fp8); TensorRT-LLM there runs
    --max_num_tokens 16384 and, for 1024/1024 below TP 8, batch_wait_timeout_iters 20 with
    batch_wait_max_tokens_ratio 0.9."""
    if source_file(source) not in INFERENCEX_FILES:
        return {}
    out: dict[str, dict[str, object]] = {"serving": {"benchmark": dict(INFERENCEX_BENCHMARK)}}
    if bundled_name(model) == "llama-3.1-70b" and engine in ("vllm", "trtllm"):
        out["precision"] = {"kv_cache": Precision.FP8.value}
        if engine == "trtllm":
            runtime: dict[str, object] = {"max_num_tokens": 16384}
            if isl == 1024 and osl == 1024 and tp < 8:
                runtime["batch_wait"] = {"iterations": 20, "max_tokens_ratio": 0.9}
            out["runtime"] = runtime
    return out


def serving_config_data(run: MeasuredRun, *, model: str, hardware: str, legacy: bool = False,
                        harness: bool = True) -> dict[str, object]:
    """The serving config a measured run is: one replica of ``tp × pp`` GPUs at the run's
    concurrency, prompt and output lengths and precisions. ``legacy`` writes it as the planner
    before engine profiles read it (``batch`` = concurrency, CUDA graphs and fused attention on):
    the baseline of docs/fidelity.md. ``harness``: add what the run's source fixes (``harness_of``)."""
    data: dict[str, object] = {
        "model": model,
        "hardware": hardware,
        "gpus": run.tp * run.pp,
        "parallelism": {"tensor": run.tp, "pipeline": run.pp},
        "precision": {"weights": run.weights.value, "activations": run.activations.value,
                      "kv_cache": run.kv_cache.value, "weight_group_size": run.weight_group_size},
    }
    if legacy:
        acts = run.activations if run.activations != Precision.FP4 else Precision.BF16
        data["precision"] = {**data["precision"], "activations": acts.value}  # type: ignore[dict-item]
        data["serving"] = {"batch": run.concurrency, "prompt_tokens": run.isl, "output_tokens": run.osl}
        data["runtime"] = {"cuda_graphs": True, "flash_attention": True}
        return data
    data["serving"] = {"mode": "continuous", "concurrency": run.concurrency, "prompt_tokens": run.isl,
                       "output_tokens": run.osl}
    data["runtime"] = {"engine": run.engine, **({"engine_version": run.engine_version} if run.engine_version else {})}
    if harness:  # what the run's benchmark and deployment script fix (harness_of)
        for section, values in harness_of(run).items():
            data[section] = {**data[section], **values}  # type: ignore[dict-item]
    return data
