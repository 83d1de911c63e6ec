"""Two-rank traces with NCCL all-reduces, exposed and overlapped, for `classify DIR/` and the
plan's exposed-communication rule. Run on a machine with 2+ GPUs:

    python benchmarks/capture/capture_nccl.py OUTDIR

Each rank runs a step of 8 "layers" (two bf16 4096x4096 GEMMs on a 4096-token activation each) and
all-reduces a 256 MiB bf16 gradient bucket after every second layer. `exposed/`: each all-reduce
runs on the compute stream and the next GEMM waits for it. `overlapped/`: the all-reduce runs
asynchronously (NCCL's own stream) while the next layers compute; the step waits at its end.
Profiled like the other captures: record_shapes, CPU+CUDA, warmup 2, active 3, ProfilerStep markers.
"""

from __future__ import annotations

import gzip
import os
import shutil
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.profiler import ProfilerActivity, profile, schedule

LAYERS, TOKENS, HIDDEN = 8, 4096, 4096
BUCKET = 128 * 1024 * 1024  # elements: 256 MiB of bf16


def run(rank: int, world: int, out: str, mode: str) -> None:
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29517" if mode == "exposed" else "29518")
    torch.cuda.set_device(rank)
    dist.init_process_group("nccl", rank=rank, world_size=world)
    torch.manual_seed(rank)
    x = torch.randn(TOKENS, HIDDEN, device="cuda", dtype=torch.bfloat16)
    weights = [torch.randn(HIDDEN, HIDDEN, device="cuda", dtype=torch.bfloat16) / 64 for _ in range(2 * LAYERS)]
    buckets = [torch.randn(BUCKET, device="cuda", dtype=torch.bfloat16) for _ in range(LAYERS // 2)]

    def step() -> None:
        pending = []
        h = x
        for layer in range(LAYERS):
            h = torch.relu(h @ weights[2 * layer]) @ weights[2 * layer + 1]
            if layer % 2 == 1:
                bucket = buckets[layer // 2]
                if mode == "exposed":
                    dist.all_reduce(bucket)
                    h = h + bucket[: h.numel()].view_as(h) * 0  # the next layer depends on the reduce
                else:
                    pending.append(dist.all_reduce(bucket, async_op=True))
        for work in pending:
            work.wait()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    path = Path(out) / mode / f"rank{rank}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA], record_shapes=True,
                 schedule=schedule(wait=0, warmup=2, active=3, repeat=1)) as prof:
        for _ in range(5):
            step()
            torch.cuda.synchronize()
            prof.step()
    prof.export_chrome_trace(str(path))
    with path.open("rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    path.unlink()
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "nccl_traces"
    world = min(torch.cuda.device_count(), 2)
    if world < 2:
        raise SystemExit("needs 2 GPUs")
    for mode in ("exposed", "overlapped"):
        mp.spawn(run, args=(world, out, mode), nprocs=world, join=True)
        print(f"{mode}: wrote {out}/{mode}/rank0..{world - 1}.json.gz")


if __name__ == "__main__":
    main()
