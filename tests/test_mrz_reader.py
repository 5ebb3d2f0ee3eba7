"""The MRZ reader on generated photos: straight specimens are read whole; distorted ones
never give a wrong value as verified (the accuracy itself is the benchmark's)."""

from __future__ import annotations

import io
import random
from datetime import date

import pytest
from PIL import Image

from kycdesk.core.mrz import Check
from kycdesk.documents.mrz_reader import read_image
from tests.mrz_samples import render
from tests.test_mrz import SPECIMEN, TD1, TD2, TD3

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize("lines", [TD3, TD2, TD1], ids=["TD3", "TD2", "TD1"])
def test_a_straight_specimen_is_read_whole(lines: tuple[str, ...]) -> None:
    photo = render(lines, random.Random(7), distort=False)
    reading = read_image(Image.open(io.BytesIO(photo)).convert("L"), TODAY).reading
    assert reading.lines == lines
    assert reading.all_digits_passed
    assert {k: reading.fields[k].value for k in SPECIMEN} == SPECIMEN


def test_a_turned_specimen_is_straightened() -> None:
    photo = Image.open(io.BytesIO(render(TD3, random.Random(7), distort=False)))
    turned = photo.convert("L").rotate(7, expand=True, fillcolor=90)
    result = read_image(turned, TODAY)
    assert result.reading.lines == TD3
    assert result.angle == pytest.approx(-7, abs=0.5)
    assert all(f.check is not Check.FAILED for f in result.reading.fields.values()
               if f.name != "optional_data")


def test_a_small_generated_set_meets_the_floor_and_accepts_nothing_wrong() -> None:
    """12 distorted photos (benchmarks/mrz_accuracy.py's conditions, seed 11): at least
    11 of 12 fully verified (the matcher before glyph variants read 10: it catches that
    regression), and no checked value given as verified that is wrong."""
    from tests.mrz_samples import samples

    verified = wrong = 0
    for sample in samples(12, 11):
        reading = read_image(Image.open(io.BytesIO(sample.jpeg)).convert("L"), TODAY).reading
        verified += reading.verified
        wrong += sum(1 for name, value in sample.truth.items()
                     if reading.fields[name].check is Check.PASSED
                     and reading.fields[name].value != value)
    assert wrong == 0
    assert verified >= 11
