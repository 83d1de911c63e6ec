"""The root command group: subcommands imported only when they run, and one-line usage errors.

Importing every command module up front cost ~0.86 s before any command started (matplotlib,
numpy, pydantic models, the renderers). Here a subcommand is a ``module:attribute`` name; its
module is imported when that subcommand is parsed, and ``roofline --help`` lists the commands
from their one-line summaries without importing any of them (tests/test_cli_startup.py checks
that each summary is the command's own).

Usage errors (an unknown option, a bad value) are the same one line as every other error
(``roofline: error: ... — fix``, exit 2) instead of click's multi-line box.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from typer.core import TyperCommand

try:  # recent typer vendors click as typer._click; older typer uses click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exceptions

from roofline.errors import EXIT_BAD_INPUT
from roofline.safetext import escape_controls


@dataclass(frozen=True)
class LazyCommand:
    """A subcommand by name: ``target`` is ``module:attribute`` (a command function or a Typer
    app), ``summary`` the first paragraph of its help, shown by ``roofline --help``."""

    target: str
    summary: str
    cls: str | None = None  # ``module:attribute`` of a click command class for the function

    def load(self, name: str) -> Any:
        module_name, _, attribute = self.target.partition(":")
        obj = getattr(importlib.import_module(module_name), attribute)
        if isinstance(obj, typer.Typer):
            command = typer.main.get_command(obj)
        else:
            single = typer.Typer(add_completion=False)
            cls = None
            if self.cls is not None:
                cls_module, _, cls_name = self.cls.partition(":")
                cls = getattr(importlib.import_module(cls_module), cls_name)
            single.command(name, cls=cls)(obj)
            command = typer.main.get_command(single)
        command.name = name
        _name_context_in_usage_errors(command)
        return command


def _name_context_in_usage_errors(command: Any) -> None:
    """Some of click's usage errors (an option missing its value) carry no context, so the
    message could not name the subcommand: give them the one being parsed."""
    original = command.parse_args

    def parse_args(ctx: Any, args: list[str]) -> list[str]:
        try:
            return original(ctx, args)
        except click_exceptions.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = ctx
            raise

    command.parse_args = parse_args
    for sub in getattr(command, "commands", {}).values():
        _name_context_in_usage_errors(sub)


class LazyGroup(TyperGroup):
    """A TyperGroup whose subcommands (``lazy_commands``) are imported on first use."""

    lazy_commands: dict[str, LazyCommand] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: dict[str, Any] = {}
        self._listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in self.lazy_commands if n not in self.commands)]

    def get_command(self, ctx: Any, name: str) -> Any | None:
        entry = self.lazy_commands.get(name)
        if entry is None:
            return super().get_command(ctx, name)
        if self._listing:  # the help listing needs only the name and the summary
            return TyperCommand(name, help=entry.summary, short_help=entry.summary)
        if name not in self._loaded:
            self._loaded[name] = entry.load(name)
        return self._loaded[name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_exceptions.UsageError as exc:
            if isinstance(exc, NO_ARGS_IS_HELP):  # the help was the answer (rich printed it already)
                text = exc.format_message()
                if text.strip():
                    print(text)
                sys.exit(EXIT_BAD_INPUT)
            print(f"roofline: error: {usage_line(exc)}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        except click_exceptions.ClickException as exc:
            print(f"roofline: error: {one_line(exc.format_message())}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except typer.Abort:
            print("roofline: aborted", file=sys.stderr)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


NO_ARGS_IS_HELP = getattr(click_exceptions, "NoArgsIsHelpError", ())

# typer coerces values through pydantic, whose messages speak of "Input should be ..." and
# "Value error, ...": said here the way a command line says them.
PLAIN_WORDING = [
    (re.compile(r"Input should be a valid integer(, unable to parse string as an integer)?"), "not a whole number"),
    (re.compile(r"Input should be a valid number(, unable to parse string as a number)?"), "not a number"),
    (re.compile(r"Input should be a valid boolean(, unable to interpret input)?"), "not true or false"),
    (re.compile(r"Input should be greater than or equal to "), "must be at least "),
    (re.compile(r"Input should be greater than "), "must be more than "),
    (re.compile(r"Input should be less than or equal to "), "must be at most "),
    (re.compile(r"Input should be less than "), "must be less than "),
    (re.compile(r"Value error, "), ""),
    (re.compile(r"^Invalid value for "), "invalid value for "),
]


def plain(text: str) -> str:
    for pattern, replacement in PLAIN_WORDING:
        text = pattern.sub(replacement, text)
    return text


def one_line(text: str) -> str:
    return escape_controls(plain(" ".join(str(text).split())).rstrip("."))


def usage_line(exc: Any) -> str:
    """``COMMAND: what is wrong — fix``: click's message on one line, the fix naming --help."""
    names, ctx = [], getattr(exc, "ctx", None)
    while ctx is not None and ctx.parent is not None:  # the root is 'roofline' however it was started
        names.insert(0, ctx.info_name)
        ctx = ctx.parent
    message = one_line(exc.format_message())
    place = f"{' '.join(names)}: " if names else ""
    return f"{place}{message} — see '{' '.join(['roofline', *names])} --help'"
