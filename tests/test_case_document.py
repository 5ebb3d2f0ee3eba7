"""`kycdesk case document FILE --json`, through the real command line: an MRZ photo, a card
back's PDF417, and a photo with neither."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from kycdesk.cli import main as cli_main
from tests.mrz_samples import render as render_mrz
from tests.pdf417_samples import payload
from tests.pdf417_samples import render as render_barcode
from tests.test_aamva import PERSON
from tests.test_mrz import TD3

Capture = pytest.CaptureFixture[str]
pytestmark = pytest.mark.usefixtures("qapp")


def document(tmp_path: Path, capsys: Capture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(["case", "document", *argv, "--data-dir", str(tmp_path / "data")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_passport_photo_prints_the_mrz_values_and_digits(tmp_path: Path,
                                                            capsys: Capture) -> None:
    photo = tmp_path / "passport.jpg"
    photo.write_bytes(render_mrz(TD3, random.Random(7), distort=False))
    code, out, _ = document(tmp_path, capsys, str(photo), "--json")
    assert code == 0
    printed = json.loads(out)
    assert printed["source"] == "MRZ"
    assert printed["fields"]["document_number"] == {"value": "L898902C3",
                                                    "vouched_by": "check digits passed"}
    assert printed["fields"]["surname"] == {"value": "ERIKSSON",
                                            "vouched_by": "no check digit in the standard"}
    assert printed["fields"]["birth_date"]["value"] == "1974-08-12"
    assert printed["mrz"]["all_check_digits_passed"] is True
    assert "barcode" not in printed


def test_a_card_back_prints_the_barcode_values(tmp_path: Path, capsys: Capture) -> None:
    photo = tmp_path / "back.jpg"
    photo.write_bytes(render_barcode(payload(PERSON), random.Random(5)))
    code, out, _ = document(tmp_path, capsys, str(photo), "--json")
    assert code == 0
    printed = json.loads(out)
    assert printed["source"] == "barcode"
    assert {k: v["value"] for k, v in printed["fields"].items()} == {
        **PERSON, "issuing_state": "USA"}
    assert printed["barcode"] == {"parsed": True, "aamva_version": 10, "issuer": "636000",
                                  "refused": {}}


def test_a_card_back_in_words(tmp_path: Path, capsys: Capture) -> None:
    photo = tmp_path / "back.png"
    Image.open(__import__("io").BytesIO(
        render_barcode(payload(PERSON), random.Random(5), distort=False))).save(photo)
    code, out, _ = document(tmp_path, capsys, str(photo))
    assert code == 0
    assert out.splitlines()[:2] == ["read from the barcode",
                                    "Surname: SAMPLE (barcode error correction)"]


def test_a_photo_with_neither_says_so(tmp_path: Path, capsys: Capture) -> None:
    photo = tmp_path / "wall.png"
    Image.new("L", (800, 600), 230).save(photo)
    code, out, err = document(tmp_path, capsys, str(photo))
    assert code == 1 and out == ""
    assert "has no machine-readable zone or ID barcode that could be read" in err


def test_a_file_that_is_not_a_photo_says_so(tmp_path: Path, capsys: Capture) -> None:
    source = tmp_path / "notes.txt"
    source.write_text("hello\n", encoding="utf-8")
    code, out, err = document(tmp_path, capsys, str(source))
    assert code == 1 and out == ""
    assert f"{source} is not a photo (JPEG, PNG)" in err
