"""Two-way sync against the real server: the office acts through the server's own
services on its database (as the admin commands do, beside the running server), tablets
through the app's real engine, store and client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kycdesk.core.records import TwoWayState
from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.sync_store import standalone_sync_store
from kycdesk.persistence.two_way import read_two_way
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.engine import SyncEngine
from kycdesk.sync.status import RunResult
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.devices import sha256_hex
from kycdesk_server.storage import ServerStore
from tests.sync_support import ServerHandle

FAST = Backoff(base_s=0.0, cap_s=0.0, storage_full_min_s=0.0)
SUE = Reviewer("acc-sue", "sue", "supervisor")
ANNA = Reviewer("acc-anna", "anna", "reviewer")
IP = "127.0.0.1"


def lab_device_id(token: str) -> str:
    """The server's id of the device a `--token` stands for (kycdesk_server.devices)."""
    return f"lab-{sha256_hex(token)[:16]}"


@contextmanager
def office(server: ServerHandle) -> Iterator[OfficeServices]:
    """The back office's services over the running server's database and files."""
    store = ServerStore(server.data_dir, server.database_url)
    try:
        yield OfficeServices.open(store)
    finally:
        store.close()


@dataclass
class Tablet:
    """One device: its data folder and its credential, synced with the app's engine."""

    paths: DataPaths
    token: str
    name: str

    @property
    def server_id(self) -> str:
        return lab_device_id(self.token)

    def sync(self, url: str, *, ignore_backoff: bool = True) -> RunResult:
        with (standalone_sync_store(self.paths) as adapter,
              SyncClient(url, self.token, device_id=self.name) as client):
            engine = SyncEngine(adapter, client, device_id=self.name, backoff=FAST)
            return engine.run_once(ignore_backoff=ignore_backoff)

    def state(self, case_id: str) -> TwoWayState:
        with LocalStore(self.paths) as store:
            return read_two_way(store.conn, case_id)

    def status(self, case_id: str) -> str:
        with LocalStore(self.paths) as store:
            return store.load_case(case_id).status

    def form(self, case_id: str) -> dict[str, Any]:
        with LocalStore(self.paths) as store:
            return dict(store.load_case(case_id).form)


def tablet(root: Path, token: str, name: str) -> Tablet:
    from kycdesk.paths import resolve

    return Tablet(resolve(root / name), token, name)
