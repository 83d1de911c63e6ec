"""Many ranks: ``roofline classify DIR/`` over per-rank traces, the straggler rule, fleet MFU and
the scaling tax, on the local process pool and on Dask."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fleet_ranks import build_ranks
from roofline.analysis.fleet import RankFigures, reduce_fleet, stragglers
from roofline.cli import app

runner = CliRunner()
SEED = Path(__file__).parent / "data" / "h200" / "kineto" / "mini_decode_eager.json.gz"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def ranks_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_ranks(tmp_path_factory.mktemp("fleet") / "ranks", ranks=8, slow_rank=5, factor=1.5)


def test_eight_ranks_name_the_slowed_rank_as_the_straggler(ranks_dir: Path) -> None:
    result = run("classify", ranks_dir, "--format", "json", "--jobs", "2")
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    assert fleet["kind"] == "fleet"
    assert [r["rank"] for r in fleet["ranks"]] == list(range(8))
    assert {s["rank"] for s in fleet["stragglers"]} == {5}
    assert {s["metric"] for s in fleet["stragglers"]} == {"step_time_s", "kernel_time_s"}
    slow = next(s for s in fleet["stragglers"] if s["metric"] == "kernel_time_s")
    # Every duration of rank 5 was stretched 1.5x: its kernel time is 1.5x the median rank's.
    assert slow["excess"] == pytest.approx(0.5, rel=1e-3)
    ranks = {r["rank"]: r for r in fleet["ranks"]}
    assert ranks[5]["kernel_time_s"] == pytest.approx(1.5 * ranks[0]["kernel_time_s"], rel=1e-3)
    # Same work in 1.5x the time: MFU and MBU drop by 1/1.5.
    assert ranks[5]["mfu"] == pytest.approx(ranks[0]["mfu"] / 1.5, rel=1e-3)
    assert ranks[0]["mfu"] > 0 and ranks[0]["peak_label"] == "bf16 matrix"
    assert fleet["spread"]["step_time_s"]["max_over_median"] == pytest.approx(1.5, rel=1e-3)
    # Synchronous ranks wait for the slowest: fleet MFU = Σ FLOPs / (N · peak · slowest span).
    expected = sum(r["flops"] for r in fleet["ranks"]) / (8 * ranks[0]["peak_flops_per_s"] * ranks[5]["span_s"])
    assert fleet["fleet"]["mfu"] == pytest.approx(expected, rel=1e-9)
    assert fleet["failed"] == [] and fleet["warnings"] == []


def test_scaling_tax_against_a_single_node_reference(ranks_dir: Path) -> None:
    result = run("classify", ranks_dir, "--format", "json", "--jobs", "1", "--reference", SEED)
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    assert fleet["scaling_tax_basis"] == "mfu"
    # The reference is rank 0's own trace; the fleet's slowest rank takes 1.5x as long, so the
    # fleet converts (7 + 1)/8 of the reference's work per slowest span: tax = 1 - 1/1.5.
    assert fleet["scaling_tax"] == pytest.approx(1 - 1 / 1.5, rel=1e-3)
    assert fleet["reference"]["mfu"] == pytest.approx(fleet["ranks"][0]["mfu"], rel=1e-9)


def test_dask_backend_gives_the_same_fleet(ranks_dir: Path) -> None:
    pytest.importorskip("dask")
    local = run("classify", ranks_dir, "--format", "json", "--jobs", "1")
    dask = run("classify", ranks_dir, "--format", "json", "--jobs", "2", "--backend", "dask")
    assert dask.exit_code == 0, dask.output
    assert json.loads(dask.stdout) == json.loads(local.stdout)


def test_missing_dask_is_a_one_line_error(ranks_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask", None)  # import dask now raises ImportError
    result = run("classify", ranks_dir, "--backend", "dask")
    assert result.exit_code == 2
    message = result.output.strip()
    assert "\n" not in message
    assert "dask" in message and "roofline[dask]" in message


def test_unknown_backend_is_a_usage_error(ranks_dir: Path) -> None:
    result = run("classify", ranks_dir, "--backend", "spark")
    assert result.exit_code == 2
    assert "unknown backend 'spark'" in result.output


def test_table_and_markdown_name_the_straggler(ranks_dir: Path) -> None:
    table = run("classify", ranks_dir, "--jobs", "1")
    assert table.exit_code == 0, table.output
    assert "stragglers:" in table.stdout and "rank 5: step time" in table.stdout
    md = run("classify", ranks_dir, "--jobs", "1", "--format", "md")
    assert md.exit_code == 0, md.output
    assert "### Stragglers" in md.stdout and "- rank 5: kernel time" in md.stdout
    # The ranks are copies of an eager decode whose launch wait is within the profiler's overhead.
    assert "| 5 | memory" in md.stdout


def test_ranks_from_distributed_info_when_names_do_not_say(tmp_path: Path) -> None:
    directory = build_ranks(tmp_path / "d", ranks=4, slow_rank=2, names="trace_{rank}_host.json")
    # File names without "rank": the header's distributedInfo.rank numbers them.
    (directory / "trace_2_host.json").rename(directory / "a_first.json")
    result = run("classify", directory, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    by_rank = {r["rank"]: Path(r["file"]).name for r in fleet["ranks"]}
    assert by_rank[2] == "a_first.json"
    assert {s["rank"] for s in fleet["stragglers"]} == {2}


def test_header_rank_wins_over_the_name_and_missing_ranks_are_named(tmp_path: Path) -> None:
    directory = build_ranks(tmp_path / "d", ranks=4, slow_rank=None)
    (directory / "rank3.json.gz").rename(directory / "copy_of_rank1.json.gz")
    result = run("classify", directory, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    by_rank = {r["rank"]: Path(r["file"]).name for r in fleet["ranks"]}
    assert by_rank[3] == "copy_of_rank1.json.gz"
    assert ("copy_of_rank1.json.gz: the name says rank 1, distributedInfo says 3 (distributedInfo is used)"
            in fleet["warnings"])
    (directory / "copy_of_rank1.json.gz").unlink()
    result = run("classify", directory, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "1 of world size 4 ranks have no trace here: 3" in json.loads(result.stdout)["warnings"]


def test_a_rank_twice_is_two_runs_and_an_error_under_one_job(tmp_path: Path) -> None:
    directory = build_ranks(tmp_path / "d", ranks=4, slow_rank=None,
                            info=lambda r: {"backend": "nccl", "rank": min(r, 2), "world_size": 4})
    result = run("classify", directory, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["kind"] == "traces" and len(out["traces"]) == 4
    assert out["job"]["reasons"] == ["rank 2 appears in 2 traces (rank2.json.gz, rank3.json.gz): traces of more "
                                     "than one run"]
    result = run("classify", directory, "--jobs", "1", "--one-job")
    assert result.exit_code == 2
    assert "rank 2 appears twice (rank2.json.gz and rank3.json.gz)" in result.output


def test_a_broken_rank_is_left_out_and_reported(tmp_path: Path) -> None:
    directory = build_ranks(tmp_path / "d", ranks=4, slow_rank=None)
    (directory / "rank2.json.gz").write_bytes(b"\x1f\x8b not a gzip stream")
    result = run("classify", directory, "--format", "json", "--jobs", "1")
    assert result.exit_code == 0, result.output
    fleet = json.loads(result.stdout)
    # The unreadable file is no evidence against one job; it cannot say its rank, so it has none.
    assert fleet["kind"] == "fleet" and [r["rank"] for r in fleet["ranks"]] == [0, 1, 3]
    assert fleet["failed"][0]["rank"] is None and "rank2.json.gz" in fleet["failed"][0]["error"]
    assert any(w.startswith("rank2.json.gz left out") for w in fleet["warnings"])
    assert "1 of world size 4 ranks have no trace here: 2" in fleet["warnings"]
    (directory / "rank2.json.gz").write_bytes(b"not a trace")
    fleet = json.loads(run("classify", directory, "--format", "json", "--jobs", "1").stdout)
    assert "rank2.json.gz left out: not a profiler trace (no traceEvents)" in fleet["warnings"]


def test_directory_with_other_inputs_or_annotate_is_a_usage_error(ranks_dir: Path, tmp_path: Path) -> None:
    assert run("classify", ranks_dir, SEED).exit_code == 2
    assert run("classify", ranks_dir, "--annotate", tmp_path / "x.json").exit_code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("classify", empty)
    assert result.exit_code == 2 and "no traces" in result.output


def _rank(rank: int, step: float, kernel: float, flops: float = 1e12, span: float | None = None) -> RankFigures:
    span = span if span is not None else step
    return RankFigures(rank=rank, file=f"rank{rank}", hardware="h100-sxm", verdict="compute", verdict_share=0.9,
                       span_s=span, step_time_s=step, steps=1, kernel_time_s=kernel, gpu_busy_s=kernel,
                       idle_s=0.0, launch_wait_s=0.0, flops=flops, bytes=1e9, flops_coverage=1.0,
                       peak_flops_per_s=989e12, peak_label="fp16 matrix", bandwidth_bytes_per_s=3.35e12,
                       mfu=flops / (span * 989e12), mbu=1e9 / (span * 3.35e12))


def test_straggler_rule_median_plus_mad() -> None:
    # Noisy but healthy ranks (±2 %), one 4 % slow (inside the 5 % floor), one 10 % slow.
    times = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.04, 1.10]
    ranks = [_rank(i, t, t) for i, t in enumerate(times)]
    flagged = stragglers(ranks)
    assert {s.rank for s in flagged} == {7}
    # With a wide spread (MAD 0.1 s), 3 x 1.4826 x MAD = 0.445 s dominates the 5 % floor.
    wide = [_rank(i, t, t) for i, t in enumerate([0.8, 1.0, 1.2, 0.9, 1.1, 1.0, 1.4, 1.5])]
    assert stragglers(wide) == []
    assert {s.rank for s in stragglers(wide, k=1.0)} == {6, 7}
    assert stragglers(ranks[:2]) == []  # two ranks have no meaningful median


def test_scaling_tax_reproduces_the_seed_napkin_math() -> None:
    """Seed 002, "The scaling tax": an 8-GPU node at 65 % MFU, the fleet at 48 % → 26.2 %."""
    peak = 989e12
    local = _rank(0, 1.0, 1.0, flops=0.65 * peak)
    fleet_ranks = [_rank(i, 1.0, 1.0, flops=0.48 * peak) for i in range(16)]
    fleet = reduce_fleet(fleet_ranks, directory="fleet", reference=local)
    assert fleet.fleet.mfu == pytest.approx(0.48)
    assert fleet.scaling_tax == pytest.approx(0.262, abs=5e-4)
    assert fleet.scaling_tax_basis == "mfu"


def test_seed_one_slow_node_costs_synchronous_mfu() -> None:
    """Seed 002: one node 10 % slower reduces synchronous data-parallel MFU by ~10 %."""
    peak = 989e12
    healthy = reduce_fleet([_rank(i, 1.0, 1.0, flops=0.5 * peak) for i in range(8)], directory="d")
    slow = reduce_fleet([_rank(i, 1.1 if i == 3 else 1.0, 1.0, flops=0.5 * peak, span=1.1 if i == 3 else 1.0)
                         for i in range(8)], directory="d")
    assert slow.fleet.mfu == pytest.approx(healthy.fleet.mfu / 1.1)
    assert [s.rank for s in slow.stragglers] == [3]
