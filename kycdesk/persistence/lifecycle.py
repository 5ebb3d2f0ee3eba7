"""The end of a case on this device: a draft discarded, or a synced case's personal data
removed after the retention period (the list keeps a stub: reference and receipt).

Both remove a folder of files and rows together, crash-safely: the case folder is first
renamed to `cases/.gone_<id>` (one atomic rename), then the rows change in one
transaction, then the folder is deleted. Startup recovery finishes or undoes what a crash
interrupted, from the database's answer: rows gone (discard) or marked purged (retention)
-> the folder goes; otherwise the rename is undone.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from kycdesk.core.clock import format_instant, now_text
from kycdesk.core.clock import now as clock_now
from kycdesk.core.errors import CaseLockedError, StorageUnavailableError, TransitionRefusedError
from kycdesk.core.ids import validate_case_id
from kycdesk.core.states import CaseStatus
from kycdesk.paths import DataPaths
from kycdesk.persistence import held, intents, pull_apply
from kycdesk.persistence.cases import case_status, write_answers
from kycdesk.persistence.db import Connection
from kycdesk.persistence.events import append_event
from kycdesk.persistence.files import fsync_dir

log = logging.getLogger(__name__)

GONE_PREFIX = ".gone_"


def _retire_folder(paths: DataPaths, case_id: str) -> Path | None:
    folder = paths.case_dir(case_id)
    if not folder.exists():
        return None
    gone = folder.with_name(GONE_PREFIX + case_id)
    try:
        os.rename(folder, gone)
        fsync_dir(folder.parent)
    except OSError as exc:
        raise StorageUnavailableError(f"The case's files could not be removed ({exc.strerror})."
                                      ) from exc
    return gone


def _unretire(paths: DataPaths, gone: Path | None, case_id: str) -> None:
    if gone is not None:
        os.rename(gone, paths.case_dir(case_id))


def with_folder_retired(conn: Connection, paths: DataPaths, case_id: str,
                         change_rows: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Retire the folder, change the rows in one transaction, then delete the folder; a
    failed transaction puts the folder back."""
    intent = intents.begin(paths.root, "retire", case_id)
    try:
        gone = _retire_folder(paths, case_id)
    except BaseException:
        intents.end(intent)
        raise
    try:
        with conn.transaction():
            detail = change_rows()
    except BaseException:
        _unretire(paths, gone, case_id)
        intents.end(intent)
        raise
    if gone is not None:
        shutil.rmtree(gone, ignore_errors=True)
    intents.end(intent)
    return detail


def _photo_count(conn: Connection, case_id: str) -> int:
    return int(conn.scalar("SELECT count(*) FROM case_images WHERE case_id = ?",
                           (case_id,)) or 0)


def discard_draft(conn: Connection, paths: DataPaths, case_id: str) -> dict[str, object]:
    """Remove a draft and its photos for good; an audit line (no personal data) stays."""
    case_id = validate_case_id(case_id)
    status = case_status(conn, case_id)
    if status is not CaseStatus.DRAFT:
        raise CaseLockedError(f"This case is {status.value}; only drafts can be discarded.")
    reference = conn.scalar("SELECT reference_number FROM cases WHERE id = ?", (case_id,))

    def remove_rows() -> dict[str, object]:
        photos = _photo_count(conn, case_id)
        # An assigned draft leaves the held set too: the office still giving it to this
        # device shows as a digest mismatch, and the resync brings it back.
        held.let_go(conn, case_id)
        pull_apply.remove_case_rows(conn, case_id)
        detail: dict[str, object] = {"case_id": case_id, "reference_number": reference,
                                     "photos": photos}
        append_event(conn, None, "case_discarded", detail)
        return detail

    return with_folder_retired(conn, paths, case_id, remove_rows)


def purge_synced(conn: Connection, paths: DataPaths, case_id: str) -> dict[str, object]:
    """The retention rule: a SYNCED case with its server receipt keeps only a stub row
    (reference, status, receipt); its form, photos and the applicant's name go."""
    case_id = validate_case_id(case_id)
    row = conn.query_one("SELECT status, server_receipt, purged_at FROM cases WHERE id = ?",
                         (case_id,))
    if row is None or row[0] != CaseStatus.SYNCED.value or not row[1]:
        raise TransitionRefusedError("Only a synced case with the server's receipt is removed "
                                     "from this device.")
    if row[2]:
        return {"case_id": case_id, "already": True}

    def strip_rows() -> dict[str, object]:
        photos = _photo_count(conn, case_id)
        conn.execute("DELETE FROM case_images WHERE case_id = ?", (case_id,))
        for table in ("case_edits", "field_history", "review_comments", "conflicts",
                      "photos_to_fetch"):  # answers, old and new, and what was said
            conn.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
        write_answers(conn, case_id, {})
        conn.execute("UPDATE cases SET applicant_name = NULL, id_number = NULL, purged_at = ? "
                     "WHERE id = ?",
                     (now_text(), case_id))
        detail: dict[str, object] = {"photos": photos}
        append_event(conn, case_id, "purged_after_retention", detail)
        return detail

    return with_folder_retired(conn, paths, case_id, strip_rows)


def purge_due(conn: Connection, days: float, now: datetime | None = None) -> list[str]:
    """SYNCED cases whose receipt is older than `days` and whose data is still here."""
    # The server's accepted_at, as stored: one precision, compared as text.
    cutoff = format_instant((now or clock_now()) - timedelta(days=days))
    rows = conn.query_all(
        "SELECT id FROM cases WHERE status = ? AND purged_at IS NULL AND server_receipt "
        "IS NOT NULL AND json_extract(server_receipt, '$.accepted_at') <= ? "
        "ORDER BY id LIMIT 200", (CaseStatus.SYNCED.value, cutoff))
    return [str(r[0]) for r in rows]


def repair_retired_folder(conn: Connection, paths: DataPaths, case_id: str) -> str | None:
    """After a crash: finish or undo an interrupted discard or purge of one case, from
    the database's answer (see the module doc); what was done, or None."""
    gone = paths.cases_dir / (GONE_PREFIX + case_id)
    if not gone.exists():
        return None
    row = conn.query_one("SELECT purged_at FROM cases WHERE id = ?", (case_id,))
    if row is None or row[0]:
        shutil.rmtree(gone, ignore_errors=True)
        return f"finished removing the files of case {case_id}"
    os.rename(gone, paths.case_dir(case_id))
    return f"restored the files of case {case_id}"


def repair_retired_folders(conn: Connection, paths: DataPaths) -> list[str]:
    """The full check: every retired folder left in the cases folder."""
    if not paths.cases_dir.is_dir():
        return []
    names = [e.name for e in os.scandir(paths.cases_dir) if e.name.startswith(GONE_PREFIX)]
    actions = [repair_retired_folder(conn, paths, name.removeprefix(GONE_PREFIX))
               for name in names]
    return [action for action in actions if action]
