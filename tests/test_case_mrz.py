"""`kycdesk case mrz FILE --json`, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kycdesk.cli import main as cli_main
from tests.test_mrz import TD1, TD3

Capture = pytest.CaptureFixture[str]
# The command line makes a QCoreApplication if none exists; the suite's (a GUI one) first.
pytestmark = pytest.mark.usefixtures("qapp")


def mrz(tmp_path: Path, capsys: Capture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli_main(["case", "mrz", *argv, "--data-dir", str(tmp_path / "data")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_passport_zone_prints_its_fields_and_digits(tmp_path: Path, capsys: Capture) -> None:
    source = tmp_path / "zone.txt"
    source.write_text("\n".join(TD3) + "\n", encoding="utf-8")
    code, out, _ = mrz(tmp_path, capsys, str(source), "--json")
    assert code == 0
    printed = json.loads(out)
    assert printed["format"] == "TD3" and printed["lines"] == list(TD3)
    assert printed["all_check_digits_passed"] is True
    assert set(printed["check_digits"]) == {"document_number", "birth_date", "expiry_date",
                                            "optional_data", "composite"}
    number = printed["fields"]["document_number"]
    assert number == {"value": "L898902C3", "raw": "L898902C36", "check": "passed",
                      "corrected": False, "doubted": False, "offered": True}
    assert printed["fields"]["surname"]["check"] == "unchecked"


def test_a_failed_digit_exits_1_and_is_not_offered(tmp_path: Path, capsys: Capture) -> None:
    source = tmp_path / "zone.txt"
    source.write_text("\n".join((TD1[0], TD1[1].replace("7408122", "7408123"), TD1[2])),
                      encoding="utf-8")
    code, out, _ = mrz(tmp_path, capsys, str(source), "--json")
    assert code == 1
    birth = json.loads(out)["fields"]["birth_date"]
    assert birth["check"] == "failed" and not birth["offered"] and birth["value"] == ""


def test_a_photo_of_a_passport_is_read(tmp_path: Path, capsys: Capture) -> None:
    import random

    from tests.mrz_samples import render

    photo = tmp_path / "passport.jpg"
    photo.write_bytes(render(TD3, random.Random(7), distort=False))
    code, out, _ = mrz(tmp_path, capsys, str(photo), "--json")
    assert code == 0
    printed = json.loads(out)
    assert printed["lines"] == list(TD3) and printed["verified"] is True
    assert printed["fields"]["birth_date"]["value"] == "1974-08-12"


@pytest.mark.parametrize(("content", "message"), [
    (b"\xff\xd8\xff\xe0" + b"\0" * 64, "is neither MRZ text nor a photo"),
    (b"hello\n", "is not an MRZ: line lengths [5]"),
])
def test_what_is_not_an_mrz_gets_a_sentence(tmp_path: Path, capsys: Capture, content: bytes,
                                            message: str) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(content)
    code, out, err = mrz(tmp_path, capsys, str(source))
    assert code == 1 and out == ""
    assert message in err


def test_a_photo_without_a_zone_says_so(tmp_path: Path, capsys: Capture) -> None:
    from PIL import Image

    photo = tmp_path / "wall.png"
    Image.new("L", (800, 600), 230).save(photo)
    code, out, err = mrz(tmp_path, capsys, str(photo))
    assert code == 1 and out == ""
    assert "is a photo, but no machine-readable zone found" in err
