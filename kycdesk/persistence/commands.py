"""Write requests the GUI hands to the persistence writer (plain, immutable data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kycdesk.persistence.records import CaseStatus, FormValues, Location


@dataclass(frozen=True)
class CreateCase:
    case_id: str | None = None
    reference_number: str | None = None
    form_id: str | None = None
    form_version: str | None = None


@dataclass(frozen=True)
class AppendEdit:
    case_id: str
    field_key: str
    value: Any


@dataclass(frozen=True)
class SaveForm:
    case_id: str
    form: FormValues
    form_version: str | None = None
    applicant_name: str | None = None  # for the case list; None keeps the stored one


@dataclass(frozen=True)
class AddImage:
    case_id: str
    source: Path
    slot: str | None = None
    location: Location = field(default_factory=Location)
    captured_at: str | None = None
    origin: str = "import"
    client_image_id: str | None = None
    remove_source: bool = False  # our own temp file (camera capture): delete once stored


@dataclass(frozen=True)
class DeleteImage:
    case_id: str
    image_id: int


@dataclass(frozen=True)
class SetStatus:
    case_id: str
    status: CaseStatus
    error: str | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class SetCurrentStep:
    case_id: str
    step: str


@dataclass(frozen=True)
class AppendEvent:
    case_id: str | None
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CommitPreparedImage:
    """Internal: an AddImage whose file an import worker has already copied and checked."""

    request: AddImage
    prepared: Any  # images.PreparedImage (kept Any: this module stays free of file code)

    @property
    def case_id(self) -> str:
        return self.request.case_id


Command = (CreateCase | AppendEdit | SaveForm | AddImage | DeleteImage | SetStatus
           | SetCurrentStep | AppendEvent | CommitPreparedImage)
