"""The app's side of updates (docs/updates.md): mark a start good once startup has
finished, and check for, download and stage updates in the background — on a schedule and
on demand — never restarting into a new version during a sync or with unsaved edits;
kiosks restart into it at their quiet hour.

Qt lives here, not in kycdesk.update (which the CLI and the launcher's world use)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from kycdesk.background import Lane, TaskControl, run_task
from kycdesk.update.pointer import InstallRoot, mark_good, running_install

log = logging.getLogger(__name__)

CHECK_EVERY_MS = 6 * 3600 * 1000
# The first check, this long after startup finished: a tablet that is switched on for a
# shift (or restarted daily) would otherwise never reach the 6-hour mark; not at once, so
# it does not compete with the verifier's first minutes of work.
FIRST_CHECK_MS = 3 * 60 * 1000
RUN_DEADLINE_S = 3600.0


SIGN_IN_UP_S = 30.0


class StartCountsGood:
    """When a start of a version on trial counts as good (docs/updates.md): once the
    verifier's part of startup has finished (their store opened and migrated, the cases
    shown), or once the sign-in screen has stayed up for `sign_in_up_s` (a signed-out
    kiosk may sit there for hours). Not as soon as the sign-in screen shows: a release
    that crashes opening or migrating the store must fail its start, so it is rolled back."""

    def __init__(self, desk_ready: Callable[[], bool], sign_in_shown: Callable[[], bool], *,
                 sign_in_up_s: float = SIGN_IN_UP_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.desk_ready = desk_ready
        self.sign_in_shown = sign_in_shown
        self.sign_in_up_s = sign_in_up_s
        self.clock = clock
        self._shown_since: float | None = None

    def __call__(self) -> bool:
        if self.desk_ready():
            return True
        if not self.sign_in_shown():
            self._shown_since = None  # signing in: the store is being opened
            return False
        if self._shown_since is None:
            self._shown_since = self.clock()
        return self.clock() - self._shown_since >= self.sign_in_up_s


def mark_start_good_when(started: Callable[[], bool], poll_ms: int = 50) -> None:
    """Once `started()` is true (`StartCountsGood`), tell the launcher this version
    works — off the GUI thread (the pointer is fsynced)."""
    here = running_install()
    if here is None:  # not started by the launcher (from source, the tests)
        return
    install, release = here

    def poll() -> None:
        if not started():
            QTimer.singleShot(poll_ms, poll)
            return
        run_task(lambda _c: mark_good(install, release), name="mark start good",
                 on_error=lambda exc: log.warning("could not mark this start good: %s", exc))

    QTimer.singleShot(0, poll)


def restart_through_launcher() -> bool:
    """Start the launcher again (it starts the version the pointer names now); the caller
    quits. False when there is no launcher to start."""
    import subprocess
    import sys

    here = running_install()
    if here is None:
        return False
    name = "kycdesk-launcher.exe" if sys.platform == "win32" else "kycdesk-launcher"
    launcher = here[0].root / name
    if not launcher.is_file():
        log.warning("update: no launcher at %s; the new version starts next time", launcher)
        return False
    import os

    from kycdesk.update.launcher import WAIT_FOR_PID_ENV

    # It outlives this process, and waits for it to be gone before starting the new version.
    subprocess.Popen([str(launcher)], start_new_session=True, close_fds=True,
                     env=dict(os.environ, **{WAIT_FOR_PID_ENV: str(os.getpid())}))
    return True


class UpdateWatch(QObject):
    """Checks every few hours and on demand; `ready(version)` once a new version is staged,
    self-tested and switched to (it runs from the next start). `restartNow` fires at a
    kiosk's quiet hour when nothing is in progress."""

    ready = Signal(str)
    failed = Signal(str)
    restartNow = Signal()

    def __init__(self, install: InstallRoot, *, busy: Callable[[], bool],
                 quiet_hour: int | None = None, ca_bundle: str | None = None,
                 first_check_ms: int = FIRST_CHECK_MS, every_ms: int = CHECK_EVERY_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.install = install
        self.ca_bundle = ca_bundle  # the sync's CA setting: the same servers' certificates
        # Its own thread: a run may take up to an hour, which must not hold one of the
        # default lane's two threads (connection checks, enrolment) all that time.
        self._lane = Lane("update", threads=1)
        self.busy = busy            # a sync runs or a case has unsaved edits
        self.quiet_hour = quiet_hour  # kiosks: the local hour a restart may happen
        self.staged: str | None = None
        self._running = False
        self._timer = QTimer(self)
        self._timer.setInterval(every_ms)
        self._timer.timeout.connect(self.check_now)
        self._first = QTimer(self)
        self._first.setSingleShot(True)
        self._first.setInterval(first_check_ms)
        self._first.timeout.connect(self.check_now)
        self._quiet = QTimer(self)
        self._quiet.setInterval(60_000)
        self._quiet.timeout.connect(self._maybe_restart)

    def start(self) -> None:
        self._first.start()
        self._timer.start()
        if self.quiet_hour is not None:
            self._quiet.start()

    def check_now(self) -> None:
        if self._running:
            return
        self._running = True
        verify: bool | str = self.ca_bundle or True

        def work(_control: TaskControl[None]) -> str | None:
            from kycdesk.update.client import Updater
            from kycdesk.update.fetch import UpdateLink

            # The sync's rules: 30 s without data drops the link; the run ends within the
            # hour whatever the network does (what arrived is kept and resumed next time).
            link = UpdateLink(deadline_s=RUN_DEADLINE_S, verify=verify)
            try:
                return Updater(self.install, link=link).apply()
            finally:
                link.close()

        run_task(work, self._done, name="update", on_error=self._failed, lane=self._lane)

    def _done(self, version: str | None) -> None:
        self._running = False
        if version is not None:
            self.staged = version
            self.ready.emit(version)

    def _failed(self, exc: Exception) -> None:
        self._running = False
        log.warning("update: %s", exc)  # the detail, for IT
        self.failed.emit(getattr(exc, "summary", None) or str(exc))

    def _maybe_restart(self, now: datetime | None = None) -> None:
        hour = (now or datetime.now()).hour
        if self.staged is not None and hour == self.quiet_hour and not self.busy():
            self.restartNow.emit()
