"""Case rows, status machine, list paging, and the field-edit write-ahead."""

from __future__ import annotations

import pytest

from kycdesk.core.errors import (
    CaseLockedError,
    CaseNotFoundError,
    InvalidCaseIdError,
    StoreError,
    TransitionRefusedError,
)
from kycdesk.core.ids import new_id
from kycdesk.core.states import TRANSITIONS, CaseStatus, CaseView, Change
from kycdesk.persistence import events
from kycdesk.persistence.commands import (
    AppendEdit,
    CreateCase,
    SaveForm,
    SetCurrentStep,
    SetReferenceNumber,
    Transition,
)
from kycdesk.persistence.store import LocalStore
from tests import transitions


def test_create_case_makes_draft_with_empty_form_folder_and_event(store: LocalStore) -> None:
    case_id = store.run(CreateCase(reference_number="KYC-1", form_id="individual_kyc",
                                form_version="1"))
    case = store.load_case(case_id)
    assert (case.status, case.reference_number, case.form, case.revision) == \
        ("DRAFT", "KYC-1", {}, 0)
    assert case.form_id == "individual_kyc" and case.form_version == "1"
    assert case.created_at and case.created_at.endswith("Z")
    assert store.paths.case_dir(case_id).is_dir()
    assert [kind for _, kind, _ in events.list_events(store.conn, case_id)] == ["created"]


def test_create_case_with_traversal_id_is_refused(store: LocalStore) -> None:
    with pytest.raises(InvalidCaseIdError):
        store.run(CreateCase(case_id="../../outside"))
    assert not (store.paths.root.parent / "outside").exists()


def test_status_machine_allows_only_documented_moves(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    with pytest.raises(TransitionRefusedError, match="DRAFT cannot take"):
        transitions.mark_synced(store, case_id)
    transitions.submit(store, case_id)
    assert store.conn.scalar("SELECT finalized_at FROM cases WHERE id = ?", (case_id,))
    transitions.fail(store, case_id, "checksum")
    assert store.list_cases()[0].last_error == "checksum"
    transitions.retry(store, case_id)
    transitions.mark_synced(store, case_id)
    with pytest.raises(TransitionRefusedError, match="SYNCED cannot take"):
        transitions.reopen(store, case_id)
    kinds = [d["to"] for _, kind, d in events.list_events(store.conn, case_id)
             if kind == "status"]
    assert kinds == ["READY", "FAILED", "READY", "SYNCED"]


def test_reopen_as_draft_clears_finalized_at(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    transitions.submit(store, case_id)
    transitions.reopen(store, case_id)
    assert store.conn.scalar("SELECT finalized_at FROM cases WHERE id = ?", (case_id,)) is None


def test_unknown_case_is_reported(store: LocalStore) -> None:
    with pytest.raises(CaseNotFoundError):
        store.load_case(new_id())
    with pytest.raises(CaseNotFoundError):
        store.run(SetCurrentStep(new_id(), "x"))


def test_current_step_and_reference_are_remembered(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    store.run(SetCurrentStep(case_id, "employment"))
    store.run(SetReferenceNumber(case_id, "KYC-9"))
    case = store.load_case(case_id)
    assert (case.current_step, case.reference_number) == ("employment", "KYC-9")


def test_case_list_pages_newest_first_and_filters(store: LocalStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Stamps have millisecond precision: saves within one millisecond tie (and are then
    # listed by id). A clock that moves 1 ms per reading gives each save its own time.
    from datetime import timedelta

    from kycdesk.core.clock import format_instant, now

    start, ticks = now(), iter(range(1_000_000))
    monkeypatch.setattr("kycdesk.persistence.forms.now_text",
                        lambda: format_instant(start + timedelta(milliseconds=next(ticks))))
    ids = [store.run(CreateCase(reference_number=f"R{i}")) for i in range(7)]
    for case_id in ids:  # last_saved order = save order
        store.run(SaveForm(case_id, {"x": 1}))
    transitions.submit(store, ids[0])
    first = store.list_cases(limit=3)
    second = store.list_cases(limit=3, after=first[-1])
    assert [c.reference_number for c in first + second] == ["R6", "R5", "R4", "R3", "R2", "R1"]
    assert [c.id for c in store.list_cases(limit=10, view=CaseView.WAITING)] == [ids[0]]


def test_edits_are_replayed_on_load_in_order(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    assert store.run(AppendEdit(case_id, "name", "A")) == 1
    assert store.run(AppendEdit(case_id, "name", "Ab")) == 2
    assert store.run(AppendEdit(case_id, "age", 41)) == 3
    case = store.load_case(case_id)
    assert case.form == {"name": "Ab", "age": 41}
    assert case.replayed_edits == 3
    assert case.revision == 0


def test_save_folds_edits_bumps_revision_and_last_saved(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    before = store.load_case(case_id).last_saved
    store.run(AppendEdit(case_id, "name", "Ada"))
    assert store.run(SaveForm(case_id, {"name": "Ada"}, form_version="1")) == 1
    case = store.load_case(case_id)
    assert case.form == {"name": "Ada"} and case.replayed_edits == 0
    assert case.revision == 1 and case.form_version == "1"
    assert case.last_saved is not None and before is not None and case.last_saved >= before
    assert store.conn.scalar("SELECT count(*) FROM case_edits WHERE case_id = ?",
                             (case_id,)) == 0
    # Edits after a save replay on top of the saved form.
    store.run(AppendEdit(case_id, "name", "Ada L."))
    assert store.load_case(case_id).form == {"name": "Ada L."}
    assert store.run(SaveForm(case_id, {"name": "Ada L."})) == 2


def test_edit_sequence_restarts_cleanly_after_a_fold(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    store.run(AppendEdit(case_id, "a", 1))
    store.run(SaveForm(case_id, {"a": 1}))
    assert store.run(AppendEdit(case_id, "a", 2)) == 1
    assert store.load_case(case_id).form == {"a": 2}


def test_values_round_trip_exactly(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    values = {"text": "ünïcødé ✓", "int": 2**40, "float": 1 / 7, "bool": False,
              "none": None, "list": ["a", 1], "nested": {"k": [1, 2]}, "empty": ""}
    for key, value in values.items():
        store.run(AppendEdit(case_id, key, value))
    assert store.load_case(case_id).form == values
    store.run(SaveForm(case_id, values))
    assert store.load_case(case_id).form == values


def test_value_that_is_not_json_is_refused_without_damage(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    store.run(AppendEdit(case_id, "ok", 1))
    with pytest.raises(StoreError, match="could not be stored"):
        store.run(AppendEdit(case_id, "bad", float("nan")))
    with pytest.raises(StoreError, match="could not be stored"):
        store.run(SaveForm(case_id, {"bad": object()}))
    assert store.load_case(case_id).form == {"ok": 1}


def test_ready_and_synced_cases_refuse_changes(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    store.run(AppendEdit(case_id, "a", 1))
    store.run(SaveForm(case_id, {"a": 1}))
    transitions.submit(store, case_id)
    with pytest.raises(CaseLockedError, match="READY"):
        store.run(AppendEdit(case_id, "a", 2))
    with pytest.raises(CaseLockedError, match="READY"):
        store.run(SaveForm(case_id, {"a": 2}))
    transitions.mark_synced(store, case_id)
    with pytest.raises(CaseLockedError, match="SYNCED"):
        store.run(AppendEdit(case_id, "a", 3))
    assert store.load_case(case_id).form == {"a": 1}


def test_cases_are_isolated(store: LocalStore) -> None:
    first, second = store.run(CreateCase()), store.run(CreateCase())
    store.run(AppendEdit(first, "name", "first"))
    store.run(AppendEdit(second, "name", "second"))
    store.run(SaveForm(first, {"name": "first"}))
    assert store.load_case(second).form == {"name": "second"}
    assert store.load_case(second).replayed_edits == 1


def _case_in(store: LocalStore, status: CaseStatus) -> str:
    case_id: str = store.run(CreateCase())
    if status is not CaseStatus.DRAFT:
        transitions.submit(store, case_id)
    if status is CaseStatus.FAILED:
        transitions.fail(store, case_id)
    elif status is CaseStatus.SYNCED:
        transitions.mark_synced(store, case_id)
    return case_id


@pytest.mark.parametrize("change", list(Change))
@pytest.mark.parametrize("status", list(CaseStatus))
def test_every_change_from_every_status_follows_the_one_table(
        store: LocalStore, change: Change, status: CaseStatus) -> None:
    """The transition table in core.states is the whole truth: an allowed change lands
    with its audit event in the same transaction; a refused one writes nothing."""
    case_id = _case_in(store, status)
    revision = store.load_sync_case(case_id).revision
    events_before = len(events.list_events(store.conn, case_id))
    command = Transition(case_id, change, error="e", error_kind="transient",
                         revision=revision, receipt={"receipt_id": "r"})
    if status in TRANSITIONS[change].sources:
        result = store.run(command)
        assert result.status is TRANSITIONS[change].target
        assert store.load_case(case_id).status == TRANSITIONS[change].target
        last = events.list_events(store.conn, case_id)[-1]
        assert last[1] == "status" and last[2]["change"] == change.value
    else:
        with pytest.raises(TransitionRefusedError):
            store.run(command)
        assert store.load_case(case_id).status == status
        assert len(events.list_events(store.conn, case_id)) == events_before


def test_reopen_bumps_the_revision_and_a_stale_sync_confirmation_is_refused(
        store: LocalStore) -> None:
    case_id = _case_in(store, CaseStatus.READY)
    sent = store.load_sync_case(case_id).revision
    transitions.reopen(store, case_id)
    transitions.submit(store, case_id)
    assert store.load_sync_case(case_id).revision == sent + 1
    with pytest.raises(TransitionRefusedError, match="changed while it was being sent"):
        store.run(Transition(case_id, Change.SYNCED, revision=sent, receipt={"r": 1}))
    assert store.load_case(case_id).status == CaseStatus.READY


def test_badges_keep_red_for_cases_a_person_must_act_on() -> None:
    from kycdesk.core.states import AMBER, badge

    assert badge("FAILED", "transient").label == "RETRYING"
    assert badge("FAILED", "transient").colour == AMBER
    assert badge("FAILED", None).label == "RETRYING"  # an old row without a kind
    for kind in ("permanent", "auth"):
        shown = badge("FAILED", kind)
        assert (shown.label, shown.needs_action) == ("NEEDS ACTION", True)
    assert {badge(s, None).label for s in ("DRAFT", "READY", "SYNCED")} == \
        {"DRAFT", "READY", "SYNCED"}
