"""Dates as typed: the form's ISO format and the common typed ones, in the order the
form's locale writes them (14/03/1988 in en_GB, 03/14/1988 in en_US), with eight digits
alone read both ways round (19880314, 14031988). A text that names no real day gets a
message that says why ("February 1990 has 28 days")."""

from __future__ import annotations

import calendar
import re
from datetime import date

# Locales that write the month before the day; every other form locale is day-first.
MONTH_FIRST = frozenset({"en_US"})

_ISO = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$")
_ISO_DIGITS = re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$")
_DAY_FIRST = (re.compile(r"^(?P<d>\d{1,2})[-/. ](?P<m>\d{1,2})[-/. ](?P<y>\d{4})$"),
              re.compile(r"^(?P<d>\d{2})(?P<m>\d{2})(?P<y>\d{4})$"))
_MONTH_FIRST = (re.compile(r"^(?P<m>\d{1,2})[-/. ](?P<d>\d{1,2})[-/. ](?P<y>\d{4})$"),
                re.compile(r"^(?P<m>\d{2})(?P<d>\d{2})(?P<y>\d{4})$"))
PLAUSIBLE_YEARS = range(1800, 2200)


def _forms(locale: str) -> tuple[re.Pattern[str], ...]:
    local = _MONTH_FIRST if locale in MONTH_FIRST else _DAY_FIRST
    return (_ISO, local[0], _ISO_DIGITS, local[1])


def _numbers(text: str, locale: str) -> list[tuple[int, int, int]]:
    """(year, month, day) for every form the text matches, in order of preference."""
    found = []
    for form in _forms(locale):
        match = form.match(text.strip())
        if match:
            found.append((int(match["y"]), int(match["m"]), int(match["d"])))
    return found


def parse_typed_date(text: str, locale: str = "en_GB") -> date | None:
    """The day `text` names, or None. Of several readings (eight digits), a real day in
    a plausible year wins: 14031988 is 14 March 1988, not month 3 of the year 1403."""
    days = []
    for year, month, day in _numbers(text, locale):
        try:
            days.append(date(year, month, day))
        except ValueError:
            continue
    plausible = [d for d in days if d.year in PLAUSIBLE_YEARS]
    chosen = plausible or days
    return chosen[0] if chosen else None


def date_problem(text: str, locale: str = "en_GB") -> str | None:
    """Why `text` names no day, in words; None if it does or has no date shape at all."""
    if parse_typed_date(text, locale) is not None:
        return None
    readings = sorted(_numbers(text, locale), key=lambda ymd: ymd[0] not in PLAUSIBLE_YEARS)
    for year, month, day in readings:  # 31041988: the reading in a plausible year first
        if not 1 <= month <= 12:
            return f"There is no month {month}."
        if year in PLAUSIBLE_YEARS:
            length = calendar.monthrange(year, month)[1]
            if not 1 <= day <= length:
                return f"{calendar.month_name[month]} {year} has {length} days."
    return None
