"""Serving a held photo to a reviewer: its type from the server's own look at the bytes
(never the uploader's word), a strong ETag (its SHA-256, verified at upload) and single
byte ranges (RFC 9110 §14) — the viewer shows the first bytes at once, a download
resumes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

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


def ranged_response(request: Request, *, tag: str, size: int, media_type: str,
                    headers: dict[str, str],
                    body: Callable[[int, int], Iterator[bytes]]) -> Response:
    """A held photo's bytes as one answer for every route that serves them (the device's
    download, the reviewer's viewer): the whole photo, or the one range asked for (206),
    or 416; `If-Range` with another tag gets the whole photo. `headers` already hold the
    route's own (ETag, Accept-Ranges, Repr-Digest, Content-Disposition…)."""
    if_range = request.headers.get("if-range")
    try:
        wanted = parse_range(request.headers.get("range"), size) \
            if if_range in (None, tag) else None
    except UnsatisfiableRangeError:
        return Response(status_code=416, headers={**headers,
                                                  "Content-Range": f"bytes */{size}"})
    start, end = (wanted.start, wanted.end) if wanted else (0, size)
    if wanted is not None:
        headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{size}"}
    return StreamingResponse(body(start, end), status_code=206 if wanted else 200,
                             media_type=media_type,
                             headers={**headers, "Content-Length": str(end - start)})
