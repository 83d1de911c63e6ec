"""A directory is the ranks of one job only when its traces say so (distributedInfo, a shared job
identifier); otherwise it is a set of separate traces, each classified on its own.

The ``distributedInfo`` objects and job keys below are copied from the headers of real traces in
Holistic Trace Analysis' tests/data (github.com/facebookresearch/HolisticTraceAnalysis, MIT
licence, Copyright (c) Meta Platforms, Inc. and affiliates) and AMD TraceLens' tests/traces
(github.com/AMD-AGI/TraceLens, MIT licence, Copyright (c) Advanced Micro Devices, Inc.); only
these header excerpts are copied, never the events.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet_ranks import build_ranks
from roofline.cli import app
from roofline.fleet.job import TraceHeader, check_job
from roofline.fleet.ranks import discover, read_header

runner = CliRunner()
KINETO = Path(__file__).parent / "data" / "h200" / "kineto"

# HTA tests/data/trace_filter/sampled_rank-0.json.gz and sampled_rank-1.json.gz: 2 of 128 ranks.
SAMPLED_RANK_0 = {"backend": "nccl", "rank": 0, "world_size": 128}
SAMPLED_RANK_1 = {"backend": "nccl", "rank": 1, "world_size": 128}
# HTA tests/data/trace_diff/test/test.json.gz and control/control.json.gz: two different runs.
TRACE_DIFF_TEST = {"backend": "nccl", "rank": 1, "world_size": 2}
TRACE_DIFF_CONTROL = {"backend": "nccl", "rank": 3, "world_size": 8}
# HTA tests/data/trace_compare/base/base.json.gz (test/test.json.gz carries the same).
TRACE_COMPARE = {"rank": 1}
# HTA tests/data/rank_unavailable/rank_not_found.json.gz.
RANK_NOT_FOUND = {"backend": "nccl"}
# HTA tests/data/nccl_parser_config/nccl_data.json.gz: recent PyTorch, with the process groups.
NCCL_DATA = {"backend": "nccl", "rank": 0, "world_size": 2, "pg_count": 1,
             "pg_config": [{"pg_name": "0", "pg_desc": "default_pg", "backend_config": "cuda:nccl", "pg_size": 2,
                            "ranks": [0, 1]}], "nccl_version": "2.17.1"}
# HTA tests/data/ns_resolution_trace/rank-0.Apr_03_18_51_38.1102.pt.trace.json.gz: a world of one.
NS_RESOLUTION = {"backend": "nccl", "rank": 0, "world_size": 1, "pg_count": 1,
                 "pg_config": [{"pg_name": "0", "uid": 0, "backend_config": "cuda:nccl", "pg_size": 1, "ranks": [0]}],
                 "nccl_version": "2.17.1"}
NS_RESOLUTION_JOB = {"tw_job": "torchx-pytorch_resnet_integration_test-bq9m2dtfhskc6c.python.olc3xt"}
# HTA tests/data/mtia_inference_trace/mtia_inference_rank_0.json.gz: no distributedInfo, a group id.
MTIA_GROUP = {"group_trace_id": "6e4c5d49-31d6-410f-83cf-8827e227851d"}
# TraceLens tests/traces/mi300/resnet_act_checkpoint.json.gz: ResNet DDP on 8 MI300X (RCCL is "nccl").
RESNET_MI300 = {"backend": "nccl", "rank": 0, "world_size": 8, "pg_count": 1,
                "pg_config": [{"pg_name": "0", "pg_desc": "default_pg", "backend_config": "cuda:nccl", "pg_size": 8,
                               "ranks": [0, 1, 2, 3, 4, 5, 6, 7]}], "nccl_version": "2.22.3"}
# HTA tests/data/cpu_only/rank-34.Jul_15_10_52_41.1074.pt.trace.json.gz (pg_config left out here).
CPU_ONLY_34 = {"backend": "gloo", "rank": 34, "world_size": 300}


def write_trace(path: Path, header: dict, *, trailer: dict | None = None, indent: int | None = None) -> Path:
    """A tiny kineto-layout file: ``header`` keys, the events, then ``trailer`` keys."""
    body = json.dumps({**header, "traceEvents": [{"ph": "X", "name": "k", "ts": 0, "dur": 1}], **(trailer or {})},
                      indent=indent)
    path.write_bytes(gzip.compress(body.encode()) if path.name.endswith(".gz") else body.encode())
    return path


@pytest.fixture
def header(tmp_path: Path) -> Callable[..., TraceHeader]:
    """read_header of a file written with this distributedInfo (None: none) and these header keys."""
    def make(name: str, info: dict | None, **extra: object) -> TraceHeader:
        found = read_header(write_trace(tmp_path / name, {**extra, **({"distributedInfo": info} if info else {})}))
        assert found is not None
        return found

    return make


def test_two_ranks_of_one_128_rank_job_are_one_job(header: Callable[..., TraceHeader]) -> None:
    job = check_job([header("sampled_rank-0.json.gz", SAMPLED_RANK_0), header("sampled_rank-1.json.gz", SAMPLED_RANK_1)])
    assert job.one_job and job.basis == "distributedInfo"
    assert (job.world_size, job.backend, job.reasons) == (128, "nccl", [])


def test_traces_of_two_runs_with_different_world_sizes_are_separate(header: Callable[..., TraceHeader]) -> None:
    job = check_job([header("test.json.gz", TRACE_DIFF_TEST), header("control.json.gz", TRACE_DIFF_CONTROL)])
    assert not job.one_job and job.basis == "none"
    assert job.reasons == ["world sizes differ: 2 (test.json.gz); 8 (control.json.gz)"]


def test_rank_only_headers_of_two_runs_are_separate(header: Callable[..., TraceHeader]) -> None:
    job = check_job([header("base.json.gz", TRACE_COMPARE), header("test.json.gz", TRACE_COMPARE)])
    assert not job.one_job
    assert "distributedInfo without a world_size in base.json.gz, test.json.gz" in job.reasons
    assert "rank 1 appears in 2 traces (base.json.gz, test.json.gz): traces of more than one run" in job.reasons


def test_worlds_of_one_are_separate_runs_even_with_one_job_name(header: Callable[..., TraceHeader]) -> None:
    # Two single-process runs (world_size 1): each rank 0, each its own job.
    job = check_job([header("a.json.gz", NS_RESOLUTION, **NS_RESOLUTION_JOB),
                     header("b.json.gz", NS_RESOLUTION, **NS_RESOLUTION_JOB)])
    assert not job.one_job
    assert any("world of one" in r for r in job.reasons)
    assert any(r.startswith("rank 0 appears in 2 traces") for r in job.reasons)


def test_a_trace_without_distributed_info_or_rank_makes_the_set_separate(header: Callable[..., TraceHeader]) -> None:
    job = check_job([header("r0.json.gz", NCCL_DATA), header("nothing.json.gz", None),
                     header("rank_not_found.json.gz", RANK_NOT_FOUND)])
    assert not job.one_job
    assert job.reasons[0].startswith("1 of 3 traces carry no distributedInfo (nothing.json.gz)")
    assert "distributedInfo without a rank in rank_not_found.json.gz" in job.reasons


def test_job_identifier_backend_and_default_group_must_agree(header: Callable[..., TraceHeader]) -> None:
    ranks = [{**RESNET_MI300, "rank": r} for r in range(2)]
    same = check_job([header(f"r{r}.json.gz", info, **MTIA_GROUP) for r, info in enumerate(ranks)])
    assert same.one_job and same.job_id == "group_trace_id=6e4c5d49-31d6-410f-83cf-8827e227851d"
    other = check_job([header("r0.json.gz", ranks[0], **MTIA_GROUP),
                       header("r1.json.gz", ranks[1], group_trace_id="another-run")])
    assert not other.one_job and other.reasons[0].startswith("job identifiers differ: ")
    partial = check_job([header("r0.json.gz", ranks[0], **MTIA_GROUP), header("r1.json.gz", ranks[1])])
    assert not partial.one_job and "not in r1.json.gz" in partial.reasons[0]
    gloo = check_job([header("r34.json.gz", CPU_ONLY_34), header("r35.json.gz", {**CPU_ONLY_34, "rank": 35,
                                                                                  "backend": "nccl"})])
    assert gloo.reasons == ["backends differ: gloo (r34.json.gz); nccl (r35.json.gz)"]
    regrouped = {**ranks[1], "pg_config": [{**RESNET_MI300["pg_config"][0], "ranks": [0, 1, 2, 3]}]}
    groups = check_job([header("r0.json.gz", ranks[0]), header("r1.json.gz", regrouped)])
    assert groups.reasons == ["default process groups differ: ranks 0-3 (r1.json.gz); ranks 0-7 (r0.json.gz)"]
    outside = check_job([header("r0.json.gz", ranks[0]), header("r9.json.gz", {**ranks[0], "rank": 9})])
    assert outside.reasons == ["rank 9 is outside world size 8"]


def test_read_header_before_after_and_pretty_printed(tmp_path: Path) -> None:
    front = read_header(write_trace(tmp_path / "nccl_data.json.gz", {"schemaVersion": 1, "distributedInfo": NCCL_DATA}))
    assert (front.rank, front.world_size, front.backend, front.default_group) == (0, 2, "nccl", (0, 1))
    # HTA's call_stack/backward_thread.json writes distributedInfo after the events, pretty-printed.
    back = read_header(write_trace(tmp_path / "backward_thread.json", {}, trailer={"distributedInfo": {"rank": 0}},
                                   indent=4))
    assert back.has_info and back.rank == 0
    # In a gzip file the tail is not read (it would mean decompressing the whole trace).
    assert not read_header(write_trace(tmp_path / "t.json.gz", {}, trailer={"distributedInfo": {"rank": 0}})).has_info
    # A small JSON file with no traceEvents (TraceLens' capture_traces/execution_details.json) is no trace.
    (tmp_path / "execution_details.json").write_text('{"batch_size": 32, "graph": "full"}')
    assert read_header(tmp_path / "execution_details.json") is None


def test_discover_skips_files_that_are_not_traces(tmp_path: Path) -> None:
    for rank in range(2):
        write_trace(tmp_path / f"rank{rank}.json.gz", {"distributedInfo": {**NCCL_DATA, "rank": rank}})
    (tmp_path / "execution_details.json").write_text('{"batch_size": 32}')
    found = discover(tmp_path)
    assert found.job.one_job and [f.rank for f in found.files] == [0, 1]
    assert found.warnings == ["execution_details.json left out: not a profiler trace (no traceEvents)"]


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_a_folder_of_unrelated_single_gpu_traces_is_a_set_not_a_job() -> None:
    # tests/data/h200/kineto: six captures of different programs on one H200, none distributed.
    result = run("classify", KINETO, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "traces" and out["job"]["one_job"] is False
    assert [Path(t["file"]).name for t in out["traces"]] == sorted(p.name for p in KINETO.glob("*.json.gz"))
    assert all(t["rank"] is None for t in out["traces"])
    assert "stragglers" not in out and "fleet" not in out and "scaling_tax" not in out
    assert out["job"]["reasons"][0].startswith("6 of 6 traces carry no distributedInfo")
    # Each trace is its own classify: the GEMM capture is compute-bound, the GELU one memory-bound.
    verdicts = {Path(t["file"]).name: t["verdict"] for t in out["traces"]}
    assert verdicts["gemm_bf16_8192.json.gz"] == "compute" and verdicts["gelu_bf16_256M.json.gz"] == "memory"
    table = run("classify", KINETO, "--jobs", "1")
    assert table.exit_code == 0, table.output
    assert "6 separate traces" in table.stdout and "not one job" in table.stdout
    assert "stragglers:" not in table.stdout and "fleet MFU 0" not in table.stdout and "spread:" not in table.stdout
    md = run("classify", KINETO, "--jobs", "1", "--format", "md")
    assert "(6 separate traces)" in md.stdout and "| gemm_bf16_8192.json.gz | h200-sxm | compute" in md.stdout


def test_one_job_flag_asserts_what_the_traces_do_not_say() -> None:
    result = run("classify", KINETO, "--format", "json", "--jobs", "1", "--one-job")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "fleet" and out["job"]["basis"] == "asserted" and out["job"]["reasons"]
    assert [r["rank"] for r in out["ranks"]] == list(range(6))
    assert any("follow file-name order" in w for w in out["warnings"])


def test_reference_is_not_used_for_a_set() -> None:
    result = run("classify", KINETO, "--format", "json", "--jobs", "1",
                 "--reference", KINETO / "mini_decode_eager.json.gz")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "traces" and any(w.startswith("--reference is not used") for w in out["warnings"])


def test_one_rank_without_distributed_info_makes_a_set(tmp_path: Path) -> None:
    directory = build_ranks(tmp_path / "d", ranks=3, slow_rank=None,
                            info=lambda r: None if r == 1 else {"backend": "nccl", "rank": r, "world_size": 3})
    out = json.loads(run("classify", directory, "--format", "json", "--jobs", "1").stdout)
    assert out["kind"] == "traces"
    assert out["job"]["reasons"] == ["1 of 3 traces carry no distributedInfo (rank1.json.gz): the profiler writes it "
                                     "only in a process that has initialised torch.distributed"]


def test_python_api_gives_the_set_with_its_views() -> None:
    import roofline
    from roofline.analysis.fleet import TraceSetResult

    traces = roofline.classify(KINETO, jobs=1)
    assert isinstance(traces, TraceSetResult) and not traces.job.one_job
    assert [Path(r["file"]).name for r in traces.records()] == sorted(p.name for p in KINETO.glob("*.json.gz"))
    assert "separate traces" in traces._repr_html_()
