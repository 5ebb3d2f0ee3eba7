"""AAMVA card payloads (the PDF417 on an ID card's back) parsed into the document fields."""

from __future__ import annotations

import pytest

from kycdesk.core.aamva import AamvaError, parse
from kycdesk.core.id_document import Source, Vouched, from_aamva
from tests.pdf417_samples import payload

PERSON = {"surname": "SAMPLE", "given_names": "JANE ANN", "document_number": "D1234567",
          "birth_date": "1984-07-31", "expiry_date": "2031-07-31", "sex": "F"}


@pytest.mark.parametrize("canadian", [False, True], ids=["US MMDDCCYY", "Canada CCYYMMDD"])
def test_a_card_payload_gives_the_document_fields(canadian: bool) -> None:
    reading = parse(payload(PERSON, canadian=canadian))
    assert reading.version == 10
    assert {k: reading.fields[k] for k in PERSON} == PERSON
    assert reading.fields["issuing_state"] == ("CAN" if canadian else "USA")
    assert reading.refused == {}


def test_no_middle_name_is_not_a_name() -> None:
    reading = parse(payload({**PERSON, "given_names": "JANE"}))
    assert reading.fields["given_names"] == "JANE"  # DADNONE dropped


def test_a_version_1_full_name_and_iso_dates() -> None:
    text = ("@\n\x1e\rANSI 636000010001DL00290100DLDAQ123456789\nDAASAMPLE,JANE,ANN\n"
            "DBB19840731\nDBA20310731\nDBCF\r")
    fields = parse(text).fields
    assert fields["surname"] == "SAMPLE" and fields["given_names"] == "JANE ANN"
    assert fields["birth_date"] == "1984-07-31" and fields["sex"] == "F"


def test_an_impossible_date_or_sex_code_is_refused_not_guessed() -> None:
    text = payload(PERSON).replace("DBB07311984", "DBB02311984").replace("DBC2", "DBC7")
    reading = parse(text)
    assert "birth_date" not in reading.fields and "sex" not in reading.fields
    assert reading.refused == {"birth_date": "02311984", "sex": "7"}
    read = from_aamva(reading)
    assert read.source is Source.BARCODE
    assert set(read.values) == {"surname", "given_names", "document_number", "expiry_date",
                                "issuing_state"}
    assert all(v.vouched is Vouched.BARCODE for v in read.values.values())
    assert read.note == "Not offered (not a valid value in the barcode): date of birth, sex."


@pytest.mark.parametrize("text", ["hello", "@\n\x1e\rANSI 63X0001", "@\n\x1e\rANSI 636000100001"])
def test_what_is_not_a_card_payload_is_refused(text: str) -> None:
    with pytest.raises(AamvaError):
        parse(text)
