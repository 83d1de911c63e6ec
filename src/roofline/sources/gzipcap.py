"""Reading ``.gz`` inputs with a cap on what they decompress to (zip bombs) and a truncated
stream reported rather than raised.

Real profiler exports compress 5–30× (the H200 fixtures: kineto 8–30×, Nsight CSV 1–17×);
deflate's limit is ~1030×, which is what a bomb approaches. So past the first 64 MiB a stream
that has inflated more than 250-fold is refused, and nothing may inflate past 64 GiB. The
message says how to read a genuine file anyway: decompress it and pass the plain file, whose size
is there for everyone to see.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

from roofline.errors import InputError

MAX_DECOMPRESSED_BYTES = 64 * 1024**3
MAX_GZIP_RATIO = 250
RATIO_GRACE_BYTES = 64 * 1024**2
GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: Path) -> bool:
    with Path(path).open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def check_inflation(path: Path, compressed: int, decompressed: int,
                    limit: int = MAX_DECOMPRESSED_BYTES) -> None:
    """InputError when ``compressed`` bytes of ``path`` have inflated to too much."""
    fix = "if the file is genuine, decompress it (gunzip -k) and pass the plain file"
    if decompressed > limit:
        raise InputError(f"decompresses to more than {limit / 1e9:.0f} GB", file=path,
                         place=f"compressed byte {compressed:,}", fix=fix)
    if decompressed > RATIO_GRACE_BYTES and decompressed > MAX_GZIP_RATIO * max(compressed, 1):
        raise InputError(
            f"inflates more than {MAX_GZIP_RATIO}-fold ({decompressed / 1e6:,.0f} MB from {compressed / 1e6:,.1f} MB; "
            "profiler exports compress 5-30 fold): a gzip bomb?",
            file=path, place=f"compressed byte {compressed:,}", fix=fix,
        )


class GzipStream(io.RawIOBase):
    """A binary stream of the decompressed content of a gzip file, under the caps. A stream cut
    short ends where the data ends and sets ``truncated``; corrupt data at the very start is an
    InputError, later it ends the stream like a truncation."""

    def __init__(self, path: Path, limit: int = MAX_DECOMPRESSED_BYTES) -> None:
        super().__init__()
        self.path = Path(path)
        self.limit = limit
        self.raw = self.path.open("rb")
        self.decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.total_out = 0
        self.truncated = False
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        while not self.done:
            chunk = self.decompressor.unconsumed_tail or self.raw.read(1 << 20)
            if not chunk:
                self.truncated = self.truncated or not self.decompressor.eof
                self.done = True
                break
            try:
                data = self.decompressor.decompress(chunk, want)
            except zlib.error as exc:
                if self.total_out == 0:
                    raise InputError(f"corrupt gzip data ({exc})", file=self.path,
                                     fix="re-export the file") from None
                self.truncated = self.done = True
                break
            if self.decompressor.eof:
                # One member: what follows (a second member, or padding) is not read.
                self.done = True
            if data:
                self.total_out += len(data)
                consumed = self.raw.tell() - len(self.decompressor.unconsumed_tail)
                check_inflation(self.path, consumed, self.total_out, self.limit)
                buffer[: len(data)] = data
                return len(data)
        return 0

    def readall(self) -> bytes:
        parts, buffer = [], bytearray(1 << 20)
        while True:
            count = self.readinto(buffer)
            if not count:
                return b"".join(parts)
            parts.append(bytes(buffer[:count]))

    def close(self) -> None:
        self.raw.close()
        super().close()


def read_bytes_capped(path: Path, limit: int, what: str) -> tuple[bytes, bool]:
    """The whole content of a plain or gzip file, refusing more than ``limit`` bytes of it;
    returns (content, truncated gzip stream)."""
    path = Path(path)
    if not is_gzip(path):
        size = path.stat().st_size
        if size > limit:
            raise InputError(f"is {size / 1e9:.1f} GB, over the {limit / 1e9:.0f} GB a {what} is read up to",
                             file=path, fix="export fewer kernels (ncu --kernel-name / --launch-count)")
        return path.read_bytes(), False
    with GzipStream(path, limit) as stream:
        return stream.read(), stream.truncated
