"""SI units: parsing numbers with prefixes and formatting quantities for people.

Internally everything is SI (seconds, bytes, FLOP, FLOP/s, bytes/s). A "GB" is 1e9 bytes
unless written "GiB".
"""

from __future__ import annotations

import math
import re

_DECIMAL_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
_BINARY_PREFIX = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

_QUANTITY = re.compile(
    r"^\s*(?P<num>[+-]?(?:\d[\d_,]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*"
    r"(?P<prefix>Ki|Mi|Gi|Ti|Pi|[kKMGTPE])?"
    r"(?P<unit>B|bytes?|FLOPs?|flops?|FLOP|OPs?|ops?)?\s*$"
)


def parse_quantity(value: object) -> float:
    """Parse ``137.4e9``, ``"137.4G"``, ``"100.7 MB"``, ``"64 MiB"`` or ``"1,024"`` into a float.

    Raises ValueError with a message fit for a one-line error.
    """
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    match = _QUANTITY.match(value)
    if not match:
        raise ValueError(f"cannot read {value!r} as a number (write e.g. 137.4e9, '137.4G' or '64 MiB')")
    number = float(match["num"].replace(",", "").replace("_", ""))
    prefix = match["prefix"] or ""
    scale = _BINARY_PREFIX.get(prefix) or _DECIMAL_PREFIX[prefix]
    return number * scale


def _si(value: float, unit: str, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if math.isinf(value):
        return "∞"
    if value == 0:
        return f"0 {unit}"
    prefixes = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]
    small = [(1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")]
    magnitude = abs(value)
    for scale, prefix in prefixes + small:
        if magnitude >= scale * 0.9995:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    scale, prefix = small[-1]
    return f"{value / scale:.{digits}g} {prefix}{unit}"


def fmt_seconds(seconds: float | None) -> str:
    """Human time: ``1.41 ms``, ``812 µs``, ``3.2 s``."""
    if seconds is None:
        return "—"
    return _si(seconds, "s")


def fmt_bytes(num_bytes: float | None) -> str:
    """Decimal bytes: ``100.7 MB`` (1 MB = 1e6 B)."""
    if num_bytes is None:
        return "—"
    return _si(num_bytes, "B", digits=4)


def fmt_flops(flops: float | None) -> str:
    if flops is None:
        return "—"
    return _si(flops, "FLOP", digits=4)


def fmt_flops_per_s(rate: float | None) -> str:
    if rate is None:
        return "—"
    return _si(rate, "FLOP/s")


def fmt_bytes_per_s(rate: float | None) -> str:
    if rate is None:
        return "—"
    return _si(rate, "B/s")


def fmt_intensity(flop_per_byte: float | None) -> str:
    if flop_per_byte is None:
        return "—"
    if math.isinf(flop_per_byte):
        return "∞"
    if flop_per_byte >= 100:
        return f"{flop_per_byte:,.0f}"
    if flop_per_byte >= 1:
        return f"{flop_per_byte:.3g}"
    return f"{flop_per_byte:.2g}"


def fmt_percent(fraction: float | None) -> str:
    if fraction is None:
        return "—"
    return f"{100.0 * fraction:.1f}%"


def short_kernel_name(name: str, width: int = 72) -> str:
    """A demangled kernel name cut to what identifies it: no ``void``, no parameter list, template
    arguments after the first folded, namespaces dropped. ``void at::native::vectorized_elementwise_kernel<8,
    at::native::CUDAFunctor_add<c10::BFloat16>, …>(int, …)`` → ``vectorized_elementwise_kernel<8, …>``.
    Names that are not C++ signatures ("Memcpy HtoD (Pageable -> Device)") are only cut to width.
    """
    text = name.strip()
    if text.startswith("void "):
        text = text[5:]
    text = text.replace("(anonymous namespace)::", "")
    depth = 0
    cut = None
    for index, char in enumerate(text):
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(depth - 1, 0)
        elif char == " " and depth == 0:
            # Not a C++ signature (profiler labels such as "Memcpy HtoD (Pageable -> Device)").
            return text if len(text) <= width else text[: width - 1] + "…"
        elif char == "(" and depth == 0:
            cut = index
            break
    if cut is not None:
        text = text[:cut]
    out: list[str] = []
    depth = 0
    first_done = False
    for char in text:
        if char == "<":
            depth += 1
            if depth == 1:
                out.append("<")
                first_done = False
            continue
        if char == ">":
            depth -= 1
            if depth == 0:
                out.append(">")
            continue
        if depth == 0:
            out.append(char)
        elif depth == 1 and not first_done:
            if char == ",":
                out.append(", …")
                first_done = True
            else:
                out.append(char)
    folded = "".join(out).strip().replace(" >", ">")
    head, sep, tail = folded.partition("<")
    result = head.split("::")[-1] + sep + tail
    if len(result) > width:
        result = result[: width - 1] + "…"
    return result or name[:width]


def _fold_templates(name: str) -> str:
    """``vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl…>`` → ``vectorized_elementwise_kernel<…>``:
    every template argument list folded, namespaces dropped, as in short_kernel_name."""
    short = short_kernel_name(name, 10_000)
    if " " in short and "<" not in short:  # a profiler label, not a C++ name
        return short
    out, depth = [], 0
    for char in short:
        if char == "<":
            depth += 1
            if depth == 1:
                out.append("<…>")
        elif char == ">":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def kernel_labels(kernels: list[tuple[str, str | None]]) -> list[str]:
    """How a performance engineer reads kernel names in a table: the kernel without its template
    arguments, then the op that launched it in brackets —
    ``void at::native::vectorized_elementwise_kernel<4, at::native::GeluCUDAKernelImpl…>(…)`` of
    ``aten::gelu`` → ``vectorized_elementwise_kernel<…> [aten::gelu]``. Where two labels would read
    the same, those keep their first template argument (``<4, …>`` vs ``<8, …>``). Full names stay
    in JSON and Markdown."""

    def label(name: str, op: str | None, kernel: str) -> str:
        return kernel if not op or op == name else f"{kernel} [{op}]"

    folded = [label(name, op, _fold_templates(name)) for name, op in kernels]
    counts: dict[str, int] = {}
    for text in folded:
        counts[text] = counts.get(text, 0) + 1
    return [label(name, op, short_kernel_name(name, 10_000)) if counts[text] > 1 else text
            for (name, op), text in zip(kernels, folded)]
