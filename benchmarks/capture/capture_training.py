"""Capture kineto traces of training steps, MoE decode, fp8 GEMMs and a host-stalled loop, and
measure the profiler's own overhead.

Reproduction recipe for ``tests/data/h200/training/`` (its README lists the cases and what the run
printed).  Every trace is profiled exactly as ``capture_traces.py`` does it (the same helper):

    torch.profiler.profile(activities=[CPU, CUDA], record_shapes=True, with_flops=True,
                           schedule=schedule(wait=0, warmup=2, active=3))

five iterations, each followed by ``torch.cuda.synchronize()`` and ``prof.step()``, so
``ProfilerStep#2..#4`` are the three recorded steps; gzipped with ``mtime=0``.

The profiler-overhead measurement runs the same ResNet-50 and Llama training steps many times
without the profiler and then under it, timing each iteration on the host (``perf_counter``: the
time to issue the step, and the time until ``synchronize`` returns) and on the GPU (CUDA events
around the step), and divides the extra host time by the operators and runtime calls the profiled
trace holds per step.  It writes ``profiler_overhead.json``.

Usage (on the GPU machine)::

    PYTHONUNBUFFERED=1 python3 benchmarks/capture/capture_training.py --out /tmp/train

``--small`` shrinks every size so the logic can be dry-run on a CPU build of torch (cases that
need CUDA, torchvision or transformers print SKIP where those are missing).  ``--only a,b`` picks
cases; ``--budget-s`` skips what is left once that much time has passed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import traceback

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import capture_traces as ct  # noqa: E402  (the shared profiling helpers and settings)

CUDA, DEV = ct.CUDA, ct.DEV
CASES: list = []


def case(name: str, cuda_only: bool = False):
    def deco(fn):
        CASES.append((name, fn, cuda_only))
        return fn

    return deco


# ----------------------------------------------------------------------------
# sizes


def sizes(a) -> None:
    big = not a.small
    # Llama-shaped decoder stack (TinyLlama-1.1B widths, 4 layers), batch 4 x 1024 tokens.
    a.llm = dict(hidden=2048, layers=4, heads=16, kv_heads=8, inter=5632, vocab=32000, batch=4, seq=1024) if big \
        else dict(hidden=128, layers=2, heads=4, kv_heads=2, inter=256, vocab=1000, batch=2, seq=32)
    a.resnet_batch, a.resnet_px = (32, 224) if big else (2, 64)
    a.attn = (2, 32, 2048, 128) if big else (1, 4, 128, 64)  # B, H, S, D
    # Mixtral-8x7B widths (hidden 4096, 32/8 heads, 8 experts of 14336, top-2), 4 layers, 8 sequences.
    a.moe = dict(hidden=4096, layers=4, heads=32, kv_heads=8, inter=14336, experts=8, topk=2, vocab=32000,
                 batch=8, ctx=512) if big \
        else dict(hidden=128, layers=2, heads=4, kv_heads=2, inter=256, experts=4, topk=2, vocab=1000, batch=4, ctx=32)
    # (M, N, K): a square GEMM, an MLP up-projection at 4096 tokens, a decode GEMV-like shape.
    a.fp8 = [(8192, 8192, 8192), (4096, 14336, 4096), (16, 8192, 8192)] if big else [(64, 64, 64), (32, 64, 32)]
    a.stall = dict(m=256, d=4096, f=14336, sleep_s=0.004) if big else dict(m=8, d=64, f=128, sleep_s=0.004)
    a.overhead_iters = (30, 12) if big else (4, 3)  # unprofiled, profiled


# ----------------------------------------------------------------------------
# cases: each builder returns a zero-argument step function (already warmed up)


def _llama_model(a):
    from transformers import LlamaConfig, LlamaForCausalLM

    c = a.llm
    cfg = LlamaConfig(
        hidden_size=c["hidden"], num_hidden_layers=c["layers"], num_attention_heads=c["heads"],
        num_key_value_heads=c["kv_heads"], intermediate_size=c["inter"], vocab_size=c["vocab"],
        max_position_embeddings=4096, attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    with torch.device(DEV):
        model = LlamaForCausalLM(cfg)
    return model.to(dtype=torch.bfloat16).train()


def _llama_train_step(a, compiled: bool):
    model = _llama_model(a)
    # fused=True is the single-kernel AdamW (torch._fused_adamw_); bf16 parameters, no master copy.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    ids = torch.randint(0, a.llm["vocab"], (a.llm["batch"], a.llm["seq"]), device=DEV)
    forward = torch.compile(model) if compiled else model

    def step():
        loss = forward(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    t0 = time.time()
    ct.warm(step, 3)
    if compiled:
        print(f"    (torch.compile warm-up took {time.time() - t0:.1f}s)", flush=True)
    return step


@case("llama_train_eager_bf16")
def build_llama_eager(a):
    return _llama_train_step(a, compiled=False)


@case("llama_train_compiled_bf16")
def build_llama_compiled(a):
    return _llama_train_step(a, compiled=True)


def _resnet_train_step(a):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).to(DEV).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(a.resnet_batch, 3, a.resnet_px, a.resnet_px, device=DEV)
    y = torch.randint(0, 1000, (a.resnet_batch,), device=DEV)

    def step():
        with torch.autocast(DEV.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return ct.warm(step, 3)


@case("resnet50_train_amp_bf16")
def build_resnet(a):
    return _resnet_train_step(a)


@case("sdpa_flash_fwd_bwd_bf16")
def build_flash_bwd(a):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = (torch.randn(a.attn, device=DEV, dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    grad = torch.randn(a.attn, device=DEV, dtype=torch.bfloat16)

    def step():
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.backward(grad)
        q.grad = k.grad = v.grad = None

    return ct.warm(step)


class _MoELayer(nn.Module):
    """One Mixtral-shaped decoder layer for decode over a static KV cache: RMSNorm, GQA attention
    with rotary, and a top-k router over SiLU-gated experts run one by one, the way the
    transformers Mixtral block loops over experts (``torch.where`` = ``nonzero``, a host sync each)."""

    def __init__(self, c, max_len: int, dtype):
        super().__init__()
        d, self.nh, self.nkv = c["hidden"], c["heads"], c["kv_heads"]
        self.hd, self.topk, self.experts = d // self.nh, c["topk"], c["experts"]
        self.n1, self.n2 = ct._RMSNorm(d), ct._RMSNorm(d)
        self.qkv = nn.Linear(d, (self.nh + 2 * self.nkv) * self.hd, bias=False)
        self.o = nn.Linear(d, d, bias=False)
        self.router = nn.Linear(d, self.experts, bias=False)
        self.w1 = nn.ModuleList(nn.Linear(d, c["inter"], bias=False) for _ in range(self.experts))
        self.w3 = nn.ModuleList(nn.Linear(d, c["inter"], bias=False) for _ in range(self.experts))
        self.w2 = nn.ModuleList(nn.Linear(c["inter"], d, bias=False) for _ in range(self.experts))
        shape = (c["batch"], self.nkv, max_len, self.hd)
        self.register_buffer("kc", torch.randn(shape, dtype=dtype) * 0.1)
        self.register_buffer("vc", torch.randn(shape, dtype=dtype) * 0.1)

    def attention(self, x, pos, cos, sin, valid):
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split([self.nh * self.hd, self.nkv * self.hd, self.nkv * self.hd], dim=-1)
        q = q.view(b, t, self.nh, self.hd).transpose(1, 2)
        k = k.view(b, t, self.nkv, self.hd).transpose(1, 2)
        v = v.view(b, t, self.nkv, self.hd).transpose(1, 2)
        q, k = ct._rope(q, cos, sin), ct._rope(k, cos, sin)
        self.kc.index_copy_(2, pos, k)
        self.vc.index_copy_(2, pos, v)
        a = F.scaled_dot_product_attention(q, self.kc, self.vc, attn_mask=valid, enable_gqa=True)
        return self.o(a.transpose(1, 2).reshape(b, t, -1))

    def moe(self, h):
        shape = h.shape
        h = h.reshape(-1, shape[-1])
        probs = F.softmax(self.router(h).float(), dim=-1)
        weights, chosen = torch.topk(probs, self.topk, dim=-1)
        weights = (weights / weights.sum(dim=-1, keepdim=True)).to(h.dtype)
        out = torch.zeros_like(h)
        mask = F.one_hot(chosen, self.experts).permute(2, 1, 0)  # (experts, topk, tokens)
        hit = torch.greater(mask.sum(dim=(-1, -2)), 0).nonzero().flatten().tolist()  # host sync
        for e in hit:
            slot, token = torch.where(mask[e])  # nonzero: a host sync per expert
            x = h[token]
            y = self.w2[e](F.silu(self.w1[e](x)) * self.w3[e](x)) * weights[token, slot, None]
            out.index_add_(0, token, y)
        return out.reshape(shape)

    def forward(self, x, pos, cos, sin, valid):
        x = x + self.attention(self.n1(x), pos, cos, sin, valid)
        return x + self.moe(self.n2(x))


class MiniMixtral(nn.Module):
    def __init__(self, c, dtype):
        super().__init__()
        self.max_len = c["ctx"] + 1
        hd = c["hidden"] // c["heads"]
        self.emb = nn.Embedding(c["vocab"], c["hidden"])
        self.layers = nn.ModuleList(_MoELayer(c, self.max_len, dtype) for _ in range(c["layers"]))
        self.norm = ct._RMSNorm(c["hidden"])
        self.head = nn.Linear(c["hidden"], c["vocab"], bias=False)
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd)))

    def forward(self, ids, pos):
        x = self.emb(ids)
        f = pos.float()[:, None] * self.inv_freq[None, :]
        emb = torch.cat((f, f), dim=-1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        valid = (torch.arange(self.max_len, device=ids.device) <= pos).view(1, 1, 1, -1)
        for layer in self.layers:
            x = layer(x, pos, cos, sin, valid)
        return self.head(self.norm(x))


@case("moe_decode_nonzero_bf16")
def build_moe(a):
    c = a.moe
    torch.manual_seed(0)
    with torch.device(DEV):
        m = MiniMixtral(c, torch.bfloat16)
    m = m.to(dtype=torch.bfloat16).eval()
    m.inv_freq = m.inv_freq.float()
    ids = torch.randint(0, c["vocab"], (c["batch"], 1), device=DEV)
    pos = torch.tensor([c["ctx"]], device=DEV)  # cache rows 0..ctx-1 hold (random) history

    def step():
        with torch.no_grad():
            return m(ids, pos)

    return ct.warm(step, 2)


@case("fp8_scaled_mm_set", cuda_only=True)
def build_fp8_set(a):
    """torch._scaled_mm on three shapes with per-tensor scales, and the square one again with
    row-wise scales (scale_a (M,1), scale_b (1,N)); e4m3 inputs, bf16 output."""
    calls = []
    for m, n, k in a.fp8:
        x = torch.randn(m, k, device=DEV).to(torch.float8_e4m3fn)  # row-major
        w = torch.randn(n, k, device=DEV).to(torch.float8_e4m3fn).t()  # column-major
        one = torch.tensor(1.0, device=DEV)
        calls.append((x, w, one, one))
    m, n, k = a.fp8[0]
    x, w = calls[0][0], calls[0][1]
    calls.append((x, w, torch.ones(m, 1, device=DEV), torch.ones(1, n, device=DEV)))

    def step():
        with torch.no_grad():
            for x, w, sa, sb in calls:
                torch._scaled_mm(x, w, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)

    return ct.warm(step)


@case("host_stall_sleep_bf16")
def build_stall(a):
    """A training step of the MLP block that first waits on a slow 'data loader' (time.sleep on the
    host, GPU idle), then copies its batch from pinned host memory and runs forward, backward and
    a fused AdamW step."""
    c = a.stall
    torch.manual_seed(0)
    m = ct.MLPBlock(c["d"], c["f"]).to(device=DEV, dtype=torch.bfloat16).train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, fused=True)
    host_batch = torch.randn(c["m"], c["d"], dtype=torch.bfloat16)
    if CUDA:
        host_batch = host_batch.pin_memory()

    def step():
        time.sleep(c["sleep_s"])  # the input pipeline
        x = host_batch.to(DEV, non_blocking=True)
        m(x).float().pow(2).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return ct.warm(step)


# ----------------------------------------------------------------------------
# profiler overhead


def _timed(step, iters: int, profiler_kwargs: dict | None, trace_path: str | None = None) -> dict:
    """Run ``step`` ``iters`` times; per iteration: host time to issue it, host time until the GPU
    finished (synchronize), and GPU time between CUDA events recorded before and after it."""
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
              for _ in range(iters)] if CUDA else []
    issue, wall, gpu = [], [], []
    ctx = torch.profiler.profile(**profiler_kwargs) if profiler_kwargs is not None else contextlib.nullcontext()
    with ctx as prof:
        for i in range(iters):
            ct.sync()
            t0 = time.perf_counter()
            if CUDA:
                events[i][0].record()
            step()
            if CUDA:
                events[i][1].record()
            t1 = time.perf_counter()
            ct.sync()
            t2 = time.perf_counter()
            issue.append((t1 - t0) * 1e3)
            wall.append((t2 - t0) * 1e3)
    if CUDA:
        gpu = [s.elapsed_time(e) for s, e in events]
    if trace_path is not None and prof is not None:
        prof.export_chrome_trace(trace_path)
    drop = 2 if iters > 4 else 0  # the first profiled iterations also pay the profiler's start-up

    def stats(xs):
        xs = xs[drop:] if profiler_kwargs is not None else xs
        return {"median": round(statistics.median(xs), 4), "mean": round(statistics.fmean(xs), 4),
                "min": round(min(xs), 4), "max": round(max(xs), 4), "n": len(xs)}

    out = {"host_issue_ms": stats(issue), "wall_ms": stats(wall)}
    if gpu:
        out["cuda_event_ms"] = stats(gpu)
    return out


def _trace_counts(path: str, iters: int) -> dict:
    """Events per iteration in a profiled trace: operators, runtime calls, kernels, GPU union."""
    with open(path) as f:
        ev = [e for e in json.load(f).get("traceEvents", []) if e.get("ph") == "X"]
    cat = lambda c: [e for e in ev if e.get("cat") == c]  # noqa: E731
    gpu = [e for e in ev if e.get("cat") in ("kernel", "gpu_memcpy", "gpu_memset")]
    union = ct._union_us([(e["ts"], e["ts"] + e.get("dur", 0)) for e in gpu])
    launches = [e for e in cat("cuda_runtime") if "Launch" in e.get("name", "")]
    return {
        "cpu_ops_per_step": len(cat("cpu_op")) / iters,
        "cuda_runtime_calls_per_step": len(cat("cuda_runtime")) / iters,
        "launch_calls_per_step": len(launches) / iters,
        "kernels_per_step": len(cat("kernel")) / iters,
        "gpu_union_ms_per_step": round(union / iters / 1e3, 4),
        "kernel_sum_ms_per_step": round(sum(e.get("dur", 0) for e in cat("kernel")) / iters / 1e3, 4),
    }


OVERHEAD = {"resnet50_train_amp_bf16": _resnet_train_step, "llama_train_eager_bf16":
            lambda a: _llama_train_step(a, compiled=False)}


def measure_overhead(a, out_dir: str, only: list[str]) -> dict:
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if CUDA else [])
    capture = {"activities": acts, "record_shapes": True, "with_flops": True}  # the capture settings
    plain = {"activities": acts}
    n_plain, n_prof = a.overhead_iters
    result = {}
    for name, build in OVERHEAD.items():
        if only and name not in only and "overhead" not in only:
            continue
        t0 = time.time()
        try:
            step = build(a)
            trace = os.path.join(out_dir, f"_overhead_{name}.json")
            row = {
                "iterations": {"unprofiled": n_plain, "profiled": n_prof, "profiled_dropped_first": 2},
                "unprofiled": _timed(step, n_plain, None),
                "profiled_capture_settings": _timed(step, n_prof, capture, trace),
                "profiled_cpu_cuda_only": _timed(step, n_prof, plain),
                "unprofiled_again": _timed(step, n_plain, None),  # drift check: clocks, allocator
            }
            row["trace_counts"] = _trace_counts(trace, n_prof)
            os.remove(trace)
            base = row["unprofiled"]["host_issue_ms"]["median"]
            for key in ("profiled_capture_settings", "profiled_cpu_cuda_only"):
                extra_ms = row[key]["host_issue_ms"]["median"] - base
                counts = row["trace_counts"]
                row[key]["extra_host_issue_ms"] = round(extra_ms, 4)
                row[key]["extra_host_us_per_cpu_op"] = round(extra_ms * 1e3 / max(counts["cpu_ops_per_step"], 1), 3)
                row[key]["extra_host_us_per_runtime_call"] = round(
                    extra_ms * 1e3 / max(counts["cuda_runtime_calls_per_step"], 1), 3)
                row[key]["wall_ratio"] = round(row[key]["wall_ms"]["median"] / row["unprofiled"]["wall_ms"]["median"], 4)
            result[name] = row
            print(f"OVERHEAD {name} ({time.time() - t0:.1f}s): {json.dumps(row)}", flush=True)
        except Exception as exc:  # noqa: BLE001
            result[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            print(f"FAIL overhead {name}: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            traceback.print_exc(limit=6)
        finally:
            step = None
            ct.cleanup()
    return result


# ----------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="training_traces")
    ap.add_argument("--only", default="", help="comma-separated case names ('overhead' for the timing only)")
    ap.add_argument("--small", action="store_true", help="tiny sizes (CPU dry run)")
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip remaining cases after this")
    ap.add_argument("--no-overhead", action="store_true", help="skip the profiler-overhead measurement")
    a = ap.parse_args()
    sizes(a)
    os.makedirs(a.out, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    info = ct.env_info()
    print("env:", json.dumps(info), flush=True)
    only = [s for s in a.only.split(",") if s]
    t_start = time.time()
    results, summary = {}, {"env": info, "cases": {}}
    order = [c for c in CASES if not only or c[0] in only]
    # The compiled case is the slowest to build: last, so the budget cuts it and not the others.
    order.sort(key=lambda c: c[0] == "llama_train_compiled_bf16")
    overhead_done = False
    for name, build, cuda_only in order:
        if name == "llama_train_compiled_bf16" and not a.no_overhead and not overhead_done:
            summary["overhead"] = measure_overhead(a, a.out, only)
            overhead_done = True
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
            ct.profile_steps(step, path)
            s = ct.summarize(path)
            summary["cases"][name] = s
            results[name] = "OK"
            print(f"OK   {name} ({time.time() - t0:.1f}s): {ct.one_line(s)}", flush=True)
        except Exception as exc:  # noqa: BLE001
            results[name] = f"FAIL {type(exc).__name__}: {exc}"[:300]
            print(f"FAIL {name} ({time.time() - t0:.1f}s): {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            traceback.print_exc(limit=6)
            if os.path.exists(path):
                os.remove(path)
        finally:
            step = None
            ct.cleanup()
    if not a.no_overhead and not overhead_done:
        summary["overhead"] = measure_overhead(a, a.out, only)
    summary["results"] = results
    summary["elapsed_s"] = round(time.time() - t_start, 1)
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    if "overhead" in summary:
        with open(os.path.join(a.out, "profiler_overhead.json"), "w") as f:
            json.dump({"env": info, "workloads": summary["overhead"]}, f, indent=1, default=str)
    print(f"\ndone in {summary['elapsed_s']}s")
    for fn in sorted(os.listdir(a.out)):
        print(f"  {os.path.getsize(os.path.join(a.out, fn)):>10,d}  {fn}")
    print("results:", json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
