"""Text from input files shown safely: names in traces are arbitrary strings, and a kernel named
``"\\x1b[2J"`` must not clear the terminal of whoever runs ``roofline classify`` on it.

Control characters (C0, DEL, C1) and the bidirectional overrides that can reorder what a reader
sees (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C) are replaced by visible escapes
(``\\x1b``, ``\\u202e``). Everything else, any script and emoji included, passes unchanged.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with control and bidi-override characters replaced by visible escapes."""
    if text.isprintable():  # the common case, in C: no regex
        return text
    return _UNSAFE.sub(_escape, text)


def has_controls(text: str) -> bool:
    return not text.isprintable() and _UNSAFE.search(text) is not None
