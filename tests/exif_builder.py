"""Builds a real EXIF APP1 segment (TIFF IFDs with GPS and DateTimeOriginal) and puts it
into a JPEG, so EXIF reading is tested on bytes shaped like a camera's."""

from __future__ import annotations

import struct
from pathlib import Path


def _rational(value: float) -> bytes:
    return struct.pack(">II", round(value * 10000), 10000)


def _dms(degrees: float) -> bytes:
    d = int(degrees)
    m = int((degrees - d) * 60)
    s = (degrees - d - m / 60) * 3600
    return _rational(d) + _rational(m) + _rational(s)


def exif_segment(lat: float, lon: float, accuracy: float | None, taken: str,
                 offset: str | None = None, orientation: int | None = None) -> bytes:
    """Big-endian TIFF: IFD0 ([Orientation,] -> ExifIFD (DateTimeOriginal[,
    OffsetTimeOriginal]), GPS IFD)."""
    entries0 = 3 if orientation else 2
    ifd0_at = 8
    ifd0_size = 2 + entries0 * 12 + 4
    exif_at = ifd0_at + ifd0_size
    exif_entries = 2 if offset else 1
    exif_size = 2 + exif_entries * 12 + 4
    gps_at = exif_at + exif_size
    gps_entries = 5 if accuracy is not None else 4
    gps_size = 2 + gps_entries * 12 + 4
    data_at = gps_at + gps_size
    blobs = b""

    def blob(raw: bytes) -> int:
        nonlocal blobs
        where = data_at + len(blobs)
        blobs += raw
        return where

    def entry(tag: int, kind: int, count: int, value: bytes | int) -> bytes:
        if isinstance(value, int):
            return struct.pack(">HHII", tag, kind, count, value)
        return struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")

    taken_raw = taken.encode() + b"\x00"
    ifd0 = struct.pack(">H", entries0)
    if orientation:
        ifd0 += entry(0x0112, 3, 1, struct.pack(">H", orientation))
    ifd0 += entry(0x8769, 4, 1, exif_at) + entry(0x8825, 4, 1, gps_at) + b"\x00\x00\x00\x00"
    exif = struct.pack(">H", exif_entries) + entry(0x9003, 2, len(taken_raw),
                                                   blob(taken_raw))
    if offset:
        exif += entry(0x9011, 2, 7, blob(offset.encode() + b"\x00"))
    exif += b"\x00\x00\x00\x00"
    gps = struct.pack(">H", gps_entries)
    gps += entry(1, 2, 2, b"N\x00" if lat >= 0 else b"S\x00")
    gps += entry(2, 5, 3, blob(_dms(abs(lat))))
    gps += entry(3, 2, 2, b"E\x00" if lon >= 0 else b"W\x00")
    gps += entry(4, 5, 3, blob(_dms(abs(lon))))
    if accuracy is not None:
        gps += entry(31, 5, 1, blob(_rational(accuracy)))
    gps += b"\x00\x00\x00\x00"
    tiff = b"MM\x00\x2a" + struct.pack(">I", ifd0_at) + ifd0 + exif + gps + blobs
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def with_exif(jpeg: Path, target: Path, **facts: object) -> Path:
    data = jpeg.read_bytes()
    assert data[:2] == b"\xff\xd8"
    target.write_bytes(data[:2] + exif_segment(**facts) + data[2:])  # type: ignore[arg-type]
    return target
