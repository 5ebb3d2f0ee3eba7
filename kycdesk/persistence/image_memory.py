"""Decoding a photo from bytes in memory: photos are encrypted on disk, so every check,
thumbnail, EXIF read and document reading works on the decrypted bytes held in memory,
never on a clear temporary file."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage, QImageReader


class BytesImageReader(QImageReader):
    """A QImageReader over `data`; it keeps its buffer alive as long as itself."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._bytes = QByteArray(data)
        self._buffer = QBuffer(self._bytes)
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.setDevice(self._buffer)


def encode_jpeg(image: QImage, quality: int) -> bytes | None:
    """`image` as JPEG bytes in memory (None if Qt could not encode it)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "JPEG", quality):  # type: ignore[call-overload]
        return None
    buffer.close()
    return bytes(data.data())
