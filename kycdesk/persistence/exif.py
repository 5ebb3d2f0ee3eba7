"""Reads the few EXIF facts kycdesk keeps from imported photos: GPS position, its
accuracy, and when the photo was taken. A small, defensive reader (no dependency): any
malformed structure means "not known", never an exception and never a made-up value.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

MAX_APP1_SEARCH = 256 * 1024
TAG_EXIF_IFD, TAG_GPS_IFD = 0x8769, 0x8825
TAG_DATETIME_ORIGINAL, TAG_OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_H_ERROR = 1, 2, 3, 4, 31
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}


@dataclass(frozen=True)
class ExifFacts:
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    captured_at: str | None = None  # ISO-8601 UTC


def _app1_tiff(data: bytes) -> bytes | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image / start of scan: no EXIF before it
            return None
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00"):
            return segment[6:]
        pos += 2 + length
    return None


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
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip(), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if isinstance(offset, str) and len(offset) == 6 and offset[0] in "+-":
        sign = 1 if offset[0] == "+" else -1
        try:
            delta = timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
        except ValueError:
            delta = None
        if delta is not None:
            moment = moment.replace(tzinfo=timezone(sign * delta))
    if moment.tzinfo is None:
        moment = moment.astimezone()  # camera clocks are local time
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_exif(path: Path) -> ExifFacts:
    try:
        with path.open("rb") as fh:
            head = fh.read(MAX_APP1_SEARCH)
        tiff_bytes = _app1_tiff(head)
        if tiff_bytes is None:
            return ExifFacts()
        tiff = _Tiff(tiff_bytes)
        ifd0 = tiff.ifd(tiff.u32(4))
        captured_at = None
        exif_ptr = ifd0.get(TAG_EXIF_IFD)
        if isinstance(exif_ptr, list) and exif_ptr:
            exif = tiff.ifd(exif_ptr[0])
            captured_at = _timestamp(exif.get(TAG_DATETIME_ORIGINAL),
                                     exif.get(TAG_OFFSET_TIME_ORIGINAL))
        latitude = longitude = accuracy = None
        gps_ptr = ifd0.get(TAG_GPS_IFD)
        if isinstance(gps_ptr, list) and gps_ptr:
            gps = tiff.ifd(gps_ptr[0])
            latitude = _degrees(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), "S")
            longitude = _degrees(gps.get(GPS_LON), gps.get(GPS_LON_REF), "W")
            error = gps.get(GPS_H_ERROR)
            if isinstance(error, list) and error and not math.isnan(error[0]):
                accuracy = round(float(error[0]), 1)
            if latitude is None or longitude is None or abs(latitude) > 90:
                latitude = longitude = accuracy = None
        return ExifFacts(latitude, longitude, accuracy, captured_at)
    except (OSError, ValueError, struct.error, IndexError):
        return ExifFacts()
