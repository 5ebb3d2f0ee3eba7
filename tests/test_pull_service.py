"""The pull and the office acts that feed it, on a real server store (SQLite file and
PostgreSQL): assignments, returns and decisions reach the device's feed in the act's
transaction; pages, token idempotency, 412 and resync; corrections and withdrawals."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from kycdesk.core.hashing import form_definition_sha256
from kycdesk.core.protocol import (
    EMPTY_HELD_DIGEST,
    HandoverRequest,
    PullReply,
    PullRequest,
    Release,
)
from kycdesk_server import feed
from kycdesk_server.backoffice.assignments import (
    AssignmentService,
    InvalidActError,
    NewAssignment,
)
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.form_publishing import FormPublisher
from kycdesk_server.backoffice.handovers import HandoverService
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import (
    Comment,
    DecisionRequest,
    NotAllowedError,
    ReviewConflictError,
    ReviewService,
)
from kycdesk_server.backoffice.review_states import ReviewChange
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.services.pull import PullService
from kycdesk_server.storage import ServerStore
from tests.review_support import answers, jpeg, submit_to_store

SUE = Reviewer("acc-sue", "sue", "supervisor")
ANNA = Reviewer("acc-anna", "anna", "reviewer")
IP = "127.0.0.1"


@pytest.fixture(params=["sqlite", "postgres"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres").new_database("pull")
    store = ServerStore(tmp_path / "data", url)
    yield store
    store.close()


class Tablet:
    """What a device keeps: its token and held set (as h2's store does)."""

    def __init__(self, store: ServerStore, name: str) -> None:
        self.registry = DeviceRegistry(store.db)
        self.id = self.registry.system_device(f"dev-{name}", name).id
        self.service = PullService(store.db)
        self.token: str | None = None
        self.held: set[str] = set()
        self.seen: list[Any] = []

    def request(self, **extra: Any) -> PullRequest:
        return PullRequest(token=self.token, held_digest=feed.digest_of(sorted(self.held)),
                           held_count=len(self.held), **extra)

    def pull(self, limit: int = 200, *, resync: bool = False) -> PullReply:
        return self.service.pull(self.id, self.request(limit=limit, resync=resync))

    def apply(self, reply: PullReply) -> None:
        for change in reply.changes:
            self.seen.append(change)
            if change.kind in ("assigned", "handover_in", "case_state"):
                self.held.add(str(change.case_id))
            if change.kind == "withdrawn":
                self.held.discard(str(change.case_id))
        self.token = reply.token

    def pull_all(self, limit: int = 200) -> list[Any]:
        start = len(self.seen)
        while True:
            reply = self.pull(limit)
            self.apply(reply)
            if not reply.more:
                return self.seen[start:]


def assign(store: ServerStore, tablet: Tablet, reference: str = "KYC-1", **more: Any) -> str:
    service = AssignmentService(store.db, AuditLog(store.db), store.forms)
    return service.create(SUE, NewAssignment(
        reference=reference, applicant_name="Ada Lovelace", device_name=tablet.id,
        form_id="individual_kyc", form_version="2", address="1 Main St",
        due_date="2026-12-31", prefill={"applicant.first_name": "Ada"}, **more), address=IP)


def test_an_assignment_arrives_once_with_its_prefill_and_the_token_moves_on(
        store: ServerStore) -> None:
    tablet = Tablet(store, "a")
    empty = tablet.pull()
    assert (empty.changes, empty.more) == ([], False)
    tablet.apply(empty)
    case_id = assign(store, tablet)
    first = tablet.pull()
    again = tablet.pull()  # a lost reply: the same token gives the same page
    assert first == again
    [change] = first.changes
    assert (change.kind, change.case_id, change.reference_number, change.due_date,
            change.form, change.prefilled, change.by, change.form_version) == \
        ("assigned", case_id, "KYC-1", "2026-12-31", {"applicant.first_name": "Ada"},
         ["applicant.first_name"], "sue", "2")
    office = AssignmentService(store.db, AuditLog(store.db), store.forms)
    # Fetched, but the tablet has not yet said (with its next token) that it applied it.
    assert [r.status for r in office.list()] == ["waiting"]
    tablet.apply(first)
    assert tablet.pull().changes == []
    assert [r.status for r in office.list()] == ["on_tablet"]
    held = feed.held(store.db, tablet.id)
    assert (held.digest, held.count) == (feed.digest_of([case_id]), 1)


def test_pages_deliver_every_change_once_in_order(store: ServerStore) -> None:
    tablet = Tablet(store, "a")
    cases = [assign(store, tablet, f"KYC-{n}") for n in range(7)]
    replies = []
    while True:
        reply = tablet.pull(limit=3)
        replies.append(reply)
        tablet.apply(reply)
        if not reply.more:
            break
    assert [len(r.changes) for r in replies] == [3, 3, 1]
    assert [c.case_id for c in tablet.seen] == cases
    assert [c.seq for c in tablet.seen] == sorted(c.seq for c in tablet.seen)


def test_another_devices_changes_never_reach_this_one(store: ServerStore) -> None:
    a, b = Tablet(store, "a"), Tablet(store, "b")
    assign(store, a)
    assert b.pull_all() == [] and len(a.pull_all()) == 1


def test_a_wrong_digest_is_412_and_a_resync_gives_every_held_case(
        store: ServerStore, tmp_path: Path) -> None:
    tablet = Tablet(store, "a")
    references = {assign(store, tablet, f"KYC-{n}"): f"KYC-{n}" for n in range(5)}
    cases = sorted(references)
    tablet.pull_all()
    submit_to_store(store, tmp_path, cases[0], 1, answers(), device=tablet.id)
    own = str(uuid.uuid4())
    submit_to_store(store, tmp_path, own, 1, answers(), device=tablet.id)
    tablet.held.add(own)  # the receipt of its own case: held from now on
    assert tablet.pull().changes == []
    tablet.held.discard(cases[2])  # drift: the device lost one
    with pytest.raises(RequestRefusedError) as refused:
        tablet.pull()
    assert refused.value.status == 412 and refused.value.extra["resync"] is True
    tablet.token, tablet.held = None, set()
    states = []
    reply = tablet.pull(limit=2, resync=True)
    while True:
        states += reply.changes
        tablet.apply(reply)
        if not reply.more:
            break
        reply = tablet.pull(limit=2)
    assert {c.kind for c in states} == {"case_state"}
    assert sorted(str(c.case_id) for c in states) == sorted([*cases, own])
    submitted = next(c for c in states if c.case_id == cases[0])
    assert submitted.revision == 1 and submitted.reference_number == references[cases[0]]
    assert tablet.pull().changes == []  # agrees again: no 412


def test_a_token_the_server_never_gave_is_412(store: ServerStore) -> None:
    tablet = Tablet(store, "a")
    for token in ("f1.99.0", "nonsense"):
        tablet.token = token
        with pytest.raises(RequestRefusedError) as refused:
            tablet.pull()
        assert refused.value.status == 412


def test_return_and_decision_reach_the_device_in_the_decisions_transaction(
        store: ServerStore, tmp_path: Path) -> None:
    tablet = Tablet(store, "a")
    case_id = assign(store, tablet)
    tablet.pull_all()
    front = str(uuid.uuid4())
    submit_to_store(store, tmp_path, case_id, 1, answers(), [(front, jpeg(1), "id_front")],
                    device=tablet.id)
    review = ReviewService(store.db, AuditLog(store.db), store.blobs, forms=store.forms)
    review.decide(ANNA, case_id, DecisionRequest(1, ReviewChange.RETURN, note="fix", comments=[
        Comment("As on the passport", field_key="applicant.last_name"),
        Comment("Blurred", client_image_id=front)]), address=IP)
    [returned] = tablet.pull_all()
    assert (returned.kind, returned.revision, returned.decision, returned.note) == \
        ("returned", 1, "returned", "fix")
    assert {(c.field_key, c.client_image_id, c.text, c.author) for c in returned.comments} == \
        {("applicant.last_name", None, "As on the passport", "anna"),
         (None, front, "Blurred", "anna")}
    submit_to_store(store, tmp_path, case_id, 2, answers(last="Byron"), device=tablet.id)
    review.decide(ANNA, case_id, DecisionRequest(2, ReviewChange.REJECT,
                                                 reason_code="incomplete", note="no ID"),
                  address=IP)
    [decided] = tablet.pull_all()
    assert (decided.kind, decided.revision, decided.decision, decided.reason_code,
            decided.reason_label, decided.note) == \
        ("decided", 2, "rejected", "incomplete", "Application incomplete", "no ID")


def test_a_correction_carries_the_value_it_replaces(store: ServerStore,
                                                     tmp_path: Path) -> None:
    tablet = Tablet(store, "a")
    case_id = assign(store, tablet)
    tablet.pull_all()
    service = AssignmentService(store.db, AuditLog(store.db), store.forms)
    service.correct(SUE, case_id, "applicant.first_name", "Augusta", note="typo",
                    address=IP)
    [edit] = tablet.pull_all()
    assert (edit.kind, edit.field_key, edit.value, edit.base_value, edit.by, edit.revision) \
        == ("office_edit", "applicant.first_name", "Augusta", "Ada", "sue", 0)
    with pytest.raises(InvalidActError):
        service.correct(SUE, case_id, "no.such.field", "x", address=IP)
    with pytest.raises(NotAllowedError):
        service.correct(ANNA, case_id, "applicant.first_name", "Eve", address=IP)
    assert [e.action for e in AuditLog(store.db).entries()][:1] == ["case.corrected"]


def test_a_withdrawal_takes_the_case_out_of_the_held_set(store: ServerStore,
                                                          tmp_path: Path) -> None:
    tablet = Tablet(store, "a")
    kept, dropped = assign(store, tablet, "KYC-1"), assign(store, tablet, "KYC-2")
    tablet.pull_all()
    service = AssignmentService(store.db, AuditLog(store.db), store.forms)
    submit_to_store(store, tmp_path, kept, 1, answers(), device=tablet.id)
    with pytest.raises(Exception, match="already submitted"):
        service.withdraw(SUE, kept, address=IP)
    service.withdraw(SUE, dropped, note="duplicate", address=IP)
    [withdrawn] = tablet.pull_all()
    assert (withdrawn.kind, withdrawn.case_id, withdrawn.note) == \
        ("withdrawn", dropped, "duplicate")
    assert tablet.held == {kept}
    assert tablet.pull().changes == []  # digest agrees
    assert {r.case_id: r.status for r in service.list()} == \
        {kept: "submitted", dropped: "withdrawn"}


def test_assignment_refusals(store: ServerStore) -> None:
    tablet = Tablet(store, "a")
    service = AssignmentService(store.db, AuditLog(store.db), store.forms)
    good: dict[str, Any] = {"reference": "R", "applicant_name": "A",
                            "device_name": tablet.id, "form_id": "individual_kyc",
                            "form_version": "2"}
    bad: dict[str, Any]
    for bad in ({"reference": " "}, {"device_name": "nobody"}, {"form_version": "99"},
                {"due_date": "31/12/2026"}, {"prefill": {"no.such": "x"}},
                {"prefill": {"applicant.first_name": {"x": 1}}}):
        with pytest.raises(InvalidActError):
            service.create(SUE, NewAssignment(**{**good, **bad}), address=IP)
    with pytest.raises(NotAllowedError):
        service.create(ANNA, NewAssignment(**good), address=IP)
    assert service.list() == [] and feed.held(store.db, tablet.id).count == 0


def test_the_pull_reads_the_feed_through_its_key(store: ServerStore) -> None:
    """O(changes): the feed's query is an index range scan on (device_id, seq), whatever
    the device holds."""
    sql = ("SELECT seq, kind, case_id, payload_json, created_at FROM device_feed "
           "WHERE device_id = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?")
    params = ("dev-a", 5, 10, 200)
    if store.db.dialect == "sqlite":
        plan = " ".join(str(r[-1]) for r in store.db.execute(
            f"EXPLAIN QUERY PLAN {sql}", params).fetchall())
        assert "USING PRIMARY KEY" in plan or "USING INDEX" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        store.db.execute("SET enable_seqscan = off")  # an empty table: cost would pick it
        plan = " ".join(str(r[0]) for r in store.db.execute(f"EXPLAIN {sql}",
                                                            params).fetchall())
        assert "Index" in plan and "Sort" not in plan, plan
    assert feed.digest_of([]) == EMPTY_HELD_DIGEST


def handovers(store: ServerStore) -> HandoverService:
    audit = AuditLog(store.db)
    return HandoverService(store.db, audit, AssignmentService(store.db, audit, store.forms))


def test_a_handover_waits_for_the_old_tablet_then_moves_the_case_with_its_photos(
        store: ServerStore, tmp_path: Path) -> None:
    a, b = Tablet(store, "a"), Tablet(store, "b")
    case_id = assign(store, a)
    a.pull_all()
    front = str(uuid.uuid4())
    submit_to_store(store, tmp_path, case_id, 1, answers(), [(front, jpeg(1), "id_front")],
                    device=a.id)
    service = handovers(store)
    service.hand_over(SUE, case_id, b.id, note="Anna is on leave", address=IP)
    [out] = a.pull_all()
    assert (out.kind, out.revision, out.note) == ("handover_out", 1, "Anna is on leave")
    assert b.pull_all() == []  # not before the old tablet has let it go
    assert DeviceRegistry(store.db).owner(case_id) == a.id
    a.token, a.held = None, set()  # the tablet lost its store meanwhile: a resync
    resynced = a.service.pull(a.id, a.request(resync=True))
    assert [(c.kind, c.case_id) for c in resynced.changes] == \
        [("case_state", case_id), ("handover_out", case_id)]  # still owed
    a.apply(resynced)
    assert a.pull().changes == []
    with pytest.raises(RequestRefusedError) as early:
        service.release(a.id, case_id, Release(last_revision=2))
    assert early.value.status == 409  # it claims a revision the server lacks
    service.release(a.id, case_id, Release(last_revision=1))
    service.release(a.id, case_id, Release(last_revision=1))  # a lost reply: same answer
    a.held.discard(case_id)  # the tablet dropped its copy (record_released)
    assert a.pull().changes == []
    [arrived] = b.pull_all()
    assert (arrived.kind, arrived.revision, arrived.form["applicant.last_name"]) == \
        ("handover_in", 1, "Lovelace")
    [photo] = arrived.photos
    assert (photo.client_image_id, photo.byte_size) == (front, len(jpeg(1)))
    assert DeviceRegistry(store.db).owner(case_id) == b.id
    pull = PullService(store.db, store.blobs)
    held = pull.photo(b.id, case_id, front)
    assert b"".join(pull.photo_bytes(held, 0, held.byte_size)) == jpeg(1)
    with pytest.raises(RequestRefusedError) as refused:
        pull.photo(a.id, case_id, front)
    assert refused.value.status == 403
    assert b.pull().changes == []  # b's digest now includes the case


def test_a_forced_handover_tells_the_old_tablet_to_keep_its_copy_read_only(
        store: ServerStore) -> None:
    a, b = Tablet(store, "a"), Tablet(store, "b")
    case_id = assign(store, a)
    a.pull_all()
    service = handovers(store)
    service.hand_over(SUE, case_id, b.id, address=IP)
    with pytest.raises(ReviewConflictError):  # one at a time, unless forced
        service.hand_over(SUE, case_id, b.id, address=IP)
    service.hand_over(SUE, case_id, b.id, force=True, address=IP)
    out, gone = a.pull_all()
    assert (out.kind, gone.kind, gone.reason_code) == \
        ("handover_out", "withdrawn", "handed_over")
    assert "can no longer reach the server" in gone.note
    assert a.held == set() and a.pull().changes == []
    [arrived] = b.pull_all()
    assert (arrived.kind, arrived.form, arrived.reference_number) == \
        ("handover_in", {"applicant.first_name": "Ada"}, "KYC-1")
    with pytest.raises(RequestRefusedError):  # the old tablet cannot release it now
        service.release(a.id, case_id, Release(last_revision=0))
    [row] = AssignmentService(store.db, AuditLog(store.db), store.forms).list()
    assert (row.device_id, row.status) == (b.id, "handed_over")
    assert [e.action for e in AuditLog(store.db).entries()][:2] == \
        ["case.handover_forced", "case.handover_started"]


def test_a_tablets_request_for_a_case_is_granted_or_refused(store: ServerStore) -> None:
    a, b = Tablet(store, "a"), Tablet(store, "b")
    first, second = assign(store, a, "KYC-1"), assign(store, a, "KYC-2")
    a.pull_all()
    service = handovers(store)
    asked = service.request(b.id, first, HandoverRequest(reason="imported"))
    assert service.request(b.id, first, HandoverRequest()) == asked  # asked again
    refused_id = service.request(b.id, second, HandoverRequest())
    with pytest.raises(RequestRefusedError) as own:
        service.request(a.id, first, HandoverRequest())
    assert own.value.status == 409
    with pytest.raises(RequestRefusedError) as unknown:
        service.request(b.id, str(uuid.uuid4()), HandoverRequest())
    assert unknown.value.status == 404
    assert {h.id for h in service.list()} == {asked, refused_id}
    with pytest.raises(NotAllowedError):
        service.grant(ANNA, asked, address=IP)
    service.grant(SUE, asked, address=IP)
    service.refuse(SUE, refused_id, note="Ask Anna first", address=IP)
    with pytest.raises(ReviewConflictError):
        service.refuse(SUE, refused_id, address=IP)
    [refusal] = b.pull_all()
    assert (refusal.kind, refusal.case_id, refusal.note) == \
        ("handover_refused", second, "Ask Anna first")
    [out] = a.pull_all()
    assert (out.kind, out.case_id) == ("handover_out", first)
    service.release(a.id, first, Release(last_revision=0))
    a.held.discard(first)
    [arrived] = b.pull_all()
    assert (arrived.kind, arrived.case_id) == ("handover_in", first)


def test_a_published_form_reaches_every_device_and_a_broken_one_is_refused(
        store: ServerStore) -> None:
    a, b = Tablet(store, "a"), Tablet(store, "b")
    publisher = FormPublisher(store.db, AuditLog(store.db), store.forms)
    shipped = json.loads((store.forms.folder / "individual_kyc_v2.json").read_text())
    new = {**shipped, "version": "4", "title": shipped["title"] + " (2027)"}
    for broken, reason in ((b"{not json", "not JSON"),
                           (json.dumps({**new, "steps": "x"}), "not valid"),
                           (json.dumps({**shipped, "title": "Other"}), "new version")):
        with pytest.raises((InvalidActError, ReviewConflictError), match=reason):
            publisher.publish(SUE, broken, address=IP)
    with pytest.raises(InvalidActError, match="SHA-256"):
        publisher.publish(SUE, json.dumps(new), expected_sha256="0" * 64, address=IP)
    with pytest.raises(NotAllowedError):
        publisher.publish(ANNA, json.dumps(new), address=IP)
    assert a.pull_all() == []
    published = publisher.publish(SUE, json.dumps(new, indent=2),
                                  expected_sha256=form_definition_sha256(new), address=IP)
    assert publisher.publish(SUE, new, address=IP) == published  # the same again
    for tablet in (a, b):
        [form] = tablet.pull_all()
        assert (form.kind, form.form_id, form.form_version, form.definition_sha256) == \
            ("form", "individual_kyc", "4", form_definition_sha256(new))
        assert form.definition == new
    # Submissions under it are checked from now on, by this worker and any other.
    assert store.forms.get("individual_kyc", "4") is not None
    assert store.published_form("individual_kyc", "4") == store.forms.get("individual_kyc",
                                                                           "4")


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_v5_database_gets_each_devices_held_set_from_what_it_submitted(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    """Migration 5 → 6: a tablet of the one-way version holds the cases it owns and has
    submitted; its first pull (no token, that digest) is not a 412."""
    from kycdesk_server import schema
    from kycdesk_server.database import Database, PostgresDatabase, SqliteDatabase

    db: Database
    if engine == "sqlite":
        db = SqliteDatabase(tmp_path / "server.sqlite3")
    else:
        db = PostgresDatabase(request.getfixturevalue("postgres").new_database("v5to6"))
    schema.migrate(db, target=5)
    submitted, claimed_only = str(uuid.uuid4()), str(uuid.uuid4())
    db.execute("INSERT INTO devices VALUES ('dev-1', 'tablet', 'hash', 't', NULL)")
    db.execute("INSERT INTO devices VALUES ('dev-2', 'idle', 'hash2', 't', NULL)")
    for case_id in (submitted, claimed_only):
        db.execute("INSERT INTO case_owners VALUES (?, 'dev-1', 't')", (case_id,))
    db.execute("INSERT INTO submissions VALUES (?, 1, 'h', '{}', 'dev-1', 'r1', 't', '[]')",
               (submitted,))
    assert schema.migrate(db) == (5, schema.LATEST)
    held = feed.held(db, "dev-1")
    assert (held.digest, held.count, held.feed_seq) == (feed.digest_of([submitted]), 1, 0)
    assert feed.held(db, "dev-2").count == 0
    reply = PullService(db).pull("dev-1", PullRequest(
        held_digest=feed.digest_of([submitted]), held_count=1))
    assert reply.changes == [] and not reply.more
    db.close()


def test_a_pulls_statements_do_not_grow_with_the_cases_held(store: ServerStore) -> None:
    """No per-case work: a tablet holding 600 cases pulls with as many statements as one
    holding 6 (empty, and with 5 changes waiting)."""
    counts = {}
    for held in (6, 600):
        tablet = Tablet(store, f"t{held}")
        with store.db.transaction():
            for n in range(held):
                feed.append(store.db, tablet.id, "assigned", str(uuid.uuid4()),
                            {"at": "2026-12-01", "reference_number": f"R{n}"},
                            held_delta=+1)
        tablet.pull_all(limit=500)
        statements: list[str] = []
        execute = store.db.execute

        def counted(sql: str, params: Any = (), _execute: Any = execute,
                    _seen: list[str] = statements) -> Any:
            _seen.append(sql)
            return _execute(sql, params)

        store.db.execute = counted  # type: ignore[method-assign]
        try:
            tablet.pull()
            empty = len(statements)
            for case_id in sorted(tablet.held)[:5]:
                feed.append(store.db, tablet.id, "office_edit", case_id, {"at": "x"})
            statements.clear()
            assert len(tablet.pull().changes) == 5
            counts[held] = (empty, len(statements))
        finally:
            del store.db.execute
    assert counts[6] == counts[600], counts
