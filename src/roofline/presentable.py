"""What every result object offers its front-ends, whichever result it is: ``to_dict()`` (the
``--format json`` document), ``to_dataframe()`` (pandas, optional), ``_repr_html_()`` (Jupyter)
and ``__rich__`` (the terminal). The views themselves live in ``roofline.report.views`` and are
imported only when one is asked for, so a result stays a plain pydantic model in the core."""

from __future__ import annotations

from typing import Any

from roofline import jsonout
from roofline.errors import MissingDependencyError


class Presentable:
    """Mixin for pydantic result models."""

    def to_dict(self) -> dict[str, Any]:
        """The ``--format json`` document of this result: strict JSON types (no NaN/inf)."""
        return jsonout.finite(self.model_dump(mode="json"))  # type: ignore[attr-defined]

    def records(self) -> list[dict[str, Any]]:
        """One flat record per kernel group / plan step / gate row / rank: what ``to_dataframe`` holds."""
        from roofline.report.views import view_for

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
        from roofline.report.views import view_for

        return view_for(self).html(self)

    def __rich__(self) -> Any:
        from roofline.report.views import view_for

        return view_for(self).rich(self)
