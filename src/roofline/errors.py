"""Errors that the command line turns into a one-line message and an exit code.

Every user-facing failure is an :class:`InputError`: it names the file, the place in it
and the fix, and maps to exit code 2. Anything else escaping the core is a bug (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from roofline.safetext import escape_controls

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
# roofline profile: the profiled command itself failed (its own exit code is in the message).
EXIT_SCRIPT_FAILED = 4


@dataclass
class InputError(Exception):
    """Unusable input or usage: the file, the place in it, what is wrong, and the fix."""

    message: str
    file: str | Path | None = None
    place: str | None = None
    fix: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.place:
                where += f":{self.place}"
            where += ": "
        elif self.place:
            where = f"{self.place}: "
        text = f"{where}{self.message}"
        if self.fix:
            text += f" — {self.fix}"
        # One line, and nothing from the input (a name, a cell) can steer the terminal.
        return escape_controls(" ".join(text.split()))

    def __str__(self) -> str:
        return self.one_line()


class MissingDependencyError(InputError):
    """An optional dependency (torch, pynvml) needed by the requested feature is absent."""
