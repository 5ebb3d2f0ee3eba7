"""Serving a held photo to a reviewer: its type from the server's own look at the bytes
(never the uploader's word), a strong ETag (its SHA-256, verified at upload) and single
byte ranges (RFC 9110 §14) — the viewer shows the first bytes at once, a download
resumes."""

from __future__ import annotations

import re
from dataclasses import dataclass

SNIFF_BYTES = 32
OCTET_STREAM = "application/octet-stream"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


def sniff(head: bytes) -> str:
    """The image type the first bytes say, or application/octet-stream (served as a
    download, never rendered)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic" if head[8:12] != b"mif1" else "image/heif"
    return OCTET_STREAM


def etag(sha256: str) -> str:
    return f'"{sha256}"'


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int             # exclusive


class UnsatisfiableRangeError(ValueError):
    pass


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for, or None for the whole photo (no header, several ranges
    or a syntax we ignore, as RFC 9110 allows). UnsatisfiableRangeError: 416."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise UnsatisfiableRangeError(header)
        return ByteRange(max(0, size - length), size)
    start = int(first)
    if start >= size:
        raise UnsatisfiableRangeError(header)
    end = min(size, int(last) + 1) if last else size
    if end <= start:
        return None  # last < first: invalid, ignored
    return ByteRange(start, end)
