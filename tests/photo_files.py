"""Reading a store's photo files in tests: they are encrypted under the store's vault
(persistence.encrypted_files), so a test decrypts them in memory as the app does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from PySide6.QtGui import QImage

from kycdesk.core.records import ImageRecord
from kycdesk.persistence.encrypted_files import photo_context, read_decrypted, thumbnail_context
from kycdesk.persistence.reads import StoreReads
from kycdesk.persistence.thumbnails import thumbnail_file


class ClearPhoto:
    """A clear file as an upload source (`sync.photo_files.PhotoSource`): photos that
    are not in any store (a client test's own file)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def name(self) -> str:
        return self.path.name

    def size(self) -> int:
        return self.path.stat().st_size

    def read_from(self, offset: int) -> Iterator[bytes]:
        with self.path.open("rb") as src:
            src.seek(offset)
            while piece := src.read(64 * 1024):
                yield piece


def stored_bytes(store: StoreReads, image: ImageRecord) -> bytes:
    """The photo's plaintext, as the office receives it."""
    return read_decrypted(store.vault, store.paths.absolute(image.file_path),
                          photo_context(image.case_id))


def stored_thumbnail(store: StoreReads, photo: Path) -> QImage:
    """The thumbnail kept beside a stored photo, decoded."""
    data = read_decrypted(store.vault, thumbnail_file(photo),
                          thumbnail_context(photo.parent.name))
    return QImage.fromData(data)
