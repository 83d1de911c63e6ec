"""Capture a CUDA-graph decode as a *pair* of kineto traces: the graph's capture and its replays.

A replay trace alone records no op for the kernels a graph replays (``cudaGraphLaunch`` and the
kernels); the ops and their shapes exist only while the graph is captured. Serving engines (vLLM,
SGLang) can profile their capture for that reason. This recipe does the same for the Llama-shaped
decode step of ``capture_traces.py`` (``decode_bf16_cudagraph``: same model, same sizes):

* ``<out>/decode_bf16_cudagraph_capture.json.gz`` — the profiler active around
  ``torch.cuda.graph(g)`` (record_shapes=True): each op and the kernel launches it issued into the
  capture;
* ``<out>/decode_bf16_cudagraph_replay.json.gz`` — five replays profiled as every fixture is
  (warmup 2, active 3, ``ProfilerStep#2..#4``).

Then ``roofline classify REPLAY --graph-capture CAPTURE`` costs the replayed kernels from the
capture's ops (docs/classification.md). Usage, on the GPU machine::

    PYTHONUNBUFFERED=1 python3 benchmarks/capture/capture_graph_pair.py --out /tmp/pair
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture_traces as ct  # noqa: E402  (the sizes, model and profiler settings of the fixtures)


def _gzip(src: str, dst: str) -> None:
    with open(src, "rb") as fin, gzip.open(dst, "wb", compresslevel=9) as fout:
        shutil.copyfileobj(fin, fout)
    os.remove(src)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="graph_pair")
    a = ap.parse_args()
    a.small = not ct.CUDA
    ct.sizes(a)
    if not ct.CUDA:
        print("capture_graph_pair.py: CUDA graphs need a CUDA GPU", file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    from transformers import StaticCache

    model = ct._hf_model(a, torch.bfloat16)
    cfg = model.config
    prompt = torch.randint(0, cfg.vocab_size, (1, a.dec_ctx), device=ct.DEV)
    cache = StaticCache(config=cfg, max_cache_len=a.dec_ctx + 512)
    out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
    static_ids = out.logits[:, -1:].argmax(-1).clone()

    def reset_pos():
        for layer in cache.layers:
            layer.cumulative_length.fill_(a.dec_ctx)

    def fwd():
        return model(input_ids=static_ids, past_key_values=cache, use_cache=True).logits

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            reset_pos()
            fwd()
    torch.cuda.current_stream().wait_stream(side)
    ct.sync()
    reset_pos()

    capture_tmp = os.path.join(a.out, "decode_bf16_cudagraph_capture.json")
    graph = torch.cuda.CUDAGraph()
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA],
        record_shapes=True,
        with_flops=True,
    ) as prof:
        with torch.cuda.graph(graph):
            fwd()
        ct.sync()
    prof.export_chrome_trace(capture_tmp)
    _gzip(capture_tmp, capture_tmp + ".gz")

    def replay():
        reset_pos()
        graph.replay()
        ct.sync()

    for _ in range(3):
        replay()
    replay_path = os.path.join(a.out, "decode_bf16_cudagraph_replay.json.gz")
    ct.profile_steps(replay, replay_path)
    for name in sorted(os.listdir(a.out)):
        print(f"{name}: {os.path.getsize(os.path.join(a.out, name)) / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
