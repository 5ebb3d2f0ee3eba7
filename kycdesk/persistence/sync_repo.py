"""What the sync engine reads from the store, and the one write that is not a status
change: recording the server's confirmation of a photo.

Status changes (failed, synced) go through `cases.transition` like every other.
"""

from __future__ import annotations

from kycdesk.core.errors import CaseNotFoundError
from kycdesk.core.ids import validate_case_id
from kycdesk.core.records import RetakeNote, SyncCase
from kycdesk.core.states import RETRIED_KIND, CaseStatus
from kycdesk.persistence import field_history
from kycdesk.persistence.cases import answers_from_row, pending_edits
from kycdesk.persistence.db import Connection
from kycdesk.persistence.events import append_event, event_detail
from kycdesk.persistence.images import list_images

# `core.states`: a FAILED case whose error kind the app retries by itself (or none).
RETRIED_BY_ITSELF = (
    f"status = '{CaseStatus.FAILED.value}' AND "
    f"coalesce(last_error_kind, '{RETRIED_KIND.value}') = '{RETRIED_KIND.value}'"
)


# A case waiting for the office to hand it over (an imported copy of another device's
# case) is not sent meanwhile: the server would refuse it again.
NOT_WAITING_FOR_OFFICE = (
    "NOT EXISTS (SELECT 1 FROM case_office o WHERE o.case_id = cases.id AND "
    "o.handover IN ('needs_request', 'requested'))"
)


def due_cases(conn: Connection, now: str, *, ignore_backoff: bool = False) -> list[str]:
    """READY cases, and transient failures whose backoff has passed; oldest first.
    Cases waiting for the office to hand them over are not due."""
    rows = conn.query_all(
        f"SELECT id FROM cases WHERE (status = ? OR ({RETRIED_BY_ITSELF} AND "
        f"(? OR next_attempt_at IS NULL OR next_attempt_at <= ?))) AND "
        f"{NOT_WAITING_FOR_OFFICE} ORDER BY coalesce(finalized_at, last_saved), id",
        (CaseStatus.READY.value, 1 if ignore_backoff else 0, now),
    )
    return [r[0] for r in rows]


def next_due_at(conn: Connection) -> str | None:
    value = conn.scalar(f"SELECT min(next_attempt_at) FROM cases WHERE {RETRIED_BY_ITSELF}")
    return str(value) if value else None


def load_sync_case(conn: Connection, case_id: str) -> SyncCase:
    case_id = validate_case_id(case_id)
    row = conn.query_one(
        "SELECT c.reference_number, c.status, f.revision, c.form_id, c.form_version, "
        "f.form_json, c.finalized_at, coalesce(c.sync_attempts, 0), f.answers_sealed "
        "FROM cases c JOIN case_forms f ON f.case_id = c.id WHERE c.id = ?", (case_id,))
    if row is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    form = answers_from_row(conn, case_id, row[8], row[5])
    for key, value in pending_edits(conn, case_id):  # READY cases have none; replay anyway
        form[key] = value
    return SyncCase(id=case_id, reference_number=row[0], status=row[1],
                    revision=max(1, int(row[2] or 0)), form_id=row[3], form_version=row[4],
                    form=form, finalized_at=row[6], sync_attempts=int(row[7]),
                    images=list_images(conn, case_id), retakes=retake_notes(conn, case_id),
                    history=field_history.history_to_send(conn, case_id))


def retake_notes(conn: Connection, case_id: str) -> dict[int, RetakeNote]:
    """The retake suggestions made on this case's photos and which the verifier kept
    (audit events written by the photo panel)."""
    rows = conn.query_all(
        "SELECT kind, detail_sealed, detail_json FROM case_events WHERE case_id = ? AND "
        "kind IN ('photo_quality_suggested', 'photo_quality_overridden') ORDER BY id",
        (case_id,))
    notes: dict[int, RetakeNote] = {}
    for kind, detail_sealed, detail_json in rows:
        detail = event_detail(conn, case_id, detail_sealed, detail_json)
        image_id = detail.get("image_id")
        if not isinstance(image_id, int):
            continue
        if kind == "photo_quality_suggested":
            notes[image_id] = RetakeNote(tuple(str(p) for p in detail.get("problems", [])),
                                         kept=False)
        elif image_id in notes:
            notes[image_id] = RetakeNote(notes[image_id].problems, kept=True)
    return notes


def confirm_image(conn: Connection, image_id: int, server_image_id: str) -> bool:
    """Record that the server holds this photo; False if it was already recorded."""
    with conn.transaction():
        row = conn.query_one("SELECT case_id, synced, server_image_id FROM case_images "
                             "WHERE id = ?", (image_id,))
        if row is None or (row[1] and row[2] == server_image_id):
            return False
        conn.execute("UPDATE case_images SET synced = 1, server_image_id = ?, "
                     "upload_url = NULL, upload_offset = 0 WHERE id = ?",
                     (server_image_id, image_id))
        append_event(conn, row[0], "sync_image_confirmed",
                     {"image_id": image_id, "server_image_id": server_image_id})
    return True


def record_upload(conn: Connection, image_id: int, upload_url: str | None, offset: int) -> None:
    """Where the photo's resumable upload is and how far the server confirmed it (one
    statement: an implicit transaction). None forgets it (expired or restarted)."""
    conn.execute("UPDATE case_images SET upload_url = ?, upload_offset = ? "
                 "WHERE id = ? AND synced = 0", (upload_url, offset if upload_url else 0,
                                                  image_id))
