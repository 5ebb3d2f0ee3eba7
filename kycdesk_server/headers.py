"""Reading numbers from request headers strictly: ASCII digits only (`str.isdigit()`
accepts "²" and other digits `int()` refuses), bounded in length."""

from __future__ import annotations

import re

_DECIMAL = re.compile(r"[0-9]{1,15}")


def decimal(value: str | None) -> int | None:
    """The header's non-negative integer, or None if it is absent or not plain digits."""
    if value is None or _DECIMAL.fullmatch(value) is None:
        return None
    return int(value)
