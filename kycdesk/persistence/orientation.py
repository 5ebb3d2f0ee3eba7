"""Upright photos whatever the format: Qt applies a JPEG's EXIF orientation itself
(`setAutoTransform`), but not the one in a PNG's eXIf chunk (phones' screenshots and
scans, some editors) — for those the same turn is applied here, the way Qt does it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage, QImageIOHandler, QImageReader, QTransform

from kycdesk.persistence.exif import read_exif

T = QImageIOHandler.Transformation
# EXIF orientation 1-8 → Qt's transformation (as Qt maps it for JPEG, qimage.cpp).
_BY_EXIF = {1: T.TransformationNone, 2: T.TransformationMirror, 3: T.TransformationRotate180,
            4: T.TransformationFlip, 5: T.TransformationFlipAndRotate90,
            6: T.TransformationRotate90, 7: T.TransformationMirrorAndRotate90,
            8: T.TransformationRotate270}


def pending_turn(reader: QImageReader,
                 source: Path | bytes) -> QImageIOHandler.Transformation:
    """The turn Qt will not apply by itself: a PNG's eXIf orientation; none otherwise.
    `source`: the file `reader` reads, or its bytes (a decrypted photo in memory)."""
    if bytes(reader.format().data()).lower() != b"png":
        return T.TransformationNone
    return _BY_EXIF.get(read_exif(source).orientation, T.TransformationNone)


def turned(image: QImage, turn: QImageIOHandler.Transformation) -> QImage:
    """`image` with `turn` applied: mirror and flip first, then a quarter turn clockwise."""
    if turn == T.TransformationNone or image.isNull():
        return image
    if turn == T.TransformationRotate270:
        return image.transformed(QTransform(0, -1, 1, 0, 0, 0))
    if turn & T.TransformationMirror:
        image = image.transformed(QTransform(-1, 0, 0, 1, 0, 0))
    if turn & T.TransformationFlip:
        image = image.transformed(QTransform(1, 0, 0, -1, 0, 0))
    if turn & T.TransformationRotate90:
        image = image.transformed(QTransform(0, 1, -1, 0, 0, 0))
    return image


def quarter_turned(reader: QImageReader, turn: QImageIOHandler.Transformation) -> bool:
    """Shown with width and height swapped (a portrait photo stored landscape)?"""
    return bool((reader.transformation() | turn) & T.TransformationRotate90)
