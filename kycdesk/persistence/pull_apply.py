"""Applying a page of the pull (two-way sync, issue 17) to the store.

`apply_page` runs in ONE transaction with the new token: a page is applied exactly once
however often it is fetched (the device pulls with the token it stored with the last
page applied; a page whose token is the stored one was applied already and is skipped),
and each change is also idempotent on its own (upserts; a decision or a conflict is
recorded once; a return already taken is not taken again), so a page applied twice gives
the same state. The server's `seq`s are not compared: forms and a resync's states are
numbered apart from the feed, and a restored server may number again.

The office never overwrites what the verifier typed:
- `office_edit` of an answer the verifier changed since (local value neither the
  office's old value nor its new one) -> a field conflict, both values kept;
- `returned` meeting a case that is no longer the revision returned (reopened, a newer
  revision waiting, typed again) -> a status conflict; the return is stored;
- a photo from the office in a slot where the verifier has a photo not yet sent -> a
  photo conflict; the office's photo is held back until the verifier chooses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kycdesk.core.clock import now_text
from kycdesk.core.hashing import form_definition_sha256
from kycdesk.core.ids import validate_case_id
from kycdesk.core.states import CaseChange, CaseStatus, Change, Inbox
from kycdesk.persistence import cases, field_history, held, sealed
from kycdesk.persistence.db import Connection
from kycdesk.persistence.events import append_event

if TYPE_CHECKING:  # pydantic loads after the window is up (tests/test_architecture.py)
    from kycdesk.core.form_schema import FormDefinition
    from kycdesk.core.protocol import PulledChange, PulledPhoto, PullReply

log = logging.getLogger(__name__)

WITHDRAWN_KEPT = ("The office cancelled this assignment. What you typed is kept here, "
                  "read-only; you can discard the case.")
NO_LONGER_GIVEN = ("The office no longer gives this case to this device. It is kept here, "
                   "read-only.")
HANDING_OUT = ("The office moved this case to another device. Anything not sent yet is "
               "sent first, then it leaves this device.")
HANDOVER_REFUSED = "The office did not hand this case over to this device."


@dataclass
class Applied:
    """What a page did: how many changes, the cases every view must hear about, and the
    photos and forms refused (shown to the verifier)."""

    changes: int = 0
    case_changes: list[CaseChange] = field(default_factory=list)
    refused_forms: list[str] = field(default_factory=list)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)


def _exists(conn: Connection, case_id: str) -> bool:
    return bool(conn.scalar("SELECT EXISTS (SELECT 1 FROM cases WHERE id = ?)", (case_id,)))


def current_form(conn: Connection, case_id: str) -> dict[str, Any]:
    """The case's answers as the editor sees them: stored form + write-ahead edits."""
    return cases.load_case(conn, case_id).form


def apply_page(conn: Connection, reply: PullReply, *, resync: bool) -> Applied:
    """One page and its token, in one transaction."""
    applied = Applied()
    with conn.transaction():
        row = conn.query_one("SELECT token, resyncing FROM pull_position WHERE id = 1")
        assert row is not None
        stored_token, resyncing = row[0], bool(row[1])
        # A resync's pages are all case states; one cut by a crash goes on under the
        # flag even if the caller lost track (a normal page ends it without reconciling).
        continuing = resyncing and bool(reply.changes) and all(
            c.kind == "case_state" for c in reply.changes)
        in_resync = resync or continuing
        if not in_resync:
            if resyncing:
                conn.execute("UPDATE pull_position SET resyncing = 0 WHERE id = 1")
            if reply.token == stored_token:
                return applied  # this page was applied (a reply fetched twice)
        elif not resyncing:
            # The first page of a resync: start the list of cases the server gives.
            conn.execute("DELETE FROM resync_seen")
            conn.execute("UPDATE pull_position SET resyncing = 1 WHERE id = 1")
        for change in reply.changes:
            _apply_one(conn, change, applied, resync=in_resync)
            applied.changes += 1
        if in_resync and not reply.more:
            _reconcile(conn, applied)
            conn.execute("UPDATE pull_position SET resyncing = 0 WHERE id = 1")
        conn.execute("UPDATE pull_position SET token = ? WHERE id = 1", (reply.token,))
    return applied


def _apply_one(conn: Connection, change: PulledChange, applied: Applied, *,
               resync: bool) -> None:
    if change.kind == "form":
        problem = _store_form(conn, change)
        if problem:
            applied.refused_forms.append(problem)
        return
    if change.case_id is None:
        log.warning("pull change %d (%s) without a case; ignored", change.seq, change.kind)
        return
    case_id = validate_case_id(change.case_id)
    if resync:
        conn.execute("INSERT OR IGNORE INTO resync_seen(case_id) VALUES (?)", (case_id,))
    match change.kind:
        case "assigned" | "handover_in" | "case_state":
            _receive_case(conn, change, case_id, applied)
        case "returned":
            _returned(conn, change, case_id, applied)
        case "decided" if change.decision == "returned":
            _returned(conn, change, case_id, applied)
        case "decided":
            if _exists(conn, case_id) and _store_decision(
                    conn, change, case_id, change.decision or "approved"):
                _announce(conn, case_id, applied)  # an open case and the list show it
        case "office_edit":
            if _exists(conn, case_id):
                _office_edit(conn, change, case_id, applied)
        case "handover_out":
            if _exists(conn, case_id):
                _set_handover(conn, case_id, "handing_out", change.note or HANDING_OUT)
        case "handover_refused":
            if _exists(conn, case_id):
                _set_handover(conn, case_id, "refused", change.note or HANDOVER_REFUSED)
        case "withdrawn":
            if _exists(conn, case_id):
                _withdrawn(conn, change, case_id, applied)


# -- cases arriving: an assignment, a handover, a resync's state --------------------------
def _receive_case(conn: Connection, change: PulledChange, case_id: str,
                  applied: Applied) -> None:
    # A handover's or a resync's whole state carries the newest decision on it.
    decision = change.decision if change.kind != "assigned" else None
    if _exists(conn, case_id):
        held.hold(conn, case_id)
        _refresh_case(conn, change, case_id)
        if decision == "returned":
            _returned(conn, change, case_id, applied)
        elif decision is not None:
            _store_decision(conn, change, case_id, decision)
        return
    _create_case(conn, change, case_id, applied)  # a returned one comes as returned
    if decision == "returned":
        _store_return(conn, change, case_id)
    elif decision is not None:
        _store_decision(conn, change, case_id, decision)


def _create_case(conn: Connection, change: PulledChange, case_id: str,
                 applied: Applied) -> None:
    revision = int(change.revision or 0)
    returned = change.kind != "assigned" and change.decision == "returned"
    # A resync's case the office holds a revision of (not returned) is here as synced,
    # read-only; anything else is a draft to work on.
    submitted = change.kind == "case_state" and revision >= 1 and not returned
    now = now_text()
    status = CaseStatus.SYNCED if submitted else CaseStatus.DRAFT
    inbox = None if submitted else (Inbox.RETURNED if returned else Inbox.ASSIGNED).value
    form_id, form_version = change.form_id, change.form_version
    if form_id and not form_version:
        form_version = _newest_pushed_version(conn, form_id)
    conn.execute(
        "INSERT INTO cases(id, reference_number, status, current_step, last_saved, "
        "created_at, form_id, form_version, sync_attempts, applicant_name, inbox, due_date, "
        "server_receipt) VALUES (?,?,?,NULL,?,?,?,?,0,?,?,?,?)",
        (case_id, change.reference_number, status.value, now, now, form_id, form_version,
         change.applicant_name, inbox, change.due_date,
         # The revision the server holds (what a release names), as a receipt would.
         _dump({"revision": revision, "accepted_at": change.at, "pulled": change.kind})
         if revision >= 1 else None))
    held.hold(conn, case_id)
    # A case the office holds a revision of continues after it when worked on here.
    local_revision = revision + 1 if revision and not submitted else revision
    conn.execute("INSERT INTO case_forms(case_id, answers_sealed, form_version, revision, "
                 "updated_at) VALUES (?,?,?,?,?)",
                 (case_id, cases.seal_answers(conn, case_id, dict(change.form)),
                  form_version, local_revision, now))
    # An assignment's facts (a resync's or a handover's state carries them too, when the
    # case began as one); a case that was never assigned has none.
    assigned = change.kind == "assigned" or bool(change.prefilled) or bool(change.due_date)
    conn.execute("INSERT INTO case_office(case_id, assigned_at) VALUES (?,?)",
                 (case_id, change.at if assigned else None))
    write_office(conn, case_id, assigned_by=change.by if assigned else None,
                 office_note=change.note if change.kind == "assigned" else "",
                 prefilled=sorted(change.prefilled))
    why = "prefilled" if change.kind == "assigned" else "office"
    for key in sorted(change.form):
        field_history.record(conn, case_id, key, None, change.form[key], why=why,
                             by=change.by, at=change.at,
                             note="" if change.kind == "assigned" else change.kind)
    for photo in change.photos:
        _photo_to_fetch(conn, case_id, photo)
    append_event(conn, case_id, "created", {"by_office": change.kind, "seq": change.seq,
                                            "reference_number": change.reference_number})
    applied.case_changes.append(CaseChange(case_id=case_id, status=status,
                                           revision=local_revision))


def _refresh_case(conn: Connection, change: PulledChange, case_id: str) -> None:
    """A case this device has already: the office's facts are refreshed (due date, note,
    a handover granted, the read-only mark of a resync lifted); answers the verifier
    may have typed are never replaced — a difference is a conflict."""
    if change.kind == "assigned":
        conn.execute("UPDATE cases SET due_date = ? WHERE id = ?", (change.due_date, case_id))
        write_office(conn, case_id, office_note=change.note)
    if change.kind == "handover_in":
        # A handover this device asked for (an imported copy) was granted.
        conn.execute("UPDATE case_office SET handover = NULL WHERE case_id = ?", (case_id,))
        write_office(conn, case_id, handover_note="")
    conn.execute("INSERT OR IGNORE INTO case_office(case_id) VALUES (?)", (case_id,))
    conn.execute("UPDATE cases SET locked_reason = NULL WHERE id = ? AND locked_reason = ?",
                 (case_id, NO_LONGER_GIVEN))
    # A handover granted to a copy here (an imported case): where the copies differ,
    # the verifier chooses. (A resync's state is older than a draft's typing: no choice.)
    if change.kind == "handover_in" and cases.case_status(conn, case_id) is CaseStatus.DRAFT:
        local = current_form(conn, case_id)
        for key, value in sorted(change.form.items()):
            if key in local and local[key] != value:
                _conflict(conn, case_id, change, "field", field_key=key, server=value,
                          local=local[key])
    held_ids = {str(r[0]) for r in conn.query_all(
        "SELECT client_image_id FROM case_images WHERE case_id = ?", (case_id,))}
    for photo in change.photos:
        if photo.client_image_id not in held_ids:
            _photo_to_fetch(conn, case_id, photo)


def _photo_to_fetch(conn: Connection, case_id: str, photo: PulledPhoto, *,
                    held_back: bool = False) -> None:
    facts = {"sha256": photo.sha256, "latitude": photo.latitude,
             "longitude": photo.longitude, "accuracy": photo.accuracy,
             "address": photo.address}
    conn.execute(
        "INSERT INTO photos_to_fetch(client_image_id, case_id, server_image_id, sha256, "
        "byte_size, slot, photo_sealed, captured_at, held_back) "
        "VALUES (?,?,?,'',?,?,?,?,?) ON CONFLICT(client_image_id) DO NOTHING",
        (photo.client_image_id, case_id, photo.server_image_id, photo.byte_size,
         photo.slot, sealed.seal_document(conn, "photos_to_fetch", facts, case_id=case_id,
                                          key=photo.client_image_id),
         photo.captured_at, 1 if held_back else 0))


def _newest_pushed_version(conn: Connection, form_id: str) -> str | None:
    versions = [str(r[0]) for r in conn.query_all(
        "SELECT version FROM pushed_forms WHERE form_id = ?", (form_id,))]
    return max(versions, key=version_key) if versions else None


def version_key(version: str) -> tuple[int, ...] | tuple[str]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (version,)


# -- returns, decisions -------------------------------------------------------------------
def _store_decision(conn: Connection, change: PulledChange, case_id: str,
                    decision: str) -> bool:
    """Record a decision; False if this decision on this revision was here already."""
    revision = int(change.revision or 0)
    known = conn.query_one("SELECT decision_sealed, note, by FROM case_decisions WHERE "
                           "case_id = ? AND revision = ? AND decision = ?",
                           (case_id, revision, decision))
    # A decision stated again keeps who made it first (its note and reason may change).
    by = change.by if known is None else decision_words(conn, case_id, *known)["by"]
    words = sealed.seal_document(conn, "case_decisions", {"note": change.note, "by": by},
                                 case_id=case_id)
    conn.execute(
        "INSERT INTO case_decisions(case_id, revision, decision, reason_code, reason_label, "
        "decision_sealed, at) VALUES (?,?,?,?,?,?,?) "
        "ON CONFLICT(case_id, revision, decision) "
        "DO UPDATE SET reason_code = excluded.reason_code, "
        "reason_label = excluded.reason_label, decision_sealed = excluded.decision_sealed, "
        "note = '', by = ''",
        (case_id, revision, decision, change.reason_code, change.reason_label, words,
         change.at))
    return known is None


def _sent_revision(conn: Connection, case_id: str) -> int | None:
    """The revision the server's receipt names (None: never accepted)."""
    receipt = conn.scalar("SELECT server_receipt FROM cases WHERE id = ?", (case_id,))
    if not receipt:
        return None
    value = json.loads(receipt).get("revision")
    return int(value) if isinstance(value, int) else None


def _store_return(conn: Connection, change: PulledChange, case_id: str) -> bool:
    """The return's comments and decision; False if this return was here already."""
    revision = int(change.revision or 0)
    conn.execute("DELETE FROM review_comments WHERE case_id = ? AND revision = ?",
                 (case_id, revision))
    for comment in change.comments:
        words = sealed.seal_document(conn, "review_comments",
                                     {"text": comment.text, "author": comment.author},
                                     case_id=case_id)
        conn.execute("INSERT INTO review_comments(case_id, revision, field_key, "
                     "client_image_id, comment_sealed, text, author, at) "
                     "VALUES (?,?,?,?,?,'','',?)",
                     (case_id, revision, comment.field_key, comment.client_image_id,
                      words, comment.at))
    return _store_decision(conn, change, case_id, "returned")


def _returned(conn: Connection, change: PulledChange, case_id: str,
              applied: Applied) -> None:
    if not _exists(conn, case_id):
        log.info("a return of a case not on this device; ignored")
        return
    revision = int(change.revision or 0)
    if not _store_return(conn, change, case_id):
        return  # this return was taken (or shown as a conflict) before
    status = cases.case_status(conn, case_id)
    purged = conn.scalar("SELECT purged_at FROM cases WHERE id = ?", (case_id,))
    sent = _sent_revision(conn, case_id)
    if status is CaseStatus.SYNCED and not purged and (not revision or sent == revision):
        applied.case_changes.append(cases.transition(conn, case_id, Change.RETURNED))
        return
    local_revision = cases.load_case(conn, case_id).revision
    _conflict(conn, case_id, change, "status", server="returned",
              local={"status": status.value, "revision": local_revision},
              local_at=str(conn.scalar("SELECT last_saved FROM cases WHERE id = ?",
                                       (case_id,)) or ""))


def _conflict(conn: Connection, case_id: str, change: PulledChange, kind: str, *,
              server: Any, local: Any, field_key: str | None = None,
              client_image_id: str | None = None, local_by: str | None = None,
              local_at: str | None = None) -> None:
    if field_key is not None and (local_by is None or local_at is None):
        last = field_history.last_change(conn, case_id, field_key)
        if last is not None:
            local_by = local_by if local_by is not None else last[0]
            local_at = local_at if local_at is not None else last[1]
    values = {"server": server, "server_by": change.by, "local": local,
              "local_by": local_by if local_by is not None else field_history.actor(conn)}
    inserted = conn.execute(
        "INSERT OR IGNORE INTO conflicts(case_id, seq, kind, field_key, client_image_id, "
        "values_sealed, server_at, local_at) VALUES (?,?,?,?,?,?,?,?)",
        (case_id, change.seq, kind, field_key, client_image_id,
         sealed.seal_document(conn, "conflicts", values, case_id=case_id, key=kind),
         change.at, local_at or now_text()))
    if inserted:
        append_event(conn, case_id, "conflict", {"kind": kind, "field_key": field_key,
                                                 "client_image_id": client_image_id,
                                                 "seq": change.seq})


# -- office edits ---------------------------------------------------------------------
def _announce(conn: Connection, case_id: str, applied: Applied,
              answers: tuple[tuple[str, Any], ...] = ()) -> None:
    """Tell every view (the list, an open case) that what the office sent about a case
    changed; its status is unchanged (`change` None, the revision the stored one)."""
    revision = conn.scalar("SELECT revision FROM case_forms WHERE case_id = ?", (case_id,))
    applied.case_changes.append(CaseChange(
        case_id=case_id, status=cases.case_status(conn, case_id),
        revision=int(revision or 0), answers=answers))


def _office_edit(conn: Connection, change: PulledChange, case_id: str,
                 applied: Applied) -> None:
    taken = None
    if change.field_key:
        taken = _office_field(conn, change, case_id, change.field_key)
    for photo in change.photos:
        _office_photo(conn, change, case_id, photo)
    # Also a conflict: the open case shows the chooser at once.
    _announce(conn, case_id, applied,
              () if taken is None else ((taken, change.value),))


def _office_field(conn: Connection, change: PulledChange, case_id: str,
                  key: str) -> str | None:
    """Take the office's value of one answer; returns its key if taken (None: it was
    already so, or it is a conflict)."""
    form = current_form(conn, case_id)
    local = form.get(key)
    if local == change.value:
        return None  # already so (applied before, or both made the same change)
    if local != change.base_value:
        _conflict(conn, case_id, change, "field", field_key=key, server=change.value,
                  local=local)
        return None
    # Nobody here changed it since the office's version: the office's value is taken,
    # in the stored form and any write-ahead edit of the same answer.
    stored = cases.stored_answers(conn, case_id)
    stored[key] = change.value
    cases.write_answers(conn, case_id, stored)
    conn.execute("DELETE FROM case_edits WHERE case_id = ? AND field_key = ?",
                 (case_id, key))
    field_history.record(conn, case_id, key, local, change.value, why="office",
                         by=change.by, at=change.at, note=change.note)
    return key


def _office_photo(conn: Connection, change: PulledChange, case_id: str,
                  photo: PulledPhoto) -> None:
    if conn.scalar("SELECT EXISTS (SELECT 1 FROM case_images WHERE client_image_id = ?) "
                   "OR EXISTS (SELECT 1 FROM photos_to_fetch WHERE client_image_id = ?)",
                   (photo.client_image_id, photo.client_image_id)):
        return
    mine = conn.query_one(
        "SELECT client_image_id, captured_at FROM case_images WHERE case_id = ? AND "
        "slot IS ? AND synced = 0 AND coalesce(source, '') <> 'pulled' ORDER BY id DESC "
        "LIMIT 1", (case_id, photo.slot)) if photo.slot else None
    if mine is None:
        _photo_to_fetch(conn, case_id, photo)
        return
    _photo_to_fetch(conn, case_id, photo, held_back=True)
    _conflict(conn, case_id, change, "photo", client_image_id=photo.client_image_id,
              server=photo.model_dump(mode="json"),
              local={"client_image_id": mine[0], "slot": photo.slot},
              local_at=str(mine[1] or ""))


# -- handover, withdrawal -------------------------------------------------------------
def _set_handover(conn: Connection, case_id: str, state: str, note: str) -> None:
    conn.execute("INSERT OR IGNORE INTO case_office(case_id) VALUES (?)", (case_id,))
    conn.execute("UPDATE case_office SET handover = ? WHERE case_id = ?", (state, case_id))
    write_office(conn, case_id, handover_note=note)
    append_event(conn, case_id, "handover", {"state": state})


def _withdrawn(conn: Connection, change: PulledChange, case_id: str,
               applied: Applied) -> None:
    held.let_go(conn, case_id)
    status = cases.case_status(conn, case_id)
    if status is CaseStatus.DRAFT and not field_history.typed_anything(conn, case_id):
        remove_case_rows(conn, case_id)
        append_event(conn, None, "assignment_withdrawn", {"case_id": case_id})
        applied.case_changes.append(CaseChange(case_id=case_id, status=status, revision=0,
                                               removed=True))
        return
    conn.execute("UPDATE cases SET locked_reason = ?, inbox = NULL WHERE id = ?",
                 (change.note or WITHDRAWN_KEPT, case_id))
    append_event(conn, case_id, "assignment_withdrawn", {"kept": True})
    applied.case_changes.append(CaseChange(case_id=case_id, status=status, revision=0))


CASE_TABLES = ("case_edits", "case_images", "case_forms", "case_events", "field_history",
               "review_comments", "case_decisions", "conflicts", "photos_to_fetch",
               "case_office", "held_cases", "resync_seen")


def remove_case_rows(conn: Connection, case_id: str) -> None:
    """Every row of a case (its files are the caller's). The held set is the caller's
    too (`held.let_go` first, so the digest follows)."""
    for table in CASE_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE case_id = ?", (case_id,))
    conn.execute("DELETE FROM cases WHERE id = ?", (case_id,))


# -- resync -----------------------------------------------------------------------------
def _reconcile(conn: Connection, applied: Applied) -> None:
    """The last page of a resync: every case the server gave is held (added by its
    case_state); a held case it did not give is kept read-only, never deleted."""
    gone = [str(r[0]) for r in conn.query_all(
        "SELECT case_id FROM held_cases WHERE case_id NOT IN (SELECT case_id FROM "
        "resync_seen)")]
    for case_id in gone:
        held.let_go(conn, case_id)
        conn.execute("UPDATE cases SET locked_reason = coalesce(locked_reason, ?) "
                     "WHERE id = ?", (NO_LONGER_GIVEN, case_id))
        append_event(conn, case_id, "no_longer_given", {})
        status = cases.case_status(conn, case_id)
        applied.case_changes.append(CaseChange(case_id=case_id, status=status, revision=0))
    held.recompute(conn)
    conn.execute("DELETE FROM resync_seen")


# -- pushed forms ---------------------------------------------------------------------
def _store_form(conn: Connection, change: PulledChange) -> str | None:
    """Check a pushed form definition (hash, then schema) and keep it; a broken one is
    refused with a reason (an event the UI shows) and the old versions stay."""
    from kycdesk.core.form_schema import FormDefinition

    definition = change.definition
    problem: str | None = None
    parsed: FormDefinition | None = None
    if definition is None or change.definition_sha256 is None:
        problem = "it came without its definition or its SHA-256"
    elif form_definition_sha256(definition) != change.definition_sha256:
        problem = "its SHA-256 does not match (damaged on the way)"
    else:
        try:
            parsed = FormDefinition.model_validate(definition)
        except ValueError as exc:
            problem = f"it is not a valid form ({str(exc).splitlines()[0]})"
    if parsed is not None and change.form_id and parsed.form_id != change.form_id:
        problem = "its form id differs from the one announced"
    if parsed is not None and change.form_version and parsed.version != change.form_version:
        problem = "its version differs from the one announced"
    name = f"{change.form_id or '?'} version {change.form_version or '?'}"
    if problem is not None or parsed is None or definition is None:
        message = f"A new form ({name}) from the office was refused: {problem}. " \
                  "Cases keep using the forms already on this device."
        append_event(conn, None, "form_refused", {"form_id": change.form_id,
                                                  "form_version": change.form_version,
                                                  "reason": problem, "message": message})
        return message
    existing = conn.scalar("SELECT sha256 FROM pushed_forms WHERE form_id = ? AND "
                           "version = ?", (parsed.form_id, parsed.version))
    if existing is not None and existing != change.definition_sha256:
        message = (f"A new form ({name}) from the office was refused: this version is "
                   "already here with other content. Cases keep using it.")
        append_event(conn, None, "form_refused", {"form_id": parsed.form_id,
                                                  "form_version": parsed.version,
                                                  "reason": "version reused",
                                                  "message": message})
        return message
    conn.execute("INSERT OR IGNORE INTO pushed_forms(form_id, version, definition_json, "
                 "definition_sealed, sha256, received_at) VALUES (?,?,'',?,?,?)",
                 (parsed.form_id, parsed.version,
                  sealed.seal(conn, definition, case_id=None,
                              field=pushed_form_field(parsed.form_id, parsed.version)),
                  change.definition_sha256, now_text()))
    if existing is None:
        append_event(conn, None, "form_received", {"form_id": parsed.form_id,
                                                   "form_version": parsed.version})
    return None


def pushed_forms(conn: Connection) -> list[FormDefinition]:
    """The form definitions the office pushed (checked when they arrived)."""
    from kycdesk.core.form_schema import FormDefinition

    return [FormDefinition.model_validate(sealed.read(
                conn, definition, case_id=None, field=pushed_form_field(form_id, version),
                clear=sealed.clear_json(text)))
            for form_id, version, definition, text in conn.query_all(
                "SELECT form_id, version, definition_sealed, definition_json "
                "FROM pushed_forms ORDER BY form_id, version")]


def pushed_form_field(form_id: str, version: str) -> str:
    return sealed.field_name("pushed_forms", f"{form_id}/{version}")


# -- what the office said, sealed (case_office, case_decisions) ---------------------------
def office_words(conn: Connection, case_id: str) -> dict[str, Any]:
    """A case's case_office words: assigned_by, office_note, prefilled (answer keys) and
    handover_note (sealed, or a row still in clear); empty ones if the case has no row."""
    row = conn.query_one("SELECT office_sealed, assigned_by, office_note, prefilled_json, "
                         "handover_note FROM case_office WHERE case_id = ?", (case_id,))
    if row is None:
        return {"assigned_by": None, "office_note": "", "prefilled": [], "handover_note": ""}
    return sealed.read_document(
        conn, "case_office", row[0], case_id=case_id,
        clear=lambda: {"assigned_by": row[1], "office_note": row[2] or "",
                       "prefilled": sealed.loads(row[3], []),
                       "handover_note": row[4] or ""})


_OFFICE_WORDS = ("assigned_by", "office_note", "prefilled", "handover_note")


def write_office(conn: Connection, case_id: str, **changes: Any) -> None:
    """Change some of a case's case_office words (the row exists): the row's words are
    sealed again whole, its clear columns emptied."""
    if set(changes) - set(_OFFICE_WORDS):
        raise ValueError(f"not case_office words: {sorted(set(changes) - set(_OFFICE_WORDS))}")
    words = {**office_words(conn, case_id), **changes}
    blank, values = sealed.emptied("case_office")
    conn.execute(f"UPDATE case_office SET office_sealed = ?, {blank} WHERE case_id = ?",
                 (sealed.seal_document(conn, "case_office", words, case_id=case_id),
                  *values, case_id))


def decision_words(conn: Connection, case_id: str, decision_sealed: bytes | None,
                   note: str | None, by: str | None) -> dict[str, Any]:
    """A case_decisions row's note and by (sealed, or a row still in clear)."""
    return sealed.read_document(conn, "case_decisions", decision_sealed, case_id=case_id,
                                clear=lambda: {"note": note or "", "by": by or ""})
