"""MRZ parsing and check digits (ICAO Doc 9303), table-driven over the standard's specimens."""

from __future__ import annotations

from datetime import date

import pytest

from kycdesk.core.mrz import Check, MrzError, MrzFormat, char_value, check_digit, parse

TODAY = date(2026, 12, 6)

TD3 = ("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
       "L898902C36UTO7408122F1204159ZE184226B<<<<<10")
TD2 = ("I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
       "D231458907UTO7408122F1204159<<<<<<<6")
TD1 = ("I<UTOD231458907<<<<<<<<<<<<<<<",
       "7408122F1204159UTO<<<<<<<<<<<6",
       "ERIKSSON<<ANNA<MARIA<<<<<<<<<<")

SPECIMEN = {"surname": "ERIKSSON", "given_names": "ANNA MARIA", "issuing_state": "UTO",
            "nationality": "UTO", "sex": "F", "birth_date": "1974-08-12",
            "expiry_date": "2012-04-15"}


@pytest.mark.parametrize(("text", "digit"), [
    ("L898902C3", "6"), ("740812", "2"), ("120415", "9"), ("ZE184226B<<<<<", "1"),
    ("L898902C36740812212041159ZE184226B<<<<<1"[:10] + "7408122" + "1204159ZE184226B<<<<<1",
     "0"),
    ("D23145890", "7"), ("<<<<<<", "0"),
])
def test_check_digits_of_the_specimens(text: str, digit: str) -> None:
    assert check_digit(text) == digit


def test_character_values() -> None:
    assert [char_value(c) for c in "09AZ<"] == [0, 9, 10, 35, 0]
    with pytest.raises(MrzError):
        char_value("a")


@pytest.mark.parametrize(("lines", "kind", "number"), [
    (TD3, MrzFormat.TD3, "L898902C3"), (TD2, MrzFormat.TD2, "D23145890"),
    (TD1, MrzFormat.TD1, "D23145890"),
])
def test_specimens_read_with_every_digit_passing(lines: tuple[str, ...], kind: MrzFormat,
                                                 number: str) -> None:
    reading = parse(lines, TODAY)
    assert reading.format is kind
    assert reading.all_digits_passed
    values = {name: f.value for name, f in reading.offered().items()}
    assert values["document_number"] == number
    assert {k: values[k] for k in SPECIMEN} == SPECIMEN
    assert reading.fields["document_number"].check is Check.PASSED
    assert reading.fields["surname"].check is Check.UNCHECKED  # no digit exists for names


def test_td3_optional_data_has_its_digit() -> None:
    reading = parse(TD3, TODAY)
    assert reading.digits["optional_data"]
    assert reading.fields["optional_data"].value == "ZE184226B"


def test_td1_long_document_number_continues_in_the_optional_data() -> None:
    number = "D23145890734"  # 12 characters: 9 in place, `<`, the rest + its digit after
    top = f"I<UTO{number[:9]}<{number[9:]}{check_digit(number)}".ljust(30, "<")
    middle = "7408122F1204159UTO<<<<<<<<<<<"
    composite = top[5:30] + middle[0:7] + middle[8:15] + middle[18:29]
    reading = parse((top, middle + check_digit(composite), TD1[2]), TODAY)
    assert reading.all_digits_passed
    assert reading.fields["document_number"].value == number
    assert reading.fields["optional_data_1"].value == ""


@pytest.mark.parametrize(("birth", "expiry", "born", "expires"), [
    ("740812", "120415", "1974-08-12", "2012-04-15"),
    ("261231", "360101", "1926-12-31", "2036-01-01"),   # a birth date never after today
    ("261206", "360101", "2026-12-06", "2036-01-01"),   # born today
    ("051231", "991231", "2005-12-31", "2099-12-31"),   # an expiry far ahead stays ahead
    ("991231", "780101", "1999-12-31", "2078-01-01"),   # expired > 50 years ago: future
])
def test_centuries(birth: str, expiry: str, born: str, expires: str) -> None:
    bottom = (f"L898902C36UTO{birth}{check_digit(birth)}F{expiry}{check_digit(expiry)}"
              "ZE184226B<<<<<1")
    composite = bottom[0:10] + bottom[13:20] + bottom[21:43]
    reading = parse((TD3[0], bottom + check_digit(composite)), TODAY)
    assert reading.fields["birth_date"].value == born
    assert reading.fields["expiry_date"].value == expires


def test_ocr_confusion_in_a_date_is_corrected_when_the_digit_then_passes() -> None:
    reading = parse((TD3[0], TD3[1].replace("7408122", "74O8I22")), TODAY)
    birth = reading.fields["birth_date"]
    assert birth.value == "1974-08-12" and birth.check is Check.PASSED and birth.corrected
    assert reading.all_digits_passed


def test_a_letter_in_a_name_read_as_a_digit_is_corrected() -> None:
    reading = parse(("P<UTOER1KSS0N<<ANNA<MAR1A" + "<" * 19, TD3[1]), TODAY)
    assert reading.fields["surname"].value == "ERIKSSON"
    assert reading.fields["given_names"].value == "ANNA MARIA"
    assert reading.fields["surname"].corrected


def test_an_alphanumeric_document_number_is_never_corrected() -> None:
    # O for 0 in the number: the number may hold letters, so nothing says which is right.
    reading = parse((TD3[0], "L8989O2C3" + TD3[1][9:]), TODAY)
    number = reading.fields["document_number"]
    assert number.check is Check.FAILED and not number.offered
    assert "document_number" not in reading.offered()


def test_one_failed_digit_withdraws_every_checked_field() -> None:
    reading = parse((TD3[0], TD3[1].replace("7408122", "7408121")), TODAY)
    assert not reading.digits["birth_date"] and reading.digits["document_number"]
    assert reading.fields["document_number"].check is Check.FAILED
    assert reading.offered().keys() == {"document_code", "issuing_state", "nationality",
                                        "surname", "given_names", "sex"}


def test_a_failed_composite_withdraws_every_field_it_covers() -> None:
    reading = parse((TD3[0], TD3[1][:-1] + "9"), TODAY)
    assert not reading.digits["composite"]
    for name in ("document_number", "birth_date", "expiry_date", "optional_data"):
        assert reading.fields[name].check is Check.FAILED
        assert name not in reading.offered()
    assert reading.fields["surname"].offered  # not covered by any digit: still offered


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"


def test_no_single_substitution_is_accepted_as_a_wrong_value() -> None:
    """Every one-character error on the data line of each specimen: a field covered by a
    check digit is either the true value or not offered. (7-3-1 cannot see a swap between
    values 10 apart — 0/A/K/U, 6/G… — in an alphanumeric field; those are skipped here and
    counted by the accuracy benchmark.)"""
    for lines, line_index in ((TD3, 1), (TD2, 1), (TD1, 0), (TD1, 1)):
        truth = {n: f.value for n, f in parse(lines, TODAY).fields.items()
                 if f.check is Check.PASSED}
        line = lines[line_index]
        for position, original in enumerate(line):
            for replacement in _ALPHABET:
                if (char_value(replacement) - char_value(original)) % 10 == 0:
                    continue
                changed = list(lines)
                changed[line_index] = line[:position] + replacement + line[position + 1:]
                reading = parse(changed, TODAY)
                for name, f in reading.fields.items():
                    if name in truth and f.check is Check.PASSED:
                        assert f.value == truth[name], (changed, name)


@pytest.mark.parametrize("lines", [
    ("P<UTOERIKSSON",), (TD3[0], TD3[1][:-1]), (TD3[0].lower(), TD3[1]),
    (TD3[0], TD3[1].replace("<", "-")),
])
def test_what_is_not_an_mrz_is_refused_with_a_reason(lines: tuple[str, ...]) -> None:
    if lines[0].islower():  # lower case is upper-cased, not refused
        assert parse(lines, TODAY).all_digits_passed
        return
    with pytest.raises(MrzError):
        parse(lines, TODAY)


# --- what no check digit covers: country codes and names ---------------------------------

def _with_states(issuing: str, nationality: str) -> tuple[str, str]:
    """The TD3 specimen with other codes (the composite does not cover them)."""
    return (TD3[0][:2] + issuing + TD3[0][5:], TD3[1][:10] + nationality + TD3[1][13:])


@pytest.mark.parametrize(("issuing", "nationality", "expected"), [
    ("POL", "POL", ("POL", "POL")),            # known codes stand as read
    ("PDL", "PQL", ("POL", "POL")),            # one OCR confusion to exactly one code
    ("D<<", "D<<", ("D", "D")),                # Germany's one-letter code
    ("UT0", "UTO", ("UTO", "UTO")),            # a digit in a letter field, as before
])
def test_country_codes_must_be_codes_icao_knows(issuing: str, nationality: str,
                                                 expected: tuple[str, str]) -> None:
    reading = parse(_with_states(issuing, nationality), TODAY)
    assert reading.verified
    offered = reading.offered()
    assert (offered["issuing_state"].value, offered["nationality"].value) == expected


def test_an_unknown_country_code_is_never_offered() -> None:
    # BDR (a code no state uses today), and QQQ, which no single confusion makes a code.
    reading = parse(_with_states("BDR", "QQQ"), TODAY)
    assert reading.verified  # the digits still vouch for the rest
    for name in ("issuing_state", "nationality"):
        field = reading.fields[name]
        assert field.check is Check.UNCLEAR and not field.offered
    assert "document_number" in reading.offered()


def test_a_doubted_letter_withholds_only_its_name() -> None:
    # Column 20 of the top line is the R of MARIA (the given names); the surname stands.
    reading = parse(TD3, TODAY, doubted=[(0, 20)])
    assert reading.verified
    assert reading.fields["given_names"].check is Check.UNCLEAR
    assert not reading.fields["given_names"].offered
    assert reading.offered()["surname"].value == "ERIKSSON"
    # The same in TD1, where the names are the third line.
    td1 = parse(TD1, TODAY, doubted=[(2, 3)])  # the I of ERIKSSON
    assert td1.fields["surname"].check is Check.UNCLEAR
    assert td1.offered()["given_names"].value == "ANNA MARIA"
