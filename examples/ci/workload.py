"""A small PyTorch workload for the CI gate example: a 4-layer pre-norm MLP stack run forward,
one call of the model per step, fast enough for a CPU runner (about 1.5 ms a step on one thread).

    roofline profile --steps 8 --warmup 2 -o trace.json.gz -- python examples/ci/workload.py
    python examples/ci/workload.py --regress    # a deliberate regression: a float64 round trip per layer

Runs on the GPU when there is one (bf16), else on the CPU (fp32). Seeds are fixed so that two
runs do the same work; what the gate checks is in examples/ci/gate.yaml.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, width: int, regress: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)
        self.regress = regress

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.down(torch.nn.functional.gelu(self.up(self.norm(x))))
        if self.regress:
            # The kind of slip the gate is for: a precision round trip left in after debugging.
            h = h.double().to(x.dtype)
        return x + h


class Stack(nn.Module):
    def __init__(self, width: int, layers: int, regress: bool) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Layer(width, regress) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="calls of the model (profile takes warmup + steps)")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--regress", action="store_true", help="add a float64 round trip per layer")
    args = parser.parse_args()
    torch.manual_seed(0)
    # One intra-op thread on the CPU: on a shared 2-core runner, OpenMP threads waiting for a core
    # that another job holds made steps 100x slower (1.2 ms → 125 ms) from one run to the next.
    torch.set_num_threads(1)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model = Stack(args.width, args.layers, args.regress).to(device, dtype).eval()
    x = torch.randn(args.batch, args.width, device=device, dtype=dtype)
    with torch.inference_mode():
        for _ in range(args.steps):
            y = model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
    print(f"workload: {args.steps} steps of a {args.layers}-layer MLP stack, width {args.width}, "
          f"batch {args.batch}, {dtype} on {device}; checksum {float(y.float().sum()):.4f}")


if __name__ == "__main__":
    main()
