"""The app shell: opens the store off the GUI thread, lists cases, creates new ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.demo import generate
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.paths import DataPaths
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.records import CaseStatus
from kycdesk.persistence.store import LocalStore


@pytest.fixture
def desk(qtbot: QtBot, paths: DataPaths) -> Iterator[KycDeskApp]:
    app = KycDeskApp(paths)
    qtbot.addWidget(app.window)
    assert app.start(), app.startup_error
    qtbot.waitUntil(lambda: app.reader is not None, timeout=10_000)
    yield app
    app.shutdown()


def test_new_case_action_creates_a_listed_draft(qtbot: QtBot, desk: KycDeskApp,
                                                paths: DataPaths) -> None:
    assert desk.model.rowCount() == 0
    desk.window.show()
    qtbot.waitExposed(desk.window)
    # Sent to the QWindow so it travels the real path through the shortcut map.
    qtbot.keyClick(desk.window.windowHandle(), Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: desk.model.rowCount() == 1, timeout=10_000)
    index = desk.model.index(0, 1)
    assert index.data() == "DRAFT"
    case_id = desk.model.index(0, 0).data(CaseListModel.CaseIdRole)
    desk.shutdown()
    with LocalStore(paths) as store:
        assert store.load_case(case_id).status == "DRAFT"


def test_second_window_on_the_same_data_is_refused(qtbot: QtBot, desk: KycDeskApp,
                                                   paths: DataPaths) -> None:
    other = KycDeskApp(paths)
    qtbot.addWidget(other.window)
    assert not other.start()
    assert other.startup_error is not None and "already running" in other.startup_error


def test_damaged_database_is_reported_not_replaced(qtbot: QtBot, paths: DataPaths) -> None:
    paths.root.mkdir(parents=True)
    paths.database.write_bytes(b"\x00garbage" * 500)
    app = KycDeskApp(paths)
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


def test_case_list_model_pages_and_passes_model_tester(qapp: object, qtmodeltester: object,
                                                       paths: DataPaths) -> None:
    with LocalStore(paths) as store:
        generate(store, cases=25, images_per_case=0, status="mixed", image_size=(64, 48))
    reader = ReadStore(paths)
    try:
        model = CaseListModel(reader, page_size=10)
        assert (model.rowCount(), model.total()) == (10, 25)
        qtmodeltester.check(model)  # type: ignore[attr-defined]
        while model.canFetchMore():
            model.fetchMore()
        assert model.rowCount() == 25
        model.set_status_filter(CaseStatus.FAILED)
        assert all(model.case_at(r).status == "FAILED" for r in range(model.rowCount()))
        failed = model.index(0, 1)
        assert failed.data(Qt.ItemDataRole.ToolTipRole)  # the error is one hover/tap away
        model.set_reader(None)
    finally:
        reader.close()
