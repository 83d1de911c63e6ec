"""Human formatting of gate values in their own units (SI prefixes, as everywhere in roofline)."""

from __future__ import annotations

from roofline.units import fmt_bytes, fmt_bytes_per_s, fmt_flops, fmt_flops_per_s, fmt_seconds

_FORMATTERS = {"s": fmt_seconds, "B": fmt_bytes, "FLOP": fmt_flops, "FLOP/s": fmt_flops_per_s, "B/s": fmt_bytes_per_s}


def fmt_value(value: float | None, unit: str, *, signed: bool = False) -> str:
    """``1.23 ms``, ``887 MB``, ``45.2%`` (fractions), ``+8`` (signed deltas)."""
    if value is None:
        return "—"
    sign = "+" if signed and value > 0 else ""
    if unit == "fraction":
        # A change of a share is in percentage points, not percent of itself.
        return f"{sign}{100 * value:.2f} pp" if signed else f"{100 * value:.2f}%"
    formatter = _FORMATTERS.get(unit)
    if formatter is not None:
        return sign + formatter(value)
    return f"{sign}{value:.6g}{(' ' + unit) if unit else ''}"
