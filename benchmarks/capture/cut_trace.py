"""Cut a kineto trace down to one ProfilerStep, keeping its header and trailer.

Used to make the small copies in ``tests/data/external/`` of public traces too large to commit
whole (tests/data/external/README.md names each one).  What is kept:

* every top-level key other than ``traceEvents`` (``schemaVersion``, ``deviceProperties``,
  ``distributedInfo``, ``traceName``, ...), in the original order, so a header or trailer stays
  where it was;
* metadata events (``ph: M``: process and thread names, sort indices);
* every host-side event whose start lies inside the ``ProfilerStep#N`` window (operators, runtime
  and driver calls, annotations, instant events, Python frames);
* the GPU activity (kernels, copies, sets, GPU annotations) launched by a runtime call kept above,
  matched by ``args.correlation``, wherever it runs, and the flow events (``ac2g``) of those
  correlations.

Usage::

    python benchmarks/capture/cut_trace.py IN.json.gz OUT.json.gz --step 3

The output is gzipped with ``mtime=0`` so the same cut gives the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys

GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation"}
FLOW_CATS = {"ac2g", "async_cpu_to_gpu"}


def cut(trace: dict, step: int) -> dict:
    events = trace["traceEvents"]
    name = f"ProfilerStep#{step}"
    windows = [e for e in events if e.get("ph") == "X" and e.get("name") == name and e.get("cat") != "kernel"]
    if not windows:
        found = sorted({e["name"] for e in events if str(e.get("name", "")).startswith("ProfilerStep#")})
        raise SystemExit(f"no {name} in the trace (steps: {', '.join(found) or 'none'})")
    start = min(float(e["ts"]) for e in windows)
    end = max(float(e["ts"]) + float(e.get("dur", 0)) for e in windows)
    kept, correlations = [], set()
    for e in events:
        if e.get("ph") == "M":
            kept.append(e)
        elif e.get("cat") in GPU_CATS or e.get("cat") in FLOW_CATS:
            continue  # decided below, by correlation
        elif "ts" in e and start <= float(e["ts"]) <= end:
            kept.append(e)
            corr = (e.get("args") or {}).get("correlation")
            if corr is not None:
                correlations.add(corr)
    for e in events:
        if e.get("cat") in GPU_CATS and (e.get("args") or {}).get("correlation") in correlations:
            kept.append(e)
        elif e.get("cat") in FLOW_CATS and e.get("id") in correlations:
            kept.append(e)
    return {key: (kept if key == "traceEvents" else value) for key, value in trace.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source")
    parser.add_argument("dest")
    parser.add_argument("--step", type=int, required=True, help="the N of the ProfilerStep#N to keep")
    args = parser.parse_args(argv)
    opener = gzip.open if args.source.endswith(".gz") else open
    with opener(args.source, "rb") as f:
        trace = json.loads(f.read())
    out = json.dumps(cut(trace, args.step)).encode()
    with open(args.dest, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(out)
    kept = len(json.loads(out)["traceEvents"])
    print(f"{args.dest}: kept {kept} of {len(trace['traceEvents'])} events (ProfilerStep#{args.step})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
