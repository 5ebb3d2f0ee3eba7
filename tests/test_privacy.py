"""Applicants' data never reaches a log: distinctive values are typed into every text
field of a real case, the case is submitted and synced to the real reference server, and
the log file and the process's stderr are searched for them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.core.states import CaseChange, CaseStatus
from kycdesk.logging_setup import configure
from kycdesk.paths import DataPaths
from kycdesk.settings import SERVER_URL, Settings
from kycdesk.views.case_editor import CaseEditor
from tests.fakes import always_yes
from tests.sync_support import TOKEN, ServerHandle
from tests.vaults import make_vault


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    log_file = configure(tmp_path / "logs", verbose=True)  # debug detail too
    assert log_file is not None
    yield log_file
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _secret(field: FieldDef, n: int) -> object:
    """A value nobody else would write, valid for the field."""
    match field.kind:
        case FieldKind.EMAIL:
            return f"zqxprivacy{n}@example.org"
        case FieldKind.PHONE:
            return f"+44 7700 9{n:05d}"
        case FieldKind.ID_NUMBER:
            return f"ZQ98{n:04d}"
        case _:
            return f"Zqxprivacy{n}"


def test_no_typed_value_reaches_the_log_or_stderr(
        qtbot: QtBot, paths: DataPaths, server: ServerHandle, jpeg: Path, logged: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    from tests.test_editor import _fill_valid

    Settings().set(SERVER_URL, server.base_url)
    app = KycDeskApp(paths, confirm=always_yes, debounce_ms=100,
                     sync_options={"periodic_ms": 3_600_000}, vault=make_vault())
    qtbot.addWidget(app.window)
    assert app.start()
    qtbot.waitUntil(lambda: app.sync is not None, timeout=10_000)  # after the window
    assert app.sync is not None and app.writer_thread is not None
    app.sync.configure(server.base_url, TOKEN)
    try:
        with qtbot.waitSignal(app.caseOpened, timeout=10_000):
            app.new_case()
        editor = app.window.tabs.currentWidget()
        assert isinstance(editor, CaseEditor)
        _fill_valid(editor)
        secrets: list[str] = []
        for n, field in enumerate(editor.definition.fields()):
            if field.kind in (FieldKind.TEXT, FieldKind.MULTILINE, FieldKind.EMAIL,
                              FieldKind.PHONE, FieldKind.ID_NUMBER) \
                    and field.pattern is None and field.format_by is None \
                    and editor.model.is_visible(field.key):
                value = _secret(field, n)
                editor.model.set_value(field.key, value)
                secrets.append(str(value))
        for slot in ("id_front", "id_back", "selfie", "address_proof"):
            with qtbot.waitSignal(editor.session.photosChanged, timeout=10_000):
                editor.photos.import_files(slot, [jpeg])
        assert editor.model.problems() == {}

        def synced(change: CaseChange) -> bool:
            return change.case_id == editor.case_id and change.status is CaseStatus.SYNCED

        with qtbot.waitSignal(app.writer_thread.client.caseChanged, timeout=30_000,
                              check_params_cb=synced):
            assert editor.submit()
    finally:
        app.shutdown()
    logging.shutdown()
    text = logged.read_text() + capfd.readouterr().err
    assert "HTTP Request" in text  # the log did record the sync (debug detail on)
    leaked = [s for s in secrets if s in text]
    assert len(secrets) > 20 and leaked == []
