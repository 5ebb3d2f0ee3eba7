"""The sign-in and lock screens, the lock triggers, unlock back to where the verifier was,
verifier switch, change PIN and kiosk mode — real widgets offscreen, the real app (store,
writer, editor) behind the gate; the verifier registry is a stand-in (tests/signin_fakes.py:
the real one is tested in its own module), so no argon2 here."""

from __future__ import annotations

import ctypes
import ctypes.wintypes
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QScrollArea
from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.gate import Gate
from kycdesk.models.lock_triggers import (
    PBT_APMSUSPEND,
    WM_POWERBROADCAST,
    WM_WTSSESSION_CHANGE,
    WTS_SESSION_LOCK,
    IdleWatcher,
    SessionLockFilter,
    lock_reason,
)
from kycdesk.models.signin import Door, SignedIn, SignInModel
from kycdesk.settings import IDLE_LOCK_MINUTES, KIOSK_MODE, Settings
from kycdesk.views.case_editor import CaseEditor
from kycdesk.views.signin_screen import ChangePinDialog, PinPrompt, SignInScreen
from tests.fakes import FakeCamera, always_yes
from tests.signin_fakes import GOOD_CODE, FakeRegistry
from tests.vaults import make_vault

PIN = "blue kettle on the train"


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def registry(tmp_path: Path) -> FakeRegistry:
    return FakeRegistry(tmp_path / "tablet")


@pytest.fixture
def screen(qtbot: QtBot, registry: FakeRegistry) -> Iterator[tuple[SignInModel, SignInScreen]]:
    clock = Clock()
    registry.now = clock
    model = SignInModel(lambda: registry, now=clock)
    model.clock = clock  # type: ignore[attr-defined]
    view = SignInScreen(model)
    qtbot.addWidget(view)
    yield model, view


def _settled(model: SignInModel) -> bool:
    return not model.busy


def test_first_use_shows_the_rules_and_wants_the_passphrase_twice(
        qtbot: QtBot, screen: tuple[SignInModel, SignInScreen],
        registry: FakeRegistry) -> None:
    model, view = screen
    model.start()
    qtbot.waitUntil(lambda: model.door is Door.FIRST_USE)
    assert view.pages.currentWidget() is view._new
    rules = view.findChild(type(view.status), "passphrase-rules")
    assert rules is not None and "12 characters" in rules.text()
    assert not view.new_back.isVisible()  # nobody to go back to
    view.new_name.setText("Ana")
    view.new_pin.setText(PIN)
    view.new_repeat.setText(PIN + "x")
    qtbot.mouseClick(view.create_button, Qt.MouseButton.LeftButton)
    assert "not the same" in view.new_message.text()
    assert "add" not in registry.calls  # refused before any registry call
    view.new_pin.setText("short")
    view.new_repeat.setText("short")
    qtbot.mouseClick(view.create_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "12 characters" in view.new_message.text())
    view.new_pin.setText(PIN)
    view.new_repeat.setText(PIN)
    with qtbot.waitSignal(model.signedIn) as signed:
        qtbot.mouseClick(view.create_button, Qt.MouseButton.LeftButton)
    assert signed.args[0].name == "Ana"


def test_wrong_pins_count_down_before_the_next_try(
        qtbot: QtBot, screen: tuple[SignInModel, SignInScreen],
        registry: FakeRegistry) -> None:
    model, view = screen
    ana = registry.with_verifier("Ana", PIN)
    registry.with_verifier("Ben", PIN)
    model.start()
    qtbot.waitUntil(lambda: view.verifier_button(ana) is not None)
    button = view.verifier_button(ana)
    assert button is not None and button.minimumHeight() >= 88  # a thumb's target
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert (model.door is Door.PIN and view.pin.hasFocus()) or view.pin.isEnabled()
    for _ in range(3):
        qtbot.waitUntil(model.may_try)
        qtbot.keyClicks(view.pin, "wrong guess")
        qtbot.keyClick(view.pin, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: _settled(model))
    assert view.pin.text() == ""  # never kept in the field
    qtbot.waitUntil(lambda: view.countdown.isVisibleTo(view))
    assert "try again in 5 s" in view.countdown.text()
    assert not view.sign_in_button.isEnabled() and not view.pin.isEnabled()
    model.clock.at += timedelta(seconds=5)  # type: ignore[attr-defined]
    qtbot.waitUntil(view.sign_in_button.isEnabled, timeout=3000)  # the tick
    assert not view.countdown.isVisibleTo(view)
    qtbot.keyClicks(view.pin, PIN)
    with qtbot.waitSignal(model.signedIn):
        qtbot.keyClick(view.pin, Qt.Key.Key_Return)


def test_the_gui_thread_never_waits_for_the_registry(
        qtbot: QtBot, screen: tuple[SignInModel, SignInScreen],
        registry: FakeRegistry) -> None:
    model, view = screen
    ana = registry.with_verifier("Ana", PIN)
    model.start()
    qtbot.waitUntil(lambda: model.door is Door.CHOOSE)
    model.choose(ana)
    registry.open_gate.clear()  # every registry call now hangs on the sign-in lane
    view.pin.setText(PIN)
    view.sign_in_button.click()
    assert model.busy and view.status.text() == "Checking…"
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.waitUntil(lambda: len(ticks) >= 5)  # the event loop runs meanwhile
    timer.stop()
    assert not view.sign_in_button.isEnabled()
    assert model.door is Door.PIN and registry.calls[-1] == "sign_in"
    with qtbot.waitSignal(model.signedIn):
        registry.open_gate.set()


def test_a_locked_verifier_needs_the_supervisors_code(
        qtbot: QtBot, screen: tuple[SignInModel, SignInScreen],
        registry: FakeRegistry) -> None:
    model, view = screen
    ana = registry.with_verifier("Ana", PIN)
    registry.records[ana].locked = "wrong-pin"
    model.start()
    qtbot.waitUntil(lambda: model.door is Door.CHOOSE)
    model.choose(ana)
    assert view.pages.currentWidget() is view._locked
    assert "not been sent" in view.locked_text.text()
    qtbot.keyClicks(view.release_code, "WXYZ WXYZ WXYZ WXYZ")
    qtbot.keyClick(view.release_code, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "not valid" in view.locked_message.text())
    view.release_code.setText(GOOD_CODE)
    view.release_button.click()
    qtbot.waitUntil(lambda: model.door is Door.PIN)
    assert "supervisor" in view.pin_notice.text()
    view.pin.setText(PIN)
    with qtbot.waitSignal(model.signedIn):
        view.sign_in_button.click()


def test_an_expired_lease_asks_for_the_server_or_a_code(
        qtbot: QtBot, screen: tuple[SignInModel, SignInScreen],
        registry: FakeRegistry) -> None:
    model, view = screen
    ana = registry.with_verifier("Ana", PIN)
    registry.records[ana].lease_expired = True
    model.start()
    qtbot.waitUntil(lambda: model.door is Door.CHOOSE)
    model.choose(ana)
    view.pin.setText(PIN)
    view.sign_in_button.click()
    qtbot.waitUntil(lambda: model.door is Door.LEASE)
    assert view.pages.currentWidget() is view._lease
    assert "15 days" in view.lease_text.text()
    view.lease_code.setText(GOOD_CODE)
    with qtbot.waitSignal(model.signedIn):
        view.lease_button.click()


def test_reach_server_renews_the_lease(qtbot: QtBot, registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    registry.records[ana].lease_expired = True
    attempts: list[str] = []

    def reach(session: SignedIn) -> None:
        attempts.append(session.verifier_id)
        if len(attempts) == 1:
            raise OSError("no network")

    model = SignInModel(lambda: registry, reach_server=reach)
    view = SignInScreen(model)
    qtbot.addWidget(view)
    model.start()
    qtbot.waitUntil(lambda: model.door is Door.CHOOSE)
    model.choose(ana)
    model.submit_pin(PIN)
    qtbot.waitUntil(lambda: model.door is Door.LEASE)
    assert view.reach_button.isVisibleTo(view)
    view.reach_button.click()
    qtbot.waitUntil(lambda: "could not be reached: no network" in model.message)
    with qtbot.waitSignal(model.signedIn):
        view.reach_button.click()
    assert attempts == [ana, ana]


# -- lock triggers ---------------------------------------------------------------------

def test_windows_messages_that_lock() -> None:
    assert lock_reason(WM_WTSSESSION_CHANGE, WTS_SESSION_LOCK) == "session-lock"
    assert lock_reason(WM_POWERBROADCAST, PBT_APMSUSPEND) == "suspend"
    assert lock_reason(WM_WTSSESSION_CHANGE, 0x8) is None  # WTS_SESSION_UNLOCK
    assert lock_reason(WM_POWERBROADCAST, 0x7) is None     # PBT_APMRESUMESUSPEND
    assert lock_reason(0x0100, WTS_SESSION_LOCK) is None   # WM_KEYDOWN


def test_the_native_filter_reads_a_windows_msg(qtbot: QtBot) -> None:
    """The filter as Qt calls it on Windows: the event type and a pointer to a MSG."""
    native = SessionLockFilter()
    msg = ctypes.wintypes.MSG()
    msg.message = WM_WTSSESSION_CHANGE
    msg.wParam = WTS_SESSION_LOCK
    with qtbot.waitSignal(native.lockRequested) as locked:
        assert native.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(msg)) \
            == (False, 0)  # never swallowed: Windows' own handling goes on
    assert locked.args == ["session-lock"]
    msg.message, msg.wParam = WM_POWERBROADCAST, PBT_APMSUSPEND
    with qtbot.waitSignal(native.lockRequested) as locked:
        native.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(msg))
    assert locked.args == ["suspend"]
    msg.message = 0x0100
    with qtbot.assertNotEmitted(native.lockRequested, wait=50):
        native.nativeEventFilter(b"windows_generic_MSG", ctypes.addressof(msg))
        native.nativeEventFilter(b"xcb_generic_event_t", ctypes.addressof(msg))


def test_input_holds_the_idle_lock_back(qtbot: QtBot) -> None:
    app = QApplication.instance()
    assert app is not None
    watcher = IdleWatcher(0.4)
    field = QLineEdit()
    qtbot.addWidget(field)
    watcher.start(app)
    try:
        started = datetime.now(UTC)
        with qtbot.waitSignal(watcher.lockRequested, timeout=5000) as idle:
            for _ in range(4):  # typing for ~0.8 s: longer than the idle time
                qtbot.wait(200)
                QApplication.sendEvent(field, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A,
                                                        Qt.KeyboardModifier.NoModifier, "a"))
        assert idle.args == ["idle"]
        assert datetime.now(UTC) - started >= timedelta(seconds=1.1)
        watcher.touch()
        move = QMouseEvent(QEvent.Type.MouseMove, QPointF(1, 1), QPointF(1, 1),
                           Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                           Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(field, move)
    finally:
        watcher.stop()


# -- the gate: the real app behind it ----------------------------------------------------

@pytest.fixture
def gate(qtbot: QtBot, registry: FakeRegistry, tmp_path: Path) -> Iterator[Gate]:
    settings = Settings(tmp_path / "settings.ini")

    def desk(session: SignedIn) -> KycDeskApp:
        made = KycDeskApp(session.paths, vault=session.vault, actor=session.name,
                          debounce_ms=150, camera_factory=FakeCamera, confirm=always_yes)
        return made  # the gate closes and deletes its window

    opened = Gate(lambda: registry, desk_factory=desk, settings=settings)
    qtbot.addWidget(opened.screen)
    yield opened
    opened.shutdown()


def _sign_in(qtbot: QtBot, gate: Gate, verifier_id: str, pin: str = PIN) -> KycDeskApp:
    qtbot.waitUntil(lambda: gate.model.door in (Door.CHOOSE, Door.PIN) and not gate.model.busy)
    if gate.model.door is Door.CHOOSE:
        gate.model.choose(verifier_id)
    gate.screen.pin.setText(pin)
    gate.screen.sign_in_button.click()
    qtbot.waitUntil(lambda: gate.desk is not None and gate.desk.reader is not None,
                    timeout=10_000)
    assert gate.desk is not None
    return gate.desk


def _new_case(qtbot: QtBot, desk: KycDeskApp) -> CaseEditor:
    with qtbot.waitSignal(desk.caseOpened, timeout=10_000):
        desk.new_case()
    editor = desk.window.tabs.currentWidget()
    assert isinstance(editor, CaseEditor)
    return editor


def test_unlock_returns_to_the_case_step_field_and_scroll(
        qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    assert desk.window.isVisible() and not gate.screen.isVisible()
    desk.window.resize(1366, 768)
    first = _new_case(qtbot, desk)
    second = _new_case(qtbot, desk)
    second.go_to_step(1)
    scroll = second.pages.currentWidget()
    assert isinstance(scroll, QScrollArea)
    keys = [f.key for f in second.definition.steps[1].fields if f.key in second.editors]
    field = second.editors[keys[-1]]
    field.focus_input()
    typed = QApplication.focusWidget()
    assert isinstance(typed, QLineEdit)
    qtbot.keyClicks(typed, "Hartley Road")
    typed.setCursorPosition(3)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0)
    scroll.verticalScrollBar().setValue(scroll.verticalScrollBar().maximum() // 2)
    where = scroll.verticalScrollBar().value()
    assert where > 0
    paths = desk.paths

    gate.lock("idle")
    assert gate.desk is None and gate.session is None
    assert gate.screen.isVisible() and gate.model.door is Door.PIN and gate.model.unlocking
    assert gate.screen.sign_in_button.text() == "Unlock"
    assert "Locked" in gate.screen.pin_notice.text()
    # The writer was flushed and closed: what was typed is in the store on disk.
    from kycdesk.persistence.store import LocalStore
    with LocalStore(paths, vault=make_vault(ana)) as store:
        saved = store.load_case(second.case_id).form.get(keys[-1])
        assert isinstance(saved, str) and saved.casefold() == "hartley road"

    back = _sign_in(qtbot, gate, ana)
    qtbot.waitUntil(lambda: len(back.window.editors()) == 2, timeout=10_000)
    front = back.window.tabs.currentWidget()
    assert isinstance(front, CaseEditor) and front.case_id == second.case_id
    assert [e.case_id for e in back.window.editors()] == [first.case_id, second.case_id]
    assert front.current_step() == 1
    focused = QApplication.focusWidget()
    assert focused is not None and front.editors[keys[-1]].isAncestorOf(focused)
    assert isinstance(focused, QLineEdit) and focused.cursorPosition() == 3
    assert focused.text().casefold() == "hartley road"
    page = front.pages.currentWidget()
    assert isinstance(page, QScrollArea)
    qtbot.waitUntil(lambda: page.verticalScrollBar().value() == where)


def test_switch_verifier_signs_out_and_forgets_where_they_were(
        qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    ben = registry.with_verifier("Ben", PIN + "!")
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    _new_case(qtbot, desk)
    desk.window.switch_action.trigger()
    assert gate.desk is None and gate.model.door is Door.CHOOSE
    assert "Signed out" in gate.screen.choose_notice.text()
    other = _sign_in(qtbot, gate, ben, PIN + "!")
    assert other.paths.root.name == ben and other.window.editors() == []
    # Ben locks; Ana signs in from his lock screen: Ben's place is not hers.
    gate.lock()
    qtbot.waitUntil(lambda: not gate.model.busy)
    gate.screen.switch_button.click()
    mine = _sign_in(qtbot, gate, ana)
    qtbot.wait(100)
    assert mine.window.editors() == [] and mine.model.rowCount() == 1


def test_change_pin(qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    _sign_in(qtbot, gate, ana)
    dialog = gate.change_pin()
    assert isinstance(dialog, ChangePinDialog)
    dialog.old.setText("not it")
    dialog.new.setText("a brand new passphrase")
    dialog.repeat.setText("a brand new passphrase")
    dialog.save()
    qtbot.waitUntil(lambda: "not right" in dialog.message.text())
    dialog.old.setText(PIN)
    dialog.new.setText("a brand new passphrase")
    dialog.repeat.setText("a brand new passphrase")
    with qtbot.waitSignal(dialog.accepted):
        dialog.save()
    assert registry.records[ana].pin == "a brand new passphrase"


def test_idle_lock_after_the_setting(qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    gate.settings.set(IDLE_LOCK_MINUTES, 0.05)  # 3 s
    gate.start()
    _sign_in(qtbot, gate, ana)
    qtbot.waitUntil(lambda: gate.desk is None, timeout=8000)
    assert gate.model.door is Door.PIN and gate.model.unlocking


def test_kiosk_mode_needs_the_pin_to_leave(qtbot: QtBot, gate: Gate,
                                           registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    gate.settings.set(KIOSK_MODE, True)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    window = desk.window
    assert window.kiosk and window.isFullScreen()
    editor = _new_case(qtbot, desk)
    assert window.pinned() and not window.tabs.tabBar().isVisible()
    assert window.kiosk_bar.isVisible()
    window.close()  # Alt+F4 / the title bar: refused, the PIN is asked
    assert window.isVisible()
    prompt = gate._prompt
    assert isinstance(prompt, PinPrompt)
    prompt.reject()
    qtbot.waitUntil(lambda: gate._prompt is None)
    editor.editors[next(iter(editor.editors))].focus_input()
    focused = QApplication.focusWidget()
    assert focused is not None
    qtbot.keyClick(focused, Qt.Key.Key_Escape)  # Esc in a field: the same
    assert isinstance(gate._prompt, PinPrompt)
    gate._prompt.reject()
    qtbot.waitUntil(lambda: gate._prompt is None)
    # The tab widget's own keys (Ctrl+Tab, Ctrl+Shift+Tab, Ctrl+PgUp) do not reach the
    # list either: the pinned case stays in front (a review found this way out).
    for key, modifiers in ((Qt.Key.Key_Tab, Qt.KeyboardModifier.ControlModifier),
                           (Qt.Key.Key_Backtab, Qt.KeyboardModifier.ControlModifier
                            | Qt.KeyboardModifier.ShiftModifier),
                           (Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)):
        qtbot.keyClick(window.tabs, key, modifiers)
        assert window.tabs.currentWidget() is editor and window.pinned()
    window.tabs.setCurrentIndex(0)  # however it is asked
    assert window.tabs.currentWidget() is editor and window.pinned()
    assert not window.tabs.tabBar().isVisible() and not window.new_case_action.isEnabled()
    window.show_list()  # Ctrl+L: the same
    assert window.tabs.currentWidget() is editor
    prompt = gate._prompt
    assert isinstance(prompt, PinPrompt)
    prompt.pin.setText("wrong guess")
    prompt._check()
    qtbot.waitUntil(lambda: "Wrong PIN" in prompt.message.text())
    assert window.pinned() and prompt.isVisible()
    qtbot.waitUntil(prompt.ok.isEnabled)
    prompt.pin.setText(PIN)
    with qtbot.waitSignal(prompt.accepted):
        prompt._check()
    assert window.editors() == [] and not window.pinned()
    assert window.isFullScreen()  # kiosk stays on; the next case is pinned again


def test_settings_set_the_idle_time_and_kiosk_mode(qtbot: QtBot, gate: Gate,
                                                   registry: FakeRegistry) -> None:
    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    desk.settings = gate.settings  # the dialog edits the gate's settings file
    dialog = desk.open_settings()
    assert dialog.idle_minutes.value() == 5.0 and not dialog.kiosk.isChecked()
    dialog.idle_minutes.setValue(2.5)
    dialog.kiosk.setChecked(True)
    dialog.url.setText("https://kyc.example.org")
    dialog.save()
    assert gate.settings.get(IDLE_LOCK_MINUTES) == 2.5 and gate.settings.get(KIOSK_MODE)
    assert gate.idle.idle_s == 150.0
    assert desk.window.kiosk and desk.window.isFullScreen()


def test_the_real_registry_behind_the_screens(qtbot: QtBot, tmp_path: Path) -> None:
    """First use, lock, a wrong PIN and unlock through `kycdesk.verifiers.registry` itself
    (production argon2id: ~0.15 s per call, four calls) — the store is the verifier's own
    folder, opened with the keys the PIN unlocked."""
    from kycdesk.paths import resolve_tablet
    from kycdesk.verifiers.registry import Registry

    tablet = resolve_tablet(tmp_path / "tablet")
    settings = Settings(tmp_path / "settings.ini")

    def desk(session: SignedIn) -> KycDeskApp:
        return KycDeskApp(session.paths, vault=session.vault, actor=session.name,
                          debounce_ms=150, camera_factory=FakeCamera, confirm=always_yes)

    gate = Gate(lambda: Registry.open(tablet), desk_factory=desk, settings=settings)
    qtbot.addWidget(gate.screen)
    try:
        gate.start()
        qtbot.waitUntil(lambda: gate.model.door is Door.FIRST_USE)
        screen = gate.screen
        screen.new_name.setText("Ana")
        screen.new_pin.setText("password1234")
        screen.new_repeat.setText("password1234")
        screen.create_button.click()
        qtbot.waitUntil(lambda: "common" in screen.new_message.text(), timeout=10_000)
        screen.new_pin.setText(PIN)
        screen.new_repeat.setText(PIN)
        screen.create_button.click()
        qtbot.waitUntil(lambda: gate.desk is not None and gate.desk.reader is not None,
                        timeout=10_000)
        assert gate.desk is not None and gate.session is not None
        verifier = gate.session.verifier_id
        assert gate.desk.paths == tablet.store(verifier)
        _new_case(qtbot, gate.desk)
        gate.lock("session-lock")
        qtbot.waitUntil(lambda: not gate.model.busy)
        screen.pin.setText("not the passphrase")
        screen.sign_in_button.click()
        qtbot.waitUntil(lambda: "wrong" in screen.pin_message.text().lower(), timeout=10_000)
        qtbot.waitUntil(gate.model.may_try, timeout=10_000)
        screen.pin.setText(PIN)
        screen.sign_in_button.click()
        qtbot.waitUntil(lambda: gate.desk is not None and len(gate.desk.window.editors()) == 1,
                        timeout=10_000)
        assert Registry.open(tablet).verifiers()[0].failures == 0  # reset by the right PIN
    finally:
        gate.shutdown()


def test_locking_lets_go_of_the_keys(qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    """After the lock nothing of the app holds the session's Vault (or the desk). Found
    three holders this way: the background pool keeping finished tasks' closures, and
    lambdas connected to another object's signal (photo panel, sync worker's timers) —
    cycles through C++ that Python's collector never frees."""
    import gc
    import weakref

    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    _new_case(qtbot, desk)
    assert gate.session is not None
    vault = weakref.ref(gate.session.vault)
    desk_ref = weakref.ref(desk)
    del desk
    gate.lock()

    def gone() -> bool:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        gc.collect()
        return vault() is None and desk_ref() is None

    qtbot.waitUntil(gone, timeout=5000)  # deleteLater'd widgets go on the next turns


def test_the_os_suspending_the_app_locks_it(qtbot: QtBot, gate: Gate,
                                            registry: FakeRegistry) -> None:
    """Linux/macOS: Qt's ApplicationSuspended; Windows: the native filter (above)."""
    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    _sign_in(qtbot, gate, ana)
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationInactive)
    assert not _locked(gate)  # another window in front is not a reason
    app.applicationStateChanged.emit(Qt.ApplicationState.ApplicationSuspended)
    assert _locked(gate)


def _locked(gate: Gate) -> bool:
    return gate.desk is None and gate.model.unlocking


def test_a_proven_revocation_closes_the_desk_then_wipes_off_the_gui_thread(
        qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    """The sync thread reports a revocation whose proof checked (tests/
    test_revocation_device.py): the gate closes the desk (store, sync, keys) first, then
    runs the wipe on the sign-in lane, and says what happened."""
    import threading

    ana = registry.with_verifier("Ana", PIN)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    wiped_in: list[str] = []
    desk_open_at_wipe: list[bool] = []

    def wipe(whole_tablet: bool) -> None:
        assert whole_tablet
        desk_open_at_wipe.append(gate.desk is not None)
        wiped_in.append(threading.current_thread().name)

    desk.revocation_wipe = wipe
    sync_thread = threading.Thread(target=desk.tabletRevoked.emit, args=(True,),
                                   name="sync-worker")
    sync_thread.start()
    sync_thread.join()
    qtbot.waitUntil(lambda: bool(wiped_in) and not gate.model.busy, timeout=10_000)
    assert gate.desk is None and gate.session is None
    assert desk_open_at_wipe == [False]  # closed before the keys' data went
    assert wiped_in != [threading.main_thread().name]
    assert "revoked this tablet" in gate.model.notice
    assert gate.screen.isVisible()


def test_a_lockout_at_the_kiosk_prompt_closes_the_store_and_asks_for_a_code(
        qtbot: QtBot, gate: Gate, registry: FakeRegistry) -> None:
    """Wrong PINs at the kiosk's prompt are counted with the registry's `check_pin` (which
    locks, never wipes); at the lock the gate closes the store (the typed text saved)
    and the sign-in screen shows the supervisor's code entry."""
    ana = registry.with_verifier("Ana", PIN)
    registry.max_failures = 2
    gate.settings.set(KIOSK_MODE, True)
    gate.start()
    desk = _sign_in(qtbot, gate, ana)
    _new_case(qtbot, desk)
    desk.window.show_list()
    prompt = gate._prompt
    assert isinstance(prompt, PinPrompt)
    for _ in range(2):
        qtbot.waitUntil(lambda: prompt.ok.isEnabled() or gate.desk is None)
        if gate.desk is None:
            break
        prompt.pin.setText("wrong guess")
        prompt._check()
        qtbot.waitUntil(lambda: not gate.model.busy)
    qtbot.waitUntil(lambda: gate.desk is None, timeout=10_000)
    assert registry.checked_pins == 2
    assert gate.model.door is Door.LOCKED and gate.screen.isVisible()
    assert registry.records[ana].locked == "wrong-pin"
