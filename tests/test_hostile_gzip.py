"""Zip bombs and cut-short gzip streams, for every reader of ``.gz`` input (sources/gzipcap.py)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from roofline.errors import InputError
from roofline.sources import gzipcap, jsonstream, read_input

DATA = Path(__file__).parent / "data"


def write_bomb(path: Path, prefix: bytes, filler: bytes, megabytes: int, suffix: bytes = b"") -> Path:
    """A gzip file of ``prefix``, ``filler`` repeated to ``megabytes`` MiB, and ``suffix``,
    written block by block (level 9: ~1000-fold, as a real bomb)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = filler * ((1 << 20) // len(filler))
    with path.open("wb") as handle:
        handle.write(compressor.compress(prefix))
        for _ in range(megabytes):
            handle.write(compressor.compress(block))
        handle.write(compressor.compress(suffix) + compressor.flush())
    return path


def _run_cli(*args: str) -> tuple[int, str, float]:
    """Exit code, stderr and peak RSS (MB) of ``roofline ARGS`` in a fresh interpreter."""
    script = ("import sys\nfrom roofline.cli import app\ncode = 0\n"
              "try:\n    app(sys.argv[1:], prog_name='roofline')\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
              # VmHWM, not ru_maxrss: Linux carries the parent's peak into ru_maxrss across exec.
              "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
              "print(f'MAXRSS {hwm}', file=sys.stderr)\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    rss_kb = int(lines[-1].split()[1])
    return done.returncode, "\n".join(lines[:-1]), rss_kb / 1024


def test_kineto_bomb_of_spaces_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    bomb = write_bomb(tmp_path / "bomb.json.gz", b'{"traceEvents": [', b" ", 200, b"]}")
    assert bomb.stat().st_size < 1_000_000
    started = time.perf_counter()
    code, stderr, rss_mb = _run_cli("classify", str(bomb), "--hw", "h200")
    assert code == 2 and len(stderr.splitlines()) == 1, stderr
    assert "a gzip bomb?" in stderr and str(bomb) in stderr and "gunzip" in stderr
    assert rss_mb < 600 and time.perf_counter() - started < 90, (rss_mb, stderr)  # generous for a loaded CI box


def test_compressible_trace_of_valid_events_stays_in_bounded_memory(tmp_path: Path) -> None:
    # Repeated events deflate ~200-fold (only runs of one byte approach 1000): under the ratio,
    # this is a big trace like any other, read streaming: whatever the verdict, memory is bounded.
    name = b"void at::native::elementwise_kernel<128, 4>(int, at::native::FillFunctor<float>)" * 4
    event = b'{"ph": "X", "cat": "kernel", "name": "' + name + b'", "ts": 1, "dur": 1, "args": {"device": 0}},\n'
    bomb = write_bomb(tmp_path / "events.json.gz", b'{"traceEvents": [\n', event, 100, b'{}]}')
    code, stderr, rss_mb = _run_cli("classify", str(bomb), "--hw", "h200", "--format", "json")
    assert code in (0, 2), stderr
    assert rss_mb < 800


def test_absolute_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstream, "MAX_DECOMPRESSED_BYTES", 100_000)
    with pytest.raises(InputError, match="decompresses to more than"):
        read_input(DATA / "h200" / "kineto" / "mini_decode_eager.json.gz")


@pytest.fixture
def small_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    # The ratio applies past 64 MiB; 1 MiB keeps these tests fast with the same logic.
    monkeypatch.setattr(gzipcap, "RATIO_GRACE_BYTES", 1 << 20)


def test_nsys_bomb(tmp_path: Path, small_grace: None) -> None:
    text = (DATA / "nsys" / "h200_cuda_gpu_trace.csv").read_bytes()
    header, row = text.splitlines(keepends=True)[:2]
    bomb = write_bomb(tmp_path / "nsys.csv.gz", header, row, 8)
    with pytest.raises(InputError, match="a gzip bomb"):
        read_input(bomb)


def test_ncu_bomb(tmp_path: Path, small_grace: None) -> None:
    text = (DATA / "ncu" / "ops_metrics_raw.csv").read_bytes()
    bomb = write_bomb(tmp_path / "ncu.csv.gz", text, b"\n", 8)
    with pytest.raises(InputError, match="a gzip bomb"):
        read_input(bomb)


def test_real_exports_inflate_well_under_the_ratio() -> None:
    for path in sorted((DATA / "h200").rglob("*.json.gz")):
        ratio = len(gzip.decompress(path.read_bytes())) / path.stat().st_size
        assert ratio < gzipcap.MAX_GZIP_RATIO / 5, path


def test_truncated_nsys_gzip_warns_instead_of_crashing(tmp_path: Path) -> None:
    # EOFError from gzip.open escaped the reader (exit 3).
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress((DATA / "nsys" / "h200_cuda_gpu_trace.csv").read_bytes())[:600])
    loaded = read_input(cut)
    assert any("gzip stream is truncated" in w for w in loaded.warnings)


def test_corrupt_gzip_header_is_an_input_error(tmp_path: Path) -> None:
    for name in ("x.json.gz", "x.csv.gz"):
        path = tmp_path / name
        path.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 64)
        with pytest.raises(InputError):
            read_input(path)
