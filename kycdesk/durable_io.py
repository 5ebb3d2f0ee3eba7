"""The two durable-rename primitives every writer shares: the folder fsync that makes a
rename survive a power cut, and the replace that retries while Windows holds the target
for a moment (a reader, the antivirus, the search indexer).

Standard library only: the launcher (kycdesk/update/pointer.py) and the persistence layer
(kycdesk/persistence/files.py) both use it, and the launcher must never depend on more."""

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


def replace_with_retry(src: Path, dst: Path) -> None:
    """`src.replace(dst)`, retried briefly on PermissionError (Windows: a reader or the
    antivirus holding `dst` for a moment)."""
    delay = RENAME_FIRST_DELAY_S
    for attempt in range(1, RENAME_ATTEMPTS + 1):
        try:
            src.replace(dst)
            return
        except PermissionError:
            if attempt == RENAME_ATTEMPTS:
                raise
            log.info("replace %s busy (attempt %d), retrying", dst, attempt)
            time.sleep(delay)
            delay *= 2
