"""ReadStore: a read-only connection for the thread that opens it (the GUI thread's
short, indexed, bounded reads; the sync worker's reads)."""

from __future__ import annotations

from kycdesk.paths import DataPaths
from kycdesk.persistence.reads import StoreReads
from kycdesk.persistence.store import open_connection


class ReadStore(StoreReads):
    def __init__(self, paths: DataPaths, *, role: str = "reader") -> None:
        self.paths = paths
        self.conn = open_connection(paths, writer=False, role=role)

    def close(self) -> None:
        self.conn.close()
