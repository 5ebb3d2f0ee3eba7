"""Thumbnails for the views, decoded off the GUI thread (a QThreadPool job per photo)
from the small files `persistence.thumbnails` keeps beside each photo; cached by id."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from kycdesk.paths import DataPaths
from kycdesk.persistence.thumbnails import load_thumbnail

CACHE_SIZE = 600


def _decode_pool(owner: QObject) -> QThreadPool:
    """One low-priority decoding thread: on a two-core tablet the other core stays free
    for the GUI thread (typing must not stutter while a case's thumbnails load)."""
    pool = QThreadPool(owner)
    pool.setMaxThreadCount(1)
    pool.setThreadPriority(QThread.Priority.LowPriority)
    return pool


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
        self.pool = pool or _decode_pool(self)
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
