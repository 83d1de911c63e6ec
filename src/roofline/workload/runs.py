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


def serving_config_data(run: MeasuredRun, *, model: str, hardware: str, legacy: bool = False) -> dict[str, object]:
    """The serving config a measured run is: one replica of ``tp × pp`` GPUs at the run's
    concurrency, prompt and output lengths and precisions. ``legacy`` writes it as the planner
    before engine profiles read it (``batch`` = concurrency, CUDA graphs and fused attention on):
    the baseline of docs/fidelity.md."""
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
    return data
