"""The app shell: opens the store off the GUI thread, lists cases, creates new ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.states import CaseView
from kycdesk.demo import generate
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.paths import DataPaths
from kycdesk.persistence.background_check import check_due
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm
from kycdesk.persistence.full_check import load_state
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.store import LocalStore
from kycdesk.views.case_editor import CaseEditor
from tests.fakes import always_yes
from tests.vaults import make_vault


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start(), app.startup_error
    qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
    yield app
    app.shutdown()


def test_new_case_shortcut_creates_a_draft_and_opens_it(qtbot: QtBot, desk: KycDeskApp,
                                                        paths: DataPaths) -> None:
    assert desk.model.rowCount() == 0
    desk.window.show()
    qtbot.waitExposed(desk.window)
    # Sent to the QWindow so it travels the real path through the shortcut map.
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000) as opened:
        qtbot.keyClick(desk.window.windowHandle(), Qt.Key.Key_N,
                       Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: desk.model.rowCount() == 1)  # the list is read once per burst
    assert desk.model.index(0, 2).data() == "DRAFT"
    case_id = opened.args[0] if opened.args else ""
    assert desk.model.index(0, 0).data(CaseListModel.CaseIdRole) == case_id
    assert isinstance(desk.window.tabs.currentWidget(), CaseEditor)
    assert desk.model.index(0, 0).data().startswith("KYC-")
    desk.shutdown()
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
        assert (case.status, case.form_id, case.form_version) == ("DRAFT", "individual_kyc",
                                                                  "3")


def test_second_window_on_the_same_data_is_refused(qtbot: QtBot, desk: KycDeskApp,
                                                   paths: DataPaths) -> None:
    other = KycDeskApp(paths, vault=make_vault())
    qtbot.addWidget(other.window)
    assert not other.start()
    assert other.startup_error is not None and "already running" in other.startup_error


def test_damaged_database_is_reported_not_replaced(qtbot: QtBot, paths: DataPaths) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.database.write_bytes(b"\x00garbage" * 500)
    app = KycDeskApp(paths, vault=make_vault())
    qtbot.addWidget(app.window)
    with qtbot.waitSignal(app.fatalError, timeout=10_000) as fatal:
        assert app.start()
    app.shutdown()
    assert fatal.args is not None and "doctor" in fatal.args[0]
    assert paths.database.read_bytes() == b"\x00garbage" * 500


def test_status_bar_says_when_saving_fails(qtbot: QtBot, desk: KycDeskApp) -> None:
    desk.window.show_storage_state(False, "The disk is full.")
    assert "Not saved: The disk is full." in desk.window.save_state_label.text()
    desk.window.show_storage_state(True, "")
    assert desk.window.save_state_label.text() == ""


def test_case_list_model_pages_searches_sorts_and_passes_model_tester(
        qapp: object, qtmodeltester: object, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        generate(store, cases=25, images_per_case=0, status="mixed", image_size=(64, 48))
        named = store.run(CreateCase(reference_number="KYC-SPECIAL"))
        store.run(SaveForm(named, {}, applicant_name="Zoë O'Brien_100%"))
    reader = ReadStore(paths, vault=make_vault())
    try:
        model = CaseListModel(reader, page_size=10)
        assert (model.rowCount(), model.total()) == (10, 26)
        qtmodeltester.check(model)  # type: ignore[attr-defined]
        while model.canFetchMore():
            model.fetchMore()
        assert model.rowCount() == 26
        model.set_search("o'brien_100%")  # quotes, underscore and % are literal text
        assert [model.case_at(r).id for r in range(model.rowCount())] == [named]
        model.set_search("special")
        assert model.total() == 1
        model.set_search("")
        model.sort(0, Qt.SortOrder.AscendingOrder)
        refs = [model.case_at(r).reference_number or "" for r in range(model.rowCount())]
        assert refs == sorted(refs, key=str.lower)
        model.set_view(CaseView.NEEDS_ACTION)
        assert model.total() > 0
        assert all(model.case_at(r).status == "FAILED" for r in range(model.rowCount()))
        failed = model.index(0, 2)
        assert str(failed.data()).startswith("NEEDS ACTION: ")  # the error is in the list
        assert failed.data(Qt.ItemDataRole.ToolTipRole)
        model.set_reader(None)
    finally:
        reader.close()


def test_search_box_filters_as_you_type(qtbot: QtBot, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        generate(store, cases=12, images_per_case=0, status="DRAFT", image_size=(64, 48))
        target = store.list_cases(limit=1)[0]
    app = KycDeskApp(paths, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start()
    try:
        qtbot.waitUntil(lambda: app.model.rowCount() == 12, timeout=10_000)
        name = target.applicant_name or ""
        qtbot.keyClicks(app.window.list_page.search, name.split()[1])
        assert 1 <= app.model.rowCount() < 12
        assert any(app.model.case_at(r).id == target.id for r in range(app.model.rowCount()))
        app.window.table.setFocus()
        app.window.table.selectRow(0)
        with qtbot.waitSignal(app.caseOpened):
            qtbot.keyClick(app.window.table, Qt.Key.Key_Return)
    finally:
        app.shutdown()


def test_about_box_tells_support_what_they_need(qtbot: QtBot, desk: KycDeskApp,
                                                paths: DataPaths) -> None:
    with qtbot.waitSignal(desk.window.aboutRequested):
        desk.window.about_action.trigger()
    from kycdesk.views.about_dialog import AboutDialog

    dialog = desk.window.findChild(AboutDialog, "about-dialog")
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: "individual_kyc" in dialog.details.text(), timeout=10_000)
    details = dialog.details.text()
    assert str(paths.root) in details and "Qt 6." in details
    qtbot.waitUntil(dialog.licences_loaded, timeout=30_000)  # tasks finish before teardown
    dialog.close()


def test_every_case_view_filters_the_list_and_the_counts_add_up(
        qtbot: QtBot, paths: DataPaths) -> None:
    """The status filter once crashed on every value but "All cases"; each value now
    shows exactly its cases, through the real combo box."""
    from kycdesk.core.errors import FailureKind
    from kycdesk.views.case_list_page import CaseListPage
    from tests import transitions

    with LocalStore(paths, vault=make_vault()) as store:
        ids = {name: store.run(CreateCase(reference_number=name))
               for name in ("draft", "ready", "retrying", "refused", "synced")}
        transitions.submit(store, ids["ready"])
        for name in ("retrying", "refused", "synced"):
            transitions.submit(store, ids[name])
        transitions.fail(store, ids["retrying"], kind=FailureKind.TRANSIENT)
        transitions.fail(store, ids["refused"], kind=FailureKind.PERMANENT)
        transitions.mark_synced(store, ids["synced"])
    reader = ReadStore(paths, vault=make_vault())
    try:
        model = CaseListModel(reader)
        page = CaseListPage(model)
        qtbot.addWidget(page)
        expected = {None: set(ids), CaseView.ASSIGNED: set(), CaseView.RETURNED: set(),
                    CaseView.DRAFTS: {"draft"},
                    CaseView.WAITING: {"ready", "retrying"},
                    CaseView.NEEDS_ACTION: {"refused"}, CaseView.SYNCED: {"synced"}}
        seen = {}
        for index in range(page.filter.count()):
            page.filter.setCurrentIndex(index)
            view = page.filter.itemData(index)
            seen[CaseView(view) if view else None] = {
                model.case_at(r).reference_number for r in range(model.rowCount())}
        assert seen == expected
        assert page.count_label.text().endswith(
            "Assigned to you 0 · Returned to you 0 · Drafts 1 · Waiting to sync 2 · "
            "Needs action 1 · Synced 1")
        assert page.filter.itemText(1) == "Assigned to you (0)"
        assert not any(b.isVisibleTo(page) for b in page.inbox_buttons.values())
        model.set_reader(None)
    finally:
        reader.close()


def test_an_uncaught_exception_reaches_the_log_file_without_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import sys

    from kycdesk.logging_setup import configure

    monkeypatch.setattr(sys, "excepthook", lambda *_args: None)  # the session's own hook
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        log_file = configure(tmp_path / "logs")
        assert log_file is not None
        secret = "-".join(["Amara Okafor", "passport", "A1234567"])  # not in this source
        try:
            raise ValueError(secret)
        except ValueError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        text = log_file.read_text()
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
    assert "uncaught builtins.ValueError" in text and "test_main_window.py" in text
    assert "Okafor" not in text and "A1234567" not in text


def test_the_sync_panel_counts_failures_during_a_run(qtbot: QtBot) -> None:
    from kycdesk.sync.status import SyncState
    from kycdesk.views.sync_panel import SyncPanel

    panel = SyncPanel()
    qtbot.addWidget(panel)
    panel.show_state(SyncState.SYNCING, "")
    panel.note_failure(needs_action=False)
    panel.note_failure(needs_action=True)
    assert panel.state_label.text() == "Syncing… (1 waiting to retry, 1 needs action)"
    panel.show_state(SyncState.IDLE, "")
    panel.show_state(SyncState.SYNCING, "")  # a new run starts counting again
    assert panel.state_label.text() == "Syncing…"


def test_the_sync_panel_counts_what_runs_following_on_sent(qtbot: QtBot) -> None:
    """A case submitted during a run is sent by a run right after it: the strip said
    "1 sent" when four had gone. Runs that follow on are counted together; a run later
    on counts alone."""
    from kycdesk.sync.status import RunResult, SyncState
    from kycdesk.views.sync_panel import FOLLOW_ON_S, SyncPanel

    now = [1000.0]
    panel = SyncPanel(clock=lambda: now[0])
    qtbot.addWidget(panel)

    def run(sent: list[str], *, failed: dict[str, str] | None = None) -> str:
        panel.show_state(SyncState.SYNCING, "")
        now[0] += 3
        panel.show_result(RunResult(synced=sent, failed=failed or {}))
        panel.show_state(SyncState.IDLE, "")
        return panel.last_label.text()

    assert ": 3 sent" in run(["a", "b", "c"])
    now[0] += 1  # the queued request runs at once
    text = run(["d"], failed={"e": "The server did not answer in time."})
    assert ": 4 sent, 1 waiting to retry" in text  # failures: as they stand now
    now[0] += FOLLOW_ON_S + 60  # the next periodic run, a minute later
    assert ": 0 sent" in run([])


def test_the_first_run_says_what_to_do(qtbot: QtBot, paths: DataPaths) -> None:
    from kycdesk.views.case_list_page import CaseListPage

    with LocalStore(paths, vault=make_vault()):
        pass
    reader = ReadStore(paths, vault=make_vault())
    try:
        model = CaseListModel(reader)
        page = CaseListPage(model)
        qtbot.addWidget(page)
        page.show()
        assert page.empty_state.isVisible() and not page.table.isVisible()
        assert "New case (Ctrl+N)" in page.empty_state.text()
        with LocalStore(paths, vault=make_vault()) as store:
            store.run(CreateCase(reference_number="first"))
        model.refresh()
        assert page.table.isVisible() and not page.empty_state.isVisible()
        model.set_reader(None)
    finally:
        reader.close()


def test_a_shut_down_desk_hears_no_more_application_signals(qtbot: QtBot,
                                                            paths: DataPaths) -> None:
    """The application outlives a desk (each test; a restart after a repair): a state change
    or session end after shutdown must not reach a desk whose window is gone."""
    import shiboken6
    from PySide6.QtGui import QGuiApplication

    desk = KycDeskApp(paths, debounce_ms=100, confirm=always_yes, vault=make_vault())
    assert desk.start()
    desk.shutdown()
    shiboken6.delete(desk.window)
    app = QGuiApplication.instance()
    assert isinstance(app, QGuiApplication)
    # A desk still connected raises "Internal C++ object already deleted" in the event loop
    # (pytest-qt fails the test on it).
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationInactive)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationActive)


@pytest.mark.parametrize(("touch", "at_least", "below"), [(True, 44, 10_000), (False, 0, 44)])
def test_scroll_bars_are_a_finger_wide_on_a_touch_screen(qtbot: QtBot, touch: bool,
                                                        at_least: int, below: int) -> None:
    from PySide6.QtWidgets import QLabel, QScrollArea

    from kycdesk.views.style import app_stylesheet

    area = QScrollArea()
    qtbot.addWidget(area)
    area.setStyleSheet(app_stylesheet(touch_screen=touch))
    area.setWidget(QLabel("\n".join(["a line of the form"] * 200)))
    area.resize(400, 300)
    area.show()
    qtbot.waitExposed(area)
    width = area.verticalScrollBar().width()
    assert at_least <= width < below, width


def test_the_full_check_runs_after_the_window_and_reports_in_it(
        qtbot: QtBot, paths: DataPaths, jpeg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="CHK-1"))
        image = store.run(AddImage(case_id, jpeg))
    paths.absolute(image.file_path).unlink()  # evidence gone behind the app's back
    monkeypatch.setattr("kycdesk.app.BACKGROUND_CHECK_DELAY_MS", 0)
    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    try:
        assert app.start()
        qtbot.waitUntil(lambda: "kycdesk doctor" in app.window.check_label.text(),
                        timeout=10_000)
        assert not app.window.list_page.table.isHidden()  # nothing waited for the check
    finally:
        app.shutdown()
    state = load_state(paths)
    assert state is not None and state.finished_at is not None and state.cases_checked == 1
    assert not check_due(paths)  # one pass a day


def test_a_background_bug_is_said_once_and_no_worker_thread_outlives_the_desk(
        qtbot: QtBot, paths: DataPaths, jpeg: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kycdesk.background import run_task
    from tests.test_background import os_thread_names

    monkeypatch.setattr("kycdesk.app.BACKGROUND_CHECK_DELAY_MS", 0)
    with LocalStore(paths, vault=make_vault()) as store:
        store.run(AddImage(store.run(CreateCase()), jpeg))
    app = KycDeskApp(paths, confirm=always_yes, vault=make_vault())
    qtbot.addWidget(app.window)
    try:
        assert app.start()
        qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)

        def bug(_control: object) -> None:
            raise ZeroDivisionError("a bug in a background job")

        run_task(bug, name="buggy job")
        qtbot.waitUntil(lambda: "went wrong in the background"
                        in app.window.save_state_label.text())
        qtbot.waitUntil(lambda: "full-check" in os_thread_names() or app.window.check_label.text()
                        != "", timeout=10_000)
    finally:
        app.shutdown()
    lanes = ("photo-import", "thumbnails", "full-check", "background")
    qtbot.waitUntil(lambda: not set(os_thread_names()) & set(lanes))


def test_the_app_keeps_the_dialogs_token_sealed_for_the_verifier_never_in_the_settings(
        qtbot: QtBot, desk: KycDeskApp, tmp_path: Path) -> None:
    """The settings dialog never touches the kept token: the app hands it the one the
    signed-in verifier keeps and keeps the one it saves, sealed (sync.credentials)."""
    from kycdesk.paths import resolve_tablet
    from kycdesk.settings import SCHEMA, SERVER_URL
    from kycdesk.sync.credentials import VerifierCredential
    from kycdesk.verifiers.registry import Registry

    tablet = resolve_tablet(tmp_path / "tablet")
    registry = Registry.open(tablet)
    session = registry.add("Amina", "a long enough passphrase")
    registry.set_credential(session, "kyd_kept_0123456789abcdef")
    desk.kept_credential = VerifierCredential(registry, session)
    desk.settings.set(SERVER_URL, "https://127.0.0.1:1")  # nothing listens
    dialog = desk.open_settings()
    # Read from the registry off the GUI thread, then shown (the dialog opens at once).
    qtbot.waitUntil(lambda: dialog.token.text() == "kyd_kept_0123456789abcdef")
    dialog.token.setText("kyd_new_0123456789abcdef")
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    # Kept sealed off the GUI thread (the registry's file is written there).
    qtbot.waitUntil(lambda: registry.credential(session) == "kyd_new_0123456789abcdef")
    assert b"kyd_new" not in tablet.registry_file.read_bytes()
    assert "kyd_new" not in str([desk.settings.get(setting) for setting in SCHEMA])
