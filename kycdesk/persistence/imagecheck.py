"""Is this file a photo we accept? Header probe with QImageReader plus structure checks.

QImageReader decodes a truncated JPEG "successfully" (grey bottom, a warning on the log),
so decoding alone cannot catch an interrupted copy. We therefore also check the file's
structure while it is copied: a JPEG's last scan (SOS) must be followed by its end
marker (EOI), a PNG must end with its IEND chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage, QImageReader

from kycdesk.core.errors import ImageRejectedError, ImageRejectionKind
from kycdesk.persistence.diskspace import IMPORT_RESERVE_BYTES

MIME_BY_FORMAT = {"jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic",
                  "heif": "image/heif"}
EXT_BY_FORMAT = {"jpeg": "jpg", "png": "png", "heic": "heic", "heif": "heif"}
PNG_TRAILER = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The check decodes a thumbnail-sized version: it proves the data decodes, and JPEG's DCT
# scaling makes it nearly as cheap as a tiny one; the result becomes the stored thumbnail.
PREVIEW_EDGE = 320


def _supported_formats() -> frozenset[str]:
    available = {bytes(f.data()).decode().lower() for f in QImageReader.supportedImageFormats()}
    # HEIC only where a plugin is installed (kimageformats/Windows codecs); JPEG/PNG always.
    return frozenset({"jpeg", "png"} | ({"heic", "heif"} & available))


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 60_000_000
    # Free space that must remain after an import (the database and edits need room too).
    free_space_reserve: int = IMPORT_RESERVE_BYTES
    formats: frozenset[str] = field(default_factory=_supported_formats)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    mime: str
    extension: str
    width: int
    height: int
    byte_size: int
    preview: QImage = field(compare=False, repr=False)


def check_file_size(path: Path, limits: ImageLimits) -> int:
    """Cheap checks before anything is copied: the file exists, is not empty, not huge."""
    try:
        byte_size = path.stat().st_size
    except OSError as exc:
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                 f"The file could not be opened ({exc.strerror}).") from exc
    if not path.is_file():
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE, "That is not a file.")
    if byte_size == 0:
        raise ImageRejectedError(ImageRejectionKind.EMPTY, "The file is empty.")
    if byte_size > limits.max_bytes:
        raise ImageRejectedError(
            ImageRejectionKind.TOO_LARGE,
            f"The photo is {byte_size / 2**20:.1f} MB; the limit is "
            f"{limits.max_bytes / 2**20:.0f} MB.")
    return byte_size


def probe(path: Path, limits: ImageLimits) -> ImageInfo:
    """Check size, format, dimensions and decodability; raise ImageRejectedError."""
    byte_size = check_file_size(path, limits)
    reader = QImageReader(str(path))
    reader.setDecideFormatFromContent(True)
    fmt = bytes(reader.format().data()).decode().lower()
    if not fmt:
        raise ImageRejectedError(ImageRejectionKind.NOT_AN_IMAGE,
                                 "The file is not a photo (it is not a JPEG or PNG image).")
    if fmt == "jpg":
        fmt = "jpeg"
    if fmt not in limits.formats:
        accepted = ", ".join(sorted(f.upper() for f in limits.formats))
        raise ImageRejectedError(ImageRejectionKind.UNSUPPORTED_FORMAT,
                                 f"{fmt.upper()} images are not accepted; use {accepted}.")
    size = reader.size()
    if not size.isValid() or size.isEmpty():
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                 "The photo could not be read: its header is damaged.")
    pixels = size.width() * size.height()
    if pixels > limits.max_pixels:
        raise ImageRejectedError(
            ImageRejectionKind.TOO_MANY_PIXELS,
            f"The photo is {pixels / 1e6:.0f} megapixels; the limit is "
            f"{limits.max_pixels / 1e6:.0f}.")
    reader.setScaledSize(size.scaled(QSize(PREVIEW_EDGE, PREVIEW_EDGE),
                                     Qt.AspectRatioMode.KeepAspectRatio))
    preview = reader.read()
    if preview.isNull():
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                 f"The photo could not be decoded ({reader.errorString()}).")
    return ImageInfo(format=fmt, mime=MIME_BY_FORMAT[fmt], extension=EXT_BY_FORMAT[fmt],
                     width=size.width(), height=size.height(), byte_size=byte_size,
                     preview=preview)


class StructureTracker:
    """Fed the file's bytes in order; says whether the file is structurally complete."""

    def __init__(self) -> None:
        self.fmt = ""
        self._offset = 0
        self._last_sos = -1
        self._last_eoi = -1
        self._prev = b""
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self._offset == 0:
            # Sniff from the magic bytes; anything else is judged by QImageReader alone.
            if chunk.startswith(b"\xff\xd8\xff"):
                self.fmt = "jpeg"
            elif chunk.startswith(b"\x89PNG\r\n\x1a\n"):
                self.fmt = "png"
        if self.fmt == "jpeg":
            # Scan with one byte of overlap so a marker split across chunks is found.
            window = self._prev + chunk
            base = self._offset - len(self._prev)
            sos = window.rfind(b"\xff\xda")
            eoi = window.rfind(b"\xff\xd9")
            if sos >= 0:
                self._last_sos = max(self._last_sos, base + sos)
            if eoi >= 0:
                self._last_eoi = max(self._last_eoi, base + eoi)
            self._prev = chunk[-1:]
        elif self.fmt == "png":
            self._tail = (self._tail + chunk)[-len(PNG_TRAILER):]
        self._offset += len(chunk)

    def complete(self) -> bool:
        if self.fmt == "jpeg":
            # Entropy-coded data escapes 0xFF, so these two byte pairs are real markers.
            return self._last_sos >= 0 and self._last_eoi > self._last_sos
        if self.fmt == "png":
            return self._tail == PNG_TRAILER
        return True
