"""Which form fields an ID document's values go to, as the form stores them, and whether
a value already typed disagrees with the document.

Pure and Qt-free. A value is offered only to a field the form has, in the form's own
terms: a date as YYYY-MM-DD, sex as the gender choice it names (M male, F female; X is
not "prefer not to say" and is not offered), a country's 3-letter code as the 2-letter
choice when the form lists it (never "Other"). Given names split into the first name and
the middle names. Typed values are compared as a verifier would: case, accents, spaces
and hyphens aside, and Doc 9303's transliterations (Ü is UE in an MRZ) allowed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.id_document import LABELS, DocumentRead, Vouched

# document field -> the form keys it fills, first that the form has wins.
FORM_KEYS: dict[str, tuple[str, ...]] = {
    "surname": ("applicant.last_name", "applicant.surname"),
    "first_name": ("applicant.first_name",),
    "middle_names": ("applicant.middle_names",),
    "document_number": ("identity.document_number",),
    "nationality": ("applicant.nationality",),
    "birth_date": ("applicant.date_of_birth",),
    "sex": ("applicant.gender", "applicant.sex"),
    "expiry_date": ("identity.expiry_date",),
    "issuing_state": ("identity.issuing_country",),
}
_SEX_CHOICES = {"M": ("male", "m"), "F": ("female", "f")}
# ICAO 9303 part 3 codes -> ISO 3166 alpha-2, for the countries forms list (Germany is
# "D" in an MRZ; British passports of other kinds, GBD/GBN/…, are not GB nationals).
_COUNTRIES = {
    "GBR": "GB", "IRL": "IE", "FRA": "FR", "D": "DE", "DEU": "DE", "ESP": "ES",
    "ITA": "IT", "POL": "PL", "ROU": "RO", "IND": "IN", "PAK": "PK", "NGA": "NG",
    "TUR": "TR", "USA": "US", "CHN": "CN", "CAN": "CA", "NLD": "NL", "BEL": "BE",
    "PRT": "PT", "AUT": "AT", "CHE": "CH", "SWE": "SE", "NOR": "NO", "DNK": "DK",
    "FIN": "FI", "GRC": "GR", "CZE": "CZ", "SVK": "SK", "HUN": "HU", "BGR": "BG",
    "HRV": "HR", "SVN": "SI", "LTU": "LT", "LVA": "LV", "EST": "EE", "LUX": "LU",
    "MLT": "MT", "CYP": "CY", "ISL": "IS", "UKR": "UA", "BGD": "BD", "LKA": "LK",
    "AUS": "AU", "NZL": "NZ", "ZAF": "ZA", "GHA": "GH", "KEN": "KE", "SOM": "SO",
    "BRA": "BR", "MEX": "MX", "JPN": "JP", "KOR": "KR", "PHL": "PH", "AFG": "AF",
    "IRN": "IR", "IRQ": "IQ", "SYR": "SY", "ERI": "ER", "ETH": "ET", "ALB": "AL",
}
_TRANSLITERATED = {"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Å": "AA", "Æ": "AE",
                   "Ø": "OE", "Þ": "TH", "Ĳ": "IJ", "Œ": "OE"}


@dataclass(frozen=True)
class Offer:
    key: str           # the form field's key
    name: str          # the document's field (FORM_KEYS' keys)
    label: str         # the form field's label
    value: Any         # as the form stores it
    shown: str         # as the verifier reads it
    current: Any       # the form's value now
    vouched: Vouched

    @property
    def mismatch(self) -> bool:
        """Something is typed in the field, and it is not what the document says."""
        return self.current not in (None, "", []) and not same(self.current, self.value)

    @property
    def already(self) -> bool:
        return self.current not in (None, "", []) and same(self.current, self.value)


@dataclass(frozen=True)
class Unoffered:
    name: str
    shown: str
    reason: str


def offers(read: DocumentRead, definition: FormDefinition, values: dict[str, Any]
           ) -> tuple[list[Offer], list[Unoffered]]:
    """The values the form can take, in the document's order, and those it cannot (why)."""
    by_key = {f.key: f for f in definition.fields()}
    made: list[Offer] = []
    left: list[Unoffered] = []
    for name, read_value in read.values.items():
        parts = _split(name, read_value.value)
        for part, raw in parts:
            field = next((by_key[k] for k in FORM_KEYS.get(part, ()) if k in by_key), None)
            if field is None:
                continue
            value, why = _as_form_value(field, part, raw)
            if why:
                left.append(Unoffered(part, f"{LABELS.get(name, name)}: {raw}", why))
                continue
            made.append(Offer(field.key, part, field.label, value, _shown(field, value),
                              values.get(field.key), read_value.vouched))
    return made, left


def _split(name: str, value: str) -> list[tuple[str, str]]:
    if name != "given_names":
        return [(name, value)]
    first, _, middle = value.partition(" ")
    return [("first_name", first)] + ([("middle_names", middle)] if middle else [])


def _as_form_value(field: FieldDef, name: str, raw: str) -> tuple[Any, str]:
    """(value, "") or (None, why it is not offered)."""
    if field.kind is FieldKind.SINGLE_CHOICE:
        choices = {option.value for option in field.options}
        wanted: tuple[str, ...]
        if name == "sex":
            wanted = _SEX_CHOICES.get(raw, ())
        else:
            wanted = (_COUNTRIES[raw],) if raw in _COUNTRIES else ()
        for candidate in wanted:
            if candidate in choices:
                return candidate, ""
        return None, f"not one of the choices of “{field.label}”"
    return raw, ""


def _shown(field: FieldDef, value: Any) -> str:
    for option in field.options:
        if option.value == value:
            return option.label
    return str(value)


def same(typed: Any, read: Any) -> bool:
    if isinstance(typed, str) and isinstance(read, str):
        return _comparable(typed) in {_comparable(read), _comparable(read, transliterate=True)} \
            or _comparable(typed, transliterate=True) == _comparable(read)
    return bool(typed == read)


def _comparable(text: str, *, transliterate: bool = False) -> str:
    upper = text.upper()
    if transliterate:
        upper = "".join(_TRANSLITERATED.get(char, char) for char in upper)
    plain = unicodedata.normalize("NFKD", upper)
    return "".join(char for char in plain if char.isalnum() and not unicodedata.combining(char))
