"""Thumbnail files (the loader that shows them off the GUI thread is
`models.thumbnails.ThumbnailLoader`).

Each photo has a small JPEG beside it (`<case>/thumbs/img_<n>.jpg`), encrypted like the
photo (`encrypted_files`), written when it is imported (from the decode that validated
it). Both are decrypted in memory, never to a clear file. Showing a thumbnail reads that small file;
if it is missing (older data, a crash before it was written) the photo is decoded at
display size (QImageReader.setScaledSize lets the JPEG decoder skip most of the work)
and the thumbnail file is written for next time. Results are cached in memory by id.
The thumbnail files are a cache: never synced, never evidence, safe to delete."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader

from kycdesk.core.errors import StoreError
from kycdesk.persistence import intents
from kycdesk.persistence.encrypted_files import (
    TamperedDataError,
    photo_context,
    read_decrypted,
    thumbnail_context,
    write_encrypted,
)
from kycdesk.persistence.image_memory import BytesImageReader, encode_jpeg
from kycdesk.persistence.orientation import pending_turn, turned
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

THUMBS_DIRNAME = "thumbs"
THUMB_FILE_EDGE = 320
THUMB_QUALITY = 85


def thumbnail_file(photo: Path) -> Path:
    return photo.parent / THUMBS_DIRNAME / (photo.stem + ".jpg")


def case_of(photo: Path) -> str:
    """The case a stored photo belongs to: its folder's name (cases/<case>/img_<n>.*)."""
    return photo.parent.name


def write_thumbnail(vault: Vault, photo: Path, image: QImage) -> None:
    """Best effort (it is a cache), encrypted like the photo (a thumbnail of an ID
    document is an ID document): temp name then rename, so a reader never sees half.
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
        data = encode_jpeg(image, THUMB_QUALITY)
        if data is not None:
            target.parent.mkdir(mode=0o700, exist_ok=True)
            write_encrypted(vault, target, thumbnail_context(case_of(photo)), data,
                            replace=True)
    except OSError as exc:
        log.info("thumbnail for %s not written: %s", photo, exc)
    intents.end(entry)


def load_thumbnail(vault: Vault, photo: Path, edge: int) -> QImage:
    """The stored thumbnail if it is big enough, else a scaled decode of the photo (then
    stored); both decrypted in memory. A null image if the photo cannot be read."""
    case_id = case_of(photo)
    cached = thumbnail_file(photo)
    if edge <= THUMB_FILE_EDGE and cached.exists():
        try:
            image = decode_scaled(read_decrypted(vault, cached, thumbnail_context(case_id)),
                                  edge)
        except (OSError, TamperedDataError):
            image = QImage()  # a damaged cache: decoded again from the photo below
        if not image.isNull():
            return image
    try:
        data = read_decrypted(vault, photo, photo_context(case_id))
    except (OSError, TamperedDataError) as exc:
        log.info("photo %s could not be read: %s", photo.name, type(exc).__name__)
        return QImage()
    image = decode_scaled(data, max(edge, THUMB_FILE_EDGE))
    if not image.isNull() and edge <= THUMB_FILE_EDGE:
        write_thumbnail(vault, photo, image)
        return image.scaled(edge, edge, Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation)
    return image


def decode_scaled(source: str | bytes, edge: int) -> QImage:
    """A photo (a clear file's path, or decrypted bytes) decoded at most `edge` px."""
    reader = BytesImageReader(source) if isinstance(source, bytes) else QImageReader(source)
    reader.setAutoTransform(True)  # respect EXIF orientation
    size = reader.size()
    if size.isValid() and not size.isEmpty():
        reader.setScaledSize(size.scaled(QSize(edge, edge),
                                         Qt.AspectRatioMode.KeepAspectRatio))
    # a PNG's eXIf orientation: Qt skips it
    turn = pending_turn(reader, source if isinstance(source, bytes) else Path(source))
    return turned(reader.read(), turn)
