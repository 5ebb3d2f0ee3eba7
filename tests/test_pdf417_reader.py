"""The PDF417 reader (zxing-cpp) on generated card backs: pdf417gen symbols of AAMVA
payloads, straight, turned and distorted as a hand-held photo is."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from kycdesk.documents.pdf417_reader import BarcodeNotFoundError, read_image
from tests.pdf417_samples import identity, payload, render


def _photo(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("L")


def test_a_straight_card_back_is_read() -> None:
    person = identity(random.Random(1))
    reading = read_image(_photo(render(payload(person), random.Random(1), distort=False)))
    assert {k: reading.fields[k] for k in person} == person


@pytest.mark.parametrize("angle", [-9.0, 6.0])
def test_a_card_turned_by_a_few_degrees_is_read(angle: float) -> None:
    """zxing-cpp alone finds a PDF417 only upright or by quarter turns."""
    person = identity(random.Random(2))
    photo = _photo(render(payload(person, canadian=True), random.Random(2), distort=False))
    turned = photo.rotate(angle, expand=True, fillcolor=90)
    assert read_image(turned).fields["document_number"] == person["document_number"]


def test_distorted_card_backs_are_read_whole() -> None:
    """Perspective, a turn in ±10°, glare, blur, JPEG 60 (tests/mrz_samples.py's)."""
    rng = random.Random(3)
    for index in range(6):
        person = identity(rng)
        reading = read_image(_photo(render(payload(person, canadian=index % 2 == 1), rng)))
        assert {k: reading.fields[k] for k in person} == person


def test_a_photo_without_a_barcode_says_so() -> None:
    with pytest.raises(BarcodeNotFoundError, match="no PDF417 barcode found"):
        read_image(Image.new("L", (900, 600), 230))


def test_a_pdf417_that_is_not_an_id_card_is_refused() -> None:
    photo = _photo(render("just some text in a barcode", random.Random(4), distort=False))
    with pytest.raises(BarcodeNotFoundError, match="not an ID card's"):
        read_image(photo)
