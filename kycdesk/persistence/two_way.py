"""Two-way sync's reads (what the office sent, as the UI and the sync worker need it)
and its small writes besides applying a page (`pull_apply`): photos fetched, cases
released, handover requests, conflicts resolved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kycdesk.core.errors import CaseNotFoundError, StoreError, TransitionRefusedError
from kycdesk.core.ids import validate_case_id
from kycdesk.core.records import (
    Assignment,
    CaseDecision,
    Conflict,
    Location,
    PendingPhoto,
    ReviewComment,
    TwoWayState,
)
from kycdesk.core.states import CaseChange, CaseStatus, Change, Inbox
from kycdesk.paths import DataPaths
from kycdesk.persistence import (
    cases,
    field_history,
    held,
    images,
    lifecycle,
    pull_apply,
    sealed,
)
from kycdesk.persistence.db import Connection
from kycdesk.persistence.encrypted_files import photo_context, read_decrypted
from kycdesk.persistence.events import append_event, event_detail
from kycdesk.security.vault import Vault

# The handover states a case waits in, not sent by the sync run meanwhile:
# needs_request: an imported copy of another device's case (the server said 403); a
# request for it goes to the office; requested: the office has not answered yet.
WAITING_FOR_OFFICE = ("needs_request", "requested")


def _load(text: str | None) -> Any:
    return json.loads(text) if text else None


def read_two_way(conn: Connection, case_id: str) -> TwoWayState:
    """What the office said about one case (small indexed reads: a handful of rows)."""
    case_id = validate_case_id(case_id)
    row = conn.query_one("SELECT inbox, due_date, locked_reason FROM cases WHERE id = ?",
                         (case_id,))
    if row is None:
        raise CaseNotFoundError(f"Case {case_id} does not exist.")
    inbox, due_date, locked = row
    office = conn.query_one("SELECT assigned_at, handover FROM case_office WHERE case_id = ?",
                            (case_id,))
    words = pull_apply.office_words(conn, case_id)
    assignment = None
    if office is not None and office[0]:
        assignment = Assignment(due_date=due_date,
                                prefilled=frozenset(words["prefilled"] or ()),
                                assigned_by=words["assigned_by"] or "",
                                note=words["office_note"] or "", assigned_at=office[0] or "")
    decision_row = conn.query_one(
        "SELECT revision, decision, reason_code, reason_label, decision_sealed, note, by, at "
        "FROM case_decisions WHERE case_id = ? ORDER BY id DESC LIMIT 1", (case_id,))
    decision = None
    if decision_row is not None:
        said = pull_apply.decision_words(conn, case_id, *decision_row[4:7])
        decision = CaseDecision(
            revision=int(decision_row[0]), decision=decision_row[1],
            reason_code=decision_row[2], reason_label=decision_row[3],
            note=said["note"] or "", by=said["by"] or "", at=decision_row[7])
    comments: tuple[ReviewComment, ...] = ()
    newest_return = conn.scalar("SELECT max(revision) FROM review_comments WHERE case_id = ?",
                                (case_id,))
    if newest_return is not None:
        comments = tuple(_comment(conn, case_id, r) for r in conn.query_all(
            "SELECT revision, field_key, client_image_id, comment_sealed, text, author, at "
            "FROM review_comments WHERE case_id = ? AND revision = ? ORDER BY id",
            (case_id, newest_return)))
    return TwoWayState(case_id=case_id, inbox=inbox, assignment=assignment,
                       comments=comments, decision=decision,
                       conflicts=tuple(open_conflicts(conn, case_id)),
                       handover=office[1] if office is not None else None,
                       handover_note=(words["handover_note"] or "")
                       if office is not None else "",
                       locked_reason=locked)


def _comment(conn: Connection, case_id: str, row: tuple[Any, ...]) -> ReviewComment:
    revision, field_key, client_image_id, comment_sealed, text, author, at = row
    said = sealed.read_document(conn, "review_comments", comment_sealed, case_id=case_id,
                                clear=lambda: {"text": text, "author": author})
    return ReviewComment(revision=int(revision), field_key=field_key,
                         client_image_id=client_image_id, text=str(said["text"] or ""),
                         author=str(said["author"] or ""), at=at)


_CONFLICT_VALUES = "values_sealed, server_json, server_by, local_json, local_by"


def _conflict_values(conn: Connection, case_id: str, kind: str,
                     row: Sequence[Any]) -> dict[str, Any]:
    """A conflicts row's server/local values and who made them (sealed, or in clear);
    `row`: its `_CONFLICT_VALUES` columns."""
    values_sealed, server_json, server_by, local_json, local_by = row
    return sealed.read_document(
        conn, "conflicts", values_sealed, case_id=case_id, key=kind,
        clear=lambda: {"server": _load(server_json), "server_by": server_by or "",
                       "local": _load(local_json), "local_by": local_by or ""})


def open_conflicts(conn: Connection, case_id: str) -> list[Conflict]:
    rows = conn.query_all(
        f"SELECT id, kind, field_key, client_image_id, server_at, local_at, {_CONFLICT_VALUES} "
        "FROM conflicts WHERE case_id = ? AND resolved_at IS NULL ORDER BY id", (case_id,))
    found: list[Conflict] = []
    for r in rows:
        values = _conflict_values(conn, case_id, r[1], r[6:])
        found.append(Conflict(id=int(r[0]), kind=r[1], field_key=r[2], client_image_id=r[3],
                              server_value=values["server"],
                              server_by=values["server_by"] or "", server_at=r[4],
                              local_value=values["local"], local_by=values["local_by"] or "",
                              local_at=r[5]))
    return found


def photos_to_fetch(conn: Connection, limit: int = 200) -> list[PendingPhoto]:
    rows = conn.query_all(
        "SELECT case_id, client_image_id, byte_size, slot, "
        f"{images.PHOTO_FACT_COLUMNS} FROM photos_to_fetch "
        "WHERE held_back = 0 ORDER BY case_id, client_image_id LIMIT ?", (limit,))
    return [PendingPhoto(case_id=r[0], client_image_id=r[1],
                         sha256=str(images.photo_facts(conn, "photos_to_fetch", r[0], r[1],
                                                       r[4:])["sha256"]),
                         byte_size=int(r[2]), slot=r[3]) for r in rows]


def record_fetched_photo(conn: Connection, paths: DataPaths, vault: Vault, case_id: str,
                         client_image_id: str, *, path: Path) -> None:
    """A pulled photo's verified (encrypted) file is in place: it becomes one of the
    case's photos (held by the server already: synced), in one transaction."""
    case_id = validate_case_id(case_id)
    with conn.transaction():
        row = conn.query_one(
            "SELECT server_image_id, byte_size, slot, captured_at, "
            f"{images.PHOTO_FACT_COLUMNS} FROM photos_to_fetch WHERE case_id = ? "
            "AND client_image_id = ?", (case_id, client_image_id))
        if row is None:
            if conn.scalar("SELECT EXISTS (SELECT 1 FROM case_images WHERE "
                           "client_image_id = ?)", (client_image_id,)):
                return  # recorded before (a retry after a lost acknowledgement)
            raise StoreError("This photo is not one the office sent for this case.")
        server_image_id, byte_size, slot, captured_at = row[:4]
        facts = images.photo_facts(conn, "photos_to_fetch", case_id, client_image_id,
                                   row[4:])
        located = Location(facts["latitude"], facts["longitude"], facts["accuracy"],
                           facts["address"])
        mime, width, height = _header_facts(read_decrypted(vault, path,
                                                           photo_context(case_id)))
        image_id = conn.insert(
            "INSERT INTO case_images(case_id, file_path, photo_sealed, place_pending, "
            "captured_at, synced, client_image_id, slot, byte_size, mime, "
            "width, height, source, server_image_id, captured_at_source) "
            "VALUES (?,?,?,?,?,1,?,?,?,?,?,?,'pulled',?,?)",
            (case_id, paths.relative(path),
             images.seal_photo_facts(conn, "case_images", case_id, client_image_id, facts),
             1 if images.place_pending(located) else 0, captured_at,
             client_image_id, slot, byte_size, mime, width, height, server_image_id,
             "import" if captured_at else None))
        conn.execute("DELETE FROM photos_to_fetch WHERE client_image_id = ?",
                     (client_image_id,))
        append_event(conn, case_id, "image_added", {"image_id": image_id,
                                                    "client_image_id": client_image_id,
                                                    "pulled": True})


def _header_facts(data: bytes) -> tuple[str, int | None, int | None]:
    """MIME type and size as displayed, from the photo's header only (no decoding in
    the writer's thread; the bytes were checked against their SHA-256 already)."""
    from kycdesk.persistence.image_memory import BytesImageReader
    from kycdesk.persistence.orientation import pending_turn, quarter_turned

    reader = BytesImageReader(data)
    reader.setDecideFormatFromContent(True)
    reader.setAutoTransform(True)
    fmt = bytes(reader.format().data()).decode().lower()
    mime = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(
        fmt, "application/octet-stream")
    size = reader.size()
    if not size.isValid() or size.isEmpty():
        return mime, None, None
    width, height = size.width(), size.height()
    if quarter_turned(reader, pending_turn(reader, data)):
        width, height = height, width
    return mime, width, height


def cases_to_release(conn: Connection) -> list[tuple[str, int]]:
    """Handed to another device, with nothing left to send: (case id, newest revision
    the server acknowledged from here, 0 if none). A synced case, or a draft the
    verifier did not touch; a case waiting to be sent waits; a draft with typing waits
    for the verifier to submit it (the case says so)."""
    rows = conn.query_all(
        "SELECT c.id, c.status, c.server_receipt FROM case_office o JOIN cases c ON "
        "c.id = o.case_id WHERE o.handover = 'handing_out' AND c.status IN (?, ?) "
        "ORDER BY c.id", (CaseStatus.SYNCED.value, CaseStatus.DRAFT.value))
    due: list[tuple[str, int]] = []
    for case_id, status, receipt in rows:
        if status == CaseStatus.DRAFT.value and field_history.typed_anything(conn, case_id):
            continue
        revision = (_load(receipt) or {}).get("revision") if receipt else None
        due.append((str(case_id), revision if isinstance(revision, int) else 0))
    return due


def record_released(conn: Connection, paths: DataPaths, case_id: str) -> CaseChange:
    """The server took the case back: every row and file of it leaves this device
    (crash-safe like a discard), and the held set with it."""
    case_id = validate_case_id(case_id)
    status = cases.case_status(conn, case_id)

    def remove_rows() -> dict[str, object]:
        held.let_go(conn, case_id)
        pull_apply.remove_case_rows(conn, case_id)
        detail: dict[str, object] = {"case_id": case_id}
        append_event(conn, None, "case_released", detail)
        return detail

    lifecycle.with_folder_retired(conn, paths, case_id, remove_rows)
    return CaseChange(case_id=case_id, status=status, revision=0, removed=True)


def handover_requests_due(conn: Connection) -> list[tuple[str, str | None]]:
    rows = conn.query_all(
        "SELECT c.id, c.reference_number FROM case_office o JOIN cases c ON c.id = "
        "o.case_id WHERE o.handover = 'needs_request' ORDER BY c.id")
    return [(str(r[0]), r[1]) for r in rows]


def record_handover_requested(conn: Connection, case_id: str) -> None:
    case_id = validate_case_id(case_id)
    with conn.transaction():
        if conn.execute("UPDATE case_office SET handover = 'requested' "
                        "WHERE case_id = ? AND handover = 'needs_request'", (case_id,)):
            pull_apply.write_office(
                conn, case_id, handover_note="This case belongs to another device; the "
                "office was asked to hand it over to this one.")
        append_event(conn, case_id, "handover", {"state": "requested"})


def record_needs_handover(conn: Connection, case_id: str, message: str) -> None:
    """The server said the case is another device's (an imported copy): it waits for
    the office (a handover request is sent), it is not a failure a person must clear."""
    case_id = validate_case_id(case_id)
    with conn.transaction():
        cases.case_status(conn, case_id)  # exists
        conn.execute("INSERT OR IGNORE INTO case_office(case_id) VALUES (?)", (case_id,))
        if conn.execute("UPDATE case_office SET handover = 'needs_request' "
                        "WHERE case_id = ? AND coalesce(handover, '') <> 'requested'",
                        (case_id,)):
            pull_apply.write_office(conn, case_id, handover_note=message)
        append_event(conn, case_id, "handover", {"state": "needs_request"})


def resolve_conflict(conn: Connection, paths: DataPaths, conflict_id: int,
                     keep: str) -> CaseChange | None:
    """The verifier's choice: the office's value or their own. The chosen answer goes
    through the normal save (field history why=merged); returns the status change, if
    the choice made one."""
    if keep not in ("server", "local"):
        raise StoreError("Choose the office's value or yours.")
    row = conn.query_one("SELECT case_id, kind, field_key, client_image_id, resolved_at, "
                         f"{_CONFLICT_VALUES} FROM conflicts WHERE id = ?", (conflict_id,))
    if row is None:
        raise StoreError("This choice is no longer waiting (it was made already).")
    case_id, kind, field_key, client_image_id, resolved = row[:5]
    if resolved:
        return None
    values = _conflict_values(conn, case_id, kind, row[5:])
    if kind == "photo" and keep == "server":
        # The office's photo takes the slot: the verifier's goes first (its own
        # crash-safe delete; a crash before the choice is recorded leaves the choice
        # open, and choosing again finds the photo gone).
        _drop_local_photo(conn, paths, case_id, values["local"])
    change: CaseChange | None = None
    with conn.transaction():
        status = cases.case_status(conn, case_id)
        if kind == "field" and keep == "server" and field_key:
            if status is not CaseStatus.DRAFT:
                raise TransitionRefusedError("Reopen the case as a draft to take the "
                                             "office's value.")
            _take_value(conn, case_id, field_key, values["server"])
        elif kind == "photo" and client_image_id:
            if keep == "server":
                conn.execute("UPDATE photos_to_fetch SET held_back = 0 WHERE "
                             "client_image_id = ?", (client_image_id,))
            else:
                conn.execute("DELETE FROM photos_to_fetch WHERE client_image_id = ?",
                             (client_image_id,))
        elif kind == "status" and keep == "server":
            change = _take_return(conn, case_id, status)
        conn.execute("UPDATE conflicts SET resolved_at = datetime('now'), kept = ? "
                     "WHERE id = ?", (keep, conflict_id))
        append_event(conn, case_id, "conflict_resolved", {"conflict_id": conflict_id,
                                                          "kind": kind, "kept": keep})
    return change


def _drop_local_photo(conn: Connection, paths: DataPaths, case_id: str,
                      local: Any) -> None:
    local = local if isinstance(local, dict) else {}
    image_id = conn.scalar("SELECT id FROM case_images WHERE case_id = ? AND "
                           "client_image_id = ?", (case_id, local.get("client_image_id")))
    if image_id is not None:
        images.delete_image(conn, paths, int(image_id))


def _take_value(conn: Connection, case_id: str, key: str, value: Any) -> None:
    from kycdesk.persistence import forms  # forms imports cases; avoid a cycle at import

    form = pull_apply.current_form(conn, case_id)
    if conn.scalar("SELECT EXISTS (SELECT 1 FROM case_edits WHERE case_id = ?)", (case_id,)):
        # What the verifier typed and was not saved yet is saved first (as typed), so
        # the history says what they had before the office's value was chosen.
        forms.save_form(conn, case_id, form)
    form[key] = value
    forms.save_form(conn, case_id, form, why="merged")


def _take_return(conn: Connection, case_id: str, status: CaseStatus) -> CaseChange:
    """The office's return wins: the case is a draft in "Returned to you" (what the
    verifier typed stays in it; nothing is thrown away)."""
    if status is CaseStatus.SYNCED:
        return cases.transition(conn, case_id, Change.RETURNED)
    change = (cases.transition(conn, case_id, Change.REOPEN)
              if status in (CaseStatus.READY, CaseStatus.FAILED) else None)
    conn.execute("UPDATE cases SET inbox = ? WHERE id = ? AND status = ?",
                 (Inbox.RETURNED.value, case_id, CaseStatus.DRAFT.value))
    return change or CaseChange(case_id=case_id, status=CaseStatus.DRAFT,
                                revision=cases.load_case(conn, case_id).revision)


def waiting_for_office(conn: Connection, case_id: str) -> bool:
    return bool(conn.scalar("SELECT EXISTS (SELECT 1 FROM case_office WHERE case_id = ? "
                            "AND handover IN ('needs_request', 'requested'))", (case_id,)))


def refused_forms(conn: Connection, limit: int = 20) -> list[str]:
    """The messages of pushed forms refused, newest first (for the sync panel)."""
    rows = conn.query_all("SELECT case_id, detail_sealed, detail_json FROM case_events "
                          "WHERE kind = 'form_refused' ORDER BY id DESC LIMIT ?", (limit,))
    return [str(event_detail(conn, r[0], r[1], r[2]).get("message", "")) for r in rows]

