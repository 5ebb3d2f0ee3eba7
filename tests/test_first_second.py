"""The first second after sign-in (issue 20, item 6): the window answers while the rest
of startup — form definitions, sync stack, network watch, the sync's credential — loads
in the background, and that rest is wired up once it is back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

import kycdesk.app
from kycdesk.app import KycDeskApp
from kycdesk.paths import DataPaths, resolve_tablet
from kycdesk.settings import SERVER_URL
from kycdesk.sync.credentials import VerifierCredential
from kycdesk.verifiers.registry import Registry
from kycdesk.views.case_editor import CaseEditor
from tests.fakes import FakeCamera, always_yes
from tests.vaults import make_vault


@pytest.fixture
def held_forms(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Startup's background load of the form definitions waits until the event is set
    (the test decides when the slow part of startup is over); set at the end anyway."""
    release = threading.Event()
    real = kycdesk.app.load_forms

    def held(*args: object, **kwargs: object) -> object:
        if threading.current_thread() is not threading.main_thread():
            release.wait(30)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(kycdesk.app, "load_forms", held)
    yield release
    release.set()


def shown_desk(qtbot: QtBot, paths: DataPaths) -> KycDeskApp:
    """Started with its window shown (offscreen), as after a sign-in."""
    desk = KycDeskApp(paths, confirm=always_yes, vault=make_vault(),
                      camera_factory=FakeCamera)
    qtbot.addWidget(desk.window)
    desk.window.show()
    assert desk.start(), desk.startup_error
    return desk


def test_startup_finishes_after_the_cases_are_painted_with_the_sync_wired(
        qtbot: QtBot, paths: DataPaths) -> None:
    desk = shown_desk(qtbot, paths)
    try:
        with qtbot.waitSignal(desk.storeReady, timeout=10_000):
            pass
        assert (desk.sync, desk.registry) == (None, None)  # not before the window
        with qtbot.waitSignal(desk.startupFinished, timeout=20_000):
            pass
        assert desk.startup_finished_at is not None
        assert desk.registry is not None and desk.sync is not None
        assert desk.sync.sync_thread.isRunning()
        assert not desk.sync.configured  # no server set: nothing to configure
    finally:
        desk.shutdown()


def test_input_is_answered_while_startup_loads_and_new_case_opens_when_it_is_done(
        qtbot: QtBot, paths: DataPaths, held_forms: threading.Event) -> None:
    """While the definitions are still loading: typing in the search filters the list
    and "New case" is taken (it opens as soon as they are loaded, once)."""
    desk = shown_desk(qtbot, paths)
    try:
        qtbot.waitUntil(lambda: desk.reader is not None, timeout=10_000)
        page = desk.window.list_page
        qtbot.keyClicks(page.search, "zq")
        assert desk.model._search == "zq"  # the list answered the keystrokes
        page.search.clear()
        qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
        qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
        assert desk.startup_finished_at is None and desk.registry is None
        assert not desk.window.editors()
        with qtbot.waitSignal(desk.caseOpened, timeout=20_000):
            held_forms.set()
        qtbot.waitUntil(lambda: desk.startup_finished_at is not None, timeout=20_000)
        assert len(desk.window.editors()) == 1  # two taps while loading: one case
        assert desk.sync is not None
    finally:
        desk.shutdown()


def test_a_case_opened_during_startup_waits_for_the_definitions_being_loaded(
        qtbot: QtBot, paths: DataPaths, held_forms: threading.Event) -> None:
    """Opening a case needs its form: while startup loads them, the open waits for that
    load (it does not load them a second time) and the editor shows."""
    from kycdesk.persistence.commands import CreateCase
    from kycdesk.persistence.store import LocalStore

    vault = make_vault()
    with LocalStore(paths, vault=vault) as store:
        case_id = store.run(CreateCase(reference_number="KYC-EARLY"))
    desk = KycDeskApp(paths, confirm=always_yes, vault=vault, camera_factory=FakeCamera)
    qtbot.addWidget(desk.window)
    desk.window.show()
    assert desk.start(), desk.startup_error
    try:
        qtbot.waitUntil(lambda: desk._startup_load is not None, timeout=10_000)
        threading.Timer(0.2, held_forms.set).start()
        editor = desk.open_case(case_id)
        assert isinstance(editor, CaseEditor)
        qtbot.waitUntil(lambda: desk.startup_finished_at is not None, timeout=20_000)
        assert desk.registry is not None
    finally:
        desk.shutdown()


def test_startup_finishes_once_the_sync_has_the_verifiers_kept_token(
        qtbot: QtBot, tmp_path: Path) -> None:
    """With a server set, startup is finished only once the token kept sealed for the
    signed-in verifier was read (off the GUI thread) and given to the sync."""
    tablet = resolve_tablet(tmp_path / "tablet")
    registry = Registry.open(tablet)
    session = registry.add("Amina", "a long enough passphrase")
    registry.set_credential(session, "kyd_kept_0123456789abcdef")
    desk = KycDeskApp(session.paths, vault=session.vault, confirm=always_yes,
                      camera_factory=FakeCamera,
                      sync_options={"periodic_ms": 3_600_000})
    desk.kept_credential = VerifierCredential(registry, session)
    desk.settings.set(SERVER_URL, "https://127.0.0.1:1")  # nothing listens
    qtbot.addWidget(desk.window)
    desk.window.show()
    assert desk.start(), desk.startup_error
    try:
        with qtbot.waitSignal(desk.startupFinished, timeout=20_000):
            pass
        assert desk.sync is not None and desk.sync.configured
        assert desk.revocation_wipe is not None  # the office's hooks are in
    finally:
        desk.shutdown()
