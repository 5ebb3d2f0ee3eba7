"""The PDF417 barcode on an ID card's back (AAMVA DL/ID card design standard): its text
parsed into the same fields as an MRZ gives.

Pure and Qt-free: the barcode reader gives it the decoded text. The payload is
`@` LF RS CR `ANSI ` IIN(6) AAMVA-version(2) jurisdiction-version(2) entries(2), a
directory of subfiles, then each subfile (`DL` or `ID`) as lines of a three-letter element
id followed by its value. The elements read:

| element | field |
|---|---|
| DCS (DAB in version 1) | surname |
| DAC + DAD (DCT before version 4; DAA "LAST,FIRST,MIDDLE" in version 1) | given names |
| DAQ | document number |
| DBB | birth date |
| DBA | expiry date |
| DBC | sex (1 M, 2 F, 9 not specified) |
| DCG | issuing country (USA, CAN) |

AAMVA has no nationality and no check digits: the barcode's own error correction
(Reed-Solomon, in the decoder) vouches that the text is what was printed; a value is
offered only if it has its field's form (a real date, a known sex code). Dates are
MMDDCCYY in US documents and CCYYMMDD in Canadian ones (DCG, or the IIN's issuer when DCG
is missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

_HEADER = "ANSI "
_LEGACY_HEADER = "AAMVA"  # some early cards
_CANADIAN_IINS = {"636012", "636013", "636016", "636017", "636018", "636020", "636021",
                  "636022", "636028", "636044", "604426", "604427", "604428", "604429",
                  "604430", "604431", "604432", "604433", "636048"}


_NO_NAME = {"NONE", "UNAVL"}  # what a card writes where it has no (middle) name
_SUBFILE_START = re.compile(r"(?:DL|ID)(D[A-Z]{2})")


class AamvaError(ValueError):
    """The text is not an AAMVA card payload."""


@dataclass(frozen=True)
class AamvaReading:
    version: int
    issuer: str                        # the IIN: which jurisdiction issued the card
    elements: dict[str, str]           # every element id -> value, as read
    fields: dict[str, str] = field(default_factory=dict)  # field name -> value (offered)
    refused: dict[str, str] = field(default_factory=dict)  # field name -> raw, not offered


def parse(text: str) -> AamvaReading:
    start = text.find(_HEADER)
    if start < 0:
        start = text.find(_LEGACY_HEADER)
    if start < 0 or "@" not in text[:start + 1]:
        raise AamvaError("no AAMVA header (\"@\" … \"ANSI \")")
    head = text[start:start + 21]
    issuer = head[5:11]
    if not issuer.isdigit():
        raise AamvaError("the header's issuer number is not six digits")
    version = int(head[11:13]) if head[11:13].isdigit() else 1
    elements = _elements(text[start:])
    if not elements:
        raise AamvaError("the barcode holds no card data")
    fields, refused = _fields(elements, version, issuer)
    return AamvaReading(version, issuer, elements, fields, refused)


def _elements(body: str) -> dict[str, str]:
    """Element id -> value: every line (LF, CR or RS separated) that starts with an id."""
    found: dict[str, str] = {}
    for raw in body.replace("\r", "\n").replace("\x1e", "\n").split("\n"):
        line = raw.strip()
        # A subfile's first element follows its type ("DLDAQ…", "IDDCS…"), on the
        # header's line or its own.
        start = _SUBFILE_START.search(line)
        if start is not None:
            line = line[start.start(1):]
        if len(line) >= 3 and line[:3].isalpha() and line[:3].isupper() and line[0] == "D":
            found.setdefault(line[:3], line[3:].strip())
    return found


def _fields(elements: dict[str, str], version: int, issuer: str
            ) -> tuple[dict[str, str], dict[str, str]]:
    fields: dict[str, str] = {}
    refused: dict[str, str] = {}
    surname = elements.get("DCS") or elements.get("DAB", "")
    given = " ".join(part for part in (elements.get("DAC") or elements.get("DCT", ""),
                                       elements.get("DAD", ""))
                     if part and part.upper() not in _NO_NAME)
    if not surname and "DAA" in elements:  # version 1: "LAST,FIRST,MIDDLE"
        surname, _, rest = elements["DAA"].partition(",")
        given = " ".join(part for part in rest.replace(",", " ").split() if part)
    for name, value in (("surname", surname), ("given_names", given.replace(",", " "))):
        cleaned = " ".join(value.split())
        if cleaned and cleaned.upper() not in _NO_NAME:
            fields[name] = cleaned
    if number := elements.get("DAQ", "").strip():
        fields["document_number"] = number
    country = elements.get("DCG", "").strip().upper()
    if country in {"USA", "CAN"}:
        fields["issuing_state"] = country
    canadian = country == "CAN" or (not country and issuer in _CANADIAN_IINS)
    for name, element in (("birth_date", "DBB"), ("expiry_date", "DBA")):
        raw = elements.get(element, "")
        if not raw:
            continue
        when = _date(raw, canadian=canadian, version=version)
        if when is None:
            refused[name] = raw
        else:
            fields[name] = when.isoformat()
    sex = elements.get("DBC", "").strip().upper()
    if sex:
        code = {"1": "M", "M": "M", "2": "F", "F": "F", "9": "X"}.get(sex)
        if code is None:
            refused["sex"] = sex
        else:
            fields["sex"] = code
    return fields, refused


def _date(raw: str, *, canadian: bool, version: int) -> date | None:
    digits = raw.strip()
    if len(digits) != 8 or not digits.isdigit():
        return None
    # Version 1 wrote CCYYMMDD everywhere; later versions, MMDDCCYY outside Canada.
    iso_order = canadian or version == 1
    year, month, day = ((digits[0:4], digits[4:6], digits[6:8]) if iso_order
                        else (digits[4:8], digits[0:2], digits[2:4]))
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None
