"""Plain data returned by the store (no Qt types, safe to pass between threads)."""

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


class CaseStatus(StrEnum):
    DRAFT = "DRAFT"
    READY = "READY"
    SYNCED = "SYNCED"
    FAILED = "FAILED"


# Which status changes the store accepts. READY -> DRAFT is "Reopen as draft";
# FAILED -> READY is "Retry". SYNCED is final.
ALLOWED_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.DRAFT: frozenset({CaseStatus.READY}),
    CaseStatus.READY: frozenset({CaseStatus.SYNCED, CaseStatus.FAILED, CaseStatus.DRAFT}),
    CaseStatus.FAILED: frozenset({CaseStatus.READY, CaseStatus.DRAFT, CaseStatus.SYNCED}),
    CaseStatus.SYNCED: frozenset(),
}


@dataclass(frozen=True)
class Location:
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    address: str | None = None

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


IMAGE_COLUMNS = (
    "id, case_id, client_image_id, file_path, slot, sha256, byte_size, mime, width, height, "
    "latitude, longitude, accuracy, address, captured_at, source, synced, server_image_id"
)


def image_from_row(row: tuple[Any, ...]) -> ImageRecord:
    return ImageRecord(
        id=int(row[0]), case_id=row[1], client_image_id=row[2], file_path=row[3],
        slot=row[4], sha256=row[5], byte_size=row[6], mime=row[7], width=row[8],
        height=row[9],
        location=Location(latitude=row[10], longitude=row[11], accuracy=row[12],
                          address=row[13]),
        captured_at=row[14], source=row[15], synced=bool(row[16]), server_image_id=row[17],
    )
