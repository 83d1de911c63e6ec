"""``roofline profile -o trace.json -- python script.py ARGS``: capture a trace of a script, then classify it.

The script runs as a child process, not in-process: its ``sys.argv``, ``__main__``, ``sys.exit``,
atexit handlers, signals, stdout/stderr and tracebacks stay exactly its own. Exit codes: 0 profiled
and classified; 2 bad usage or nothing captured; 3 internal error; 4 the script itself failed
(the message names its exit code; a trace it left is still classified) — never 1, the gate's
"regression". A ``sitecustomize`` injected through ``PYTHONPATH`` starts the profiler inside it
(:func:`roofline.capture.bootstrap`) and reports back through a small status file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand

import roofline
from roofline.capture import CONFIG_ENV
from roofline.app.classify import classify_loaded
from roofline.cli.output import OutputFormat, classify_text
from roofline.cli.common import CeilingsOption, HwDirOption, HwFileOption, handle_errors, registry_from_options
from roofline.errors import EXIT_SCRIPT_FAILED, InputError
from roofline.report.text.console import classify_renderable
from roofline.sources import read_input

COMMAND_KEY = "roofline.profile.command"
USAGE = "roofline profile -o trace.json -- python script.py ARGS"

SITECUSTOMIZE = '''\
# Written by `roofline profile`: starts roofline's profiler inside the profiled script, then hands
# over to the environment's own sitecustomize, which this file shadows.
import os as _os
import sys as _sys


def _roofline_profile():
    import importlib.util
    import json

    here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
    # Child processes (DataLoader workers, subprocesses) must not start profilers of their own.
    config = _os.environ.pop("ROOFLINE_PROFILE_CONFIG", None)
    kept = [p for p in _os.environ.get("PYTHONPATH", "").split(_os.pathsep) if p and _os.path.abspath(p) != here]
    _os.environ["PYTHONPATH"] = _os.pathsep.join(kept)
    if config:
        package = json.loads(config)["package"]
        if "roofline" not in _sys.modules:  # this roofline, without the rest of its site-packages
            spec = importlib.util.spec_from_file_location(
                "roofline", _os.path.join(package, "__init__.py"), submodule_search_locations=[package])
            module = importlib.util.module_from_spec(spec)
            _sys.modules["roofline"] = module
            spec.loader.exec_module(module)
        from roofline.capture import bootstrap

        bootstrap(config)
    me = _sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        _sys.modules["sitecustomize"] = me


_roofline_profile()
'''


class StepOn(str, Enum):
    auto = "auto"
    module = "module"
    optimizer = "optimizer"
    none = "none"


class ProfileCommand(TyperCommand):
    """Takes everything after ``--`` as the command to profile, untouched by option parsing."""

    allow_extra_args = True
    ignore_unknown_options = True

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            split = args.index("--")
            ctx.meta[COMMAND_KEY] = args[split + 1:]
            args = args[:split]
        return super().parse_args(ctx, args)


def child_command(command: list[str]) -> list[str]:
    """The command to run: a bare ``script.py`` runs under this Python."""
    if command and command[0].endswith(".py"):
        return [sys.executable, *command]
    return list(command)


def child_environment(base: dict[str, str], site_dir: str, config: dict[str, Any]) -> dict[str, str]:
    env = dict(base)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [site_dir, base.get("PYTHONPATH", "")] if p)
    env[CONFIG_ENV] = json.dumps(config)
    return env


def run_child(argv: list[str], env: dict[str, str]) -> int:
    """Run the command with inherited stdin/stdout/stderr; its exit code (128+N for signal N)."""
    try:
        process = subprocess.Popen(argv, env=env)
    except OSError as exc:
        raise InputError(f"cannot run '{argv[0]}': {exc.strerror or exc}", place="profile",
                         fix=f"check the command after '--' ({USAGE})") from None
    # Ctrl-C reaches the child through the terminal's process group: let it decide, and wait for it.
    # (Ignored only after the start: a child that inherits SIG_IGN gets no KeyboardInterrupt.)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = process.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 128 - code if code < 0 else code


def say(message: str) -> None:
    print(f"roofline: {message}", file=sys.stderr)


def profile(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Trace file to write (.json or .json.gz).")],
    steps: Annotated[int, typer.Option("--steps", min=1, help="Steps to profile.")] = 3,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Steps to run first, unprofiled.")] = 2,
    step_on: Annotated[
        StepOn,
        typer.Option("--step-on", help="What ends a step: 'module' (each call of the first nn.Module the script "
                     "calls), 'optimizer' (each optimizer step), 'auto' (optimizer steps when the script trains, "
                     "else forward calls; the whole run when it calls no nn.Module), 'none' (the whole run, "
                     "unscheduled)."),
    ] = StepOn.auto,
    hw: Annotated[str, typer.Option("--hw", help="Device for classify, or 'auto' (from the trace).")] = "auto",
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="table, json or md")] = OutputFormat.table,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Show only the N kernel groups with most time.")] = None,
    ceilings: CeilingsOption = None,
    hw_file: HwFileOption = None,
    hw_dir: HwDirOption = None,
) -> None:
    """Profile a Python script with the settings roofline needs, then classify the trace.

    Everything after '--' is the command, e.g. roofline profile -o trace.json -- python train.py --lr 3e-4.
    Exit codes: 0 profiled; 2 bad usage or nothing captured; 3 internal error; 4 the script failed.
    """
    command = ctx.meta.get(COMMAND_KEY)
    if command is None:
        raise InputError("missing '--' before the command to profile", place="profile", fix=USAGE)
    if ctx.args:
        raise InputError(f"unexpected argument(s) before '--': {' '.join(ctx.args)}", place="profile", fix=USAGE)
    if not command:
        raise InputError("no command after '--'", place="profile", fix=USAGE)
    if not output.parent.is_dir():
        raise InputError("output directory does not exist", file=output, fix="create it first")
    output.unlink(missing_ok=True)  # a stale trace must never pass for this run's
    registry = registry_from_options(hw_file, hw_dir)
    with tempfile.TemporaryDirectory(prefix="roofline-profile-") as site_dir:
        status_path = Path(site_dir) / "status.json"
        (Path(site_dir) / "sitecustomize.py").write_text(SITECUSTOMIZE)
        config = {"out": str(output.resolve()), "steps": steps, "warmup": warmup, "step_on": step_on.value,
                  "status": str(status_path), "package": str(Path(roofline.__file__).resolve().parent)}
        code = run_child(child_command(command), child_environment(dict(os.environ), site_dir, config))
        status = json.loads(status_path.read_text()) if status_path.is_file() else None
    exit_code = report(status, code, output, steps, warmup, registry, hw, ceilings, format, top)
    raise typer.Exit(exit_code)


def report(status: dict | None, code: int, output: Path, steps: int, warmup: int, registry: Any, hw: str,
           ceilings: str | None, fmt: OutputFormat, top: int | None) -> int:
    """Print the outcome; the exit code: 0, or EXIT_SCRIPT_FAILED when the script failed (raises
    InputError, exit 2, when a script that succeeded left nothing to classify)."""
    failed = f"the script exited with code {code}" + (f" (signal {code - 128})" if code > 128 else "")
    exit_code = EXIT_SCRIPT_FAILED if code else 0
    if status is None or not status.get("started"):
        if code:
            say(f"{failed} before the profiler started; no trace was written (exit {EXIT_SCRIPT_FAILED})")
            return exit_code
        raise InputError(
            "the profiler never started in the profiled command", place="profile",
            fix="it must be a Python process that imports torch; python -I/-E ignores the PYTHONPATH set-up")
    unit = {"optimizer": "optimizer steps", "none": "the whole run, no steps"}.get(
        status["mode"], f"calls of {status.get('module')}.forward")
    if status.get("note"):
        say(f"note: {status['note']}")
    if not status.get("written"):
        message, fix = _nothing_profiled(status, unit, steps, warmup)
        if code:
            say(f"{failed}; {message} (exit {EXIT_SCRIPT_FAILED})")
            return exit_code
        raise InputError(message, place="profile", fix=fix)
    if status["mode"] != "none" and status["active_steps_recorded"] < steps:
        say(f"only {status['active_steps_recorded']} of {steps} profiled steps completed ({unit}); "
            "classifying the partial trace")
    if code:
        say(f"{failed}; classifying the trace it left (exit {EXIT_SCRIPT_FAILED})")
    try:
        loaded = read_input(output)
    except InputError as exc:
        if "no GPU activity" not in exc.message:
            raise
        say(f"trace written to {output} ({_steps(status, unit)})")
        print("verdict: no GPU activity was recorded (the script ran on the CPU only): "
              "nothing to place on a GPU roofline")
        return exit_code
    result = classify_loaded(loaded, registry, hw, ceilings)
    say(f"trace written to {output} ({_steps(status, unit)})")
    text = classify_text([result], fmt, top)
    if text is None:
        Console().print(classify_renderable(result, top=top))
    else:
        sys.stdout.write(text)
    return exit_code


def _nothing_profiled(status: dict, unit: str, steps: int, warmup: int) -> tuple[str, str]:
    """Why no step was profiled, and the fix that applies to what the script did."""
    taken = status["steps_taken"]
    message = f"the script made {taken} step(s) ({unit}), fewer than --warmup {warmup} + 1: nothing was profiled"
    forwards = status.get("forwards", 0)
    if status["mode"] == "optimizer" and status.get("optimizer_steps", 0) == 0 and forwards:
        return (f"no optimizer step ran, but {status.get('module')}.forward was called {forwards} time(s): "
                "nothing was profiled",
                f"profile its forward calls with --step-on module (and --warmup {max(forwards - steps, 0)} or "
                "less), or --step-on none for the whole run")
    return message, "lower --warmup, or run more iterations (or --step-on none for the whole run)"


def _steps(status: dict, unit: str) -> str:
    return unit if status["mode"] == "none" else f"{status['active_steps_recorded']} profiled step(s), {unit}"


profile = handle_errors(profile)
