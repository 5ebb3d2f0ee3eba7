"""What is offered to the form from an MRZ: everything of a verified reading, nothing of
one whose digits failed or whose characters the reader doubted."""

from __future__ import annotations

from datetime import date

import pytest

from kycdesk.core.id_document import Source, Vouched, from_mrz
from kycdesk.core.mrz import parse
from tests.test_mrz import TD1, TD3

TODAY = date(2026, 12, 6)


def test_a_verified_passport_offers_its_fields() -> None:
    read = from_mrz(parse(TD3, TODAY))
    assert read.source is Source.MRZ and read.note == ""
    assert {k: v.value for k, v in read.values.items()} == {
        "surname": "ERIKSSON", "given_names": "ANNA MARIA", "document_number": "L898902C3",
        "nationality": "UTO", "birth_date": "1974-08-12", "sex": "F",
        "expiry_date": "2012-04-15", "issuing_state": "UTO"}
    assert read.values["document_number"].vouched is Vouched.CHECK_DIGITS
    assert read.values["surname"].vouched is Vouched.NO_DIGIT


def test_a_failed_digit_offers_nothing_not_even_the_names() -> None:
    lines = (TD1[0], TD1[1].replace("7408122", "7408123"), TD1[2])
    read = from_mrz(parse(lines, TODAY))
    assert read.values == {}
    assert read.note.startswith("Some check digits failed: nothing is offered")


def test_a_doubted_character_offers_nothing() -> None:
    read = from_mrz(parse(TD3, TODAY, sure=False))
    assert read.values == {}
    assert read.note.startswith("Some characters were unclear")


def test_doubted_names_are_not_offered_and_the_rest_is() -> None:
    """A verified zone whose names' line the reader doubted (a real photo read "ANNA MAPIA"
    with every digit passing: no digit covers the names): the names are not offered, the
    checked values are, and the verifier is told to type the names."""
    reading = parse(TD3, TODAY, names_sure=False)
    assert reading.verified
    assert reading.fields["surname"].doubted and not reading.fields["surname"].offered
    read = from_mrz(reading)
    assert "surname" not in read.values and "given_names" not in read.values
    assert read.values["document_number"].value == "L898902C3"
    assert read.note == "The names were unclear on the photo: type them from the document."


def test_lines_where_no_check_digit_passes_are_not_a_zone() -> None:
    """An ID card's front has lines of print the zone finder can take for an MRZ; if not
    one check digit passes they are other text, and the verifier is told nothing (not
    "check digits failed" on a photo that has no zone)."""
    pytest.importorskip("PIL", reason="the documents extra (Pillow) is not installed")
    from kycdesk.documents.document_reader import looks_like_a_zone

    assert looks_like_a_zone(parse(TD1, TODAY))
    one_wrong = (TD1[0], TD1[1].replace("7408122", "7408123"), TD1[2])
    assert looks_like_a_zone(parse(one_wrong, TODAY))  # a zone read badly: said so
    noise = tuple("".join("X" if c.isdigit() else c for c in line) for line in TD1)
    reading = parse(noise, TODAY)
    assert reading.digits and not any(reading.digits.values())
    assert not looks_like_a_zone(reading)
