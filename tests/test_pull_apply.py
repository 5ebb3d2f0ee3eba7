"""Two-way sync, device side: a pull page applied to a real store (real SQLite files),
pages built as the server sends them (tests/pull_pages.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kycdesk.core.errors import CaseLockedError
from kycdesk.core.hashing import held_digest
from kycdesk.core.protocol import EMPTY_HELD_DIGEST, Submission
from kycdesk.core.states import CaseStatus, CaseView
from kycdesk.paths import DataPaths
from kycdesk.persistence import sealed
from kycdesk.persistence.commands import (
    AppendEdit,
    ApplyPull,
    CreateCase,
    DiscardDraft,
    RecordFetchedPhoto,
    RecordHandoverRequested,
    RecordNeedsHandover,
    ReleaseCase,
    ResolveConflict,
    SaveForm,
    SetActor,
)
from kycdesk.persistence.encrypted_files import photo_context, write_encrypted
from kycdesk.persistence.store import LocalStore
from tests import transitions
from tests.pull_pages import Feed, assigned, form_change, new_case_id, photo, shipped_form
from tests.vaults import make_vault


def _dump_state(store: LocalStore) -> list[object]:
    """Everything a pull can change, for comparing two stores row for row."""
    conn = store.conn
    tables = ("cases", "case_forms", "case_office", "review_comments", "case_decisions",
              "conflicts", "photos_to_fetch", "pushed_forms", "held_cases", "pull_position",
              "case_view_counts")
    rows: list[object] = []
    for table in tables:
        columns = [r[1] for r in conn.query_all(f"PRAGMA table_info({table})")]
        # A sealed value differs at each write (a new nonce): compared opened, below.
        skip = {"id", "last_saved", "created_at", "updated_at", "received_at", "search_key",
                *sealed.SEALED_COLUMNS.values()}
        kept = [c for c in columns if c not in skip or (table == "cases" and c == "id")]
        rows.append((table, conn.query_all(
            f"SELECT {', '.join(kept)} FROM {table} ORDER BY 1")))
    for (case_id,) in conn.query_all("SELECT id FROM cases ORDER BY id"):
        rows.append(("opened", case_id, store.load_case(case_id).form,
                     store.read_two_way(case_id),
                     [{k: v for k, v in entry.items() if k != "at"}
                      for entry in store.field_history(case_id)]))
    rows.append(("photos to fetch", store.photos_to_fetch()))
    rows.append(("pushed forms", [f.model_dump() for f in store.pushed_forms()]))
    return rows


def _synced_case(store: LocalStore, form: dict[str, object]) -> str:
    case_id = store.run(CreateCase(reference_number="KYC-1"))
    store.run(SaveForm(case_id, form))
    transitions.submit(store, case_id)
    transitions.mark_synced(store, case_id)
    return case_id


# -- assignments, idempotency, the token ---------------------------------------------
def test_an_assignment_is_a_draft_in_assigned_to_you_with_its_prefill(
        store: LocalStore) -> None:
    feed, case_id = Feed(), new_case_id()
    assert store.pull_position() == (None, EMPTY_HELD_DIGEST, 0)
    store.run(SetActor("Vera Verifier"))
    applied = store.run(ApplyPull(feed.page(assigned(feed, case_id))))
    assert applied.changes == 1 and applied.case_changes[0].case_id == case_id
    case = store.load_case(case_id)
    assert case.status == CaseStatus.DRAFT and case.revision == 0
    assert case.form == {"applicant.first_name": "Ada", "applicant.last_name": "Lovelace"}
    summary = store.list_cases(view=CaseView.ASSIGNED)[0]
    assert (summary.id, summary.inbox, summary.due_date) == (case_id, "assigned",
                                                             "2026-06-10")
    assert store.view_counts()[CaseView.ASSIGNED] == 1
    state = store.read_two_way(case_id)
    assert state.assignment is not None
    assert state.assignment.prefilled == {"applicant.first_name", "applicant.last_name"}
    assert state.assignment.note == "Visit after 5 pm"
    assert state.assignment.assigned_by == "Sam Supervisor"
    token, digest, count = store.pull_position()
    assert (token, digest, count) == ("t1", held_digest([case_id]), 1)
    history = store.field_history(case_id)
    assert {(h["field_key"], h["why"], h["by"]) for h in history} == {
        ("applicant.first_name", "prefilled", "Sam Supervisor"),
        ("applicant.last_name", "prefilled", "Sam Supervisor")}
    # The verifier types; the save records who and why; submitting empties the inbox.
    store.run(SaveForm(case_id, {**case.form, "applicant.first_name": "Augusta"}))
    typed = store.field_history(case_id)[-1]
    assert (typed["old"], typed["new"], typed["by"], typed["why"]) == (
        "Ada", "Augusta", "Vera Verifier", "typed")
    transitions.submit(store, case_id)
    assert store.list_cases(view=CaseView.ASSIGNED) == []
    assert store.view_counts()[CaseView.WAITING] == 1
    sent = store.load_sync_case(case_id)
    body = Submission.model_validate({
        "revision": sent.revision, "form": sent.form, "images": [],
        "client": {"app_version": "t", "device_id": "d"}, "history": sent.history})
    assert [h.why for h in body.history] == ["prefilled", "prefilled", "typed"]


def test_a_page_applied_twice_gives_the_same_state(store: LocalStore) -> None:
    feed, a, b = Feed(), new_case_id(), new_case_id()
    synced = _synced_case(store, {"applicant.first_name": "Bo"})
    page = feed.page(assigned(feed, a), assigned(feed, b, reference_number="KYC-2"),
                     form_change(feed, {**shipped_form(), "version": "4"}),
                     feed.change("decided", synced, revision=1, decision="approved"))
    assert store.run(ApplyPull(page)).changes == 4
    once = _dump_state(store)
    assert store.run(ApplyPull(page)).changes == 0  # fetched again after a lost reply
    assert _dump_state(store) == once
    assert store.pull_position()[2] == 3  # a, b and the synced case


def test_every_change_is_idempotent_even_when_replayed_without_the_seq_guard(
        store: LocalStore) -> None:
    """A resync replays a feed from the start: every kind must apply to the same state."""
    feed, case_id = Feed(), new_case_id()
    synced = _synced_case(store, {"applicant.first_name": "Cy"})
    revision = store.load_sync_case(synced).revision
    page = feed.page(
        assigned(feed, case_id),
        feed.change("office_edit", case_id, field_key="applicant.first_name", value="Ida",
                    base_value="Ada"),
        feed.change("returned", synced, revision=revision, comments=[
            {"field_key": "applicant.first_name", "text": "Spelling?", "author": "Rae",
             "at": "2026-06-02T10:00:00Z"}]),
        feed.change("decided", synced, revision=revision, decision="approved"))
    store.run(ApplyPull(page, resync=True))
    first = _dump_state(store)
    store.run(ApplyPull(page, resync=True))
    assert _dump_state(store) == first


# -- returns and decisions ------------------------------------------------------------
def test_a_return_reopens_the_synced_revision_with_its_comments(store: LocalStore) -> None:
    feed = Feed()
    case_id = _synced_case(store, {"applicant.first_name": "Dee"})
    sent = store.load_sync_case(case_id).revision
    shot = photo()
    store.run(ApplyPull(feed.page(feed.change(
        "returned", case_id, revision=sent, note="Please fix",
        comments=[{"field_key": "applicant.first_name", "text": "Check the spelling",
                   "author": "Rae Reviewer", "at": "2026-06-02T10:00:00Z"},
                  {"client_image_id": shot["client_image_id"], "text": "Blurred",
                   "author": "Rae Reviewer", "at": "2026-06-02T10:01:00Z"},
                  {"text": "Address missing", "author": "Rae Reviewer",
                   "at": "2026-06-02T10:02:00Z"}]))))
    case = store.load_case(case_id)
    assert case.status == CaseStatus.DRAFT and case.revision == sent + 1
    assert [c.id for c in store.list_cases(view=CaseView.RETURNED)] == [case_id]
    state = store.read_two_way(case_id)
    assert state.inbox == "returned"
    assert [c.text for c in state.comments] == ["Check the spelling", "Blurred",
                                                "Address missing"]
    assert state.comments[1].client_image_id == shot["client_image_id"]
    assert state.decision is not None and state.decision.decision == "returned"
    assert state.conflicts == ()
    # Resubmitted: the next revision, out of the inbox.
    store.run(SaveForm(case_id, {"applicant.first_name": "Dee Dee"}))
    transitions.submit(store, case_id)
    assert store.load_sync_case(case_id).revision > sent
    assert store.read_two_way(case_id).inbox is None


def test_a_decision_is_stored_and_the_status_does_not_change(store: LocalStore) -> None:
    feed = Feed()
    case_id = _synced_case(store, {"applicant.first_name": "Eve"})
    store.run(ApplyPull(feed.page(feed.change(
        "decided", case_id, revision=1, decision="rejected", reason_code="doc_expired",
        reason_label="The ID document has expired", note="Ask for a passport"))))
    state = store.read_two_way(case_id)
    assert state.decision is not None
    assert (state.decision.decision, state.decision.reason_label) == (
        "rejected", "The ID document has expired")
    assert store.load_case(case_id).status == CaseStatus.SYNCED


# -- the conflict matrix: (server changed, device changed) x (field, photo, status) ------
def _field_case(store: LocalStore, feed: Feed, device_changed: bool) -> str:
    case_id = new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, case_id))))
    if device_changed:
        store.run(AppendEdit(case_id, "applicant.first_name", "Adah"))  # not saved yet
    return case_id


@pytest.mark.parametrize("device_changed", [False, True])
@pytest.mark.parametrize("server_changed", [False, True])
def test_conflict_matrix_field(store: LocalStore, server_changed: bool,
                               device_changed: bool) -> None:
    feed = Feed()
    case_id = _field_case(store, feed, device_changed)
    if server_changed:
        store.run(ApplyPull(feed.page(feed.change(
            "office_edit", case_id, field_key="applicant.first_name", value="Adele",
            base_value="Ada", by="Olga Office", note="corrected"))))
    form = store.load_case(case_id).form
    conflicts = store.read_two_way(case_id).conflicts
    if server_changed and device_changed:
        assert form["applicant.first_name"] == "Adah"  # what the verifier typed stays
        (conflict,) = conflicts
        assert (conflict.kind, conflict.field_key, conflict.server_value,
                conflict.local_value, conflict.server_by) == (
            "field", "applicant.first_name", "Adele", "Adah", "Olga Office")
    elif server_changed:
        assert form["applicant.first_name"] == "Adele" and conflicts == ()
        last = store.field_history(case_id)[-1]
        assert (last["why"], last["by"], last["old"], last["new"]) == (
            "office", "Olga Office", "Ada", "Adele")
    else:
        assert form["applicant.first_name"] == ("Adah" if device_changed else "Ada")
        assert conflicts == ()


@pytest.mark.parametrize("device_changed", [False, True])
@pytest.mark.parametrize("server_changed", [False, True])
def test_conflict_matrix_photo(store: LocalStore, jpeg: Path, server_changed: bool,
                               device_changed: bool) -> None:
    from kycdesk.persistence.commands import AddImage

    feed, case_id = Feed(), new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, case_id))))
    if device_changed:
        store.run(AddImage(case_id, jpeg, slot="id_front"))
    shot = photo("id_front")
    if server_changed:
        store.run(ApplyPull(feed.page(feed.change("office_edit", case_id, photos=[shot]))))
    conflicts = store.read_two_way(case_id).conflicts
    to_fetch = [p.client_image_id for p in store.photos_to_fetch()]
    mine = [i for i in store.list_images(case_id) if i.source != "pulled"]
    assert len(mine) == (1 if device_changed else 0)  # the verifier's photo stays
    if server_changed and device_changed:
        (conflict,) = conflicts
        assert (conflict.kind, conflict.client_image_id) == ("photo", shot["client_image_id"])
        assert conflict.local_value["client_image_id"] == mine[0].client_image_id
        assert to_fetch == []  # held back until the verifier chooses
        store.run(ResolveConflict(conflict.id, "server"))
        assert [p.client_image_id for p in store.photos_to_fetch()] == [
            shot["client_image_id"]]
        assert store.list_images(case_id) == []  # the office's photo takes the slot
    elif server_changed:
        assert conflicts == () and to_fetch == [shot["client_image_id"]]
    else:
        assert conflicts == () and to_fetch == []


@pytest.mark.parametrize("device_changed", [False, True])
@pytest.mark.parametrize("server_changed", [False, True])
def test_conflict_matrix_status(store: LocalStore, server_changed: bool,
                                device_changed: bool) -> None:
    feed = Feed()
    case_id = _synced_case(store, {"applicant.first_name": "Flo"})
    sent = store.load_sync_case(case_id).revision
    if device_changed:
        # The office's copy moved on without it: this device made a newer revision
        # (returned earlier, typed and submitted again — not sent yet).
        store.conn.execute("UPDATE cases SET status = 'READY' WHERE id = ?", (case_id,))
        store.conn.execute("UPDATE case_forms SET revision = revision + 3 WHERE case_id = ?",
                           (case_id,))
    if server_changed:
        store.run(ApplyPull(feed.page(feed.change(
            "returned", case_id, revision=sent, comments=[
                {"text": "Redo", "author": "Rae", "at": "2026-06-02T10:00:00Z"}]))))
    case = store.load_case(case_id)
    state = store.read_two_way(case_id)
    if server_changed and device_changed:
        assert case.status == CaseStatus.READY  # nothing overwritten
        (conflict,) = state.conflicts
        assert (conflict.kind, conflict.server_value) == ("status", "returned")
        assert conflict.local_value == {"status": "READY", "revision": sent + 3}
        assert [c.text for c in state.comments] == ["Redo"]  # the return is stored
        change = store.run(ResolveConflict(conflict.id, "server"))
        assert change is not None and change.status == CaseStatus.DRAFT
        assert store.read_two_way(case_id).inbox == "returned"
    elif server_changed:
        assert case.status == CaseStatus.DRAFT and state.inbox == "returned"
        assert state.conflicts == ()
    else:
        assert state.conflicts == () and state.inbox is None
        assert case.status == (CaseStatus.READY if device_changed else CaseStatus.SYNCED)


def test_resolving_a_field_conflict_goes_through_the_save_with_why_merged(
        store: LocalStore) -> None:
    feed = Feed()
    case_id = _field_case(store, feed, device_changed=True)
    store.run(ApplyPull(feed.page(feed.change(
        "office_edit", case_id, field_key="applicant.first_name", value="Adele",
        base_value="Ada"))))
    (conflict,) = store.read_two_way(case_id).conflicts
    store.run(ResolveConflict(conflict.id, "server"))
    assert store.load_case(case_id).form["applicant.first_name"] == "Adele"
    assert store.read_two_way(case_id).conflicts == ()
    last = store.field_history(case_id)[-1]
    assert (last["old"], last["new"], last["why"]) == ("Adah", "Adele", "merged")
    # Choosing again is harmless: the choice was made.
    assert store.run(ResolveConflict(conflict.id, "local")) is None


# -- pushed forms -----------------------------------------------------------------------
def test_a_pushed_form_is_checked_and_a_broken_one_refused(store: LocalStore) -> None:
    feed = Feed()
    good = {**shipped_form(), "version": "4", "title": "KYC v4"}
    damaged = {**shipped_form(), "version": "5"}
    invalid = {**shipped_form(), "version": "6", "steps": []}
    applied = store.run(ApplyPull(feed.page(
        form_change(feed, good),
        form_change(feed, damaged, sha256="0" * 64),
        form_change(feed, invalid))))
    assert [(d.form_id, d.version) for d in store.pushed_forms()] == [("individual_kyc", "4")]
    assert len(applied.refused_forms) == 2
    assert "SHA-256 does not match" in applied.refused_forms[0]
    assert "not a valid form" in applied.refused_forms[1]
    assert store.refused_forms()[0] == applied.refused_forms[1]
    # The same version again with other content is refused; the first stays.
    store.run(ApplyPull(feed.page(form_change(feed, {**good, "title": "changed"}))))
    assert store.pushed_forms()[0].title == "KYC v4"
    # A new assignment without a version uses the newest pushed one.
    case_id = new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, case_id, form_version=None))))
    assert store.load_case(case_id).form_version == "4"


def test_drafts_under_an_older_form_keep_opening_and_saving(store: LocalStore) -> None:
    """Row for row: a pushed version changes no existing draft."""
    feed = Feed()
    old = store.run(CreateCase(form_id="individual_kyc", form_version="2"))
    store.run(SaveForm(old, {"applicant.first_name": "Gus"}))
    before = store.conn.query_all("SELECT * FROM case_forms WHERE case_id = ?", (old,))
    cases_before = store.conn.query_all(
        "SELECT id, form_id, form_version, status FROM cases WHERE id = ?", (old,))
    store.run(ApplyPull(feed.page(form_change(feed, {**shipped_form(), "version": "4"}))))
    assert store.conn.query_all("SELECT * FROM case_forms WHERE case_id = ?",
                                (old,)) == before
    assert store.conn.query_all("SELECT id, form_id, form_version, status FROM cases "
                                "WHERE id = ?", (old,)) == cases_before
    store.run(AppendEdit(old, "applicant.last_name", "Grey"))
    store.run(SaveForm(old, {"applicant.first_name": "Gus", "applicant.last_name": "Grey"}))
    reopened = store.load_case(old)
    assert reopened.form_version == "2" and reopened.form["applicant.last_name"] == "Grey"


# -- handovers, withdrawal, release ------------------------------------------------------
def test_handover_in_brings_the_case_with_answers_and_photos_to_fetch(
        store: LocalStore, paths: DataPaths, jpeg: Path) -> None:
    content = jpeg.read_bytes()
    feed, case_id, shot = Feed(), new_case_id(), photo("id_front", content)
    store.run(ApplyPull(feed.page(feed.change(
        "handover_in", case_id, revision=2, reference_number="KYC-H",
        form_id="individual_kyc", form_version="3",
        form={"applicant.first_name": "Hal"}, photos=[shot]))))
    case = store.load_case(case_id)
    assert case.status == CaseStatus.DRAFT and case.revision == 3  # after the office's 2
    (pending,) = store.photos_to_fetch()
    assert (pending.case_id, pending.sha256, pending.slot) == (case_id, shot["sha256"],
                                                               "id_front")
    target = paths.pulled_photo(case_id, shot["client_image_id"], "jpg")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_encrypted(store.vault, target, photo_context(case_id), content)  # as fetched
    store.run(RecordFetchedPhoto(case_id, shot["client_image_id"], target))
    store.run(RecordFetchedPhoto(case_id, shot["client_image_id"], target))  # a retry
    (image,) = store.list_images(case_id)
    assert image.synced and image.server_image_id == shot["server_image_id"]
    assert (image.mime, image.sha256, image.source) == ("image/jpeg", shot["sha256"], "pulled")
    assert image.width and image.height
    check = store.check(repair=False, verify_hashes=True, full_integrity=True)
    assert not check.has_problems and not check.leftovers, check
    assert store.photos_to_fetch() == []
    assert case_id in {c for c in _held(store)}


def _held(store: LocalStore) -> list[str]:
    return [str(r[0]) for r in store.conn.query_all("SELECT case_id FROM held_cases")]


def test_handover_out_releases_after_the_unsent_is_sent(store: LocalStore,
                                                        paths: DataPaths) -> None:
    feed = Feed()
    case_id = store.run(CreateCase(reference_number="KYC-O"))
    store.run(SaveForm(case_id, {"applicant.first_name": "Ivy"}))
    transitions.submit(store, case_id)  # unsent
    store.run(ApplyPull(feed.page(feed.change("handover_out", case_id))))
    assert store.read_two_way(case_id).handover == "handing_out"
    assert store.cases_to_release() == []  # waits until it is sent
    transitions.mark_synced(store, case_id)
    revision = store.load_sync_case(case_id).revision
    assert store.cases_to_release() == [(case_id, revision)]
    assert store.pull_position()[2] == 1
    paths.case_dir(case_id).mkdir(parents=True, exist_ok=True)
    change = store.run(ReleaseCase(case_id))
    assert change.removed
    assert store.pull_position()[1:] == (EMPTY_HELD_DIGEST, 0)
    assert not paths.case_dir(case_id).exists()
    assert store.conn.scalar("SELECT count(*) FROM cases WHERE id = ?", (case_id,)) == 0


def test_withdrawn_removes_an_untouched_assignment_and_keeps_a_typed_one(
        store: LocalStore) -> None:
    feed, untouched, typed = Feed(), new_case_id(), new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, untouched), assigned(feed, typed))))
    store.run(SaveForm(typed, {"applicant.first_name": "Jo"}))
    applied = store.run(ApplyPull(feed.page(feed.change("withdrawn", untouched),
                                            feed.change("withdrawn", typed))))
    assert [c.removed for c in applied.case_changes] == [True, False]
    assert store.conn.scalar("SELECT count(*) FROM cases WHERE id = ?", (untouched,)) == 0
    state = store.read_two_way(typed)
    assert state.locked_reason is not None and "read-only" in state.locked_reason
    with pytest.raises(CaseLockedError, match="cancelled"):
        store.run(AppendEdit(typed, "applicant.first_name", "Joe"))
    assert store.load_case(typed).form["applicant.first_name"] == "Jo"
    assert store.pull_position()[1:] == (EMPTY_HELD_DIGEST, 0)
    store.run(DiscardDraft(typed))  # the verifier can still let it go


def test_an_imported_case_of_another_device_waits_for_the_office(store: LocalStore) -> None:
    case_id = store.run(CreateCase(reference_number="KYC-IMP"))
    transitions.submit(store, case_id)
    assert store.due_cases("9999") == [case_id]
    store.run(RecordNeedsHandover(case_id, "This case belongs to another device."))
    assert store.due_cases("9999", ignore_backoff=True) == []
    assert store.handover_requests_due() == [(case_id, "KYC-IMP")]
    store.run(RecordHandoverRequested(case_id))
    assert store.handover_requests_due() == []
    assert store.read_two_way(case_id).handover == "requested"
    assert store.load_case(case_id).status == CaseStatus.READY  # not NEEDS ACTION
    # Granted: the handover arrives; the copy is sent again.
    feed = Feed()
    store.run(ApplyPull(feed.page(feed.change("handover_in", case_id, revision=1))))
    assert store.read_two_way(case_id).handover is None
    assert store.due_cases("9999") == [case_id]


# -- resync -----------------------------------------------------------------------------
def test_resync_adds_missing_cases_and_keeps_the_ones_no_longer_given(
        store: LocalStore) -> None:
    kept = _synced_case(store, {"applicant.first_name": "Kim"})
    dropped = _synced_case(store, {"applicant.first_name": "Lou"})
    missing = new_case_id()
    feed = Feed()
    first = feed.page(feed.change("case_state", kept, revision=1), more=True)
    last = feed.page(feed.change("case_state", missing, revision=0,
                                 form={"applicant.first_name": "Max"}))
    store.run(ApplyPull(first, resync=True))
    assert store.conn.scalar("SELECT resyncing FROM pull_position") == 1
    store.run(ApplyPull(first, resync=True))  # the first page again, after a lost reply
    store.run(ApplyPull(last, resync=True))
    assert sorted(_held(store)) == sorted([kept, missing])
    assert store.pull_position() == ("t2", held_digest([kept, missing]), 2)
    assert store.load_case(missing).form == {"applicant.first_name": "Max"}
    state = store.read_two_way(dropped)
    assert state.locked_reason is not None  # kept, read-only, never silently deleted
    assert store.load_case(dropped).status == CaseStatus.SYNCED


def test_the_same_change_made_on_both_sides_is_no_conflict(store: LocalStore) -> None:
    feed = Feed()
    case_id = _field_case(store, feed, device_changed=False)
    store.run(AppendEdit(case_id, "applicant.first_name", "Adele"))
    store.run(ApplyPull(feed.page(feed.change(
        "office_edit", case_id, field_key="applicant.first_name", value="Adele",
        base_value="Ada"))))
    assert store.read_two_way(case_id).conflicts == ()
    assert store.load_case(case_id).form["applicant.first_name"] == "Adele"


def test_an_office_correction_of_a_synced_case_is_taken_and_recorded(
        store: LocalStore) -> None:
    feed = Feed()
    case_id = _synced_case(store, {"applicant.first_name": "Nia"})
    store.run(ApplyPull(feed.page(feed.change(
        "office_edit", case_id, field_key="applicant.first_name", value="Nina",
        base_value="Nia", by="Olga Office", note="as on the passport"))))
    assert store.load_case(case_id).form["applicant.first_name"] == "Nina"
    entry = store.field_history(case_id)[-1]
    assert (entry["why"], entry["by"], entry["note"]) == ("office", "Olga Office",
                                                           "as on the passport")


def test_seqs_numbered_apart_are_all_applied(store: LocalStore) -> None:
    """Forms and resync states are numbered apart from the feed: a form numbered below a
    feed change already applied is still taken (only the token says what was applied)."""
    feed, case_id = Feed(), new_case_id()
    for _ in range(56):
        feed.change("decided", None)  # the feed is at 56 on the server
    store.run(ApplyPull(feed.page(assigned(feed, case_id))))  # seq 57
    form = form_change(Feed(), {**shipped_form(), "version": "7"})  # the forms' seq 1
    assert form.seq == 1
    store.run(ApplyPull(feed.page(form)))
    assert [d.version for d in store.pushed_forms()] == ["7"]


def test_a_resync_brings_a_returned_case_back_as_returned_and_no_false_conflict(
        store: LocalStore) -> None:
    gone, fixed = new_case_id(), _synced_case(store, {"applicant.first_name": "Oz"})
    sent = store.load_sync_case(fixed).revision
    comment = {"field_key": "applicant.first_name", "text": "Typo", "author": "Rae",
               "at": "2026-06-02T10:00:00Z"}
    feed = Feed()
    store.run(ApplyPull(feed.page(feed.change("returned", fixed, revision=sent,
                                              comments=[comment]))))
    store.run(SaveForm(fixed, {"applicant.first_name": "Oscar"}))
    transitions.submit(store, fixed)  # the return was handled: resubmitted, not sent yet
    resync = Feed()
    store.run(ApplyPull(resync.page(
        resync.change("case_state", fixed, revision=sent, decision="returned",
                      form={"applicant.first_name": "Oz"}, comments=[comment]),
        resync.change("case_state", gone, revision=3, decision="returned",
                      form={"applicant.first_name": "Pam"}, comments=[comment])),
        resync=True))
    assert store.read_two_way(fixed).conflicts == ()
    assert store.load_case(fixed).status == CaseStatus.READY
    back = store.load_case(gone)
    assert (back.status, back.form) == (CaseStatus.DRAFT, {"applicant.first_name": "Pam"})
    state = store.read_two_way(gone)
    assert state.inbox == "returned" and [c.text for c in state.comments] == ["Typo"]


def test_keeping_the_local_photo_drops_the_offices(store: LocalStore, jpeg: Path) -> None:
    from kycdesk.persistence.commands import AddImage

    feed, case_id = Feed(), new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, case_id))))
    mine = store.run(AddImage(case_id, jpeg, slot="id_front"))
    store.run(ApplyPull(feed.page(feed.change("office_edit", case_id,
                                              photos=[photo("id_front")]))))
    (conflict,) = store.read_two_way(case_id).conflicts
    store.run(ResolveConflict(conflict.id, "local"))
    assert store.photos_to_fetch() == []
    assert [i.id for i in store.list_images(case_id)] == [mine.id]
    assert store.read_two_way(case_id).conflicts == ()


def test_who_typed_is_the_verifier_named_in_settings_else_the_device(
        store: LocalStore) -> None:
    import platform

    case_id = store.run(CreateCase())
    store.run(SaveForm(case_id, {"applicant.first_name": "Quinn"}))
    assert store.field_history(case_id)[-1]["by"] == (platform.node()[:100] or "this device")
    store.run(SetActor("  Vera Verifier "))
    store.run(SaveForm(case_id, {"applicant.first_name": "Quin"}))
    assert store.field_history(case_id)[-1]["by"] == "Vera Verifier"


def test_a_handed_over_returned_case_arrives_returned_without_a_false_conflict(
        store: LocalStore) -> None:
    feed, case_id = Feed(), new_case_id()
    store.run(ApplyPull(feed.page(feed.change(
        "handover_in", case_id, revision=2, decision="returned", note="Fix it",
        form={"applicant.first_name": "Rex"},
        comments=[{"text": "Blurred selfie", "author": "Rae", "at": "2026-06-02T10:00:00Z"}]
    ))))
    case = store.load_case(case_id)
    state = store.read_two_way(case_id)
    assert (case.status, case.revision, state.inbox) == (CaseStatus.DRAFT, 3, "returned")
    assert state.conflicts == () and [c.text for c in state.comments] == ["Blurred selfie"]
    assert state.assignment is None  # it was never assigned: no assignment shown
    assert store.cases_to_release() == []


def test_a_resync_never_turns_a_drafts_typing_into_a_choice(store: LocalStore) -> None:
    feed, case_id = Feed(), new_case_id()
    store.run(ApplyPull(feed.page(assigned(feed, case_id))))
    store.run(SaveForm(case_id, {"applicant.first_name": "Adah",
                                 "applicant.last_name": "Lovelace"}))
    resync = Feed()
    store.run(ApplyPull(resync.page(resync.change(
        "case_state", case_id, revision=0, form={"applicant.first_name": "Ada"},
        prefilled=["applicant.first_name"], due_date="2026-06-10")), resync=True))
    assert store.read_two_way(case_id).conflicts == ()
    assert store.load_case(case_id).form["applicant.first_name"] == "Adah"


def test_the_sync_runs_questions_read_an_index(store: LocalStore) -> None:
    """Asked on every sync run: which cases to release, which handovers to request —
    a few rows of an index, not a scan of every assigned case."""
    for sql in ("SELECT c.id FROM case_office o JOIN cases c ON c.id = o.case_id "
                "WHERE o.handover = 'handing_out'",
                "SELECT c.id FROM case_office o JOIN cases c ON c.id = o.case_id "
                "WHERE o.handover = 'needs_request'"):
        plan = " ".join(str(r[-1]) for r in store.conn.query_all("EXPLAIN QUERY PLAN " + sql))
        assert "case_office_handover" in plan, plan


def test_the_sync_worker_side_through_the_writer(paths: DataPaths, qapp: object) -> None:
    """The SyncStore methods the sync worker calls, through the one writer thread as the
    app runs them: every case a page creates or changes is announced."""
    from kycdesk.persistence.sync_store import standalone_sync_store

    feed, assigned_id, moving = Feed(), new_case_id(), new_case_id()
    heard: list[str] = []
    with standalone_sync_store(paths, vault=make_vault()) as sync:
        sync.writer.caseChanged.connect(lambda change: heard.append(change.case_id))
        assert sync.apply_pull(feed.page(assigned(feed, assigned_id),
                                         assigned(feed, moving, reference_number="KYC-M")),
                               resync=False) == 2
        assert sync.pull_position()[2] == 2
        assert sync.apply_pull(feed.page(feed.change("handover_out", moving)),
                               resync=False) == 1
        assert sync.cases_to_release() == [(moving, 0)]
        sync.record_released(moving)
        assert sync.cases_to_release() == [] and sync.pull_position()[2] == 1
        sync.record_needs_handover(assigned_id, "Another device's case.")
        assert sync.handover_requests_due() == [(assigned_id, "KYC-ASSIGNED-1")]
        sync.record_handover_requested(assigned_id)
        assert sync.handover_requests_due() == [] and sync.photos_to_fetch() == []
        assert sync.load_sync_case(assigned_id).history[0]["why"] == "prefilled"
    assert {assigned_id, moving} <= set(heard)


def test_a_save_on_its_way_before_the_office_correction_was_shown_keeps_it(
        store: LocalStore) -> None:
    """The open editor's autosave writes the whole form; one sent before the editor
    heard of an office correction still holds the old value of that answer. It must not
    put it back (the verifier never typed it); typing it again does."""
    feed = Feed()
    case_id = _field_case(store, feed, device_changed=False)
    stale = dict(store.load_case(case_id).form)  # what the open editor holds
    applied = store.run(ApplyPull(feed.page(feed.change(
        "office_edit", case_id, field_key="applicant.first_name", value="Adele",
        base_value="Ada", by="Olga Office"))))
    assert [c.answers for c in applied.case_changes] == [(("applicant.first_name",
                                                           "Adele"),)]
    store.run(AppendEdit(case_id, "address.city", "Lagos"))
    store.run(SaveForm(case_id, {**stale, "address.city": "Lagos"}))
    form = store.load_case(case_id).form
    assert (form["applicant.first_name"], form["address.city"]) == ("Adele", "Lagos")
    assert store.field_history(case_id)[-1]["field_key"] == "address.city"

    store.run(AppendEdit(case_id, "applicant.first_name", "Ada"))  # typed back: theirs
    store.run(SaveForm(case_id, {**stale, "address.city": "Lagos"}))
    assert store.load_case(case_id).form["applicant.first_name"] == "Ada"
    last = store.field_history(case_id)[-1]
    assert (last["why"], last["old"], last["new"]) == ("typed", "Adele", "Ada")


def test_startup_recovery_settles_photos_fetched_when_the_crash_came(
        store: LocalStore, paths: DataPaths, jpeg: Path) -> None:
    """What a crash leaves of downloads: a photo renamed into its case folder but not
    recorded (recorded now, not fetched again), one renamed with the wrong bytes
    (removed: fetched again), a partial of a photo still wanted (kept: it resumes) and
    a partial of a photo nobody wants any more (removed) — found from the downloads in
    flight, not by listing every case folder."""
    content = jpeg.read_bytes()
    feed, case_id = Feed(), new_case_id()
    came, damaged, partial = (photo("id_front", content), photo("id_back", content),
                              photo("proof_of_address", content))
    store.run(ApplyPull(feed.page(feed.change(
        "handover_in", case_id, revision=1, reference_number="KYC-R",
        form_id="individual_kyc", form_version="3", form={}, photos=[came, damaged, partial]))))
    context = photo_context(case_id)  # pulled photos are encrypted as they arrive
    whole = paths.pulled_photo(case_id, came["client_image_id"], "jpg")
    whole.parent.mkdir(parents=True, exist_ok=True)
    write_encrypted(store.vault, whole, context, content)
    wrong = paths.pulled_photo(case_id, damaged["client_image_id"], "jpg")
    write_encrypted(store.vault, wrong, context, content[:-10] + b"0123456789")
    paths.downloads_dir.mkdir(parents=True, exist_ok=True)
    resumable = paths.partial_download(case_id, partial["client_image_id"])
    with resumable.open("wb") as raw:  # cut short: no final chunk
        store.vault.encrypting_writer(raw, context).write(content[:70_000])
    kept = resumable.read_bytes()
    stale = paths.partial_download(new_case_id(), "0d9c4a4e-6c1e-4c0e-9a43-5b0d1d2d3e4f")
    stale.write_bytes(b"half a photo of a case that left")

    report = store.recover()

    (image,) = store.list_images(case_id)
    assert (image.client_image_id, image.file_path, image.sha256) == (
        came["client_image_id"], paths.relative(whole), came["sha256"])
    assert {p.client_image_id for p in store.photos_to_fetch()} == {
        damaged["client_image_id"], partial["client_image_id"]}
    assert not wrong.exists() and not stale.exists()
    assert resumable.read_bytes() == kept
    assert report.recorded_downloads == [paths.relative(whole)]
    assert sorted(report.removed_temp_files) == sorted([paths.relative(wrong),
                                                        paths.relative(stale)])
    assert store.recover().repairs == 0  # settled: nothing more to do
