"""CaseSession: one open case, between the editor's widgets and the store.

It owns the draft model, the autosave, one photo list model per slot, and the commands a
verifier gives (add or delete photos, change step, submit, retry, reopen). Views call
its methods and listen to its signals; they never build store commands or read the
store. Each request the session sends gets exactly one result back (a callback per
request, delivered in the GUI thread); a case's status reaches it only through the
store's one broadcast, `caseChanged`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from kycdesk.background import run_task
from kycdesk.core.form_schema import FieldKind, FormDefinition
from kycdesk.core.photo_quality import SUGGESTION, Problem, Quality
from kycdesk.core.records import (
    CaseRecord,
    Conflict,
    ImageRecord,
    Location,
    RetakeNote,
    TwoWayState,
)
from kycdesk.core.results import Result
from kycdesk.core.states import CaseChange, CaseStatus, Change, is_editable
from kycdesk.models.autosave import Autosave
from kycdesk.models.document_reading import DocumentOffers
from kycdesk.models.draft_model import DraftModel
from kycdesk.models.photo_list_model import PhotoListModel
from kycdesk.models.thumbnails import ThumbnailLoader
from kycdesk.persistence.captures import write_capture
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import (
    AddImage,
    AppendEvent,
    DeleteImage,
    DiscardCapture,
    DiscardDraft,
    ResolveConflict,
    SetCurrentStep,
    Transition,
)
from kycdesk.persistence.encrypted_files import CAPTURE_CONTEXT
from kycdesk.persistence.image_memory import encode_jpeg
from kycdesk.persistence.quality import check_photo

log = logging.getLogger(__name__)
# A camera frame is encoded once, as the evidence: high quality (the slot's size policy
# may still make a smaller copy at import).
CAPTURE_QUALITY = 92


@dataclass(frozen=True)
class _Waiting:
    """A file handed to a full slot, waiting for a place (a refused file frees one)."""
    path: Path
    location: Location
    origin: str
    remove_source: bool
    source_context: bytes | None = None  # an encrypted capture's (see AddImage)


class CaseSession(QObject):
    statusChanged = Signal(object)       # CaseChange of this case (status, error, …)
    photosChanged = Signal(str, int)     # slot, photos stored (confirmed by the store)
    photosPending = Signal(str, int)     # slot, photos handed to the store, not yet done
    photoError = Signal(str, str)        # slot, message (a refused file, a full slot)
    # slot, image id, retake suggestions in words ([]: checked, nothing to suggest)
    photoQuality = Signal(str, int, list)
    commandFailed = Signal(str)          # a status command was refused: the reason
    twoWayChanged = Signal()             # what the office sent changed (a conflict resolved)
    conflictFailed = Signal(int, str)    # conflict id, why the choice was not applied

    def __init__(self, store: StoreClient, case: CaseRecord, definition: FormDefinition,
                 images: list[ImageRecord], thumbnails: ThumbnailLoader, *,
                 debounce_ms: int = 2000, migrated: bool = False,
                 profile: dict[str, str] | None = None,
                 two_way: TwoWayState | None = None,
                 read_two_way: Callable[[], TwoWayState] | None = None) -> None:
        super().__init__()
        # What the office sent about this case (assignment, comments, decision, handover,
        # open conflicts), read with the case; None: nothing (a case begun here).
        # `read_two_way` reads it again (a short indexed read on the GUI thread's
        # read connection) when the store announces a change of this case: a return
        # or a decision pulled while the case is open shows at once.
        self.two_way = two_way
        self._read_two_way = read_two_way
        self._resolving: set[int] = set()
        self.profile = profile or {}  # the verifier's name and employee id (Settings)
        self.store = store
        self.case = case
        self.case_id = case.id
        self.definition = definition
        self.thumbnails = thumbnails
        self.status = CaseStatus(case.status)
        self.draft = DraftModel(definition, case.form, read_only=not self.editable)
        self.autosave = Autosave(store, case.id, self.draft, form_version=definition.version,
                                 debounce_ms=debounce_ms)
        if migrated and is_editable(case.status):
            self.autosave.mark_dirty()  # store the migrated draft under the new version

        self.slot_fields = {f.slot: f for f in definition.fields() if f.kind is FieldKind.PHOTO}
        self.photos: dict[str, PhotoListModel] = {}
        by_slot: dict[str, list[ImageRecord]] = {}
        for image in images:
            by_slot.setdefault(image.slot or "", []).append(image)
        for slot in self.slot_fields:
            model = PhotoListModel(thumbnails)
            model.set_images(by_slot.get(slot, []))
            self.photos[slot] = model
            self.draft.set_photo_count(slot, model.rowCount())
        self._pending: dict[str, int] = dict.fromkeys(self.slot_fields, 0)
        # Files beyond a slot's room, in the order given, until a place frees up.
        self._waiting: dict[str, list[_Waiting]] = {slot: [] for slot in self.slot_fields}
        self.photosChanged.connect(self.draft.set_photo_count)
        self._closed = False
        # ID photos are read (MRZ, PDF417) off the GUI thread and offered to the form.
        self.documents = DocumentOffers(
            store, case.id, definition, self.draft,
            still_there=lambda image_id: self.find_photo(image_id) is not None,
            photo_bytes=thumbnails.photo_bytes,
            autosave=self.autosave)
        store.caseChanged.connect(self._case_changed)

    def fill_defaults(self, keys: list[str]) -> None:
        """When the verifier reaches a step: a blank field with a default ("today" for the
        signature date) gets it, as an edit they can change (written ahead and saved like
        one). Not earlier: a case started on Monday and signed on Wednesday says Wednesday."""
        if not self.editable:
            return
        for key in keys:
            field = self.definition.field(key)
            if field.default is None or self.draft.value(key) is not None:
                continue
            if field.default == "today":
                self.draft.set_value(key, date.today().isoformat())
            elif value := self.profile.get(field.default.removeprefix("profile:")):
                self.draft.set_value(key, value)

    # -- state ------------------------------------------------------------------------
    @property
    def editable(self) -> bool:
        return is_editable(self.status) and not self.locked_reason()

    def locked_reason(self) -> str | None:
        """Why the office made this case read-only here (None: it did not)."""
        return self.two_way.locked_reason if self.two_way is not None else None

    def busy(self) -> bool:
        """Photos handed to the store and not yet stored (or refused)."""
        return any(self._pending.values())

    def pending_in(self, slot: str) -> int:
        return self._pending.get(slot, 0)

    def find_photo(self, image_id: int) -> ImageRecord | None:
        for model in self.photos.values():
            for image in model.images:
                if image.id == image_id:
                    return image
        return None

    # -- photos -----------------------------------------------------------------------
    def add_capture(self, slot: str, photo: QImage | bytes, location: Location) -> None:
        """A camera photo (in memory): encrypted into the captures folder off the GUI
        thread (`persistence.captures`: never a clear file), then handed to the store
        like any photo, and the capture removed once the store took or refused it."""
        loader, case_id = self.thumbnails, self.case_id

        def encrypt(_control: object) -> Path:
            data = photo if isinstance(photo, bytes) else encode_jpeg(photo, CAPTURE_QUALITY)
            if data is None:
                raise ValueError("the camera's picture could not be encoded")
            return write_capture(loader.vault, loader.paths.captures_dir, case_id, data)

        def failed(error: Exception) -> None:
            log.warning("camera photo not saved: %s", type(error).__name__)
            self.photoError.emit(slot, "The camera photo could not be saved on this device "
                                       "(is the disk full?). Take it again.")

        def encrypted(path: Path) -> None:
            self.add_photos(slot, [path], location=location, origin="camera",
                            remove_source=True, source_context=CAPTURE_CONTEXT)

        run_task(encrypt, encrypted, name="camera-photo", on_error=failed)

    def add_photos(self, slot: str, files: list[Path], *, location: Location | None = None,
                   origin: str = "import", remove_source: bool = False,
                   source_context: bytes | None = None) -> int:
        """Hand files to the store (copied into the case, checked); returns how many were
        handed over now. Files beyond the slot's room wait: a file the store refuses frees
        its place for the next one, so a bad file among several never costs a good one.
        What is still waiting once the slot is full is refused by name, with a message;
        a refused file of our own (`remove_source`: a camera capture) is removed."""
        if not self.editable or slot not in self.photos:
            self._discard_captures(files if remove_source else [])
            return 0
        self._waiting[slot].extend(
            _Waiting(path, location or Location(), origin, remove_source, source_context)
            for path in files)
        handed = self._hand_over(slot)
        self.photosPending.emit(slot, self._pending[slot])
        return handed

    def _room(self, slot: str) -> int:
        field = self.slot_fields[slot]
        return field.max_count - self.photos[slot].rowCount() - self._pending[slot]

    def _hand_over(self, slot: str) -> int:
        """Submit waiting files while the slot has room; once nothing is in flight and
        the slot is full, refuse what still waits (naming every file)."""
        field = self.slot_fields[slot]
        waiting = self._waiting[slot]
        handed = 0
        while waiting and self._room(slot) > 0:
            item = waiting.pop(0)
            name = "camera photo" if item.origin == "camera" else item.path.name
            self._pending[slot] += 1
            handed += 1
            self.store.submit(
                AddImage(self.case_id, item.path, slot=slot, location=item.location,
                         origin=item.origin, remove_source=item.remove_source,
                         max_pixels=field.max_pixels, source_context=item.source_context),
                functools.partial(self._photo_added, slot, name))
        if waiting and self._pending[slot] == 0:
            refused = list(waiting)
            waiting.clear()
            names = ", ".join("camera photo" if item.origin == "camera" else item.path.name
                              for item in refused)
            self.photoError.emit(slot, f"{field.label} takes at most {field.max_count} "
                                       f"photo(s); {len(refused)} file(s) were not added: "
                                       f"{names}.")
            self._discard_captures([item.path for item in refused if item.remove_source])
        return handed

    def _discard_captures(self, files: list[Path]) -> None:
        for path in files:  # through the writer: the GUI thread never waits on disk
            self.store.submit(DiscardCapture(self.case_id, path))

    def _photo_added(self, slot: str, name: str, result: Result[ImageRecord]) -> None:
        self._pending[slot] -= 1
        if not result.ok:
            self.photoError.emit(slot, f"{name} was not added: {result.error}")
            self._hand_over(slot)  # its place goes to the next file waiting
            self.photosPending.emit(slot, self._pending[slot])
            return
        self.photos[slot].append(result.value)
        self._hand_over(slot)  # full now: what still waits is refused by name
        self.photosPending.emit(slot, self._pending[slot])
        self.photosChanged.emit(slot, self.photos[slot].rowCount())
        self.autosave.flush()  # a photo change saves the draft at once
        if self.slot_fields[slot].check_quality:
            self._check_quality(slot, result.value)
            self.documents.read(slot, result.value.id, result.value.file_path)

    def _check_quality(self, slot: str, image: ImageRecord) -> None:
        """Off the GUI thread: decode at ~1,000 px and measure (< 100 ms for 12 MP)."""
        loader, stored = self.thumbnails, image.file_path
        def measure(_control: object) -> Quality | None:
            data = loader.photo_bytes(stored)
            return None if data is None else check_photo(data)

        run_task(measure,
                 lambda quality: self._quality_measured(slot, image.id, quality),
                 name="photo-quality")

    def _quality_measured(self, slot: str, image_id: int, quality: Quality | None) -> None:
        if self._closed or self.find_photo(image_id) is None:
            return  # the case was closed, or the photo deleted (retaken), meanwhile
        if quality is not None and quality.problems:
            self.store.submit(AppendEvent(self.case_id, "photo_quality_suggested", {
                "image_id": image_id, "slot": slot,
                "problems": [problem.value for problem in quality.problems]}))
        self.photoQuality.emit(slot, image_id, quality.suggestions() if quality else [])

    def restore_quality(self, notes: dict[int, RetakeNote]) -> None:
        """A case opened (after a restart, a crash, a recovered photo): each ID photo's
        retake suggestion comes back as it was recorded — unless the verifier kept the
        photo — and a photo never checked (the app stopped between storing and checking
        it) is checked now. Before, every ⚠ was lost once the case was closed."""
        for slot, field in self.slot_fields.items():
            if not field.check_quality:
                continue
            for image in self.photos[slot].images:
                note = notes.get(image.id)
                if note is None:
                    self._check_quality(slot, image)
                elif not note.kept and note.problems:
                    words = [SUGGESTION[Problem(p)] for p in note.problems
                             if p in Problem.__members__.values()]
                    self.photoQuality.emit(slot, image.id, words)

    def keep_photo(self, slot: str, image_id: int, suggestions: list[str]) -> None:
        """The verifier keeps a photo the checks suggested retaking: recorded."""
        self.store.submit(AppendEvent(self.case_id, "photo_quality_overridden", {
            "image_id": image_id, "slot": slot, "suggestions": suggestions}))

    def delete_photo(self, image_id: int) -> None:
        image = self.find_photo(image_id)
        if image is None or not self.editable:
            return
        slot = image.slot or ""
        self.store.submit(DeleteImage(self.case_id, image_id),
                          lambda result: self._photo_deleted(slot, image_id, result))

    def _photo_deleted(self, slot: str, image_id: int, result: Result[int]) -> None:
        if not result.ok:
            self.photoError.emit(slot, f"The photo was not deleted: {result.error}")
            return
        if self.photos[slot].remove(image_id):
            self.photosChanged.emit(slot, self.photos[slot].rowCount())
            self.autosave.flush()

    # -- steps and status ---------------------------------------------------------------
    def set_step(self, step_id: str) -> None:
        """Step navigation saves at once and remembers where the verifier is."""
        if not self.editable or step_id == self.case.current_step:
            return
        self.autosave.flush()
        self.store.submit(SetCurrentStep(self.case_id, step_id))
        self.case = replace(self.case, current_step=step_id)

    def submit(self) -> None:
        """Lock the case as READY (the caller validated it and asked the verifier). The
        draft is saved first: the writer keeps request order."""
        self.autosave.flush()
        self._change(Change.SUBMIT)

    def retry(self) -> None:
        self._change(Change.RETRY)

    def discard(self) -> None:
        """Remove this draft and its photos (the verifier confirmed). Nothing more is
        saved for it; every view hears `caseChanged` with `removed`."""
        if not self.editable:
            return
        self.autosave.abandon()
        self.store.submit(DiscardDraft(self.case_id), self._change_done)

    def reopen(self) -> None:
        self._change(Change.REOPEN)

    # -- what the office sent -----------------------------------------------------------
    def open_conflicts(self) -> tuple[Conflict, ...]:
        return self.two_way.conflicts if self.two_way is not None else ()

    def prefilled(self) -> frozenset[str]:
        state = self.two_way
        return state.assignment.prefilled if state and state.assignment else frozenset()

    def resolving(self, conflict_id: int) -> bool:
        return conflict_id in self._resolving

    def resolve_conflict(self, conflict_id: int, keep: Literal["server", "local"]) -> None:
        """Keep one of the two values (the verifier chose). The draft's own edits are
        saved first (the writer keeps order), then the writer applies the choice; the GUI
        never waits for it. The open draft shows the kept value when the store confirms."""
        conflict = next((c for c in self.open_conflicts() if c.id == conflict_id), None)
        if conflict is None or conflict_id in self._resolving:
            return
        self._resolving.add(conflict_id)
        self.autosave.flush()
        self.store.submit(ResolveConflict(conflict_id, keep),
                          lambda result: self._conflict_resolved(conflict, keep, result))

    def _forget_replaced_photo(self, local: object) -> None:
        """The office's photo was kept: the store removed the verifier's from its slot
        (the office's arrives with the next sync and shows when the case is reopened)."""
        image_id = local.get("client_image_id") if isinstance(local, dict) else None
        for slot, model in self.photos.items():
            for image in model.images:
                if image.client_image_id == image_id and model.remove(image.id):
                    self.photosChanged.emit(slot, model.rowCount())
                    return

    def _conflict_resolved(self, conflict: Conflict, keep: Literal["server", "local"],
                           result: Result[object]) -> None:
        self._resolving.discard(conflict.id)
        if not result.ok:
            self.conflictFailed.emit(conflict.id, f"Your choice was not saved: {result.error}")
            return
        if conflict.kind == "field" and conflict.field_key is not None and not self._closed:
            kept = conflict.server_value if keep == "server" else conflict.local_value
            self.draft.apply_stored(conflict.field_key, kept)
        if conflict.kind == "photo" and keep == "server" and not self._closed:
            self._forget_replaced_photo(conflict.local_value)
        if self.two_way is not None:
            self.two_way = replace(self.two_way, conflicts=tuple(
                c for c in self.two_way.conflicts if c.id != conflict.id))
        self.twoWayChanged.emit()

    def _change(self, change: Change) -> None:
        self.store.submit(Transition(self.case_id, change), self._change_done)

    def _change_done(self, result: Result[object]) -> None:
        # Success is announced to everyone by caseChanged; only a refusal is ours alone.
        if not result.ok:
            self.commandFailed.emit(str(result.error))

    @Slot(object)
    def _case_changed(self, change: CaseChange) -> None:
        if change.case_id != self.case_id:
            return
        if change.removed:
            self.autosave.abandon()
            self.statusChanged.emit(change)
            return
        if change.change is not None:  # None: what the office sent changed, not status
            self.status = change.status
            self.case = replace(self.case, status=change.status,
                                last_error=change.last_error,
                                last_error_kind=change.error_kind,
                                next_attempt_at=change.next_attempt_at,
                                revision=change.revision)
        if self._read_two_way is not None and not self._closed:
            self.two_way = self._read_two_way()  # may lock it (locked_reason)
        if not self._closed:
            # Answers the office corrected (nobody here had changed them): shown, and
            # part of the whole form the next autosave writes — never put back.
            for key, value in change.answers:
                self.draft.apply_stored(key, value)
        self.draft.read_only = not self.editable
        self.statusChanged.emit(change)
        self.twoWayChanged.emit()

    def close(self) -> None:
        """Save what is pending; later edits are ignored."""
        self._closed = True  # a photo check finishing later has nobody to tell
        self.documents.close()
        self.autosave.stop()
