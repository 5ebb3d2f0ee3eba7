"""Thumbnails, off the GUI thread.

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
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader

from kycdesk.paths import DataPaths

log = logging.getLogger(__name__)

CACHE_SIZE = 600


THUMBS_DIRNAME = "thumbs"
THUMB_FILE_EDGE = 320


def thumbnail_file(photo: Path) -> Path:
    return photo.parent / THUMBS_DIRNAME / (photo.stem + ".jpg")


def write_thumbnail(photo: Path, image: QImage) -> None:
    """Best effort (it is a cache): temp name then rename, so a reader never sees half."""
    target = thumbnail_file(photo)
    try:
        target.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        if image.save(str(tmp), "JPEG", 85):  # type: ignore[call-overload]
            tmp.replace(target)
        else:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        log.info("thumbnail for %s not written: %s", photo, exc)


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
    return reader.read()


class _Signals(QObject):
    done = Signal(int, QImage)


class _Job(QRunnable):
    def __init__(self, image_id: int, path: str, edge: int, signals: _Signals) -> None:
        super().__init__()
        self.image_id, self.path, self.edge, self.signals = image_id, path, edge, signals

    def run(self) -> None:
        self.signals.done.emit(self.image_id, load_thumbnail(Path(self.path), self.edge))


class ThumbnailLoader(QObject):
    """`request(image_id, stored_path)`; `thumbnailReady(image_id, QImage)` arrives in the
    loader's (GUI) thread. A null QImage means the file could not be decoded."""

    thumbnailReady = Signal(int, QImage)

    def __init__(self, paths: DataPaths, edge: int = 160,
                 pool: QThreadPool | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.edge = edge
        self.pool = pool or QThreadPool.globalInstance()
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._pending: set[int] = set()
        self._signals = _Signals()
        self._signals.done.connect(self._finished)

    def cached(self, image_id: int) -> QImage | None:
        image = self._cache.get(image_id)
        if image is not None:
            self._cache.move_to_end(image_id)
        return image

    def request(self, image_id: int, stored_path: str) -> None:
        if image_id in self._cache or image_id in self._pending:
            return
        self._pending.add(image_id)
        self.pool.start(_Job(image_id, str(self.paths.absolute(stored_path)), self.edge,
                             self._signals))

    @Slot(int, QImage)
    def _finished(self, image_id: int, image: QImage) -> None:
        self._pending.discard(image_id)
        self._cache[image_id] = image
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        self.thumbnailReady.emit(image_id, image)

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        return bool(self.pool.waitForDone(timeout_ms))
