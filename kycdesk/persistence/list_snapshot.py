"""The case list's index on disk: one encrypted file (`DataPaths.list_snapshot`).

    plaintext = MAGIC ‖ the in-memory database (`sqlite3` serialize)
    file      = vault.encrypting_writer(plaintext), context ("@device", "list-index")

Written in the background after changes (list_index.ListIndex.write_snapshot): temp name
(one per process), fsync, rename over the old one, fsync the folder — a crash leaves the
old snapshot or the new one, never half of one. Which changes it holds is recorded inside
(`meta.applied`, the store's list sequence), so the rows changed after it are re-read at
sign-in. A snapshot that is missing, cut short, changed or under a key this verifier
does not hold reads as None: the index is rebuilt from the sealed columns.
"""

from __future__ import annotations

import logging
import os
import time
import uuid

from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence.files import fsync_dir, unlink_quietly
from kycdesk.security.errors import SecurityError
from kycdesk.security.vault import DEVICE_SCOPE, Vault, file_context

log = logging.getLogger(__name__)

MAGIC = b"KYCLIST1"
CONTEXT = file_context(DEVICE_SCOPE, "list-index")
LEFTOVER_AGE_S = 600


def write(paths: DataPaths, vault: Vault, database: bytes) -> None:
    """Replace the snapshot, durably (raises OSError: the old one stays)."""
    ensure_private_dir(paths.root)
    temp = paths.list_snapshot_temp(f"{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            writer = vault.encrypting_writer(out, CONTEXT)
            writer.write(MAGIC)
            writer.write(database)
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        temp.replace(paths.list_snapshot)
    except BaseException:
        unlink_quietly(temp)
        raise
    fsync_dir(paths.root)


def read(paths: DataPaths, vault: Vault) -> bytes | None:
    """The serialized database of the snapshot, or None (missing or unusable: the
    caller rebuilds)."""
    try:
        with paths.list_snapshot.open("rb") as src:
            plain = vault.read_file_bytes(src, CONTEXT)
    except FileNotFoundError:
        return None
    except (OSError, SecurityError) as exc:
        log.warning("the case list's snapshot cannot be read (%s): rebuilding it",
                    type(exc).__name__)
        return None
    if not plain.startswith(MAGIC):
        log.warning("the case list's snapshot is not one: rebuilding it")
        return None
    return plain[len(MAGIC):]


def remove_leftovers(paths: DataPaths) -> None:
    """Temp files of writes a crash interrupted (encrypted, but useless). One being
    written by another process right now is young: left alone."""
    now = time.time()
    for stale in paths.root.glob(paths.list_snapshot.name + ".*.tmp"):
        try:
            if now - stale.stat().st_mtime > LEFTOVER_AGE_S:
                unlink_quietly(stale)
        except OSError:
            continue
