"""What "sealing a legacy case" means, file by file and column by column: the clear
state a store written before issue 18 is in once the schema migrations have run on it,
and how each value moves to its sealed form. `migration.py` drives it, a batch of cases
at a time, and relies on every function here being idempotent (a killed run redoes the
batch).

Files (`persistence.encrypted_files`: the same names, encrypted content):
- a photo (`img_<n>.*`, `pulled_<id>.*`, a delete's tombstone `.del_*`) is encrypted in
  place: ciphertext to `.<name>.migrating` (temp, fsync, rename), then the clear file is
  overwritten with zeros and fsynced, then the staged file is renamed over it. A kill
  between the two leaves zeros plus a complete staged copy, which the next run renames;
  a file that already starts with the stream magic is done.
- thumbnails are a cache: shredded, drawn again (encrypted) when next shown;
- an unfinished import's temp file (`.*.tmp`) is shredded;
- `lost+found/<case>/*` (photos without a row, kept for a person to review) are
  encrypted in place like photos, under their case's photo context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from kycdesk.paths import DataPaths
from kycdesk.persistence import list_values
from kycdesk.persistence.db import Connection
from kycdesk.persistence.encrypted_files import photo_context, write_encrypted
from kycdesk.persistence.files import fsync_dir
from kycdesk.persistence.thumbnails import THUMBS_DIRNAME
from kycdesk.security.streams import MAGIC
from kycdesk.security.vault import Vault
from kycdesk.verifiers.shred import overwrite_with_zeros, shred_file, shred_tree

log = logging.getLogger(__name__)

MIGRATING_SUFFIX = ".migrating"
RETIRED_PREFIX = ".gone_"   # persistence.lifecycle: a case folder being discarded/purged
READ_BLOCK = 1 << 20


# --- files ---------------------------------------------------------------------------

def is_encrypted(path: Path) -> bool:
    """Our encrypted files start with the stream magic; a clear JPEG/PNG never does,
    and encrypted files only ever appear whole (temp name, rename)."""
    try:
        with path.open("rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except FileNotFoundError:
        return False


def _clear_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(READ_BLOCK), b"")


def _staged(path: Path) -> Path:
    return path.with_name(f".{path.name}{MIGRATING_SUFFIX}")


def encrypt_in_place(vault: Vault, path: Path, context: bytes) -> bool:
    """`path` ends up encrypted under `context`, its clear bytes overwritten; True if it
    was encrypted now (False: it already was)."""
    staged = _staged(path)
    if not staged.exists():
        if not path.exists() or is_encrypted(path):
            return False
        write_encrypted(vault, staged, context, _clear_chunks(path))
    if path.exists():
        overwrite_with_zeros(path)
    staged.replace(path)
    fsync_dir(path.parent)
    return True


def _folder_files(folder: Path, context: bytes, vault: Vault) -> int:
    """Encrypt or shred every file of one case folder (see the module doc)."""
    if not folder.is_dir():
        return 0
    shred_tree(folder / THUMBS_DIRNAME)
    encrypted = 0
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    # Staged copies first: their clear original may already be zeros.
    for entry in entries:
        name = entry.name
        if name.startswith(".") and name.endswith(MIGRATING_SUFFIX):
            original = folder / name[1:-len(MIGRATING_SUFFIX)]
            encrypted += encrypt_in_place(vault, original, context)
    for entry in entries:
        name = entry.name
        if name.endswith(MIGRATING_SUFFIX) or not entry.exists():
            continue
        if entry.is_dir():
            encrypted += _folder_files(entry, context, vault)
        elif name.startswith(".") and name.endswith(".tmp"):
            shred_file(entry)  # an import (or an encryption) that never finished
        else:
            encrypted += encrypt_in_place(vault, entry, context)
    return encrypted


def encrypt_case_files(paths: DataPaths, vault: Vault, case_id: str) -> int:
    """Every clear file of one case folder encrypted in place (photos) or shredded
    (thumbnails, unfinished imports); returns how many were encrypted now."""
    return _folder_files(paths.case_dir(case_id), photo_context(case_id), vault)


def encrypt_leftover_files(paths: DataPaths, vault: Vault) -> int:
    """After every case: folders no case row names (a retired `.gone_<case>` folder, a
    case whose row is gone) and `lost+found/<case>/`. One listing of `cases/`: a case
    folder already done costs a read of each file's first bytes."""
    encrypted = 0
    for top in (paths.cases_dir, paths.lost_and_found):
        if not top.is_dir():
            continue
        for folder in sorted(top.iterdir()):
            if folder.is_dir():
                case_id = folder.name.removeprefix(RETIRED_PREFIX)
                encrypted += _folder_files(folder, photo_context(case_id), vault)
            elif folder.name.endswith(".tmp"):
                shred_file(folder)
            else:
                log.warning("legacy migration: unexpected file %s left as it is", folder)
    return encrypted


# --- rows ----------------------------------------------------------------------------

def _seal_list_values(conn: Connection, case_id: str) -> None:
    """Schema 11 (`persistence.list_values`): the case row's reference, applicant name
    and ID numbers into their sealed columns, the clear ones NULLed. A row already
    sealed (sealed column set) is left alone."""
    for field, sealed_column in list_values.SEALED_COLUMN.items():
        row = conn.query_one(f"SELECT {field} FROM cases WHERE id = ? "
                             f"AND {sealed_column} IS NULL AND {field} IS NOT NULL",
                             (case_id,))
        if row is None:
            continue
        conn.execute(f"UPDATE cases SET {sealed_column} = ?, {field} = NULL "
                     "WHERE id = ?",
                     (list_values.seal(conn, case_id, field, str(row[0])), case_id))


def seal_case_rows(conn: Connection, vault: Vault, case_id: str) -> None:
    """Inside the caller's transaction: seal every clear value of the case's rows."""
    _seal_list_values(conn, case_id)


def seal_device_rows(conn: Connection, vault: Vault) -> None:
    """Inside the caller's transaction: values that belong to no case."""

