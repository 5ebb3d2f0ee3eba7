"""Durable file primitives: fsync of files and folders, rename with retry (file hashes:
`kycdesk.core.hashing`)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

# One copy of these, shared with the launcher's pointer (kycdesk/durable_io.py).
from kycdesk.durable_io import RENAME_ATTEMPTS, RENAME_FIRST_DELAY_S, fsync_dir
from kycdesk.durable_io import replace_with_retry as _replace_with_retry

log = logging.getLogger(__name__)

__all__ = ["RENAME_ATTEMPTS", "RENAME_FIRST_DELAY_S", "fsync_dir", "rename_no_clobber",
           "replace_durably", "unlink_quietly"]


def rename_no_clobber(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, which must not exist, retrying briefly on PermissionError:
    on Windows antivirus or the search indexer may hold a new file for a moment."""
    if dst.exists():
        raise FileExistsError(f"refusing to overwrite {dst}")
    delay = RENAME_FIRST_DELAY_S
    for attempt in range(1, RENAME_ATTEMPTS + 1):
        try:
            os.rename(src, dst)
            return
        except PermissionError:
            if attempt == RENAME_ATTEMPTS:
                raise
            log.info("rename %s -> %s busy (attempt %d), retrying", src, dst, attempt)
            time.sleep(delay)
            delay *= 2


def unlink_quietly(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def replace_durably(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: a reader (or a crash) sees the old bytes
    or the new, never half. Temp name beside it, fsync, rename over, fsync the folder.
    The temp name carries the pid so two processes never write the same temp file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0),
                 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace_with_retry(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise
    fsync_dir(path.parent)
