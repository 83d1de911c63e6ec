"""What every command shares: error-to-exit-code mapping, registry options, output writing."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from roofline.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, InputError
from roofline.hardware.registry import Registry, load_registry

F = TypeVar("F", bound=Callable[..., Any])

HW_PATH_ENV = "ROOFLINE_HW_PATH"

HwFileOption = Annotated[
    list[Path] | None,
    typer.Option("--hw-file", help="Extra hardware spec or ceilings YAML (repeatable); overrides bundled specs."),
]
HwDirOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--hw-dir",
        help=f"Directory of extra hardware spec YAML files (repeatable; also ${HW_PATH_ENV}, ':'-separated).",
    ),
]
CeilingsOption = Annotated[
    str | None,
    typer.Option(
        "--ceilings",
        help="Measured ceilings: a 'kind: ceilings' YAML from 'roofline hw measure', or 'measured' for the "
        "bundled overlay of the device. Default: datasheet roofs.",
    ),
]


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def error_exit(message: str, code: int) -> typer.Exit:
    # Plain print: rich would wrap a long path onto several lines, and this must stay one line.
    print(f"roofline: error: {message}", file=sys.stderr)
    return typer.Exit(code)


def handle_errors(fn: F) -> F:
    """Map InputError to a one-line message and exit 2; anything unexpected to exit 3."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            raise error_exit(exc.one_line(), EXIT_BAD_INPUT) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            print("roofline: interrupted; no output was written", file=sys.stderr)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug: say so in one line, keep the traceback for who asks
            if os.environ.get("ROOFLINE_DEBUG"):
                traceback.print_exc()
            where = traceback.extract_tb(exc.__traceback__)[-1]
            raise error_exit(
                f"internal error: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno}; "
                "please report it; ROOFLINE_DEBUG=1 shows the traceback)",
                EXIT_INTERNAL,
            ) from None

    return wrapper  # type: ignore[return-value]


def registry_from_options(hw_files: list[Path] | None, hw_dirs: list[Path] | None) -> Registry:
    dirs = list(hw_dirs or [])
    env = os.environ.get(HW_PATH_ENV, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    return load_registry(extra_dirs=dirs, extra_files=list(hw_files or []))


def write_output(text: str, output: Path | None) -> None:
    """Print to stdout, or write ``output`` atomically (temp file + rename)."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_atomic(output, text.encode("utf-8"))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise InputError("output directory does not exist", file=path, fix="create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file private (0600); a report or chart is meant to be shared, so give
        # it the mode any new file gets (0666 less the umask), or keep the mode of the file replaced.
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
