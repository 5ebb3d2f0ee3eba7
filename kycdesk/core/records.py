"""Plain data passed between the store, the models, the sync engine and the views
(no Qt types: safe to pass between threads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FormValues = dict[str, Any]


class CaseSort(StrEnum):
    LAST_SAVED = "last_saved"
    REFERENCE = "reference"
    APPLICANT = "applicant"
    STATUS = "status"
    PHOTOS = "photos"
    DUE_DATE = "due_date"  # assigned cases: the soonest due first (none due last)


@dataclass(frozen=True)
class Location:
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    # Words for where that is, never a street address ("near Nairobi, Nairobi Area,
    # Kenya"), and how they were found ("nearest place, 3 km"): core/places.py.
    address: str | None = None
    address_source: str | None = None

    @property
    def known(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True)
class CaseSummary:
    """One row of the case list."""

    id: str
    reference_number: str | None
    status: str
    last_saved: str | None
    photo_count: int
    last_error: str | None
    applicant_name: str | None = None
    last_error_kind: str | None = None
    next_attempt_at: str | None = None
    purged_at: str | None = None  # SYNCED and past retention: only this stub row remains
    inbox: str | None = None      # assigned | returned (two-way): the draft's inbox
    due_date: str | None = None   # YYYY-MM-DD, an assigned case's due date
    decision: str | None = None   # the office's newest: approved | rejected | returned
    decision_reason: str | None = None  # its reason's label (a rejection's)


@dataclass(frozen=True)
class CaseRecord:
    """A case as the editor opens it: the saved form with leftover edits replayed."""

    id: str
    reference_number: str | None
    status: str
    current_step: str | None
    created_at: str | None
    last_saved: str | None
    form_id: str | None
    form_version: str | None
    revision: int
    form: FormValues = field(default_factory=dict)
    replayed_edits: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None  # FAILED: transient (retried) or needs a person
    next_attempt_at: str | None = None  # FAILED, transient: when the app tries again
    purged_at: str | None = None        # SYNCED, past retention: data removed then


@dataclass(frozen=True)
class ImageRecord:
    id: int
    case_id: str
    client_image_id: str
    file_path: str
    slot: str | None
    sha256: str | None
    byte_size: int | None
    mime: str | None
    width: int | None
    height: int | None
    location: Location
    captured_at: str | None
    source: str | None
    synced: bool
    server_image_id: str | None
    upload_url: str | None = None   # the server's resumable upload for this photo, if any
    upload_offset: int = 0          # bytes of it the server confirmed
    captured_at_source: str | None = None  # exif | camera | file | import (None: older row)


@dataclass(frozen=True)
class SyncCase:
    """A queued case as the sync engine sends it."""

    id: str
    reference_number: str | None
    status: str
    revision: int
    form_id: str | None
    form_version: str | None
    form: FormValues
    finalized_at: str | None
    sync_attempts: int
    images: list[ImageRecord]
    # Image id -> the retake checks' findings on it, and whether the verifier kept it
    # anyway (from the case's audit events): sent with the photo, for the reviewer.
    retakes: dict[int, RetakeNote] = field(default_factory=dict)
    # Field-level audit (protocol.FieldHistoryEntry as dicts, oldest first, bounded):
    # every change of an answer on this device, sent with the submission.
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RetakeNote:
    problems: tuple[str, ...]   # photo_quality.Problem values: blurred, glare, dark, small
    kept: bool                  # the verifier chose "Keep this photo"


# -- two-way (issue 17): what the office sent this device, as the UI shows it -----------
@dataclass(frozen=True)
class ReviewComment:
    """One reviewer comment, at a field or a photo (or the case: both None)."""

    revision: int
    field_key: str | None
    client_image_id: str | None
    text: str
    author: str
    at: str


@dataclass(frozen=True)
class CaseDecision:
    """The office's newest decision on one of the case's revisions."""

    revision: int
    decision: str  # approved | rejected | returned
    reason_code: str | None
    reason_label: str | None
    note: str
    by: str
    at: str


@dataclass(frozen=True)
class Assignment:
    due_date: str | None
    prefilled: frozenset[str]
    assigned_by: str
    note: str
    assigned_at: str


@dataclass(frozen=True)
class Conflict:
    """Both values kept; the verifier chooses."""

    id: int
    kind: str  # field | photo | status
    field_key: str | None
    client_image_id: str | None
    server_value: Any
    server_by: str
    server_at: str
    local_value: Any
    local_by: str
    local_at: str


@dataclass(frozen=True)
class TwoWayState:
    case_id: str
    inbox: str | None                    # assigned | returned | None
    assignment: Assignment | None
    comments: tuple[ReviewComment, ...]  # of the newest return
    decision: CaseDecision | None
    conflicts: tuple[Conflict, ...]      # unresolved
    handover: str | None                 # requested | handing_out | refused | None
    handover_note: str = ""
    # Read-only on this device, and why (an assignment withdrawn after the verifier
    # typed, a case the office no longer gives this device): None when editable.
    locked_reason: str | None = None


@dataclass(frozen=True)
class PendingPhoto:
    """A photo of a pulled case whose bytes are not on this device yet."""

    case_id: str
    client_image_id: str
    sha256: str
    byte_size: int
    slot: str | None
