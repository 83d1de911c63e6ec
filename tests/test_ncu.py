"""Nsight Compute CSV reader: real H200 captures classify as the fixture README says, numbers
match the counters by hand, and every damaged input is one InputError (or a warning).

Fixtures (tests/data/ncu/README.md): ops_metrics_raw.csv and ops_sections_details.csv are the
shared H200 captures; the other three were captured for this reader on an H200 with ncu 2025.3.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.analysis.classify import KernelWork, classify_kernel
from roofline.analysis.roofline import Bound
from roofline.cli import app
from roofline.errors import InputError
from roofline.hardware.registry import load_registry
from roofline.hardware.spec import roofs_from_spec
from roofline.precision import Precision, Unit
from roofline.sources import read_input
from roofline.sources.base import head_bytes
from roofline.sources.ncu import (
    TIME,
    Cell,
    _sniff,
    dominant_precision,
    group_by_name,
    parse_number,
    parse_unit,
    read_ncu,
    tensor_flops,
)

NCU = Path(__file__).resolve().parent / "data" / "ncu"
RAW = NCU / "ops_metrics_raw.csv"
DETAILS = NCU / "ops_sections_details.csv"
SET_ROOFLINE = NCU / "gemm_set_roofline_raw.csv"
PRECISIONS = NCU / "precisions_roofline_sections_raw.csv"
DETAILS_METRICS = NCU / "details_with_metrics.csv"

GEMM = "nvjet_sm90_tst_256x128_64x4_1x2_h_bz_coopA_NNT"
SGEMM = "void cutlass::Kernel2<cutlass_80_simt_sgemm_256x128_8x4_nn_align1>(T1::Params)"
GEMV = "nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT"
GELU = "void at::vectorized_elementwise_kernel<8, at::GeluCUDAKernelImpl"
COPY = "void at::unrolled_elementwise_kernel<at::direct_copy_kernel_cuda"
ADD = "void at::vectorized_elementwise_kernel<4, at::CUDAFunctorOnSelf_add<float>"

SASS = [f"sm__sass_thread_inst_executed_op_{p}{op}_pred_on.sum"
        for p in "dfh" for op in ("add", "mul", "fma")]
HGMMA_BF16 = "sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum"
FULL = {TIME: "ns", "dram__bytes_read.sum": "byte", "dram__bytes_write.sum": "byte",
        **{name: "inst" for name in SASS}, HGMMA_BF16: ""}

runner = CliRunner()


@pytest.fixture(scope="module")
def h200():
    return roofs_from_spec(load_registry().resolve("h200-sxm"))


@pytest.fixture(scope="module")
def raw():
    return read_input(RAW)


def kernel(loaded, prefix: str) -> KernelWork:
    found = [k for k in loaded.kernels if k.name.startswith(prefix)]
    assert len(found) == 1, [k.name for k in loaded.kernels]
    return found[0]


def write_raw(tmp_path: Path, columns: dict[str, str], rows: list[dict[str, str]]) -> Path:
    """A small raw page: line 1 ==PROF==, line 2 header, line 3 units, launches from line 4."""
    def quoted(cells):
        return ",".join(f'"{c}"' for c in cells)

    lines = ["==PROF== Connected to process 1 (/usr/bin/python3)", quoted(["ID", "Kernel Name", *columns]),
             quoted(["", "", *columns.values()])]
    lines += [quoted([str(i), row.get("Kernel Name", "k"), *(row.get(c, "0") for c in columns)])
              for i, row in enumerate(rows)]
    path = tmp_path / "ncu.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def rewrite_columns(text: str, keep) -> str:
    """The fixture with only the columns whose name passes ``keep`` (preamble kept)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith('"ID"'))
    rows = list(csv.reader(lines[start:]))
    indices = [i for i, name in enumerate(rows[0]) if keep(name)]
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerows([[r[i] for i in indices] for r in rows])
    return "".join(lines[:start]) + out.getvalue()


# ---- real captures: the raw page ----------------------------------------------------------


def test_bf16_gemm_flops_come_from_the_hgmma_counter(raw, h200) -> None:
    gemm = kernel(raw, GEMM)
    # sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum = 137,438,953,472 = 2·4096³;
    # the SASS FP counters are all 0. (pipe_tensor × 512 would give 2,097,152 × 512 = 1.07e9.)
    assert gemm.flops == 137_438_953_472 == 2 * 4096**3
    assert gemm.hardware_flops == gemm.flops
    assert (gemm.precision, gemm.unit) == (Precision.BF16, Unit.MATRIX)
    assert gemm.bytes == 148_343_552 + 27_960_576  # dram__bytes_read.sum + dram__bytes_write.sum
    assert gemm.measured_s == pytest.approx(180_320e-9)  # gpu__time_duration.sum, ns
    assert gemm.l2_bytes == 1_045_139_648  # lts__t_bytes.sum
    assert gemm.l1_bytes == 12_160  # l1tex__t_bytes.sum
    assert (gemm.count, gemm.source) == (1, "counters")
    verdict = classify_kernel(gemm, h200)
    # AI = 137.4e9 / 176.3e6 = 779.6 FLOP/B, above the bf16 matrix ridge 989.4e12 / 4.8e12 = 206.
    assert verdict.ai == pytest.approx(779.56, abs=0.01)
    assert verdict.bound is Bound.COMPUTE


def test_fp32_simt_gemm_is_two_n_cubed_on_cuda_cores(raw, h200) -> None:
    sgemm = kernel(raw, SGEMM)
    # ffma 8,589,934,592 (= 2048³) × 2 + fmul 4,194,304 × 1 (the epilogue's alpha scaling).
    assert sgemm.flops == 2 * 8_589_934_592 + 4_194_304
    assert sgemm.flops == pytest.approx(2 * 2048**3, rel=1e-3)
    assert (sgemm.precision, sgemm.unit) == (Precision.FP32, Unit.VECTOR)
    assert classify_kernel(sgemm, h200).bound is Bound.COMPUTE  # AI 939 > fp32 ridge 13.9


def test_gemv_hardware_flops_are_eight_times_the_model(raw, h200) -> None:
    gemv = kernel(raw, GEMV)
    model_flops = 2 * 8192 * 28672  # 1×8192 · 8192×28672
    # hgmma bf16 ops 3,758,096,384: the tensor-core tile pads the single row of v to 8.
    assert gemv.hardware_flops == 3_758_096_384
    assert 7 < gemv.hardware_flops / model_flops < 9
    assert (gemv.precision, gemv.unit) == (Precision.BF16, Unit.MATRIX)
    verdict = classify_kernel(gemv, h200)
    assert gemv.bytes == 469_834_240 + 2_451_200  # the 8192×28672 bf16 weight is 469.8 MB
    assert verdict.bound is Bound.MEMORY  # AI 7.96 ≪ 206


def test_gelu_is_memory_bound_on_fp32_vector(raw, h200) -> None:
    gelu = kernel(raw, GELU)
    # fp32: fadd 77,589,599 + fmul 268,435,456 + 2·ffma 469,762,048 = 1,285,549,151;
    # fp16: HFMA2 16,777,216 × 4 = 67,108,864 (packed, as ncu's own roofline counts it).
    assert gelu.flops == 1_285_549_151 + 67_108_864
    assert (gelu.precision, gelu.unit) == (Precision.FP32, Unit.VECTOR)
    assert gelu.bytes == 134_243_328 + 113_472_000
    assert classify_kernel(gelu, h200).bound is Bound.MEMORY  # AI 5.5 < 13.9


def test_tiny_add_is_launch_bound(raw, h200) -> None:
    add = kernel(raw, ADD)
    assert add.flops == 2 * 1024  # ffma 1,024
    assert add.bytes == 9_216
    assert add.measured_s == pytest.approx(2_176e-9)
    # 9.2 kB / 4.8 TB/s = 1.9 ns of memory, far under the 5 µs eager launch floor.
    assert classify_kernel(add, h200).bound is Bound.LAUNCH


def test_copy_kernel_has_zero_flops_and_is_memory_bound(raw, h200) -> None:
    copy = kernel(raw, COPY)
    assert copy.flops == 0
    assert (copy.precision, copy.unit) == (Precision.FP32, Unit.VECTOR)
    assert classify_kernel(copy, h200).bound is Bound.MEMORY  # 377 MB in 191 µs


def test_raw_page_reads_device_and_every_launch(raw) -> None:
    assert raw.format == "ncu"
    assert raw.device_name == "NVIDIA H200"  # device__attribute_display_name
    assert load_registry().lookup(raw.device_name).name == "h200-sxm"
    assert raw.warnings == []
    assert raw.extra == {"page": "raw", "launches": 8}
    assert [k.name for k in raw.kernels][:2] == [GEMM, SGEMM]  # file order
    attention = kernel(raw, "cudnn_generated_fort_native_sdpa")
    # hgmma bf16 73,014,444,032 + fp32 SASS (290,717,696 + 306,480,128 + 2·4,456,448).
    assert attention.flops == 73_014_444_032 + 290_717_696 + 306_480_128 + 2 * 4_456_448
    assert attention.precision is Precision.BF16


# ---- real captures: other ncu pages -------------------------------------------------------


def test_details_page_gives_time_and_bytes_but_no_flops(raw, h200) -> None:
    loaded = read_input(DETAILS)
    assert (loaded.format, loaded.extra) == ("ncu", {"page": "details", "launches": 8})
    assert loaded.device_name is None  # its Device column is the index "0"
    gemm = kernel(loaded, GEMM)
    assert gemm.measured_s == pytest.approx(180_736e-9)  # GPU Speed Of Light Throughput: Duration
    # Memory Workload Analysis: Memory Throughput 974,980,169,971.67 byte/s × 180,736 ns.
    assert gemm.bytes == pytest.approx(974_980_169_971.67 * 180_736e-9, rel=1e-12)
    assert gemm.bytes == pytest.approx(kernel(raw, GEMM).bytes, rel=0.01)  # a separate replay
    assert gemm.flops is None and gemm.precision is None
    assert "--metrics" in gemm.unknown_reason
    verdict = classify_kernel(gemm, h200)
    assert verdict.bound is Bound.UNKNOWN and verdict.notes == [gemm.unknown_reason]
    assert len(loaded.warnings) == 1 and "no FLOP counters" in loaded.warnings[0]
    assert "sm__sass_thread_inst_executed_op_ffma_pred_on.sum" in loaded.warnings[0]


def test_details_page_with_metrics_reads_the_command_line_section() -> None:
    # --print-details all adds a "Body Item Label" column; --metrics rows sit under
    # "Command line profiler metrics" with their raw names, n/a where a counter does not exist.
    loaded = read_input(DETAILS_METRICS)
    assert loaded.device_name == "NVIDIA H200"
    fp64_add = kernel(loaded, "void at::vectorized_elementwise_kernel<2, at::CUDAFunctor_add<double>")
    assert fp64_add.flops == 2 * 1_048_576  # dfma 1,048,576
    assert (fp64_add.precision, fp64_add.unit) == (Precision.FP64, Unit.VECTOR)
    assert fp64_add.bytes == 16_782_592 + 32_768  # dram__bytes_read.sum + dram__bytes_write.sum
    assert fp64_add.measured_s == pytest.approx(7_776e-9)
    # Only dfma was collected: the reader says which FLOPs it could not count.
    assert any("no SASS counters for dadd, dmul, fadd" in w for w in loaded.warnings)


def test_set_roofline_counts_nested_tensor_counters_once() -> None:
    loaded = read_input(SET_ROOFLINE)
    gemm = kernel(loaded, GEMM)
    # Both sm__ops_path_tensor_src_bf16_dst_fp32.sum and its part
    # sm__ops_path_tensor_op_hgmma_src_bf16_dst_fp32_sparsity_off.sum read 17,179,869,184 = 2·2048³.
    assert gemm.flops == 17_179_869_184 == 2 * 2048**3
    # dram__bytes.sum.per_second 264,676,737,160.12 byte/s × gpu__time_duration.sum 31,776 ns.
    assert gemm.bytes == pytest.approx(264_676_737_160.12 * 31_776e-9, rel=1e-12)
    assert loaded.warnings == []


def test_set_roofline_sass_rates_become_totals() -> None:
    sgemm = kernel(read_input(SET_ROOFLINE), "sm80_xmma_gemm_f32f32_f32f32_f32")
    # smsp__..._ffma_pred_on.sum.per_cycle_elapsed 9,599.95 inst/cycle and hfma 0.15 inst/cycle,
    # times smsp__cycles_elapsed.avg 111,957.91 cycles (an fp32 1024³ GEMM, TF32 off).
    cycles = 111_957.91
    assert sgemm.flops == pytest.approx(2 * 9_599.95 * cycles + 4 * 0.15 * cycles, rel=1e-12)
    assert sgemm.flops == pytest.approx(2 * 1024**3, rel=2e-3)
    assert (sgemm.precision, sgemm.unit) == (Precision.FP32, Unit.VECTOR)


def test_tensor_precision_comes_from_the_counter_name() -> None:
    loaded = read_input(PRECISIONS)  # fp16, tf32 and fp8 2048³ GEMMs, with their setup kernels
    expected = {
        "nvjet_sm90_hsh_256x128": Precision.FP16,  # sm__ops_path_tensor_src_fp16.sum
        "sm90_xmma_gemm_f32f32_tf32f32": Precision.TF32,  # ..._src_tf32_dst_fp32.sum
        "nvjet_sm90_qqtst_128x128": Precision.FP8,  # sm__ops_path_tensor_src_fp8_sparsity_off.sum
    }
    for prefix, precision in expected.items():
        gemm = kernel(loaded, prefix)
        assert (gemm.precision, gemm.unit) == (precision, Unit.MATRIX)
        assert gemm.flops == pytest.approx(2 * 2048**3, rel=5e-3)  # plus a few epilogue FLOPs


def test_launches_of_one_kernel_are_grouped() -> None:
    loaded = read_input(PRECISIONS)
    assert loaded.extra["launches"] == 11 and len(loaded.kernels) == 10
    twice = [k for k in loaded.kernels if k.count == 2]
    assert len(twice) == 1
    assert twice[0].measured_s == pytest.approx((17_824 + 18_176) * 1e-9)  # launches 0 and 1


# ---- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("137,438,953,472", 137_438_953_472.0), ("0.97", 0.97), ("1,980,000", 1_980_000.0),
     ("974,980,169,971.67", 974_980_169_971.67), ("-3.5e-2", -0.035), (" 42 ", 42.0)],
)
def test_parse_number_reads_thousands_separators(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["1,5", "12x", "", "1,23,456", "n/a", "1.2.3"])
def test_parse_number_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_number(text)


@pytest.mark.parametrize(
    ("unit", "scale", "dims"),
    [("byte", 1, ("byte", "")), ("Kbyte", 1e3, ("byte", "")), ("Mbyte", 1e6, ("byte", "")),
     ("Gbyte", 1e9, ("byte", "")), ("ns", 1e-9, ("second", "")), ("nsecond", 1e-9, ("second", "")),
     ("usecond", 1e-6, ("second", "")), ("msecond", 1e-3, ("second", "")), ("second", 1, ("second", "")),
     ("byte/s", 1, ("byte", "second")), ("Gbyte/second", 1e9, ("byte", "second")),
     ("Tbyte/s", 1e12, ("byte", "second")), ("byte/usecond", 1e6, ("byte", "second")),
     ("inst", 1, ("", "")), ("", 1, ("", "")), ("inst/cycle", 1, ("", "cycle")), ("cycle", 1, ("cycle", "")),
     ("hz", 1, ("", "second")), ("Ghz", 1e9, ("", "second")), ("%", 1, ("%", "")),
     ("register/thread", 1, ("register", "thread"))],
)
def test_parse_unit_normalises_to_si(unit: str, scale: float, dims: tuple[str, str]) -> None:
    assert parse_unit(unit) == (pytest.approx(scale), dims)


def test_prefixed_units_are_read_in_si(tmp_path: Path) -> None:
    columns = {**FULL, TIME: "usecond", "dram__bytes_read.sum": "Mbyte", "dram__bytes_write.sum": "Kbyte"}
    path = write_raw(tmp_path, columns, [{TIME: "1.5", "dram__bytes_read.sum": "2",
                                          "dram__bytes_write.sum": "1,500", HGMMA_BF16: "1,000"}])
    work = read_input(path).kernels[0]
    assert work.measured_s == pytest.approx(1.5e-6)
    assert work.bytes == pytest.approx(2e6 + 1.5e6)
    assert work.flops == 1000


def test_dram_rate_times_duration_gives_bytes(tmp_path: Path) -> None:
    columns = {TIME: "msecond", "dram__bytes.sum.per_second": "Gbyte/second", SASS[5]: "inst"}
    work = read_input(write_raw(tmp_path, columns, [{TIME: "2", "dram__bytes.sum.per_second": "3",
                                                     SASS[5]: "10"}])).kernels[0]
    assert work.bytes == pytest.approx(3e9 * 2e-3)
    assert work.flops == 20  # ffma × 2


def test_half_precision_instructions_are_packed(tmp_path: Path) -> None:
    # HADD2/HMUL2 do 2 FLOPs, HFMA2 4 (ncu: derived__..._hfma_pred_on_x4); fp32 FMA does 2.
    rows = [{"sm__sass_thread_inst_executed_op_hfma_pred_on.sum": "10",
             "sm__sass_thread_inst_executed_op_hadd_pred_on.sum": "1",
             "sm__sass_thread_inst_executed_op_ffma_pred_on.sum": "3"}]
    work = read_input(write_raw(tmp_path, FULL, rows)).kernels[0]
    assert work.flops == 10 * 4 + 1 * 2 + 3 * 2
    assert (work.precision, work.unit) == (Precision.FP16, Unit.VECTOR)


def test_nested_tensor_counters_keep_the_outermost(tmp_path: Path) -> None:
    def cells(values: dict[str, str]) -> dict[str, Cell]:
        return {name: Cell(text, "", 1) for name, text in values.items()}

    # sparsity on/off parts without their whole are summed; with the whole present, only it.
    parts = {"sm__ops_path_tensor_op_hgmma_src_fp16_sparsity_off.sum": "6",
             "sm__ops_path_tensor_op_hgmma_src_fp16_sparsity_on.sum": "4",
             "sm__ops_path_tensor_op_hmma_src_fp16_dst_fp32.sum": "5"}
    assert tensor_flops(cells(parts), tmp_path) == {Precision.FP16: 15}
    whole = {**parts, "sm__ops_path_tensor_src_fp16.sum": "15"}
    assert tensor_flops(cells(whole), tmp_path) == {Precision.FP16: 15}
    mixed = {**whole, "sm__ops_path_tensor_src_tf32_dst_fp32.sum": "7",
             "sm__ops_path_tensor_src_int1.sum": "9"}
    assert tensor_flops(cells(mixed), tmp_path) == {Precision.FP16: 15, Precision.TF32: 7}  # int1: no roof


def test_dominant_precision() -> None:
    assert dominant_precision({Precision.BF16: 10, Precision.FP8: 30}, {Precision.FP32: 39}) == (
        Precision.FP8, Unit.MATRIX)
    assert dominant_precision({Precision.BF16: 10}, {Precision.FP32: 11, Precision.FP64: 12}) == (
        Precision.FP64, Unit.VECTOR)
    assert dominant_precision({}, {}) == (Precision.FP32, Unit.VECTOR)


def test_group_by_name_sums_totals() -> None:
    a = KernelWork(name="k", flops=10, hardware_flops=10, bytes=4, precision=Precision.BF16, unit=Unit.MATRIX,
                   measured_s=1e-6, source="counters", l2_bytes=8)
    b = KernelWork(name="k", flops=30, hardware_flops=30, bytes=6, precision=Precision.FP32, unit=Unit.VECTOR,
                   measured_s=2e-6, source="counters", l2_bytes=None)
    c = KernelWork(name="other", flops=1, bytes=1, precision=Precision.FP32, measured_s=1e-6)
    merged = group_by_name([a, c, b])
    assert [m.name for m in merged] == ["k", "other"]
    k = merged[0]
    assert (k.count, k.flops, k.hardware_flops, k.bytes) == (2, 40, 40, 10)
    assert k.measured_s == pytest.approx(3e-6)
    assert (k.precision, k.unit) == (Precision.FP32, Unit.VECTOR)  # the launch with most FLOPs
    assert k.l2_bytes is None  # unknown for one launch → unknown in total


def test_gzip_export_is_read(tmp_path: Path) -> None:
    packed = tmp_path / "ops.csv.gz"
    packed.write_bytes(gzip.compress(RAW.read_bytes()))
    assert kernel(read_input(packed), GEMM).flops == 137_438_953_472


# ---- sniffing -----------------------------------------------------------------------------


def test_sniffer_recognises_ncu_by_content(tmp_path: Path) -> None:
    for fixture in (RAW, DETAILS, SET_ROOFLINE, DETAILS_METRICS):
        assert _sniff(fixture, head_bytes(fixture))
    bare = b'"ID","Process ID","Kernel Name","gpu__time_duration.sum"\n"","","","ns"\n'
    assert _sniff(Path("x.txt"), bare)  # no ==PROF== (ncu --import), named .txt
    assert not _sniff(Path("x.csv"), b"ID,Name\n1,foo\n")
    assert not _sniff(Path("x.json"), b'{"traceEvents": [], "note": "\\n==PROF== x"}')
    assert not _sniff(Path("notes.md"), b"The `==PROF==` preamble is skipped.\n")


def test_ncu_text_output_without_csv_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "ncu.log"
    path.write_text("==PROF== Connected to process 7\n  nvjet_sm90 (2, 66, 1)x(384, 1, 1), Context 1\n"
                    "    Section: GPU Speed Of Light Throughput\n    Duration  us  180.32\n")
    with pytest.raises(InputError, match="no ncu CSV header") as err:
        read_input(path)
    assert "--csv" in err.value.fix


# ---- bad input ----------------------------------------------------------------------------


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="file is empty"):
        read_input(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("\n  \n")
    with pytest.raises(InputError, match="file is empty"):
        read_ncu(blank)


def test_no_kernels_profiled(tmp_path: Path) -> None:
    only_log = tmp_path / "log.csv"
    only_log.write_text("==PROF== Connected to process 1\n==WARNING== No kernels were profiled.\n")
    with pytest.raises(InputError, match="no ncu CSV header"):
        read_input(only_log)
    header_only = write_raw(tmp_path, FULL, [])
    with pytest.raises(InputError, match="no profiled kernel launches") as err:
        read_input(header_only)
    assert err.value.place == "line 2"


def test_export_without_roofline_metrics_names_them_and_the_command(tmp_path: Path) -> None:
    path = tmp_path / "launch_stats.csv"
    text = rewrite_columns(RAW.read_text(), lambda n: not n.startswith(("sm__sass", "sm__ops", "dram__")))
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_input(path)
    message = err.value.one_line()
    assert "lacks the roofline metrics" in message
    assert "FLOP counters" in message and "DRAM bytes" in message
    assert "ncu --csv --page raw --metrics" in err.value.fix
    assert "sm__sass_thread_inst_executed_op_ffma_pred_on.sum" in err.value.fix
    assert "regex:^sm__ops_path_tensor_" in err.value.fix
    assert "\n" not in message
    result = runner.invoke(app, ["classify", str(path), "--hw", "h200"])
    assert result.exit_code == 2
    assert result.stderr.startswith("roofline: error: ") and result.stderr.count("\n") == 1


def test_details_page_without_memory_metrics_is_an_error(tmp_path: Path) -> None:
    lines = DETAILS.read_text().splitlines(keepends=True)
    # Only the LaunchStats and Occupancy sections (plus the ==PROF== lines and the header).
    kept = [line for line in lines if not line.startswith('"') or line.startswith('"ID"')
            or '"Launch Statistics"' in line or '"Occupancy"' in line]
    path = tmp_path / "occupancy.csv"
    path.write_text("".join(kept))
    with pytest.raises(InputError, match="DRAM bytes") as err:
        read_input(path)
    assert "--section SpeedOfLight --section MemoryWorkloadAnalysis" in err.value.fix


def test_truncated_last_row_is_a_warning(tmp_path: Path) -> None:
    text = RAW.read_text()
    cut_in_cell = tmp_path / "cut_cell.csv"
    cut_in_cell.write_text(text[:-300])  # inside a quoted cell of the last launch (line 13)
    loaded = read_input(cut_in_cell)
    assert len(loaded.kernels) == 7
    assert loaded.warnings == ["line 13: the last row is cut short (file truncated?); it was skipped"]

    last = text.rstrip("\n").rsplit("\n", 1)[1]
    cut_at_comma = tmp_path / "cut_comma.csv"
    cut_at_comma.write_text(text[: text.rindex(last)] + ",".join(last.split(",")[:100]) + "\n")
    loaded = read_input(cut_at_comma)
    assert len(loaded.kernels) == 7
    assert loaded.warnings[0].startswith("line 13: the last row has ")


def test_truncated_details_page_is_a_warning(tmp_path: Path) -> None:
    text = DETAILS.read_text()
    last_row = text.rindex('\n"7","728"') + 1
    path = tmp_path / "cut.csv"
    path.write_text(text[: last_row + 60])
    loaded = read_input(path)
    assert len(loaded.kernels) == 8
    assert loaded.warnings[0].startswith("line 454: the last row")


def test_wrong_column_count_mid_file_names_the_line(tmp_path: Path) -> None:
    lines = RAW.read_text().splitlines(keepends=True)
    lines[7] = lines[7].rstrip("\n").rsplit(",", 1)[0] + "\n"  # line 8: launch 2 (GELU) loses a cell
    path = tmp_path / "short.csv"
    path.write_text("".join(lines))
    with pytest.raises(InputError, match="340 columns, the header 341") as err:
        read_input(path)
    assert err.value.place == "line 8"


def test_unclosed_quote_mid_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text(RAW.read_text().replace(f'"{GEMV}"', f'"{GEMV}'))
    with pytest.raises(InputError, match="bad CSV") as err:
        read_input(path)
    assert err.value.place == "line 9"  # launch 3, the GEMV


def test_unparsable_number_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "garbled.csv"
    path.write_text(RAW.read_text().replace('"180,320"', '"180,32x"'))
    with pytest.raises(InputError, match="cannot read '180,32x' as a number") as err:
        read_input(path)
    assert err.value.place == f"line 6, column {TIME}"


def test_wrong_unit_is_an_error(tmp_path: Path) -> None:
    lines = RAW.read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"ns"', '"byte"')  # the units row
    path = tmp_path / "units.csv"
    path.write_text("".join(lines))
    with pytest.raises(InputError, match="unit 'byte' .* is not a second"):
        read_input(path)


def test_missing_units_row_is_an_error(tmp_path: Path) -> None:
    lines = RAW.read_text().splitlines(keepends=True)
    path = tmp_path / "nounits.csv"
    path.write_text("".join(lines[:4] + lines[5:]))
    with pytest.raises(InputError, match="no units row") as err:
        read_input(path)
    assert err.value.place == "line 5"


def test_not_collected_counters_leave_a_launch_unknown(tmp_path: Path) -> None:
    rows = [{**{name: "n/a" for name in [*SASS, HGMMA_BF16]}, "Kernel Name": "a"},
            {"Kernel Name": "b", "dram__bytes_read.sum": "n/a", SASS[5]: "4"}]
    loaded = read_input(write_raw(tmp_path, FULL, rows))
    a, b = loaded.kernels
    assert a.flops is None and "n/a" in a.unknown_reason
    assert b.flops == 8 and b.bytes is None and "DRAM byte" in b.unknown_reason


def test_missing_duration_or_counter_families_warn(tmp_path: Path) -> None:
    columns = {name: unit for name, unit in FULL.items() if name not in (TIME, HGMMA_BF16)}
    loaded = read_input(write_raw(tmp_path, columns, [{SASS[5]: "1"}]))
    assert loaded.kernels[0].measured_s is None
    assert any("times are predicted" in w for w in loaded.warnings)
    assert any("tensor FLOPs are not counted" in w for w in loaded.warnings)


def test_damaged_files_raise_only_input_errors(tmp_path: Path) -> None:
    for fixture in (RAW, DETAILS):
        text = fixture.read_text()
        for cut in range(50, len(text), 997):
            path = tmp_path / f"cut{cut}.csv"
            path.write_text(text[:cut])
            try:
                read_ncu(path)
            except InputError as exc:
                assert "\n" not in exc.one_line()
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b'==PROF== x\n"ID","Kernel Name"\x00,"dram__bytes.sum"\n\xff\xfe"1",\x00"k"\n')
    with pytest.raises(InputError):
        read_ncu(garbage)
    bad_gzip = tmp_path / "bad.csv.gz"
    bad_gzip.write_bytes(gzip.compress(RAW.read_bytes())[:200])
    with pytest.raises(InputError, match="gzip stream is truncated"):
        read_ncu(bad_gzip)
    no_value = tmp_path / "no_value_column.csv"
    no_value.write_text('"ID","Kernel Name","Metric Name","Metric Unit"\n"0","k","Duration","ns"\n')
    with pytest.raises(InputError, match="needs the columns"):
        read_ncu(no_value)


# ---- command line -------------------------------------------------------------------------


def test_cli_classifies_the_raw_capture_with_auto_hardware() -> None:
    result = runner.invoke(app, ["classify", str(RAW), "--hw", "auto", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["hardware"]["name"] == "h200-sxm"
    assert data["source_format"] == "ncu"
    kernels = {k["name"]: k for k in data["kernels"]}
    assert kernels[GEMM]["bound"] == "compute"
    assert kernels[GEMM]["flops"] == 137_438_953_472
    assert kernels[GEMM]["precision"] == "bf16"
    assert kernels[GEMM]["source"] == "counters"
    assert kernels[GEMV]["bound"] == "memory"
    assert kernels[SGEMM]["bound"] == "compute"
    assert next(v for n, v in kernels.items() if n.startswith(ADD))["bound"] == "launch"


def test_cli_details_page_needs_hw_and_stays_unknown() -> None:
    result = runner.invoke(app, ["classify", str(DETAILS), "--hw", "auto"])
    assert result.exit_code == 2
    assert "--hw" in result.stderr  # the details page names no device
    result = runner.invoke(app, ["classify", str(DETAILS), "--hw", "h200", "--format", "json"])
    assert result.exit_code == 0, result.output
    kernels = json.loads(result.stdout)["kernels"]
    # Unknown but for the calls shorter than h200's 5 µs launch floor: those are launch-bound by their
    # measured time alone (docs/classification.md), FLOP counters or not.
    assert {k["bound"] for k in kernels if k["total_s"] / k["count"] >= 5e-6} == {"unknown"}
    assert {k["bound"] for k in kernels if k["total_s"] / k["count"] < 5e-6} == {"launch"}
