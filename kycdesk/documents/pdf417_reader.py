"""Read the PDF417 barcode on an ID card's back with zxing-cpp (Apache-2.0, a 1.1 MB wheel).

zxing-cpp finds a PDF417 symbol upright or turned by quarter turns, but not one turned by
a few degrees as a hand-held photo is (measured: 2 of 10 photos turned by a random ±10°).
So the photo is also tried straightened by the angle its dark marks line up at (the MRZ
reader's estimate), then at a sweep of small angles. Blocking and CPU-bound: the app calls
it through `run_task`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from kycdesk.core.aamva import AamvaError, AamvaReading, parse

_WORK_WIDTH = 1600  # larger photos are read at this width: modules stay several px wide
_SWEEP = (-8.0, -5.0, -2.5, 2.5, 5.0, 8.0)


class BarcodeNotFoundError(Exception):
    """No PDF417 symbol in the photo, or one that is not an ID card's."""


def read_photo(path: Path) -> AamvaReading:
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("L")
    return read_image(image)


def read_image(image: Image.Image) -> AamvaReading:
    text = decode(image)
    if text is None:
        raise BarcodeNotFoundError("no PDF417 barcode found")
    try:
        return parse(text)
    except AamvaError as exc:
        raise BarcodeNotFoundError(f"its barcode is not an ID card's ({exc})") from exc


def decode(image: Image.Image) -> str | None:
    """The text of the first PDF417 symbol found, or None."""
    import zxingcpp  # only when a barcode is read: the import loads a native library

    from kycdesk.documents.mrz_reader import skew_angle

    if image.width > _WORK_WIDTH:
        image = image.resize((_WORK_WIDTH, round(image.height * _WORK_WIDTH / image.width)),
                             Image.Resampling.BILINEAR)
    mean = image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    fill = int(mean) if isinstance(mean, int | float) else 128
    pdf417 = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.PDF417)
    estimated = skew_angle(image)
    angles = [0.0] + ([estimated] if abs(estimated) >= 1 else [])
    angles += [a for a in _SWEEP if all(abs(a - b) > 1.2 for b in angles)]
    for angle in angles:
        turned = image if angle == 0 else image.rotate(
            angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=fill)
        found = zxingcpp.read_barcodes(turned, formats=pdf417,
                                       text_mode=zxingcpp.TextMode.Plain)
        for barcode in found:
            if barcode.valid and barcode.text:
                return str(barcode.text)
    return None
