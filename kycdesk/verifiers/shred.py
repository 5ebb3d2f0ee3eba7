"""Removing clear copies as well as an application can: overwrite, fsync, unlink.

A file that held applicant data in clear is overwritten with zeros over its whole length
(same size: the file system keeps the same blocks where it can), flushed to the disk,
then unlinked, and its folder fsynced so the removal is durable. What this cannot
guarantee (flash wear levelling, copy-on-write and journaling file systems, snapshots,
backups, the recycle bin) is in docs/security.md, *Migration of an unencrypted store*;
it is why BitLocker is required on tablets that ever held clear data.

Every function here is idempotent: a file already gone is done, so a migration killed
in the middle of a shred simply shreds again at the next start.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from kycdesk.persistence.files import fsync_dir

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def overwrite_with_zeros(path: Path) -> int:
    """Write zeros over the whole file, in place, and fsync; return its size."""
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        zeros = bytes(min(CHUNK, size))
        written = 0
        while written < size:
            written += os.write(fd, zeros[: min(CHUNK, size - written)])
        os.fsync(fd)
    finally:
        os.close(fd)
    return size


def shred_file(path: Path, *, sync_folder: bool = True) -> bool:
    """Overwrite `path` with zeros, fsync, unlink (and fsync its folder). False if it
    was already gone. Symlinks are unlinked, never followed."""
    try:
        if path.is_symlink():
            path.unlink()
        else:
            overwrite_with_zeros(path)
            path.unlink()
    except FileNotFoundError:
        return False
    if sync_folder:
        fsync_dir(path.parent)
    return True


def shred_tree(folder: Path) -> int:
    """Shred every file below `folder`, then remove the folders; return files shredded."""
    if not folder.exists():
        return 0
    if folder.is_symlink() or not folder.is_dir():
        return int(shred_file(folder))
    count = 0
    for directory, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            count += shred_file(Path(directory) / name, sync_folder=False)
        fsync_dir(Path(directory))
    shutil.rmtree(folder, ignore_errors=True)
    if folder.parent.exists():
        fsync_dir(folder.parent)
    return count


def sqlite_files(database: Path) -> list[Path]:
    """A database and the files SQLite keeps beside it (WAL, shared memory, journal)."""
    return [database, *(database.with_name(database.name + suffix)
                        for suffix in ("-wal", "-shm", "-journal"))]


def shred_database(database: Path) -> int:
    """Shred a (closed) SQLite database with its WAL/SHM/journal; return files shredded.
    Its WAL may hold committed pages not yet in the file: call this only once nothing
    in it is needed any more."""
    count = 0
    for path in sqlite_files(database):
        count += shred_file(path, sync_folder=False)
    fsync_dir(database.parent)
    return count
