"""Test helper: a directory of per-rank kineto traces built from a real H200 trace, one rank slowed.

Each rank is a copy of tests/data/h200/kineto/mini_decode_eager.json.gz (3 decode steps of a
small model, 336 kernels). The slowed rank has every timestamp (relative to the trace's first) and
every duration multiplied by ``factor``: its kernels run ``factor`` times longer and its steps take
``factor`` times as long, as on a throttled or contended GPU.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

SEED = Path(__file__).parent / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"


def stretched(trace: dict, factor: float) -> dict:
    out = json.loads(json.dumps(trace))
    events = out["traceEvents"]
    origin = min(e["ts"] for e in events if isinstance(e.get("ts"), (int, float)))
    for event in events:
        if isinstance(event.get("ts"), (int, float)):
            event["ts"] = origin + (event["ts"] - origin) * factor
        if isinstance(event.get("dur"), (int, float)):
            event["dur"] = event["dur"] * factor
    return out


def build_ranks(
    directory: Path,
    *,
    ranks: int = 8,
    slow_rank: int | None = 5,
    factor: float = 1.5,
    names: str = "rank{rank}.json.gz",
    distributed: bool = True,
    info: Callable[[int], dict | None] | None = None,
) -> Path:
    """Write ``ranks`` traces into ``directory`` (created), rank ``slow_rank`` stretched by ``factor``.
    ``names`` formats each file name from its rank; ``distributed`` adds PyTorch's distributedInfo,
    ``info(rank)`` replaces it (None: that trace has none)."""
    directory.mkdir(parents=True, exist_ok=True)
    trace = json.loads(gzip.decompress(SEED.read_bytes()))
    for rank in range(ranks):
        data = stretched(trace, factor) if rank == slow_rank else json.loads(json.dumps(trace))
        if info is not None:
            if (given := info(rank)) is not None:
                data["distributedInfo"] = given
        elif distributed:
            data["distributedInfo"] = {"backend": "nccl", "rank": rank, "world_size": ranks}
        # Header keys before the event array, one event per line, as kineto writes them.
        header = {k: v for k, v in data.items() if k != "traceEvents"}
        lines = ",\n".join(json.dumps(e) for e in data["traceEvents"])
        text = json.dumps(header)[:-1] + ', "traceEvents": [\n' + lines + "\n]}\n"
        path = directory / names.format(rank=rank)
        path.write_bytes(gzip.compress(text.encode()) if path.name.endswith(".gz") else text.encode())
    return directory


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write a directory of per-rank traces, one rank slowed.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--ranks", type=int, default=8)
    parser.add_argument("--slow-rank", type=int, default=5)
    parser.add_argument("--factor", type=float, default=1.5, help="how much slower the slow rank runs")
    args = parser.parse_args()
    build_ranks(args.directory, ranks=args.ranks, slow_rank=args.slow_rank, factor=args.factor)
    print(f"wrote {args.ranks} ranks to {args.directory} (rank {args.slow_rank} {args.factor:g}x slower)")


if __name__ == "__main__":
    main()
