"""Autosave for one open case: write-ahead every edit, save the draft when typing pauses.

Every `DraftModel.edited` goes to the writer at once as an AppendEdit (so a kill loses at
most the edit in flight) and restarts a single-shot debounce timer; when it fires, the
whole draft is saved (SaveForm folds the edits). `flush()` saves now: step navigation,
photo add/delete, closing the case, minimise, OS session end, quit. Nothing here waits on
the disk: requests are queued, and each comes back with its one result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from kycdesk.core.results import Result
from kycdesk.models.draft_model import DraftModel
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import AppendEdit, SaveForm

DEBOUNCE_MS = 2000
SAVED_ON_DEVICE = "Saved on this device"


class Autosave(QObject):
    stateChanged = Signal(str)  # "Saving…", "Saved 14:02:31", "Not saved: … — retrying"
    savedRevision = Signal(int)

    def __init__(self, client: StoreClient, case_id: str, model: DraftModel, *,
                 form_version: str, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__()
        self.client = client
        self.case_id = case_id
        self.model = model
        self.form_version = form_version
        self.saves_requested = 0
        self.dirty = False
        self._in_flight = 0
        self._failed = False
        self.state = ""
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self.flush)
        model.edited.connect(self._edited)
        client.storageStateChanged.connect(self._storage_state)

    @Slot(str, object)
    def _edited(self, key: str, value: object) -> None:
        if self._stopped:
            return
        self.client.submit(AppendEdit(self.case_id, key, value), self._edit_written)
        self.dirty = True
        self._timer.start()  # restart: one save per pause in typing, not per keystroke
        if not self._failed:
            self._set_state("Saving…")

    @Slot()
    def flush(self) -> None:
        """Save the draft now if anything changed since the last save request."""
        self.save_now()

    def save_now(self, why: Literal["typed", "document"] = "typed") -> None:
        """`flush`, with the field history's reason for the answers this save changes
        (`document`: a value read from an ID document and confirmed; the caller saves
        what was typed before, so only that value carries it)."""
        self._timer.stop()
        if not self.dirty or self._stopped:
            return
        self.dirty = False
        self.saves_requested += 1
        self._in_flight += 1
        self.client.submit(SaveForm(self.case_id, self.model.values(), self.form_version,
                                    self.model.applicant_name(), self.model.id_numbers(),
                                    why=why),
                           self._saved)
        if not self._failed:
            self._set_state("Saving…")

    def mark_dirty(self) -> None:
        """Force the next flush to save (e.g. after migrating a draft to a new version)."""
        self.dirty = True

    @property
    def pending(self) -> bool:
        return self.dirty or self._in_flight > 0

    def _edit_written(self, result: Result[int]) -> None:
        if not result.ok:
            self._failed = True
            self._set_state(f"Not saved: {result.error}")
        elif not self._failed and self.state == "Saving…" and self._in_flight == 0:
            # The keystroke is on disk (write-ahead): say so, not "unsaved". The draft's
            # debounced save folds it in later; that is housekeeping, not safety.
            self._set_state(SAVED_ON_DEVICE)

    def _saved(self, result: Result[int]) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if not result.ok:
            self._failed = True
            self._set_state(f"Not saved: {result.error}")
            return
        self._failed = False
        if not self.dirty:
            self._set_state(f"Saved {datetime.now().strftime('%H:%M:%S')}")
        self.savedRevision.emit(result.value)

    @Slot(bool, str)
    def _storage_state(self, ok: bool, message: str) -> None:
        if ok and self._failed:
            self._failed = False
            self._set_state("Saving…" if self.pending else "Saved")
        elif not ok and self.pending:
            self._failed = True
            self._set_state(f"Not saved: {message} — retrying")

    def _set_state(self, text: str) -> None:
        if text != self.state:
            self.state = text
            self.stateChanged.emit(text)

    def abandon(self) -> None:
        """The case is being discarded: nothing pending is saved, later edits ignored."""
        self._timer.stop()
        self.dirty = False
        self._stopped = True

    def stop(self) -> None:
        """Save what is pending; later edits (there should be none) are ignored."""
        self.flush()
        self._stopped = True
