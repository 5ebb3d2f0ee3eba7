"""Case rows: create, status changes, list queries, and loading a case for the editor."""

from __future__ import annotations

import json
from typing import Any, assert_never

from kycdesk.core.clock import now_text
from kycdesk.core.errors import (
    CaseLockedError,
    CaseNotFoundError,
    TransitionRefusedError,
)
from kycdesk.core.ids import new_id, validate_case_id
from kycdesk.core.records import CaseRecord
from kycdesk.core.states import TRANSITIONS, CaseChange, CaseStatus, Change, Inbox
from kycdesk.persistence import held, sealed
from kycdesk.persistence.db import Connection
from kycdesk.persistence.events import append_event


def insert_case(conn: Connection, *, case_id: str | None = None,
                reference_number: str | None = None, form_id: str | None = None,
                form_version: str | None = None) -> str:
    """Insert a DRAFT case with an empty form (caller creates its folder)."""
    case_id = validate_case_id(case_id) if case_id is not None else new_id()
    now = now_text()
    with conn.transaction():
        conn.execute(
            "INSERT INTO cases(id, reference_number, status, current_step, last_saved, "
            "created_at, form_id, form_version, sync_attempts) VALUES (?,?,?,?,?,?,?,?,0)",
            (case_id, reference_number, CaseStatus.DRAFT.value, None, now, now, form_id,
             form_version),
        )
        conn.execute(
            "INSERT INTO case_forms(case_id, answers_sealed, form_version, revision, "
            "updated_at) VALUES (?, ?, ?, 0, ?)",
            (case_id, seal_answers(conn, case_id, {}), form_version, now),
        )
        append_event(conn, case_id, "created",
                     {"reference_number": reference_number, "form_id": form_id,
                      "form_version": form_version})
    return case_id


def case_status(conn: Connection, case_id: str) -> CaseStatus:
    value = conn.scalar("SELECT status FROM cases WHERE id = ?", (validate_case_id(case_id),))
    if value is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    return CaseStatus(value)


def require_draft(conn: Connection, case_id: str) -> None:
    """Only drafts take changes, and only those not read-only (an assignment the office
    withdrew after the verifier typed, a case the office no longer gives this device)."""
    row = conn.query_one("SELECT status, locked_reason FROM cases WHERE id = ?",
                         (validate_case_id(case_id),))
    if row is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    if row[0] != CaseStatus.DRAFT.value:
        raise CaseLockedError(f"This case is {row[0]}; only drafts can be changed.")
    if row[1]:
        raise CaseLockedError(str(row[1]))


def transition(conn: Connection, case_id: str, change: Change, *,
               error: str | None = None, error_kind: str | None = None,
               next_attempt_at: str | None = None, revision: int | None = None,
               receipt: dict[str, Any] | None = None, progressed: bool = False
               ) -> CaseChange:
    """The one way a case changes status: checks the table in `core.states`, writes what
    the change implies and its audit event, all in one transaction.

    - SUBMIT: READY, `finalized_at` set, errors cleared.
    - RETRY: READY, backoff and error cleared (the verifier asked).
    - REOPEN: DRAFT and `revision + 1`: whatever is submitted next is a new revision,
      never a different body under a revision the server may already hold.
    - SYNC_FAILED: FAILED with `error`, `error_kind`, `next_attempt_at`; attempts + 1,
      or back to 0 if the attempt `progressed` (the backoff grows only with attempts that
      moved nothing).
    - SYNCED: only at the `revision` that was sent (the verifier may have reopened the
      case meanwhile), with the server's `receipt`; the case joins the held set.
    - RETURNED: DRAFT in the "returned" inbox, `revision + 1` (as REOPEN): the office
      returned the revision this device holds synced.
    SUBMIT clears the inbox.
    Raises TransitionRefusedError (nothing written) when the case is not in a state the
    change applies to.
    """
    rule = TRANSITIONS[change]
    with conn.transaction():
        old = case_status(conn, case_id)
        if old not in rule.sources:
            raise TransitionRefusedError(
                f"A case that is {old.value} cannot take \"{change.value}\".")
        current_revision = int(conn.scalar(
            "SELECT coalesce(revision, 0) FROM case_forms WHERE case_id = ?", (case_id,)) or 0)
        now = now_text()
        sets = ["status = ?"]
        params: list[Any] = [rule.target.value]
        match change:
            case Change.SUBMIT:
                sets += ["finalized_at = ?", "last_error = NULL", "last_error_kind = NULL",
                         "next_attempt_at = NULL", "inbox = NULL"]
                params.append(now)
            case Change.RETRY:
                sets += ["last_error = NULL", "last_error_kind = NULL",
                         "next_attempt_at = NULL"]
            case Change.REOPEN | Change.RETURNED:
                if change is Change.RETURNED:
                    sets.append(f"inbox = '{Inbox.RETURNED.value}'")
                sets += ["finalized_at = NULL", "last_error = NULL", "last_error_kind = NULL",
                         "next_attempt_at = NULL"]
                # Past the revision that may have been sent (a never-saved form is sent
                # as revision 1), so the next submit never reuses it with another body.
                current_revision = max(current_revision, 1) + 1
                conn.execute("UPDATE case_forms SET revision = ? WHERE case_id = ?",
                             (current_revision, case_id))
            case Change.SYNC_FAILED:
                sets += ["last_error = ?", "last_error_kind = ?", "next_attempt_at = ?",
                         "sync_attempts = CASE WHEN ? THEN 0 "
                         "ELSE coalesce(sync_attempts, 0) + 1 END"]
                params += [error, error_kind, next_attempt_at, 1 if progressed else 0]
            case Change.SYNCED:
                if revision is None or receipt is None:
                    raise TransitionRefusedError("A sync confirmation needs its revision "
                                                 "and receipt.")
                if max(1, current_revision) != revision:
                    raise TransitionRefusedError(
                        f"The case changed while it was being sent (revision "
                        f"{current_revision}, sent {revision}).")
                sets += ["server_receipt = ?", "last_error = NULL", "last_error_kind = NULL",
                         "next_attempt_at = NULL"]
                params.append(json.dumps(receipt, sort_keys=True))
                held.hold(conn, case_id)
            case _:
                assert_never(change)
        conn.execute(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", (*params, case_id))
        detail: dict[str, Any] = {"from": old.value, "to": rule.target.value,
                                  "change": change.value}
        if error is not None:
            detail.update(error=error, kind=error_kind, next_attempt_at=next_attempt_at,
                          progressed=progressed)
        if change is Change.SYNCED:
            detail.update(revision=revision, receipt=receipt)
        append_event(conn, case_id, "status", detail)
    return CaseChange(case_id=case_id, status=rule.target, revision=current_revision,
                      change=change, last_error=error, error_kind=error_kind,
                      next_attempt_at=next_attempt_at)


def set_current_step(conn: Connection, case_id: str, step: str) -> None:
    changed = conn.execute("UPDATE cases SET current_step = ? WHERE id = ?",
                           (step, validate_case_id(case_id)))
    if changed == 0:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")


def set_reference_number(conn: Connection, case_id: str, reference_number: str | None) -> None:
    changed = conn.execute("UPDATE cases SET reference_number = ? WHERE id = ?",
                           (reference_number, validate_case_id(case_id)))
    if changed == 0:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")


# -- the answers (case_forms) and the write-ahead (case_edits), sealed ----------------------
ANSWERS = sealed.field_name("case_forms")


def seal_answers(conn: Connection, case_id: str, form: dict[str, Any]) -> bytes:
    return sealed.seal(conn, form, case_id=case_id, field=ANSWERS)


def answers_from_row(conn: Connection, case_id: str, answers_sealed: bytes | None,
                     form_json: str | None) -> dict[str, Any]:
    """A case_forms row's answers (sealed, or a row still in clear)."""
    form = sealed.read(conn, answers_sealed, case_id=case_id, field=ANSWERS,
                       clear=lambda: sealed.loads(form_json, {}))
    return dict(form) if isinstance(form, dict) else {}


def stored_answers(conn: Connection, case_id: str) -> dict[str, Any]:
    """The saved form (without the write-ahead edits); {} if the case has none."""
    row = conn.query_one("SELECT answers_sealed, form_json FROM case_forms WHERE case_id = ?",
                         (case_id,))
    return {} if row is None else answers_from_row(conn, case_id, row[0], row[1])


def write_answers(conn: Connection, case_id: str, form: dict[str, Any]) -> None:
    """Replace the saved form (sealed; the clear column of an older row emptied)."""
    conn.execute("UPDATE case_forms SET answers_sealed = ?, form_json = NULL "
                 "WHERE case_id = ?", (seal_answers(conn, case_id, form), case_id))


def edit_field(field_key: str) -> str:
    return sealed.field_name("case_edits", field_key)


def pending_edits(conn: Connection, case_id: str) -> list[tuple[str, Any]]:
    """The write-ahead edits not folded into a save yet, in order: (field key, value)."""
    rows = conn.query_all("SELECT field_key, value_sealed, value_json FROM case_edits "
                          "WHERE case_id = ? ORDER BY seq", (case_id,))
    return [(str(key), sealed.read(conn, value, case_id=case_id, field=edit_field(key),
                                   clear=sealed.clear_json(text)))
            for key, value, text in rows]


def load_case(conn: Connection, case_id: str) -> CaseRecord:
    """The case as the editor opens it: saved form plus replayed write-ahead edits."""
    case_id = validate_case_id(case_id)
    row = conn.query_one(
        "SELECT c.reference_number, c.status, c.current_step, c.created_at, c.last_saved, "
        "c.form_id, c.form_version, f.form_json, f.revision, c.last_error, "
        "c.last_error_kind, c.next_attempt_at, c.purged_at, f.answers_sealed "
        "FROM cases c LEFT JOIN case_forms f ON f.case_id = c.id WHERE c.id = ?",
        (case_id,),
    )
    if row is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    form = answers_from_row(conn, case_id, row[13], row[7])
    edits = pending_edits(conn, case_id)
    for field_key, value in edits:
        form[field_key] = value
    return CaseRecord(
        id=case_id, reference_number=row[0], status=row[1], current_step=row[2],
        created_at=row[3], last_saved=row[4], form_id=row[5], form_version=row[6],
        revision=int(row[8] or 0), form=form, replayed_edits=len(edits), last_error=row[9],
        last_error_kind=row[10], next_attempt_at=row[11], purged_at=row[12],
    )
