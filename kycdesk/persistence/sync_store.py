"""The sync worker's own connection to the store, with the operations the engine uses."""

from __future__ import annotations

from pathlib import Path

from kycdesk.paths import DataPaths
from kycdesk.persistence import sync_repo
from kycdesk.persistence.store import open_connection


class SyncStoreAdapter:
    """Opened in the thread that uses it (the sync worker, or the CLI's main thread)."""

    def __init__(self, paths: DataPaths) -> None:
        self.paths = paths
        self.conn = open_connection(paths, writer=True, role="sync")

    def close(self) -> None:
        self.conn.close()

    def due_cases(self, now: str, *, ignore_backoff: bool) -> list[str]:
        return sync_repo.due_cases(self.conn, now, ignore_backoff=ignore_backoff)

    def next_due_at(self) -> str | None:
        return sync_repo.next_due_at(self.conn)

    def load_sync_case(self, case_id: str) -> sync_repo.SyncCase:
        return sync_repo.load_sync_case(self.conn, case_id)

    def mark_image_synced(self, image_id: int, server_image_id: str) -> None:
        sync_repo.mark_image_synced(self.conn, image_id, server_image_id)

    def record_failure(self, case_id: str, *, kind: str, message: str,
                       next_attempt_at: str | None) -> bool:
        return sync_repo.record_failure(self.conn, case_id, kind=kind, message=message,
                                        next_attempt_at=next_attempt_at)

    def mark_synced(self, case_id: str, *, revision: int, receipt: dict[str, object]) -> bool:
        return sync_repo.mark_synced(self.conn, case_id, revision=revision, receipt=receipt)

    def absolute_path(self, stored: str) -> Path:
        return self.paths.absolute(stored)
