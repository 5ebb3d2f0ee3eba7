"""Thumbnails for the views, decrypted and decoded off the GUI thread (a background task
per photo) from the small encrypted files `persistence.thumbnails` keeps beside each
photo, in memory only; cached by id."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtGui import QImage

from kycdesk.background import Lane, run_task
from kycdesk.paths import DataPaths
from kycdesk.persistence.encrypted_files import TamperedDataError, photo_context, read_decrypted
from kycdesk.persistence.thumbnails import case_of, load_thumbnail
from kycdesk.security.vault import Vault

CACHE_SIZE = 600


def decode_lane() -> Lane:
    """One low-priority decoding thread: on a two-core tablet the other core stays free
    for the GUI thread (typing must not stutter while a case's thumbnails load)."""
    return Lane("thumbnails", threads=1, thread_priority=QThread.Priority.LowPriority)


class ThumbnailLoader(QObject):
    """`request(image_id, stored_path)`; `thumbnailReady(image_id, QImage)` arrives in the
    GUI thread. A null QImage means the file could not be decoded."""

    thumbnailReady = Signal(int, QImage)

    def __init__(self, paths: DataPaths, vault: Vault, edge: int = 160,
                 lane: Lane | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.vault = vault
        self.edge = edge
        self.lane = lane or decode_lane()
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._pending: set[int] = set()

    def cached(self, image_id: int) -> QImage | None:
        image = self._cache.get(image_id)
        if image is not None:
            self._cache.move_to_end(image_id)
        return image

    def request(self, image_id: int, stored_path: str) -> None:
        if image_id in self._cache or image_id in self._pending:
            return
        self._pending.add(image_id)
        path, edge, vault = self.paths.absolute(stored_path), self.edge, self.vault
        run_task(lambda _control: load_thumbnail(vault, Path(path), edge),
                 lambda image: self._finished(image_id, image),
                 name="thumbnail", lane=self.lane)

    def _finished(self, image_id: int, image: QImage) -> None:
        self._pending.discard(image_id)
        self._cache[image_id] = image
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        self.thumbnailReady.emit(image_id, image)

    def photo_bytes(self, stored_path: str) -> bytes | None:
        """A stored photo's decrypted bytes, in memory; None if it cannot be read
        (missing, changed: the full check reports it). BLOCKING: call it in a background
        task; the quality check and the document reader decode from these."""
        path = self.paths.absolute(stored_path)
        try:
            return read_decrypted(self.vault, path, photo_context(case_of(path)))
        except (OSError, TamperedDataError):
            return None

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        return self.lane.wait_idle(timeout_ms)
