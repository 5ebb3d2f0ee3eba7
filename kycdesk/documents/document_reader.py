"""Read an ID document's photo: its MRZ if it has one, else the PDF417 barcode on a card's
back. Blocking and CPU-bound (a 12 MP photo: a few hundred ms): the app calls it through
`run_task`, `case document` directly."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from kycdesk.core.aamva import AamvaReading
from kycdesk.core.id_document import DocumentRead, from_aamva, from_mrz
from kycdesk.core.mrz import MrzReading
from kycdesk.documents import mrz_reader, pdf417_reader


class NothingReadError(Exception):
    """Neither an MRZ nor an ID card's barcode was found (the message says so in words)."""


@dataclass(frozen=True)
class DocumentResult:
    read: DocumentRead
    mrz: MrzReading | None = None
    barcode: AamvaReading | None = None


def read_document(source: Path | bytes, today: date) -> DocumentResult:
    """What an ID photo says; `source`: a file, or a stored photo's decrypted bytes (in
    memory: the store's photos are encrypted on disk, never decrypted to a file)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as opened:
            image = ImageOps.exif_transpose(opened).convert("L")
    except UnidentifiedImageError as exc:
        raise NothingReadError("is not a photo (JPEG, PNG)") from exc
    return read_image(image, today)


def read_image(image: Image.Image, today: date) -> DocumentResult:
    mrz: MrzReading | None = None
    with contextlib.suppress(mrz_reader.MrzNotFoundError):  # then try the barcode
        mrz = mrz_reader.read_image(image, today).reading
    if mrz is not None and not looks_like_a_zone(mrz):
        mrz = None  # text lines of an ID front, not an MRZ: say nothing about them
    if mrz is not None and mrz.verified:
        return DocumentResult(from_mrz(mrz), mrz=mrz)
    try:
        barcode = pdf417_reader.read_image(image)
    except pdf417_reader.BarcodeNotFoundError as exc:
        if mrz is not None:  # a zone was read, not well enough: say so, offer nothing
            return DocumentResult(from_mrz(mrz), mrz=mrz)
        raise NothingReadError(f"has no machine-readable zone or ID barcode that could be "
                               f"read ({exc})") from exc
    return DocumentResult(from_aamva(barcode), barcode=barcode)


def looks_like_a_zone(reading: MrzReading) -> bool:
    """A zone read badly still passes some of its check digits; lines where not one of
    them passes are other text (an ID card's front), and the verifier should not be told
    that "check digits failed" on a photo that has no machine-readable zone at all."""
    return any(reading.digits.values())
