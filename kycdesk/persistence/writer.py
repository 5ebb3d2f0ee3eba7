"""The persistence writer: the one thread that writes, in request order.

The GUI calls `submit()` (thread-safe, returns at once with a ticket); the writer's
thread runs requests FIFO on its own connection and reports by signal. FIFO order is
what makes the edit write-ahead correct: a SaveForm folds exactly the edits submitted
before it. A SaveForm for a case that already has one waiting replaces it (the newer
snapshot contains everything the older one had) and moves to the back of the queue.

Photo imports are prepared (copied, hashed, fsynced, checked) on an import thread, so
edits keep being written while a batch of 12 MP photos is copied; the writer then only
renames and records each one, in the order they were added.

When the disk is full, read-only or failing, the request stays at the head of the
queue and is retried with backoff; nothing queued is dropped and `storageStateChanged`
lets the UI say "Not saved: … — retrying". Bad input (a rejected photo, a locked case)
fails that request alone.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, QTimer, Signal, Slot

from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import (
    AddImage,
    AppendEdit,
    AppendEvent,
    Command,
    CommitPreparedImage,
    CreateCase,
    DeleteImage,
    SaveForm,
    SetCurrentStep,
    SetStatus,
)
from kycdesk.persistence.errors import StoreError
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.persistence.images import PreparedImage, prepare_image
from kycdesk.persistence.store import LocalStore

log = logging.getLogger(__name__)

RETRY_FIRST_MS = 1000
RETRY_MAX_MS = 30_000


@dataclass
class _Pending:
    command: Command
    tickets: list[int] = field(default_factory=list)


class PersistenceWriter(QObject):
    """Lives in its own QThread (see `WriterThread`)."""

    opened = Signal(object)                # RecoveryReport
    openFailed = Signal(str)
    completed = Signal(int, object)        # ticket, result
    failed = Signal(int, str, str)         # ticket, case_id, message
    saved = Signal(str, int)               # case_id, revision
    saveFailed = Signal(str, str)          # case_id, message (also while retrying)
    caseCreated = Signal(str)
    imageAdded = Signal(str, object)       # case_id, ImageRecord
    imageDeleted = Signal(str, int)        # case_id, image id
    statusChanged = Signal(str, str)       # case_id, new status
    storageStateChanged = Signal(bool, str)  # ok, message
    idle = Signal()                        # queue drained
    closed = Signal()
    _wakeRequested = Signal()

    def __init__(self, paths: DataPaths, *, image_limits: ImageLimits | None = None,
                 retry_first_ms: int = RETRY_FIRST_MS, retry_max_ms: int = RETRY_MAX_MS,
                 run_recovery: bool = True) -> None:
        super().__init__()
        self._paths = paths
        self._image_limits = image_limits
        self._retry_first_ms = retry_first_ms
        self._retry_max_ms = retry_max_ms
        self._run_recovery = run_recovery
        self._lock = threading.Lock()
        self._queue: deque[_Pending] = deque()
        self._tickets = itertools.count(1)
        self._wake_pending = False
        self._preparing = 0
        self._store: LocalStore | None = None
        self._open_error: str | None = None
        self._retry_timer: QTimer | None = None
        self._retry_delay_ms = retry_first_ms
        self._storage_ok = True
        self._wakeRequested.connect(self._drain)
        # One import thread: photos are committed in the order they were added.
        self._import_pool = QThreadPool(self)
        self._import_pool.setMaxThreadCount(1)

    def _prepared(self, command: AddImage, ticket: int, prepared: PreparedImage) -> None:
        """Import worker: the copy is ready; queue its commit behind what is queued now."""
        self._enqueue(CommitPreparedImage(command, prepared), ticket)
        with self._lock:
            self._preparing -= 1

    def _prepare_failed(self, command: AddImage, ticket: int, message: str) -> None:
        with self._lock:
            self._preparing -= 1
        self.failed.emit(ticket, command.case_id, message)

    # -- any thread ------------------------------------------------------------------
    def submit(self, command: Command) -> int:
        """Queue a write; returns its ticket (reported by `completed` / `failed`)."""
        if isinstance(command, AddImage):
            with self._lock:
                ticket = next(self._tickets)
                self._preparing += 1
            self._import_pool.start(_PrepareJob(self, command, ticket))
            return ticket
        return self._enqueue(command, None)

    def _enqueue(self, command: Command, ticket: int | None) -> int:
        with self._lock:
            if ticket is None:
                ticket = next(self._tickets)
            pending = _Pending(command, [ticket])
            if isinstance(command, SaveForm):
                for older in list(self._queue):
                    if (isinstance(older.command, SaveForm)
                            and older.command.case_id == command.case_id
                            and older is not self._queue[0]):
                        self._queue.remove(older)
                        pending.tickets[:0] = older.tickets
            self._queue.append(pending)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._wakeRequested.emit()
        return ticket

    def pending_count(self) -> int:
        """Requests not yet done: queued, being written, or photos being prepared."""
        with self._lock:
            return len(self._queue) + self._preparing

    # -- writer thread ---------------------------------------------------------------
    @Slot()
    def open(self) -> None:
        """Connected to QThread.started: the connection is made in the writer thread."""
        self._retry_timer = QTimer(self)
        self._retry_timer.setSingleShot(True)
        self._retry_timer.timeout.connect(self._drain)
        try:
            self._store = LocalStore(self._paths, image_limits=self._image_limits)
            report = self._store.recover() if self._run_recovery else None
        except StoreError as exc:
            log.error("store could not be opened: %s", exc)
            self._open_error = str(exc)
            self.openFailed.emit(str(exc))
            self._drain()
            return
        self.opened.emit(report)
        self._drain()

    @Slot()
    def shutdown(self) -> None:
        """Finish imports being copied, write what is queued (one attempt each), close
        the connection, end the thread."""
        if self._retry_timer is not None:
            self._retry_timer.stop()
        self._import_pool.waitForDone()
        self._drain(final=True)
        if self._store is not None:
            self._store.close()
            self._store = None
        self.closed.emit()
        thread = self.thread()
        thread.quit()

    @Slot()
    def _drain(self, final: bool = False) -> None:
        with self._lock:
            self._wake_pending = False
        while True:
            with self._lock:
                if not self._queue:
                    break
                pending = self._queue[0]
            try:
                result = self._execute(pending.command)
            except StoreError as exc:
                if exc.retryable and not final:
                    self._storage_failed(pending, str(exc))
                    return
                self._finish(pending)
                self._report_failure(pending, exc, str(exc))
            except Exception as exc:  # a bug: keep the writer alive, log the traceback
                log.exception("unexpected error in %s", type(pending.command).__name__)
                self._finish(pending)
                self._report_failure(pending, exc,
                                     "An unexpected error occurred; details are in the log.")
            else:
                self._finish(pending)
                self._storage_recovered()
                self._report_success(pending, result)
        self.idle.emit()

    def _finish(self, pending: _Pending) -> None:
        with self._lock:
            if self._queue and self._queue[0] is pending:
                self._queue.popleft()

    def _storage_failed(self, pending: _Pending, message: str) -> None:
        log.warning("write failed, retrying in %d ms: %s", self._retry_delay_ms, message)
        case_id = getattr(pending.command, "case_id", None) or ""
        self._storage_ok = False
        self.storageStateChanged.emit(False, message)
        if isinstance(pending.command, SaveForm | AppendEdit):
            self.saveFailed.emit(case_id, message)
        assert self._retry_timer is not None
        self._retry_timer.start(self._retry_delay_ms)
        self._retry_delay_ms = min(self._retry_delay_ms * 2, self._retry_max_ms)

    def _storage_recovered(self) -> None:
        self._retry_delay_ms = self._retry_first_ms
        if not self._storage_ok:
            self._storage_ok = True
            self.storageStateChanged.emit(True, "")

    def _report_failure(self, pending: _Pending, exc: BaseException, message: str) -> None:
        case_id = getattr(pending.command, "case_id", None) or ""
        log.info("%s failed: %s", type(pending.command).__name__, exc)
        if isinstance(pending.command, SaveForm):
            self.saveFailed.emit(case_id, message)
        for ticket in pending.tickets:
            self.failed.emit(ticket, case_id, message)

    def _report_success(self, pending: _Pending, result: Any) -> None:
        command = pending.command
        if isinstance(command, CreateCase):
            self.caseCreated.emit(result)
        elif isinstance(command, SaveForm):
            self.saved.emit(command.case_id, result)
        elif isinstance(command, CommitPreparedImage):
            self.imageAdded.emit(command.case_id, result)
        elif isinstance(command, DeleteImage):
            self.imageDeleted.emit(command.case_id, command.image_id)
        elif isinstance(command, SetStatus):
            self.statusChanged.emit(command.case_id, command.status.value)
        for ticket in pending.tickets:
            self.completed.emit(ticket, result)

    def _execute(self, command: Command) -> Any:
        if self._store is None:
            raise StoreError(self._open_error or "The store is closed.")
        store = self._store
        match command:
            case AppendEdit(case_id, field_key, value):
                return store.append_edit(case_id, field_key, value)
            case SaveForm(case_id, form, form_version, applicant_name):
                return store.save_form(case_id, form, form_version, applicant_name)
            case CreateCase(case_id, reference_number, form_id, form_version):
                return store.create_case(case_id=case_id, reference_number=reference_number,
                                         form_id=form_id, form_version=form_version)
            case CommitPreparedImage(request, prepared):
                record = store.commit_prepared_image(
                    prepared, slot=request.slot, location=request.location,
                    captured_at=request.captured_at, origin=request.origin,
                    client_image_id=request.client_image_id)
                if request.remove_source:
                    request.source.unlink(missing_ok=True)
                return record
            case DeleteImage(_, image_id):
                return store.delete_image(image_id)
            case SetStatus(case_id, status, error, error_kind):
                return store.set_status(case_id, status, error=error, error_kind=error_kind)
            case SetCurrentStep(case_id, step):
                return store.set_current_step(case_id, step)
            case AppendEvent(case_id, kind, detail):
                return store.append_event(case_id, kind, detail)
        raise TypeError(f"unknown command {command!r}")


class _PrepareJob(QRunnable):
    def __init__(self, writer: PersistenceWriter, command: AddImage, ticket: int) -> None:
        super().__init__()
        self.writer, self.command, self.ticket = writer, command, ticket

    def run(self) -> None:
        command = self.command
        try:
            prepared = prepare_image(self.writer._paths, command.case_id, command.source,
                                     self.writer._image_limits)
        except StoreError as exc:
            log.info("photo %s not added: %s", command.source.name, exc)
            self.writer._prepare_failed(command, self.ticket, str(exc))
        except Exception:  # a bug: report it, keep the app alive
            log.exception("preparing %s failed", command.source)
            self.writer._prepare_failed(command, self.ticket,
                                        "An unexpected error occurred; details are in the log.")
        else:
            self.writer._prepared(command, self.ticket, prepared)


class WriterThread:
    """Owns the QThread and the writer living in it; `stop()` flushes and joins."""

    def __init__(self, paths: DataPaths, **writer_options: Any) -> None:
        self.thread = QThread()
        self.thread.setObjectName("persistence-writer")
        self.writer = PersistenceWriter(paths, **writer_options)
        self.writer.moveToThread(self.thread)
        self.thread.started.connect(self.writer.open)
        # Imported here: client.py imports this module for the writer type.
        from kycdesk.persistence.client import StoreClient

        self.client = StoreClient(self.writer)
        self._stopped = False

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Flush the queue and end the thread. Blocks: call at quit only, when waiting
        for the last writes to reach the disk is exactly what we want."""
        if self._stopped:
            return True
        self._stopped = True
        if not self.thread.isRunning():
            return True
        QTimer.singleShot(0, self.writer, self.writer.shutdown)
        finished = self.thread.wait(timeout_ms)
        if not finished:
            log.error("writer did not finish within %d ms", timeout_ms)
        return bool(finished)
