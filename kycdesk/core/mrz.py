"""Machine-readable zones (ICAO Doc 9303): parse TD1, TD2 and TD3 and verify every check digit.

Pure and Qt-free: the OCR gives it text lines, it gives back fields with what each is
worth. The rule that matters is **no wrong value accepted**:

- A field covered by a check digit (document number, birth date, expiry, optional data
  where the format defines a digit for it) is *verified* only when **every** check digit of
  the zone passes — its own and the composite, and the other fields' too: a mod-10 digit
  passes a garbled field by chance one time in ten, so one failed digit anywhere makes the
  whole reading unsure (measured: per-field acceptance let garbled photo reads through). A
  field not verified is `FAILED`: never offered to the form, only reported (the raw text is
  kept for the verifier to read from the photo).
- Names, nationality, issuing state and sex have no check digit in the standard. They are
  `UNCHECKED`: offered only if their characters are of the field's type (letters and `<`;
  sex M, F or `<`) and marked so the verifier knows no digit vouches for them.
- OCR confusions (O/0, I/1, B/8, S/5, …) are corrected only where the field's type says
  which side is right — digits in a date or a check digit, letters in a name or a country
  code — never in an alphanumeric field (a document number may hold both). A corrected
  field covered by a digit counts only if the digit then passes.

Dates: a birth year YY is in the century that puts it not after today; an expiry year is
in the century that puts it within 50 years before today or any time after (a document
expired long ago still reads as the past, not as 2099).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from enum import Enum

FILLER = "<"
_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_WEIGHTS = (7, 3, 1)

# What an OCR engine mistakes for what: read on the side the field's type requires.
_TO_DIGIT = {"O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1",
             "Z": "2", "S": "5", "G": "6", "B": "8", "A": "4"}
_TO_LETTER = {"0": "O", "1": "I", "2": "Z", "4": "A", "5": "S", "6": "G", "8": "B"}


class MrzFormat(Enum):
    TD1 = "TD1"  # ID cards: 3 lines of 30
    TD2 = "TD2"  # older ID cards, visas: 2 lines of 36
    TD3 = "TD3"  # passports: 2 lines of 44


class Check(Enum):
    PASSED = "passed"        # its check digit (and the composite) passed
    FAILED = "failed"        # a digit covering it failed: never offered as read
    UNCHECKED = "unchecked"  # no check digit exists for it in the standard


class MrzError(ValueError):
    """The lines are not an MRZ of any known format (wrong count or lengths, bad characters)."""


@dataclass(frozen=True)
class MrzField:
    name: str
    raw: str               # the characters as they stand in the zone
    value: str             # the value: fillers removed, a date as YYYY-MM-DD
    check: Check
    corrected: bool = False  # an OCR confusion was corrected by the field's type
    # The OCR doubted one of its letters and no check digit covers it (the names): kept
    # for the report, not offered (a verified passport photo offered "ANNA MAPIA").
    doubted: bool = False

    @property
    def offered(self) -> bool:
        """May be offered to the form (the verifier still confirms it)."""
        return self.check is not Check.FAILED and self.value != "" and not self.doubted


@dataclass(frozen=True)
class MrzReading:
    format: MrzFormat
    lines: tuple[str, ...]
    fields: dict[str, MrzField]
    digits: dict[str, bool] = field(default_factory=dict)  # check digit name -> passed
    sure: bool = True  # False: the OCR doubted a character no digit can vouch for

    @property
    def all_digits_passed(self) -> bool:
        return all(self.digits.values())

    @property
    def verified(self) -> bool:
        """Every digit passed and the reader was sure: the checked fields are offered."""
        return self.all_digits_passed and self.sure

    def offered(self) -> dict[str, MrzField]:
        return {name: f for name, f in self.fields.items() if f.offered}


def char_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    if char == FILLER:
        return 0
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    raise MrzError(f"not an MRZ character: {char!r}")


def check_digit(text: str) -> str:
    """The 7-3-1 weighted sum modulo 10 of `text` (Doc 9303 part 3, 4.9)."""
    return str(sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(text)) % 10)


def detect_format(lines: list[str] | tuple[str, ...]) -> MrzFormat:
    lengths = [len(line) for line in lines]
    if lengths == [30, 30, 30]:
        return MrzFormat.TD1
    if lengths == [36, 36]:
        return MrzFormat.TD2
    if lengths == [44, 44]:
        return MrzFormat.TD3
    raise MrzError(f"line lengths {lengths}: not TD1 (3×30), TD2 (2×36) or TD3 (2×44)")


def parse(lines: list[str] | tuple[str, ...], today: date, *, sure: bool = True,
          names_sure: bool = True) -> MrzReading:
    """Parse an MRZ's lines (upper case, `<` fillers; surrounding spaces ignored).

    `sure=False` (an OCR that doubted a character of an alphanumeric field, where two
    errors can cancel in the digits) withdraws every checked field, as a failed digit does.
    `names_sure=False` (an OCR that doubted a letter of the names' line, which no digit
    covers) marks the names doubted: reported, not offered; the rest stands.
    """
    cleaned = tuple(line.strip().replace(" ", "").upper() for line in lines if line.strip())
    for line in cleaned:
        bad = sorted(set(line) - _ALPHABET)
        if bad:
            raise MrzError(f"characters not allowed in an MRZ: {''.join(bad)!r}")
    kind = detect_format(cleaned)
    reading = (_parse_td1(cleaned, today) if kind is MrzFormat.TD1
               else _parse_two_line(cleaned, kind, today))
    if not names_sure:
        reading = MrzReading(reading.format, reading.lines, _names_doubted(reading.fields),
                             reading.digits, sure=reading.sure)
    if sure:
        return reading
    return MrzReading(reading.format, reading.lines, _withdrawn(reading.fields),
                      reading.digits, sure=False)


def _names_doubted(fields: dict[str, MrzField]) -> dict[str, MrzField]:
    return {name: replace(f, doubted=True) if name in ("surname", "given_names") else f
            for name, f in fields.items()}


def _withdrawn(fields: dict[str, MrzField]) -> dict[str, MrzField]:
    """The fields with every checked one withdrawn (not offered, value dropped)."""
    return {name: f if f.check is not Check.PASSED else
            MrzField(f.name, f.raw, "", Check.FAILED, f.corrected)
            for name, f in fields.items()}


# --- the layouts ---------------------------------------------------------------------------

def _parse_td1(lines: tuple[str, ...], today: date) -> MrzReading:
    top, middle, bottom = lines
    number, number_digit, optional1 = top[5:14], top[14], top[15:30]
    if number_digit == FILLER:  # a number over 9 characters continues in the optional data
        tail, _, _ = optional1.partition(FILLER)
        number, number_digit = number + tail[:-1], tail[-1:] or FILLER
        optional1 = optional1[len(tail):]
    fixed_top = top if number_digit == FILLER and len(number) == 9 else _digits_at(top, (14, 15))
    fixed_middle = _digits_at(middle, (0, 7), (8, 15))
    composite_text = fixed_top[5:30] + fixed_middle[0:7] + fixed_middle[8:15] + middle[18:29]
    return _assemble(
        MrzFormat.TD1, lines, today,
        code=top[0:2], state=top[2:5], names=bottom,
        number=(number, number_digit),
        birth=(middle[0:6], middle[6]), sex=middle[7], expiry=(middle[8:14], middle[14]),
        nationality=middle[15:18], optional=((optional1, None), (middle[18:29], None)),
        composite=(composite_text, middle[29]),
    )


def _parse_two_line(lines: tuple[str, ...], kind: MrzFormat, today: date) -> MrzReading:
    top, bottom = lines
    fixed = _digits_at(bottom, (9, 10), (13, 20), (21, 28))
    if kind is MrzFormat.TD3:
        optional: tuple[tuple[str, str | None], ...] = ((bottom[28:42], bottom[42]),)
        fixed = _digits_at(fixed, (42, 43))
        composite_text, composite_digit = fixed[0:10] + fixed[13:20] + fixed[21:43], bottom[43]
    else:
        optional = ((bottom[28:35], None),)
        composite_text, composite_digit = fixed[0:10] + fixed[13:20] + fixed[21:35], bottom[35]
    return _assemble(
        kind, lines, today,
        code=top[0:2], state=top[2:5], names=top[5:],
        number=(bottom[0:9], bottom[9]),
        birth=(bottom[13:19], bottom[19]), sex=bottom[20], expiry=(bottom[21:27], bottom[27]),
        nationality=bottom[10:13], optional=optional,
        composite=(composite_text, composite_digit),
    )


def _assemble(kind: MrzFormat, lines: tuple[str, ...], today: date, *, code: str, state: str,
              names: str, number: tuple[str, str],
              birth: tuple[str, str], sex: str, expiry: tuple[str, str], nationality: str,
              optional: tuple[tuple[str, str | None], ...],
              composite: tuple[str, str]) -> MrzReading:
    digits: dict[str, bool] = {}
    composite_ok = _digit_passes(composite[0], _as_digit(composite[1]))
    digits["composite"] = composite_ok
    fields: dict[str, MrzField] = {}

    fields["document_code"] = _letters("document_code", code)
    fields["issuing_state"] = _letters("issuing_state", state)
    fields["nationality"] = _letters("nationality", nationality)
    surname, given = _names(names)
    fields["surname"], fields["given_names"] = surname, given
    fields["sex"] = _sex(sex)

    number_ok = _digit_passes(number[0], _as_digit(number[1]))
    digits["document_number"] = number_ok
    fields["document_number"] = MrzField(
        "document_number", number[0] + number[1], number[0].replace(FILLER, ""),
        Check.PASSED if number_ok and composite_ok else Check.FAILED,
        corrected=_as_digit(number[1]) != number[1])

    for name, (raw, digit) in (("birth_date", birth), ("expiry_date", expiry)):
        fixed = _as_digits(raw)
        passed = _digit_passes(fixed, _as_digit(digit))
        digits[name] = passed
        when = _date(fixed, today, past=name == "birth_date") if passed else None
        fields[name] = MrzField(
            name, raw + digit, when.isoformat() if when else "",
            Check.PASSED if passed and composite_ok and when is not None else Check.FAILED,
            corrected=fixed != raw or _as_digit(digit) != digit)

    for index, (raw, own_digit) in enumerate(optional, start=1):
        name = "optional_data" if len(optional) == 1 else f"optional_data_{index}"
        value = raw.replace(FILLER, " ").strip().replace(" ", FILLER)
        if own_digit is None:  # no digit of its own: only the composite covers it
            state_of = Check.PASSED if composite_ok else Check.FAILED
        else:  # TD3: `<` as the digit when the field is all fillers
            passed = (own_digit == FILLER and raw == FILLER * len(raw)) or _digit_passes(
                raw, _as_digit(own_digit))
            digits[name] = passed
            state_of = Check.PASSED if passed and composite_ok else Check.FAILED
        fields[name] = MrzField(name, raw + (own_digit or ""), value, state_of)

    if not all(digits.values()):
        # One failed digit says the reading is unsure: a mod-10 digit passes by chance one
        # time in ten, so a field is trusted only when every digit of the zone agrees.
        fields = _withdrawn(fields)
    return MrzReading(kind, lines, fields, digits)


def _digits_at(line: str, *spans: tuple[int, int]) -> str:
    """`line` with the positions the layout says are numeric read as digits (for the
    composite, which spans dates and check digits), a `<` check digit kept as it stands."""
    chars = list(line)
    for start, end in spans:
        for i in range(start, end):
            if chars[i] != FILLER:
                chars[i] = _as_digit(chars[i])
    return "".join(chars)


def _digit_passes(text: str, digit: str) -> bool:
    return digit.isdigit() and check_digit(text) == digit


def _as_digit(char: str) -> str:
    return _TO_DIGIT.get(char, char)


def _as_digits(text: str) -> str:
    return "".join(_as_digit(c) for c in text)


def _as_letters(text: str) -> str:
    return "".join(_TO_LETTER.get(c, c) for c in text)


def _letters(name: str, raw: str) -> MrzField:
    fixed = _as_letters(raw)
    value = fixed.replace(FILLER, " ").strip()
    ok = all(c.isalpha() or c == FILLER for c in fixed) and " " not in value
    return MrzField(name, raw, value.replace(" ", "") if ok else "",
                    Check.UNCHECKED if ok else Check.FAILED, corrected=fixed != raw)


def _names(raw: str) -> tuple[MrzField, MrzField]:
    fixed = _as_letters(raw)
    ok = all(c.isalpha() or c == FILLER for c in fixed)
    primary, _, secondary = fixed.rstrip(FILLER).partition(FILLER * 2)
    surname = " ".join(part for part in primary.split(FILLER) if part)
    given = " ".join(part for part in secondary.split(FILLER) if part)
    state = Check.UNCHECKED if ok else Check.FAILED
    corrected = fixed != raw
    return (MrzField("surname", raw, surname if ok else "", state, corrected),
            MrzField("given_names", raw, given if ok else "", state, corrected))


def _sex(raw: str) -> MrzField:
    value = {"M": "M", "F": "F", FILLER: "X", "X": "X"}.get(raw)
    return MrzField("sex", raw, value or "", Check.UNCHECKED if value else Check.FAILED)


def _date(text: str, today: date, *, past: bool) -> date | None:
    """YYMMDD in the century the field's meaning implies (see the module's docstring)."""
    if not text.isdigit():
        return None
    yy, month, day = int(text[0:2]), int(text[2:4]), int(text[4:6])
    year = today.year // 100 * 100 + yy
    if not past and year < today.year - 50:
        year += 100
    try:
        when = date(year, month, day)
        if past and when > today:
            when = date(year - 100, month, day)
    except ValueError:  # 31 February, month 13, or 29 February in the other century
        return None
    return when
