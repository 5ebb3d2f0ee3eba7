"""`kycdesk sync --once`: the engine from the command line, with a progress display.

Exit codes: 0 every due case synced (or none was due), 1 a case failed, 2 the store
cannot be used, 3 the server address or token is missing or refused, 4 the server
cannot be reached.
"""

from __future__ import annotations

import sys
from typing import TextIO

from PySide6.QtCore import QSettings

from kycdesk import APP_NAME
from kycdesk.core.errors import FailureKind, StoreError
from kycdesk.exit_codes import ExitCode
from kycdesk.paths import DataPaths
from kycdesk.persistence.device import device_id
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.sync_store import standalone_sync_store
from kycdesk.sync.client import SyncClient
from kycdesk.sync.credentials import (
    CA_BUNDLE_SETTING,
    SERVER_SETTING,
    load_token,
    server_url_from,
)
from kycdesk.sync.engine import CaseProgress, SyncEngine
from kycdesk.sync.errors import SyncError


class ProgressPrinter:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.last = ""

    def __call__(self, p: CaseProgress) -> None:
        mb = f"{p.bytes_done / 2**20:.1f}/{p.bytes_total / 2**20:.1f} MB"
        line = f"{p.reference or p.case_id}: {p.step} ({p.items_done}/{p.items_total}, {mb})"
        if line != self.last:
            self.last = line
            print(line, file=self.out, flush=True)


def run_headless_sync(paths: DataPaths, *, server: str | None, token: str | None,
                      ignore_backoff: bool, ca_bundle: str | None = None,
                      out: TextIO = sys.stdout) -> int:
    settings = QSettings(APP_NAME, APP_NAME)
    saved = settings.value(SERVER_SETTING)
    ca_bundle = ca_bundle or str(settings.value(CA_BUNDLE_SETTING) or "") or None
    url = server_url_from(server, str(saved) if saved else None)
    if not url:
        print("No server address: give --server, set KYCDESK_SERVER, or set it in the app.",
              file=out)
        return ExitCode.AUTH
    lookup = load_token(url, token)
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
    try:
        with standalone_sync_store(paths) as store:
            device = device_id(paths)
            with SyncClient(url, lookup.token, device_id=device, ca_bundle=ca_bundle) as client:
                try:
                    client.health()
                except SyncError as exc:
                    print(exc, file=out)
                    return ExitCode.AUTH if exc.kind is FailureKind.AUTH else ExitCode.OFFLINE
                engine = SyncEngine(store, client, device_id=device,
                                    on_progress=ProgressPrinter(out))
                result = engine.run_once(ignore_backoff=ignore_backoff)
    except StoreError as exc:
        print(f"The store cannot be opened: {exc}", file=out)
        return ExitCode.STORE_UNUSABLE
    except SyncError as exc:
        print(exc, file=out)
        return ExitCode.AUTH
    finally:
        lock.release()
    for case_id, message in result.failed.items():
        print(f"FAILED {case_id}: {message}", file=out)
    print(f"synced {len(result.synced)} case(s), {result.uploaded_images} photo(s) "
          f"({result.uploaded_bytes / 2**20:.1f} MB); failed {len(result.failed)}", file=out)
    if result.auth_error:
        print(result.auth_error, file=out)
        return ExitCode.AUTH
    return ExitCode.OK if result.ok else ExitCode.PROBLEMS
