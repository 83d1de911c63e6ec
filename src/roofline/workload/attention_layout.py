"""Which layers attend to the whole context and which to a sliding window, read from the keys each
family writes, and what that does to the KV cache and attention cost.

* gpt-oss (and newer Gemma-3 / Qwen3-Next configs): ``layer_types`` lists ``sliding_attention`` or
  ``full_attention`` per layer; ``sliding_window`` is the window (gpt-oss-120b: 128, alternating).
* Gemma-2: ``sliding_window`` on every other layer, starting with layer 0 (HF Gemma2 modelling:
  ``is_sliding = not bool(layer_idx % 2)``).
* Gemma-3 (older configs): ``sliding_window_pattern`` N: every N-th layer is global, the others slide
  (HF Gemma3: ``is_sliding = bool((layer_idx + 1) % pattern)``).
* Mistral 7B v0.1: ``sliding_window`` on every layer (v0.3 writes null: full attention).
* Qwen2/3: a window only when ``use_sliding_window`` is true, on layers from ``max_window_layers``
  on (HF Qwen2 modelling).

A sliding layer keeps at most ``window`` tokens of K and V per sequence (engines with a
window-aware cache: vLLM's hybrid KV manager, TensorRT-LLM's cyclic KV cache) and each query
attends to at most ``window`` keys, so both stop growing past the window. gpt-oss's attention sinks
are a learned logit per head (one extra softmax term, no cached token); they add ``heads``
parameters per layer and no KV.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

FULL = 0  # window of a full-attention layer


def layer_windows(config: dict[str, Any], num_layers: int) -> tuple[int, ...]:
    """Per layer, its attention window in tokens (FULL = 0 for full attention). Empty when every
    layer is full. Raises ValueError naming the key when the layout cannot be read."""
    window = config.get("sliding_window")
    if not window:
        return ()
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"'sliding_window' must be a positive integer or null, got {str(window)[:40]!r}")
    types = config.get("layer_types")
    if types is not None:
        if not isinstance(types, list) or len(types) != num_layers:
            raise ValueError(f"'layer_types' must list one entry per layer ({num_layers})")
        unknown = sorted({str(t) for t in types} - {"sliding_attention", "full_attention"})
        if unknown:
            raise ValueError(f"'layer_types' has layer types this model does not know: {', '.join(unknown)}")
        windows = tuple(window if t == "sliding_attention" else FULL for t in types)
    elif config.get("model_type") == "gemma2":
        windows = tuple(window if i % 2 == 0 else FULL for i in range(num_layers))
    elif config.get("sliding_window_pattern"):
        pattern = config["sliding_window_pattern"]
        if isinstance(pattern, bool) or not isinstance(pattern, int) or pattern < 1:
            raise ValueError(f"'sliding_window_pattern' must be a positive integer, got {str(pattern)[:40]!r}")
        windows = tuple(window if (i + 1) % pattern else FULL for i in range(num_layers))
    elif "use_sliding_window" in config:
        if not config.get("use_sliding_window"):
            return ()
        start = config.get("max_window_layers") or 0
        windows = tuple(window if i >= start else FULL for i in range(num_layers))
    else:
        windows = (window,) * num_layers
    return windows if any(windows) else ()


def attended_groups(windows: tuple[int, ...], num_layers: int, context: float) -> list[tuple[int, float]]:
    """(layers, tokens attended per query at the end of a ``context``-token cache) — one group per
    distinct window: min(context, window) for a sliding layer, the context for a full one."""
    if not windows:
        return [(num_layers, context)]
    counts = Counter(windows)
    return [(n, context if w == FULL else min(context, w)) for w, n in sorted(counts.items())]


def cached_tokens(windows: tuple[int, ...], num_layers: int, context: float) -> float:
    """Token-layers of K and V one sequence of ``context`` tokens holds, over the model's layers:
    layers × context without windows."""
    return sum(n * tokens for n, tokens in attended_groups(windows, num_layers, context))


def causal_attended(window: int, prompt: float) -> float:
    """Keys a prompt token attends to on average in causal prefill: prompt/2 for full attention;
    with a window W < prompt, (W·(W+1)/2 + (prompt − W)·W) / prompt."""
    if window == FULL or window >= prompt:
        return prompt / 2
    return (window * (window + 1) / 2 + (prompt - window) * window) / prompt
