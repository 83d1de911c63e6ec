"""What every command shares: error-to-exit-code mapping, registry options, output writing."""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
import traceback
from enum import Enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from roofline.atomicio import append_atomic, start_command, write_atomic, written_outputs
from roofline.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, InputError
from roofline.app.registry import HW_PATH_ENV
from roofline.app.registry import registry_for as registry_from_options

F = TypeVar("F", bound=Callable[..., Any])


class HwFormat(str, Enum):
    table = "table"
    json = "json"


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

GraphCaptureOption = Annotated[
    Path | None,
    typer.Option("--graph-capture", help="Profile of the CUDA/HIP-graph capture (file or its directory): "
                 "costs graph-replayed kernels from the ops and shapes recorded at capture."),
]
TraceModelOption = Annotated[
    str | None,
    typer.Option("--model", help="The served model (bundled name, config.json, model directory or cached Hugging "
                 "Face repo id): costs engine ops whose weights live in the layer (vllm::moe_forward)."),
]


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def error_exit(message: str, code: int) -> typer.Exit:
    # Plain print: rich would wrap a long path onto several lines, and this must stay one line.
    print(f"roofline: error: {message}", file=sys.stderr)
    return typer.Exit(code)


# Command parameters that name files the command writes; every other path parameter is read.
OUTPUT_OPTIONS = {"output": "--output", "annotate": "--annotate", "out": "--out", "junit": "--junit",
                  "markdown": "--markdown", "write_baseline": "--write-baseline", "write_spec": "--write-spec"}


def _paths(value: Any) -> list[Path]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [Path(item) for item in items if isinstance(item, Path) or (isinstance(item, str) and os.path.exists(item))]


def _same_file(left: Path, right: Path) -> bool:
    try:
        return left.resolve() == right.resolve() or (left.exists() and os.path.samefile(left, right))
    except (OSError, RuntimeError):  # a symlink loop: RuntimeError up to Python 3.12
        return False


def _inside(path: Path, directory: Path) -> bool:
    try:
        return directory.is_dir() and path.is_file() and path.resolve().is_relative_to(directory.resolve())
    except (OSError, RuntimeError):
        return False


def refuse_overwriting_inputs(kwargs: dict[str, Any]) -> None:
    """Exit 2 before any work when an output option names an input of the same command (or a
    file inside an input directory), or two outputs name one file: inputs are never modified."""
    outputs = [(OUTPUT_OPTIONS[name], Path(value)) for name, value in kwargs.items()
               if name in OUTPUT_OPTIONS and isinstance(value, (str, Path))]
    if not outputs:
        return
    inputs = [path for name, value in kwargs.items() if name not in OUTPUT_OPTIONS for path in _paths(value)]
    for option, output in outputs:
        for path in inputs:
            if _same_file(output, path) or _inside(output, path):
                what = "refusing to overwrite the input trace" if option == "--annotate" else "would overwrite an input"
                raise InputError(what, file=output, place=option,
                                 fix="write the output to another file; roofline never modifies its inputs")
    for index, (option, output) in enumerate(outputs):
        for other, second in outputs[index + 1 :]:
            if _same_file(output, second):
                raise InputError(f"{option} and {other} name the same file", file=output, place=option,
                                 fix="give each output its own file")


def _interrupted_message() -> str:
    written = written_outputs()
    if not written:
        return "roofline: interrupted; no output was written"
    return (f"roofline: interrupted; written before the interrupt: {', '.join(map(str, written))}; "
            "any other output was not written")


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl-C, so temporary files are removed.
    raise KeyboardInterrupt


def _is_validation_error(exc: BaseException) -> bool:
    pydantic = sys.modules.get("pydantic")  # never imported just to ask
    return pydantic is not None and isinstance(exc, pydantic.ValidationError)


def validation_line(exc: Any) -> str:
    """A pydantic ValidationError as one line: the first problem, where it is, in plain words."""
    from roofline.cli.lazy import one_line

    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(str(part) for part in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    subject = f"'{where}': " if where else ""
    return one_line(f"invalid value {subject}{first.get('msg', '')}{more} — check the value given for it")


def handle_errors(fn: F) -> F:
    """Map InputError to a one-line message and exit 2; anything unexpected to exit 3. Before
    the command runs: refuse outputs that would overwrite inputs; afterwards, an interrupt says
    which outputs (written atomically, roofline.atomicio) exist."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start_command()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _terminate)
        try:
            refuse_overwriting_inputs(kwargs)
            return fn(*args, **kwargs)
        except InputError as exc:
            raise error_exit(exc.one_line(), EXIT_BAD_INPUT) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            print(_interrupted_message(), file=sys.stderr)
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None
        except Exception as exc:  # a bug: say so in one line, keep the traceback for who asks
            if _is_validation_error(exc):  # a value no reader checked first: still the user's input
                raise error_exit(validation_line(exc), EXIT_BAD_INPUT) from None
            if os.environ.get("ROOFLINE_DEBUG"):
                traceback.print_exc()
            where = traceback.extract_tb(exc.__traceback__)[-1]
            raise error_exit(
                f"internal error: {type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno}; "
                "please report it; ROOFLINE_DEBUG=1 shows the traceback)",
                EXIT_INTERNAL,
            ) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper  # type: ignore[return-value]


PROGRESS_MIN_BYTES = 64 * 1024 * 1024


def read_with_progress(path: Path) -> Any:
    """Read an input (a roofline.sources.LoadedInput), with a progress bar on stderr for large
    files when stderr is a terminal."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from roofline.sources import read_input

    console = stderr_console()
    size = path.stat().st_size if path.is_file() else 0
    if size < PROGRESS_MIN_BYTES or not console.is_terminal:
        return read_input(path)
    with Progress(
        TextColumn("reading {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(path.name, total=size)
        return read_input(path, on_progress=lambda done: progress.update(task, completed=done))



def check_output(path: Path, allowed: tuple[str, ...] | None = None) -> str:
    """The output format, checked before any work is done: a missing directory or an unknown
    extension should not cost a minute of parsing first."""
    from roofline.report.charts import mpl

    fmt = mpl.format_for(path) if allowed is None else _suffix_in(path, allowed)
    parent = Path(path).parent
    if not parent.is_dir():
        raise InputError("output directory does not exist", file=path, fix="create it first")
    return fmt


def _suffix_in(path: Path, allowed: tuple[str, ...]) -> str:
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in allowed:
        raise InputError(f"unsupported extension '{Path(path).suffix or '(none)'}'", file=path,
                         fix="use " + " or ".join("." + a for a in allowed))
    return fmt


__all__ = ["HW_PATH_ENV", "append_atomic", "registry_from_options", "write_atomic"]
