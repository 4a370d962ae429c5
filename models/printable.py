"""Text from a file or a file name made safe to show: every control character (C0, DEL,
C1), bidirectional or other invisible format character, line or paragraph separator and
undecodable byte is shown as a backslash escape, and the text is capped in length.

:func:`printable` is for one value (a metadata string, a name, a title); :func:`printable_lines`
is for a whole message or table that may hold the program's own newlines.  Every string
read from a file reaches a terminal, a figure title, a card or a window label through one
of them (the command line's streams apply :func:`printable_lines` to all they print)."""
from __future__ import annotations

import re
import unicodedata

LIMIT = 200  # characters one value may show
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _unsafe(ch: str) -> bool:
    if ch.isprintable():
        return False
    # Cc: C0, DEL, C1; Cf: bidi overrides and isolates, zero-width and other format characters;
    # Cs: lone surrogates (undecodable bytes of a file name); Zl/Zp: line and paragraph separators;
    # Co/Cn: private or unassigned
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def _escape(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    o = ord(ch)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that did not decode (surrogateescape): show the byte
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


_PLAIN = re.compile(r"[ -~]*")  # printable ASCII: nothing to look at


def printable(value, limit: int = LIMIT) -> str:
    """``str(value)`` with control, bidi and format characters escaped and at most ``limit``
    characters (a longer text ends with ``...(N more characters)``)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 -- an int too long to print, an object whose str fails
        text = f"<{type(value).__name__}>"
    more = len(text) - limit
    if more > 0:
        text = text[:limit]
    out = text if _PLAIN.fullmatch(text) else "".join(_escape(ch) if _unsafe(ch) else ch for ch in text)
    return out + (f"...({more:,} more characters)" if more > 0 else "")


def printable_lines(text: str) -> str:
    """A message or table for a terminal: the program's own newlines and tabs kept, and one
    carriage return at the very start (a progress line redrawn in place); every other
    control, bidi or format character escaped.  Nothing is capped (the parts from files
    were capped where they were put in)."""
    if _PLAIN.fullmatch(text):
        return text
    head = "\r" if text.startswith("\r") else ""
    body = text[len(head):]
    return head + "".join(_escape(ch) if ch not in "\n\t" and _unsafe(ch) else ch for ch in body)


def is_printable(text: str) -> bool:
    """True when ``text`` holds no character :func:`printable` would escape (newlines and
    tabs allowed)."""
    return not any(ch not in "\n\t" and _unsafe(ch) for ch in text)
