"""Every write the store accepts, one class each: its fields are the request, its
`apply` is the implementation.

The persistence writer runs commands in request order on its connection
(`writer.PersistenceWriter`); command-line tools and tests run them directly with
`LocalStore.run`. A new write operation is one class here (plus its test): nothing else
forwards it. Each is a `Command[T]` typed by what `apply` returns, so `submit(command,
done)` hands `done` a `Result[T]` and strict mypy checks every caller. A command whose
success changes what a case *is* (created, new status) returns a `CaseChange` from
`announces`, which the writer broadcasts as `caseChanged`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from kycdesk.core.records import FormValues, ImageRecord, Location
from kycdesk.core.states import CaseChange, CaseStatus, Change
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import (
    cases,
    events,
    field_history,
    forms,
    images,
    lifecycle,
    pull_apply,
    sync_repo,
    two_way,
)
from kycdesk.persistence.db import Connection
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.security.vault import Vault

if TYPE_CHECKING:  # pydantic loads after the window is up (tests/test_architecture.py)
    from kycdesk.core.protocol import PullReply


@dataclass(frozen=True)
class StoreContext:
    """What a command runs against: the writing connection, in its own thread, and the
    signed-in verifier's vault that seals what the command writes."""

    conn: Connection
    paths: DataPaths
    image_limits: ImageLimits
    vault: Vault


T_co = TypeVar("T_co", covariant=True)


class Command(Generic[T_co]):
    """Base of the write requests (frozen dataclasses), typed by `apply`'s result."""

    case_id: str | None
    # True for commands that only change rows: the writer may commit several of them in
    # one transaction (group commit). A command that also renames or removes files runs
    # alone, so what it did on disk always matches what its own commit says.
    groupable = False

    def apply(self, ctx: StoreContext) -> T_co:
        raise NotImplementedError

    def announces(self, result: object) -> CaseChange | None:
        """The notification every view hears after this command succeeded (given what
        `apply` returned), if any."""
        return None

    def announces_all(self, result: object) -> list[CaseChange]:
        """Every notification (a pulled page creates and changes many cases)."""
        change = self.announces(result)
        return [] if change is None else [change]


@dataclass(frozen=True)
class CreateCase(Command[str]):
    groupable = True  # rows, and an empty folder (harmless if the group rolls back)
    case_id: str | None = None
    reference_number: str | None = None
    form_id: str | None = None
    form_version: str | None = None

    def apply(self, ctx: StoreContext) -> str:
        """A DRAFT case with an empty form; returns its id."""
        case_id = cases.insert_case(ctx.conn, case_id=self.case_id,
                                    reference_number=self.reference_number,
                                    form_id=self.form_id, form_version=self.form_version)
        # The row is committed; if the folder cannot be made now, the first photo makes it.
        with contextlib.suppress(OSError):
            ensure_private_dir(ctx.paths.case_dir(case_id))
        return case_id

    def announces(self, result: object) -> CaseChange:
        return CaseChange(case_id=str(result), status=CaseStatus.DRAFT, revision=0)


@dataclass(frozen=True)
class AppendEdit(Command[int]):
    """One field change, written ahead of the debounced save; returns its sequence."""

    groupable = True  # rows only
    case_id: str
    field_key: str
    value: object  # the field's JSON value

    def apply(self, ctx: StoreContext) -> int:
        return forms.append_edit(ctx.conn, self.case_id, self.field_key, self.value)


@dataclass(frozen=True)
class SaveForm(Command[int]):
    """The whole draft, folding the edits written ahead; returns the new revision."""

    groupable = True  # rows only
    case_id: str
    form: FormValues
    form_version: str | None = None
    applicant_name: str | None = None  # for the case list; None keeps the stored one
    id_number: str | None = None       # for the list's search; None keeps the stored one
    # The field history's reason for the answers this save changes: typed, or document
    # (read from an ID document and confirmed by the verifier).
    why: Literal["typed", "document"] = "typed"

    def apply(self, ctx: StoreContext) -> int:
        return forms.save_form(ctx.conn, self.case_id, self.form,
                               form_version=self.form_version,
                               applicant_name=self.applicant_name, id_number=self.id_number,
                               why=self.why)


@dataclass(frozen=True)
class AddImage(Command[ImageRecord]):
    """A photo file to copy into the case; returns its ImageRecord.

    The writer prepares it (copy, hash, fsync, decode check) on its import thread and
    then commits it in request order (`CommitPreparedImage`); `apply` does both at once
    for direct use."""

    case_id: str
    source: Path
    slot: str | None = None
    location: Location = field(default_factory=Location)
    captured_at: str | None = None
    origin: str = "import"
    client_image_id: str | None = None
    # Our own file in flight (a camera capture in paths' captures folder): removed once
    # the store took it or refused it, so an ID photo is never left lying about.
    remove_source: bool = False
    max_pixels: int | None = None  # the slot's size policy (None: keep the original)
    captured_at_source: str | None = None  # with captured_at: its provenance (archives)
    # The source is our own ENCRYPTED file in flight under this context (a capture, an
    # archive's photo: `encrypted_files.CAPTURE_CONTEXT`); None: a clear file chosen by
    # the verifier.
    source_context: bytes | None = None

    def prepare(self, ctx_paths: DataPaths, vault: Vault,
                limits: ImageLimits) -> images.PreparedImage:
        try:
            return images.prepare_image(ctx_paths, vault, self.case_id, self.source,
                                        limits=limits, max_pixels=self.max_pixels,
                                        location=self.location,
                                        source_context=self.source_context)
        except BaseException:
            self.discard_source()  # refused (not a photo, too large...): not kept either
            raise

    def discard_source(self) -> None:
        if self.remove_source:
            self.source.unlink(missing_ok=True)

    def apply(self, ctx: StoreContext) -> ImageRecord:
        return CommitPreparedImage(
            self, self.prepare(ctx.paths, ctx.vault, ctx.image_limits)).apply(ctx)


@dataclass(frozen=True)
class CommitPreparedImage(Command[ImageRecord]):
    """Internal: an AddImage whose file the import thread has already prepared."""

    request: AddImage
    prepared: images.PreparedImage

    @property
    def case_id(self) -> str:  # type: ignore[override]
        return self.request.case_id

    def apply(self, ctx: StoreContext) -> ImageRecord:
        request = self.request
        try:
            return images.commit_image(
                ctx.conn, ctx.paths, ctx.vault, self.prepared, slot=request.slot,
                location=request.location, captured_at=request.captured_at,
                origin=request.origin, client_image_id=request.client_image_id,
                captured_at_source=request.captured_at_source)
        finally:
            request.discard_source()


@dataclass(frozen=True)
class DiscardCapture(Command[None]):
    """Remove a camera capture the case refused before it reached the store (a full
    slot, a case no longer editable); returns nothing."""

    case_id: str
    source: Path

    def apply(self, ctx: StoreContext) -> None:
        self.source.unlink(missing_ok=True)


@dataclass(frozen=True)
class DeleteImage(Command[int]):
    case_id: str
    image_id: int

    def apply(self, ctx: StoreContext) -> int:
        """Returns the id of the photo that is gone."""
        images.delete_image(ctx.conn, ctx.paths, self.image_id)
        return self.image_id


@dataclass(frozen=True)
class Transition(Command[CaseChange]):
    """A status change (see `core.states` and `cases.transition`); returns CaseChange."""

    groupable = True  # rows only
    case_id: str
    change: Change
    error: str | None = None
    error_kind: str | None = None
    next_attempt_at: str | None = None
    revision: int | None = None            # SYNCED: the revision that was sent
    receipt: dict[str, object] | None = None  # SYNCED: the server's receipt
    progressed: bool = False               # SYNC_FAILED: bytes moved before it failed

    def apply(self, ctx: StoreContext) -> CaseChange:
        return cases.transition(ctx.conn, self.case_id, self.change, error=self.error,
                                error_kind=self.error_kind,
                                next_attempt_at=self.next_attempt_at,
                                revision=self.revision, receipt=self.receipt,
                                progressed=self.progressed)

    def announces(self, result: object) -> CaseChange | None:
        return result if isinstance(result, CaseChange) else None


@dataclass(frozen=True)
class DiscardDraft(Command[dict[str, object]]):
    """Remove a draft and its photos for good (the verifier confirmed it)."""

    case_id: str

    def apply(self, ctx: StoreContext) -> dict[str, object]:
        return lifecycle.discard_draft(ctx.conn, ctx.paths, self.case_id)

    def announces(self, result: object) -> CaseChange:
        return CaseChange(case_id=self.case_id, status=CaseStatus.DRAFT, revision=0,
                          removed=True)


@dataclass(frozen=True)
class PurgeSynced(Command[dict[str, object]]):
    """The retention rule for one SYNCED case: only its stub row stays."""

    case_id: str

    def apply(self, ctx: StoreContext) -> dict[str, object]:
        return lifecycle.purge_synced(ctx.conn, ctx.paths, self.case_id)

    def announces(self, result: object) -> CaseChange:
        return CaseChange(case_id=self.case_id, status=CaseStatus.SYNCED, revision=0,
                          purged=True)


@dataclass(frozen=True)
class ConfirmImage(Command[bool]):
    """The server holds this photo (its id is recorded at once, never lost on a retry)."""

    groupable = True  # rows only
    case_id: str
    image_id: int
    server_image_id: str

    def apply(self, ctx: StoreContext) -> bool:
        return sync_repo.confirm_image(ctx.conn, self.image_id, self.server_image_id)


@dataclass(frozen=True)
class RecordUpload(Command[None]):
    """A photo's resumable upload address and the offset the server confirmed (persisted
    so a resume survives a killed app or a reboot); None forgets the upload."""

    groupable = True  # rows only
    case_id: str
    image_id: int
    upload_url: str | None
    offset: int = 0

    def apply(self, ctx: StoreContext) -> None:
        sync_repo.record_upload(ctx.conn, self.image_id, self.upload_url, self.offset)


@dataclass(frozen=True)
class NamePhotos(Command[int]):
    """Place words for photos located before they were named at import
    (`place_backfill`); a photo that got words meanwhile keeps them. Returns how many
    rows took the words."""

    groupable = True  # rows only
    case_id: None
    words: tuple[tuple[int, str, str], ...]  # image id, address, address_source

    def apply(self, ctx: StoreContext) -> int:
        return images.set_place_words(ctx.conn, self.words)


@dataclass(frozen=True)
class SetCurrentStep(Command[None]):
    groupable = True  # rows only
    case_id: str
    step: str

    def apply(self, ctx: StoreContext) -> None:
        cases.set_current_step(ctx.conn, self.case_id, self.step)


@dataclass(frozen=True)
class SetReferenceNumber(Command[None]):
    groupable = True  # rows only
    case_id: str
    reference_number: str | None

    def apply(self, ctx: StoreContext) -> None:
        cases.set_reference_number(ctx.conn, self.case_id, self.reference_number)


@dataclass(frozen=True)
class AppendEvent(Command[int]):
    groupable = True  # rows only
    case_id: str | None
    kind: str
    detail: dict[str, object] = field(default_factory=dict)

    def apply(self, ctx: StoreContext) -> int:
        with ctx.conn.transaction():
            return events.append_event(ctx.conn, self.case_id, self.kind, self.detail)


# -- two-way sync (issue 17) ------------------------------------------------------------
@dataclass(frozen=True)
class ApplyPull(Command[pull_apply.Applied]):
    """One page of the pull and its new token, in one transaction (`pull_apply`)."""

    groupable = True  # rows only
    reply: PullReply
    resync: bool = False
    case_id: str | None = None

    def apply(self, ctx: StoreContext) -> pull_apply.Applied:
        return pull_apply.apply_page(ctx.conn, self.reply, resync=self.resync)

    def announces_all(self, result: object) -> list[CaseChange]:
        return list(result.case_changes) if isinstance(result, pull_apply.Applied) else []


@dataclass(frozen=True)
class RecordFetchedPhoto(Command[None]):
    """A pulled photo's verified file is in place (`paths.pulled_photo`)."""

    groupable = True  # rows only (the file was renamed into place by the sync worker)
    case_id: str
    client_image_id: str
    path: Path

    def apply(self, ctx: StoreContext) -> None:
        two_way.record_fetched_photo(ctx.conn, ctx.paths, ctx.vault, self.case_id,
                                     self.client_image_id, path=self.path)


@dataclass(frozen=True)
class ReleaseCase(Command[CaseChange]):
    """The server took a handed-over case back: its rows and files leave this device."""

    case_id: str

    def apply(self, ctx: StoreContext) -> CaseChange:
        return two_way.record_released(ctx.conn, ctx.paths, self.case_id)

    def announces(self, result: object) -> CaseChange | None:
        return result if isinstance(result, CaseChange) else None


@dataclass(frozen=True)
class RecordHandoverRequested(Command[None]):
    groupable = True  # rows only
    case_id: str

    def apply(self, ctx: StoreContext) -> None:
        two_way.record_handover_requested(ctx.conn, self.case_id)


@dataclass(frozen=True)
class RecordNeedsHandover(Command[None]):
    """An imported copy of another device's case: waits for the office, not a failure."""

    groupable = True  # rows only
    case_id: str
    message: str

    def apply(self, ctx: StoreContext) -> None:
        two_way.record_needs_handover(ctx.conn, self.case_id, self.message)


@dataclass(frozen=True)
class ResolveConflict(Command[CaseChange | None]):
    """The verifier's choice in a conflict: the office's value or their own, applied
    through the normal save (field history why=merged); the conflict is resolved.
    Not grouped: taking the office's photo removes the verifier's photo file."""

    conflict_id: int
    keep: Literal["server", "local"]
    case_id: str | None = None

    def apply(self, ctx: StoreContext) -> CaseChange | None:
        return two_way.resolve_conflict(ctx.conn, ctx.paths, self.conflict_id, self.keep)

    def announces(self, result: object) -> CaseChange | None:
        return result if isinstance(result, CaseChange) else None


@dataclass(frozen=True)
class SetActor(Command[None]):
    """Who acts on this device, for the field history: the verifier's name from
    settings if any, else the device's name (no per-verifier sign-in yet)."""

    groupable = True  # rows only
    name: str
    case_id: str | None = None

    def apply(self, ctx: StoreContext) -> None:
        field_history.set_actor(ctx.conn, self.name)
