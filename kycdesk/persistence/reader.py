"""ReadStore: a read-only connection for the thread that opens it (the GUI thread's
short, indexed, bounded reads; the sync worker's reads)."""

from __future__ import annotations

from kycdesk.paths import DataPaths
from kycdesk.persistence.reads import StoreReads
from kycdesk.persistence.store import open_connection
from kycdesk.security.vault import Vault


class ReadStore(StoreReads):
    """`vault` opens the sealed values this connection reads."""

    def __init__(self, paths: DataPaths, *, vault: Vault, role: str = "reader") -> None:
        self.paths = paths
        self.vault = vault
        self.conn = open_connection(paths, writer=False, role=role, vault=vault)

    def close(self) -> None:
        try:
            self._release_list_index()
        finally:
            self.conn.close()
