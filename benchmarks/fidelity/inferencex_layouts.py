"""The serving layout of aiconfigurator's InferenceX rows, read from InferenceX's benchmark matrix.

    python benchmarks/fidelity/inferencex_layouts.py [--repo GIT_DIR] [--csv silicon_sample.csv] [--out TABLE]
    python benchmarks/fidelity/inferencex_layouts.py --check [--csv silicon_sample.csv]   # the join only

aiconfigurator's corpus holds 1,306 disaggregated rows of the bundled MoE models from InferenceX's
result exports (``source_file=2026-03-25.csv`` / ``2026-04-06.csv``) that leave the worker counts, the
decode expert parallelism, attention-DP and speculative decoding blank. InferenceX (Apache-2.0,
github.com/SemiAnalysisAI/InferenceX) publishes each benchmarked config in its matrix
``.github/configs/nvidia-master.yaml``: engine image, model prefix, runner, precision, framework and per
search-space entry the concurrencies, ``spec-decoding`` and the prefill/decode pools (workers, tp, ep,
dp-attn), with the srt-slurm recipe name (``..._mtp3`` = 3 draft tokens). This script reads that file
from a local mirror of the repository's history at the commits in force when each row was exported and
when it was measured, and writes one table row per (snapshot, config, isl/osl, entry, concurrency).

The join (``match``) keys a corpus row by what it carries: model, system, backend, precision, isl, osl,
the client concurrency (``silicon_concurrency``), the engine image, and the layout figures the export
kept (prefill tp, prefill ep, decode tp: they equal the matrix's; the corpus' decode ep repeats the
prefill ep and is not used). A row matches an entry whose concurrency is the row's; failing that, one
whose concurrency times its decode workers is (the H200 TRT-LLM recipes ``cN_ctx1_genM`` run N
clients per decode worker: 15 of the 16 H200 1k/1k concurrencies of the corpus are such products).
Snapshot: the export's date first, the measurement's day where that has no entry of the row's image.
How a matched pool runs in the planner: ``planner_pool`` (docs/fidelity.md, "Models served today").
Rows with several entries of different layouts or speculation are ambiguous and are not forced.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import yaml

from roofline.errors import InputError

DEFAULT_REPO = Path("/work/.mirror/SemiAnalysisAI+InferenceX/repo")
DEFAULT_CSV = Path("/work/ext/ai-dynamo+aiconfigurator/aic-core/src/aiconfigurator_core/systems/silicon_sample.csv")
TABLE = Path(__file__).resolve().parent / "tables" / "inferencex_layouts.csv"
MATRIX = ".github/configs/nvidia-master.yaml"  # configs/nvidia-master.yaml from 2026-07 on
SOURCE_FILES = ("2026-03-25.csv", "2026-04-06.csv")
RUNNERS = {"h100": "h100_sxm", "h200": "h200_sxm", "b200": "b200_sxm", "b300": "b300_sxm", "gb200": "gb200",
           "gb300": "gb300"}
FRAMEWORKS = {"dynamo-trt": "trtllm", "trt": "trtllm", "dynamo-sglang": "sglang", "sglang": "sglang",
              "vllm": "vllm", "dynamo-vllm": "vllm"}
PREFIXES = {"deepseek-ai/DeepSeek-R1": "dsr1", "openai/gpt-oss-120b": "gptoss", "moonshotai/Kimi-K2.5": "kimik2.5",
            "zhipuai/GLM-5": "glm5", "MiniMaxAI/MiniMax-M2.5": "minimaxm2.5",
            "Qwen/Qwen3.5-397B-A17B": "qwen3.5", "meta-llama/Llama-3.1-70B": "llama70b"}
COLUMNS = ("snapshots", "config", "model_prefix", "precision", "system", "backend", "image", "isl", "osl",
           "concurrency", "spec_decoding", "draft_tokens", "prefill_workers", "prefill_tp", "prefill_ep",
           "prefill_dp_attn", "prefill_nodes", "decode_workers", "decode_tp", "decode_ep", "decode_dp_attn",
           "decode_nodes", "decode_batch", "recipe", "script_mode")
INTS = ("isl", "osl", "concurrency", "prefill_workers", "prefill_tp", "prefill_ep", "decode_workers", "decode_tp",
        "decode_ep")
HEADER = """\
# Serving layouts of InferenceX's disaggregated benchmark configs, derived from the benchmark matrix
# {matrix} of github.com/SemiAnalysisAI/InferenceX (Apache-2.0; Copyright 2025 SemiAnalysis LLC,
# Advanced Micro Devices, NVIDIA CORPORATION), one row per concurrency
# of each search-space entry, at the commits of its main branch in force at these dates (end of day, UTC):
{snapshots}
# Written by benchmarks/fidelity/inferencex_layouts.py; facts only (config names, images, layouts). draft_tokens:
# the recipe name's mtpN (TRT-LLM); blank where spec_decoding is mtp but the matrix names no draft length.
"""


@dataclass(frozen=True)
class Pool:
    workers: int
    tp: int
    ep: int
    dp_attn: bool
    # PREFILL_NODES / DECODE_NODES of the older dynamo-sglang GB200 configs, which declare tp 1, ep 1
    nodes: int | None = None


@dataclass(frozen=True)
class Entry:
    snapshots: frozenset[str]  # the days (of the header's commits) whose matrix holds this entry
    config: str
    model_prefix: str
    precision: str
    system: str
    backend: str
    image: str
    isl: int
    osl: int
    concurrency: int
    spec_decoding: str
    draft_tokens: int | None
    prefill: Pool
    decode: Pool
    recipe: str
    decode_batch: int | None = None  # the recipe's batchN: max sequences per decode rank (TRT-LLM)
    # SCRIPT_MODE of the 2025-12 to 2026-02 dynamo-sglang GB200 configs (``1k1k-low-latency``, ...): which
    # launch script the entry ran, whose engine flags replace the matrix's tp/ep/dp-attn (``low_latency``).
    script_mode: str = ""

    @property
    def layout(self) -> tuple:
        return (self.prefill, self.decode, self.spec_decoding, self.draft_tokens, self.decode_batch, self.script_mode)


@dataclass(frozen=True)
class Match:
    status: str  # "matched" | "none" | "ambiguous"
    entry: Entry | None
    candidates: tuple[Entry, ...]
    scaled: bool = False  # matched through concurrency = entry concurrency × decode workers


# ---------------------------------------------------------------------------------------------- reading

def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=True)
    if done.returncode:
        tail = (done.stderr.strip().splitlines() or [""])[-1]
        raise InputError(f"git {' '.join(args)} failed: {tail}", file=repo,
                         fix="pass --repo with a full clone of SemiAnalysisAI/InferenceX")
    return done.stdout


def commit_at(repo: Path, day: str) -> str:
    """The main branch's commit in force at the end of ``day`` (UTC): first parents only, so a PR's
    own commits never count before their merge."""
    end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    found = _git(repo, "rev-list", "--first-parent", "-1", f"--before={end}T00:00:00Z", "HEAD").strip()
    if not found:
        raise InputError(f"no commit before {end}", file=repo, fix="use a full (unshallow) clone")
    return found


def _recipe(pool: dict) -> str:
    for setting in pool.get("additional-settings") or []:
        if str(setting).startswith("CONFIG_FILE="):
            return str(setting).split("=", 1)[1]
    return ""


def _pools(e: dict) -> tuple[Pool, Pool]:
    settings = " ".join(str(x) for role in ("prefill", "decode") for x in e[role].get("additional-settings") or [])
    pools = []
    for role in ("prefill", "decode"):
        nodes = re.search(rf"{role.upper()}_NODES=(\d+)", settings)
        p = e[role]
        pools.append(Pool(int(p["num-worker"]), int(p["tp"]), int(p["ep"]), bool(p["dp-attn"]),
                          int(nodes.group(1)) if nodes else None))
    return pools[0], pools[1]


def _speculation(e: dict, recipe: str) -> tuple[str, int | None]:
    """spec-decoding and the draft length: 0 without speculation, the recipe's ``mtpN`` with it, None
    where the matrix names none (the dynamo-sglang configs, the 2025 dynamo-trt ones)."""
    spec = str(e.get("spec-decoding") or "none")
    if spec == "none":
        return spec, 0
    drafts = re.search(r"mtp(\d+)", recipe)
    return spec, int(drafts.group(1)) if drafts else None


def entries_of(matrix: dict, snapshot: str) -> list[Entry]:
    """Every (disaggregated config, isl/osl, search-space entry, concurrency) of one matrix."""
    out = []
    for name, cfg in matrix.items():
        if not isinstance(cfg, dict) or not cfg.get("disagg"):
            continue
        system = RUNNERS.get(str(cfg.get("runner", "")).split("-")[0])
        backend = FRAMEWORKS.get(str(cfg.get("framework")))
        if system is None or backend is None:
            continue
        try:
            for seq in cfg.get("seq-len-configs") or []:
                for e in seq.get("search-space") or []:
                    prefill, decode = _pools(e)
                    if decode.workers < 1:  # aggregated serving through the multi-node harness
                        continue
                    recipe = (_recipe(e["prefill"]) or _recipe(e["decode"])).rsplit("/", 1)[-1]
                    spec, draft_tokens = _speculation(e, recipe)
                    batch = re.search(r"_gen\d+_[a-z]+\d+_batch(\d+)", recipe)
                    settings = " ".join(str(x) for role in ("prefill", "decode")
                                        for x in e[role].get("additional-settings") or [])
                    mode = re.search(r"SCRIPT_MODE=(\S+)", settings)
                    for conc in e.get("conc-list") or []:
                        out.append(Entry(frozenset({snapshot}), name, str(cfg["model-prefix"]), str(cfg["precision"]),
                                         system, backend, str(cfg["image"]), int(seq["isl"]), int(seq["osl"]),
                                         int(conc), spec, draft_tokens, prefill, decode, recipe,
                                         int(batch.group(1)) if batch else None, mode.group(1) if mode else ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"config {name} of the {snapshot} matrix: {type(exc).__name__} {exc}", file=MATRIX,
                             fix="a search-space entry needs conc-list and prefill/decode num-worker, tp, ep, dp-attn")
    return out


def snapshot_days(corpus_rows: list[dict[str, str]]) -> list[str]:
    """The export dates and the measurement days of the corpus' disaggregated InferenceX rows."""
    days = {f[:10] for f in SOURCE_FILES}
    for row in corpus_rows:
        if source_file(row) in SOURCE_FILES and row.get("mode") == "disagg" and (m := _field(row, "measured")):
            days.add(m[:10])
    return sorted(days)


def build(repo: Path, days: list[str]) -> tuple[list[Entry], dict[str, str]]:
    """The entries of every snapshot, an entry found in several snapshots once, and each day's commit."""
    if not (repo / "HEAD").exists():
        raise InputError("not a git directory (no HEAD)", file=repo, place="--repo",
                         fix="mirror github.com/SemiAnalysisAI/InferenceX (git clone --mirror) and pass its path")
    merged: dict[Entry, set[str]] = {}
    seen: dict[str, dict] = {}
    commits = {}
    for day in days:
        commit = commits[day] = commit_at(repo, day)
        if commit not in seen:  # before 2025-11-03 the matrix did not exist: nothing to read
            listed = _git(repo, "ls-tree", "--name-only", commit, MATRIX).strip()
            seen[commit] = yaml.safe_load(_git(repo, "show", f"{commit}:{MATRIX}")) if listed else {}
        for e in entries_of(seen[commit], day):
            merged.setdefault(replace(e, snapshots=frozenset()), set()).add(day)
    return [replace(e, snapshots=frozenset(d)) for e, d in merged.items()], commits


def write_table(entries: list[Entry], commits: dict[str, str], path: Path) -> None:
    lines = "\n".join(f"#   {day}: {commit}" for day, commit in sorted(commits.items()))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow([" ".join(sorted(e.snapshots)), e.config, e.model_prefix, e.precision, e.system, e.backend,
                         e.image, e.isl, e.osl, e.concurrency, e.spec_decoding, _blank(e.draft_tokens),
                         e.prefill.workers, e.prefill.tp, e.prefill.ep, str(e.prefill.dp_attn).lower(),
                         _blank(e.prefill.nodes), e.decode.workers, e.decode.tp, e.decode.ep,
                         str(e.decode.dp_attn).lower(), _blank(e.decode.nodes), _blank(e.decode_batch), e.recipe,
                         e.script_mode])
    path.write_text(HEADER.format(matrix=MATRIX, snapshots=lines) + buf.getvalue())


def _blank(value: int | None) -> str:
    return "" if value is None else str(value)


def load_table(path: Path = TABLE) -> list[Entry]:
    """The committed table; every malformed cell is an InputError naming the file, line and column."""
    if not path.is_file():
        raise InputError("no such table", file=path,
                         fix="run python benchmarks/fidelity/inferencex_layouts.py to write it")
    lines = [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1) if not line.startswith("#")]
    if not lines:
        raise InputError("empty table", file=path, fix="rewrite it with inferencex_layouts.py")
    header = next(csv.reader([lines[0][1]]))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, place=f"line {lines[0][0]}",
                         fix=f"the header is {','.join(COLUMNS)}")
    out = []
    for n, line in lines[1:]:
        values = next(csv.reader([line]))
        if len(values) != len(header):
            raise InputError(f"{len(values)} cells for {len(header)} columns", file=path, place=f"line {n}",
                             fix="quote cells that hold commas")
        row = dict(zip(header, values))
        try:
            ints = {k: int(row[k]) for k in INTS}
            if (bad := [k for k in INTS if ints[k] < 1]):
                raise ValueError(f"{bad[0]} is {ints[bad[0]]}, not a positive count")
            flags = {}
            for k in ("prefill_dp_attn", "decode_dp_attn"):
                if row[k] not in ("true", "false"):
                    raise ValueError(f"{k} is {row[k]!r}, not true/false")
                flags[k] = row[k] == "true"
            drafts = int(row["draft_tokens"]) if row["draft_tokens"] else None
            optional = {k: int(row[k]) if row[k] else None for k in ("prefill_nodes", "decode_nodes", "decode_batch")}
            if (bad := [k for k, v in optional.items() if v is not None and v < 1]):
                raise ValueError(f"{bad[0]} is {optional[bad[0]]}, not a positive count")
        except ValueError as exc:
            raise InputError(str(exc), file=path, place=f"line {n}",
                             fix="integers for the counts, true/false for dp_attn, blank or an integer draft_tokens")
        out.append(Entry(frozenset(row["snapshots"].split()), row["config"], row["model_prefix"], row["precision"],
                         row["system"], row["backend"], row["image"], ints["isl"], ints["osl"], ints["concurrency"],
                         row["spec_decoding"], drafts,
                         Pool(ints["prefill_workers"], ints["prefill_tp"], ints["prefill_ep"], flags["prefill_dp_attn"],
                              optional["prefill_nodes"]),
                         Pool(ints["decode_workers"], ints["decode_tp"], ints["decode_ep"], flags["decode_dp_attn"],
                              optional["decode_nodes"]),
                         row["recipe"], optional["decode_batch"], row["script_mode"]))
    return out


# ---------------------------------------------------------------------------------------------- the layout

# A GB200/GB300 NVL72 compute tray (one slurm node) holds 4 GPUs (NVIDIA GB200 NVL72 datasheet: 72 GPUs, 18 trays).
GPUS_PER_NODE = {"gb200": 4, "gb300": 4}


def worker_gpus(pool: Pool, system: str, backend: str) -> int:
    """GPUs per worker: the matrix's tp, except in the 2025 dynamo-sglang GB200 configs, which declare tp 1
    and give the width only as nodes: their launch script (benchmarks/dsr1_*_gb200_dynamo-sglang_slurm.sh)
    passes PREFILL_NODES / DECODE_NODES and the worker counts to the engine's launcher, not the tp
    (``PREFILL_NODES=4`` for 2 workers: 8 GPUs each). The dynamo-trt ones (gpt-oss) take tp as given."""
    if backend == "sglang" and pool.tp == 1 and pool.nodes is not None:
        gpus = pool.nodes * GPUS_PER_NODE.get(system, 0)
        if gpus < pool.workers or gpus % pool.workers:
            raise InputError(f"{pool.nodes} node(s) of {system} do not split over {pool.workers} worker(s)",
                             place="inferencex_layouts.csv", fix="no layout for this entry")
        return gpus // pool.workers
    return pool.tp


def low_latency(pool: Pool, backend: str, script_mode: str) -> bool:
    """A 2025-12 to 2026-02 dynamo-sglang GB200 entry run by a ``*-low-latency`` launch script: the matrix
    says its tp, ep and dp-attn "do nothing because they are hardcoded" in the script (comment in
    dsr1-fp8-gb200-dynamo-sglang of .github/configs/nvidia-master.yaml, e.g. at 25506e87), and those scripts
    start every worker with ``--tensor-parallel-size`` its GPUs, ``--data-parallel-size 1``,
    ``--expert-parallel-size 1`` and ``--mem-fraction-static 0.95`` (ai-dynamo/dynamo
    components/backends/sglang/slurm_jobs/scripts/gb200-fp8/disagg/{1k1k,8k1k}-low-latency.sh; the same flags
    in InferenceX's later recipe benchmarks/multi_node/srt-slurm-recipes/gb200-fp8/1k1k/low-latency.yaml at
    80d98084f): attention and experts tensor-parallel over the worker, not the declared DP."""
    return backend == "sglang" and pool.nodes is not None and script_mode.endswith("low-latency")


# What those low-latency scripts set that the planner reads from runtime (see ``low_latency``).
LOW_LATENCY_RUNTIME = {"memory_fraction": 0.95}


def planner_pool(pool: Pool, system: str, backend: str, batch_per_rank: int | None = None,
                 script_mode: str = "") -> dict[str, int | None]:
    """A matrix pool as a serving.disaggregated pool. dp-attn: attention data-parallel over the worker's
    GPUs (TRT-LLM ``dep8``, SGLang ``--dp N --enable-dp-attention``); otherwise attention TP over them
    (``tep8``/``tp8``). The experts: EP ``ep`` with the rest of the width as expert TP (``ep`` 1: TP only,
    as aiconfigurator's InferenceX adapter reads a declared EP of 1). An entry of a low-latency launch
    script (``low_latency``) runs TP over the worker whatever it declares."""
    width = worker_gpus(pool, system, backend)
    if low_latency(pool, backend, script_mode):
        return {"workers": pool.workers, "tensor": width, "attention_data": 1, "expert": 1, "expert_tensor": width,
                "batch": batch_per_rank}
    if width % pool.ep:
        raise InputError(f"expert parallelism {pool.ep} does not divide a worker's {width} GPUs",
                         place="inferencex_layouts.csv", fix="no layout for this entry")
    tensor, data = (1, width) if pool.dp_attn else (width, 1)
    return {"workers": pool.workers, "tensor": tensor, "attention_data": data, "expert": pool.ep,
            "expert_tensor": width // pool.ep, "batch": batch_per_rank * data if batch_per_rank else None}


# ---------------------------------------------------------------------------------------------- the join

def _field(row: dict[str, str], key: str) -> str:
    found = re.search(rf"{key}=([^;]*)", row.get("silicon_data_source", ""))
    return found.group(1).strip() if found else ""


def source_file(row: dict[str, str]) -> str:
    return _field(row, "source_file")


def _int(row: dict[str, str], key: str) -> int:
    value = (row.get(key) or "").strip()
    return int(float(value)) if value else 0


def same_image(a: str, b: str) -> bool:
    """Registry spellings differ: the matrix writes some NGC images ``nvcr.io#nvidia/...`` (enroot's form),
    the 2026-04-06 export ``nvcr.io/nvidia/...``."""
    return a.replace("#", "/") == b.replace("#", "/")


def match(row: dict[str, str], entries: list[Entry]) -> Match:
    """The one matrix entry a disaggregated InferenceX corpus row was run with, or why there is none."""
    prefix = PREFIXES.get(row["model_path"])
    concurrency = _field(row, "silicon_concurrency")
    if source_file(row) not in SOURCE_FILES or row.get("mode") != "disagg" or prefix is None or not concurrency:
        return Match("none", None, ())
    conc, image = int(concurrency), _field(row, "image")
    measured = _field(row, "measured")[:10]
    recorded = (_int(row, "prefill_tp_size"), _int(row, "prefill_moe_ep_size"), _int(row, "decode_tp_size"))

    def fits(e: Entry) -> bool:
        return (e.model_prefix == prefix and e.precision == row["precision"] and e.system == row["system"]
                and e.backend == row["backend"] and e.isl == _int(row, "isl") and e.osl == _int(row, "osl")
                and (not image or same_image(e.image, image)) and (e.prefill.tp, e.prefill.ep, e.decode.tp) == recorded)

    for snapshot in (source_file(row)[:10], measured):
        family = [e for e in entries if snapshot in e.snapshots and fits(e)]
        for scaled, found in ((False, [e for e in family if e.concurrency == conc]),
                              (True, [e for e in family if e.concurrency * e.decode.workers == conc])):
            if not found:
                continue
            layouts = {e.layout for e in found}
            if len(layouts) == 1:
                return Match("matched", found[0], tuple(found), scaled)
            return Match("ambiguous", None, tuple(found), scaled)
    return Match("none", None, ())


def recorded_entry(row: dict[str, str], entries: list[Entry]) -> Entry | None:
    """The matrix entry behind a disaggregated row of aiconfigurator's ``db-dump`` export, which records the
    worker counts but the layout as the matrix declares it: the entries of the measurement's day with the
    row's model, system, backend, precision, isl/osl, image, client concurrency and prefill/decode worker
    counts, when they agree on one layout (None otherwise, or for any other row). The export files some
    DeepSeek-R1 runs (ids ``dsr1_...``) under DeepSeek-V3, the same architecture: the id's prefix counts."""
    prefix = PREFIXES.get(row["model_path"])
    if prefix is None and row["model_path"] == "deepseek-ai/DeepSeek-V3" and row.get("id", "").startswith("dsr1_"):
        prefix = "dsr1"
    source = row.get("silicon_data_source", "")
    concurrency = _field(row, "silicon_concurrency")
    if not source.startswith("db-dump/") or row.get("mode") != "disagg" or prefix is None or not concurrency:
        return None
    measured = _field(row, "measured")[:10]
    image = source.rsplit(";", 1)[-1].strip()
    workers = (_int(row, "prefill_num_workers"), _int(row, "decode_num_workers"))
    found = [e for e in entries if measured in e.snapshots and e.model_prefix == prefix
             and e.precision == row["precision"] and e.system == row["system"] and e.backend == row["backend"]
             and e.isl == _int(row, "isl") and e.osl == _int(row, "osl") and same_image(e.image, image)
             and e.concurrency == int(concurrency) and (e.prefill.workers, e.decode.workers) == workers]
    return found[0] if found and len({e.layout for e in found}) == 1 else None


def join_counts(corpus_rows: list[dict[str, str]], entries: list[Entry]) -> Counter:
    counts: Counter = Counter()
    for row in corpus_rows:
        if source_file(row) in SOURCE_FILES and row["mode"] == "disagg":
            m = match(row, entries)
            label = m.status + (" (concurrency × decode workers)" if m.scaled and m.status != "none" else "")
            if m.entry is not None and m.entry.draft_tokens is None:
                label += ", MTP draft length unknown"
            counts[label] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=DEFAULT_REPO, help="git directory of an InferenceX mirror")
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="aiconfigurator's silicon_sample.csv")
    ap.add_argument("--out", type=Path, default=TABLE)
    ap.add_argument("--check", action="store_true", help="only report the join of the committed table")
    args = ap.parse_args(argv)
    try:
        if not args.csv.is_file():
            raise InputError("no such file", file=args.csv, place="--csv", fix="pass aiconfigurator's silicon_sample.csv")
        rows = list(csv.DictReader(args.csv.open()))
        if args.check:
            entries = load_table(args.out)
        else:
            entries, commits = build(args.repo, snapshot_days(rows))
            write_table(entries, commits, args.out)
            print(f"wrote {len(entries)} entries to {args.out}")
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from corpus_moe import MODELS  # the MoE models served today; the rest are counted apart
    for label, subset in (("bundled MoE models", [r for r in rows if r["model_path"] in MODELS]),
                          ("other models", [r for r in rows if r["model_path"] not in MODELS])):
        counts = join_counts(subset, entries)
        print(f"{label}: {sum(counts.values())} disaggregated InferenceX rows: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
