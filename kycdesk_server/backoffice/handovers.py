"""Handing a case (and its authority) from one tablet to another (issue 17).

Two-phase, so nothing typed on the old tablet is lost:
1. a supervisor hands the case over (or grants a tablet's request for it): the old
   tablet gets `handover_out`; the authority stays with it;
2. the old tablet sends what it has not sent, then `POST /v1/cases/{id}/release`
   (`release`): in one transaction the case's owner becomes the new tablet, the case
   leaves the old tablet's held set and the new one gets `handover_in` (answers of the
   newest revision and its photos).
Forced (the old tablet is lost or offline for long): phase 2 happens at once; the old
tablet is told, by a `withdrawn` change with reason `handed_over`, to keep its copy
read-only — anything it had not sent can then no longer reach the server. The office's
page says so before the supervisor confirms.

A tablet holding an imported copy of another's case asks for it
(`POST /v1/cases/{id}/handover-requests`, `request`); a supervisor grants it (a handover
as above) or refuses it (`handover_refused` to the asking tablet). Every office act is one
transaction with its feed rows and its audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from kycdesk.core.protocol import HandoverRequest, Release
from kycdesk_server import case_state, feed
from kycdesk_server.backoffice.assignments import (
    AssignmentService,
    InvalidActError,
    require_supervisor,
)
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import CaseNotFoundError, ReviewConflictError
from kycdesk_server.database import Database
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.storage import now

HandoverState = Literal["requested", "refused", "handing_out", "released", "forced",
                        "cancelled"]
FORCED_REASON = "handed_over"
FORCED_NOTE = ("The office handed this case to another tablet while this one was "
               "offline. Anything not sent from here can no longer reach the server; "
               "keep this copy read-only and tell the office if it held unsent work.")
FORCE_WARNING = ("The old tablet cannot send anything it has not sent yet once the case "
                 "is handed over by force; it will be told to keep its copy read-only.")


@dataclass(frozen=True)
class Handover:
    id: str
    case_id: str
    from_device: str
    from_name: str
    to_device: str
    to_name: str
    state: HandoverState
    reason: str
    created_at: str
    reference: str


class HandoverService:
    def __init__(self, db: Database, audit: AuditLog, assignments: AssignmentService
                 ) -> None:
        self.db, self.audit, self.assignments = db, audit, assignments

    # -- reading --------------------------------------------------------------------
    _SELECT = (
        "SELECT h.id, h.case_id, h.from_device, COALESCE(f.name, h.from_device), "
        "h.to_device, COALESCE(t.name, h.to_device), h.state, h.reason, h.created_at, "
        "COALESCE(a.reference, r.reference, '') FROM handovers h "
        "LEFT JOIN devices f ON f.id = h.from_device "
        "LEFT JOIN devices t ON t.id = h.to_device "
        "LEFT JOIN assignments a ON a.case_id = h.case_id "
        "LEFT JOIN review_cases r ON r.case_id = h.case_id ")

    def list(self, *, states: tuple[HandoverState, ...] = ("requested", "handing_out"),
             limit: int = 200) -> list[Handover]:
        """Open requests and handovers under way (newest first)."""
        marks = ",".join("?" * len(states))
        rows = self.db.execute(
            f"{self._SELECT}WHERE h.state IN ({marks}) ORDER BY h.created_at DESC, h.id "
            "LIMIT ?", (*states, int(limit))).fetchall()
        return [Handover(*r) for r in rows]

    def get(self, handover_id: str) -> Handover:
        row = self.db.execute(f"{self._SELECT}WHERE h.id = ?", (handover_id,)).fetchone()
        if row is None:
            raise CaseNotFoundError("No such handover.")
        return Handover(*row)

    # -- the office -----------------------------------------------------------------
    def hand_over(self, actor: Reviewer, case_id: str, to_device_name: str, *,
                  force: bool = False, note: str = "", address: str) -> str:
        """Start handing the case to another tablet (or, forced, do it now)."""
        require_supervisor(actor)
        to_device = self.assignments.device_named(to_device_name).id
        with self.db.transaction():
            owner = self._owner(case_id)
            if owner == to_device:
                raise InvalidActError("That tablet already has this case.")
            self._refuse_if_open(case_id, force=force)
            handover_id = uuid.uuid4().hex
            self.db.execute(
                "INSERT INTO handovers(id, case_id, from_device, to_device, state, reason, "
                "created_at, created_by, note) VALUES (?,?,?,?,'requested',?,?,?,?)",
                (handover_id, case_id, owner, to_device, "", now(), actor.id,
                 note.strip()))
            self._start(actor, handover_id, case_id, owner, to_device, force=force,
                        note=note, address=address)
        return handover_id

    def grant(self, actor: Reviewer, handover_id: str, *, force: bool = False,
              address: str) -> None:
        """A tablet's request for a case, granted: a handover from the case's owner."""
        require_supervisor(actor)
        with self.db.transaction():
            request = self._request_row(handover_id)
            owner = self._owner(request.case_id)
            self._refuse_if_open(request.case_id, force=force, besides=handover_id)
            self.db.execute("UPDATE handovers SET from_device = ? WHERE id = ?",
                            (owner, handover_id))
            self._start(actor, handover_id, request.case_id, owner, request.to_device,
                        force=force, note="", address=address)

    def refuse(self, actor: Reviewer, handover_id: str, *, note: str = "",
               address: str) -> None:
        require_supervisor(actor)
        with self.db.transaction():
            request = self._request_row(handover_id)
            self.db.execute("UPDATE handovers SET state = 'refused', decided_by = ?, "
                            "decided_at = ?, note = ? WHERE id = ?",
                            (actor.id, now(), note.strip(), handover_id))
            feed.append(self.db, request.to_device, "handover_refused", request.case_id,
                        {"at": now(), "by": actor.username, "note": note.strip()})
            self.audit.record("case.handover_refused", actor=actor, address=address,
                              object_type="case", object_id=request.case_id,
                              detail={"handover_id": handover_id,
                                      "device_id": request.to_device})

    # -- the tablets ----------------------------------------------------------------
    def request(self, device_id: str, case_id: str, body: HandoverRequest) -> str:
        """A tablet with an imported copy of another tablet's case asks for it (202).
        Asked again while the request is open: the same request."""
        with self.db.transaction():
            owner = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                                    (case_id,)).fetchone()
            if owner is None:
                raise RequestRefusedError(404, "Case not on the server",
                                          "No tablet has sent this case; send it from "
                                          "here instead.")
            if str(owner[0]) == device_id:
                raise RequestRefusedError(409, "Already this device's case",
                                          "This case already belongs to this device.")
            open_row = self.db.execute(
                "SELECT id FROM handovers WHERE case_id = ? AND to_device = ? "
                "AND state IN ('requested', 'handing_out')", (case_id, device_id)).fetchone()
            if open_row is not None:
                return str(open_row[0])
            handover_id = uuid.uuid4().hex
            self.db.execute(
                "INSERT INTO handovers(id, case_id, from_device, to_device, state, reason, "
                "created_at, created_by) VALUES (?,?,?,?,'requested',?,?,?)",
                (handover_id, case_id, str(owner[0]), device_id, body.reason.strip(),
                 now(), device_id))
            self.audit.record("case.handover_requested", actor=None, address=device_id,
                              object_type="case", object_id=case_id,
                              detail={"handover_id": handover_id, "device_id": device_id})
        return handover_id

    def release(self, device_id: str, case_id: str, body: Release) -> None:
        """The old tablet has sent everything: the case moves to the new one now.
        Released already (a lost reply): the same answer."""
        with self.db.transaction():
            row = self.db.execute(
                "SELECT id, to_device, state FROM handovers WHERE case_id = ? "
                "AND from_device = ? AND state IN ('handing_out', 'released', 'forced') "
                "ORDER BY created_at DESC LIMIT 1", (case_id, device_id)).fetchone()
            if row is None:
                raise RequestRefusedError(409, "No handover under way",
                                          "The office has not handed this case to another "
                                          "device.")
            handover_id, to_device, state = str(row[0]), str(row[1]), str(row[2])
            if state == "released":
                return
            if state == "forced":
                raise RequestRefusedError(409, "Handed over by the office",
                                          FORCED_NOTE)
            held = self.db.execute("SELECT revision FROM submissions WHERE case_id = ?",
                                   (case_id,)).fetchone()
            if body.last_revision > (int(held[0]) if held else 0):
                raise RequestRefusedError(
                    409, "Revision not on the server",
                    f"The server does not hold revision {body.last_revision} of this case "
                    "yet; send it before letting the case go.")
            feed.lock(self.db, [device_id, to_device])
            feed.hold(self.db, device_id, case_id, -1)
            self._complete(handover_id, case_id, to_device, state="released", by="")

    # -- internals ------------------------------------------------------------------
    def _start(self, actor: Reviewer, handover_id: str, case_id: str, owner: str,
               to_device: str, *, force: bool, note: str, address: str) -> None:
        self.db.execute("UPDATE handovers SET decided_by = ?, decided_at = ? WHERE id = ?",
                        (actor.id, now(), handover_id))
        feed.lock(self.db, [owner, to_device])
        if force:
            feed.append(self.db, owner, "withdrawn", case_id,
                        {"at": now(), "by": actor.username, "reason_code": FORCED_REASON,
                         "reason_label": "Handed to another tablet",
                         "note": (note.strip() + "\n" if note.strip() else "")
                         + FORCED_NOTE}, held_delta=-1)
            self._complete(handover_id, case_id, to_device, state="forced",
                           by=actor.username)
        else:
            self.db.execute("UPDATE handovers SET state = 'handing_out' WHERE id = ?",
                            (handover_id,))
            revision, _ = case_state.current_answers(self.db, case_id)
            feed.append(self.db, owner, "handover_out", case_id,
                        {"at": now(), "by": actor.username, "revision": revision,
                         "note": note.strip()})
        self.audit.record("case.handover_forced" if force else "case.handover_started",
                          actor=actor, address=address, object_type="case",
                          object_id=case_id,
                          detail={"handover_id": handover_id, "from_device": owner,
                                  "to_device": to_device})

    def _complete(self, handover_id: str, case_id: str, to_device: str, *,
                  state: HandoverState, by: str) -> None:
        """The authority moves: owner, the new tablet's held set, its handover_in."""
        self.db.execute("UPDATE case_owners SET device_id = ?, claimed_at = ? "
                        "WHERE case_id = ?", (to_device, now(), case_id))
        self.db.execute("UPDATE handovers SET state = ? WHERE id = ?", (state, handover_id))
        payload = case_state.snapshot(self.db, case_id)
        payload.update({"at": now(), "by": by or payload.get("by", "")})
        feed.append(self.db, to_device, "handover_in", case_id, payload, held_delta=+1)

    def _owner(self, case_id: str) -> str:
        row = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                              (case_id,)).fetchone()
        if row is None:
            raise CaseNotFoundError("No tablet has this case.")
        return str(row[0])

    def _refuse_if_open(self, case_id: str, *, force: bool, besides: str = "") -> None:
        """One handover at a time; forcing cancels the one under way (its old tablet is
        told by the forced handover's `withdrawn`)."""
        rows = self.db.execute("SELECT id FROM handovers WHERE case_id = ? "
                               "AND state = 'handing_out' AND id <> ?",
                               (case_id, besides)).fetchall()
        if rows and not force:
            raise ReviewConflictError("This case is already being handed over; wait for "
                                      "the old tablet to send it, or hand it over by force.")
        for (open_id,) in rows:
            self.db.execute("UPDATE handovers SET state = 'cancelled' WHERE id = ?",
                            (open_id,))

    def _request_row(self, handover_id: str) -> Handover:
        row = self.db.execute("SELECT state FROM handovers WHERE id = ?",
                              (handover_id,)).fetchone()
        if row is None:
            raise CaseNotFoundError("No such request.")
        if row[0] != "requested":
            raise ReviewConflictError("This request was already answered.")
        return self.get(handover_id)
