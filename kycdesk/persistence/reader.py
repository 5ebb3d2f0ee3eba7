"""ReadStore: the GUI thread's read-only connection for short, indexed, bounded reads."""

from __future__ import annotations

from kycdesk.paths import DataPaths
from kycdesk.persistence import cases, images
from kycdesk.persistence.records import (
    CaseRecord,
    CaseSort,
    CaseStatus,
    CaseSummary,
    ImageRecord,
)
from kycdesk.persistence.store import open_connection

MAX_PAGE = 500


class ReadStore:
    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths
        self.conn = open_connection(paths, writer=False, role="reader")

    def close(self) -> None:
        self.conn.close()

    def count_cases(self, status: CaseStatus | None = None, search: str | None = None) -> int:
        return cases.count_cases(self.conn, status, search)

    def list_cases(self, *, limit: int, offset: int = 0, status: CaseStatus | None = None,
                   search: str | None = None, sort: CaseSort = CaseSort.LAST_SAVED,
                   descending: bool | None = None) -> list[CaseSummary]:
        return cases.list_cases(self.conn, limit=min(limit, MAX_PAGE), offset=offset,
                                status=status, search=search, sort=sort,
                                descending=descending)

    def load_case(self, case_id: str) -> CaseRecord:
        return cases.load_case(self.conn, case_id)

    def list_images(self, case_id: str) -> list[ImageRecord]:
        return images.list_images(self.conn, case_id)
