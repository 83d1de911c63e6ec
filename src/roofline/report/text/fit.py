"""Tables that fit any width without breaking a word or an identifier.

Each column says how much it matters (``keep``: 0 is never dropped; when the table is too wide,
the column with the highest number goes first) and whether it is the one name column that takes
what width is left (``name``: cut at its end with "…", never folded mid-identifier, never below
``min_width``). Every other column keeps its natural width and never wraps: a figure is either
shown whole or its column is dropped, and a caption says which columns were left out.

:class:`FitTable` is a rich renderable that does this at print time, for the width of the
console it is printed on: renderers build one without knowing the terminal.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


@dataclass(frozen=True)
class Column:
    header: str  # "\n" stacks a header's words, so the header is no wider than the figures
    justify: str = "right"
    keep: int = 0
    name: bool = False
    prose: bool = False  # words, not an identifier: takes leftover width like a name, wraps at spaces
    min_width: int = 20  # a name or prose column is never narrower
    want: int = 0  # a name column narrower than this makes columns with keep >= OPTIONAL go first
    style: str | None = None


# Columns that may go to give a name column its ``want``ed width (the rest go only when nothing
# else fits).
OPTIONAL = 5


@dataclass(frozen=True)
class Name:
    """A name cell: ``main`` (an identifier, cut at its end with "…" when the column is narrow)
    and an optional ``suffix`` kept whole after it (the op in brackets)."""

    main: str
    suffix: str = ""
    suffix_style: str = "dim"

    @property
    def plain(self) -> str:
        return self.main + self.suffix

    def fitted(self, width: int) -> Text:
        main, suffix = self.main, self.suffix
        if len(main) + len(suffix) > width:
            room = width - len(suffix) - 1
            if suffix and room >= 8:
                main = main[:room] + "…"
            else:  # too narrow to keep both: the identifier alone, cut at its end
                main, suffix = (main + suffix)[: width - 1] + "…", ""
        text = Text(main)
        if suffix:
            text.append(suffix, style=self.suffix_style)
        return text


def _flexible(column: Column) -> bool:
    return column.name or column.prose


def _longest_word(column: Column, rows: Sequence[Sequence[Any]], index: int) -> int:
    words = [w for row in rows for w in _plain(row[index]).split()] + column.header.split()
    return max((Text(w).cell_len for w in words), default=0)


def _plain(cell: Any) -> str:
    if isinstance(cell, Name):
        return cell.plain
    return cell.plain if isinstance(cell, Text) else str(cell)


def cell_width(cell: Any) -> int:
    """The widest line of a cell as printed."""
    return max((Text(line).cell_len for line in _plain(cell).split("\n")), default=0)


def _overhead(make_table: Any, columns: int) -> int:
    """What the table's borders and padding add to its columns' widths."""
    probe = make_table()
    for _ in range(columns):
        probe.add_column(width=1, no_wrap=True)
    console = Console(file=io.StringIO(), width=10_000, color_system=None)
    return Measurement.get(console, console.options, probe).maximum - columns


def _cell(cell: Any, width: int) -> Any:
    # A string is shown as it is: names from a trace must never be read as rich markup.
    if isinstance(cell, Name):
        return cell.fitted(width)
    return Text(cell) if isinstance(cell, str) else cell


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int, **options: Any) -> Table:
    """A rich Table of ``rows`` laid out for ``width`` terminal columns."""
    natural = [max([cell_width(c.header)] + [cell_width(row[i]) for row in rows]) for i, c in enumerate(columns)]
    # A prose column wraps between words, never inside one: no narrower than its longest word.
    floors = [min(natural[i], max(c.min_width, _longest_word(c, rows, i)) if c.prose else c.min_width)
              for i, c in enumerate(columns)]

    def make_table() -> Table:
        return Table(**options)

    kept = list(range(len(columns)))
    overheads: dict[int, int] = {}

    def needed(indices: list[int]) -> int:
        if len(indices) not in overheads:
            overheads[len(indices)] = _overhead(make_table, len(indices))
        fixed = sum(natural[i] for i in indices if not _flexible(columns[i]))
        names = sum(min(natural[i], floors[i]) for i in indices if _flexible(columns[i]))
        return fixed + names + overheads[len(indices)]

    def drop(candidates: list[int]) -> None:
        kept.remove(max(candidates, key=lambda i: (columns[i].keep, i)))

    def name_widths() -> dict[int, int]:
        names = [i for i in kept if _flexible(columns[i])]
        spare = max(width - needed(kept), 0)
        widths = {}
        for i in names:  # the name columns share what is left, up to their natural width
            base = min(natural[i], floors[i])
            widths[i] = base + min(natural[i] - base, spare // max(len(names), 1))
        return widths

    while needed(kept) > width and any(columns[i].keep > 0 for i in kept):
        drop([i for i in kept if columns[i].keep > 0])
    while True:
        short = [i for i, w in name_widths().items() if w < min(columns[i].want, natural[i])]
        optional = [i for i in kept if columns[i].keep >= OPTIONAL]
        if not short or not optional:
            break
        drop(optional)
    widths = {i: natural[i] for i in kept if not _flexible(columns[i])} | name_widths()
    table = make_table()
    for i in kept:
        column = columns[i]
        table.add_column(column.header, justify=column.justify, width=max(widths[i], 1), no_wrap=not column.prose,
                         overflow="fold" if column.prose else "ellipsis" if column.name else "crop",
                         style=column.style)
    for row in rows:
        table.add_row(*(_cell(row[i], widths[i]) for i in kept))
    dropped = [" ".join(columns[i].header.split()) for i in range(len(columns)) if i not in kept]
    if dropped:
        table.caption = f"hidden at {width} columns: {', '.join(dropped)} (--format json has every column)"
        table.caption_justify = "left"
        table.caption_style = "dim"
    return table


class FitTable:
    """``fit_table(columns, rows, width)`` for the width it is printed at."""

    def __init__(self, columns: Sequence[Column], rows: Sequence[Sequence[Any]], **options: Any) -> None:
        self.columns = list(columns)
        self.rows = [list(row) for row in rows]
        self.options = options

    def table(self, width: int) -> Table:
        return fit_table(self.columns, self.rows, width, **self.options)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.table(options.max_width))
