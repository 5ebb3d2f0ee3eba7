"""Time, one way: UTC instants written in one precision, read by one parser; wall-clock
times without a zone (a camera's EXIF clock) kept as such.

- An **instant** is an aware `datetime`; stored and sent as `2026-11-20T13:02:31.250Z`
  (UTC, milliseconds, `Z`): `format_instant`, `now_text`. Text of one precision sorts in
  time order, which the store's string comparisons (due cases, retention) rely on.
- `parse_instant` reads that and what older stores and peers wrote: `Z` or `+00:00` or
  any offset, no fraction or up to microseconds (`2026-01-02T03:04:05Z`,
  `…05.123456Z`, `…05+00:00`). Text without a zone is refused (`ValueError`): an
  instant is never silently given one.
- A **wall time** (`WallTime`) is what a camera's clock said when EXIF gives no offset:
  `2026-11-20T09:00:00`, never shifted, never called UTC. `parse_taken` reads a photo's
  `captured_at`, which is either kind.

Human display (local "14:05") is the views' formatting of an instant, not a stored form.
Qt-free, like the rest of the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

EXIF_FORMAT = "%Y:%m:%d %H:%M:%S"  # EXIF DateTimeOriginal: no zone, no fraction


def now() -> datetime:
    return datetime.now(UTC)


def format_instant(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC. A naive datetime is refused, not guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an instant needs a time zone: {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_text() -> str:
    return format_instant(now())


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from any instant kycdesk (or an older kycdesk, or the
    server) wrote; `ValueError` for text that is not one, or has no zone."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        raise ValueError(f"not an instant (no time zone): {text!r}")
    return moment.astimezone(UTC)


def parse_instant_or_none(text: str | None) -> datetime | None:
    """For optional stored fields: None for missing or unreadable text."""
    if not text:
        return None
    try:
        return parse_instant(text)
    except ValueError:
        return None


@dataclass(frozen=True, order=True)
class WallTime:
    """A date and time on some clock whose zone is not known (EXIF without an offset)."""

    moment: datetime  # naive, by definition

    def __post_init__(self) -> None:
        if self.moment.tzinfo is not None:
            raise ValueError("a wall time has no time zone")

    def text(self) -> str:
        """`YYYY-MM-DDTHH:MM:SS`: no zone, so no `Z` and nothing to convert."""
        return self.moment.isoformat(timespec="seconds")


def parse_taken(text: str) -> datetime | WallTime:
    """A photo's `captured_at`: an instant (with a zone) or a wall time (without)."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return WallTime(moment) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_exif(text: str, offset: str | None) -> datetime | WallTime | None:
    """EXIF's `YYYY:MM:DD HH:MM:SS` and its OffsetTime (`+05:30`), if any: an instant
    with a readable offset, otherwise the wall time as the camera wrote it; None for
    text that is not a time."""
    try:
        moment = datetime.strptime(text.strip(), EXIF_FORMAT)
    except ValueError:
        return None
    if offset is not None and len(offset) == 6 and offset[0] in "+-":
        sign = 1 if offset[0] == "+" else -1
        try:
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
            return moment.replace(tzinfo=zone).astimezone(UTC)
        except (ValueError, OverflowError):  # a nonsense offset, or year 1 / 9999 edges
            return WallTime(moment)
    return WallTime(moment)


def taken_text(taken: datetime | WallTime) -> str:
    """How `captured_at` is stored: an instant as `format_instant`, a wall time as is."""
    return taken.text() if isinstance(taken, WallTime) else format_instant(taken)


def file_stamp(moment: datetime | None = None) -> str:
    """An instant in a file name (`20261120T130231Z`): no colons, sorts in time order."""
    return (moment or now()).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
