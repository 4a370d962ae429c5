"""``latent-explorer info`` as a table: aligned keys, rounded numbers, nested values indented."""
from __future__ import annotations

import math
from typing import Iterable

from .printable import printable

SIGNIFICANT = 4  # digits a float keeps


def format_value(value) -> str:
    """One value as a person reads it: floats rounded, lists and tuples spelled out."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}" if abs(value) >= 1000 else str(int(value))
        return f"{value:.{SIGNIFICANT}g}"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 1000 else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value[:50]) + (", ..." if len(value) > 50 else "") if value else "-"
    return str(value)


KEY_LIMIT, VALUE_LIMIT = 60, 400  # characters a key and a value from a file may show


def _rows(items: Iterable[tuple[str, object]], indent: int = 0) -> list[tuple[str, str]]:
    """Keys and values come from files: each is made printable and capped (models/printable.py)."""
    out: list[tuple[str, str]] = []
    for key, value in items:
        key = " " * indent + printable(key, KEY_LIMIT)
        if isinstance(value, dict):
            out.append((key, "" if value else "-"))
            out.extend(_rows(value.items(), indent + 2))
        else:
            out.append((key, printable(format_value(value), VALUE_LIMIT)))
    return out


def format_table(items: Iterable[tuple[str, object]]) -> str:
    """Rows ``key  value`` with the values in one column; dict values become indented sub-rows."""
    rows = _rows(items)
    width = max((len(k) for k, _ in rows), default=0) + 2
    return "\n".join(f"{k:<{width}}{v}".rstrip() for k, v in rows)
