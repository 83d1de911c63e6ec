"""The Nsight Systems cuda_gpu_trace reader, on the exports in tests/data/nsys (see its README: built
from the documented format, not captured) and on broken copies of them written to tmp_path.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roofline.cli import app
from roofline.errors import InputError
from roofline.sources import read_input
from roofline.sources.nsys import UNKNOWN_REASON, _sniff, read_nsys

NSYS = Path(__file__).parent / "data" / "nsys"
RECENT = NSYS / "h200_cuda_gpu_trace.csv"
runner = CliRunner()

FLASH = (
    "void flash::flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, "
    "cutlass::bfloat16_t, Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t>>, "
    "false, true, false, false, true, true, false, false>(flash::Flash_fwd_params)"
)
SOFTMAX = (
    "void at::native::(anonymous namespace)::cunn_SoftMaxForward<4, float, float, float, "
    "at::native::(anonymous namespace)::SoftMaxForwardEpilogue>(T4 *, const T2 *, int)"
)
# (kind, device, stream, start_ns, dur_ns, correlation) of h200_cuda_gpu_trace.csv, whose first row
# starts at 2,431,806,112 ns.
RECENT_TIMELINE = [
    ("memcpy", 0, 13, 0, 1_342_177, 118),
    ("memset", 0, 7, 1_351_040, 2_144, 124),
    ("kernel", 0, 7, 1_389_312, 412_863, 131),
    ("kernel", 0, 7, 1_806_080, 287_455, 139),
    ("kernel", 0, 13, 1_812_224, 3_136, 142),
    ("kernel", 0, 13, 1_823_488, 58_912, 147),
    ("kernel", 0, 7, 2_101_760, 9_631, 153),
    ("memcpy", 0, 7, 2_118_400, 11_872, 158),
    ("memset", 0, 7, 2_134_016, 1_216, 161),
    ("memcpy", 0, 7, 2_141_696, 92_800, 166),
]


def timeline(loaded) -> list[tuple]:
    return [(e.kind, e.device, e.stream, e.start_ns, e.dur_ns, e.correlation) for e in loaded.events]


def lines_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def write(tmp_path: Path, text: str, name: str = "trace.csv") -> Path:
    target = tmp_path / name
    target.write_bytes(text.encode("utf-8"))
    return target


def bad(path: Path, *needles: str) -> InputError:
    with pytest.raises(InputError) as caught:
        read_input(path)
    message = str(caught.value)
    assert "\n" not in message and caught.value.file == path, message
    for needle in needles:
        assert needle in message, message
    return caught.value


# --- the exports -----------------------------------------------------------------------------------------


def test_recent_export_timeline_is_exact() -> None:
    loaded = read_input(RECENT)
    assert loaded.format == "nsys"
    assert loaded.device_name == "NVIDIA H200"
    assert timeline(loaded) == RECENT_TIMELINE
    assert loaded.extra["base_ns"] == 2_431_806_112
    assert {e.stream for e in loaded.events} == {7, 13}
    # Stream 13's fill and softmax run while stream 7's attention kernel does.
    flash = next(e for e in loaded.events if e.name == FLASH)
    fill = next(e for e in loaded.events if e.correlation == 142)
    assert flash.stream != fill.stream and flash.start_ns < fill.start_ns < flash.end_ns


def test_kernels_carry_shape_and_no_work() -> None:
    kernels = [e for e in read_input(RECENT).events if e.kind == "kernel"]
    assert [e.name for e in kernels][1:4:2] == [FLASH, SOFTMAX]  # quoted names with commas, intact
    gemm = kernels[0]
    assert gemm.name.startswith("sm90_xmma_gemm_bf16bf16") and gemm.name.endswith("_cublas")
    assert (gemm.grid, gemm.block) == ((132, 1, 1), (384, 1, 1))
    assert (kernels[1].grid, kernels[1].block) == ((16, 4, 32), (128, 1, 1))
    for event in kernels:
        assert event.flops is None and event.bytes is None
        assert event.source == "none" and event.unknown_reason == UNKNOWN_REASON
    links = {e.name: e.link for e in read_input(RECENT).events if e.kind == "memcpy"}
    assert links["[CUDA memcpy Host-to-Device]"] == "host"
    assert links["[CUDA memcpy Device-to-Device]"] == "dram"


def test_copies_and_fills_get_bytes_from_the_mb_column() -> None:
    loaded = read_input(RECENT)
    memory = [(e.name, e.bytes, e.flops) for e in loaded.events if e.kind != "kernel"]
    # "Bytes (MB)" is decimal (4,194,304 bytes print as 4.194) with 3 decimals: 1 kB resolution.
    # A device-to-device copy reads and writes DRAM: twice its 16.777 MB size.
    assert memory == [
        ("[CUDA memcpy Host-to-Device]", 67_109_000.0, 0.0),
        ("[CUDA memset]", 4_194_000.0, 0.0),
        ("[CUDA memcpy Device-to-Device]", 2 * 16_777_000.0, 0.0),
        ("[CUDA memset]", 0.0, 0.0),
        ("[CUDA memcpy Device-to-Host]", 1_049_000.0, 0.0),
    ]
    assert all(e.grid is None and e.block is None for e in loaded.events if e.kind != "kernel")
    assert loaded.warnings == [
        "1 memcpy/memset row(s) show 0 bytes: the export prints sizes to 1 kB, "
        "so operations under 500 bytes read as 0"
    ]


def test_stdout_capture_with_preamble_and_two_devices() -> None:
    loaded = read_input(NSYS / "h200x2_stdout_cuda_gpu_trace.csv")
    assert loaded.device_name == "NVIDIA H200"
    assert loaded.extra["devices"] == {0: "NVIDIA H200", 1: "NVIDIA H200"}
    assert timeline(loaded) == [
        ("memcpy", 0, 7, 0, 671_089, 2207),
        ("memcpy", 1, 7, 2_048, 671_281, 2219),
        ("kernel", 0, 7, 702_464, 206_431, 2231),
        ("kernel", 1, 7, 705_600, 207_104, 2240),
        ("kernel", 0, 20, 912_128, 41_695, 2252),
        ("kernel", 1, 24, 913_440, 40_287, 2258),
    ]
    nccl = "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096UL>)"
    assert loaded.events[-1].name == nccl
    assert loaded.warnings == []


def test_older_header_without_greenctx() -> None:
    loaded = read_input(NSYS / "a100_2023_cuda_gpu_trace.csv")
    assert loaded.device_name == "NVIDIA A100-SXM4-80GB"
    assert timeline(loaded) == [
        ("memcpy", 0, 7, 0, 1_320_543, 41),
        ("memset", 0, 7, 1_331_200, 1_952, 45),
        ("kernel", 0, 7, 1_342_976, 318_207, 52),
        ("kernel", 0, 7, 1_663_488, 18_144, 57),
        ("memcpy", 0, 7, 1_690_112, 262_464, 63),
    ]
    sizes = [e.bytes for e in loaded.events if e.kind != "kernel"]
    assert sizes == [26_214_000.0, 2_097_000.0, 6_291_000.0]
    assert loaded.events[3].name.startswith("void at::native::elementwise_kernel<128, 2, ")
    assert loaded.events[3].name.endswith("::[lambda(int) (instance 1)]>(int, T3)")
    assert loaded.warnings == []


def test_2021_gputrace_start_in_seconds_and_plain_bytes() -> None:
    loaded = read_input(NSYS / "v100_2021_gputrace.csv")
    assert loaded.device_name == "Tesla V100-SXM2-16GB"
    assert loaded.extra["base_ns"] == 1_204_518_000
    assert timeline(loaded) == [
        ("memcpy", 0, 7, 0, 1_289_406, 31),
        ("kernel", 0, 7, 1_316_000, 812_655, 39),
        ("memcpy", 0, 7, 2_133_000, 1_299_327, 44),
    ]
    assert [e.bytes for e in loaded.events if e.kind == "memcpy"] == [16_777_216.0, 16_777_216.0]
    assert loaded.events[1].grid == (64, 64, 1)


def test_truncated_export_drops_its_last_row_with_a_warning() -> None:
    loaded = read_input(NSYS / "h200_truncated_cuda_gpu_trace.csv")
    assert timeline(loaded) == RECENT_TIMELINE[:5]
    assert loaded.warnings == ["line 7: the last row is truncated (its quoted name is cut short); dropped"]


def test_row_cut_inside_a_number_is_dropped(tmp_path: Path) -> None:
    lines = lines_of(RECENT)
    path = write(tmp_path, "".join(lines[:4]) + lines[4][:40])
    loaded = read_input(path)
    assert timeline(loaded) == RECENT_TIMELINE[:3]
    assert loaded.warnings == ["line 5: the last row is truncated (10 of 21 fields); dropped"]


def test_crlf_and_bom_read_the_same(tmp_path: Path) -> None:
    text = RECENT.read_text(encoding="utf-8").replace("\n", "\r\n")
    path = tmp_path / "windows.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    loaded = read_input(path)
    assert timeline(loaded) == RECENT_TIMELINE
    assert loaded.events[3].name == FLASH and loaded.device_name == "NVIDIA H200"


def test_thousands_separators(tmp_path: Path) -> None:
    lines = lines_of(RECENT)
    lines[1] = lines[1].replace("2431806112,1342177,118,", '"2,431,806,112","1,342,177",118,')
    loaded = read_input(write(tmp_path, "".join(lines)))
    assert timeline(loaded) == RECENT_TIMELINE


def test_unquoted_name_with_commas_is_rejoined(tmp_path: Path) -> None:
    lines = lines_of(RECENT)
    lines[4] = lines[4].replace(f'"{FLASH}"', FLASH)
    loaded = read_input(write(tmp_path, "".join(lines)))
    assert loaded.events[3].name == FLASH
    assert "1 row(s) had an unquoted kernel name with commas; the name was rejoined" in loaded.warnings


def test_gzipped_export(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv.gz"
    path.write_bytes(gzip.compress(RECENT.read_bytes()))
    assert timeline(read_input(path)) == RECENT_TIMELINE


def test_timeunit_usec_and_no_device_column(tmp_path: Path) -> None:
    # nsys stats --timeunit usec relabels the time columns; a hand-trimmed export may lack Device.
    text = "Start (us),Duration (us),CorrId,Strm,Name\n1500.250,12.5,9,7,k1\n1501.000,0.001,10,8,k2\n"
    path = write(tmp_path, text)
    loaded = read_input(path)
    assert timeline(loaded) == [("kernel", 0, 7, 0, 12_500, 9), ("kernel", 0, 8, 750, 1, 10)]
    assert loaded.device_name is None
    assert loaded.warnings == ["no Device column: every event is put on device 0 and no device is named"]


def test_mixed_device_models_name_none(tmp_path: Path) -> None:
    text = RECENT.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[3] = lines[3].replace("NVIDIA H200 (0)", "NVIDIA H100 80GB HBM3 (1)")
    loaded = read_input(write(tmp_path, "".join(lines)))
    assert loaded.device_name is None
    assert loaded.events[2].device == 1 and loaded.events[1].device == 0
    assert any("NVIDIA H100 80GB HBM3, NVIDIA H200" in w for w in loaded.warnings)


def test_sniffer() -> None:
    for path in NSYS.glob("*.csv"):
        assert _sniff(path, path.read_bytes()), path
    assert not _sniff(Path("x.csv"), b'"ID","Process ID","Process Name","Kernel Name","Metric Name"\n')
    assert not _sniff(Path("x.csv"), b"name,flops,bytes\ngemm,1,2\n")
    assert not _sniff(Path("x.yaml"), b"schema_version: 1\nkernels: []\n")


# --- bad input: one InputError naming the file, the place and the fix -------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    bad(path, "file is empty")
    with pytest.raises(InputError, match="file is empty"):
        read_nsys(path)


def test_header_without_rows(tmp_path: Path) -> None:
    header = lines_of(RECENT)[0]
    bad(write(tmp_path, header), "header but no complete rows", "--trace=cuda")
    bad(write(tmp_path, header + "\r\n\r\n", "blank.csv"), "header but no complete rows")


def test_only_row_truncated_leaves_no_rows(tmp_path: Path) -> None:
    lines = lines_of(RECENT)
    bad(write(tmp_path, lines[0] + lines[1][:30]), "no complete rows")


def test_missing_required_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "Start (ns),Duration (ns),CorrId,Device\n1,2,3,NVIDIA H200 (0)\n")
    error = bad(path, "Strm, Name", "nsys stats --report cuda_gpu_trace --format csv")
    assert error.place == "line 1"


def test_api_trace_is_named_as_the_wrong_report(tmp_path: Path) -> None:
    path = write(tmp_path, "Start (ns),Duration (ns),Name,Result,CorrID,Pid,Tid,T-Pri,Thread Name\n"
                           "500,300,cudaLaunchKernel,0,101,4242,4242,20,python3\n")
    bad(path, "Strm", "cuda_api_trace report", "--report cuda_gpu_trace")


@pytest.mark.parametrize(
    ("old", "new", "place"),
    [
        ("2433195424,412863,", "2433195424,n/a,", "line 4, column 'Duration (ns)'"),
        ("2433195424,412863,", "start,412863,", "line 4, column 'Start (ns)'"),
        ("2433195424,412863,", ",412863,", "line 4, column 'Start (ns)'"),
        ("2433195424,412863,", "2433195424,-5,", "line 4, column 'Duration (ns)'"),
        ("2433195424,412863,", "2433195424,nan,", "line 4, column 'Duration (ns)'"),
    ],
)
def test_bad_start_or_duration_names_line_and_column(tmp_path: Path, old: str, new: str, place: str) -> None:
    text = RECENT.read_text(encoding="utf-8")
    assert old in text
    error = bad(write(tmp_path, text.replace(old, new)), "not a non-negative number", "--report cuda_gpu_trace")
    assert error.place == place


def test_short_row_in_the_middle(tmp_path: Path) -> None:
    lines = lines_of(RECENT)
    lines[3] = ",".join(lines[3].split(",")[:10]) + "\n"
    error = bad(write(tmp_path, "".join(lines)), "10 fields, the header has 21")
    assert error.place == "line 4"


def test_unknown_time_unit(tmp_path: Path) -> None:
    path = write(tmp_path, "Start (fortnight),Duration (ns),Strm,Name\n1,2,7,k\n")
    bad(path, "'Start (fortnight)'", "unknown unit")


def test_nsys_skipped_message_is_passed_on(tmp_path: Path) -> None:
    path = write(tmp_path, "Processing [run.sqlite] with [/opt/nvidia/nsight-systems/2024.6.1/"
                           "host-linux-x64/reports/cuda_gpu_trace.py]... \n"
                           "SKIPPED: run.sqlite does not contain CUDA trace data.\n")
    bad(path, "nsys wrote no GPU trace table: SKIPPED: run.sqlite does not contain CUDA trace data.")


def test_preamble_only_without_header(tmp_path: Path) -> None:
    path = write(tmp_path, "Generating SQLite file run.sqlite from run.nsys-rep\n"
                           "Processing [run.sqlite] with [/opt/nsys/reports/cuda_gpu_trace.py]... \n\n")
    bad(path, "no cuda_gpu_trace header")


# --- the command line -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["h200_cuda_gpu_trace.csv", "h200_truncated_cuda_gpu_trace.csv"])
def test_classify_does_not_crash(name: str) -> None:
    result = runner.invoke(app, ["classify", str(NSYS / name), "--hw", "h200-sxm"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_classify_bad_export_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, lines_of(RECENT)[0])
    result = runner.invoke(app, ["classify", str(path), "--hw", "h200-sxm"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: error: ")
    assert "no complete rows" in lines[0]
