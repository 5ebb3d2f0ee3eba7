"""Read an ID photo once it is stored in the case, off the GUI thread, and offer what it
says to the form; a value the verifier confirms is saved through the draft like a typed
one, with its reason recorded.

Which photos: the slots of ID documents (`check_quality` slots: the form says they hold
ID documents). What is read: `kycdesk.documents.document_reader` (the MRZ, else a card
back's PDF417), which needs the `documents` extra; without it nothing is offered and
nothing is said (the verifier types, as before).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, Final

from PySide6.QtCore import QObject, Signal

from kycdesk.background import Task, run_task
from kycdesk.core.clock import now
from kycdesk.core.document_form import Offer, Unoffered, offers
from kycdesk.core.form_schema import FormDefinition
from kycdesk.core.id_document import DocumentRead
from kycdesk.models.autosave import Autosave
from kycdesk.models.draft_model import DraftModel
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import AppendEvent

log = logging.getLogger(__name__)

# The reason a value confirmed from a document carries in the field history
# (core.protocol.FieldHistoryEntry.why).
WHY_DOCUMENT: Final = "document"


def read_photo(data: bytes, today: date) -> DocumentRead | None:
    """What the photo says, or None when it holds nothing readable (or the reader is not
    installed). Blocking: called on a background lane."""
    try:
        from kycdesk.documents.document_reader import NothingReadError, read_document
    except ImportError:  # the app was installed without the documents extra
        return None
    try:
        return read_document(data, today).read
    except (NothingReadError, OSError):
        return None


class DocumentOffers(QObject):
    """One open case's document readings and the verifier's confirmations."""

    # slot, image id, the reading (offers computed against the form when shown)
    documentRead = Signal(str, int, object)

    def __init__(self, store: StoreClient, case_id: str, definition: FormDefinition,
                 draft: DraftModel, *, still_there: Callable[[int], bool] = lambda _id: True,
                 photo_bytes: Callable[[str], bytes | None],
                 reader: Callable[[bytes, date], DocumentRead | None] = read_photo,
                 autosave: Autosave | None = None) -> None:
        super().__init__()
        self.autosave = autosave  # saves a confirmed value with its reason (None: later)
        self._still_there = still_there  # the photo was not deleted (retaken) meanwhile
        self.store = store
        self.case_id = case_id
        self.definition = definition
        self.draft = draft
        self._reader = reader
        self._photo_bytes = photo_bytes
        self._tasks: list[Task[Any, Any]] = []
        self._pending = 0
        self._closed = False
        self.readings: dict[int, DocumentRead] = {}  # image id -> what it said

    def read(self, slot: str, image_id: int, stored_path: str) -> None:
        """Read a stored photo (decrypted in memory, in the background task)."""
        today = now().date()
        self._pending += 1
        photo_bytes, reader = self._photo_bytes, self._reader

        def work(_control: object) -> DocumentRead | None:
            data = photo_bytes(stored_path)
            return None if data is None else reader(data, today)

        task: Task[Any, Any] = run_task(
            work,
            lambda read: self._done(slot, image_id, read), name="document-read",
            on_error=self._failed)
        self._tasks.append(task)

    def _settled(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._tasks.clear()  # kept only to cancel at close

    def busy(self) -> bool:
        """A photo is still being read."""
        return self._pending > 0

    def _failed(self, error: Exception) -> None:
        """A reader's bug: the verifier types, as without a reader; the log keeps it
        (the exception's type and place only: never what the photo says)."""
        self._settled()
        log.error("reading an ID photo failed: %s", type(error).__name__, exc_info=error)

    def _done(self, slot: str, image_id: int, read: DocumentRead | None) -> None:
        self._settled()
        if self._closed or read is None or not self._still_there(image_id):
            return
        self.readings[image_id] = read
        self.documentRead.emit(slot, image_id, read)

    def offers(self, read: DocumentRead) -> tuple[list[Offer], list[Unoffered]]:
        return offers(read, self.definition, self.draft.values())

    def confirm(self, offer: Offer, read: DocumentRead, image_id: int) -> bool:
        """The verifier confirmed one value: written ahead like a typed one, then saved
        at once with why="document" in the field history (what was typed before is saved
        first, as typed: the writer keeps order). False if the case is read-only."""
        if self.draft.read_only:
            return False
        if self.autosave is not None:
            self.autosave.flush()
        self.draft.set_value(offer.key, offer.value)
        if self.autosave is not None:
            self.autosave.save_now(why=WHY_DOCUMENT)
        self.record_reason(offer.key, WHY_DOCUMENT, read, image_id)
        return True

    def record_reason(self, key: str, why: str, read: DocumentRead, image_id: int) -> None:
        """Also a case event (the history says what changed; the event says from what):
        the field, what was read and which photo, never the value (applicant data stays
        in the form and its history)."""
        self.store.submit(AppendEvent(self.case_id, "field_confirmed_from_document", {
            "field_key": key, "why": why, "source": read.source.value,
            "image_id": image_id}))

    def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
