"""Two-way sync against the real server: the office acts through the server's own
services on its database (as the admin commands do, beside the running server), tablets
through the app's real engine, store and client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from kycdesk.sync.progress import CaseProgress
from kycdesk.sync.status import RunResult
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.devices import sha256_hex
from kycdesk_server.storage import ServerStore
from tests.fieldlink import FieldLink
from tests.sync_support import ServerHandle
from tests.vaults import make_vault, share_with_cli

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

    def __post_init__(self) -> None:
        share_with_cli(self.paths)  # `kycdesk sync`/`case` on it open with the test key

    @property
    def server_id(self) -> str:
        return lab_device_id(self.token)

    def sync(self, url: str, *, ignore_backoff: bool = True,
             on_progress: Callable[[CaseProgress], None] | None = None) -> RunResult:
        with (standalone_sync_store(self.paths, vault=make_vault()) as adapter,
              SyncClient(url, self.token, device_id=self.name) as client):
            engine = SyncEngine(adapter, client, device_id=self.name, backoff=FAST,
                                on_progress=on_progress)
            return engine.run_once(ignore_backoff=ignore_backoff)

    def state(self, case_id: str) -> TwoWayState:
        with LocalStore(self.paths, vault=make_vault()) as store:
            return read_two_way(store.conn, case_id)

    def status(self, case_id: str) -> str:
        with LocalStore(self.paths, vault=make_vault()) as store:
            return store.load_case(case_id).status

    def form(self, case_id: str) -> dict[str, Any]:
        with LocalStore(self.paths, vault=make_vault()) as store:
            return dict(store.load_case(case_id).form)


def tablet(root: Path, token: str, name: str) -> Tablet:
    from kycdesk.paths import resolve

    return Tablet(resolve(root / name), token, name)


# -- the pull SIGKILLed again and again (tests/test_pull_kill.py, benchmarks/pull_kill_loop.py)
@dataclass
class KillLoopResult:
    kills: int
    assigned: int
    checks: int             # store inspections after a kill, every one consistent
    mid_page: int           # kills after which the token had moved past the last check


def assign_batch(server: ServerHandle, device_id: str, count: int, start: int) -> list[str]:
    """`count` new assignments to the device, prefilled (one key each)."""
    from kycdesk_server.backoffice.assignments import NewAssignment

    with office(server) as services:
        return [services.assignments.create(SUE, NewAssignment(
            reference=f"KYC-KILL-{n}", applicant_name=f"Applicant {n}",
            device_name=device_id, form_id="individual_kyc", form_version="2",
            address=f"{n} Long Road, Sometown", due_date="2026-12-31",
            prefill={"applicant.first_name": f"First {n}", "applicant.last_name": "Kill"}),
            address=IP) for n in range(start, start + count)]


def check_pull_state(server: ServerHandle, device_id: str, paths: DataPaths) -> int:
    """After a kill: the held digest and count agree with the held cases, every held case
    is there once with its prefill recorded once, and the token is where the held set is
    (the server's assignments up to the token's feed position). Returns the feed
    position."""
    from kycdesk.core.hashing import held_digest
    from kycdesk.persistence.held import position

    with LocalStore(paths, vault=make_vault()) as store:
        token, digest, count = position(store.conn)
        ids = [str(r[0]) for r in store.conn.query_all("SELECT case_id FROM held_cases")]
        missing = store.conn.scalar(
            "SELECT count(*) FROM held_cases h LEFT JOIN cases c ON c.id = h.case_id "
            "WHERE c.id IS NULL")
        twice = store.conn.query_all(
            "SELECT case_id, field_key, count(*) FROM field_history WHERE why = 'prefilled' "
            "GROUP BY case_id, field_key HAVING count(*) > 1")
    assert (digest, count) == (held_digest(ids), len(ids)), "held digest out of step"
    assert missing == 0, "a held case has no row"
    assert twice == [], f"prefill applied twice: {twice[:3]}"
    seq = int(token.split(".")[1]) if token else 0
    [(expected,)] = server.query("SELECT count(*) FROM assignments WHERE device_id = ? "
                                 "AND feed_seq <= ?", (device_id, seq))
    assert expected == len(ids), f"token at feed {seq} = {expected} cases, held {len(ids)}"
    return seq


def pull_kill_loop(server: ServerHandle, paths: DataPaths, token: str, *, kills: int,
                   rng: Any, link: FieldLink, batch: int = 200,
                   kill_after: tuple[float, float] = (0.0, 3.0)) -> KillLoopResult:
    """`kycdesk sync --once --now` (through `link`) SIGKILLed `kills` times while it
    pulls and applies: each kill comes `kill_after` seconds after the run's first
    connection (the process's start-up is not what is tested); the office keeps
    assigning (a batch whenever fewer than two pages wait), so every run has work from
    the office in flight. After each kill the store is checked."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.sync_support import REPO_ROOT

    device_id = lab_device_id(token)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
    cmd = [sys.executable, "-m", "kycdesk", "sync", "--once", "--now", "--data-dir",
           str(paths.root), "--server", link.url, "--token", token]
    assigned = len(assign_batch(server, device_id, 2 * batch, 0))
    done = checks = mid_page = 0
    last_seq = 0
    while done < kills:
        [(waiting,)] = server.query("SELECT count(*) FROM assignments WHERE device_id = ? "
                                    "AND feed_seq > ?", (device_id, last_seq))
        if waiting < 2 * batch:
            assigned += len(assign_batch(server, device_id, batch, assigned))
        connections = link.connections
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env=env)
        started = time.monotonic()
        while link.connections == connections and process.poll() is None \
                and time.monotonic() - started < 120:
            time.sleep(0.01)  # polling the link's counter: the child gives no signal
        try:
            process.wait(timeout=rng.uniform(*kill_after))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            done += 1
        seq = check_pull_state(server, device_id, paths)
        checks += 1
        mid_page += seq > last_seq
        last_seq = seq
    return KillLoopResult(done, assigned, checks, mid_page)
