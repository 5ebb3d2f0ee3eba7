"""Moments as the server stores them: ISO 8601 UTC with milliseconds and a `Z` (the
format `storage.now()` writes), which sort as text in the same order as in time."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
