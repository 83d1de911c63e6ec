"""Measure real decode and prefill steps of Hugging Face LlamaForCausalLM (random weights built from a
config: nothing is downloaded) on the local GPU, for comparison with `roofline plan` predictions
(benchmarks/fidelity/compare.py). Writes one JSON record per case.

    python benchmarks/fidelity/measure_h200.py --out h200_measured.json        # on the GPU machine
    python benchmarks/fidelity/measure_h200.py --out /tmp/x.json --smoke        # tiny CPU dry run

Decode steps attend over a cache of `context` tokens: eager with a DynamicCache cropped back after
each step (views only), CUDA-graph with a StaticCache whose write position is reset before each replay.
Times are CUDA-event medians of 10 steps after 3 warm-ups.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

MODELS = {
    # name: (hidden, layers, heads, kv_heads, intermediate, vocab)
    "llama-1b-shape": (2048, 16, 16, 8, 5632, 32000),
    "llama-3-8b": (4096, 32, 32, 8, 14336, 128256),
    # held out: measured after the model's constants were set, to check them on unseen shapes
    "llama-3b-shape": (3072, 28, 24, 8, 8192, 128256),
}
SMOKE = {"tiny": (256, 2, 4, 2, 512, 1000)}


def timer(dev: str):
    if dev == "cuda":
        def measure(fn, warmup: int, iters: int) -> list[float]:
            for _ in range(warmup):
                fn()
            torch.cuda.synchronize()
            samples = []
            for _ in range(iters):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                samples.append(start.elapsed_time(end) / 1e3)
            return samples
    else:
        def measure(fn, warmup: int, iters: int) -> list[float]:
            for _ in range(warmup):
                fn()
            samples = []
            for _ in range(iters):
                t = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t)
            return samples
    return measure


def build(shape, dev: str, dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    hidden, layers, heads, kv, inter, vocab = shape
    cfg = LlamaConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv,
                      intermediate_size=inter, vocab_size=vocab, max_position_embeddings=8192,
                      attn_implementation="sdpa", tie_word_embeddings=False)
    torch.manual_seed(0)
    with torch.device(dev):
        model = LlamaForCausalLM(cfg)
    return model.to(dtype=dtype).eval(), cfg


@torch.inference_mode()
def decode_eager(model, cfg, batch: int, context: int, dev: str, measure, iters: int):
    from transformers import DynamicCache

    prompt = torch.randint(0, cfg.vocab_size, (batch, context), device=dev)
    cache = DynamicCache(config=cfg)
    out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
    token = out.logits[:, -1:].argmax(-1)

    def step():
        model(input_ids=token, past_key_values=cache, use_cache=True)
        cache.crop(-1)

    return measure(step, 3, iters)


@torch.inference_mode()
def decode_graph(model, cfg, batch: int, context: int, dev: str, measure, iters: int):
    from transformers import StaticCache

    prompt = torch.randint(0, cfg.vocab_size, (batch, context), device=dev)
    cache = StaticCache(config=cfg, max_cache_len=context + 16)
    out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
    ids = out.logits[:, -1:].argmax(-1).clone()

    def reset():
        for layer in cache.layers:
            layer.cumulative_length.fill_(context)

    def fwd():
        return model(input_ids=ids, past_key_values=cache, use_cache=True).logits

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            reset()
            fwd()
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    reset()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fwd()

    def replay():
        reset()
        graph.replay()

    return measure(replay, 3, iters)


@torch.inference_mode()
def prefill(model, cfg, batch: int, prompt: int, dev: str, measure, iters: int):
    from transformers import DynamicCache

    ids = torch.randint(0, cfg.vocab_size, (batch, prompt), device=dev)

    def step():
        model(input_ids=ids, past_key_values=DynamicCache(config=cfg), use_cache=True, logits_to_keep=1)

    return measure(step, 2, iters)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--smoke", action="store_true", help="tiny model on CPU: checks the script, not the GPU")
    parser.add_argument("--models", help="comma-separated subset of the models")
    parser.add_argument("--batches", help="comma-separated decode batch sizes (default 1,16)")
    parser.add_argument("--tokens", help="comma-separated contexts and prompt lengths (default 512,2048)")
    args = parser.parse_args()
    dev = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    measure = timer(dev)
    models = SMOKE if args.smoke else MODELS
    if args.models:
        models = {name: models[name] for name in args.models.split(",")}
    batches, contexts, prompts = ((1, 2), (16,), (16,)) if args.smoke else ((1, 16), (512, 2048), (512, 2048))
    if args.batches:
        batches = tuple(int(b) for b in args.batches.split(","))
    if args.tokens:
        contexts = prompts = tuple(int(t) for t in args.tokens.split(","))
    iters = 3 if args.smoke else 10
    records = []
    env = {"torch": torch.__version__, "device": torch.cuda.get_device_name() if dev == "cuda" else platform.processor(),
           "date": time.strftime("%Y-%m-%d")}
    try:
        import transformers
        env["transformers"] = transformers.__version__
    except ImportError:
        pass
    for name, shape in models.items():
        model, cfg = build(shape, dev, torch.bfloat16 if dev == "cuda" else torch.float32)
        cases = [("prefill", "eager", 1, p) for p in prompts]
        cases += [("decode", "eager", b, c) for b in batches for c in contexts]
        if dev == "cuda":
            cases += [("decode", "cudagraph", b, c) for b in batches for c in contexts]
        for phase, mode, batch, tokens in cases:
            try:
                if phase == "prefill":
                    samples = prefill(model, cfg, batch, tokens, dev, measure, iters)
                elif mode == "eager":
                    samples = decode_eager(model, cfg, batch, tokens, dev, measure, iters)
                else:
                    samples = decode_graph(model, cfg, batch, tokens, dev, measure, iters)
            except Exception as exc:  # one failing case must not lose the rest
                print(f"FAILED {name} {phase} {mode} b={batch} t={tokens}: {type(exc).__name__}: {exc}", flush=True)
                continue
            record = {"model": name, "shape": dict(zip(("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab"),
                                                      shape)),
                      "phase": phase, "mode": mode, "batch": batch, "tokens": tokens,
                      "measured_s": statistics.median(samples), "samples_s": samples}
            records.append(record)
            print(f"{name:16s} {phase:7s} {mode:9s} b={batch:<3d} t={tokens:<5d} {record['measured_s']*1e3:9.3f} ms",
                  flush=True)
        del model
        if dev == "cuda":
            torch.cuda.empty_cache()
    with open(args.out, "w") as handle:
        json.dump({"environment": env, "records": records}, handle, indent=1)


if __name__ == "__main__":
    main()
