"""Reader registry and format sniffing."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roofline.analysis.classify import KernelWork
from roofline.analysis.events import GpuEvent
from roofline.errors import InputError

SNIFF_BYTES = 64 * 1024


@dataclass
class LoadedInput:
    """What a reader produced from one file: kernel work without a timeline (declared kernels,
    Nsight Compute) and/or a GPU timeline (kineto, Nsight Systems).
    """

    path: Path
    format: str
    kernels: list[KernelWork] = field(default_factory=list)
    events: list[GpuEvent] | None = None
    device_name: str | None = None
    title: str | None = None
    in_graph: bool = False
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, object] = field(default_factory=dict)


Sniffer = Callable[[Path, bytes], bool]
Reader = Callable[[Path], LoadedInput]


@dataclass(frozen=True)
class ReaderEntry:
    name: str
    description: str
    sniff: Sniffer
    read: Reader


_READERS: dict[str, ReaderEntry] = {}
# Modules whose import registers readers; imported lazily on first use.
_READER_MODULES = (
    "roofline.sources.declared",
    "roofline.sources.kineto",
    "roofline.sources.ncu",
    "roofline.sources.nsys",
)


def register_reader(name: str, *, description: str, sniff: Sniffer) -> Callable[[Reader], Reader]:
    def decorate(read: Reader) -> Reader:
        if name in _READERS:
            raise RuntimeError(f"reader '{name}' registered twice")
        _READERS[name] = ReaderEntry(name, description, sniff, read)
        return read

    return decorate


def registered_readers() -> dict[str, ReaderEntry]:
    for module in _READER_MODULES:
        importlib.import_module(module)
    return dict(_READERS)


def head_bytes(path: Path, limit: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a file, decompressed when it is gzip."""
    with path.open("rb") as handle:
        head = handle.read(limit)
    if head[:2] == b"\x1f\x8b":
        import gzip
        import zlib

        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            return decompressor.decompress(head, limit)
        except zlib.error:
            try:
                with gzip.open(path, "rb") as handle:
                    return handle.read(limit)
            except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
                # A damaged header made gzip raise zlib.error (exit 3) out of format sniffing.
                raise InputError(f"corrupt gzip data ({exc})", file=path, fix="re-export the file") from None
    return head


def read_input(path: Path, on_progress: Callable[[int], None] | None = None) -> LoadedInput:
    """Sniff ``path``'s format and read it with the matching reader. ``on_progress`` receives the
    number of file bytes consumed so far (readers of large formats call it)."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path, fix="check the path")
    if path.is_dir():
        raise InputError("is a directory", file=path, fix="give a trace, export or workload file")
    if not path.is_file():  # a FIFO or device: opening it could block, reading it never end
        raise InputError("is not a regular file", file=path, fix="give a trace, export or workload file")
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path, fix="re-export the trace or write the workload")
    readers = registered_readers()
    try:
        head = head_bytes(path)
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", file=path) from None
    for entry in readers.values():
        if entry.sniff(path, head):
            if on_progress is not None and "on_progress" in inspect.signature(entry.read).parameters:
                return entry.read(path, on_progress=on_progress)  # type: ignore[call-arg]
            return entry.read(path)
    known = "; ".join(f"{e.name} ({e.description})" for e in readers.values())
    raise InputError("unrecognised input format", file=path, fix=f"roofline reads: {known}")
