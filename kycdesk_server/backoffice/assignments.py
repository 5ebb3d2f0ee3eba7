"""Cases created in the office for a tablet (issue 17): a supervisor assigns a case
(reference, applicant, address, prefilled answers, due date) to a device picked by its
name; corrects an answer of a case a tablet holds; withdraws an assignment nothing was
submitted for. Each act is one transaction: the rows, the device's feed row (and its held
set when authority moves) and the audit row.

There is no per-verifier sign-in on the tablet yet (issue 18): a case is assigned to a
*device*; "who" on the tablet is its verifier name from settings, else the device name.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from kycdesk.core.form_schema import FieldKind, FormDefinition
from kycdesk.core.protocol import MAX_TEXT
from kycdesk_server import case_state, feed
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import (
    CaseNotFoundError,
    NotAllowedError,
    ReviewConflictError,
    ReviewError,
)
from kycdesk_server.database import Database
from kycdesk_server.forms import FormCatalogue
from kycdesk_server.storage import now

AssignmentStatus = Literal["waiting", "on_tablet", "submitted", "withdrawn",
                           "handed_over"]
STATUS_LABELS: dict[str, str] = {"waiting": "Waiting to be pulled",
                                 "on_tablet": "On the tablet", "submitted": "Submitted",
                                 "withdrawn": "Withdrawn",
                                 "handed_over": "Handed to another tablet"}
MAX_ASSIGNMENTS_LISTED = 500


class InvalidActError(ReviewError):
    status, title = 422, "Not valid"


@dataclass(frozen=True)
class DeviceChoice:
    id: str
    name: str


@dataclass(frozen=True)
class NewAssignment:
    reference: str
    applicant_name: str
    device_name: str
    form_id: str
    form_version: str
    address: str = ""
    due_date: str | None = None           # YYYY-MM-DD
    prefill: dict[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class AssignmentRow:
    case_id: str
    reference: str
    applicant_name: str
    device_id: str
    device_name: str
    due_date: str | None
    created_at: str
    created_by: str
    status: AssignmentStatus
    status_label: str


def require_supervisor(actor: Reviewer) -> None:
    if not actor.may_assign():
        raise NotAllowedError("Only a supervisor or an admin does this.")


def prefillable(definition: FormDefinition) -> dict[str, Any]:
    """The fields the office may prefill (answers, not photos or signatures)."""
    return {f.key: f for f in definition.fields()
            if f.kind not in (FieldKind.PHOTO, FieldKind.SIGNATURE)}


def _check_value(key: str, value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise InvalidActError(f"The answer for {key!r} is too long.")
    if not isinstance(value, str | int | float | bool | list) or value is None:
        raise InvalidActError(f"The answer for {key!r} is not a value a form holds.")


class AssignmentService:
    def __init__(self, db: Database, audit: AuditLog, forms: FormCatalogue) -> None:
        self.db, self.audit, self.forms = db, audit, forms

    # -- reading --------------------------------------------------------------------
    def devices(self) -> list[DeviceChoice]:
        """Tablets a case can be given to (enrolled, not revoked), by name."""
        # Not the server's own archive-ingest device (kycdesk_server.ingest): nobody
        # carries it.
        rows = self.db.execute("SELECT id, name FROM devices WHERE revoked_at IS NULL "
                               "AND id <> 'archive-ingest' ORDER BY name, id").fetchall()
        return [DeviceChoice(str(r[0]), str(r[1])) for r in rows]

    def device_named(self, name: str) -> DeviceChoice:
        """The one active device with this name (or id); a clear refusal otherwise."""
        wanted = name.strip()
        found = [d for d in self.devices() if wanted in (d.id, d.name)] or \
            [d for d in self.devices() if d.name.casefold() == wanted.casefold()]
        if not found:
            raise InvalidActError(f"No enrolled tablet is named {wanted!r}.")
        if len(found) > 1:
            raise InvalidActError(f"{len(found)} tablets are named {wanted!r}; pick one by "
                                  "its id.")
        return found[0]

    def list(self, *, device_id: str | None = None,
             limit: int = MAX_ASSIGNMENTS_LISTED) -> list[AssignmentRow]:
        """The newest assignments first, each with where it stands."""
        where, params = "", []
        if device_id:
            where, params = " WHERE a.device_id = ?", [device_id]
        rows = self.db.execute(
            "SELECT a.case_id, a.reference, a.applicant_name, "
            "COALESCE(o.device_id, a.device_id), COALESCE(d.name, o.device_id, a.device_id), "
            "a.due_date, a.created_at, a.created_by_name, a.withdrawn_at, a.feed_seq, "
            "COALESCE(h.pulled_seq, 0), "
            "(SELECT count(*) FROM submissions s WHERE s.case_id = a.case_id), a.device_id "
            "FROM assignments a LEFT JOIN case_owners o ON o.case_id = a.case_id "
            "LEFT JOIN devices d ON d.id = COALESCE(o.device_id, a.device_id) "
            "LEFT JOIN device_held h ON h.device_id = a.device_id"
            f"{where} ORDER BY a.created_at DESC, a.case_id LIMIT ?",
            (*params, int(limit))).fetchall()
        found = []
        for r in rows:
            # The tablet shown is the case's current one (after a handover, the new).
            status: AssignmentStatus = "withdrawn" if r[8] else "submitted" if r[11] \
                else "handed_over" if r[3] != r[12] \
                else "on_tablet" if r[10] >= r[9] else "waiting"
            found.append(AssignmentRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
                                       status, STATUS_LABELS[status]))
        return found

    # -- acting ---------------------------------------------------------------------
    def create(self, actor: Reviewer, new: NewAssignment, *, address: str) -> str:
        """A new case on the chosen tablet (its authority: the tablet may upload and
        submit to it); returns the case id."""
        require_supervisor(actor)
        definition = self._check(new)
        device = self.device_named(new.device_name)
        case_id = str(uuid.uuid4())
        prefill = {k: v for k, v in new.prefill.items() if v not in ("", None)}
        with self.db.transaction():
            self.db.execute("INSERT INTO case_owners(case_id, device_id, claimed_at) "
                            "VALUES (?, ?, ?)", (case_id, device.id, now()))
            self.db.execute(
                "INSERT INTO assignments(case_id, reference, applicant_name, address, "
                "form_id, form_version, prefill_json, due_date, note, device_id, feed_seq, "
                "created_by, created_by_name, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,?)",
                (case_id, new.reference.strip(), new.applicant_name.strip(),
                 new.address.strip(), definition.form_id, definition.version,
                 json.dumps(prefill, sort_keys=True), new.due_date or None,
                 new.note.strip(), device.id, actor.id, actor.username, now()))
            seq = feed.append(self.db, device.id, "assigned", case_id,
                              case_state.assignment_payload(self.db, case_id), held_delta=+1)
            self.db.execute("UPDATE assignments SET feed_seq = ? WHERE case_id = ?",
                            (seq, case_id))
            self.audit.record("case.assigned_to_device", actor=actor, address=address,
                              object_type="case", object_id=case_id,
                              detail={"device_id": device.id, "due_date": new.due_date,
                                      "prefilled": len(prefill),
                                      "form": f"{definition.form_id}/{definition.version}"})
        return case_id

    def withdraw(self, actor: Reviewer, case_id: str, *, note: str = "",
                 address: str) -> None:
        """Cancel an assignment nothing was submitted for: the tablet drops the draft
        (if it has unsent work it keeps it read-only: docs/sync-protocol.md)."""
        require_supervisor(actor)
        with self.db.transaction():
            row = self.db.execute("SELECT withdrawn_at FROM assignments WHERE case_id = ?",
                                  (case_id,)).fetchone()
            if row is None:
                raise CaseNotFoundError("No case was assigned from the office with this id.")
            if row[0] is not None:
                raise ReviewConflictError("This assignment was already withdrawn.")
            if self.db.execute("SELECT 1 FROM submissions WHERE case_id = ?",
                               (case_id,)).fetchone():
                raise ReviewConflictError("The tablet has already submitted this case; "
                                          "review it instead of withdrawing it.")
            owner = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                                    (case_id,)).fetchone()
            self.db.execute("DELETE FROM case_owners WHERE case_id = ?", (case_id,))
            self.db.execute("UPDATE assignments SET withdrawn_at = ? WHERE case_id = ?",
                            (now(), case_id))
            self.db.execute("UPDATE handovers SET state = 'cancelled' WHERE case_id = ? "
                            "AND state IN ('requested', 'handing_out')", (case_id,))
            devices = sorted({*feed.holders(self.db, case_id),
                              *([str(owner[0])] if owner else [])})
            feed.lock(self.db, devices)
            for device_id in devices:
                feed.append(self.db, device_id, "withdrawn", case_id,
                            {"at": now(), "by": actor.username, "note": note.strip()},
                            held_delta=-1)
            self.audit.record("case.withdrawn", actor=actor, address=address,
                              object_type="case", object_id=case_id)

    def correct(self, actor: Reviewer, case_id: str, field_key: str, value: Any, *,
                note: str = "", address: str) -> None:
        """Change one answer of a case a tablet holds (e.g. a wrong prefilled one): the
        tablet gets an `office_edit` with the value it replaces; if the verifier changed
        that answer too, the tablet keeps both and the verifier chooses."""
        require_supervisor(actor)
        _check_value(field_key, value)
        with self.db.transaction():
            holders = feed.holders(self.db, case_id)
            if not holders:
                raise CaseNotFoundError("No tablet holds this case; only a case a tablet "
                                        "holds can be corrected.")
            definition = self._definition_of(case_id)
            if definition is not None and field_key not in prefillable(definition):
                raise InvalidActError(f"The form has no answer {field_key!r}.")
            revision, answers = case_state.current_answers(self.db, case_id)
            base = answers.get(field_key)
            if base == value:
                raise InvalidActError("The answer already has this value.")
            at = now()
            self.db.execute(
                "INSERT INTO office_edits(id, case_id, after_revision, field_key, "
                "value_json, base_value_json, by_id, by_name, note, at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (uuid.uuid4().hex, case_id, revision, field_key, json.dumps(value),
                 json.dumps(base), actor.id, actor.username, note.strip(), at))
            feed.lock(self.db, holders)
            for device_id in holders:
                feed.append(self.db, device_id, "office_edit", case_id,
                            {"at": at, "by": actor.username, "revision": revision,
                             "field_key": field_key, "value": value, "base_value": base,
                             "note": note.strip()})
            self.audit.record("case.corrected", actor=actor, address=address,
                              object_type="case", object_id=case_id, revision=revision,
                              detail={"field_key": field_key})

    # -- internals ------------------------------------------------------------------
    def _check(self, new: NewAssignment) -> FormDefinition:
        if not new.reference.strip() or len(new.reference) > 100:
            raise InvalidActError("A case needs a reference (at most 100 characters).")
        if not new.applicant_name.strip() or len(new.applicant_name) > MAX_TEXT:
            raise InvalidActError("A case needs the applicant's name.")
        if len(new.address) > MAX_TEXT or len(new.note) > MAX_TEXT:
            raise InvalidActError("The address or the note is too long.")
        if new.due_date:
            try:
                date.fromisoformat(new.due_date)
            except ValueError:
                raise InvalidActError("The due date is a date like 2026-12-31.") from None
            if len(new.due_date) != 10:
                raise InvalidActError("The due date is a date like 2026-12-31.")
        definition = self.forms.get(new.form_id, new.form_version)
        if definition is None:
            raise InvalidActError(f"The server knows no form {new.form_id!r} version "
                                  f"{new.form_version!r}.")
        fields = prefillable(definition)
        for key, value in new.prefill.items():
            if key not in fields:
                raise InvalidActError(f"The form has no answer {key!r} to prefill.")
            if value not in ("", None):
                _check_value(key, value)
        return definition

    def _definition_of(self, case_id: str) -> FormDefinition | None:
        row = self.db.execute("SELECT body_json FROM submissions WHERE case_id = ?",
                              (case_id,)).fetchone()
        if row is not None:
            body = json.loads(row[0])
            return self.forms.get(body.get("form_id"), body.get("form_version"))
        row = self.db.execute("SELECT form_id, form_version FROM assignments "
                              "WHERE case_id = ?", (case_id,)).fetchone()
        return self.forms.get(row[0], row[1]) if row else None
