"""Fuzzing every config loader — declared kernels, hardware specs, measured-ceilings overlays,
serving configs, Hugging Face config.json, gate thresholds, snapshots, benchmark JSON, classify
JSON — from the bundled files, each through what the tool does with it next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzzkit import (
    BENCHMARK_DOC,
    CEILINGS_SEEDS,
    DECLARED_SEEDS,
    HWSPEC_SEEDS,
    MODEL_SEEDS,
    SERVING_SEEDS,
    SNAPSHOT_SEEDS,
    THRESHOLD_SEEDS,
    attempt,
    classify_json_seed,
    damage_bytes,
    fuzz_settings,
    leaf_paths,
    mutate_tree,
    run_classify,
    run_classify_json,
    run_hwspec,
    run_model,
    run_serving,
    run_snapshot,
    run_thresholds,
    seed_bytes,
    seed_json,
    seed_yaml,
)


def run_declared(path: Path):
    return run_classify(path, hw="h100-sxm")


YAML_TARGETS = {
    "declared kernels": (DECLARED_SEEDS, run_declared),
    "hardware spec": (HWSPEC_SEEDS, run_hwspec),
    "ceilings overlay": (CEILINGS_SEEDS, run_hwspec),
    "serving config": (SERVING_SEEDS, run_serving),
    "gate thresholds": (THRESHOLD_SEEDS, run_thresholds),
}
JSON_TARGETS = {
    "hf config.json": (MODEL_SEEDS, run_model, "config.json"),
    "snapshot": (SNAPSHOT_SEEDS, run_snapshot, "baseline.json"),
    "benchmark json": ([None], run_snapshot, "bench.json"),
    "classify json": (["classify"], run_classify_json, "result.json"),
}


def _json_seed(seed: Path | str | None) -> Any:
    if seed is None:
        return json.loads(json.dumps(BENCHMARK_DOC))
    if seed == "classify":
        return json.loads(classify_json_seed())
    return seed_json(seed)


def _dump_yaml(data: Any, draw) -> str:
    # Flow or block style, and sometimes a repeated object, which safe_dump writes as an alias.
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), default_flow_style=draw(st.booleans()),
                          sort_keys=False)


@given(data=st.data(), target=st.sampled_from(sorted(YAML_TARGETS)))
@fuzz_settings(250)
def test_yaml_configs_wrong_values(workdir: Path, data: st.DataObject, target: str) -> None:
    """Wrong types, NaN/inf/negative/huge numbers, hostile text, deleted and duplicated keys."""
    seeds, run = YAML_TARGETS[target]
    seed = data.draw(st.sampled_from(seeds))
    doc = seed_yaml(seed)
    described = [mutate_tree(data.draw, doc, leaf_paths(doc)) for _ in range(data.draw(st.integers(1, 3)))]
    if data.draw(st.booleans()) and isinstance(doc, dict) and doc:
        # Non-finite floats, which JSON cannot carry but YAML can.
        key = data.draw(st.sampled_from(sorted(map(str, doc))))
        doc[key] = data.draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        described.append(f"{key} = non-finite")
    path = workdir / f"config{seed.suffix}"
    path.write_text(_dump_yaml(doc, data.draw))
    attempt(target, path, run, what=f"{seed.name}: {'; '.join(described)}")


@given(data=st.data(), target=st.sampled_from(sorted(YAML_TARGETS)))
@fuzz_settings(120)
def test_yaml_configs_damaged_text(workdir: Path, data: st.DataObject, target: str) -> None:
    """Truncated at any byte, bytes flipped, deleted or inserted (tabs, quotes, NUL, tags)."""
    seeds, run = YAML_TARGETS[target]
    seed = data.draw(st.sampled_from(seeds))
    text = seed_bytes(seed)
    if data.draw(st.integers(0, 4)) == 0:
        token = data.draw(st.sampled_from([b"!!python/object/apply:os.system ['true']", b"!!binary AAAA", b"&a",
                                           b"*a", b"<<: *a", b"\t", b"%YAML 1.1\n---\n", b"---\n", b"...\n"]))
        at = data.draw(st.integers(0, len(text)))
        damaged, how = text[:at] + token + text[at:], f"{token!r} at {at}"
    else:
        damaged, how = damage_bytes(data.draw, text)
    path = workdir / f"config{seed.suffix}"
    path.write_bytes(damaged)
    attempt(target, path, run, what=f"{seed.name}: {how}")


def _alias_bomb(levels: int, width: int) -> list:
    node: list = ["lol"] * width
    for _ in range(levels):
        node = [node] * width  # the same object repeated: safe_dump writes anchors and aliases
    return node


@given(data=st.data(), target=st.sampled_from(sorted(YAML_TARGETS)), levels=st.integers(2, 9),
       width=st.integers(2, 12))
@fuzz_settings(40)
def test_yaml_alias_bombs(workdir: Path, data: st.DataObject, target: str, levels: int, width: int) -> None:
    """Billion laughs placed at any key: refused when it expands past the cap, else harmless."""
    seeds, run = YAML_TARGETS[target]
    seed = data.draw(st.sampled_from(seeds))
    doc = seed_yaml(seed)
    paths = leaf_paths(doc)
    where = data.draw(st.sampled_from(paths))
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = _alias_bomb(levels, width)
    path = workdir / f"bomb{seed.suffix}"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    expanded = width ** (levels + 1)
    attempt(f"{target} (alias bomb)", path, run, what=f"{seed.name}: {width}^{levels + 1} at {where}",
            must_reject=expanded > 200_000)


@given(data=st.data(), target=st.sampled_from(sorted(JSON_TARGETS)))
@fuzz_settings(250)
def test_json_configs_wrong_values(workdir: Path, data: st.DataObject, target: str) -> None:
    seeds, run, name = JSON_TARGETS[target]
    seed = data.draw(st.sampled_from(seeds))
    doc = _json_seed(seed)
    described = [mutate_tree(data.draw, doc, leaf_paths(doc)) for _ in range(data.draw(st.integers(1, 3)))]
    if data.draw(st.integers(0, 5)) == 0:
        # Python's json writes NaN/Infinity tokens, which are not JSON: a reader must refuse them.
        described.append("NaN token")
        doc = {"__nan__": float("nan"), **doc} if isinstance(doc, dict) else [float("nan"), doc]
    path = workdir / name
    path.write_text(json.dumps(doc, indent=data.draw(st.sampled_from([None, 1]))))
    attempt(target, path, run, what=f"{seed}: {'; '.join(described)}",
            must_reject="NaN token" in described)


@given(data=st.data(), target=st.sampled_from(sorted(JSON_TARGETS)))
@fuzz_settings(120)
def test_json_configs_damaged_text(workdir: Path, data: st.DataObject, target: str) -> None:
    seeds, run, name = JSON_TARGETS[target]
    seed = data.draw(st.sampled_from(seeds))
    text = json.dumps(_json_seed(seed), indent=1).encode()
    damaged, how = damage_bytes(data.draw, text)
    path = workdir / name
    path.write_bytes(damaged)
    # A JSON document cut short is not JSON: it must be refused, never half-read.
    attempt(target, path, run, what=f"{seed}: {how}",
            must_reject=how.startswith("truncated") and damaged.strip() != text.strip())


@given(data=st.data())
@fuzz_settings(60)
def test_serving_config_extreme_but_valid_values(workdir: Path, data: st.DataObject) -> None:
    """Configs that pass the schema with extreme numbers: the planner's arithmetic must stay
    finite (or say the config does not fit), never overflow, divide by zero or hang."""
    sizes = st.one_of(st.integers(1, 8), st.sampled_from([1, 2**20, 10**7, 2**31, 10**12]))
    positive = st.one_of(st.floats(min_value=1e-6, max_value=1e9), st.floats(min_value=1e-6, max_value=1e4),
                         st.sampled_from([1e-6, 1e12, 5e-324, 1e300]))
    tensor = data.draw(st.sampled_from([1, 2, 8, 64, 1024]))
    doc = {
        "model": data.draw(st.sampled_from(["llama-3-70b", "llama-3-8b", "mixtral-8x7b", "qwen3-30b-a3b"])),
        "hardware": data.draw(st.sampled_from(["h100-sxm", "h200", "l4", "mi300x", "tpu-v5e", "b200"])),
        "gpus": tensor * data.draw(st.sampled_from([1, 2, 4])),
        "parallelism": {"tensor": tensor},
        "precision": {"weights": data.draw(st.sampled_from(["fp16", "fp8", "int4", "fp4"])),
                      "kv_cache": data.draw(st.sampled_from(["fp16", "int8", "int4"]))},
        "serving": {"batch": data.draw(sizes), "prompt_tokens": data.draw(sizes), "output_tokens": data.draw(sizes)},
        "slo": {"ttft_ms": data.draw(positive), "itl_ms": data.draw(positive), "throughput_tok_s": data.draw(positive)},
        "runtime": {k: data.draw(st.booleans()) for k in ("cuda_graphs", "flash_attention", "compiled")},
    }
    if data.draw(st.booleans()):
        doc["speculative"] = {"draft_params_b": data.draw(st.floats(1e-3, 1e5)), "k": data.draw(st.integers(1, 16)),
                              "acceptance": data.draw(st.floats(min_value=1e-9, max_value=0.999999))}
    path = workdir / "serve.yaml"
    path.write_text(yaml.safe_dump(doc))
    attempt("serving config (extreme)", path, run_serving, what=json.dumps(doc))
