"""File hashing, shared by the app (recovery, archives) and the server (ingest)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def file_sha256(path: Path, chunk: int = 1024 * 1024) -> str:
    """The SHA-256 of a file, read in pieces (photos are megabytes)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while piece := fh.read(chunk):
            digest.update(piece)
    return digest.hexdigest()


# -- two-way (issue 17): the held-cases digest and a pushed form's hash ------------------
def toggle_held(digest_hex: str, case_id: str) -> str:
    """The held-cases digest with one case added or removed (XOR is its own inverse):
    the XOR of SHA-256(case id as UTF-8) over the held set, as 64 hex
    (protocol.EMPTY_HELD_DIGEST for none)."""
    one = int.from_bytes(hashlib.sha256(case_id.encode("utf-8")).digest(), "big")
    return f"{int(digest_hex, 16) ^ one:064x}"


def held_digest(case_ids: Iterable[str]) -> str:
    """The digest of a whole held set (a resync, a migration)."""
    value = 0
    for case_id in case_ids:
        value ^= int.from_bytes(hashlib.sha256(case_id.encode("utf-8")).digest(), "big")
    return f"{value:064x}"


def form_definition_sha256(definition: Mapping[str, Any]) -> str:
    """`definition_sha256` of a pushed form: SHA-256 of its canonical JSON (keys sorted,
    no spaces, UTF-8 as is), so both sides get the same hash whatever the file's layout.
    Here, not in core/protocol.py, because the device's store checks it at start-up paths
    that must not load pydantic before the window shows."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
