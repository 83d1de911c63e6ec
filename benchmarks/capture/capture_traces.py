"""Capture real PyTorch-profiler (kineto) traces for roofline's test fixtures.

Reproduction recipe for ``tests/data/h200/captured/``.  Every case is profiled
exactly like the fixtures in ``tests/data/h200/kineto/``:

    torch.profiler.profile(activities=[CPU, CUDA], record_shapes=True,
                           with_flops=True,
                           schedule=schedule(wait=0, warmup=2, active=3))

five iterations, each followed by ``torch.cuda.synchronize()`` and
``prof.step()`` (so ``ProfilerStep#2..#4`` are the three recorded steps),
exported with ``export_chrome_trace`` and gzipped to ``<case>.json.gz``.

Usage (on the GPU machine)::

    PYTHONUNBUFFERED=1 python3 benchmarks/capture/capture_traces.py --out /tmp/cap

``--small`` shrinks every size so the script's logic can be dry-run on a CPU
build of torch; CUDA-only cases (flash / efficient / cuDNN attention, fp8,
multi-stream, CUDA graphs) are skipped there.  ``--only a,b`` picks cases.
Each case runs in its own try/except and prints one status line; a
``summary.json`` with per-trace kernel tables is written next to the traces.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import gzip
import json
import math
import os
import platform
import shutil
import sys
import time
import traceback

import torch
import torch.nn.functional as F
from torch import nn

CUDA = torch.cuda.is_available()
DEV = torch.device("cuda" if CUDA else "cpu")
WARMUP, ACTIVE = 2, 3
ITERS = WARMUP + ACTIVE

# ----------------------------------------------------------------------------
# profiling helpers


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def profile_steps(step_fn, out_path: str) -> None:
    """Profile five iterations of ``step_fn`` and write ``out_path`` (.json.gz)."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if CUDA:
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    tmp = out_path[: -len(".gz")] if out_path.endswith(".gz") else out_path + ".json"
    tmp = tmp + ".tmp"
    exported = []

    def on_ready(prof):
        prof.export_chrome_trace(tmp)
        exported.append(tmp)

    sched = torch.profiler.schedule(wait=0, warmup=WARMUP, active=ACTIVE, repeat=1)
    with torch.profiler.profile(
        activities=activities,
        schedule=sched,
        record_shapes=True,
        with_flops=True,
        on_trace_ready=on_ready,
    ) as prof:
        for _ in range(ITERS):
            step_fn()
            sync()
            prof.step()
    if not exported:  # older/newer torch that did not fire the callback
        prof.export_chrome_trace(tmp)
    with (
        open(tmp, "rb") as src,
        open(out_path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        shutil.copyfileobj(src, gz)
    os.remove(tmp)


def _short(name: str, n: int = 90) -> str:
    s = name.removeprefix("void ")
    for ch in "<(":
        i = s.find(ch)
        if i > 0:
            s = s[:i]
    return s[:n]


def _union_us(intervals):
    tot, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                tot += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        tot += cur_e - cur_s
    return tot


def summarize(path: str) -> dict:
    with gzip.open(path, "rt") as f:
        trace = json.load(f)
    ev = [e for e in trace.get("traceEvents", []) if e.get("ph") == "X"]
    steps = sorted(
        (
            e
            for e in ev
            if e.get("cat") == "user_annotation" and str(e.get("name", "")).startswith("ProfilerStep#")
        ),
        key=lambda e: e["ts"],
    )
    gpu_cats = {"kernel", "gpu_memcpy", "gpu_memset"}
    gpu = [e for e in ev if e.get("cat") in gpu_cats]
    kern = [e for e in ev if e.get("cat") == "kernel"]
    table: dict = {}
    for e in kern:
        t = table.setdefault(e["name"], {"count": 0, "total_us": 0.0, "streams": set()})
        t["count"] += 1
        t["total_us"] += float(e.get("dur", 0.0))
        t["streams"].add(e.get("args", {}).get("stream"))
    top = sorted(table.items(), key=lambda kv: -kv[1]["total_us"])
    runtime = {}
    for e in ev:
        if e.get("cat") == "cuda_runtime" or e.get("cat") == "cuda_driver":
            runtime[e["name"]] = runtime.get(e["name"], 0) + 1
    n = max(len(steps), 1)
    span_us = (steps[-1]["ts"] + steps[-1]["dur"] - steps[0]["ts"]) if steps else 0.0
    return {
        "file": os.path.basename(path),
        "bytes": os.path.getsize(path),
        "events": len(trace.get("traceEvents", [])),
        "steps": [s["name"] for s in steps],
        "step_us": [round(float(s["dur"]), 3) for s in steps],
        "kernels": len(kern),
        "kernels_per_step": len(kern) / n,
        "gpu_sum_us_per_step": sum(float(e.get("dur", 0)) for e in gpu) / n,
        "gpu_union_us_per_step": _union_us([(e["ts"], e["ts"] + e.get("dur", 0)) for e in gpu]) / n,
        "span_us_per_step": span_us / n,
        "streams": sorted({str(e.get("args", {}).get("stream")) for e in kern}),
        "runtime_calls": dict(sorted(runtime.items(), key=lambda kv: -kv[1])[:12]),
        "top_kernels": [
            {
                "name": k,
                "count": v["count"],
                "total_us": round(v["total_us"], 3),
                "mean_us": round(v["total_us"] / v["count"], 3),
                "streams": sorted(str(s) for s in v["streams"]),
            }
            for k, v in top[:20]
        ],
    }


def one_line(s: dict) -> str:
    tops = ", ".join(
        f"{_short(k['name'], 60)} {k['mean_us']:.1f}us x{k['count']}" for k in s["top_kernels"][:4]
    )
    return (
        f"{s['bytes'] / 1024:.0f}KiB steps={len(s['steps'])} step_us={[round(x) for x in s['step_us']]} "
        f"kern/step={s['kernels_per_step']:.0f} gpu_sum/step={s['gpu_sum_us_per_step']:.1f}us "
        f"gpu_union/step={s['gpu_union_us_per_step']:.1f}us streams={s['streams']} | {tops}"
    )


# ----------------------------------------------------------------------------
# cases: each builder returns a zero-argument step function (already warmed up)

CASES: list = []


def case(name: str, cuda_only: bool = False):
    def deco(fn):
        CASES.append((name, fn, cuda_only))
        return fn

    return deco


def warm(step, n: int = 3):
    for _ in range(n):
        step()
    sync()
    return step


# --- 4. GEMMs: fp8 / fp32 SIMT / tf32 ---------------------------------------


@case("fp8_gemm", cuda_only=True)
def build_fp8(a):
    n = a.gemm_n
    x = torch.randn(n, n, device=DEV).to(torch.float8_e4m3fn)  # row-major
    y = torch.randn(n, n, device=DEV).to(torch.float8_e4m3fn).t()  # column-major
    sa = torch.tensor(1.0, device=DEV, dtype=torch.float32)
    sb = torch.tensor(1.0, device=DEV, dtype=torch.float32)

    def step():
        return torch._scaled_mm(x, y, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)

    return warm(step)


def _fp32_case(a, tf32: bool):
    n = a.gemm_n
    x = torch.randn(n, n, device=DEV)
    y = torch.randn(n, n, device=DEV)
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32

    def step():
        return x @ y

    return warm(step, 2)


@case("fp32_gemm_simt")
def build_fp32(a):
    return _fp32_case(a, tf32=False)


@case("tf32_gemm")
def build_tf32(a):
    return _fp32_case(a, tf32=True)


# --- 2. attention -----------------------------------------------------------


def _qkv(a):
    shape = (a.attn_b, a.attn_h, a.attn_s, a.attn_d)
    return [torch.randn(shape, device=DEV, dtype=torch.bfloat16) for _ in range(3)]


def _sdpa_case(a, backend_name: str):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = getattr(SDPBackend, backend_name)
    q, k, v = _qkv(a)

    def step():
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=True)

    return warm(step)


@case("sdpa_flash_bf16", cuda_only=True)
def build_flash(a):
    return _sdpa_case(a, "FLASH_ATTENTION")


@case("sdpa_efficient_bf16", cuda_only=True)
def build_eff(a):
    return _sdpa_case(a, "EFFICIENT_ATTENTION")


@case("sdpa_math_bf16")
def build_math(a):
    return _sdpa_case(a, "MATH")


@case("sdpa_cudnn_bf16", cuda_only=True)
def build_cudnn(a):
    return _sdpa_case(a, "CUDNN_ATTENTION")


@case("attention_naive_bf16")
def build_naive(a):
    q, k, v = _qkv(a)
    s = a.attn_s
    mask = torch.ones(s, s, device=DEV, dtype=torch.bool).triu(1)
    scale = 1.0 / math.sqrt(a.attn_d)

    def step():
        scores = (q @ k.transpose(-2, -1)) * scale
        scores = scores.masked_fill(mask, float("-inf"))
        p = torch.softmax(scores, dim=-1)
        return p @ v

    return warm(step)


# --- 3. two streams ---------------------------------------------------------


@case("multistream_bf16", cuda_only=True)
def build_multistream(a):
    n, chain = a.ms_n, 4
    s1, s2 = torch.cuda.Stream(), torch.cuda.Stream()
    x1 = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    x2 = torch.randn(n, n, device=DEV, dtype=torch.bfloat16)
    w1 = [torch.randn(n, n, device=DEV, dtype=torch.bfloat16) / math.sqrt(n) for _ in range(chain)]
    w2 = [torch.randn(n, n, device=DEV, dtype=torch.bfloat16) / math.sqrt(n) for _ in range(chain)]

    def step():
        main = torch.cuda.current_stream()
        start = torch.cuda.Event()
        start.record(main)
        s1.wait_event(start)
        s2.wait_event(start)
        y1, y2 = x1, x2
        for i in range(chain):  # interleave launches so the two chains overlap
            with torch.cuda.stream(s1):
                y1 = F.gelu(y1 @ w1[i])
            with torch.cuda.stream(s2):
                y2 = torch.tanh(y2 @ w2[i]) * 0.5 + y2
        e1, e2 = torch.cuda.Event(), torch.cuda.Event()
        e1.record(s1)
        e2.record(s2)
        main.wait_event(e1)
        main.wait_event(e2)
        return y1, y2

    return warm(step)


# --- 1. MLP block, eager and torch.compile ----------------------------------


class MLPBlock(nn.Module):
    def __init__(self, d: int, f: int):
        super().__init__()
        self.fc1 = nn.Linear(d, f)
        self.fc2 = nn.Linear(f, d)
        self.ln = nn.LayerNorm(d)

    def forward(self, x):
        return self.ln(x + self.fc2(F.gelu(self.fc1(x))))


def _mlp(a):
    torch.manual_seed(0)
    m = MLPBlock(a.mlp_d, a.mlp_f).to(device=DEV, dtype=torch.bfloat16).eval()
    x = torch.randn(a.mlp_m, a.mlp_d, device=DEV, dtype=torch.bfloat16)
    return m, x


@case("eager_mlp_bf16")
def build_eager_mlp(a):
    m, x = _mlp(a)
    return warm(lambda: m(x))


@case("compiled_mlp_bf16")
def build_compiled_mlp(a):
    m, x = _mlp(a)
    cm = torch.compile(m)  # default mode
    t0 = time.time()
    warm(lambda: cm(x), 3)
    print(f"    (torch.compile warm-up took {time.time() - t0:.1f}s)", flush=True)
    return lambda: cm(x)


# --- 5./6. decode step of a Llama-shaped model ------------------------------

_HF_STATE: dict = {}
IMPL: dict = {"decode": "transformers", "decode_cudagraph": "transformers"}


def _llama_config(a):
    from transformers import LlamaConfig

    return LlamaConfig(
        hidden_size=a.dec_hidden,
        num_hidden_layers=a.dec_layers,
        num_attention_heads=a.dec_heads,
        num_key_value_heads=a.dec_kv_heads,
        intermediate_size=a.dec_inter,
        vocab_size=a.dec_vocab,
        max_position_embeddings=4096,
        attn_implementation="sdpa",
    )


def _hf_model(a, dtype):
    key = ("hf", dtype)
    if key not in _HF_STATE:
        from transformers import LlamaForCausalLM

        cfg = _llama_config(a)
        torch.manual_seed(0)
        with torch.device(DEV):
            model = LlamaForCausalLM(cfg)
        model = model.to(dtype=dtype).eval()
        _HF_STATE[key] = model
    return _HF_STATE[key]


def _decode_eager(a, dtype, sync_per_layer: bool = False, grow_kv: bool = False):
    """HF transformers decode step; falls back to MiniLlama if transformers fails."""
    try:
        return _hf_decode_eager(a, dtype, sync_per_layer, grow_kv)
    except Exception as exc:  # noqa: BLE001
        print(
            f"    (transformers path failed: {type(exc).__name__}: {str(exc)[:200]}; "
            f"using the hand-written MiniLlama fallback)",
            flush=True,
        )
        traceback.print_exc(limit=4)
        IMPL["decode"] = "minillama"
        m, ids, pos = _mini(a, dtype)
        handles = []
        if sync_per_layer:
            handles = [b.register_forward_hook(lambda mod, inp, outp: sync()) for b in m.blocks]

        def step():
            return m(ids, pos)

        warm(step, 2)
        return step, handles


def _hf_decode_eager(a, dtype, sync_per_layer: bool = False, grow_kv: bool = False):
    """One decode step over a DynamicCache prefilled with ``dec_ctx`` tokens.

    By default the cache is cropped back to ``dec_ctx`` after every step (views
    only, no kernels), so each step attends over the same ``dec_ctx + 1``
    positions.  With ``grow_kv`` the cache grows by one position per call, which
    makes every profiled step see a KV length it has not seen before.
    """
    from transformers import DynamicCache

    model = _hf_model(a, dtype)
    cfg = model.config
    prompt = torch.randint(0, cfg.vocab_size, (1, a.dec_ctx), device=DEV)
    cache = DynamicCache(config=cfg)
    out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
    cache = out.past_key_values
    next_token = out.logits[:, -1:].argmax(-1)  # (1, 1)
    sync()
    handles = []
    if sync_per_layer:
        for layer in model.model.layers:
            handles.append(layer.register_forward_hook(lambda mod, inp, outp: sync()))

    def step():
        logits = model(input_ids=next_token, past_key_values=cache, use_cache=True).logits
        if not grow_kv:
            cache.crop(-1)  # back to dec_ctx cached positions
        return logits

    warm(step, 2)
    return step, handles


@case("decode_bf16_eager_growing_kv")
def build_dec_bf16_grow(a):
    # Must be the first decode case in the process: with a growing KV length
    # every step is a new shape for the SDPA backend (cuDNN on torch 2.11).
    step, _ = _decode_eager(a, torch.bfloat16, grow_kv=True)
    return step


@case("decode_bf16_eager")
def build_dec_bf16(a):
    step, _ = _decode_eager(a, torch.bfloat16)
    return step


@case("decode_fp32_eager")
def build_dec_fp32(a):
    step, _ = _decode_eager(a, torch.float32)
    return step


@case("decode_bf16_sync_per_layer")
def build_dec_sync(a):
    step, handles = _decode_eager(a, torch.bfloat16, sync_per_layer=True)
    _HF_STATE["hooks"] = handles  # removed by cleanup()
    return step


def _graph(fn):
    """Warm up on a side stream, capture fn() into a CUDA graph, return (graph, out)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    sync()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = fn()
    sync()
    return g, out


@case("decode_bf16_cudagraph", cuda_only=True)
def build_dec_graph(a):
    from transformers import StaticCache

    model = _hf_model(a, torch.bfloat16)
    for layer in model.model.layers:  # no leftover sync hooks inside a capture
        layer._forward_hooks.clear()
    cfg = model.config
    prompt = torch.randint(0, cfg.vocab_size, (1, a.dec_ctx), device=DEV)
    cache = StaticCache(config=cfg, max_cache_len=a.dec_ctx + 512)
    out = model(input_ids=prompt, past_key_values=cache, use_cache=True)
    static_ids = out.logits[:, -1:].argmax(-1).clone()
    ref = model(input_ids=static_ids, past_key_values=cache, use_cache=True).logits.float()

    def reset_pos():  # every layer's write position back to dec_ctx
        for layer in cache.layers:
            layer.cumulative_length.fill_(a.dec_ctx)

    def fwd():
        return model(input_ids=static_ids, past_key_values=cache, use_cache=True).logits

    g, graph_logits = _graph(fwd)
    reset_pos()
    g.replay()
    sync()
    err = (graph_logits.float() - ref).abs().max().item()
    print(
        f"    (HF StaticCache graph: max |graph - eager| logits = {err:.3g}, "
        f"{int(cache.layers[0].cumulative_length)} cached positions)",
        flush=True,
    )
    reset_pos()
    _HF_STATE["graph"] = g
    return lambda: g.replay()


# Hand-written fallback (used only if the transformers path fails): RMSNorm,
# fused QKV, rotary, SDPA over a static KV cache, SiLU-gated MLP.


class _RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.w * xf.to(x.dtype)


def _rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-x2, x1), dim=-1) * sin


class _Block(nn.Module):
    def __init__(self, d, nh, nkv, inter, max_len, dtype):
        super().__init__()
        self.nh, self.nkv, self.hd = nh, nkv, d // nh
        self.n1, self.n2 = _RMSNorm(d), _RMSNorm(d)
        self.qkv = nn.Linear(d, (nh + 2 * nkv) * self.hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.gate_up = nn.Linear(d, 2 * inter, bias=False)
        self.down = nn.Linear(inter, d, bias=False)
        self.register_buffer("kc", torch.randn(1, nkv, max_len, self.hd, dtype=dtype) * 0.1)
        self.register_buffer("vc", torch.randn(1, nkv, max_len, self.hd, dtype=dtype) * 0.1)

    def forward(self, x, pos, cos, sin, valid):
        b, t, _ = x.shape
        h = self.n1(x)
        q, k, v = self.qkv(h).split([self.nh * self.hd, self.nkv * self.hd, self.nkv * self.hd], dim=-1)
        q = q.view(b, t, self.nh, self.hd).transpose(1, 2)
        k = k.view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = v.view(b, t, self.nkv, self.hd).transpose(1, 2)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
        self.kc.index_copy_(2, pos, k)
        self.vc.index_copy_(2, pos, v)
        a = F.scaled_dot_product_attention(q, self.kc, self.vc, attn_mask=valid, enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        g, u = self.gate_up(self.n2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(g) * u)


class MiniLlama(nn.Module):
    def __init__(self, a, dtype):
        super().__init__()
        d = a.dec_hidden
        self.max_len = a.dec_ctx + 1
        self.hd = d // a.dec_heads
        self.emb = nn.Embedding(a.dec_vocab, d)
        self.blocks = nn.ModuleList(
            _Block(d, a.dec_heads, a.dec_kv_heads, a.dec_inter, self.max_len, dtype)
            for _ in range(a.dec_layers)
        )
        self.norm = _RMSNorm(d)
        self.head = nn.Linear(d, a.dec_vocab, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        self.register_buffer("inv_freq", inv)

    def forward(self, ids, pos):
        x = self.emb(ids)
        f = pos.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        valid = (torch.arange(self.max_len, device=ids.device) <= pos).view(1, 1, 1, -1)
        for blk in self.blocks:
            x = blk(x, pos, cos, sin, valid)
        return self.head(self.norm(x))


def _mini(a, dtype):
    torch.manual_seed(0)
    with torch.device(DEV):
        m = MiniLlama(a, dtype)
    m = m.to(dtype=dtype).eval()
    m.inv_freq = m.inv_freq.float()
    ids = torch.randint(0, a.dec_vocab, (1, 1), device=DEV)
    pos = torch.tensor([a.dec_ctx], device=DEV)  # cache rows 0..dec_ctx-1 are prefilled (random)
    return m, ids, pos


@case("decode_bf16_eager_minillama")
def build_mini_eager(a):
    m, ids, pos = _mini(a, torch.bfloat16)
    return warm(lambda: m(ids, pos), 2)


@case("decode_bf16_cudagraph_minillama", cuda_only=True)
def build_mini_graph(a):
    m, ids, pos = _mini(a, torch.bfloat16)
    g, _ = _graph(lambda: m(ids, pos))
    _HF_STATE["mini_graph"] = g
    return lambda: g.replay()


def fallbacks(name: str) -> list:
    """Cases captured instead when ``name`` fails."""
    if name == "decode_bf16_cudagraph":
        IMPL["decode_cudagraph"] = "minillama"
        extra = ["decode_bf16_cudagraph_minillama"]
        if IMPL["decode"] == "transformers":  # keep an eager baseline of the same model
            extra.insert(0, "decode_bf16_eager_minillama")
        return extra
    return []


DEFAULT_SKIP = {"decode_bf16_eager_minillama", "decode_bf16_cudagraph_minillama"}

# ----------------------------------------------------------------------------


def cleanup():
    for h in _HF_STATE.pop("hooks", []):
        h.remove()
    _HF_STATE.pop("graph", None)
    _HF_STATE.pop("mini_graph", None)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    gc.collect()
    if CUDA:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def sizes(a):
    big = not a.small
    a.gemm_n = 8192 if big else 256
    a.attn_b, a.attn_h, a.attn_s, a.attn_d = (2, 32, 2048, 128) if big else (1, 4, 128, 64)
    a.ms_n = 4096 if big else 256
    a.mlp_m, a.mlp_d, a.mlp_f = (256, 4096, 14336) if big else (16, 256, 512)
    if big:
        a.dec_hidden, a.dec_layers, a.dec_heads, a.dec_kv_heads = 2048, 8, 16, 8
        a.dec_inter, a.dec_vocab, a.dec_ctx = 5632, 32000, 512
    else:
        a.dec_hidden, a.dec_layers, a.dec_heads, a.dec_kv_heads = 256, 2, 4, 2
        a.dec_inter, a.dec_vocab, a.dec_ctx = 512, 1000, 32


def env_info() -> dict:
    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if CUDA else None,
        "argv": sys.argv,
    }
    for mod in ("transformers", "triton"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception as exc:  # noqa: BLE001
            info[mod] = f"unavailable: {exc!r}"[:120]
    if CUDA:
        p = torch.cuda.get_device_properties(0)
        info.update(
            gpu=p.name,
            sms=p.multi_processor_count,
            mem_gib=round(p.total_memory / 2**30, 1),
            cc=f"{p.major}.{p.minor}",
        )
    return info


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="captured_traces")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--small", action="store_true", help="tiny sizes (CPU dry run)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip remaining cases after this")
    a = ap.parse_args()
    sizes(a)
    os.makedirs(a.out, exist_ok=True)
    torch.set_grad_enabled(False)
    torch.backends.cuda.matmul.allow_tf32 = False
    info = env_info()
    print("env:", json.dumps(info), flush=True)

    only = [s for s in a.only.split(",") if s]
    if only:
        queue = [c for c in CASES if c[0] in only]
    else:
        queue = [c for c in CASES if c[0] not in DEFAULT_SKIP]
    by_name = {c[0]: c for c in CASES}
    t_start = time.time()
    results, summary = {}, {"env": info, "cases": {}}
    while queue:
        name, build, cuda_only = queue.pop(0)
        if cuda_only and not CUDA:
            results[name] = "SKIP (needs CUDA)"
            print(f"SKIP {name}: needs CUDA", flush=True)
            continue
        if time.time() - t_start > a.budget_s:
            results[name] = "SKIP (time budget)"
            print(f"SKIP {name}: time budget {a.budget_s}s exhausted", flush=True)
            continue
        path = os.path.join(a.out, f"{name}.json.gz")
        t0 = time.time()
        try:
            step = build(a)
            profile_steps(step, path)
            s = summarize(path)
            summary["cases"][name] = s
            results[name] = "OK"
            print(f"OK   {name} ({time.time() - t0:.1f}s): {one_line(s)}", flush=True)
        except Exception as exc:  # noqa: BLE001
            results[name] = f"FAIL {type(exc).__name__}: {exc}"[:300]
            msg = f"{type(exc).__name__}: {str(exc)[:300]}"
            print(f"FAIL {name} ({time.time() - t0:.1f}s): {msg}", flush=True)
            traceback.print_exc(limit=6)
            for fb in reversed(fallbacks(name)):
                if fb not in results and all(q[0] != fb for q in queue):
                    queue.insert(0, by_name[fb])
            if os.path.exists(path):
                os.remove(path)
        finally:
            step = None
            cleanup()
    summary["results"] = results
    summary["impl"] = IMPL
    summary["elapsed_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    print(f"\ndone in {summary['elapsed_s']}s")
    for fn in sorted(os.listdir(a.out)):
        print(f"  {os.path.getsize(os.path.join(a.out, fn)):>10,d}  {fn}")
    print("results:", json.dumps(results, indent=1))
    print("impl:", json.dumps(IMPL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
