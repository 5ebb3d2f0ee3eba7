"""The field-level audit: every change of an answer on this device — old value, new
value, when, by whom, why (typed, returned, prefilled, merged, office, document).

Typing stays one small statement per keystroke (`forms.append_edit`, the write-ahead):
the audit rows are written by the debounced save, which already rewrites the form in
one transaction, from the difference between the stored form and the saved one. So a
verifier's "Smith" is one entry (old → new per save), not five, and the keystroke's cost
to durability does not change. Office acts (prefill, office edits, merged conflicts)
write their entries in the transaction that applies them.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from typing import Any

from kycdesk.core.clock import now_text
from kycdesk.persistence import sealed
from kycdesk.persistence.db import Connection

WHY = ("typed", "returned", "prefilled", "merged", "office", "document")
# A submission carries at most this many entries, and about this many bytes of them
# (protocol.MAX_SUBMISSION_BYTES is 2 MB for the whole case): the newest are kept.
MAX_SENT_ENTRIES = 5000
MAX_SENT_BYTES = 600_000


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def actor(conn: Connection) -> str:
    """Who acts on this device: the verifier's name from settings if the app set one
    (`SetActor`), else the device's name as enrolment names it (no per-verifier sign-in
    on the device yet)."""
    stored = str(conn.scalar("SELECT actor FROM pull_position WHERE id = 1") or "")
    return stored or platform.node()[:100] or "this device"


def set_actor(conn: Connection, name: str) -> None:
    conn.execute("UPDATE pull_position SET actor = ? WHERE id = 1", (name.strip()[:200],))


def record(conn: Connection, case_id: str, field_key: str, old: Any, new: Any, *,
           why: str, by: str | None = None, at: str | None = None, note: str = "") -> None:
    """One entry; call inside the transaction of the change it describes."""
    if why not in WHY:
        raise ValueError(f"unknown reason for a field change: {why!r}")
    _dump(old), _dump(new)  # refused as the store always refused them, before sealing
    change = {"old": old, "new": new, "by": actor(conn) if by is None else by,
              "note": note}
    conn.execute(
        "INSERT INTO field_history(case_id, field_key, change_sealed, at, why) "
        "VALUES (?,?,?,?,?)",
        (case_id, field_key,
         sealed.seal_document(conn, "field_history", change, case_id=case_id, key=field_key),
         at or now_text(), why))


_ENTRY_COLUMNS = "field_key, change_sealed, old_json, new_json, by, note, at, why"


def _entry(conn: Connection, case_id: str, row: tuple[Any, ...]) -> dict[str, Any]:
    """An entry as the history panel and the submission carry it (`_ENTRY_COLUMNS`)."""
    key, change_sealed, old_json, new_json, by, note, at, why = row
    change = sealed.read_document(
        conn, "field_history", change_sealed, case_id=case_id, key=key,
        clear=lambda: {"old": sealed.loads(old_json), "new": sealed.loads(new_json),
                       "by": by, "note": note})
    return {"field_key": key, "old": change.get("old"), "new": change.get("new"),
            "at": at, "by": change.get("by") or "", "why": why,
            "note": change.get("note") or ""}


def newest_change(conn: Connection, case_id: str, field_key: str) -> dict[str, Any] | None:
    """The newest entry of one answer, if any."""
    row = conn.query_one(f"SELECT {_ENTRY_COLUMNS} FROM field_history WHERE case_id = ? "
                         "AND field_key = ? ORDER BY id DESC LIMIT 1", (case_id, field_key))
    return None if row is None else _entry(conn, case_id, row)


def record_differences(conn: Connection, case_id: str, old_form: Mapping[str, Any],
                       new_form: Mapping[str, Any], *, why: str = "typed",
                       by: str | None = None) -> int:
    """An entry per answer that differs between two forms (a key that is gone is a
    change to None); returns how many."""
    who = actor(conn) if by is None else by
    at = now_text()
    changed = 0
    for key in sorted(set(old_form) | set(new_form)):
        old, new = old_form.get(key), new_form.get(key)
        if old != new:
            record(conn, case_id, key, old, new, why=why, by=who, at=at)
            changed += 1
    return changed


def last_change(conn: Connection, case_id: str, field_key: str) -> tuple[str, str] | None:
    """(by, at) of the newest entry of one answer, if any."""
    newest = newest_change(conn, case_id, field_key)
    return None if newest is None else (str(newest["by"]), str(newest["at"]))


def typed_anything(conn: Connection, case_id: str) -> bool:
    """Whether the verifier changed anything here (an answer, a write-ahead edit, a
    photo of their own): what an office act must never throw away."""
    return bool(conn.scalar(
        "SELECT EXISTS (SELECT 1 FROM field_history WHERE case_id = ? AND why IN "
        "('typed', 'merged', 'document')) OR EXISTS (SELECT 1 FROM case_edits WHERE "
        "case_id = ?) OR EXISTS (SELECT 1 FROM case_images WHERE case_id = ? AND "
        "coalesce(source, '') <> 'pulled')", (case_id, case_id, case_id)))


def history_to_send(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    """Submission.history: the newest entries within the bounds, oldest first."""
    rows = conn.query_all(
        f"SELECT {_ENTRY_COLUMNS} FROM field_history "
        "WHERE case_id = ? ORDER BY id DESC LIMIT ?", (case_id, MAX_SENT_ENTRIES))
    entries: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        entry = _entry(conn, case_id, row)
        size += len(entry["field_key"]) + len(_dump(entry["old"])) \
            + len(_dump(entry["new"])) + len(entry["note"]) + 80
        if size > MAX_SENT_BYTES:
            break
        entries.append(entry)
    entries.reverse()
    return entries


def list_history(conn: Connection, case_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """The newest `limit` entries of a case, oldest first (the case's history panel)."""
    rows = conn.query_all(
        f"SELECT {_ENTRY_COLUMNS} FROM field_history "
        "WHERE case_id = ? ORDER BY id DESC LIMIT ?", (case_id, limit))
    return [_entry(conn, case_id, row) for row in reversed(rows)]
