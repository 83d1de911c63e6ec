"""A Llama-shaped decode loop: batch 1, one new token per step, the workload `roofline profile` is
validated on.

    roofline profile --steps 3 --warmup 2 -o decode.json.gz -- python examples/llama_decode.py
    python examples/llama_decode.py --hf      # Hugging Face LlamaForCausalLM from a config, random weights
    python examples/llama_decode.py --small   # a tiny fp32 model for CPU runs (the tests use it)
    python examples/llama_decode.py --compile reduce-overhead   # Inductor fusion + CUDA graphs
    python examples/llama_decode.py --fp32    # the same model in fp32

Sized like a 1B-class model: hidden 2048, 8 layers, 16 query / 8 KV heads, MLP 5632, vocab 32000,
512 cached positions; bf16 on a GPU. Each step is one call of the model, so `roofline profile`
(which ends a step when the first module the script calls returns) marks one token per step.
The default model is plain torch (RMSNorm, rotary, SDPA over a static KV cache, SiLU-gated MLP):
no download and no transformers needed.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        return self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, d: int, heads: int, kv_heads: int, inter: int, max_len: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
        self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
        self.qkv = nn.Linear(d, (heads + 2 * kv_heads) * self.hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate_up = nn.Linear(d, 2 * inter, bias=False)
        self.down = nn.Linear(inter, d, bias=False)
        # A prefilled cache stands in for the prompt: random keys/values, never zeros.
        self.register_buffer("k_cache", torch.randn(1, kv_heads, max_len, self.hd) * 0.1)
        self.register_buffer("v_cache", torch.randn(1, kv_heads, max_len, self.hd) * 0.1)

    def forward(self, x, pos, cos, sin, valid):
        b, t, _ = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(
            [self.heads * self.hd, self.kv_heads * self.hd, self.kv_heads * self.hd], dim=-1)
        q = rotate(q.view(b, t, self.heads, self.hd).transpose(1, 2), cos, sin)
        k = rotate(k.view(b, t, self.kv_heads, self.hd).transpose(1, 2), cos, sin)
        self.k_cache.index_copy_(2, pos, k)
        self.v_cache.index_copy_(2, pos, v.view(b, t, self.kv_heads, self.hd).transpose(1, 2))
        a = F.scaled_dot_product_attention(q, self.k_cache, self.v_cache, attn_mask=valid, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        gate, up = self.gate_up(self.norm2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class MiniLlama(nn.Module):
    def __init__(self, a: argparse.Namespace) -> None:
        super().__init__()
        self.max_len = a.context + a.tokens + 1
        self.embed = nn.Embedding(a.vocab, a.hidden)
        self.blocks = nn.ModuleList(Block(a.hidden, a.heads, a.kv_heads, a.inter, self.max_len)
                                    for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden)
        self.head = nn.Linear(a.hidden, a.vocab, bias=False)
        hd = a.hidden // a.heads
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd)))

    def forward(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        angles = pos.float()[:, None] * self.inv_freq.float()[None, :]
        cos, sin = (f(torch.cat((angles, angles), dim=-1)).to(x.dtype) for f in (torch.cos, torch.sin))
        valid = (torch.arange(self.max_len, device=ids.device) <= pos).view(1, 1, 1, -1)
        for block in self.blocks:
            x = block(x, pos, cos, sin, valid)
        return self.head(self.norm(x))


def mini_decode(a: argparse.Namespace, device: torch.device, dtype: torch.dtype):
    torch.manual_seed(0)
    with torch.device(device):
        model = MiniLlama(a)
    model = model.to(dtype=dtype).eval()
    if a.compile != "none":
        # Inductor fuses the norm/rotary/SiLU chains; "reduce-overhead" also replays CUDA graphs.
        model = torch.compile(model, mode=None if a.compile == "default" else a.compile, fullgraph=True)
    ids = torch.randint(0, a.vocab, (1, 1), device=device)
    pos = torch.tensor([a.context], device=device)

    def step():
        nonlocal ids, pos
        logits = model(ids, pos)
        ids, pos = logits[:, -1].argmax(-1, keepdim=True), pos + 1  # no host sync: as a server loop
        return logits

    return step


def hf_decode(a: argparse.Namespace, device: torch.device, dtype: torch.dtype):
    from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                         num_key_value_heads=a.kv_heads, intermediate_size=a.inter, vocab_size=a.vocab,
                         max_position_embeddings=4096, attn_implementation="sdpa")
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config)
    model = model.to(dtype=dtype).eval()
    cache = DynamicCache(config=config)
    out = model(input_ids=torch.randint(0, a.vocab, (1, a.context), device=device), past_key_values=cache,
                use_cache=True)  # the prefill: the first model call, so a warm-up step under `roofline profile`
    ids = out.logits[:, -1:].argmax(-1)

    def step():
        nonlocal ids
        logits = model(input_ids=ids, past_key_values=cache, use_cache=True).logits
        # Crop back to the prompt length: a KV length new at every step makes cuDNN SDPA re-plan on
        # the host (~31 ms a step on torch 2.11, benchmarks/capture/README.md), not what we study here.
        cache.crop(-1)
        ids = logits[:, -1:].argmax(-1)
        return logits

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=10, help="decode steps to run")
    p.add_argument("--hf", action="store_true", help="Hugging Face LlamaForCausalLM instead of the plain-torch model")
    p.add_argument("--small", action="store_true", help="tiny fp32 sizes for CPU runs")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--compile", choices=("none", "default", "reduce-overhead"), default="none",
                   help="torch.compile the plain-torch model (default: eager)")
    p.add_argument("--fp32", action="store_true", help="fp32 weights and activations on the GPU (default bf16)")
    a = p.parse_args()
    big = dict(hidden=2048, layers=8, heads=16, kv_heads=8, inter=5632, vocab=32000, context=512)
    small = dict(hidden=64, layers=2, heads=4, kv_heads=2, inter=128, vocab=256, context=16)
    for key, value in (small if a.small else big).items():
        setattr(a, key, value)
    device = torch.device(a.device)
    dtype = torch.bfloat16 if device.type == "cuda" and not a.small and not a.fp32 else torch.float32
    params = a.layers * (a.hidden * a.hidden * (2 + 2 * a.kv_heads / a.heads) + 3 * a.hidden * a.inter)
    params += a.hidden * a.vocab  # the LM head; the embedding reads one row per token
    print(f"decode: {'transformers' if a.hf else 'plain torch'} model, {params / 1e6:.0f}M weights read per "
          f"token ({params * (2 if dtype == torch.bfloat16 else 4) / 1e9:.2f} GB), {a.tokens} tokens on {device}")
    torch.set_grad_enabled(False)
    step = (hf_decode if a.hf else mini_decode)(a, device, dtype)
    start = time.perf_counter()
    for _ in range(a.tokens):
        logits = step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    assert math.isfinite(float(logits.float().abs().max())), "non-finite logits"
    print(f"{a.tokens} tokens in {elapsed * 1e3:.1f} ms ({elapsed / a.tokens * 1e3:.2f} ms per token, incl. warm-up)")


if __name__ == "__main__":
    main()
