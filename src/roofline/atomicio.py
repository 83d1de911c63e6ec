"""Every file roofline writes goes through here: a temporary file beside the target, flushed to
disk, then renamed over it. A reader — a CI step, a browser, the next ``roofline gate`` — sees
the old file or the complete new one, never half of one; an interrupted or failed write removes
its temporary file and leaves the target as it was (docs/robustness.md).

The command line also asks which files were written so far (:func:`written_outputs`), so that an
interrupted command can say exactly what it left behind.
"""

from __future__ import annotations

import gzip
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from roofline.errors import InputError

_written: list[Path] = []


def start_command() -> None:
    """Forget the outputs of a previous command (the CLI calls this as each command starts)."""
    _written.clear()


def written_outputs() -> list[Path]:
    return list(_written)


def _mode_for(path: Path) -> int:
    # mkstemp creates 0600; the result should have the mode the target had, or what the umask
    # gives a new file, as an ordinary open() would.
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


_INTERRUPTS = {getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)} - {None}


def _hold_interrupts() -> set | None:
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _INTERRUPTS)


def _release_interrupts(previous: set | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def atomic_output(path: Path, *, compress: bool | None = None) -> Iterator[IO[bytes]]:
    """A binary stream to a temporary file beside ``path``, renamed over it only when the block
    ends without an exception. ``compress`` (default: when the name ends in ``.gz``) writes gzip
    with mtime 0, so the same content gives the same bytes."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError("output directory does not exist", file=path, fix="create it first")
    if path.is_dir():
        raise InputError("is a directory", file=path, fix="give a file name for the output")
    if compress is None:
        compress = path.name.lower().endswith(".gz")
    # An interrupt between creating the temporary file and the cleanup below taking charge of it
    # would leave it behind: hold SIGINT/SIGTERM back across that window (they arrive just after).
    held = _hold_interrupts()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        _release_interrupts(held)
        raise InputError(f"cannot write here: {exc.strerror or exc}", file=path) from None
    try:
        _release_interrupts(held)
        with os.fdopen(fd, "wb") as raw:
            if compress:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as zipped:
                    yield zipped  # type: ignore[misc]
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _written.append(path)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (never compressed: ``data`` is the file's bytes)."""
    with atomic_output(path, compress=False) as handle:
        handle.write(data)


def append_atomic(path: Path, text: str) -> None:
    """Append ``text`` to ``path`` (created if missing) by rewriting it atomically: an
    interrupted append leaves the file as it was, not with half a section at its end."""
    path = Path(path)
    try:
        existing = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=path) from None
    write_atomic(path, existing + text.encode("utf-8"))
