"""Image files named for what they are (issue 19): AVIF is not HEIC, a corrupt JPEG is not
"cut off", and EXIF inside a PNG (its eXIf chunk) is read like a JPEG's."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage

from kycdesk.core.errors import ImageRejectedError, ImageRejectionKind
from kycdesk.persistence.commands import AddImage, CreateCase
from kycdesk.persistence.exif import read_exif
from kycdesk.persistence.store import LocalStore
from tests.exif_builder import exif_segment


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 8) + b"ftyp" + body + b"\x00" * 4000


@pytest.mark.parametrize(("head", "words", "not_words"), [
    (_ftyp(b"avif", b"mif1", b"miaf", b"MA1B"), "AVIF image", "HEIC"),
    (_ftyp(b"mif1", b"avif", b"miaf"), "AVIF image", "HEIC"),
    (_ftyp(b"heic", b"mif1", b"heic"), "HEIC photo", "AVIF"),
])
def test_avif_and_heic_are_each_called_by_their_name(
        store: LocalStore, tmp_path: Path, head: bytes, words: str, not_words: str) -> None:
    source = tmp_path / "picture"
    source.write_bytes(head)
    with pytest.raises(ImageRejectedError) as raised:
        store.run(AddImage(store.run(CreateCase()), source))
    assert raised.value.kind is ImageRejectionKind.UNSUPPORTED_FORMAT
    assert words in str(raised.value) and not_words not in str(raised.value)


def _sos_end(jpeg: bytes) -> int:
    return jpeg.index(b"\xff\xda") + 2 + int.from_bytes(jpeg[jpeg.index(b"\xff\xda") + 2:
                                                              jpeg.index(b"\xff\xda") + 4])


@pytest.mark.qt_log_ignore("Corrupt JPEG data")
def test_a_corrupt_jpeg_is_called_damaged_and_a_cut_one_cut_off(
        store: LocalStore, jpeg: Path, tmp_path: Path) -> None:
    good = jpeg.read_bytes()
    middle = (_sos_end(good) + len(good)) // 2
    # A marker with an impossible length inside the scan: the file still ends whole.
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(good[:middle] + b"\xff\xc4\x00\x01" + good[middle + 4:])
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good[:middle])
    case_id = store.run(CreateCase())
    with pytest.raises(ImageRejectedError) as raised:
        store.run(AddImage(case_id, corrupt))
    assert raised.value.kind is ImageRejectionKind.UNREADABLE
    assert "damaged" in str(raised.value) and "cut off" not in str(raised.value).replace(
        "not merely cut off", "")
    with pytest.raises(ImageRejectedError) as raised:
        store.run(AddImage(case_id, cut))
    assert raised.value.kind is ImageRejectionKind.TRUNCATED
    assert "cut off" in str(raised.value)
    assert store.list_images(case_id) == []


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_with_exif(target: Path, *, before_idat: bool, tiff: bytes,
                   image: QImage | None = None) -> Path:
    """A real PNG (drawn by Qt) with an eXIf chunk holding a camera-shaped TIFF block."""
    if image is None:
        image = QImage(400, 300, QImage.Format.Format_RGB32)
        image.fill(QColor("teal"))
    plain = target.with_suffix(".plain.png")
    assert image.save(str(plain))
    data = plain.read_bytes()
    exif = _chunk(b"eXIf", tiff)
    at = data.index(b"IDAT") - 4 if before_idat else data.index(b"IEND") - 4
    target.write_bytes(data[:at] + exif + data[at:])
    return target


@pytest.mark.parametrize("before_idat", [True, False])
def test_exif_inside_a_png_is_read(store: LocalStore, tmp_path: Path,
                                   before_idat: bool) -> None:
    app1 = exif_segment(lat=-1.2921, lon=36.8219, accuracy=5.0, taken="2026:11:20 09:15:00",
                        offset="+03:00", orientation=6)
    tiff = app1[10:]  # the APP1 marker, its length and "Exif\0\0" off: the TIFF block
    png = _png_with_exif(tmp_path / "screenshot.png", before_idat=before_idat, tiff=tiff)
    facts = read_exif(png)
    assert facts.latitude == pytest.approx(-1.2921, abs=1e-4)
    assert facts.longitude == pytest.approx(36.8219, abs=1e-4)
    assert facts.orientation == 6
    assert facts.captured_at == "2026-11-20T06:15:00.000Z"  # the clock's one precision
    image = store.run(AddImage(store.run(CreateCase()), png))
    assert image.captured_at_source == "exif"
    assert image.location is not None
    assert image.location.latitude == pytest.approx(-1.2921, abs=1e-4)


def _marked(size: tuple[int, int]) -> QImage:
    """Grey, with a red block in the top-left corner and a blue one top-right."""
    image = QImage(size[0], size[1], QImage.Format.Format_RGB32)
    image.fill(QColor("grey"))
    for x in range(40):
        for y in range(30):
            image.setPixelColor(x, y, QColor("red"))
            image.setPixelColor(size[0] - 1 - x, y, QColor("blue"))
    return image


def _corners(image: QImage) -> list[str]:
    """Which colour sits at each corner (top-left, top-right, bottom-right, bottom-left)."""
    w, h = image.width() - 5, image.height() - 5
    names = []
    for x, y in ((4, 4), (w, 4), (w, h), (4, h)):
        colour = image.pixelColor(x, y)
        names.append("red" if colour.red() > 180 and colour.blue() < 90 else
                     "blue" if colour.blue() > 180 and colour.red() < 90 else "grey")
    return names


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_png_is_turned_upright_exactly_as_qt_turns_a_jpeg(
        store: LocalStore, tmp_path: Path, orientation: int) -> None:
    from kycdesk.persistence.thumbnails import decode_scaled
    from tests.photo_files import stored_thumbnail

    app1 = exif_segment(lat=51.5, lon=-0.12, accuracy=None, taken="2026:11:20 09:00:00",
                        orientation=orientation)
    base = _marked((400, 300))
    plain_jpeg = tmp_path / "plain.jpg"
    assert base.save(str(plain_jpeg), None, 95)  # the format from the name
    data = plain_jpeg.read_bytes()
    jpeg = tmp_path / "turned.jpg"
    jpeg.write_bytes(data[:2] + app1 + data[2:])  # Qt applies this one itself
    png = _png_with_exif(tmp_path / "turned.png", before_idat=True, tiff=app1[10:],
                         image=base)

    expected = decode_scaled(str(jpeg), 400)
    shown = decode_scaled(str(png), 400)
    assert (shown.width(), shown.height()) == (expected.width(), expected.height())
    assert _corners(shown) == _corners(expected)
    record = store.run(AddImage(store.run(CreateCase()), png))
    assert (record.width, record.height) == (expected.width(), expected.height())
    thumb = stored_thumbnail(store, store.paths.absolute(record.file_path))
    assert _corners(thumb) == _corners(expected)
