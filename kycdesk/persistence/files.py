"""Durable file primitives: fsync of files and folders, rename with retry (file hashes:
`kycdesk.core.hashing`)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

RENAME_ATTEMPTS = 6
RENAME_FIRST_DELAY_S = 0.05


def fsync_dir(path: Path) -> None:
    """Make a rename/unlink in `path` durable. Windows has no directory fsync (NTFS
    journals metadata itself), so it is skipped there."""
    if sys.platform == "win32":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
