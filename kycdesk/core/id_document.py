"""What an ID document says, whatever was read (an MRZ or a PDF417 barcode): the values
offered to the verifier, each with what vouches for it.

Pure and Qt-free. Only values that may be offered are here: from an MRZ, a reading whose
every check digit passed and whose characters the reader was sure of (a failed digit is
never offered as read; names, which no digit covers, are offered only from such a
reading too — the same read garbled nothing else); from a barcode, the parsed AAMVA
fields (its error correction vouches for the transfer).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kycdesk.core.aamva import AamvaReading
from kycdesk.core.mrz import Check, MrzReading

# The fields an ID document gives the form, in the order they are offered.
FIELDS = ("surname", "given_names", "document_number", "nationality", "birth_date", "sex",
          "expiry_date", "issuing_state")
LABELS = {"surname": "Surname", "given_names": "Given names",
          "document_number": "Document number", "nationality": "Nationality",
          "birth_date": "Date of birth", "sex": "Sex", "expiry_date": "Expiry date",
          "issuing_state": "Issuing country"}


class Source(Enum):
    MRZ = "MRZ"
    BARCODE = "barcode"


class Vouched(Enum):
    CHECK_DIGITS = "check digits passed"
    NO_DIGIT = "no check digit in the standard"
    BARCODE = "barcode error correction"


@dataclass(frozen=True)
class ReadValue:
    name: str     # one of FIELDS
    value: str    # a date as YYYY-MM-DD, sex M/F/X, a country as its 3-letter code
    vouched: Vouched


@dataclass(frozen=True)
class DocumentRead:
    source: Source
    values: dict[str, ReadValue]
    note: str = ""  # why nothing (or less) is offered, in the verifier's words

    @property
    def what(self) -> str:
        return "machine-readable zone" if self.source is Source.MRZ else "barcode"


def from_mrz(reading: MrzReading) -> DocumentRead:
    if not reading.verified:
        note = ("Some check digits failed" if not reading.all_digits_passed
                else "Some characters were unclear")
        return DocumentRead(Source.MRZ, {}, f"{note}: nothing is offered from this photo. "
                                            "Type the values from the document, or retake it.")
    values = {}
    for name in FIELDS:
        field = reading.fields.get(name)
        if field is None or not field.offered:
            continue
        vouched = Vouched.CHECK_DIGITS if field.check is Check.PASSED else Vouched.NO_DIGIT
        values[name] = ReadValue(name, field.value, vouched)
    doubted = any(f.doubted for f in reading.fields.values())
    return DocumentRead(Source.MRZ, values,
                        "The names were unclear on the photo: type them from the document."
                        if doubted else "")


def from_aamva(reading: AamvaReading) -> DocumentRead:
    values = {name: ReadValue(name, value, Vouched.BARCODE)
              for name in FIELDS if (value := reading.fields.get(name))}
    note = ""
    if reading.refused:
        note = ("Not offered (not a valid value in the barcode): "
                + ", ".join(LABELS[name].lower() for name in reading.refused) + ".")
    return DocumentRead(Source.BARCODE, values, note)


def as_json(read: DocumentRead) -> dict[str, object]:
    return {"source": read.source.value, "note": read.note,
            "fields": {name: {"value": v.value, "vouched_by": v.vouched.value}
                       for name, v in read.values.items()}}
