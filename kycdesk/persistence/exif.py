"""Reads the few EXIF facts kycdesk keeps from imported photos: GPS position, its
accuracy, when the photo was taken, and its orientation. A small, defensive reader (no
dependency): any malformed structure means "not known", never an exception and never a
made-up value; each fact is read on its own, so a bad date never costs the position.

A time without a zone is kept as the camera wrote it ("2026-11-20T09:00:00", no offset):
the camera's zone is not known, and guessing it from this tablet's would shift it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kycdesk.core.clock import parse_exif, taken_text

T = TypeVar("T")

MAX_HEADER = 4 * 1024 * 1024  # segments before the image data (big ICC/APP13 blocks too)
TAG_EXIF_IFD, TAG_GPS_IFD, TAG_ORIENTATION = 0x8769, 0x8825, 0x0112
TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_H_ERROR = 1, 2, 3, 4, 31
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


@dataclass(frozen=True)
class ExifFacts:
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    captured_at: str | None = None  # ISO-8601: UTC ("…Z") if the zone was known, else local
    orientation: int = 1            # EXIF 1-8 (1: as stored)


def _app1_tiff(data: bytes) -> bytes | None:
    """The TIFF block of the EXIF APP1 segment, wherever it sits before the image data;
    0xFF fill bytes between segments are skipped, as the JPEG standard allows."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        while pos + 1 < len(data) and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no EXIF after it
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return segment[6:]
        pos += 2 + length
    return None


def _png_exif(data: bytes) -> bytes | None:
    """The TIFF block of a PNG's eXIf chunk (PNG 1.5 extension: screenshots, editors and
    some phones put EXIF there); the chunk may sit before or after the image data."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"eXIf":
            return data[pos + 8:pos + 8 + length]
        if kind == b"IEND":
            return None
        pos += 12 + length
    return None


def _tiff_block(data: bytes) -> bytes | None:
    return _app1_tiff(data) if data.startswith(b"\xff\xd8") else _png_exif(data)


class _Tiff:
    def __init__(self, tiff: bytes) -> None:
        self.data = tiff
        order = tiff[:2]
        if order == b"II":
            self.endian = "<"
        elif order == b"MM":
            self.endian = ">"
        else:
            raise ValueError("not TIFF")

    def u16(self, offset: int) -> int:
        return int(struct.unpack_from(self.endian + "H", self.data, offset)[0])

    def u32(self, offset: int) -> int:
        return int(struct.unpack_from(self.endian + "I", self.data, offset)[0])

    def ifd(self, offset: int) -> dict[int, object]:
        entries: dict[int, object] = {}
        count = self.u16(offset)
        for i in range(min(count, 512)):
            entry = offset + 2 + i * 12
            tag, kind, n = self.u16(entry), self.u16(entry + 2), self.u32(entry + 4)
            size = TYPE_SIZES.get(kind, 0) * n
            if size == 0:
                continue
            where = entry + 8 if size <= 4 else self.u32(entry + 8)
            if where + size > len(self.data):
                continue
            entries[tag] = self._value(kind, n, where)
        return entries

    def _value(self, kind: int, n: int, where: int) -> object:
        if kind == 2:
            return self.data[where:where + n].split(b"\x00", 1)[0].decode("ascii", "replace")
        if kind == 3:
            return [self.u16(where + 2 * i) for i in range(n)]
        if kind in (4, 9):
            return [self.u32(where + 4 * i) for i in range(n)]
        if kind in (5, 10):
            fmt = self.endian + ("II" if kind == 5 else "ii")
            values = []
            for i in range(n):
                num, den = struct.unpack_from(fmt, self.data, where + 8 * i)
                values.append(num / den if den else float("nan"))
            return values
        return None


def _degrees(value: object, ref: object, negative: str) -> float | None:
    if not isinstance(value, list) or len(value) != 3 or not isinstance(ref, str):
        return None
    deg, minutes, seconds = value
    result = float(deg) + float(minutes) / 60 + float(seconds) / 3600
    if math.isnan(result) or result > 180:
        return None
    return round(-result if ref.upper().startswith(negative) else result, 7)


def _timestamp(text: object, offset: object) -> str | None:
    """`captured_at` from EXIF: an instant if the camera wrote its offset, otherwise the
    wall time as the camera wrote it (never shifted to UTC: its zone is not known)."""
    if not isinstance(text, str):
        return None
    taken = parse_exif(text, offset if isinstance(offset, str) else None)
    return None if taken is None else taken_text(taken)


def _fact(read: Callable[[], T], default: T) -> T:
    try:
        return read()
    except (ValueError, struct.error, IndexError, OverflowError, TypeError):
        return default


def read_exif(source: Path | bytes) -> ExifFacts:
    """The facts of a photo file, or of a photo's bytes (decrypted, in memory)."""
    try:
        if isinstance(source, bytes):
            head = source[:MAX_HEADER]
        else:
            with source.open("rb") as fh:
                head = fh.read(MAX_HEADER)
        tiff_bytes = _tiff_block(head)
        if tiff_bytes is None:
            return ExifFacts()
        tiff = _Tiff(tiff_bytes)
        ifd0 = tiff.ifd(tiff.u32(4))
    except (OSError, ValueError, struct.error, IndexError):
        return ExifFacts()

    def when() -> str | None:
        exif_ptr = ifd0.get(TAG_EXIF_IFD)
        if not (isinstance(exif_ptr, list) and exif_ptr):
            return None
        exif = tiff.ifd(exif_ptr[0])
        return _timestamp(exif.get(TAG_DATETIME_ORIGINAL), exif.get(TAG_OFFSET_TIME_ORIGINAL))

    def where() -> tuple[float | None, float | None, float | None]:
        gps_ptr = ifd0.get(TAG_GPS_IFD)
        if not (isinstance(gps_ptr, list) and gps_ptr):
            return None, None, None
        gps = tiff.ifd(gps_ptr[0])
        latitude = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "S")
        longitude = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), "W")
        if latitude is None or longitude is None or abs(latitude) > 90:
            return None, None, None
        error = gps.get(GPS_H_ERROR)
        accuracy = None
        if isinstance(error, list) and error and not math.isnan(error[0]):
            accuracy = round(float(error[0]), 1)
        return latitude, longitude, accuracy

    def orientation() -> int:
        value = ifd0.get(TAG_ORIENTATION)
        if isinstance(value, list) and value and 1 <= value[0] <= 8:
            return int(value[0])
        return 1

    nowhere: tuple[float | None, float | None, float | None] = (None, None, None)
    latitude, longitude, accuracy = _fact(where, nowhere)
    return ExifFacts(latitude, longitude, accuracy, _fact(when, None),
                     _fact(orientation, 1))
