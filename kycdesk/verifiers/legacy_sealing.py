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

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kycdesk.paths import DataPaths
from kycdesk.persistence import list_values
from kycdesk.persistence.db import Connection
from kycdesk.persistence.encrypted_files import photo_context, write_encrypted
from kycdesk.persistence.files import fsync_dir
from kycdesk.persistence.thumbnails import THUMBS_DIRNAME
from kycdesk.security.streams import MAGIC
from kycdesk.security.vault import DEVICE_SCOPE, Vault
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


def encrypt_leftover_files(paths: DataPaths, vault: Vault, *, done: set[str]) -> int:
    """After every case: folders of `cases/` no case row names (`done`: a retired
    `.gone_<case>` folder, a case whose row is gone) and `lost+found/<case>/`. One
    listing of `cases/`; the case folders already done are not opened again."""
    encrypted = 0
    for top in (paths.cases_dir, paths.lost_and_found):
        if not top.is_dir():
            continue
        for folder in sorted(top.iterdir()):
            if top == paths.cases_dir and folder.name in done:
                continue
            if folder.is_dir():
                case_id = folder.name.removeprefix(RETIRED_PREFIX)
                encrypted += _folder_files(folder, photo_context(case_id), vault)
            elif folder.name.endswith(".tmp"):
                shred_file(folder)
            else:
                log.warning("legacy migration: unexpected file %s left as it is", folder)
    return encrypted


# --- rows ----------------------------------------------------------------------------
# Schema 10 (helper s1's `persistence/sealed.py`): each table's personal values are ONE
# sealed JSON value (the whole form, one keystroke's value, an event's detail, or a
# document of the row's values) in the table's sealed column, under the field name
# "<table>.<sealed column>[/<the row's key>]", AAD case id (`DEVICE_SCOPE` for a row of
# no case); a row whose sealed column is NULL is still clear, and a sealed row's clear
# columns hold NULL or their empty default. Each entry below builds, from a clear row,
# exactly the value the store's writer seals for that table (the shape its readers'
# `clear=` fallback builds), the key of its field name, and what its clear columns are
# left holding. tests/test_legacy_migration.py holds these equal to `persistence.sealed`.
# A table without its sealed column (a schema before 10) is left for a later version.

Row = tuple[Any, ...]


@dataclass(frozen=True)
class LegacyTable:
    table: str
    sealed_column: str
    columns: str                                   # the clear columns `value` reads
    value: Callable[[Row], Any]
    emptied: dict[str, str | None]                 # clear column -> what a sealed row holds
    key: Callable[[Row], str | None] = lambda _row: None
    has_case: bool = True                          # pushed_forms belong to no case

    def field(self, row: Row) -> str:
        name = f"{self.table}.{self.sealed_column}"
        key = self.key(row)
        return name if key is None else f"{name}/{key}"


def _loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


PHOTO_FACTS = ("sha256", "latitude", "longitude", "accuracy", "address")
_PHOTO_EMPTIED: dict[str, str | None] = {"latitude": None, "longitude": None,
                                         "accuracy": None, "address": None}

LEGACY_TABLES: tuple[LegacyTable, ...] = (
    LegacyTable("case_forms", "answers_sealed", "form_json", lambda r: _loads(r[0], {}),
                {"form_json": None}),
    LegacyTable("case_edits", "value_sealed", "field_key, value_json",
                lambda r: _loads(r[1]), {"value_json": ""}, key=lambda r: str(r[0])),
    LegacyTable("case_events", "detail_sealed", "detail_json",
                lambda r: _loads(r[0], {}) or {}, {"detail_json": None}),
    LegacyTable("field_history", "change_sealed", "field_key, old_json, new_json, by, note",
                lambda r: {"old": _loads(r[1]), "new": _loads(r[2]), "by": r[3],
                           "note": r[4]},
                {"old_json": None, "new_json": None, "by": "", "note": ""},
                key=lambda r: str(r[0])),
    LegacyTable("conflicts", "values_sealed",
                "kind, server_json, server_by, local_json, local_by",
                lambda r: {"server": _loads(r[1]), "server_by": r[2] or "",
                           "local": _loads(r[3]), "local_by": r[4] or ""},
                {"server_json": None, "server_by": "", "local_json": None, "local_by": ""},
                key=lambda r: str(r[0])),
    LegacyTable("case_office", "office_sealed",
                "assigned_by, office_note, prefilled_json, handover_note",
                lambda r: {"assigned_by": r[0], "office_note": r[1] or "",
                           "prefilled": _loads(r[2], []), "handover_note": r[3] or ""},
                {"assigned_by": None, "office_note": "", "prefilled_json": "[]",
                 "handover_note": ""}),
    LegacyTable("review_comments", "comment_sealed", "text, author",
                lambda r: {"text": r[0], "author": r[1]}, {"text": "", "author": ""}),
    LegacyTable("case_decisions", "decision_sealed", "note, by",
                lambda r: {"note": r[0] or "", "by": r[1] or ""}, {"note": "", "by": ""}),
    LegacyTable("case_images", "photo_sealed", "client_image_id, " + ", ".join(PHOTO_FACTS),
                lambda r: dict(zip(PHOTO_FACTS, r[1:], strict=True)),
                {"sha256": None, **_PHOTO_EMPTIED}, key=lambda r: str(r[0] or "")),
    LegacyTable("photos_to_fetch", "photo_sealed",
                "client_image_id, " + ", ".join(PHOTO_FACTS),
                lambda r: dict(zip(PHOTO_FACTS, r[1:], strict=True)),
                {"sha256": "", **_PHOTO_EMPTIED}, key=lambda r: str(r[0] or "")),
    LegacyTable("pushed_forms", "definition_sealed", "form_id, version, definition_json",
                lambda r: _loads(r[2]), {"definition_json": ""},
                key=lambda r: f"{r[0]}/{r[1]}", has_case=False),
)


def _has_column(conn: Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in conn.query_all(f"PRAGMA table_info({table})"))


def sealable_tables(conn: Connection) -> tuple[LegacyTable, ...]:
    """The entries whose sealed column this store's schema has (asked once a run)."""
    return tuple(t for t in LEGACY_TABLES if _has_column(conn, t.table, t.sealed_column))


def _seal_table(conn: Connection, spec: LegacyTable, vault: Vault,
                case_id: str | None) -> int:
    params: tuple[str, ...] = ()
    if not spec.has_case:
        where = ""
    elif case_id is None:
        where = "AND case_id IS NULL"
    else:
        where, params = "AND case_id = ?", (case_id,)
    rows = conn.query_all(f"SELECT rowid, {spec.columns} FROM {spec.table} "
                          f"WHERE {spec.sealed_column} IS NULL {where}", params)
    assignments = ", ".join(f"{column} = ?" for column in spec.emptied)
    for rowid, *values in rows:
        row = tuple(values)
        value = vault.seal_json(spec.value(row), case_id=case_id or DEVICE_SCOPE,
                                field=spec.field(row))
        conn.execute(f"UPDATE {spec.table} SET {spec.sealed_column} = ?, {assignments} "
                     "WHERE rowid = ?", (value, *spec.emptied.values(), rowid))
    return len(rows)


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
        conn.execute(f"UPDATE cases SET {sealed_column} = ?, {field} = NULL WHERE id = ?",
                     (list_values.seal(conn, case_id, field, str(row[0])), case_id))


def seal_case_rows(conn: Connection, vault: Vault, case_id: str,
                   tables: tuple[LegacyTable, ...]) -> None:
    """Inside the caller's transaction: seal every clear value of the case's rows (a row
    already sealed is left alone: idempotent). `tables`: `sealable_tables(conn)`."""
    _seal_list_values(conn, case_id)
    for spec in tables:
        if spec.has_case:
            _seal_table(conn, spec, vault, case_id)


def seal_device_rows(conn: Connection, vault: Vault,
                     tables: tuple[LegacyTable, ...]) -> None:
    """Inside the caller's transaction: values that belong to no case (events of the
    device, forms the office pushed)."""
    for spec in tables:
        _seal_table(conn, spec, vault, None)
