"""`kycdesk sync --once`: the engine from the command line, with a progress display.

Exit codes: 0 every due case synced (or none was due; a case waiting for the office to
hand it over is not a failure), 1 a case failed or the work from the office could not be
fetched, 2 the store cannot be used, 3 the server address or token is missing or
refused, 4 the server cannot be reached.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from kycdesk.core.clock import format_instant, parse_instant_or_none
from kycdesk.core.clock import now as clock_now
from kycdesk.core.errors import FailureKind, StoreError
from kycdesk.exit_codes import ExitCode
from kycdesk.paths import DataPaths
from kycdesk.persistence.device import device_id
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.sync_store import SyncStoreAdapter, standalone_sync_store
from kycdesk.security.vault import Vault
from kycdesk.settings import CA_BUNDLE, SERVER_URL, Settings
from kycdesk.sync.client import SyncClient
from kycdesk.sync.credentials import (
    VerifierCredential,
    load_token,
    server_url_from,
)
from kycdesk.sync.engine import PARALLEL_UPLOADS, SyncEngine
from kycdesk.sync.errors import DeviceRevokedError, SyncCancelledError, SyncError
from kycdesk.sync.office import OfficeHooks, OfficeIdentity
from kycdesk.sync.progress import CaseProgress, describe, format_bytes, format_duration
from kycdesk.sync.status import RunResult
from kycdesk.sync.transport import STALL_S


class ProgressPrinter:
    """One readable line when something changes, at most every `every_s` seconds."""

    def __init__(self, out: TextIO, every_s: float = 2.0) -> None:
        self.out = out
        self.every_s = every_s
        self.last_step = ""
        self.last_time = 0.0

    def __call__(self, p: CaseProgress) -> None:
        now = time.monotonic()
        key = f"{p.case_id}:{p.step}:{p.items_done}"
        if key == self.last_step and now - self.last_time < self.every_s:
            return
        self.last_step, self.last_time = key, now
        print(describe(p), file=self.out, flush=True)


@dataclass
class Totals:
    synced: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    photos: int = 0
    photo_bytes: int = 0
    sent_bytes: int = 0
    runs: int = 0
    auth_error: str | None = None
    revoked: bool = False      # the office revoked this device (proven): the app wipes
    revoked_tablet: bool = False  # … the whole tablet
    cancelled: bool = False
    deadline_passed: bool = False
    waiting: dict[str, str] = field(default_factory=dict)   # case -> why (the office acts)
    from_office: int = 0        # changes the pulls applied
    fetched_photos: int = 0
    pull_problems: list[str] = field(default_factory=list)

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.synced.update(result.synced)
        self.waiting.update(result.waiting)
        if result.pull is not None:
            self.from_office += result.pull.applied
            self.fetched_photos += result.pull.photos
            self.pull_problems = list(result.pull.problems)  # the latest run's
        for case_id in result.synced:
            self.failed.pop(case_id, None)
        self.failed.update(result.failed)
        self.photos += result.uploaded_images
        self.photo_bytes += result.uploaded_bytes
        self.sent_bytes += result.sent_bytes
        self.auth_error = result.auth_error
        self.revoked = self.revoked or result.revoked
        self.revoked_tablet = self.revoked_tablet or result.revoked_tablet
        self.cancelled = result.cancelled
        self.deadline_passed = self.deadline_passed or result.deadline_passed


def run_headless_sync(paths: DataPaths, vault: Vault, *, server: str | None,
                      token: str | None,
                      ignore_backoff: bool, kept: VerifierCredential | None = None,
                      ca_bundle: str | None = None,
                      until_done: bool = False, deadline_s: float | None = None,
                      parallel: int = PARALLEL_UPLOADS, stall_s: float = STALL_S,
                      office: OfficeIdentity | None = None,
                      hooks: OfficeHooks | None = None,
                      out: TextIO = sys.stdout) -> int:
    """`kycdesk sync --once`: what is due now. With `until_done`, keep going through cuts
    and offline spells until nothing is due or `deadline_s` has passed (kiosks run it
    from a scheduler); the retry policy is the engine's, as in the app."""
    settings = Settings()
    ca_bundle = ca_bundle or settings.get(CA_BUNDLE) or None
    url = server_url_from(server, settings.get(SERVER_URL) or None)
    if not url:
        print("No server address: give --server, set KYCDESK_SERVER, or set it in the app.",
              file=out)
        return ExitCode.AUTH
    lookup = load_token(token, kept=kept)
    if lookup.token is None:
        print(lookup.problem, file=out)
        return ExitCode.AUTH
    if not paths.database.exists():
        print(f"There is no kycdesk data in {paths.root}: nothing to sync.", file=out)
        return ExitCode.OK
    lock = DataDirLock(paths.lock_file)
    try:
        lock.acquire()
    except StoreError as exc:
        print(exc, file=out)
        return ExitCode.STORE_UNUSABLE
    began = time.monotonic()
    ends = began + deadline_s if deadline_s is not None else None
    totals = Totals()
    offline: str | None = None
    try:
        with standalone_sync_store(paths, vault=vault) as store:
            device = device_id(paths)
            with SyncClient(url, lookup.token, device_id=device, ca_bundle=ca_bundle,
                            stall_s=stall_s, office=office) as client:
                if ends is not None:
                    # The deadline is the run's: requests in flight then are cut (their
                    # bytes stay on the server, resumable), not left to their own limits.
                    client.end_run_at(ends)
                engine = SyncEngine(store, client, device_id=device, parallel=parallel,
                                    on_progress=ProgressPrinter(out))
                while True:
                    try:
                        client.health()
                        offline = None
                    except SyncCancelledError:
                        totals.deadline_passed = True
                        break
                    except SyncError as exc:
                        if isinstance(exc, DeviceRevokedError):
                            totals.auth_error, totals.revoked = str(exc), True
                            totals.revoked_tablet = exc.whole_tablet
                            break
                        if exc.kind is FailureKind.AUTH:
                            print(exc, file=out)
                            return ExitCode.AUTH
                        offline = str(exc)
                    if offline is None:
                        result = engine.run_once(ignore_backoff=ignore_backoff)
                        totals.add(result)
                        _report_office(result, hooks or OfficeHooks())
                        if totals.auth_error or totals.cancelled:
                            break
                    if not until_done:
                        break
                    wait = _next_wait(store, ends, offline is not None)
                    if wait is None:
                        break
                    if offline is not None:
                        print(f"offline ({offline}); trying again in {int(wait)} s",
                              file=out, flush=True)
                    time.sleep(wait)
    except StoreError as exc:
        print(f"The store cannot be opened: {exc}", file=out)
        return ExitCode.STORE_UNUSABLE
    except SyncError as exc:
        print(exc, file=out)
        return ExitCode.AUTH
    finally:
        lock.release()
    if totals.revoked:
        # The store is closed and the lock released: the app's wipe may take them.
        print(totals.auth_error, file=out)
        if hooks is not None and hooks.on_revoked is not None:
            hooks.on_revoked(totals.revoked_tablet)
        return ExitCode.AUTH
    return _summary(totals, paths, offline, time.monotonic() - began, out)


def _report_office(result: RunResult, hooks: OfficeHooks) -> None:
    """A run's lease and releases to the caller (the verifiers' registry)."""
    pulled = result.pull
    if pulled is None:
        return
    if pulled.lease is not None and hooks.on_lease is not None:
        hooks.on_lease(*pulled.lease)
    if pulled.released_devices and hooks.on_released is not None:
        hooks.on_released(list(pulled.released_devices))


def _next_wait(store: SyncStoreAdapter, ends: float | None, offline: bool) -> float | None:
    """Seconds until the next try, or None when there is nothing left to do in time."""
    now = clock_now()
    if not store.due_cases(format_instant(now), ignore_backoff=True):
        return None  # every case synced, or waiting for a person
    due = store.next_due_at()
    wait = 15.0 if offline else 0.5
    moment = parse_instant_or_none(due)
    if not offline and moment is not None and not store.due_cases(format_instant(now)):
        wait = max(0.5, (moment - now).total_seconds())
    if ends is not None:
        left = ends - time.monotonic()
        if left <= 0:
            return None
        wait = min(wait, left)
    return wait


def _summary(totals: Totals, paths: DataPaths, offline: str | None, elapsed: float,
             out: TextIO) -> int:
    for case_id, message in totals.failed.items():
        print(f"FAILED {case_id}: {message}", file=out)
    if totals.deadline_passed:
        print("The deadline passed while sending; what reached the server is kept and the "
              "cases left go on from there next time.", file=out)
    for case_id, message in totals.waiting.items():
        print(f"WAITING {case_id}: {message}", file=out)
    for problem in totals.pull_problems:
        print(f"Work from the office not fetched yet: {problem}", file=out)
    if totals.from_office or totals.fetched_photos:
        print(f"from the office: {totals.from_office} change(s), "
              f"{totals.fetched_photos} photo(s)", file=out)
    resent = max(0, totals.sent_bytes - totals.photo_bytes)
    print(f"synced {len(totals.synced)} case(s), {totals.photos} photo(s) "
          f"({format_bytes(totals.photo_bytes)}; {format_bytes(resent)} sent again after "
          f"cuts) in {format_duration(elapsed)}; failed {len(totals.failed)}", file=out)
    if totals.auth_error:
        print(totals.auth_error, file=out)
        return ExitCode.AUTH
    if offline is not None and not totals.synced:
        print(f"The server could not be reached: {offline}", file=out)
        return ExitCode.OFFLINE
    ok = not totals.failed and not totals.cancelled and not totals.pull_problems
    return ExitCode.OK if ok else ExitCode.PROBLEMS
