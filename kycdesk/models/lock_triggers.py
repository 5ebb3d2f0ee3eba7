"""What locks the app besides the verifier: no input for a while (`IdleWatcher`), the
operating system locking the session or going to sleep (`SessionLockFilter` on Windows,
Qt's ApplicationSuspended elsewhere). Each says `lockRequested(reason)`; the app (gate)
drops the keys. Why at all: a tablet left on a desk, or closed in a bag while signed in,
must not stay open — the idle time is a setting (default 5 minutes)."""

from __future__ import annotations

import ctypes
import ctypes.wintypes
import logging
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QAbstractNativeEventFilter, QByteArray, QEvent, QObject, QTimer, Signal

log = logging.getLogger(__name__)

# Windows messages (WinUser.h, WtsApi32.h) and what each means for the app.
WM_WTSSESSION_CHANGE = 0x02B1
WTS_CONSOLE_DISCONNECT = 0x2
WTS_REMOTE_DISCONNECT = 0x4
WTS_SESSION_LOCK = 0x7
WM_POWERBROADCAST = 0x0218
PBT_APMSUSPEND = 0x4
NOTIFY_FOR_THIS_SESSION = 0

# The input that proves someone is at the tablet (a paint or a timer is not).
INPUT_EVENTS = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate,
    QEvent.Type.TabletPress, QEvent.Type.TabletMove, QEvent.Type.InputMethod,
})


def lock_reason(message: int, wparam: int) -> str | None:
    """What a Windows message means for the app: a reason to lock, or None."""
    if message == WM_WTSSESSION_CHANGE and wparam in (
            WTS_SESSION_LOCK, WTS_CONSOLE_DISCONNECT, WTS_REMOTE_DISCONNECT):
        return "session-lock"
    if message == WM_POWERBROADCAST and wparam == PBT_APMSUSPEND:
        return "suspend"
    return None


class IdleWatcher(QObject):
    """An application-wide event filter: every input event notes the time (cheap: no
    timer restart per pointer move); one timer checks at the deadline and either locks or
    waits the rest."""

    lockRequested = Signal(str)

    def __init__(self, idle_s: float, *, clock: Callable[[], float] = time.monotonic,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self.idle_s = idle_s
        self._last_input = clock()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._check)
        self._watched: QObject | None = None

    def start(self, app: QObject) -> None:
        """Watch `app`'s events (the QApplication: every window's input passes it)."""
        if self._watched is None:
            app.installEventFilter(self)
            self._watched = app
        self.touch()

    def stop(self) -> None:
        self._timer.stop()
        if self._watched is not None:
            self._watched.removeEventFilter(self)
            self._watched = None

    def set_idle_s(self, idle_s: float) -> None:
        self.idle_s = idle_s
        if self._watched is not None:
            self._arm(idle_s - (self._clock() - self._last_input))

    def touch(self) -> None:
        self._last_input = self._clock()
        if self._watched is not None and not self._timer.isActive():
            self._arm(self.idle_s)

    def _arm(self, seconds: float) -> None:
        self._timer.start(max(50, int(seconds * 1000)))

    def _check(self) -> None:
        left = self.idle_s - (self._clock() - self._last_input)
        if left > 0.05:
            self._arm(left)
            return
        self.lockRequested.emit("idle")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in INPUT_EVENTS:
            self._last_input = self._clock()
            if not self._timer.isActive() and self._watched is not None:
                self._arm(self.idle_s)
        return False


class SessionLockFilter(QObject, QAbstractNativeEventFilter):
    """Reads Windows' session-lock and suspend messages out of Qt's native event stream
    (installed on the QApplication on every platform; only Windows sends these)."""

    lockRequested = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        QObject.__init__(self, parent)
        QAbstractNativeEventFilter.__init__(self)

    def nativeEventFilter(self, event_type: object, message: int) -> tuple[bool, int]:
        kind = event_type.data() if isinstance(event_type, QByteArray) else event_type
        if isinstance(kind, bytes | bytearray | memoryview) and bytes(kind) in (
                b"windows_generic_MSG", b"windows_dispatcher_MSG") and message:
            msg = ctypes.wintypes.MSG.from_address(int(message))
            reason = lock_reason(int(msg.message), int(msg.wParam or 0))
            if reason is not None:
                # Queued: locking closes windows, not to be done inside the OS's dispatch.
                QTimer.singleShot(0, lambda: self.lockRequested.emit(reason))
        return False, 0


def register_session_notifications(window_id: int) -> bool:
    """Ask Windows to send WM_WTSSESSION_CHANGE to this window (suspend messages come to
    every top-level window unasked). False where there is no such thing."""
    if sys.platform == "win32":
        try:
            wtsapi = ctypes.WinDLL("wtsapi32")
            return bool(wtsapi.WTSRegisterSessionNotification(
                ctypes.c_void_p(window_id), NOTIFY_FOR_THIS_SESSION))
        except OSError:
            log.warning("session-lock notifications are not available")
    return False
