"""The sync worker thread and the sync UI, against the real reference server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp, check_connection
from kycdesk.core.errors import FailureKind
from kycdesk.core.states import CaseChange, CaseStatus
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.writer import WriterThread
from kycdesk.settings import SCHEMA, SERVER_URL, Settings
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.errors import SyncError
from kycdesk.sync.progress import CaseProgress
from kycdesk.sync.status import RunResult, SyncState
from kycdesk.sync.worker import SyncController
from kycdesk.views.settings_dialog import SettingsDialog
from tests import transitions
from tests.fakes import always_yes
from tests.sync_support import (
    TOKEN,
    ServerHandle,
    assert_server_holds_exactly,
    make_ready_cases,
    photo_sources,
)
from tests.vaults import make_vault

FAST = Backoff(base_s=0.05, cap_s=0.2, storage_full_min_s=0.2)


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_sources(tmp_path_factory.mktemp("worker-sources"), size=(2000, 1500))


@pytest.fixture
def writer_thread(qtbot: QtBot, paths: DataPaths) -> Iterator[WriterThread]:
    """The one writer, as the app runs it; the worker's writes go through it."""
    thread = WriterThread(paths, vault=make_vault())
    with qtbot.waitSignal(thread.client.opened, timeout=10_000):
        thread.start()
    yield thread
    thread.stop()


@pytest.fixture
def controller(writer_thread: WriterThread, paths: DataPaths) -> Iterator[SyncController]:
    sync = SyncController(paths, writer_thread.writer, backoff=FAST, periodic_ms=3_600_000)
    yield sync
    sync.stop()  # before the writer (fixture order): a sync write waits for the writer


def _synced(change: CaseChange) -> bool:
    return change.status is CaseStatus.SYNCED


def _started(qtbot: QtBot, sync: SyncController) -> None:
    with qtbot.waitSignal(sync.stateChanged, timeout=10_000):
        sync.start()


def test_worker_syncs_and_reports_by_signal(qtbot: QtBot, paths: DataPaths,
                                            server: ServerHandle, sources: list[Path],
                                            writer_thread: WriterThread,
                                            controller: SyncController) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=2, images_per_case=2)
    _started(qtbot, controller)
    assert controller.state == SyncState.NOT_CONFIGURED
    progress: list[CaseProgress] = []
    synced: list[str] = []
    states: list[str] = []
    controller.progress.connect(progress.append)
    writer_thread.client.caseChanged.connect(
        lambda change: synced.append(change.case_id) if _synced(change) else None)
    controller.stateChanged.connect(lambda state, _d: states.append(state))
    controller.configure(server.base_url, TOKEN)
    with qtbot.waitSignal(controller.runFinished, timeout=30_000) as finished:
        controller.request_sync()
    result = finished.args[0] if finished.args else None
    assert isinstance(result, RunResult) and sorted(result.synced) == sorted(ids)
    assert sorted(synced) == sorted(ids)
    assert SyncState.SYNCING in states and states[-1] == SyncState.IDLE
    uploads = [p for p in progress if p.step == "sending photos"]
    assert uploads and uploads[-1].bytes_total > 0
    assert progress[0].step == "checking for work from the office"  # the pull comes first
    assert {p.case_count for p in progress if p.case_id} == {2}
    with LocalStore(paths, vault=make_vault()) as store:
        assert_server_holds_exactly(server, store, ids)


def test_cancel_mid_sync_then_resume_without_duplicates(
        qtbot: QtBot, paths: DataPaths, server: ServerHandle, sources: list[Path],
        controller: SyncController) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=3, images_per_case=3)
    server.set_faults([], latency_ms=150)
    _started(qtbot, controller)
    controller.configure(server.base_url, TOKEN)
    uploads: list[CaseProgress] = []
    controller.progress.connect(
        lambda p: uploads.append(p) if p.step == "sending photos" else None)
    with qtbot.waitSignal(controller.runFinished, timeout=30_000) as finished:
        controller.request_sync()
        qtbot.waitUntil(lambda: len(uploads) > 0, timeout=30_000)
        controller.cancel()
    first = finished.args[0] if finished.args else None
    assert isinstance(first, RunResult) and first.cancelled
    assert len(first.synced) < len(ids)
    server.set_faults([])
    with qtbot.waitSignal(controller.runFinished, timeout=30_000) as resumed:
        controller.request_sync()
    second = resumed.args[0] if resumed.args else None
    assert isinstance(second, RunResult) and second.ok
    with LocalStore(paths, vault=make_vault()) as store:
        assert_server_holds_exactly(server, store, ids)


def test_cancel_cuts_a_request_in_flight_whose_reply_trickles(
        qtbot: QtBot, paths: DataPaths, server: ServerHandle, sources: list[Path],
        controller: SyncController) -> None:
    """Cancel does not wait for the request in flight to end on its own (a reply
    trickled a byte a second would hold it for minutes): it cuts it, as the run's
    deadline does; the next run goes on from the server's offset."""
    from urllib.parse import urlsplit

    from tests.fieldlink import LinkProfile, field_link

    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=1, images_per_case=1)
    profile = LinkProfile(rate_bps=2_000_000, latency_s=0.01,
                          trickle_after_bytes=64 * 1024, trickle_bps=1.0)
    with field_link(urlsplit(server.base_url).port or 0, profile) as link:
        _started(qtbot, controller)
        controller.configure(link.url, TOKEN)
        controller.request_sync()
        qtbot.waitUntil(lambda: link.bytes_to_client_trickled > 0, timeout=30_000)
        # The run is held by the trickle; Cancel must end it within seconds.
        with qtbot.waitSignal(controller.runFinished, timeout=5_000) as cut:
            controller.cancel()
        first = cut.args[0] if cut.args else None
        assert isinstance(first, RunResult) and first.cancelled and not first.failed
        link.profile.trickle_after_bytes = None
        with qtbot.waitSignal(controller.runFinished, timeout=30_000) as resumed:
            controller.request_sync()
    second = resumed.args[0] if resumed.args else None
    assert isinstance(second, RunResult) and second.ok, second
    with LocalStore(paths, vault=make_vault()) as store:
        assert_server_holds_exactly(server, store, ids)


def test_wrong_token_puts_the_worker_in_auth_needed(
        qtbot: QtBot, paths: DataPaths, server: ServerHandle, sources: list[Path],
        controller: SyncController) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    _started(qtbot, controller)
    controller.configure(server.base_url, "not-the-token")
    with qtbot.waitSignal(controller.stateChanged, timeout=30_000,
                          check_params_cb=lambda state, _d: state == SyncState.AUTH_NEEDED):
        controller.request_sync()
    assert "token" in controller.detail
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).status == "READY"


def test_unreachable_server_is_offline_not_failed(
        qtbot: QtBot, paths: DataPaths, sources: list[Path],
        controller: SyncController) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    _started(qtbot, controller)
    controller.configure("http://127.0.0.1:9", TOKEN)  # discard port: nothing listens
    with qtbot.waitSignal(controller.stateChanged, timeout=30_000,
                          check_params_cb=lambda state, _d: state == SyncState.OFFLINE):
        controller.request_sync()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).status == "READY"  # not charged an attempt


@pytest.fixture
def configured_app(qtbot: QtBot, paths: DataPaths, server: ServerHandle
                   ) -> Iterator[KycDeskApp]:
    Settings().set(SERVER_URL, server.base_url)
    app = KycDeskApp(paths, confirm=always_yes,
                     sync_options={"backoff": FAST, "periodic_ms": 3_600_000}, vault=make_vault())
    qtbot.addWidget(app.window)
    try:
        assert app.start()
        # The sync stack loads after the window is up (the first cases listed).
        qtbot.waitUntil(lambda: app.sync is not None, timeout=10_000)
        assert app.sync is not None
        app.sync.configure(server.base_url, TOKEN)  # no keyring on test machines
        yield app
    finally:
        app.shutdown()


def test_submitting_a_case_sends_it_and_the_ui_follows(
        qtbot: QtBot, paths: DataPaths, configured_app: KycDeskApp, server: ServerHandle,
        sources: list[Path]) -> None:
    app = configured_app
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="KYC-UI", form_id="individual_kyc",
                                       form_version="2"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Ui"}))
        store.run(AddImage(case_id, sources[0], slot="id_front"))
    editor = app.open_case(case_id)
    assert editor is not None
    assert app.writer_thread is not None
    with qtbot.waitSignal(app.writer_thread.client.caseChanged, timeout=30_000,
                          check_params_cb=_synced):
        editor.session.submit()  # what Submit does once the form validates and is confirmed
    qtbot.waitUntil(lambda: editor.status == CaseStatus.SYNCED)
    assert "Synced" in editor.banner.text()
    qtbot.waitUntil(lambda: "1 sent" in app.window.sync_panel.last_label.text())
    # The list is read again once per burst of case changes (a 0 ms timer after them).
    qtbot.waitUntil(lambda: [app.model.case_at(r).status
                             for r in range(app.model.rowCount())] == ["SYNCED"])


def test_failed_case_shows_retry_and_retry_sends_it(
        qtbot: QtBot, paths: DataPaths, configured_app: KycDeskApp, server: ServerHandle,
        sources: list[Path]) -> None:
    app = configured_app
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
        transitions.fail(store, case_id, "The server refused the case: x")
    editor = app.open_case(case_id)
    assert editor is not None
    assert editor.retry_button.isVisibleTo(editor) and editor.reopen_button.isVisibleTo(editor)
    assert "The server refused the case" in editor.banner.text()
    assert app.writer_thread is not None
    with qtbot.waitSignal(app.writer_thread.client.caseChanged, timeout=30_000,
                          check_params_cb=_synced):
        editor.retry_button.click()
    qtbot.waitUntil(lambda: editor.status == CaseStatus.SYNCED)
    assert not editor.retry_button.isVisibleTo(editor)


def test_sync_now_sends_a_case_waiting_to_retry_at_once(
        qtbot: QtBot, paths: DataPaths, configured_app: KycDeskApp, server: ServerHandle,
        sources: list[Path]) -> None:
    """Its next try is an hour away; "Sync now" does not wait for it."""
    app = configured_app
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
        transitions.fail(store, case_id, "The server did not answer in time.",
                         kind=FailureKind.TRANSIENT, next_attempt_at="2999-01-01T00:00:00.000Z")
    assert app.writer_thread is not None
    with qtbot.waitSignal(app.writer_thread.client.caseChanged, timeout=30_000,
                          check_params_cb=_synced):
        app.window.sync_panel.sync_button.click()


def test_sync_now_without_sync_set_up_says_so_and_opens_settings(
        qtbot: QtBot, paths: DataPaths) -> None:
    from kycdesk.app import SYNC_NOT_SET_UP

    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start()
    try:
        qtbot.waitUntil(lambda: app.sync is not None, timeout=10_000)
        assert app.sync is not None
        assert not app.sync.configured
        app.window.sync_panel.sync_button.click()
        assert app.window.save_state_label.text() == SYNC_NOT_SET_UP
        dialogs = app.window.findChildren(SettingsDialog)
        assert len(dialogs) == 1 and dialogs[0].isVisible()
        dialogs[0].reject()
    finally:
        app.shutdown()


def test_reopen_as_draft_unlocks_the_case_and_bumps_the_revision(
        qtbot: QtBot, paths: DataPaths, sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
        before = store.load_case(case_id).revision
    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start()
    try:
        qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
        editor = app.open_case(case_id)
        assert editor is not None and editor.model.read_only
        editor.reopen_button.click()
        qtbot.waitUntil(lambda: editor.status == CaseStatus.DRAFT, timeout=10_000)
        reopened = editor.model  # (a fresh name: the assert above narrowed the old one)
        assert not reopened.read_only and editor.submit_button.isVisibleTo(editor)
    finally:
        app.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).revision == before + 1


def test_settings_dialog_tests_the_connection_and_stores_the_address(
        qtbot: QtBot, server: ServerHandle) -> None:
    settings = Settings()
    dialog = SettingsDialog(settings, check_connection)
    qtbot.addWidget(dialog)
    dialog.url.setText(server.base_url)
    dialog.token.setText("wrong")
    dialog.test_button.click()  # a background task: the GUI thread does not wait
    assert not dialog.test_button.isEnabled()
    qtbot.waitUntil(dialog.test_button.isEnabled)
    assert "Not connected" in dialog.result_label.text()
    assert "token" in dialog.result_label.text()
    dialog.token.setText(TOKEN)
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled)
    assert dialog.result_label.text().startswith("Connected.")
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.save()
    assert saved.args == [server.base_url, TOKEN, ""]
    assert settings.get(SERVER_URL) == server.base_url
    assert dialog.result() == dialog.DialogCode.Accepted
    assert TOKEN not in str([settings.get(setting) for setting in SCHEMA])
    dialog.ca_bundle.setText("/nonexistent/ca.pem")
    dialog.save()
    assert "does not exist" in dialog.result_label.text()


def test_test_connection_with_only_an_enrolment_code_reaches_the_server(
        qtbot: QtBot, server: ServerHandle, tmp_path: Path) -> None:
    """A new device has a code, no token yet: the server answers, so the dialog says it
    answers and that Save enrols (it said the server could not be reached)."""
    from kycdesk.app import enrol_with_code

    dialog = SettingsDialog(Settings(tmp_path / "s.ini"), check_connection,
                            enrol=enrol_with_code)
    qtbot.addWidget(dialog)
    dialog.url.setText(server.base_url)
    dialog.code.setText("ABCD-EFGH-JKLM")
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=10_000)
    text = dialog.result_label.text()
    assert text.startswith("The server answers.") and "Save enrols it" in text
    dialog.code.clear()
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=10_000)
    assert "needs this device's token or an enrolment code" in dialog.result_label.text()
    dialog.url.setText("http://127.0.0.1:9")  # nothing listens: still "not connected"
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled, timeout=10_000)
    assert dialog.result_label.text().startswith("Not connected")


def test_a_closed_settings_dialog_drops_the_answer_still_on_its_way(
        qtbot: QtBot, tmp_path: Path) -> None:
    import threading

    from kycdesk import background
    from kycdesk.core.protocol import Health

    asked, answer = threading.Event(), threading.Event()
    errors: list[Exception] = []

    def slow_check(_url: str, _token: str, _ca: str | None) -> Health:
        asked.set()
        answer.wait(10)
        raise SyncError(FailureKind.TRANSIENT, "The server did not answer in time.")

    settings = Settings(tmp_path / "s.ini")
    dialog = SettingsDialog(settings, slow_check)
    qtbot.addWidget(dialog)
    background.set_error_handler(lambda _name, exc: errors.append(exc))
    try:
        dialog.url.setText("https://kyc.example.org")
        task = dialog.test_connection()
        assert asked.wait(10)  # the GUI thread is free meanwhile: it got here
        dialog.reject()
        answer.set()
        assert task.wait(10)
        qtbot.wait(100)  # (a dropped continuation leaves nothing to wait for)
        assert dialog.result_label.text() == "Testing…" and errors == []
    finally:
        background.set_error_handler(None)
