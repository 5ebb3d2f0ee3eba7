"""The store's reads, defined once and shared by every connection that reads: the GUI's
read-only `ReadStore`, the sync worker's `SyncStoreAdapter` and the command line's
`LocalStore`. Each is a short, indexed, bounded query (see the modules named)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kycdesk.core.records import (
    CaseRecord,
    CaseSort,
    CaseSummary,
    ImageRecord,
    PendingPhoto,
    RetakeNote,
    SyncCase,
    TwoWayState,
)
from kycdesk.core.states import CaseStatus, CaseView
from kycdesk.paths import DataPaths
from kycdesk.persistence import (
    case_list,
    cases,
    field_history,
    held,
    images,
    lifecycle,
    list_index,
    pull_apply,
    sync_repo,
    two_way,
)
from kycdesk.persistence.db import Connection
from kycdesk.persistence.list_index import ListIndex
from kycdesk.persistence.photo_io import EncryptedDownload, EncryptedPhoto
from kycdesk.security.vault import Vault

if TYPE_CHECKING:  # pydantic loads after the window is up (tests/test_architecture.py)
    from kycdesk.core.form_schema import FormDefinition

MAX_PAGE = 500


class StoreReads:
    conn: Connection
    paths: DataPaths
    vault: Vault
    _list_index: ListIndex | None = None

    @property
    def list_index(self) -> ListIndex:
        """The store's in-memory list index, shared in the process; loaded by the first
        connection that asks (the writer thread asks at open: persistence/writer.py)."""
        if self._list_index is None:
            self._list_index = list_index.acquire(self.paths, self.vault, self.conn)
        return self._list_index

    @property
    def loaded_list_index(self) -> ListIndex | None:
        """The index if this connection has it already (asking loads nothing)."""
        return self._list_index

    def _release_list_index(self) -> None:
        """At close: the last connection of the store writes the snapshot and drops it."""
        index, self._list_index = self._list_index, None
        if index is not None:
            list_index.release(index)

    def count_cases(self, view: CaseView | None = None, search: str | None = None) -> int:
        if search is None or not search.split():
            return case_list.count_cases(None, self.conn, view, search)
        return case_list.count_cases(self.list_index, self.conn, view, search)

    def view_counts(self) -> dict[CaseView, int]:
        return case_list.view_counts(self.conn)

    def list_cases(self, *, limit: int = 100, after: CaseSummary | None = None,
                   view: CaseView | None = None, search: str | None = None,
                   sort: CaseSort = CaseSort.LAST_SAVED,
                   descending: bool | None = None) -> list[CaseSummary]:
        return case_list.list_cases(self.list_index, self.conn, limit=min(limit, MAX_PAGE),
                                    after=after, view=view, search=search, sort=sort,
                                    descending=descending)

    def load_case(self, case_id: str) -> CaseRecord:
        return cases.load_case(self.conn, case_id)

    def case_status(self, case_id: str) -> CaseStatus:
        return cases.case_status(self.conn, case_id)

    def list_images(self, case_id: str) -> list[ImageRecord]:
        return images.list_images(self.conn, case_id)

    def retake_notes(self, case_id: str) -> dict[int, RetakeNote]:
        """Retake suggestions recorded on a case's photos, and which were kept."""
        return sync_repo.retake_notes(self.conn, case_id)

    def due_cases(self, now: str, *, ignore_backoff: bool = False) -> list[str]:
        return sync_repo.due_cases(self.conn, now, ignore_backoff=ignore_backoff)

    def next_due_at(self) -> str | None:
        return sync_repo.next_due_at(self.conn)

    def load_sync_case(self, case_id: str) -> SyncCase:
        return sync_repo.load_sync_case(self.conn, case_id)

    def purge_due(self, days: float) -> list[str]:
        """Synced cases whose server receipt is older than `days`, data still here."""
        return lifecycle.purge_due(self.conn, days)

    def photo_source(self, image: ImageRecord) -> EncryptedPhoto:
        """A stored photo as the upload reads it: decrypted from any offset."""
        return EncryptedPhoto(self.vault, self.paths.absolute(image.file_path), image.case_id)

    def photo_download(self, case_id: str, client_image_id: str) -> EncryptedDownload:
        """A pulled photo's partial file, encrypted as it arrives."""
        return EncryptedDownload(self.vault, self.paths, case_id, client_image_id)

    # -- two-way sync (issue 17) --------------------------------------------------------
    def read_two_way(self, case_id: str) -> TwoWayState:
        """What the office said about a case: assignment, comments, decision, open
        conflicts, handover."""
        return two_way.read_two_way(self.conn, case_id)

    def field_history(self, case_id: str, limit: int = 500) -> list[dict[str, Any]]:
        return field_history.list_history(self.conn, case_id, limit)

    def pull_position(self) -> tuple[str | None, str, int]:
        """(token, held_digest, held_count) for the next pull."""
        return held.position(self.conn)

    def photos_to_fetch(self) -> list[PendingPhoto]:
        return two_way.photos_to_fetch(self.conn)

    def cases_to_release(self) -> list[tuple[str, int]]:
        return two_way.cases_to_release(self.conn)

    def is_held(self, case_id: str) -> bool:
        """Whether the server gives this case to this device (its held set)."""
        return held.is_held(self.conn, case_id)

    def handover_requests_due(self) -> list[tuple[str, str | None]]:
        return two_way.handover_requests_due(self.conn)

    def pushed_forms(self) -> list[FormDefinition]:
        """Form definitions the office pushed (checked when they arrived)."""
        return pull_apply.pushed_forms(self.conn)

    def refused_forms(self) -> list[str]:
        """Why pushed forms were refused, newest first."""
        return two_way.refused_forms(self.conn)
