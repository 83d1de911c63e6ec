"""``classify --model``: the model behind a serving trace, from the planner's model loader
(bundled name, config.json path, model directory or cached Hugging Face repo id), as the
:class:`~roofline.opcost.model_layer.ModelLayer` the engine-op formulas need.

Expert-weight storage comes from the config's ``quantization_config`` where it says one:
  mxfp4 (gpt-oss): 4-bit E2M1 elements and one 8-bit E8M0 scale per 32 (OCP Microscaling spec
      v1.0) → 4.25 bits = 0.53125 B per weight, unless ``modules_to_not_convert`` names the experts;
  fp8 (DeepSeek-V3 style): 1 B per weight (the fp32 block scales, 4 B per 128×128, are < 0.03%);
  ``bits`` with ``group_size`` (GPTQ/AWQ): bits/8 + 2/group_size (one fp16 scale per group);
otherwise the config's ``torch_dtype`` (bf16 when it says none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from roofline.errors import InputError
from roofline.opcost.model_layer import ModelLayer
from roofline.precision import Precision

_DTYPE_BYTES = {"bfloat16": (2.0, Precision.BF16), "float16": (2.0, Precision.FP16), "float32": (4.0, Precision.FP32)}


def expert_weight_format(config: dict[str, Any]) -> tuple[float, str, Precision]:
    """(bytes per expert weight, the format's name, its precision) from a config.json dict."""
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    quant = text.get("quantization_config") or config.get("quantization_config")
    dtype = str(text.get("torch_dtype") or config.get("torch_dtype") or "bfloat16")
    plain = _DTYPE_BYTES.get(dtype, _DTYPE_BYTES["bfloat16"])
    if isinstance(quant, dict):
        skipped = " ".join(str(m) for m in quant.get("modules_to_not_convert") or [])
        method = str(quant.get("quant_method") or "").lower()
        if "expert" not in skipped:
            if method == "mxfp4":
                return 4.25 / 8, "MXFP4", Precision.FP4
            if method == "fp8":
                return 1.0, "FP8", Precision.FP8
            bits, group = quant.get("bits"), quant.get("group_size")
            if isinstance(bits, int) and bits in (2, 3, 4, 8):
                scales = 2 / group if isinstance(group, int) and group > 0 else 0.0
                return bits / 8 + scales, f"{method or 'int'}{bits}", Precision.INT4 if bits <= 4 else Precision.INT8
    return plain[0], dtype, plain[1]


def model_layer(ref: str, *, hub_cache: Path | None = None) -> ModelLayer:
    """The model ``ref`` names as a ModelLayer; InputError (exit 2) for an unknown model or an
    unreadable config."""
    from roofline.workload.hub_cache import hub_cache_dir
    from roofline.workload.model import load_model, resolve_model

    cache = hub_cache if hub_cache is not None else hub_cache_dir()
    try:
        arch, _notes = load_model(ref, hub_cache=cache)
        path, _ = resolve_model(ref, hub_cache=cache)
    except InputError as exc:  # the planner's "model:" is classify's --model
        if exc.place == "model":
            exc = InputError(exc.message, file=exc.file, place="--model", fix=exc.fix)
        raise exc from None
    try:
        config = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:  # load_model read it a moment ago
        raise InputError(f"not a readable JSON config ({exc})", file=path, place="--model") from None
    weight_bytes, weight_format, precision = expert_weight_format(config)
    moe = arch.moe
    return ModelLayer(
        name=arch.name,
        hidden_size=arch.hidden_size,
        num_heads=arch.num_heads,
        num_kv_heads=arch.num_kv_heads,
        head_dim=arch.head_dim,
        num_experts=moe.num_experts if moe else 0,
        experts_per_token=moe.experts_per_token if moe else 0,
        expert_intermediate_size=moe.expert_intermediate_size if moe else 0,
        shared_intermediate_size=moe.shared_width if moe else 0,
        gated=arch.gated_ffn,
        expert_weight_bytes=weight_bytes,
        expert_weight_format=weight_format,
        expert_weight_precision=precision,
    )
