"""The sync worker: a QObject living in its own QThread, with its own read-only database
connection and HTTP client (both created in that thread); its writes go through the
persistence writer and are waited for here, never in the GUI thread.

Runs the engine when asked ("Sync now", a case became READY, the network came back),
on a periodic timer, and when the earliest backoff expires. Reports by signal; the GUI
talks to it through `SyncController`, which lives in the GUI thread. Cancel is
cooperative (checked between and within uploads) and leaves a resumable state.

The tablet's protection (issue 18): given the store's `OfficeIdentity`, a proven
revocation stops the worker for good (state REVOKED, no further run) and calls
`OfficeHooks.on_revoked` — in this thread, after the client is closed; the app then
closes the store and wipes the tablet. Each run's lease and released devices go to
`on_lease` / `on_released` (kycdesk.sync.office).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from kycdesk.core.clock import now as clock_now
from kycdesk.core.clock import parse_instant_or_none
from kycdesk.core.errors import FailureKind, StoreError
from kycdesk.paths import DataPaths
from kycdesk.persistence.device import device_id
from kycdesk.persistence.sync_store import SyncStoreAdapter
from kycdesk.persistence.writer import PersistenceWriter
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.engine import PARALLEL_UPLOADS, SyncEngine
from kycdesk.sync.errors import DeviceRevokedError, SyncCancelledError, SyncError
from kycdesk.sync.office import OfficeHooks, OfficeIdentity
from kycdesk.sync.status import RunResult, SyncState
from kycdesk.sync.transport import STALL_S

log = logging.getLogger(__name__)

PERIODIC_MS = 60_000


class SyncWorker(QObject):
    stateChanged = Signal(str, str)       # state, detail
    progress = Signal(object)             # CaseProgress
    runFinished = Signal(object)          # RunResult
    stopped = Signal()
    _runRequested = Signal(bool)
    _configureRequested = Signal(str, str, str, object)

    def __init__(self, paths: DataPaths, writer: PersistenceWriter, *,
                 backoff: Backoff | None = None, periodic_ms: int = PERIODIC_MS,
                 parallel: int = PARALLEL_UPLOADS, stall_s: float = STALL_S,
                 office: OfficeIdentity | None = None,
                 hooks: OfficeHooks | None = None) -> None:
        super().__init__()
        self._office = office
        self._hooks = hooks or OfficeHooks()
        self._revoked = False
        self._parallel = parallel
        self._stall_s = stall_s
        self._paths = paths
        self._writer = writer
        self._backoff = backoff or Backoff()
        self._periodic_ms = periodic_ms
        self._url: str | None = None
        self._token: str | None = None
        self._ca_bundle: str | None = None
        self._store: SyncStoreAdapter | None = None
        self._device: str = ""
        self._cancel = threading.Event()
        self._client: SyncClient | None = None  # the running sync's (cut by cancel)
        self._rerun = False
        self._running = False
        self._periodic: QTimer | None = None
        self._retry: QTimer | None = None
        self._runRequested.connect(self._run)
        self._configureRequested.connect(self._configure)

    # -- any thread -------------------------------------------------------------------
    def request_sync(self, now: bool = False) -> None:
        self._runRequested.emit(now)

    def configure(self, url: str, token: str, ca_bundle: str = "",
                  office: OfficeIdentity | None = None) -> None:
        """`office`: what a new enrolment gave (None keeps what the worker had)."""
        self._configureRequested.emit(url, token, ca_bundle, office)

    def cancel(self) -> None:
        """Stop now: requests in flight are cut (as by `kycdesk sync --deadline`); what
        reached the server stays there and the next run resumes from its offset."""
        self._cancel.set()
        client = self._client
        if client is not None:
            client.interrupt()

    # -- worker thread ------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        try:
            self._store = SyncStoreAdapter(self._paths, self._writer)
            self._device = device_id(self._paths)
        except (StoreError, OSError) as exc:
            log.error("sync worker cannot open the store: %s", exc)
            self.stateChanged.emit(SyncState.OFFLINE, str(exc))
            return
        self._periodic = QTimer(self)
        # Bound methods: a lambda holding `self` on its own child timer is a cycle
        # through C++ that keeps the worker (and the store's keys) alive after a lock.
        self._periodic.timeout.connect(self._run_scheduled)
        self._periodic.start(self._periodic_ms)
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.timeout.connect(self._run_scheduled)
        self.stateChanged.emit(SyncState.IDLE if self._url else SyncState.NOT_CONFIGURED, "")

    @Slot()
    def _run_scheduled(self) -> None:
        self._run(False)

    @Slot(str, str, str, object)
    def _configure(self, url: str, token: str, ca_bundle: str,
                   office: OfficeIdentity | None) -> None:
        self._url, self._token = url or None, token or None
        self._ca_bundle = ca_bundle or None
        if office is not None:
            self._office = office
        self.stateChanged.emit(SyncState.IDLE if self._url and self._token
                               else SyncState.NOT_CONFIGURED, "")

    @Slot(bool)
    def _run(self, ignore_backoff: bool) -> None:
        if self._running:
            self._rerun = True
            return
        if self._store is None or self._revoked:
            return
        if not self._url or not self._token:
            self.stateChanged.emit(SyncState.NOT_CONFIGURED,
                                   "Set the server address and device token in Settings.")
            return
        self._running = True
        self._cancel.clear()
        try:
            result = self._run_engine(ignore_backoff)
        finally:
            self._running = False
        self.runFinished.emit(result)
        self._schedule_retry()
        if self._rerun and not result.cancelled:
            self._rerun = False
            QTimer.singleShot(0, self, lambda: self._run(False))

    def _run_engine(self, ignore_backoff: bool) -> RunResult:
        assert self._store is not None and self._url and self._token
        self.stateChanged.emit(SyncState.SYNCING, "")
        try:
            client = SyncClient(self._url, self._token, device_id=self._device,
                                ca_bundle=self._ca_bundle, stall_s=self._stall_s,
                                office=self._office)
        except SyncError as exc:
            self.stateChanged.emit(SyncState.NOT_CONFIGURED, str(exc))
            return RunResult(auth_error=str(exc))
        self._client = client
        if self._cancel.is_set():  # cancelled while the client was being made
            client.interrupt()
        try:
            try:
                client.health()
            except SyncCancelledError:
                return RunResult(cancelled=True)
            except DeviceRevokedError as exc:
                return self._stop_revoked(RunResult(auth_error=str(exc), revoked=True,
                                                    revoked_tablet=exc.whole_tablet))
            except SyncError as exc:
                state = SyncState.AUTH_NEEDED if exc.kind is FailureKind.AUTH \
                    else SyncState.OFFLINE
                self.stateChanged.emit(state, str(exc))
                return RunResult(auth_error=str(exc) if state == SyncState.AUTH_NEEDED
                                 else None)
            engine = SyncEngine(self._store, client, device_id=self._device,
                                backoff=self._backoff, cancel=self._cancel,
                                parallel=self._parallel, on_progress=self.progress.emit)
            result = engine.run_once(ignore_backoff=ignore_backoff)
        finally:
            self._client = None
            client.close()
        self._report_office(result)
        if result.revoked:
            return self._stop_revoked(result)
        if result.auth_error:
            self.stateChanged.emit(SyncState.AUTH_NEEDED, result.auth_error)
        else:
            self.stateChanged.emit(SyncState.IDLE, "")
        return result

    def _report_office(self, result: RunResult) -> None:
        """The run's lease and releases to the app (a failing hook is the app's bug: it
        is logged, the sync goes on)."""
        pulled = result.pull
        if pulled is None:
            return
        try:
            if pulled.lease is not None and self._hooks.on_lease is not None:
                self._hooks.on_lease(*pulled.lease)
            if pulled.released_devices and self._hooks.on_released is not None:
                self._hooks.on_released(list(pulled.released_devices))
        except Exception:
            log.exception("recording the lease or a release failed")

    def _stop_revoked(self, result: RunResult) -> RunResult:
        """Proven revocation: no run ever again in this worker; the app wipes."""
        self._revoked = True
        for timer in (self._periodic, self._retry):
            if timer is not None:
                timer.stop()
        log.warning("the office revoked this device: sync stopped, the tablet is wiped")
        self.stateChanged.emit(SyncState.REVOKED, result.auth_error or "")
        if self._hooks.on_revoked is not None:
            self._hooks.on_revoked(result.revoked_tablet)
        return result

    def _schedule_retry(self) -> None:
        """Wake up when the earliest backoff expires (not only on the periodic timer)."""
        if self._store is None or self._retry is None or self._revoked:
            return
        due = self._store.next_due_at()
        if due is None:
            return
        moment = parse_instant_or_none(due)
        if moment is None:
            return
        delay_ms = max(0, int((moment - clock_now()).total_seconds() * 1000))
        self._retry.start(min(delay_ms + 50, 2**31 - 1))

    @Slot()
    def shutdown(self) -> None:
        self._cancel.set()
        for timer in (self._periodic, self._retry):
            if timer is not None:
                timer.stop()
        if self._store is not None:
            self._store.close()
            self._store = None
        self.stopped.emit()
        self.thread().quit()


class SyncController(QObject):
    """GUI-thread face of the worker: re-emits its signals in the GUI thread."""

    stateChanged = Signal(str, str)
    progress = Signal(object)
    runFinished = Signal(object)

    def __init__(self, paths: DataPaths, writer: PersistenceWriter,
                 **worker_options: Any) -> None:
        super().__init__()
        self.sync_thread = QThread()
        self.sync_thread.setObjectName("sync-worker")
        self.worker = SyncWorker(paths, writer, **worker_options)
        self.worker.moveToThread(self.sync_thread)
        self.sync_thread.started.connect(self.worker.start)
        for name in ("stateChanged", "progress", "runFinished"):
            getattr(self.worker, name).connect(getattr(self, name))
        self.state = SyncState.NOT_CONFIGURED
        self.detail = ""
        self.configured = False  # an address and a token were given
        self.stateChanged.connect(self._remember)
        self._stopped = False

    @Slot(str, str)
    def _remember(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail

    def start(self) -> None:
        self.sync_thread.start()

    def configure(self, url: str, token: str, ca_bundle: str = "",
                  office: OfficeIdentity | None = None) -> None:
        # Known here at once ("Sync now" right after Settings is saved), not only when
        # the worker's state comes back.
        self.configured = bool(url and token)
        self.worker.configure(url, token, ca_bundle, office)

    def request_sync(self, now: bool = False) -> None:
        self.worker.request_sync(now)

    def cancel(self) -> None:
        self.worker.cancel()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        if self._stopped:
            return True
        self._stopped = True
        if not self.sync_thread.isRunning():
            return True
        self.worker.cancel()
        QTimer.singleShot(0, self.worker, self.worker.shutdown)
        return bool(self.sync_thread.wait(timeout_ms))

