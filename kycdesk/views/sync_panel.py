"""The sync strip in the status bar: state in words, progress, "Sync now", Settings."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from kycdesk.sync.progress import CaseProgress, describe, waiting
from kycdesk.sync.status import RunResult, SyncState
from kycdesk.views.style import ERROR_COLOUR, TOUCH

STATE_TEXT = {
    SyncState.IDLE: "Sync: ready",
    SyncState.SYNCING: "Syncing…",
    SyncState.OFFLINE: "Offline — cases wait on this device and are sent when the server "
                       "can be reached",
    SyncState.AUTH_NEEDED: "Sync stopped: the device token was refused — open Settings",
    SyncState.NOT_CONFIGURED: "Sync not set up — open Settings to enter the server",
    SyncState.REVOKED: "The office revoked this tablet — its cases are being removed",
}


CHECKING_TEXT = "checking for work from the office…"
# A run that starts this soon after the last one ended follows on from it (the worker runs
# a request that arrived meanwhile — a case submitted mid-run — at once): what both sent
# is counted together, not only the second run's ("1 sent" after four cases went).
FOLLOW_ON_S = 5.0


def news_text(assigned: int, returned: int, decided: int = 0) -> str:
    """What a pull brought, for the status line ("" when nothing): no dialog interrupts
    the verifier; the counts are on the list's views too."""
    parts = []
    if assigned:
        parts.append(f"{assigned} new case{'s' if assigned != 1 else ''} assigned to you")
    if returned:
        parts.append(f"{returned} case{'s' if returned != 1 else ''} returned to you")
    if decided:
        parts.append(f"{decided} decision{'s' if decided != 1 else ''} from the office")
    return "From the office: " + ", ".join(parts) if parts else ""


class SyncPanel(QWidget):
    syncNowRequested = Signal()
    settingsRequested = Signal()
    cancelRequested = Signal()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.setObjectName("sync-panel")
        self._clock = clock
        self._ended_at: float | None = None  # when the last run's result arrived
        self._sent = 0      # cases sent by the runs following on from each other
        self._updates = 0   # and the office's updates they brought
        self.state = SyncState.NOT_CONFIGURED
        self._failures = {False: 0, True: 0}  # failed cases this run: needs action or not
        self.state_label = QLabel(STATE_TEXT[SyncState.NOT_CONFIGURED], self)
        self.state_label.setObjectName("sync-state")
        self.case_label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(120)
        self.bar.setTextVisible(True)
        self.bar.hide()
        self.last_label = QLabel("", self)
        self.news_label = QLabel("", self)
        self.news_label.setObjectName("sync-news")
        self.news_label.hide()
        self.sync_button = QPushButton("Sync now", self)
        self.sync_button.setMinimumHeight(TOUCH - 8)
        self.sync_button.clicked.connect(self.syncNowRequested)
        self.cancel_button = QPushButton("Stop", self)
        self.cancel_button.setMinimumHeight(TOUCH - 8)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.cancel_button.hide()
        self.settings_button = QPushButton("Settings…", self)
        self.settings_button.setMinimumHeight(TOUCH - 8)
        self.settings_button.clicked.connect(self.settingsRequested)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        for widget in (self.state_label, self.case_label, self.bar, self.last_label,
                       self.news_label, self.sync_button, self.cancel_button, self.settings_button):
            row.addWidget(widget)

    def note_failure(self, needs_action: bool) -> None:
        """A case of the current run failed: counted in the state line while it runs."""
        self._failures[needs_action] += 1
        self.state_label.setText(self._syncing_text())

    def show_news(self, assigned: int, returned: int, decided: int = 0) -> None:
        """After a pull: how many cases the office assigned or returned (status only)."""
        text = news_text(assigned, returned, decided)
        self.news_label.setText(text)
        self.news_label.setVisible(bool(text))

    def _syncing_text(self) -> str:
        retrying, refused = self._failures[False], self._failures[True]
        parts = [f"{retrying} waiting to retry"] if retrying else []
        if refused:
            parts.append(f"{refused} need{'s' if refused == 1 else ''} action")
        return STATE_TEXT[SyncState.SYNCING] + (f" ({', '.join(parts)})" if parts else "")

    @Slot(str, str)
    def show_state(self, state: str, detail: str) -> None:
        if state == SyncState.SYNCING and self.state != SyncState.SYNCING:
            self._failures = {False: 0, True: 0}  # a new run
            ended = self._ended_at
            if ended is None or self._clock() - ended > FOLLOW_ON_S:
                self._sent = self._updates = 0  # not a follow-on: its own tally
        self.state = state
        text = self._syncing_text() if state == SyncState.SYNCING else STATE_TEXT.get(state,
                                                                                     state)
        self.state_label.setText(text)
        self.state_label.setToolTip(detail)
        bad = state in (SyncState.AUTH_NEEDED, SyncState.NOT_CONFIGURED, SyncState.OFFLINE,
                        SyncState.REVOKED)
        self.state_label.setStyleSheet(f"color: {ERROR_COLOUR};" if bad else "")
        syncing = state == SyncState.SYNCING
        self.bar.setVisible(syncing)
        self.case_label.setVisible(syncing)
        self.cancel_button.setVisible(syncing)
        self.sync_button.setEnabled(not syncing)
        self.last_label.setVisible(not syncing)  # room for the progress line while sending
        if syncing:
            # A run first asks the office for new work, then sends this device's cases.
            self.case_label.setText(CHECKING_TEXT)
            self.case_label.setStyleSheet("")
            self.bar.setRange(0, 0)  # busy until the first figures arrive

    @Slot(object)
    def show_progress(self, progress: CaseProgress) -> None:
        """At most ~10 a second arrive (the engine throttles); the text says what a person
        needs: which case, photos, bytes, rate, time left — or that the link is silent."""
        self.case_label.setText(describe(progress))
        self.case_label.setStyleSheet(f"color: {ERROR_COLOUR};" if waiting(progress) else "")
        if not progress.bytes_total:  # no bytes to count (checking for work): busy
            self.bar.setRange(0, 0)
            return
        total = progress.bytes_total
        self.bar.setRange(0, 1000)
        self.bar.setValue(int(1000 * min(progress.bytes_done, total) / total))
        self.bar.setFormat("%p%")  # the figures are in the line beside it

    @Slot(object)
    def show_result(self, result: RunResult) -> None:
        when = datetime.now().strftime("%H:%M")
        self._ended_at = self._clock()
        self._sent += len(result.synced)
        parts = [f"Last sync {when}: {self._sent} sent"]
        retrying = len(result.failed) - len(result.permanent)
        if retrying:
            parts.append(f"{retrying} waiting to retry")
        if result.permanent:
            parts.append(f"{len(result.permanent)} need{'s' if len(result.permanent) == 1 else ''}"
                         " action (see the case)")
        if result.waiting:
            parts.append(f"{len(result.waiting)} waiting for the office to hand "
                         f"{'it' if len(result.waiting) == 1 else 'them'} over")
        pulled = result.pull
        self._updates += pulled.applied if pulled is not None else 0
        if self._updates:
            parts.append(f"{self._updates} update{'s' if self._updates != 1 else ''} "
                         "from the office")
        if result.cancelled:
            parts.append("stopped — resumes next time")
        self.last_label.setText(", ".join(parts))
        self.last_label.setToolTip("\n".join([
            *result.failed.values(), *result.waiting.values(),
            *(f"Work from the office not fetched yet: {p}" for p in
              (pulled.problems if pulled is not None else []))]))
