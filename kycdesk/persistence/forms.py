"""Form data: the field-edit write-ahead and the folding save.

Every field change is appended to case_edits at once (one tiny statement), so a kill
inside the editor's debounce window loses at most the change in flight. The debounced
save writes the whole form, bumps the revision and deletes the edits it folded in —
one transaction, so a crash leaves either the old form plus its edits or the new form.
The save also writes the field-level audit (`field_history`): one entry per answer that
differs from the stored form, in the same transaction.
"""

from __future__ import annotations

import json
from typing import Any

from kycdesk.core.clock import now_text
from kycdesk.core.errors import CaseLockedError, StoreError
from kycdesk.core.ids import validate_case_id
from kycdesk.core.records import FormValues
from kycdesk.core.states import CaseStatus
from kycdesk.persistence import field_history, sealed
from kycdesk.persistence.cases import edit_field, require_draft, seal_answers, stored_answers
from kycdesk.persistence.db import Connection


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"A form value could not be stored ({exc}).") from exc


def append_edit(conn: Connection, case_id: str, field_key: str, value: Any) -> int:
    """Append one field change; return its sequence number within the case.

    A single INSERT … SELECT: it picks the next seq and refuses non-draft cases in one
    statement (one implicit transaction, one WAL fsync).
    """
    case_id = validate_case_id(case_id)
    if not field_key:
        raise StoreError("A field change needs a field key.")
    _dump(value)  # refused as the store always refused it, before it is sealed
    row = conn.query_one(
        "INSERT INTO case_edits(case_id, seq, field_key, value_json, value_sealed, at) "
        "SELECT ?, coalesce((SELECT max(seq) FROM case_edits WHERE case_id = ?), 0) + 1, "
        "?, '', ?, ? WHERE EXISTS (SELECT 1 FROM cases WHERE id = ? AND status = ? "
        "AND locked_reason IS NULL) "
        "RETURNING seq",
        (case_id, case_id, field_key,
         sealed.seal(conn, value, case_id=case_id, field=edit_field(field_key)),
         now_text(), case_id, CaseStatus.DRAFT.value),
    )
    if row is None:
        # Nothing inserted: tell the caller why (missing, locked or read-only case).
        require_draft(conn, case_id)
        raise CaseLockedError("This case is read-only on this device.")
    return int(row[0])


def _keep_office_corrections(conn: Connection, case_id: str, stored: dict[str, Any],
                             form: FormValues) -> FormValues:
    """An answer the office corrected after the editor's form was taken (the open editor
    hears of it a moment later) comes back here with the value the office replaced. It
    is not put back unless the verifier typed it again (a write-ahead edit since the
    correction: the correction deleted that answer's edits). Only answers that differ
    are looked at, each with one indexed read."""
    kept: dict[str, Any] | None = None
    for key in sorted(set(stored) | set(form)):
        if stored.get(key) == form.get(key):
            continue
        newest = field_history.newest_change(conn, case_id, key)
        if newest is None or newest["why"] != "office" or newest["old"] != form.get(key):
            continue
        if conn.scalar("SELECT EXISTS (SELECT 1 FROM case_edits WHERE case_id = ? AND "
                       "field_key = ?)", (case_id, key)):
            continue  # typed again after the correction: the verifier's choice
        kept = dict(form) if kept is None else kept
        kept[key] = stored.get(key)
    return form if kept is None else kept


def save_form(conn: Connection, case_id: str, form: FormValues, *,
              form_version: str | None = None, applicant_name: str | None = None,
              id_number: str | None = None, why: str = "typed", by: str | None = None
              ) -> int:
    """Write the whole form, fold (delete) the pending edits, record each changed
    answer in the field history (`why`, `by`: default the device's actor); return the
    new revision.

    The writer runs commands in order, so every edit appended before this save is
    already in `form`; edits queued after it are appended after this commit.
    """
    case_id = validate_case_id(case_id)
    now = now_text()
    with conn.transaction():
        require_draft(conn, case_id)
        stored = stored_answers(conn, case_id)
        form = _keep_office_corrections(conn, case_id, stored, form)
        _dump(form)  # refused as the store always refused it, before it is sealed
        field_history.record_differences(conn, case_id, stored, form, why=why, by=by)
        conn.execute(
            "UPDATE case_forms SET answers_sealed = ?, form_json = NULL, "
            "revision = revision + 1, updated_at = ?, "
            "form_version = coalesce(?, form_version) WHERE case_id = ?",
            (seal_answers(conn, case_id, dict(form)), now, form_version, case_id),
        )
        conn.execute("DELETE FROM case_edits WHERE case_id = ?", (case_id,))
        conn.execute(
            "UPDATE cases SET last_saved = ?, form_version = coalesce(?, form_version), "
            "applicant_name = coalesce(?, applicant_name), id_number = coalesce(?, id_number) "
            "WHERE id = ?",
            (now, form_version, applicant_name, id_number, case_id),
        )
        revision = conn.scalar("SELECT revision FROM case_forms WHERE case_id = ?", (case_id,))
    return int(revision)
