"""The join of aiconfigurator's disaggregated InferenceX rows to InferenceX's benchmark matrix.

benchmarks/fidelity/inferencex_layouts.py wrote benchmarks/fidelity/tables/inferencex_layouts.csv from
.github/configs/nvidia-master.yaml of github.com/SemiAnalysisAI/InferenceX (Apache-2.0). The corpus rows
below are copied from aiconfigurator's silicon_sample.csv (the fields the join reads); the expected
layouts were read by hand off the matrix (``git show <commit>:.github/configs/nvidia-master.yaml``)
at the commits the table's header lists.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from roofline.errors import InputError

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "fidelity"


def _load(name: str):
    """A benchmark script as a module, under its own name (corpus_moe imports inferencex_layouts so)."""
    if name in sys.modules:
        return sys.modules[name]
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


ix = _load("inferencex_layouts")
TABLE = ix.load_table()


def _row(model: str, system: str, backend: str, precision: str, isl: int, osl: int, ptp: int, pep: int, dtp: int,
         source: str) -> dict[str, str]:
    return {"model_path": model, "system": system, "backend": backend, "precision": precision, "mode": "disagg",
            "isl": str(isl), "osl": str(osl), "prefill_tp_size": str(ptp), "prefill_moe_ep_size": str(pep),
            "decode_tp_size": str(dtp), "decode_moe_ep_size": str(pep), "silicon_data_source": source}


# 2026_04_06_deepseek_r1_b200_sxm_trtllm_fp4_disagg_8192x1024_c60_tp4_ep4_1271. Matrix of 2026-04-06
# (51e31df4a), dsr1-fp4-b200-dynamo-trt, isl 8192 / osl 1024, the entry with conc-list [10, 15, 30, 60]:
# spec-decoding mtp, prefill 1 worker tp 4 ep 4 dp-attn true, decode 5 workers tp 8 ep 8 dp-attn false,
# CONFIG_FILE .../8k1k/mtp/ctx1_gen5_tep8_batch8_eplb0_mtp3.yaml.
B200_MTP = _row("deepseek-ai/DeepSeek-R1", "b200_sxm", "trtllm", "fp4", 8192, 1024, 4, 4, 8,
                "source_file=2026-04-06.csv; model=DeepSeek-R1; silicon_concurrency=60; "
                "measured=2026-01-29T00:00:00.000Z; wip=False; image=nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1.post1")
# 2026_03_25_deepseek_r1_h200_sxm_trtllm_fp8_disagg_1024x1024_c288_tp8_0_ep8_0_353: no entry lists 288;
# dsr1-fp8-h200-dynamo-trt 1k/1k, conc-list [32], no speculation, prefill 1 × tp 8 ep 8 dp-attn true,
# decode 9 × tp 8 ep 8 dp-attn false (c32_ctx1_gen9_tep8_batch256_eplb0_mtp0): 32 × 9 = 288 clients.
H200_SCALED = _row("deepseek-ai/DeepSeek-R1", "h200_sxm", "trtllm", "fp8", 1024, 1024, 8, 8, 8,
                   "source_file=2026-03-25.csv; model=DeepSeek-R1; silicon_concurrency=288; "
                   "measured=2026-03-23T13:00:07Z; wip=False; image=nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.8.1.post1")
# 144 = 16 × 9 for two entries of the same matrix: c16_ctx1_gen9_tep8_batch128_eplb0_mtp3 (mtp) and
# c16_ctx1_gen9_tep8_batch256_eplb0_mtp0 (none); the row does not say which.
H200_AMBIGUOUS = {**H200_SCALED, "silicon_data_source": H200_SCALED["silicon_data_source"].replace("=288", "=144")}
# 2026_04_06_deepseek_r1_gb200_sglang_fp4_disagg_1024x1024_c2048_tp1_ep1_1197 (refused before: every pool
# tp 1). Matrix of 2025-12-21 (be3394ea5931), dsr1-fp4-gb200-dynamo-sglang 1k/1k, conc-list
# [512, 1024, 2048, 4096, 8192]: prefill 4 workers tp 1 ep 1 dp-attn true PREFILL_NODES=4; decode 1 worker
# dp-attn true DECODE_NODES=12; image lmsysorg/sglang:v0.5.5.post2.
GB200_SGLANG = _row("deepseek-ai/DeepSeek-R1", "gb200", "sglang", "fp4", 1024, 1024, 1, 1, 1,
                    "source_file=2026-04-06.csv; model=DeepSeek-R1; silicon_concurrency=2048; "
                    "measured=2025-12-21T00:00:00.000Z; wip=False; image=lmsysorg/sglang:v0.5.5.post2")
# 2026_04_06_deepseek_r1_gb200_trtllm_fp4_disagg_1024x1024_c144_tp36_ep1_1074: pools "tp 36", no image,
# measured 2025-12-05; no dsr1-fp4-gb200-dynamo-trt entry then has tp 36.
GB200_NONE = _row("deepseek-ai/DeepSeek-R1", "gb200", "trtllm", "fp4", 1024, 1024, 36, 1, 36,
                  "source_file=2026-04-06.csv; model=DeepSeek-R1; silicon_concurrency=144; "
                  "measured=2025-12-05T00:00:00.000Z; wip=False")


def test_a_row_matches_its_entry_with_workers_and_mtp_draft_length() -> None:
    m = ix.match(B200_MTP, TABLE)
    assert m.status == "matched" and not m.scaled
    e = m.entry
    assert (e.config, e.spec_decoding, e.draft_tokens, e.decode_batch) == ("dsr1-fp4-b200-dynamo-trt", "mtp", 3, 8)
    assert e.prefill == ix.Pool(1, 4, 4, True)
    assert e.decode == ix.Pool(5, 8, 8, False)


def test_concurrency_as_clients_per_decode_worker() -> None:
    m = ix.match(H200_SCALED, TABLE)
    assert m.status == "matched" and m.scaled
    assert (m.entry.concurrency, m.entry.spec_decoding, m.entry.draft_tokens) == (32, "none", 0)
    assert m.entry.decode == ix.Pool(9, 8, 8, False)


def test_ambiguous_rows_are_not_forced() -> None:
    m = ix.match(H200_AMBIGUOUS, TABLE)
    assert m.status == "ambiguous" and m.entry is None
    assert sorted((e.spec_decoding, e.draft_tokens) for e in m.candidates) == [("mtp", 3), ("none", 0)]


def test_rows_with_no_entry_are_reported_none() -> None:
    assert ix.match(GB200_NONE, TABLE).status == "none"
    assert ix.match({**B200_MTP, "mode": "agg"}, TABLE).status == "none"  # only disaggregated rows join


def test_the_older_sglang_gb200_configs_give_the_width_as_nodes() -> None:
    m = ix.match(GB200_SGLANG, TABLE)
    assert m.status == "matched"
    assert (m.entry.prefill.workers, m.entry.prefill.nodes, m.entry.decode.workers, m.entry.decode.nodes) == (4, 4, 1, 12)
    # 4 nodes × 4 GPUs over 4 workers; 12 nodes × 4 GPUs for the one decode worker (an NVL72 tray is 4 GPUs)
    assert ix.planner_pool(m.entry.prefill, "gb200", "sglang") == {
        "workers": 4, "tensor": 1, "attention_data": 4, "expert": 1, "expert_tensor": 4, "batch": None}
    assert ix.planner_pool(m.entry.decode, "gb200", "sglang")["attention_data"] == 48
    # dynamo-trt takes the declared tp as the width even where nodes are given (gpt-oss prefill: tp 1, 1 GPU)
    assert ix.worker_gpus(ix.Pool(1, 1, 1, False, 1), "gb200", "trtllm") == 1


def test_registry_spellings_of_an_image_are_one_image() -> None:
    assert ix.same_image("nvcr.io#nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0.post2",
                         "nvcr.io/nvidia/ai-dynamo/tensorrtllm-runtime:0.7.0.post2")
    assert not ix.same_image("lmsysorg/sglang:v0.5.8-cu130", "lmsysorg/sglang:v0.5.8.post1-cu130")


def test_matched_rows_plan_with_the_matrix_layout() -> None:
    moe = _load("corpus_moe")
    entry = moe.usable(ix.match(B200_MTP, TABLE))
    cfg = moe.row_config({**B200_MTP, "gemm_quant_mode": "nvfp4", "moe_quant_mode": "nvfp4"}, "deepseek-r1", entry)
    layout = cfg.serving.disaggregated
    assert cfg.gpus == 1 * 4 + 5 * 8
    assert (layout.prefill.workers, layout.prefill.tensor, layout.prefill.attention_data, layout.prefill.expert) == (1, 1, 4, 4)
    assert (layout.decode.workers, layout.decode.tensor, layout.decode.attention_data, layout.decode.expert) == (5, 8, 1, 8)
    assert layout.decode.batch == 8  # batch8: 8 sequences per decode rank, one rank (tep8: attention TP)
    assert cfg.speculative is not None and cfg.speculative.mtp and cfg.speculative.k == 3
    assert moe.mode_label(B200_MTP, ix.match(B200_MTP, TABLE)) == "disagg"
    assert moe.mode_label(H200_AMBIGUOUS, ix.match(H200_AMBIGUOUS, TABLE)) == "disagg?"


def test_a_formerly_refused_sglang_gb200_row_plans() -> None:
    moe = _load("corpus_moe")
    row = {**GB200_SGLANG, "gemm_quant_mode": "nvfp4", "moe_quant_mode": "nvfp4"}
    cfg = moe.row_config(row, "deepseek-r1", moe.usable(ix.match(GB200_SGLANG, TABLE)))
    assert cfg.gpus == 4 * 4 + 48
    spec, roofs = moe._hardware(cfg.hardware)
    prediction = moe.evaluate(cfg, moe.build_context(cfg, moe.load_model("deepseek-r1")[0], spec, roofs)).prediction
    assert prediction.itl_s > 0


# dsr1_gb200_sglang_fp8_disagg_1024x1024_c128_cfg227 (db-dump/2026-04-27, filed under DeepSeek-V3): it records
# prefill 1 worker attention-DP 4 × moe-TP 4, decode 4 such workers — the matrix's declared layout. Matrix of
# 2025-12-21 (be3394ea5931), dsr1-fp8-gb200-dynamo-sglang 1k/1k, conc-list [2, 4, 8, 16, 64, 128]:
# PREFILL_NODES=1, DECODE_NODES=4, SCRIPT_MODE=1k1k-low-latency, whose script runs TP 4, DP 1, EP 1 at
# --mem-fraction-static 0.95 (ix.low_latency).
DB_DUMP_LOW_LATENCY = {
    "id": "dsr1_gb200_sglang_fp8_disagg_1024x1024_c128_cfg227", "model_path": "deepseek-ai/DeepSeek-V3",
    "system": "gb200", "backend": "sglang", "precision": "fp8", "mode": "disagg", "isl": "1024", "osl": "1024",
    "gemm_quant_mode": "fp8_block", "moe_quant_mode": "fp8_block",
    "silicon_data_source": "db-dump/2026-04-27; config_id=227; silicon_concurrency=128; "
                           "measured=2025-12-21T00:00:00.000Z; workflow_run_id=227; lmsysorg/sglang:v0.5.5.post2",
    **{f"{role}_{k}": v for role, workers, batch in (("prefill", "1", "1"), ("decode", "4", "8"))
       for k, v in (("num_workers", workers), ("batch_size", batch), ("tp_size", "1"), ("pp_size", "1"),
                    ("attention_dp_size", "4"), ("moe_tp_size", "4"), ("moe_ep_size", "1"))},
}


def test_a_low_latency_script_runs_tensor_parallel_at_its_memory_fraction() -> None:
    moe = _load("corpus_moe")
    entry = ix.recorded_entry(DB_DUMP_LOW_LATENCY, TABLE)
    assert entry is not None and entry.script_mode == "1k1k-low-latency"
    assert (entry.prefill.nodes, entry.decode.workers, entry.decode.nodes) == (1, 4, 4)
    assert ix.planner_pool(entry.prefill, "gb200", "sglang", script_mode=entry.script_mode) == {
        "workers": 1, "tensor": 4, "attention_data": 1, "expert": 1, "expert_tensor": 4, "batch": None}
    cfg = moe.row_config(DB_DUMP_LOW_LATENCY, "deepseek-v3", script_mode=entry.script_mode)
    pre = cfg.serving.disaggregated.prefill
    assert (pre.tensor, pre.attention_data, pre.expert) == (4, 1, 1) and cfg.runtime.memory_fraction == 0.95
    spec, roofs = moe._hardware(cfg.hardware)
    arch = moe.load_model("deepseek-v3")[0]
    assert moe.evaluate(cfg, moe.build_context(cfg, arch, spec, roofs)).prediction.itl_s > 0
    # As recorded (attention DP 4, the attention weights on every GPU) the worker did not fit a GB200.
    declared = moe.row_config(DB_DUMP_LOW_LATENCY, "deepseek-v3")
    with pytest.raises(InputError, match="prefill worker does not fit"):
        moe.evaluate(declared, moe.build_context(declared, arch, spec, roofs))
    # Other db-dump rows and other sources do not join this way.
    assert ix.recorded_entry({**DB_DUMP_LOW_LATENCY, "silicon_data_source": GB200_SGLANG["silicon_data_source"]},
                             TABLE) is None


# 2026_04_06_deepseek_r1_gb200_sglang_fp4_disagg_1024x1024_c8192_tp1_ep1_1200: concurrency 8192 is in two
# entries of dsr1-fp4-gb200-dynamo-sglang (2025-12-21): the same prefill (4 workers, PREFILL_NODES=4), one
# decode worker on DECODE_NODES=8 or on 12. Refused before (one GPU per worker from the blank counts).
GB200_TWO_DECODES = {**GB200_SGLANG, "silicon_data_source": GB200_SGLANG["silicon_data_source"].replace("=2048", "=8192")}


def test_an_ambiguous_row_plans_with_the_smallest_candidate_and_stays_apart() -> None:
    moe = _load("corpus_moe")
    found = ix.match(GB200_TWO_DECODES, TABLE)
    assert found.status == "ambiguous"
    assert sorted(e.decode.nodes for e in found.candidates) == [8, 12]
    chosen = moe.stand_in(found)
    assert chosen.decode.nodes == 8 and chosen.prefill.nodes == 4
    assert moe.stand_in(ix.match(B200_MTP, TABLE)) is None  # a matched row needs no stand-in
    assert moe.mode_label(GB200_TWO_DECODES, found) == "disagg?"


HEADER = ",".join(ix.COLUMNS)
GOOD = ("2026-04-06,cfg,dsr1,fp4,b200_sxm,trtllm,img,8192,1024,60,mtp,3,1,4,4,true,,5,8,8,false,,8,"
        "ctx1_gen5_tep8_batch8_eplb0_mtp3.yaml,")


def test_the_table_loader_reads_a_good_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(f"# a comment\n{HEADER}\n{GOOD}\n")
    (entry,) = ix.load_table(path)
    assert entry.decode == ix.Pool(5, 8, 8, False) and entry.draft_tokens == 3 and entry.snapshots == {"2026-04-06"}


@pytest.mark.parametrize(("text", "says"), [
    (f"{HEADER.replace(',decode_ep', '')}\n", "missing column(s) decode_ep"),
    (f"{HEADER}\n{GOOD.replace(',5,8,8,', ',five,8,8,')}\n", "line 2: invalid literal"),
    (f"{HEADER}\n{GOOD.replace(',true,', ',yes,')}\n", "prefill_dp_attn is 'yes', not true/false"),
    (f"{HEADER}\n{GOOD.replace(',5,8,8,', ',0,8,8,')}\n", "decode_workers is 0, not a positive count"),
    (f"{HEADER}\n{GOOD},extra\n", "26 cells for 25 columns"),
    ("# only comments\n", "empty table"),
])
def test_the_table_loader_names_the_bad_place(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        ix.load_table(path)
    assert says in str(err.value) and str(path) in str(err.value)


def test_a_missing_table_or_mirror_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    with pytest.raises(InputError, match="no such table"):
        ix.load_table(tmp_path / "absent.csv")
    csv_path = tmp_path / "corpus.csv"
    csv_path.write_text("id,mode\n")
    assert ix.main(["--repo", str(tmp_path / "no-mirror"), "--csv", str(csv_path), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "not a git directory" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("ep", "copies"), [(8, 0), (16, 0), (24, 32), (48, 32), (40, 24), (56, 24), (72, 32)])
def test_redundant_experts_follow_inferencex_sglang_recipes(ep: int, copies: int) -> None:
    # InferenceX's SGLang GLM-5.1 GB300 fp8 recipes (256 routed experts): ep-num-redundant-experts 32 at EP
    # 24/48 (8k1k_mtp_hightpt_1, 1k1k_mtp_hightpt_3), 24 at EP 40/56 (8k1k_mtp_hightpt_3, 1k1k_mtp_hightpt_4).
    # The rule then gives 32 at EP 72 (288 = 72 × 4); a dividing EP needs none.
    moe = _load("corpus_moe")
    assert moe.redundant_experts(256, ep) == copies
    assert (256 + copies) % ep == 0
