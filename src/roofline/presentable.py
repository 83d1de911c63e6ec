"""What every result object offers its front-ends, whichever result it is: ``to_dict()`` (the
``--format json`` document), ``records()``/``to_dataframe()`` (flat rows; pandas optional),
``_repr_html_()`` (Jupyter) and ``__rich__`` (the terminal).

The views are renderers and live with them (``roofline.report.views``), registered here by result
type with :func:`register_view`; the core never imports them. The first time a view is asked for,
the modules named in :data:`VIEW_MODULES` are imported so that they register theirs (as the gate
finds its adapters), so a result stays a plain pydantic model until someone looks at it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roofline import jsonout
from roofline.errors import MissingDependencyError

# Modules whose import registers the views of the bundled result types.
VIEW_MODULES: tuple[str, ...] = ("roofline.report.views",)


@dataclass(frozen=True)
class View:
    """How one result type is shown: flat rows, an HTML fragment, a rich renderable."""

    rows: Callable[[Any], list[dict[str, Any]]]
    html: Callable[[Any], str]
    rich: Callable[[Any], Any]


_VIEWS: dict[type, View] = {}
_loaded = False


def register_view(result_type: type, *, rows: Callable, html: Callable, rich: Callable) -> View:
    if result_type in _VIEWS:
        raise ValueError(f"a view of {result_type.__name__} is registered already")
    _VIEWS[result_type] = View(rows, html, rich)
    return _VIEWS[result_type]


def view_for(result: Any) -> View:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in VIEW_MODULES:
            importlib.import_module(module)
    for klass in type(result).__mro__:
        if klass in _VIEWS:
            return _VIEWS[klass]
    raise TypeError(f"no view of {type(result).__name__} is registered (roofline.presentable.register_view)")


class Presentable:
    """Mixin for pydantic result models."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document of this result: strict JSON types (no NaN/inf)."""
        return jsonout.finite(self.model_dump(mode="json"))  # type: ignore[attr-defined]

    def records(self) -> list[dict[str, Any]]:
        """One flat record per kernel group / plan step / gate row / rank: what ``to_dataframe`` holds."""
        return view_for(self).rows(self)

    def to_dataframe(self):  # type: ignore[no-untyped-def]
        """A pandas DataFrame of :meth:`records` (needs the optional ``pandas``)."""
        try:
            import pandas
        except ImportError:
            raise MissingDependencyError("to_dataframe() needs pandas, which is not installed",
                                         fix="pip install pandas (or 'roofline[pandas]')") from None
        return pandas.DataFrame.from_records(self.records())

    def _repr_html_(self) -> str:
        return view_for(self).html(self)

    def __rich__(self) -> Any:
        return view_for(self).rich(self)
