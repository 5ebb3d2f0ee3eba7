"""What the sync engine reads and writes in the local store.

Every write is a guarded transaction: a case is marked synced only while it is still
READY/FAILED at the revision that was sent (the verifier may have reopened it meanwhile),
and a photo's confirmation is recorded the moment the server gives it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kycdesk.persistence.db import Connection
from kycdesk.persistence.errors import CaseNotFoundError
from kycdesk.persistence.events import append_event
from kycdesk.persistence.ids import validate_case_id
from kycdesk.persistence.images import list_images
from kycdesk.persistence.records import ImageRecord


@dataclass(frozen=True)
class SyncCase:
    id: str
    reference_number: str | None
    status: str
    revision: int
    form_id: str | None
    form_version: str | None
    form: dict[str, Any]
    finalized_at: str | None
    sync_attempts: int
    images: list[ImageRecord]


def due_cases(conn: Connection, now: str, *, ignore_backoff: bool = False) -> list[str]:
    """READY cases, and transient failures whose backoff has passed; oldest first."""
    rows = conn.query_all(
        "SELECT id FROM cases WHERE status = 'READY' OR (status = 'FAILED' AND "
        "coalesce(last_error_kind, 'transient') = 'transient' AND "
        "(? OR next_attempt_at IS NULL OR next_attempt_at <= ?)) "
        "ORDER BY coalesce(finalized_at, last_saved), id",
        (1 if ignore_backoff else 0, now),
    )
    return [r[0] for r in rows]


def next_due_at(conn: Connection) -> str | None:
    value = conn.scalar(
        "SELECT min(next_attempt_at) FROM cases WHERE status = 'FAILED' AND "
        "coalesce(last_error_kind, 'transient') = 'transient'")
    return str(value) if value else None


def load_sync_case(conn: Connection, case_id: str) -> SyncCase:
    case_id = validate_case_id(case_id)
    row = conn.query_one(
        "SELECT c.reference_number, c.status, f.revision, c.form_id, c.form_version, "
        "f.form_json, c.finalized_at, coalesce(c.sync_attempts, 0) "
        "FROM cases c JOIN case_forms f ON f.case_id = c.id WHERE c.id = ?", (case_id,))
    if row is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    form: dict[str, Any] = json.loads(row[5]) if row[5] else {}
    leftovers = conn.query_all(
        "SELECT field_key, value_json FROM case_edits WHERE case_id = ? ORDER BY seq",
        (case_id,))
    for key, value in leftovers:  # READY cases have none; replay defensively anyway
        form[key] = json.loads(value)
    return SyncCase(id=case_id, reference_number=row[0], status=row[1],
                    revision=max(1, int(row[2] or 0)), form_id=row[3], form_version=row[4],
                    form=form, finalized_at=row[6], sync_attempts=int(row[7]),
                    images=list_images(conn, case_id))


def mark_image_synced(conn: Connection, image_id: int, server_image_id: str) -> None:
    with conn.transaction():
        row = conn.query_one("SELECT case_id, synced, server_image_id FROM case_images "
                             "WHERE id = ?", (image_id,))
        if row is None or (row[1] and row[2] == server_image_id):
            return
        conn.execute("UPDATE case_images SET synced = 1, server_image_id = ? WHERE id = ?",
                     (server_image_id, image_id))
        append_event(conn, row[0], "sync_image_confirmed",
                     {"image_id": image_id, "server_image_id": server_image_id})


def record_failure(conn: Connection, case_id: str, *, kind: str, message: str,
                   next_attempt_at: str | None) -> bool:
    """FAILED with the reason; False if the case left the sync queue meanwhile."""
    with conn.transaction():
        changed = conn.execute(
            "UPDATE cases SET status = 'FAILED', last_error = ?, last_error_kind = ?, "
            "next_attempt_at = ?, sync_attempts = coalesce(sync_attempts, 0) + 1 "
            "WHERE id = ? AND status IN ('READY', 'FAILED')",
            (message, kind, next_attempt_at, case_id))
        if changed:
            append_event(conn, case_id, "sync_failed",
                         {"kind": kind, "message": message, "next_attempt_at": next_attempt_at})
    return changed > 0


def mark_synced(conn: Connection, case_id: str, *, revision: int,
                receipt: dict[str, Any]) -> bool:
    """SYNCED with the receipt, only if still queued at the revision that was sent."""
    with conn.transaction():
        current = conn.scalar("SELECT revision FROM case_forms WHERE case_id = ?", (case_id,))
        if max(1, int(current or 0)) != revision:
            return False
        changed = conn.execute(
            "UPDATE cases SET status = 'SYNCED', server_receipt = ?, last_error = NULL, "
            "last_error_kind = NULL, next_attempt_at = NULL "
            "WHERE id = ? AND status IN ('READY', 'FAILED')",
            (json.dumps(receipt, sort_keys=True), case_id))
        if changed:
            append_event(conn, case_id, "synced", {"revision": revision, **receipt})
    return changed > 0
