"""The review of cases: the queue, a case as a reviewer reads it, assignment, decisions
(approve; reject with a reason code and a note; return to the verifier with comments on
fields and photos) and their export. A plain class over the server's database; the JSON
API and the pages call it, and so will the device's pull (issue 17).

Every state change goes through review_states.next_state; a decision names the revision
it applies to and is refused (StaleRevisionError, 409) if a newer one has arrived since
the reviewer opened the case.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from kycdesk_server import case_state, feed
from kycdesk_server.backoffice import case_view
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.photo_bytes import SNIFF_BYTES, sniff
from kycdesk_server.backoffice.queue import QueuePage, QueueQuery, read_queue
from kycdesk_server.backoffice.review_states import (
    ReviewChange,
    ReviewState,
    next_state,
)
from kycdesk_server.blobs import PhotoBlobs
from kycdesk_server.database import Database
from kycdesk_server.forms import FormCatalogue
from kycdesk_server.services.validation import FormValidation
from kycdesk_server.storage import now

MAX_NOTE = 4000
_PAST = {ReviewChange.APPROVE: "approved", ReviewChange.REJECT: "rejected",
         ReviewChange.RETURN: "returned"}
MAX_COMMENTS = 200


class ReviewError(Exception):
    """A request the review refuses; `status` is the HTTP status the API answers."""

    status = 400
    title = "Refused"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class CaseNotFoundError(ReviewError):
    status, title = 404, "No such case"


class NotAllowedError(ReviewError):
    status, title = 403, "Not allowed"


class ReviewConflictError(ReviewError):
    status, title = 409, "The case has moved on"


class StaleRevisionError(ReviewConflictError):
    title = "A newer revision arrived"


class InvalidDecisionError(ReviewError):
    status, title = 422, "Decision not valid"


class UnknownTargetError(ReviewConflictError):
    """Well-formed, but names what the server does not have: a reason code not in the
    configured list, a field or a photo the revision does not have."""

    title = "Not known for this case"


@dataclass(frozen=True)
class Comment:
    text: str
    field_key: str | None = None
    client_image_id: str | None = None


@dataclass(frozen=True)
class DecisionRequest:
    revision: int
    decision: ReviewChange              # APPROVE, REJECT or RETURN
    reason_code: str | None = None
    note: str = ""
    comments: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedComment:
    id: str
    revision: int
    field_key: str | None
    client_image_id: str | None
    text: str
    author_id: str
    created_at: str


@dataclass(frozen=True)
class Decision:
    id: str
    case_id: str
    revision: int
    decision: str
    reason_code: str | None
    note: str
    decided_by: str
    decided_by_name: str
    decided_at: str
    comments: list[RecordedComment]


@dataclass(frozen=True)
class ReasonCode:
    code: str
    label: str


@dataclass(frozen=True)
class RevisionSummary:
    revision: int
    accepted_at: str
    device_id: str
    receipt_id: str


@dataclass(frozen=True)
class RevisionDiff:
    from_revision: int
    to_revision: int
    changes: list[case_view.FieldChange]
    photos_added: list[str]      # client image ids
    photos_removed: list[str]
    # What the photos added and removed are (their slots' labels), in the same order.
    photos_added_labels: list[str] = field(default_factory=list)
    photos_removed_labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseDetail:
    case_id: str
    revision: int
    state: ReviewState
    reference: str
    applicant: str
    device_id: str
    device_name: str
    received_at: str
    assignee_id: str | None
    assignee_name: str | None
    form_id: str | None
    form_version: str | None
    form_title: str | None       # None: the server does not know this form version
    steps: list[case_view.StepAnswers]
    photos: list[case_view.Photo]
    validation: list[case_view.Problem]
    revisions: list[RevisionSummary]
    diff: RevisionDiff | None    # the current revision against the one before it
    decisions: list[Decision]
    # Every change of an answer on the tablet, as the current revision carried it.
    history: list[case_view.HistoryEntry] = field(default_factory=list)


@dataclass(frozen=True)
class PhotoBlob:
    """Where a held photo's bytes are and what they must be."""

    case_id: str
    client_image_id: str
    where: str
    sha256: str
    byte_size: int


@dataclass(frozen=True)
class _Revision:
    body: dict[str, Any]
    summary: RevisionSummary


class ReviewService:
    def __init__(self, db: Database, audit: AuditLog, blobs: PhotoBlobs, *,
                 forms: FormCatalogue | None = None) -> None:
        self.db = db
        self.audit = audit
        self.blobs = blobs
        self.forms = forms or FormCatalogue()
        self.validation = FormValidation(self.forms)

    # -- reading --------------------------------------------------------------------
    def queue(self, query: QueueQuery) -> QueuePage:
        return read_queue(self.db, query)

    def reason_codes(self, *, include_disabled: bool = False) -> list[ReasonCode]:
        where = "" if include_disabled else " WHERE active = 1"
        rows = self.db.execute(f"SELECT code, label FROM review_reason_codes{where} "
                               "ORDER BY position, code").fetchall()
        return [ReasonCode(r[0], r[1]) for r in rows]

    def set_reason_code(self, code: str, label: str, *, address: str) -> None:
        """Add a rejection reason, or relabel (and re-enable) an existing one; codes are
        never deleted (past decisions name them)."""
        if not re.fullmatch(r"[a-z0-9_]{1,64}", code) or not label.strip():
            raise InvalidDecisionError("A reason code is 1–64 of a-z, 0-9 and _, with a "
                                       "label.")
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO review_reason_codes(code, label, position) VALUES (?, ?, "
                "(SELECT COALESCE(MAX(position), 0) + 1 FROM review_reason_codes)) "
                "ON CONFLICT (code) DO UPDATE SET label = excluded.label, active = 1",
                (code, label.strip()))
            self.audit.record("reason_code.set", actor=None, address=address,
                              object_type="reason_code", object_id=code)

    def disable_reason_code(self, code: str, *, address: str) -> bool:
        """Reviewers no longer offered it (past decisions keep it); False: unknown."""
        with self.db.transaction():
            done = self.db.execute("UPDATE review_reason_codes SET active = 0 WHERE code = ?",
                                   (code,)).rowcount > 0
            if done:
                self.audit.record("reason_code.disabled", actor=None, address=address,
                                  object_type="reason_code", object_id=code)
        return done

    def case(self, case_id: str) -> CaseDetail:
        row = self._case_row(case_id)
        revisions = self._revisions(case_id)
        current = next((r for r in revisions if r.summary.revision == row["revision"]), None)
        if current is None:
            raise CaseNotFoundError("The case's current revision is not held.")
        body = current.body
        definition = self.forms.get(body.get("form_id"), body.get("form_version"))
        values = body.get("form") or {}
        images = body.get("images") or []
        held = {r[0]: r for r in self.db.execute(
            "SELECT client_image_id, sha256, byte_size FROM images WHERE case_id = ?",
            (case_id,)).fetchall()}
        photos = [self._photo(definition, image, held.get(image["client_image_id"]))
                  for image in images]
        previous = [r for r in revisions if r.summary.revision < current.summary.revision]
        return CaseDetail(
            case_id=case_id, revision=row["revision"], state=ReviewState(row["state"]),
            reference=row["reference"], applicant=row["applicant"],
            device_id=row["device_id"], device_name=row["device_name"],
            received_at=row["received_at"], assignee_id=row["assignee_id"],
            assignee_name=row["assignee_name"], form_id=body.get("form_id"),
            form_version=body.get("form_version"),
            form_title=definition.title if definition is not None else None,
            steps=case_view.group_answers(definition, values), photos=photos,
            validation=case_view.validation_problems(definition, self.validation.findings(
                body, date.fromisoformat(str(row["received_at"])[:10]))),
            revisions=[r.summary for r in revisions],
            diff=self._diff(previous[-1], current) if previous else None,
            decisions=self.decisions(case_id),
            history=case_view.history(definition, list(body.get("history") or [])))

    def revision_diff(self, case_id: str, from_revision: int, to_revision: int
                      ) -> RevisionDiff:
        by_number = {r.summary.revision: r for r in self._revisions(case_id)}
        if from_revision not in by_number or to_revision not in by_number:
            raise CaseNotFoundError("The case has no such revision.")
        return self._diff(by_number[from_revision], by_number[to_revision])

    def decisions(self, case_id: str) -> list[Decision]:
        """Every decision on the case, oldest first, with the comments it carried."""
        rows = self.db.execute(
            "SELECT id, case_id, revision, decision, reason_code, note, decided_by, "
            "decided_by_name, decided_at FROM review_decisions WHERE case_id = ? "
            "ORDER BY decided_at, id", (case_id,)).fetchall()
        comments: dict[str, list[RecordedComment]] = {}
        for c in self.db.execute(
                "SELECT decision_id, id, revision, field_key, client_image_id, text, "
                "author_id, created_at FROM review_comments WHERE case_id = ? "
                "ORDER BY created_at, id", (case_id,)).fetchall():
            comments.setdefault(c[0], []).append(RecordedComment(*c[1:]))
        return [Decision(id=r[0], case_id=r[1], revision=r[2], decision=r[3],
                         reason_code=r[4], note=r[5], decided_by=r[6], decided_by_name=r[7],
                         decided_at=r[8], comments=comments.get(r[0], [])) for r in rows]

    def photo(self, case_id: str, client_image_id: str) -> PhotoBlob:
        row = self.db.execute("SELECT path, sha256, byte_size FROM images "
                              "WHERE case_id = ? AND client_image_id = ?",
                              (case_id, client_image_id)).fetchone()
        if row is None:
            raise CaseNotFoundError("The server holds no such photo for this case.")
        return PhotoBlob(case_id, client_image_id, row[0], row[1], row[2])

    def photo_bytes(self, photo: PhotoBlob, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of a held photo (blocking: iterate in a thread)."""
        return self.blobs.read(photo.where, start, end)

    def photo_type(self, photo: PhotoBlob) -> str:
        """The photo's media type, from the server's own look at its first bytes."""
        return sniff(b"".join(self.photo_bytes(photo, 0, min(SNIFF_BYTES, photo.byte_size))))

    def export(self, since: str | None = None) -> Iterator[dict[str, Any]]:
        """Decisions in the order they were taken (from `since`, an ISO time, inclusive:
        a decision on the boundary comes again, so importers key on `decision_id`), with
        the case's reference and applicant: what the bank's core systems import."""
        rows = self.db.execute(
            "SELECT d.id, d.case_id, c.reference, c.applicant, d.revision, d.decision, "
            "d.reason_code, d.note, d.decided_by_name, d.decided_at, "
            "(SELECT count(*) FROM review_comments m WHERE m.decision_id = d.id) "
            "FROM review_decisions d LEFT JOIN review_cases c ON c.case_id = d.case_id "
            "WHERE d.decided_at >= ? ORDER BY d.decided_at, d.id", (since or "",)).fetchall()
        keys = ("decision_id", "case_id", "reference", "applicant", "revision", "decision",
                "reason_code", "note", "decided_by", "decided_at", "comments")
        for row in rows:
            yield dict(zip(keys, row, strict=True))

    # -- acting ---------------------------------------------------------------------
    def assign(self, actor: Reviewer, case_id: str, assignee: Reviewer, *,
               address: str) -> CaseDetail:
        """Give the case to `assignee` (a reviewer takes one for themself; supervisors
        and admins give cases to others, or take them over)."""
        if assignee.id != actor.id and not actor.may_assign():
            raise NotAllowedError("Only a supervisor or an admin assigns cases to others.")
        with self.db.transaction():
            row = self._case_row(case_id)
            if (row["assignee_id"] not in (None, actor.id, assignee.id)
                    and not actor.may_assign()):
                raise ReviewConflictError(f"{row['assignee_name']} is reviewing this case.")
            self._move(row, ReviewChange.ASSIGN, assignee_id=assignee.id,
                       assignee_name=assignee.username)
            self.audit.record("case.assigned", actor=actor, address=address,
                              object_type="case", object_id=case_id,
                              revision=row["revision"], detail={"assignee": assignee.id})
        return self.case(case_id)

    def decide(self, actor: Reviewer, case_id: str, request: DecisionRequest, *,
               address: str) -> Decision:
        with self.db.transaction():
            row = self._case_row(case_id)   # no such case: 404 before anything else
            self._check(request)
            if request.revision != row["revision"]:
                raise StaleRevisionError(
                    f"Revision {row['revision']} arrived after revision "
                    f"{request.revision} was opened; read it before deciding.")
            if row["assignee_id"] not in (None, actor.id) and not actor.may_assign():
                raise ReviewConflictError(f"{row['assignee_name']} is reviewing this case.")
            self._check_targets(case_id, request)
            decided_at = now()
            decision_id = uuid.uuid4().hex
            self._move(row, request.decision, assignee_id=row["assignee_id"] or actor.id,
                       assignee_name=row["assignee_name"] or actor.username)
            self.db.execute(
                "INSERT INTO review_decisions(id, case_id, revision, decision, reason_code, "
                "note, decided_by, decided_by_name, decided_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (decision_id, case_id, request.revision, request.decision.value,
                 request.reason_code, request.note, actor.id, actor.username, decided_at))
            for comment in request.comments:
                self.db.execute(
                    "INSERT INTO review_comments(id, decision_id, case_id, revision, "
                    "field_key, client_image_id, text, author_id, created_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    (uuid.uuid4().hex, decision_id, case_id, request.revision,
                     comment.field_key, comment.client_image_id, comment.text, actor.id,
                     decided_at))
            self._tell_device(case_id, decision_id)
            self.audit.record(f"case.{_PAST[request.decision]}", actor=actor,
                              address=address, object_type="case", object_id=case_id,
                              revision=request.revision,
                              detail={"decision_id": decision_id,
                                      "reason_code": request.reason_code,
                                      "comments": len(request.comments)})
        return next(d for d in self.decisions(case_id) if d.id == decision_id)

    # -- internals ------------------------------------------------------------------
    def _tell_device(self, case_id: str, decision_id: str) -> None:
        """The decision reaches the tablet that has the case's authority by its next
        pull: a `returned` (with the comments) or `decided` row of its feed, in the
        decision's transaction (never one without the other)."""
        owner = self.db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                                (case_id,)).fetchone()
        if owner is not None:
            kind, payload = case_state.decision_payload(self.db, decision_id)
            feed.append(self.db, str(owner[0]), kind, case_id, payload)

    def _check(self, request: DecisionRequest) -> None:
        if request.decision not in (ReviewChange.APPROVE, ReviewChange.REJECT,
                                    ReviewChange.RETURN):
            raise InvalidDecisionError("A decision is approve, reject or return.")
        if len(request.note) > MAX_NOTE or len(request.comments) > MAX_COMMENTS:
            raise InvalidDecisionError("The note or the comments are too long.")
        if request.decision is ReviewChange.REJECT:
            codes = {c.code for c in self.reason_codes()}
            if request.reason_code not in codes:
                raise UnknownTargetError("A rejection needs one of the configured reason "
                                         "codes.")
            if not request.note.strip():
                raise InvalidDecisionError("A rejection needs a note saying why.")
        elif request.reason_code is not None:
            raise InvalidDecisionError("Only a rejection has a reason code.")
        if request.decision is ReviewChange.RETURN and not request.comments:
            raise InvalidDecisionError("A return needs at least one comment on a field or "
                                       "a photo, so the verifier knows what to fix.")
        if request.decision is not ReviewChange.RETURN and request.comments:
            raise InvalidDecisionError("Only a return carries comments on fields and photos.")
        for comment in request.comments:
            if (comment.field_key is None) == (comment.client_image_id is None):
                raise InvalidDecisionError("Each comment is on one field or one photo.")
            if not comment.text.strip() or len(comment.text) > MAX_NOTE:
                raise InvalidDecisionError("Each comment needs a text (at most 4,000 "
                                           "characters).")

    def _check_targets(self, case_id: str, request: DecisionRequest) -> None:
        """Comments name fields of the form and photos of this revision."""
        if not request.comments:
            return
        revision = next(r for r in self._revisions(case_id)
                        if r.summary.revision == request.revision)
        definition = self.forms.get(revision.body.get("form_id"),
                                    revision.body.get("form_version"))
        keys = set(revision.body.get("form") or {})
        if definition is not None:
            keys |= {f.key for f in definition.fields()}
        photos = {i["client_image_id"] for i in revision.body.get("images") or []}
        for comment in request.comments:
            if comment.field_key is not None and comment.field_key not in keys:
                raise UnknownTargetError(f"The form has no field {comment.field_key!r}.")
            if comment.client_image_id is not None and comment.client_image_id not in photos:
                raise UnknownTargetError("A comment names a photo this revision does not "
                                           "have.")

    def _move(self, row: dict[str, Any], change: ReviewChange, *, assignee_id: str | None,
              assignee_name: str | None) -> None:
        current = ReviewState(row["state"])
        target = next_state(current, change)
        if target is None:
            raise ReviewConflictError(f"The case is {current.value}; it cannot be "
                                      f"{change.value}ed now.")
        self.db.execute("UPDATE review_cases SET state = ?, assignee_id = ?, "
                        "assignee_name = ?, updated_at = ? WHERE case_id = ?",
                        (target.value, assignee_id, assignee_name, now(), row["case_id"]))

    def _case_row(self, case_id: str) -> dict[str, Any]:
        row = self.db.execute(
            "SELECT c.case_id, c.revision, c.state, c.reference, c.applicant, c.device_id, "
            "COALESCE(d.name, ''), c.received_at, c.assignee_id, c.assignee_name "
            "FROM review_cases c LEFT JOIN devices d ON d.id = c.device_id "
            "WHERE c.case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise CaseNotFoundError("The server holds no submitted case with this id.")
        keys = ("case_id", "revision", "state", "reference", "applicant", "device_id",
                "device_name", "received_at", "assignee_id", "assignee_name")
        return dict(zip(keys, row, strict=True))

    def _revisions(self, case_id: str) -> list[_Revision]:
        rows = self.db.execute(
            "SELECT revision, accepted_at, device_id, receipt_id, body_json "
            "FROM submission_revisions WHERE case_id = ? ORDER BY revision",
            (case_id,)).fetchall()
        return [_Revision(json.loads(r[4]), RevisionSummary(r[0], r[1], r[2], r[3]))
                for r in rows]

    def _diff(self, before: _Revision, after: _Revision) -> RevisionDiff:
        definition = self.forms.get(after.body.get("form_id"), after.body.get("form_version"))
        old = {i["client_image_id"]: i.get("slot") for i in before.body.get("images") or []}
        new = {i["client_image_id"]: i.get("slot") for i in after.body.get("images") or []}
        added, removed = sorted(set(new) - set(old)), sorted(set(old) - set(new))
        return RevisionDiff(before.summary.revision, after.summary.revision,
                            case_view.diff(definition, before.body.get("form") or {},
                                           after.body.get("form") or {}),
                            added, removed,
                            [case_view.slot_label(definition, new[i]) for i in added],
                            [case_view.slot_label(definition, old[i]) for i in removed])

    @staticmethod
    def _photo(definition: Any, image: dict[str, Any],
               held: tuple[str, str, int] | None) -> case_view.Photo:
        return case_view.Photo(
            client_image_id=image["client_image_id"],
            server_image_id=image["server_image_id"], slot=image.get("slot"),
            slot_label=case_view.slot_label(definition, image.get("slot")),
            sha256=image["sha256"], byte_size=held[2] if held else 0,
            sha256_verified=held is not None and held[1] == image["sha256"],
            captured_at=image.get("captured_at"),
            captured_at_source=image.get("captured_at_source"),
            latitude=image.get("latitude"), longitude=image.get("longitude"),
            accuracy=image.get("accuracy"), address=image.get("address"),
            retake_suggested=[str(p) for p in image.get("retake_suggested") or []],
            retake_overridden=bool(image.get("retake_overridden")))
