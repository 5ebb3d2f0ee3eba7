"""Thumbnail files (the loader that shows them off the GUI thread is
`models.thumbnails.ThumbnailLoader`).

Each photo has a small JPEG beside it (`<case>/thumbs/img_<n>.jpg`), written when it is
imported (from the decode that validated it). Showing a thumbnail reads that small file;
if it is missing (older data, a crash before it was written) the photo is decoded at
display size (QImageReader.setScaledSize lets the JPEG decoder skip most of the work)
and the thumbnail file is written for next time. Results are cached in memory by id.
The thumbnail files are a cache: never synced, never evidence, safe to delete."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader

from kycdesk.core.errors import StoreError
from kycdesk.persistence import intents
from kycdesk.persistence.orientation import pending_turn, turned

log = logging.getLogger(__name__)

THUMBS_DIRNAME = "thumbs"
THUMB_FILE_EDGE = 320


def thumbnail_file(photo: Path) -> Path:
    return photo.parent / THUMBS_DIRNAME / (photo.stem + ".jpg")


def write_thumbnail(photo: Path, image: QImage) -> None:
    """Best effort (it is a cache): temp name then rename, so a reader never sees half.
    The journal names the case while the temp file exists (not durably: a lost entry
    costs a stray cache file, which the full check removes)."""
    target = thumbnail_file(photo)
    case_dir = photo.parent
    try:
        entry = intents.begin(case_dir.parent.parent, "thumbnail", case_dir.name,
                              durable=False)
    except StoreError:
        entry = None  # not a case folder of a data dir (or not writable): no journal
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        if image.save(str(tmp), "JPEG", 85):  # type: ignore[call-overload]
            tmp.replace(target)
        else:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        log.info("thumbnail for %s not written: %s", photo, exc)
    intents.end(entry)


def load_thumbnail(photo: Path, edge: int) -> QImage:
    """The stored thumbnail if it is big enough, else a scaled decode (then stored)."""
    cached = thumbnail_file(photo)
    if edge <= THUMB_FILE_EDGE and cached.exists():
        image = decode_scaled(str(cached), edge)
        if not image.isNull():
            return image
    image = decode_scaled(str(photo), max(edge, THUMB_FILE_EDGE))
    if not image.isNull() and edge <= THUMB_FILE_EDGE and photo.exists():
        write_thumbnail(photo, image)
        return image.scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)
    return image


def decode_scaled(path: str, edge: int) -> QImage:
    reader = QImageReader(path)
    reader.setAutoTransform(True)  # respect EXIF orientation
    size = reader.size()
    if size.isValid() and not size.isEmpty():
        reader.setScaledSize(size.scaled(QSize(edge, edge),
                                         Qt.AspectRatioMode.KeepAspectRatio))
    turn = pending_turn(reader, Path(path))  # a PNG's eXIf orientation: Qt skips it
    return turned(reader.read(), turn)
