"""The store's reads, defined once and shared by every connection that reads: the GUI's
read-only `ReadStore`, the sync worker's `SyncStoreAdapter` and the command line's
`LocalStore`. Each is a short, indexed, bounded query (see the modules named)."""

from __future__ import annotations

from pathlib import Path

from kycdesk.core.records import CaseRecord, CaseSort, CaseSummary, ImageRecord, SyncCase
from kycdesk.core.states import CaseStatus, CaseView
from kycdesk.paths import DataPaths
from kycdesk.persistence import case_list, cases, images, lifecycle, sync_repo
from kycdesk.persistence.db import Connection

MAX_PAGE = 500


class StoreReads:
    conn: Connection
    paths: DataPaths

    def count_cases(self, view: CaseView | None = None, search: str | None = None) -> int:
        return case_list.count_cases(self.conn, view, search)

    def view_counts(self) -> dict[CaseView, int]:
        return case_list.view_counts(self.conn)

    def list_cases(self, *, limit: int = 100, after: CaseSummary | None = None,
                   view: CaseView | None = None, search: str | None = None,
                   sort: CaseSort = CaseSort.LAST_SAVED,
                   descending: bool | None = None) -> list[CaseSummary]:
        return case_list.list_cases(self.conn, limit=min(limit, MAX_PAGE), after=after,
                                    view=view, search=search, sort=sort,
                                    descending=descending)

    def load_case(self, case_id: str) -> CaseRecord:
        return cases.load_case(self.conn, case_id)

    def case_status(self, case_id: str) -> CaseStatus:
        return cases.case_status(self.conn, case_id)

    def list_images(self, case_id: str) -> list[ImageRecord]:
        return images.list_images(self.conn, case_id)

    def due_cases(self, now: str, *, ignore_backoff: bool = False) -> list[str]:
        return sync_repo.due_cases(self.conn, now, ignore_backoff=ignore_backoff)

    def next_due_at(self) -> str | None:
        return sync_repo.next_due_at(self.conn)

    def load_sync_case(self, case_id: str) -> SyncCase:
        return sync_repo.load_sync_case(self.conn, case_id)

    def purge_due(self, days: float) -> list[str]:
        """Synced cases whose server receipt is older than `days`, data still here."""
        return lifecycle.purge_due(self.conn, days)

    def absolute_path(self, stored: str) -> Path:
        return self.paths.absolute(stored)
