"""Personal values in the database, sealed under the signed-in verifier's vault
(issue 18; docs/security.md, *Store wiring*).

Every store connection carries the vault it was opened with (`Connection.vault`, set by
`store.open_connection`): the functions that read or write a personal column take only
the connection, as before, and seal/open through here.

**The rule for rows of schema 10.** Each table that holds personal values has one sealed
column (`schema.SEALED_COLUMNS_V10`) holding one sealed JSON document of the row's
personal values (`CLEAR_COLUMNS` lists the clear columns it replaces):

- the sealed column is **not NULL** → the row is sealed: its personal values are in that
  column only, and its old clear columns hold nothing (NULL, or the column's empty
  default where it is NOT NULL) — readers never look at them;
- the sealed column is **NULL** → a row written before schema 10, still in clear, waiting
  for the migration of a clear store (helper "m") to seal it and empty its clear columns.
  Until then readers read its clear columns; any write of the row seals all of it.

A value's associated data is its case id (`vault.DEVICE_SCOPE` for a value of no case)
and a stable name of what it is (`field_name`, with the row's own key where it has one:
an answer's key, a photo's client id), so a value copied onto another case, field or
photo does not open, and the reader says which case (`UnreadableDataError`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from kycdesk.core.errors import StoreError, UnreadableDataError
from kycdesk.persistence.db import Connection
from kycdesk.persistence.schema import SEALED_COLUMNS_V10
from kycdesk.security.errors import TamperedDataError
from kycdesk.security.vault import DEVICE_SCOPE, Vault

SEALED_COLUMNS = SEALED_COLUMNS_V10

# table → the clear columns its sealed column replaces, each with what a sealed row leaves
# in it (NULL, or the column's empty default where it is NOT NULL).
CLEAR_COLUMNS: dict[str, dict[str, str | None]] = {
    "case_forms": {"form_json": None},
    "case_edits": {"value_json": ""},                       # NOT NULL
    "case_events": {"detail_json": None},
    "field_history": {"old_json": None, "new_json": None, "by": "", "note": ""},
    "conflicts": {"server_json": None, "server_by": "", "local_json": None,
                  "local_by": ""},
    "pushed_forms": {"definition_json": ""},
    "case_office": {"assigned_by": None, "office_note": "", "prefilled_json": "[]",
                    "handover_note": ""},
    "review_comments": {"text": "", "author": ""},
    "case_decisions": {"note": "", "by": ""},
    "case_images": {"sha256": None, "latitude": None, "longitude": None,
                    "accuracy": None, "address": None},
    "photos_to_fetch": {"sha256": "", "latitude": None, "longitude": None,
                        "accuracy": None, "address": None},
}


def vault_of(conn: Connection) -> Vault:
    vault = conn.vault
    if vault is None:  # a bug: every store connection is opened with a vault
        raise StoreError("The store was opened without the verifier's keys.")
    return vault


def field_name(table: str, key: str | None = None) -> str:
    """What a sealed value is: its table's sealed column, plus the row's own key where it
    has one (an ID number's journal entry cannot be passed off as a name's)."""
    column = f"{table}.{SEALED_COLUMNS[table]}"
    return column if key is None else f"{column}/{key}"


def seal(conn: Connection, value: Any, *, case_id: str | None, field: str) -> bytes:
    """`value` as JSON, sealed for `case_id` (None: a value of no case) and `field`."""
    try:
        return vault_of(conn).seal_json(value, case_id=case_id or DEVICE_SCOPE, field=field)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"A value could not be stored ({exc}).") from exc


def open_value(conn: Connection, sealed: bytes | bytearray, *, case_id: str | None,
               field: str) -> Any:
    """The JSON value a sealed column holds; `UnreadableDataError` naming the case if it
    does not open (never a crash, never a part of it)."""
    try:
        return vault_of(conn).open_json(bytes(sealed), case_id=case_id or DEVICE_SCOPE,
                                        field=field)
    except (TamperedDataError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        whose = f"case {case_id}" if case_id else "this device (not of a case)"
        raise UnreadableDataError(
            f"Some stored data of {whose} cannot be opened with your keys: it was changed "
            "on disk, moved from another case, or saved by another verifier. Nothing was "
            "changed; tell your supervisor.") from exc


def read(conn: Connection, sealed: bytes | bytearray | None, *, case_id: str | None,
         field: str, clear: Callable[[], Any]) -> Any:
    """A row's value: opened from its sealed column, or — a row still in clear (written
    before schema 10, see the module's rule) — `clear()`."""
    if sealed is None:
        return clear()
    return open_value(conn, sealed, case_id=case_id, field=field)


def clear_json(text: str | None, default: Any = None) -> Callable[[], Any]:
    """`read`'s `clear` for a row whose value is one clear JSON column."""
    return lambda: loads(text, default)


def loads(text: str | None, default: Any = None) -> Any:
    """A clear JSON column of a row written before schema 10."""
    return json.loads(text) if text else default


def read_document(conn: Connection, table: str, sealed: bytes | bytearray | None, *,
                  case_id: str | None, key: str | None = None,
                  clear: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A row's personal values as one document (its keys are the writer's): opened, or
    built by `clear()` from the clear columns of a row still in clear."""
    if sealed is None:
        return clear()
    opened = open_value(conn, sealed, case_id=case_id, field=field_name(table, key))
    if not isinstance(opened, dict):
        raise UnreadableDataError(f"Some stored data of case {case_id} is not in the "
                                  "form this version of kycdesk writes.")
    return opened


def seal_document(conn: Connection, table: str, document: Mapping[str, Any], *,
                  case_id: str | None, key: str | None = None) -> bytes:
    return seal(conn, dict(document), case_id=case_id, field=field_name(table, key))


def emptied(table: str) -> tuple[str, tuple[str | None, ...]]:
    """For a sealed row's UPDATE: "col = ?, …" emptying every clear column the sealed
    column replaces, and the values to bind (`CLEAR_COLUMNS`)."""
    columns = CLEAR_COLUMNS[table]
    return (", ".join(f"{name} = ?" for name in columns), tuple(columns.values()))
