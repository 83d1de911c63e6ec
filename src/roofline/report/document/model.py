"""The report as data: a title and an ordered list of sections, each a list of typed blocks
(paragraphs, bullet lists, tables, charts, a verdict banner). HTML and Markdown renderers walk the
same object; neither knows what a section is about.

This is the extension point for other results: a section is built from any result by a function
returning :class:`Section` objects, and passed to ``build_report(..., extra_sections=...)``. An LLM
serving plan section, for example, would be a table of steps (technique, before, after, delta)
plus bullets of rationale and risks, and a chart of the per-phase time breakdown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Cell:
    """A table cell: ``hint`` is shown on hover in HTML (e.g. the full kernel name); ``tone`` tags
    a bound (compute / memory / launch / unknown / idle) for colour."""

    text: str
    hint: str | None = None
    tone: str | None = None


@dataclass(frozen=True)
class Paragraph:
    text: str
    muted: bool = False


@dataclass(frozen=True)
class Verdict:
    """The one-line answer, shown as a banner: ``tone`` is the bound."""

    tone: str
    headline: str
    detail: str = ""


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    # "l" or "r" per column: numbers right-aligned so magnitudes line up.
    align: tuple[str, ...] = ()
    caption: str | None = None


@dataclass(frozen=True)
class Chart:
    """A chart drawn on demand: ``draw(fmt)`` returns image bytes for "svg" or "png" (a report
    written without images never pays for drawing). ``name`` is unique within a report and safe
    as a file-name part.
    """

    name: str
    alt: str
    draw: Callable[[str], bytes] = field(compare=False)


Block = Union[Paragraph, Verdict, Bullets, Table, Chart]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...] = ()
    level: int = 2  # heading level: 2 for a top section, 3 inside an input's part of the report


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    sections: tuple[Section, ...]

    def charts(self) -> Iterator[Chart]:
        for section in self.sections:
            for block in section.blocks:
                if isinstance(block, Chart):
                    yield block
