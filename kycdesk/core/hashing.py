"""File hashing, shared by the app (recovery, archives) and the server (ingest)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path, chunk: int = 1024 * 1024) -> str:
    """The SHA-256 of a file, read in pieces (photos are megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while piece := fh.read(chunk):
            digest.update(piece)
    return digest.hexdigest()
