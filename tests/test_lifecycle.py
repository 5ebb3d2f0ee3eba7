"""The end of a case on this device: a discarded draft, and the retention rule for
synced cases — crash-safe, audited, never before the server's receipt."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.core.errors import CaseLockedError, CaseNotFoundError, TransitionRefusedError
from kycdesk.core.states import Change
from kycdesk.paths import DataPaths
from kycdesk.persistence import events, intents, lifecycle, pull_apply
from kycdesk.persistence.commands import (
    AddImage,
    CreateCase,
    DiscardDraft,
    PurgeSynced,
    SaveForm,
    Transition,
)
from kycdesk.persistence.store import LocalStore
from tests import transitions
from tests.vaults import make_vault


def _draft_with_photo(store: LocalStore, jpeg: Path) -> str:
    case_id: str = store.run(CreateCase(reference_number="KYC-GONE"))
    store.run(SaveForm(case_id, {"applicant.first_name": "Gone"}, applicant_name="Gone"))
    store.run(AddImage(case_id, jpeg))
    return case_id


def test_a_discarded_draft_leaves_no_rows_no_files_and_one_audit_line(
        store: LocalStore, jpeg: Path) -> None:
    case_id = _draft_with_photo(store, jpeg)
    store.run(DiscardDraft(case_id))
    with pytest.raises(CaseNotFoundError):
        store.load_case(case_id)
    assert not store.paths.case_dir(case_id).exists()
    assert not any(store.paths.cases_dir.iterdir())
    line = store.conn.query_one("SELECT kind, detail_sealed, detail_json FROM case_events "
                                "WHERE case_id IS NULL ORDER BY id DESC")
    assert line is not None and line[0] == "case_discarded"
    detail = json.dumps(events.event_detail(store.conn, None, line[1], line[2]))
    assert "KYC-GONE" in detail
    assert "Gone" not in detail  # no applicant data in the audit line


def test_only_drafts_can_be_discarded(store: LocalStore, jpeg: Path) -> None:
    case_id = _draft_with_photo(store, jpeg)
    transitions.submit(store, case_id)
    with pytest.raises(CaseLockedError):
        store.run(DiscardDraft(case_id))
    assert store.list_images(case_id)


@pytest.mark.parametrize("crash_after", ["rename", "rows"])
def test_a_discard_cut_by_a_crash_is_finished_or_undone_at_start(
        paths: DataPaths, qapp: object, jpeg: Path, crash_after: str) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = _draft_with_photo(store, jpeg)
        folder = paths.case_dir(case_id)
        gone = folder.with_name(lifecycle.GONE_PREFIX + case_id)
        intents.begin(paths.root, "retire", case_id)  # a discard starts,
        os.rename(folder, gone)  # its first step is done, then the power goes
        if crash_after == "rows":
            pull_apply.remove_case_rows(store.conn, case_id)  # every table of a case
    with LocalStore(paths, vault=make_vault()) as store:
        report = store.recover()
        assert report.retired_folders
        if crash_after == "rename":  # the rows were never removed: the discard is undone
            assert folder.is_dir() and store.list_images(case_id)
            assert paths.absolute(store.list_images(case_id)[0].file_path).is_file()
        else:  # the rows were removed: the discard is finished
            assert not folder.exists() and not gone.exists()


def _synced(store: LocalStore, jpeg: Path, days_ago: float) -> str:
    case_id = _draft_with_photo(store, jpeg)
    transitions.submit(store, case_id)
    accepted = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat().replace(
        "+00:00", "Z")
    revision = store.load_sync_case(case_id).revision
    store.run(Transition(case_id, Change.SYNCED, revision=revision,
                         receipt={"receipt_id": "R-1", "accepted_at": accepted,
                                  "revision": revision, "server_image_ids": ["s1"]}))
    return case_id


def test_retention_removes_a_synced_cases_data_and_keeps_its_stub(
        store: LocalStore, jpeg: Path) -> None:
    old = _synced(store, jpeg, days_ago=45)
    recent = _synced(store, jpeg, days_ago=2)
    draft = _draft_with_photo(store, jpeg)
    assert store.purge_due(30) == [old]  # never a recent one, never before a receipt
    store.run(PurgeSynced(old))
    stub = next(c for c in store.list_cases() if c.id == old)
    assert stub.reference_number == "KYC-GONE" and stub.status == "SYNCED"
    assert stub.purged_at and stub.applicant_name is None and stub.photo_count == 0
    assert store.load_case(old).form == {}
    assert not store.paths.case_dir(old).exists()
    assert "R-1" in str(store.conn.scalar("SELECT server_receipt FROM cases WHERE id = ?",
                                          (old,)))
    assert store.list_images(recent) and store.list_images(draft)  # untouched
    assert store.purge_due(30) == []
    kinds = [k for _, k, _ in events.list_events(store.conn, old)]
    assert "purged_after_retention" in kinds


def test_a_case_without_a_receipt_is_never_purged(store: LocalStore, jpeg: Path) -> None:
    case_id = _draft_with_photo(store, jpeg)
    transitions.submit(store, case_id)
    with pytest.raises(TransitionRefusedError):
        store.run(PurgeSynced(case_id))
    assert store.list_images(case_id)


def test_the_editor_discards_a_draft_and_closes_it(qtbot: QtBot, paths: DataPaths) -> None:
    from tests.test_editor import _make_app, _new_editor

    app = _make_app(qtbot, paths)
    try:
        editor = _new_editor(qtbot, app)
        case_id = editor.case_id
        assert app.writer_thread is not None
        with qtbot.waitSignal(app.writer_thread.client.caseChanged,
                              check_params_cb=lambda c: c.removed):
            assert editor.discard()
        qtbot.waitUntil(lambda: app.window.editor_for(case_id) is None)
        qtbot.waitUntil(lambda: app.model.rowCount() == 0)  # read once per burst
    finally:
        app.shutdown()


def test_the_verifiers_profile_prefills_the_declaration(qtbot: QtBot,
                                                        paths: DataPaths) -> None:
    from kycdesk.settings import EMPLOYEE_ID, VERIFIER_NAME, Settings
    from tests.test_editor import _make_app, _new_editor

    settings = Settings()
    settings.set(VERIFIER_NAME, "Ngozi Adeyemi")
    settings.set(EMPLOYEE_ID, "V12345")
    app = _make_app(qtbot, paths)
    try:
        editor = _new_editor(qtbot, app)
        assert editor.model.value("verifier.name") is None
        editor.go_to_step(len(editor.definition.steps) - 1)
        assert editor.model.value("verifier.name") == "Ngozi Adeyemi"
        assert editor.model.value("verifier.employee_id") == "V12345"
        assert editor.model.value("verifier.signature_name") is None  # signed by hand
    finally:
        app.shutdown()
