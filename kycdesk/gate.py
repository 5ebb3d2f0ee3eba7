"""The door around the desk: sign-in first, then one verifier's store open under their
keys; lock (idle, OS session lock, suspend, "Lock now") closes it again and drops the
keys; unlocking reopens it where the verifier was; verifier switch signs out; kiosk mode
keeps the window full-screen on a case until the verifier's PIN.

While signed in, the `KycDeskApp` ("desk") owns the store, the writer, the sync and the
main window, and the `Session` holds the `Vault`. Locking takes where the verifier was
(`DeskPlace`: case ids, steps, fields, scroll — no answers), shuts the desk down (open
cases saved, the writer flushed and stopped, sync stopped, the read connection closed,
background work joined) and drops the desk and the session, so nothing holds the keys
(as far as Python allows: docs/security.md, *Out of scope*). Unlocking is a sign-in like
any other (argon2id on the sign-in lane, never the GUI thread) that builds a new desk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QByteArray, QObject, Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from kycdesk.app import DeskPlace, KycDeskApp, fill_screen
from kycdesk.models.lock_triggers import (
    IdleWatcher,
    SessionLockFilter,
    register_session_notifications,
    unregister_session_notifications,
)
from kycdesk.models.signin import (
    Chosen,
    ReachServer,
    SignedIn,
    SignInModel,
    VerifierRegistry,
)
from kycdesk.settings import IDLE_LOCK_MINUTES, KIOSK_MODE, WINDOW_GEOMETRY, Settings
from kycdesk.views.signin_screen import ChangePinDialog, PinPrompt, SignInScreen

log = logging.getLogger(__name__)

DeskFactory = Callable[[SignedIn], KycDeskApp]

LEAVE_REASONS = {
    "leave": "Leave this case",
    "close": "Close kycdesk",
    "switch": "Switch verifier",
}


def default_desk(session: SignedIn) -> KycDeskApp:
    return KycDeskApp(session.paths, vault=session.vault, actor=session.name)


class Gate(QObject):
    """GUI-thread object; lives as long as the application."""

    def __init__(self, open_registry: Callable[[], VerifierRegistry], *,
                 desk_factory: DeskFactory = default_desk,
                 reach_server: ReachServer | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.model = SignInModel(open_registry, reach_server=reach_server)
        self.screen = SignInScreen(self.model)
        self._desk_factory = desk_factory
        self.desk: KycDeskApp | None = None
        self.open_failures = 0  # sign-ins whose cases could not be opened (updates: a bad start)
        self.session: SignedIn | None = None
        self._place: DeskPlace | None = None        # where the locked verifier was
        self._place_of: str | None = None           # ... and who that was
        self._prompt: PinPrompt | None = None
        self.idle = IdleWatcher(self._idle_s(), parent=self)
        self.idle.lockRequested.connect(self.lock)
        self.native = SessionLockFilter(self)
        self.native.lockRequested.connect(self.lock)
        self.model.signedIn.connect(self._signed_in)
        self.model.lockedOut.connect(self._locked_out)
        self.screen.quitRequested.connect(self._quit)
        self._app = QApplication.instance()
        if isinstance(self._app, QGuiApplication):
            self._app.installNativeEventFilter(self.native)
            self._app.applicationStateChanged.connect(self._application_state)

    def _idle_s(self) -> float:
        return self.settings.get(IDLE_LOCK_MINUTES) * 60.0

    def _kiosk(self) -> bool:
        return self.settings.get(KIOSK_MODE)

    # -- start --------------------------------------------------------------------------
    def start(self) -> None:
        self._show(self.screen)
        register_session_notifications(int(self.screen.winId()))
        self.model.start()

    def _show(self, window: QWidget) -> None:
        """Full screen in kiosk mode; else the saved size, or the screen's available area."""
        if self._kiosk():
            window.showFullScreen()
            return
        geometry = self.settings.get(WINDOW_GEOMETRY)
        offscreen = QGuiApplication.platformName() == "offscreen"  # tests: no window manager
        if not (geometry and window.restoreGeometry(QByteArray(geometry))) and not offscreen:
            fill_screen(window)
        window.show()
        if not offscreen:  # in front of the window it replaces
            window.raise_()
            window.activateWindow()

    # -- signed in ----------------------------------------------------------------------
    @Slot(object)
    def _signed_in(self, session: SignedIn) -> None:
        if self.desk is not None:  # a second answer (cannot happen: the screen is hidden)
            return
        place = self._place if self._place_of == session.verifier_id else None
        self._place = self._place_of = None  # another verifier: the place is not theirs
        desk = self._desk_factory(session)
        if not desk.start():
            self.open_failures += 1
            self.model.message = f"Your cases could not be opened: {desk.startup_error}"
            self.model.back()
            return
        self.desk, self.session = desk, session
        self.model.chosen = Chosen(session.verifier_id, session.name)
        window = desk.window
        window.show_verifier(session.name)
        window.lockRequested.connect(lambda: self.lock("verifier"))
        window.changePinRequested.connect(self.change_pin)
        window.leaveRequested.connect(self._leave_requested)
        desk.fatalError.connect(self._desk_failed)
        desk.settingsChanged.connect(self._settings_changed)
        desk.tabletRevoked.connect(self._tablet_revoked)
        if place is not None:
            desk.storeReady.connect(lambda: desk.return_to(place),
                                    Qt.ConnectionType.SingleShotConnection)
        self._show(window)
        window.set_kiosk(self._kiosk())
        register_session_notifications(int(window.winId()))
        self.screen.hide()
        if isinstance(self._app, QObject):
            self.idle.set_idle_s(self._idle_s())
            self.idle.start(self._app)

    @Slot(str)
    def _desk_failed(self, message: str) -> None:
        parent = self.desk.window if self.desk is not None else None
        self.open_failures += 1
        QMessageBox.critical(parent, "kycdesk cannot open its data", message)
        self.sign_out()

    @Slot()
    def _settings_changed(self) -> None:
        self.idle.set_idle_s(self._idle_s())
        if self.desk is not None and self.desk.window.kiosk != self._kiosk():
            self.desk.window.set_kiosk(self._kiosk())

    # -- lock, sign out -----------------------------------------------------------------
    @Slot(str)
    def lock(self, reason: str = "verifier") -> None:
        """Drop the keys; the lock screen asks this verifier's PIN (or Switch verifier)."""
        if self.desk is None or self.session is None:
            return
        log.info("locked (%s)", reason)
        self._place, self._place_of = self.desk.place(), self.session.verifier_id
        verifier_id, name = self.session.verifier_id, self.session.name
        self._close_desk()
        self.model.lock(verifier_id, name)

    @Slot()
    def _locked_out(self) -> None:
        """Too many wrong PINs at the kiosk's prompt: the store closes (cases saved), and
        the sign-in screen shows the locked page with the supervisor's code entry."""
        if self.desk is None:
            return
        self._place = self._place_of = None
        self._close_desk()

    @Slot(bool)
    def _tablet_revoked(self, whole_tablet: bool) -> None:
        """The office revoked this verifier's device or the whole tablet (the sync checked
        the proof): close the desk — its store, sync and keys — then wipe, keys first
        (docs/security.md, *Wipe order*), off the GUI thread."""
        desk = self.desk
        if desk is None:
            return
        wipe = desk.revocation_wipe
        log.warning("the office revoked this %s: closing and wiping",
                    "tablet" if whole_tablet else "verifier's device")
        self._place = self._place_of = None
        self._close_desk()
        if wipe is not None:
            self.model.revoked(lambda: wipe(whole_tablet), whole_tablet=whole_tablet)
        else:
            self.model.signed_out()

    @Slot()
    def sign_out(self) -> None:
        if self.desk is None:
            return
        self._place = self._place_of = None
        self._close_desk()
        self.model.signed_out()

    def _close_desk(self) -> None:
        desk = self.desk
        assert desk is not None
        self.idle.stop()
        if self._prompt is not None:
            self._prompt.reject()
            self._prompt = None
        window = desk.window
        if not window.isFullScreen():
            self.settings.set(WINDOW_GEOMETRY, bytes(window.saveGeometry().data()))
        # The lock screen first (the app must not see "the last window closed"), and the
        # cases hidden before the shutdown waits for the last writes, as at quit.
        self._show(self.screen)
        window.hide()
        unregister_session_notifications(int(window.winId()))
        window.allow_close()
        desk.shutdown()  # saves open cases, flushes and stops the writer, stops sync
        window.close()
        window.deleteLater()
        self.desk = None
        self.session = None  # the Vault goes with the last reference

    # -- kiosk, change PIN --------------------------------------------------------------
    @Slot(str)
    def _leave_requested(self, kind: str) -> None:
        desk = self.desk
        if desk is None:
            return
        if not desk.window.kiosk:
            if kind == "switch":
                self.sign_out()
            return
        if self._prompt is not None:
            return
        prompt = PinPrompt(self.model, LEAVE_REASONS.get(kind, "Leave"), desk.window)
        prompt.accepted.connect(lambda: self._leave(kind))
        prompt.finished.connect(self._prompt_closed)
        self._prompt = prompt
        prompt.open()

    @Slot()
    def _prompt_closed(self) -> None:
        self._prompt = None

    def _leave(self, kind: str) -> None:
        desk = self.desk
        if desk is None:
            return
        if kind == "leave":
            desk.window.leave_pinned_case()
        elif kind == "switch":
            self.sign_out()
        elif kind == "close":
            self._quit()

    @Slot()
    def change_pin(self) -> ChangePinDialog | None:
        if self.desk is None or self.session is None:
            return None
        dialog = ChangePinDialog(self.model, self.session, self.desk.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.model.pinChanged.connect(self._pin_changed, Qt.ConnectionType.UniqueConnection)
        dialog.open()
        return dialog

    @Slot(object)
    def _pin_changed(self, session: SignedIn) -> None:
        self.session = session  # the same keys under the new PIN's wrap
        if self.desk is not None:
            self.desk.window.show_status("Your PIN was changed.")

    # -- application state ------------------------------------------------------------------
    @Slot(Qt.ApplicationState)
    def _application_state(self, state: Qt.ApplicationState) -> None:
        if state == Qt.ApplicationState.ApplicationSuspended:
            self.lock("suspend")

    @Slot()
    def _quit(self) -> None:
        QApplication.quit()

    def shutdown(self) -> None:
        """At quit: the desk closed (cases saved), triggers detached."""
        if self.desk is not None:
            self._place = self._place_of = None
            desk, window = self.desk, self.desk.window
            self.idle.stop()
            if not window.isFullScreen():
                self.settings.set(WINDOW_GEOMETRY, bytes(window.saveGeometry().data()))
            window.allow_close()
            desk.shutdown()
            window.close()
            window.deleteLater()
            self.desk = self.session = None
        self.idle.stop()
        if isinstance(self._app, QGuiApplication):
            self._app.removeNativeEventFilter(self.native)
            self._app.applicationStateChanged.disconnect(self._application_state)
        self.screen.quitRequested.disconnect(self._quit)
        self.screen.close()
