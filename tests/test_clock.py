"""The one time module (kycdesk.core.clock): one precision written, every older form
read, zone-less camera times kept zone-less. No Qt, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kycdesk.core.clock import (
    WallTime,
    file_stamp,
    format_instant,
    parse_exif,
    parse_instant,
    parse_instant_or_none,
    parse_taken,
    taken_text,
)

MOMENT = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("written", "meant"), [
    # what this version writes
    ("2026-01-02T03:04:05.123Z", MOMENT.replace(microsecond=123000)),
    # what older stores wrote: microseconds (cases, edits, events, backoff) …
    ("2026-01-02T03:04:05.123456Z", MOMENT),
    # … seconds (photo times, the full check's state, tests' seed rows) …
    ("2026-01-02T03:04:05Z", MOMENT.replace(microsecond=0)),
    # … and Python's own isoformat (the retention cutoff, the server's receipt)
    ("2026-01-02T03:04:05.123456+00:00", MOMENT),
    ("2026-01-02T03:04:05+00:00", MOMENT.replace(microsecond=0)),
    # another zone is the same instant
    ("2026-01-02T08:34:05.123456+05:30", MOMENT),
    ("2026-01-01T22:04:05-05:00", MOMENT.replace(microsecond=0)),
    (" 2026-01-02T03:04:05z ", MOMENT.replace(microsecond=0)),
])
def test_every_written_form_of_an_instant_is_read(written: str, meant: datetime) -> None:
    parsed = parse_instant(written)
    assert parsed == meant and parsed.tzinfo is UTC


@pytest.mark.parametrize("text", [
    "2026-01-02T03:04:05",      # no zone: a wall time, never silently UTC
    "2026-01-02",               # a date is not an instant
    "yesterday", "", "2026-13-02T03:04:05Z",
])
def test_what_is_not_an_instant_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)
    assert parse_instant_or_none(text) is None


@pytest.mark.parametrize(("moment", "written"), [
    (MOMENT, "2026-01-02T03:04:05.123Z"),
    (MOMENT.replace(microsecond=0), "2026-01-02T03:04:05.000Z"),
    (MOMENT.astimezone(timezone(timedelta(hours=-7))), "2026-01-02T03:04:05.123Z"),
    (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2026-12-31T23:59:59.999Z"),
])
def test_one_precision_in_utc(moment: datetime, written: str) -> None:
    assert format_instant(moment) == written
    assert parse_instant(written) == moment.replace(
        microsecond=moment.microsecond // 1000 * 1000)


def test_a_naive_datetime_is_not_given_a_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        format_instant(datetime(2026, 1, 2, 3, 4, 5))


def test_written_instants_sort_in_time_order() -> None:
    moments = [MOMENT + timedelta(milliseconds=n * 7) for n in range(300)]
    texts = [format_instant(m) for m in moments]
    assert sorted(texts) == texts


@pytest.mark.parametrize(("exif", "offset", "stored"), [
    ("2026:11:20 09:00:00", None, "2026-11-20T09:00:00"),          # zone unknown: kept
    ("2026:11:20 09:00:00", "+01:00", "2026-11-20T08:00:00.000Z"),  # zone known: UTC
    ("2026:11:20 09:00:00", "-05:30", "2026-11-20T14:30:00.000Z"),
    ("2026:11:20 09:00:00", "+99:99", "2026-11-20T09:00:00"),      # nonsense offset
    ("2026:11:20 09:00:00", "garbage", "2026-11-20T09:00:00"),
    (" 2026:11:20 09:00:00 ", None, "2026-11-20T09:00:00"),
    ("0000:00:00 00:00:00", None, None),                             # cameras write it
    ("not a time", None, None),
])
def test_exif_times_keep_an_unknown_zone_unknown(exif: str, offset: str | None,
                                                 stored: str | None) -> None:
    taken = parse_exif(exif, offset)
    assert (None if taken is None else taken_text(taken)) == stored


@pytest.mark.parametrize(("captured_at", "kind"), [
    ("2026-11-20T09:00:00", WallTime),
    ("2026-11-20T08:00:00Z", datetime),       # older stores: seconds
    ("2026-11-20T08:00:00.000Z", datetime),
])
def test_a_photo_time_is_either_kind_and_round_trips(captured_at: str, kind: type) -> None:
    taken = parse_taken(captured_at)
    assert isinstance(taken, kind)
    assert parse_taken(taken_text(taken)) == taken


def test_a_wall_time_refuses_a_zone() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        WallTime(MOMENT)


def test_file_stamps_have_no_colons() -> None:
    assert file_stamp(MOMENT) == "20260102T030405Z"
