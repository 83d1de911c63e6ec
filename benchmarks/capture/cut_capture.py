"""Cut a graph-capture profile down to what ``classify --graph-capture`` reads: every event but
the Python-function events (``cat: python_function``, 90% of a vLLM capture profile), unaltered,
with the trace's other top-level keys in place.

    python3 benchmarks/capture/cut_capture.py CAPTURE.json.gz OUT.json.gz
"""

from __future__ import annotations

import gzip
import json
import sys


def main(source: str, target: str) -> int:
    with gzip.open(source, "rt") as handle:
        document = json.load(handle)
    document["traceEvents"] = [e for e in document["traceEvents"]
                               if not (isinstance(e, dict) and e.get("cat") == "python_function")]
    with gzip.open(target, "wt", compresslevel=9) as handle:
        json.dump(document, handle, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
