"""Top GPU kernels of one HF decode step (eager and CUDA graph) for a given shape: used to check
which kernels the fidelity model must account for.  python kernel_breakdown.py [batch] [context]"""

import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from measure_h200 import MODELS, build  # noqa: E402


@torch.inference_mode()
def main() -> None:
    batch, context = int(sys.argv[1]), int(sys.argv[2])
    from transformers import DynamicCache, StaticCache

    model, cfg = build(MODELS["llama-3-8b"], "cuda", torch.bfloat16)
    prompt = torch.randint(0, cfg.vocab_size, (batch, context), device="cuda")
    for kind in ("dynamic", "static"):
        cache = DynamicCache(config=cfg) if kind == "dynamic" else StaticCache(config=cfg, max_cache_len=context + 16)
        out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
        ids = out.logits[:, -1:].argmax(-1)
        for _ in range(2):
            model(input_ids=ids, past_key_values=cache, use_cache=True)
            if kind == "dynamic":
                cache.crop(-1)
            else:
                for layer in cache.layers:
                    layer.cumulative_length.fill_(context)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            model(input_ids=ids, past_key_values=cache, use_cache=True)
            torch.cuda.synchronize()
        print(f"== {kind} cache, batch {batch}, context {context}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=12, max_name_column_width=70))
        del cache
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
