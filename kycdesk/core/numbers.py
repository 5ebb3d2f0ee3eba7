"""Numbers and money as typed, in the form's locale.

"45,000" in a £ field is forty-five thousand, not 45.00: the form's locale says which
mark separates thousands and which one is the decimal point. A number is read only when it
has one reading; anything else is refused with the reading spelled out ("Did you mean
45,000.00?"), and nothing typed is ever dropped (a third decimal is refused, not cut).

Values are exact: `Decimal`, stored as a plain decimal string ("45000.50"), never float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class NumberStyle:
    """How a locale writes numbers: its decimal mark, its thousands mark, and whether it
    groups the Indian way (12,34,567: threes, then twos)."""

    decimal: str
    group: str
    indian: bool = False


# Spaces (plain, no-break, narrow no-break) group thousands in every locale: they are never
# a decimal mark, so "45 000" has one reading everywhere.
SPACES = (" ", "\u00a0", "\u202f")

STYLES: dict[str, NumberStyle] = {
    "en_GB": NumberStyle(".", ","),
    "en_US": NumberStyle(".", ","),
    "en_IE": NumberStyle(".", ","),
    "en_IN": NumberStyle(".", ",", indian=True),
    "de_DE": NumberStyle(",", "."),
    "de_AT": NumberStyle(",", "."),
    "es_ES": NumberStyle(",", "."),
    "it_IT": NumberStyle(",", "."),
    "nl_NL": NumberStyle(",", "."),
    "pt_BR": NumberStyle(",", "."),
    "fr_FR": NumberStyle(",", "\u202f"),
    "de_CH": NumberStyle(".", "'"),
}

CANONICAL = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Reading:
    """A typed number: its exact value, or why it was refused (then value is None)."""

    value: Decimal | None
    problem: str | None = None


def style_of(locale: str) -> NumberStyle:
    return STYLES[locale]


def read_number(text: str, locale: str, *, decimals: int | None = None,
                whole: bool = False) -> Reading:
    """Read `text` as typed in `locale`. `decimals`: the most decimal places the field
    takes; `whole`: an integer field."""
    style = style_of(locale)
    typed = text.strip()
    negative = typed.startswith("-")
    body = typed[1:] if negative else typed
    if not body or not body[0].isdigit() or not re.fullmatch(r"[\d.,' \u00a0\u202f]+", body):
        example = Decimal("45000") if whole else Decimal("45000.50")
        return Reading(None, f"Enter a number such as {format_number(example, locale)}.")
    reading = _read(body, style)
    if reading is None:
        return Reading(None, _refusal(typed, locale, decimals=decimals, whole=whole))
    value = -reading if negative else reading
    places = decimal_places(value)
    if whole and places:
        return Reading(None, _refusal(typed, locale, decimals=decimals, whole=whole))
    if decimals is not None and places > decimals:
        return Reading(None, _refusal(typed, locale, decimals=decimals, whole=whole))
    return Reading(value)


def decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _read(body: str, style: NumberStyle) -> Decimal | None:
    """The one reading of `body` in `style`, or None if it has none or more than one."""
    for space in SPACES:
        body = body.replace(space, " ")
    marks = [c for c in body if not c.isdigit()]
    decimal_at = body.rfind(style.decimal)
    if marks.count(style.decimal) > 1:
        return None
    whole_part, fraction = (body[:decimal_at], body[decimal_at + 1:]) if decimal_at >= 0 \
        else (body, "")
    if decimal_at >= 0 and not fraction.isdigit():
        return None
    groups = [style.group, " "]
    if not _well_grouped(whole_part, groups, style.indian):
        return None
    digits = "".join(c for c in whole_part if c.isdigit())
    try:
        return Decimal(f"{digits}.{fraction}" if fraction else digits)
    except InvalidOperation:  # pragma: no cover - digits only by now
        return None


def _well_grouped(whole_part: str, group_marks: list[str], indian: bool) -> bool:
    """Digits alone, or digits grouped by one thousands mark used consistently."""
    if whole_part.isdigit():
        return True
    used = {c for c in whole_part if not c.isdigit()}
    if len(used) != 1 or next(iter(used)) not in group_marks:
        return False
    parts = whole_part.split(next(iter(used)))
    if not all(part.isdigit() for part in parts) or len(parts[-1]) != 3:
        return False
    inner = parts[1:-1]
    if indian:
        return (1 <= len(parts[0]) <= 2 and all(len(p) == 2 for p in inner)) \
            or (len(parts) == 2 and 1 <= len(parts[0]) <= 3)
    return 1 <= len(parts[0]) <= 3 and all(len(p) == 3 for p in inner)


def _refusal(typed: str, locale: str, *, decimals: int | None, whole: bool) -> str:
    """Why `typed` is not read, with the reading(s) it probably meant."""
    style = style_of(locale)
    negative = typed.startswith("-")
    body = typed[1:] if negative else typed
    guesses = []
    for other in (style, NumberStyle(".", ","), NumberStyle(",", ".")):
        value = _read(body, other)
        if value is None:
            continue
        value = -value if negative else value
        places = decimal_places(value)
        if (whole and places) or (decimals is not None and places > decimals):
            continue
        shown = format_number(value, locale, decimals=None if whole else decimals)
        if shown not in guesses:
            guesses.append(shown)
    own = _read(body, style)
    if whole:
        lead = f"Enter a whole number ({_explain(style)})."
    elif own is not None and decimals is not None:
        lead = (f"At most {decimals} decimal place{'s' if decimals != 1 else ''} here: "
                f"\u201c{typed}\u201d has {decimal_places(own)}.")
    else:
        lead = f"\u201c{typed}\u201d is not clear here ({_explain(style)})."
    return lead + (" Did you mean " + " or ".join(guesses) + "?" if guesses else "")


def _explain(style: NumberStyle) -> str:
    group = {" ": "a space", "\u202f": "a space", "'": "\u2019", ",": "\u201c,\u201d",
             ".": "\u201c.\u201d"}[style.group]
    return f"{group} separates thousands, \u201c{style.decimal}\u201d is the decimal mark"


def format_number(value: Decimal, locale: str, *, decimals: int | None = None) -> str:
    """`value` written the locale's way, grouped; money fields (`decimals`) show that many
    places (45000 → "45,000.00"), never fewer digits than the value has."""
    style = style_of(locale)
    if decimals is not None and decimal_places(value) < decimals:
        value = value.quantize(Decimal(1).scaleb(-decimals))
    sign = "-" if value < 0 else ""
    text = format(abs(value), "f")
    whole_part, _, fraction = text.partition(".")
    return sign + _group(whole_part, style) + (style.decimal + fraction if fraction else "")


def _group(digits: str, style: NumberStyle) -> str:
    if style.indian and len(digits) > 3:
        head, tail = digits[:-3], digits[-3:]
        pairs = [head[max(0, i - 2):i] for i in range(len(head), 0, -2)][::-1]
        return style.group.join([*pairs, tail])
    groups = [digits[max(0, i - 3):i] for i in range(len(digits), 0, -3)][::-1]
    return style.group.join(groups)


def canonical(value: Decimal) -> str:
    """The stored form: plain digits and a "." ("45000.50"), exact."""
    return format(value, "f")


def stored_number(value: object) -> Decimal | None:
    """A stored answer as an exact number: the decimal strings this version writes, and
    the ints, floats and strings earlier versions wrote (a float goes through its repr, so
    12500.5 stays 12500.5). None if it is typed text that was not read."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str) and CANONICAL.fullmatch(value):
        return Decimal(value)
    return None
