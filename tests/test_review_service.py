"""The review service on a real server store (SQLite file): the queue (filters, search,
keyset pages), a case as a reviewer reads it, assignment, decisions and their rules."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.queue import QueueKey, QueueQuery, QueueSort
from kycdesk_server.backoffice.review import (
    Comment,
    DecisionRequest,
    InvalidDecisionError,
    NotAllowedError,
    ReviewConflictError,
    ReviewService,
    StaleRevisionError,
    UnknownTargetError,
)
from kycdesk_server.backoffice.review_states import ReviewChange, ReviewState
from kycdesk_server.storage import ServerStore
from tests.review_support import answers, jpeg, submit_to_store

ANNA = Reviewer("acc-anna", "anna", "reviewer")
BORIS = Reviewer("acc-boris", "boris", "reviewer")
SUPER = Reviewer("acc-sue", "sue", "supervisor")
IP = "127.0.0.1"


@pytest.fixture
def store(tmp_path: Path) -> ServerStore:
    return ServerStore(tmp_path / "data")


@pytest.fixture
def audit(store: ServerStore) -> AuditLog:
    return AuditLog(store.db)


@pytest.fixture
def service(store: ServerStore, audit: AuditLog) -> ReviewService:
    return ReviewService(store.db, audit, store.blobs)


def case(n: int) -> str:
    return str(uuid.UUID(int=n))


def test_an_accepted_submission_enters_the_queue_with_its_summary(
        store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    submit_to_store(store, tmp_path, case(1), 1,
                    answers("Zoë", "Smith-Jones", "AB 12 34 56 C"), reference="KYC-2024-0001")
    [row] = service.queue(QueueQuery()).rows
    assert (row.case_id, row.reference, row.applicant, row.state, row.revision) == \
        (case(1), "KYC-2024-0001", "Zoë Smith-Jones", ReviewState.RECEIVED, 1)
    for search in ("zoe", "SMITH", "jones zoë", "ab123456c", "AB 1234", "kyc-2024", "0001"):
        assert [r.case_id for r in service.queue(QueueQuery(search=search)).rows] == \
            [case(1)], search
    for search in ("smyth", "zoey", "ab9"):
        assert service.queue(QueueQuery(search=search)).rows == [], search


def test_keyset_pages_cover_every_case_once_in_each_sort(
        store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    names = ["Émile", "bob", "Alice", "carol", "Dave", "alice", "Eve"]
    for n, name in enumerate(names):
        submit_to_store(store, tmp_path, case(n), 1, answers(name, "X"), reference=f"R{9 - n}")
    for sort in QueueSort:
        for descending in (False, True):
            seen: list[Any] = []
            key: QueueKey | None = None
            while True:
                page = service.queue(QueueQuery(sort=sort, descending=descending,
                                                start_after=key, limit=2))
                seen += page.rows
                key = page.next
                if key is None:
                    break
            assert len(seen) == len(names) and len({r.case_id for r in seen}) == len(names)
            sort_key = {QueueSort.RECEIVED: lambda r: r.received_at,
                   QueueSort.REFERENCE: lambda r: r.reference,
                   QueueSort.APPLICANT: lambda r: r.applicant.casefold()
                   .replace("é", "e")}[sort]
            assert [sort_key(r) for r in seen] == sorted(
                (sort_key(r) for r in seen), reverse=descending), (sort, descending)
    first = service.queue(QueueQuery(limit=1))
    assert first.next == QueueKey(first.rows[0].received_at, case(0))


def test_filters_by_state_and_assignee(store: ServerStore, service: ReviewService,
                                       tmp_path: Path) -> None:
    for n in range(3):
        submit_to_store(store, tmp_path, case(n), 1, answers())
    service.assign(ANNA, case(0), ANNA, address=IP)
    service.assign(SUPER, case(1), BORIS, address=IP)
    assert [r.case_id for r in service.queue(QueueQuery(assignee=ANNA.id)).rows] == [case(0)]
    assert [r.case_id for r in service.queue(QueueQuery(assignee="none")).rows] == [case(2)]
    assert [r.case_id for r in service.queue(
        QueueQuery(state=ReviewState.IN_REVIEW)).rows] == [case(0), case(1)]
    assert [r.case_id for r in service.queue(
        QueueQuery(state=ReviewState.RECEIVED)).rows] == [case(2)]


def test_case_detail_groups_answers_validates_and_shows_photo_provenance(
        store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    front, selfie = str(uuid.uuid4()), str(uuid.uuid4())
    submit_to_store(store, tmp_path, case(1), 1,
                    answers(**{"applicant.email": "not-an-email"}),
                    [(front, jpeg(1), "id_front"), (selfie, jpeg(2), "selfie")])
    detail = service.case(case(1))
    assert detail.form_title and detail.steps[0].step_id == "applicant"
    first = {a.key: a for s in detail.steps for a in s.answers}
    assert first["applicant.first_name"].text == "Ada"
    assert first["identity.document_type"].text != "passport"  # the option's label
    problems = {p.key: p.message for p in detail.validation}
    assert "applicant.email" in problems and "applicant.date_of_birth" in problems
    photo = {p.slot: p for p in detail.photos}["id_front"]
    assert photo.sha256_verified and photo.captured_at_source == "exif"
    assert (photo.latitude, photo.accuracy) == (51.5, 8.0) and photo.byte_size > 0
    assert photo.slot_label != "id_front"
    assert detail.diff is None and [r.revision for r in detail.revisions] == [1]


def test_return_then_resubmission_comes_back_received_with_the_diff(
        store: ServerStore, service: ReviewService, tmp_path: Path,
        audit: AuditLog) -> None:
    front = str(uuid.uuid4())
    submit_to_store(store, tmp_path, case(1), 1, answers(), [(front, jpeg(1), "id_front")])
    service.assign(ANNA, case(1), ANNA, address=IP)
    decision = service.decide(ANNA, case(1), DecisionRequest(
        1, ReviewChange.RETURN, note="Two things", comments=[
            Comment("Spell it as on the passport", field_key="applicant.last_name"),
            Comment("Blurred: retake", client_image_id=front)]), address=IP)
    assert {(c.field_key, c.client_image_id, c.revision) for c in decision.comments} == \
        {("applicant.last_name", None, 1), (None, front, 1)}
    assert service.case(case(1)).state is ReviewState.RETURNED
    retake = str(uuid.uuid4())
    submit_to_store(store, tmp_path, case(1), 2, answers(last="Byron"),
                    [(retake, jpeg(3), "id_front")])
    detail = service.case(case(1))
    assert (detail.state, detail.revision, detail.assignee_id) == \
        (ReviewState.RECEIVED, 2, ANNA.id)
    assert detail.diff is not None
    assert [(c.key, c.before, c.after) for c in detail.diff.changes] == \
        [("applicant.last_name", "Lovelace", "Byron")]
    assert (detail.diff.photos_added, detail.diff.photos_removed) == ([retake], [front])
    assert [(e.action, e.revision, e.actor_name, e.object_id)
            for e in reversed(audit.entries())] == \
        [("case.assigned", 1, "anna", case(1)), ("case.returned", 1, "anna", case(1))]
    assert [r.applicant for r in service.queue(QueueQuery(search="byron")).rows] == \
        ["Ada Byron"]
    assert service.queue(QueueQuery(search="lovelace")).rows == []


def test_a_decision_on_a_revision_that_is_no_longer_current_is_refused(
        store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    submit_to_store(store, tmp_path, case(1), 1, answers())
    submit_to_store(store, tmp_path, case(1), 2, answers(first="Ida"))
    with pytest.raises(StaleRevisionError) as refused:
        service.decide(ANNA, case(1), DecisionRequest(1, ReviewChange.APPROVE), address=IP)
    assert refused.value.status == 409
    approved = service.decide(ANNA, case(1), DecisionRequest(2, ReviewChange.APPROVE),
                              address=IP)
    assert approved.revision == 2


def test_transitions_come_from_the_one_table(store: ServerStore, service: ReviewService,
                                             tmp_path: Path) -> None:
    submit_to_store(store, tmp_path, case(1), 1, answers())
    service.decide(ANNA, case(1), DecisionRequest(1, ReviewChange.APPROVE), address=IP)
    with pytest.raises(ReviewConflictError):
        service.decide(ANNA, case(1), DecisionRequest(
            1, ReviewChange.REJECT, reason_code="other", note="changed my mind"), address=IP)
    with pytest.raises(ReviewConflictError):
        service.assign(ANNA, case(1), ANNA, address=IP)
    with pytest.raises(ReviewConflictError):
        service.decide(ANNA, case(1), DecisionRequest(1, ReviewChange.APPROVE), address=IP)
    assert service.case(case(1)).state is ReviewState.APPROVED
    assert len(service.decisions(case(1))) == 1


def test_decision_rules(store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    submit_to_store(store, tmp_path, case(1), 1, answers(), [(str(uuid.uuid4()), jpeg(),
                                                             "selfie")])
    bad = [DecisionRequest(1, ReviewChange.REJECT, note="why"),
           DecisionRequest(1, ReviewChange.REJECT, reason_code="nonsense", note="why"),
           DecisionRequest(1, ReviewChange.REJECT, reason_code="other", note=" "),
           DecisionRequest(1, ReviewChange.RETURN, note="fix it"),
           DecisionRequest(1, ReviewChange.RETURN, comments=[Comment("x", field_key="no.such")]),
           DecisionRequest(1, ReviewChange.RETURN, comments=[
               Comment("x", client_image_id=str(uuid.uuid4()))]),
           DecisionRequest(1, ReviewChange.APPROVE, comments=[
               Comment("x", field_key="applicant.first_name")]),
           DecisionRequest(1, ReviewChange.ASSIGN)]
    for request in bad:
        with pytest.raises((InvalidDecisionError, UnknownTargetError)):
            service.decide(ANNA, case(1), request, address=IP)
    assert service.decisions(case(1)) == []
    assert service.case(case(1)).state is ReviewState.RECEIVED
    rejected = service.decide(ANNA, case(1), DecisionRequest(
        1, ReviewChange.REJECT, reason_code="fraud_suspected", note="forged"), address=IP)
    assert (rejected.reason_code, rejected.decided_by_name) == ("fraud_suspected", "anna")


def test_assignment_rules(store: ServerStore, service: ReviewService, tmp_path: Path) -> None:
    submit_to_store(store, tmp_path, case(1), 1, answers())
    with pytest.raises(NotAllowedError):
        service.assign(ANNA, case(1), BORIS, address=IP)
    service.assign(ANNA, case(1), ANNA, address=IP)
    with pytest.raises(ReviewConflictError):
        service.assign(BORIS, case(1), BORIS, address=IP)
    with pytest.raises(ReviewConflictError):
        service.decide(BORIS, case(1), DecisionRequest(1, ReviewChange.APPROVE), address=IP)
    assert service.assign(SUPER, case(1), BORIS, address=IP).assignee_name == "boris"


def test_export_lists_decisions_in_order(store: ServerStore, service: ReviewService,
                                         tmp_path: Path) -> None:
    for n in range(2):
        submit_to_store(store, tmp_path, case(n), 1, answers(), reference=f"=HYPERLINK{n}")
    service.decide(ANNA, case(1), DecisionRequest(1, ReviewChange.APPROVE), address=IP)
    service.decide(ANNA, case(0), DecisionRequest(1, ReviewChange.REJECT,
                                                  reason_code="other", note="n"), address=IP)
    rows = list(service.export())
    assert {(r["case_id"], r["decision"], r["reference"]) for r in rows} == \
        {(case(1), "approve", "=HYPERLINK1"), (case(0), "reject", "=HYPERLINK0")}
    assert [(r["decided_at"], r["decision_id"]) for r in rows] == \
        sorted((r["decided_at"], r["decision_id"]) for r in rows)
    assert list(service.export(since=rows[-1]["decided_at"]))[-1] == rows[-1]
    assert list(service.export(since="9999")) == []


def test_migration_puts_cases_held_before_the_review_in_the_queue(tmp_path: Path) -> None:
    import json

    from kycdesk_server import schema
    from kycdesk_server.blobs import LocalPhotoBlobs
    from kycdesk_server.database import SqliteDatabase

    db = SqliteDatabase(tmp_path / "old.sqlite3")
    schema.migrate(db, target=3)
    body = {"form_id": "individual_kyc", "form_version": "2", "form": answers("Old", "Case"),
            "images": []}
    for table in ("submissions", "submission_revisions"):
        db.execute(f"INSERT INTO {table}(case_id, revision, body_hash, body_json, device_id, "
                   "receipt_id, accepted_at, server_image_ids) VALUES (?,?,?,?,?,?,?,?)",
                   (case(7), 3, "h", json.dumps(body), "dev", "rcpt-1",
                    "2026-01-01T00:00:00.000Z", "[]"))
    schema.migrate(db)
    service = ReviewService(db, AuditLog(db), LocalPhotoBlobs(tmp_path))
    [row] = service.queue(QueueQuery(search="old case")).rows
    assert (row.case_id, row.revision, row.state, row.received_at) == \
        (case(7), 3, ReviewState.RECEIVED, "2026-01-01T00:00:00.000Z")


def test_reason_codes_are_configured_with_the_admin_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.sync_support import REPO_ROOT

    data = tmp_path / "data"

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kycdesk_server", "reason-codes",
                               args[0], "--data-dir", str(data), *args[1:]],
                              capture_output=True, text=True, cwd=REPO_ROOT, check=False)

    assert command("set", "kyb_mismatch", "Business details differ").returncode == 0
    assert command("disable", "other").returncode == 0
    assert command("disable", "no_such").returncode == 1
    refused = command("set", "Bad Code", "x")
    assert refused.returncode == 1 and "a-z" in refused.stderr
    listed = command("list").stdout
    assert "kyb_mismatch" in listed and "disabled" in listed
    store = ServerStore(data)
    service = ReviewService(store.db, AuditLog(store.db), store.blobs)
    codes = [c.code for c in service.reason_codes()]
    assert "kyb_mismatch" in codes and "other" not in codes
    submit_to_store(store, tmp_path, case(1), 1, answers())
    with pytest.raises(UnknownTargetError):
        service.decide(ANNA, case(1), DecisionRequest(
            1, ReviewChange.REJECT, reason_code="other", note="n"), address=IP)
    assert [e.action for e in AuditLog(store.db).entries()][:2] == \
        ["reason_code.disabled", "reason_code.set"]
