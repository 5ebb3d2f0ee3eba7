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
from kycdesk.persistence.image_memory import BytesImageReader
from kycdesk.persistence.orientation import pending_turn, quarter_turned, turned

MIME_BY_FORMAT = {"jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic",
                  "heif": "image/heif"}
EXT_BY_FORMAT = {"jpeg": "jpg", "png": "png", "heic": "heic", "heif": "heif"}
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
    return check_byte_size(byte_size, limits)


def check_byte_size(byte_size: int, limits: ImageLimits) -> int:
    """The size rules of `check_file_size`, for a photo already in memory."""
    if byte_size == 0:
        raise ImageRejectedError(ImageRejectionKind.EMPTY, "The file is empty.")
    if byte_size > limits.max_bytes:
        raise ImageRejectedError(
            ImageRejectionKind.TOO_LARGE,
            f"The photo is {byte_size / 2**20:.1f} MB; the limit is "
            f"{limits.max_bytes / 2**20:.0f} MB.")
    return byte_size


def probe(data: bytes, limits: ImageLimits) -> ImageInfo:
    """Check size, format, dimensions and decodability of a photo's bytes (in memory:
    the store's copy is encrypted on disk); raise ImageRejectedError."""
    byte_size = check_byte_size(len(data), limits)
    reader = BytesImageReader(data)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)  # EXIF orientation: the preview comes out upright
    fmt = bytes(reader.format().data()).decode().lower()
    container = _iso_container(data[:64]) if not fmt else None
    if container is not None:
        raise ImageRejectedError(ImageRejectionKind.UNSUPPORTED_FORMAT,
                                 AVIF_MESSAGE if container == "avif" else HEIF_MESSAGE)
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
    turn = pending_turn(reader, data)
    preview = turned(reader.read(), turn)
    if preview.isNull():
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                 f"The photo could not be decoded ({reader.errorString()}).")
    width, height = size.width(), size.height()
    if quarter_turned(reader, turn):
        width, height = height, width  # recorded as shown: a portrait photo is portrait
    return ImageInfo(format=fmt, mime=MIME_BY_FORMAT[fmt], extension=EXT_BY_FORMAT[fmt],
                     width=width, height=height, byte_size=byte_size, preview=preview)


HEIF_MESSAGE = ("This is a HEIC photo (what iPhones and many Android phones save by "
                "default); kycdesk keeps JPEG or PNG. On the phone, share or export the "
                "photo as JPEG (iPhone: Settings > Camera > Formats > Most Compatible "
                "makes new photos JPEG), then add it again.")
AVIF_MESSAGE = ("This is an AVIF image (a newer format some phones and browsers save); "
                "kycdesk keeps JPEG or PNG. Save or export the image as JPEG, then add it "
                "again.")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")


def _iso_container(head: bytes) -> str | None:
    """"avif" or "heic" for an ISO-BMFF still image (`head`: its first 64 bytes), by its
    brands; None otherwise. Both list the generic "mif1" brand, so AVIF's own brand is
    looked for first."""
    if head[4:8] != b"ftyp":
        return None
    box = int.from_bytes(head[:4], "big")
    brands = [head[i:i + 4] for i in range(8, min(box, len(head)) - 3, 4) if i != 12]
    if any(brand in _AVIF_BRANDS for brand in brands):
        return "avif"
    if any(brand in _HEIF_BRANDS for brand in brands):
        return "heic"
    return None


class StructureTracker:
    """Fed a file's bytes in order (while it is copied); says whether the primary image is
    structurally complete.

    JPEG: the marker structure is walked — segments skipped by their length (an embedded
    EXIF thumbnail's end marker is inside its APP1 and does not count), entropy-coded scans
    searched for the next real marker — up to the primary image's end-of-image marker.
    PNG: chunks are walked up to IEND. Whatever follows the image (a motion photo's video,
    a vendor trailer, padding, a trailing newline) is allowed: the image itself is whole.
    A file cut anywhere inside its image is incomplete.
    """

    def __init__(self) -> None:
        self.fmt = ""
        self._started = False
        self._done = False
        self._broken = False
        self._pending = b""   # bytes of a header not yet whole (split across chunks)
        self._skip = 0        # bytes still to skip (a segment's or chunk's body)
        self._in_scan = False  # inside JPEG entropy-coded data
        self._last_chunk = b""  # PNG: the type of the chunk being skipped
        self._tail = b""  # the file's last bytes: an end marker there means "not cut off"

    def feed(self, chunk: bytes) -> None:
        self._tail = (self._tail + chunk[-16:])[-16:]
        if not self._started:
            self._started = True
            if chunk.startswith(b"\xff\xd8"):
                self.fmt = "jpeg"
                chunk = chunk[2:]
            elif chunk.startswith(b"\x89PNG\r\n\x1a\n"):
                self.fmt = "png"
                chunk = chunk[8:]
            else:
                return  # anything else is judged by QImageReader alone
        if self._stopped() or not self.fmt:
            return
        data = self._pending + chunk
        self._pending = b""
        pos = self._jpeg(data) if self.fmt == "jpeg" else self._png(data)
        if not self._stopped():
            self._pending = data[pos:]

    def _stopped(self) -> bool:
        return self._done or self._broken

    def _skipped(self, pos: int, size: int) -> int:
        """Pass over what is left of the current segment's body within this buffer."""
        step = min(self._skip, size - pos)
        self._skip -= step
        return pos + step

    def _jpeg(self, data: bytes) -> int:
        pos = 0
        size = len(data)
        while pos < size:
            if self._skip:
                pos = self._skipped(pos, size)
                continue
            if self._in_scan:
                found = data.find(b"\xff", pos)
                if found < 0 or found + 1 >= size:
                    return size if found < 0 else found  # keep a trailing 0xFF
                code = data[found + 1]
                if code == 0x00 or 0xD0 <= code <= 0xD7 or code == 0xFF:
                    pos = found + 1 if code == 0xFF else found + 2  # stuffing, restarts
                    continue
                self._in_scan = False
                pos = found
                continue
            # A marker: 0xFF (fill bytes allowed), a code, and for most a 2-byte length.
            while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
                pos += 1
            if pos + 2 > size:
                return pos
            if data[pos] != 0xFF:
                # Extraneous bytes before a marker (a segment whose length is off by a few
                # bytes, as some editors write): skip to the next 0xFF, as libjpeg does.
                found = data.find(b"\xff", pos)
                if found < 0:
                    return size
                pos = found
                continue
            code = data[pos + 1]
            if code == 0xD9:
                self._done = True
                return size
            if 0xD0 <= code <= 0xD7 or code == 0x01:
                pos += 2
                continue
            if pos + 4 > size:
                return pos
            length = (data[pos + 2] << 8) | data[pos + 3]
            if length < 2:
                self._broken = True
                return size
            self._skip = length - 2
            pos += 4
            if code == 0xDA:  # start of scan: entropy-coded data follows its header
                self._in_scan = True
        return pos

    def _png(self, data: bytes) -> int:
        pos = 0
        size = len(data)
        while pos < size:
            if self._skip:
                pos = self._skipped(pos, size)
                if self._skip == 0 and self._last_chunk == b"IEND":
                    self._done = True
                    return size
                continue
            if pos + 8 > size:
                return pos
            length = int.from_bytes(data[pos:pos + 4], "big")
            self._last_chunk = data[pos + 4:pos + 8]
            self._skip = length + 4  # data and CRC
            pos += 8
        return pos

    def complete(self) -> bool:
        if not self.fmt:
            return True
        return self._done and not self._broken

    def damaged(self) -> bool:
        """Incomplete, but not for want of an ending: the structure is broken (a segment
        length that cannot be) or the walk lost its way although the file ends the way a
        whole image ends (JPEG's end marker, PNG's IEND) — corrupt, not cut off."""
        if self.complete():
            return False
        ending = b"\xff\xd9" if self.fmt == "jpeg" else b"IEND"
        return self._broken or ending in self._tail
