"""The persistence writer: the one thread that writes, in request order.

Anyone calls `submit(command, done)` (thread-safe, returns at once); the writer's thread
runs requests FIFO on its own connection and calls `done` with exactly one `Result` per
request — the value, or a typed error. (`StoreClient` delivers those in the GUI thread;
`call()` waits for one, for the sync worker and the command line.) Beside the results,
one broadcast: `caseChanged(CaseChange)` after a case was created or changed status.

Group commit: everything queued when the writer wakes (up to GROUP_LIMIT requests that
only change rows) is written in one transaction — one fsync — each request in its own
savepoint, so a request that fails is rolled back and reported alone while the others
commit. A request that also renames or removes files (a photo's commit, a delete, a
discard) runs in a transaction of its own. Results and broadcasts go out after the
commit: a result always means "on disk". Past BACKLOG_LIMIT waiting requests the GUI is
told (`backlogChanged`); nothing is dropped.

FIFO order is what makes the edit write-ahead correct: a SaveForm folds exactly the
edits submitted before it. A SaveForm for a case that already has one waiting replaces
it (the newer snapshot contains everything the older one had; both requesters get the
result) and moves to the back of the queue.

Photo imports are prepared (copied, hashed, fsynced, checked) on an import thread, so
edits keep being written while a batch of 12 MP photos is copied; the writer then only
renames and records each one, in the order they were added.

When the disk is full, read-only or failing, the request stays at the head of the
queue and is retried with backoff; nothing queued is dropped and `storageStateChanged`
lets the UI say "Not saved: … — retrying". Bad input (a rejected photo, a locked case)
fails that request alone.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from kycdesk.background import Lane, run_task
from kycdesk.core.errors import StorageUnavailableError, StoreError
from kycdesk.core.records import ImageRecord
from kycdesk.core.results import Done, Result
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import (
    AddImage,
    Command,
    CommitPreparedImage,
    SaveForm,
)
from kycdesk.persistence.imagecheck import ImageLimits
from kycdesk.persistence.images import PreparedImage
from kycdesk.persistence.store import LocalStore
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

RETRY_FIRST_MS = 1000
RETRY_MAX_MS = 30_000
# The case list's snapshot is written at most this often while changes go on (the first
# change arms it; list_index.py), and at close: at 100,000 cases it is ~90 MB to encrypt
# and write. A crash before it costs the next sign-in a re-read of the rows changed
# since the previous one (milliseconds per hundred cases), never a wrong list.
SNAPSHOT_DELAY_MS = 60_000
UNEXPECTED = "An unexpected error occurred; details are in the log."
# Requests that commit in one transaction (one fsync) when they queued up together. On
# eMMC an fsync costs 10-50 ms: one per keystroke cannot keep up with typing, one per
# batch can (docs/benchmarks.md, "typing on a slow disk").
GROUP_LIMIT = 256
# Past this many requests waiting, the GUI is told (writes are piling up: a failing disk).
BACKLOG_LIMIT = 500


T = TypeVar("T")


@dataclass
class _Pending:
    """A queued request. Its requesters' callbacks are kept type-erased (the queue holds
    every kind of command); `_typed_done` is the one place that erases, and the result
    given back is always the one this command's `apply` produced."""

    command: Command[object]
    done: list[Done[object]] = field(default_factory=list)


def _typed_done(done: Done[T]) -> Done[object]:
    return lambda result: done(cast(Result[T], result))


class PersistenceWriter(QObject):
    """Lives in its own QThread (see `WriterThread`)."""

    opened = Signal(object)                # RecoveryReport | None
    openFailed = Signal(str)
    caseChanged = Signal(object)           # CaseChange
    storageStateChanged = Signal(bool, str)  # ok, message
    idle = Signal()                        # queue drained
    backlogChanged = Signal(int)           # requests waiting past BACKLOG_LIMIT; 0: cleared
    closed = Signal()
    _wakeRequested = Signal()

    def __init__(self, paths: DataPaths, *, vault: Vault,
                 image_limits: ImageLimits | None = None,
                 retry_first_ms: int = RETRY_FIRST_MS, retry_max_ms: int = RETRY_MAX_MS,
                 run_recovery: bool = True) -> None:
        super().__init__()
        self._paths = paths
        self._vault = vault
        self._image_limits = image_limits or ImageLimits()
        self._retry_first_ms = retry_first_ms
        self._retry_max_ms = retry_max_ms
        self._run_recovery = run_recovery
        self._lock = threading.Lock()
        self._queue: deque[_Pending] = deque()
        self._wake_pending = False
        self._taken = 0          # requests at the head being written (not to be replaced)
        self._backlogged = False
        self.transactions_written = 0  # commits (one fsync each); read by tests, benchmarks
        self._preparing = 0
        self._store: LocalStore | None = None
        self._open_error: str | None = None
        self._open_done = threading.Event()
        self._retry_timer: QTimer | None = None
        self._retry_delay_ms = retry_first_ms
        self._storage_ok = True
        self._wakeRequested.connect(self._drain)
        # One import thread: photos are committed in the order they were added. An
        # accepted photo is never dropped at quit: the lane finishes its work.
        self._imports = Lane("photo-import", threads=1, cancel_at_shutdown=False)
        self._snapshots = Lane("list-snapshot", threads=1)
        self._snapshot_timer: QTimer | None = None

    # -- any thread ------------------------------------------------------------------
    @property
    def vault(self) -> Vault:
        """The keys this writer seals with; the sync's reads open with the same."""
        return self._vault

    def submit(self, command: Command[T], done: Done[T] | None = None) -> None:
        """Queue a write; `done` (if given) is called once, in the writer's or the import
        thread, with its Result."""
        if isinstance(command, AddImage):
            with self._lock:
                self._preparing += 1
            image_done = cast(Done[ImageRecord] | None, done)  # an AddImage's T
            run_task(lambda _control: self.prepare_import(command, image_done),
                     name="photo import", lane=self._imports)
            return
        self._enqueue(command, None if done is None else _typed_done(done))

    def call(self, command: Command[T], timeout_s: float = 120.0) -> T:
        """Submit and wait for the result (raises its error). For the sync worker's and
        the command line's threads — never the GUI thread, which must not wait on disk."""
        finished = threading.Event()
        box: list[Result[T]] = []

        def done(result: Result[T]) -> None:
            box.append(result)
            finished.set()

        self.submit(command, done)
        if not finished.wait(timeout_s):
            raise StorageUnavailableError(
                "The local store did not finish a write in time (the disk may be full or "
                "failing); nothing was lost, the write is still queued.")
        return box[0].unwrap()

    def wait_open(self, timeout_s: float = 60.0) -> str | None:
        """Block until the store is open; the error message if it could not be."""
        if not self._open_done.wait(timeout_s):
            return "The local store did not open in time."
        return self._open_error

    def _enqueue(self, command: Command[object], done: Done[object] | None) -> None:
        with self._lock:
            pending = _Pending(command, [done] if done is not None else [])
            if isinstance(command, SaveForm):
                for older in list(self._queue)[self._taken:]:
                    if (isinstance(older.command, SaveForm)
                            and older.command.case_id == command.case_id):
                        self._queue.remove(older)
                        pending.done[:0] = older.done
            self._queue.append(pending)
            wake = not self._wake_pending
            self._wake_pending = True
        if wake:
            self._wakeRequested.emit()
        self._note_backlog()

    def prepare_import(self, command: AddImage, done: Done[ImageRecord] | None) -> None:
        """Import thread (`submit` runs it there): copy, hash, fsync and check the photo,
        then queue its commit behind what is queued now — or deliver why it was refused."""
        try:
            prepared = command.prepare(self._paths, self._vault, self._image_limits)
        except StoreError as exc:
            log.info("photo %s not added: %s", command.source.name, exc)
            self._prepare_failed(done, exc)
        except Exception:  # a bug: report it, keep the app alive
            log.exception("preparing a photo failed")
            self._prepare_failed(done, StoreError(UNEXPECTED))
        else:
            self._prepared(command, done, prepared)

    def _prepared(self, command: AddImage, done: Done[ImageRecord] | None,
                  prepared: PreparedImage) -> None:
        self._enqueue(CommitPreparedImage(command, prepared),
                      None if done is None else _typed_done(done))
        with self._lock:
            self._preparing -= 1

    def _prepare_failed(self, done: Done[ImageRecord] | None, error: StoreError) -> None:
        with self._lock:
            self._preparing -= 1
        _deliver(done, Result.failure(error))

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
        self._snapshot_timer = QTimer(self)
        self._snapshot_timer.setSingleShot(True)
        self._snapshot_timer.timeout.connect(self._write_list_snapshot)
        try:
            self._store = LocalStore(self._paths, vault=self._vault,
                                     image_limits=self._image_limits)
            report = self._store.recover() if self._run_recovery else None
            # The case list's index loads here, before the store is announced open: the
            # GUI's first list read finds it ready (snapshot ~30 ms; a rebuild ~1.2 s at
            # 100,000 cases, never on the GUI thread).
            _ = self._store.list_index
        except StoreError as exc:
            log.error("store could not be opened: %s", exc)
            self._open_error = str(exc)
            self._open_done.set()
            self.openFailed.emit(str(exc))
            self._drain()
            return
        self._open_done.set()
        self.opened.emit(report)
        self._drain()

    @Slot()
    def shutdown(self) -> None:
        """Finish imports being copied, write what is queued (one attempt each), close
        the connection, end the thread."""
        if self._retry_timer is not None:
            self._retry_timer.stop()
        self._imports.wait_idle(-1)  # every accepted photo is recorded before the end
        self._drain(final=True)
        if self._snapshot_timer is not None:
            self._snapshot_timer.stop()
        self._snapshots.wait_idle(-1)
        if self._store is not None:
            # The last snapshot, here in the writer thread: the GUI's reader, closed
            # after the writer, then finds nothing left to write.
            index = self._store.loaded_list_index
            try:
                if index is not None:  # a lock waits for this stop: see the method
                    index.write_snapshot_at_close()
            except (OSError, StoreError) as exc:
                log.warning("the case list's snapshot was not written: %s", exc)
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
            batch = self._take_batch()
            if not batch:
                break
            try:
                results = self._apply_batch(batch)
            except StoreError as exc:
                # Disk full, read-only, I/O error: SQLite may have rolled back the whole
                # transaction, so every request of the group stays queued, in order.
                if not final:
                    self._release_batch()
                    self._storage_failed(str(exc))
                    return
                results = [Result.failure(exc)] * len(batch)
            else:
                self._storage_recovered()
            self._finish(batch, results)
        self._note_backlog()
        self._note_list_changes()
        self.idle.emit()

    def _take_batch(self) -> list[_Pending]:
        """The requests at the head of the queue that commit together: every queued
        request that only writes rows (up to GROUP_LIMIT), or one that also moves files
        (its rename must follow its own commit, never a group's)."""
        with self._lock:
            if not self._queue:
                return []
            batch: list[_Pending] = []
            for pending in self._queue:
                groupable = pending.command.groupable
                if batch and (not groupable or len(batch) >= GROUP_LIMIT):
                    break
                batch.append(pending)
                if not groupable:
                    break
            self._taken = len(batch)
            return batch

    def _release_batch(self) -> None:
        with self._lock:
            self._taken = 0

    def _apply_batch(self, batch: list[_Pending]) -> list[Result[object]]:
        """One transaction, one fsync for the batch; each request in its own savepoint,
        so one that fails is rolled back alone and reported, the others commit. Raises a
        retryable StoreError if the transaction itself could not be written."""
        if self._store is None:
            error = StoreError(self._open_error or "The store is closed.")
            return [Result.failure(error)] * len(batch)
        self.transactions_written += 1
        if len(batch) == 1 and not batch[0].command.groupable:
            return [self._run_one(batch[0].command)]
        conn = self._store.conn
        with conn.transaction():
            return [self._run_one(pending.command, nested=True)
                    for pending in batch]

    def _run_one(self, command: Command[T], *, nested: bool = False) -> Result[T]:
        try:
            if nested:
                assert self._store is not None
                with self._store.conn.transaction():  # a savepoint inside the group
                    value = self._execute(command)
            else:
                value = self._execute(command)
        except StoreError as exc:
            if exc.retryable:
                raise
            log.info("%s failed: %s", type(command).__name__, exc)
            return Result.failure(exc)
        except Exception:  # a bug: keep the writer alive, log the traceback
            log.exception("unexpected error in %s", type(command).__name__)
            return Result.failure(StoreError(UNEXPECTED))
        return Result.success(value)

    def _finish(self, batch: list[_Pending], results: list[Result[object]]) -> None:
        with self._lock:
            for _ in batch:
                self._queue.popleft()
            self._taken = 0
        # Everyone hears the new states before the requesters act on their results.
        for pending, result in zip(batch, results, strict=True):
            if result.ok:
                for change in pending.command.announces_all(result.value):
                    self.caseChanged.emit(change)
        for pending, result in zip(batch, results, strict=True):
            for done in pending.done:
                _deliver(done, result)
        self._note_backlog()

    def _note_backlog(self) -> None:
        """Tell the GUI when writes pile up (a failing or very slow disk): it says
        "Saving…" with the count instead of "Saved". Nothing is ever dropped. Any thread."""
        with self._lock:
            pending = len(self._queue) + self._preparing
            news: int | None = None
            if not self._backlogged and pending > BACKLOG_LIMIT:
                self._backlogged, news = True, pending
            elif self._backlogged and pending <= BACKLOG_LIMIT // 2:
                self._backlogged, news = False, 0
        if news is not None:
            self.backlogChanged.emit(news)

    def _note_list_changes(self) -> None:
        """The case list's index follows what was just committed (a few rows, read
        here, off the GUI thread), and its snapshot is due in SNAPSHOT_DELAY_MS."""
        store, timer = self._store, self._snapshot_timer
        index = None if store is None else store.loaded_list_index
        if store is None or index is None or timer is None:
            return
        try:
            index.catch_up(store.conn)
        except StoreError as exc:  # the next reader catches up instead
            log.warning("the case list could not follow the last changes: %s", exc)
            return
        if index.dirty() and not timer.isActive():
            timer.start(SNAPSHOT_DELAY_MS)

    @Slot()
    def _write_list_snapshot(self) -> None:
        index = None if self._store is None else self._store.loaded_list_index
        if index is None:
            return

        def failed(error: Exception) -> None:  # the next snapshot, or sign-in, makes up
            log.warning("the case list's snapshot was not written: %s", error)

        run_task(lambda _control: index.write_snapshot(), name="list snapshot",
                 lane=self._snapshots, on_error=failed)

    def _storage_failed(self, message: str) -> None:
        log.warning("write failed, retrying in %d ms: %s", self._retry_delay_ms, message)
        self._storage_ok = False
        self.storageStateChanged.emit(False, message)
        assert self._retry_timer is not None
        self._retry_timer.start(self._retry_delay_ms)
        self._retry_delay_ms = min(self._retry_delay_ms * 2, self._retry_max_ms)

    def _storage_recovered(self) -> None:
        self._retry_delay_ms = self._retry_first_ms
        if not self._storage_ok:
            self._storage_ok = True
            self.storageStateChanged.emit(True, "")

    def _execute(self, command: Command[T]) -> T:
        if self._store is None:
            raise StoreError(self._open_error or "The store is closed.")
        return self._store.run(command)


def _deliver(done: Done[T] | None, result: Result[T]) -> None:
    if done is None:
        return
    try:
        done(result)
    except Exception:  # a requester's bug must not stop the writer
        log.exception("a write's completion callback failed")


class WriterThread:
    """Owns the QThread and the writer living in it; `stop()` flushes and joins."""

    def __init__(self, paths: DataPaths, *, vault: Vault, **writer_options: Any) -> None:
        self.thread = QThread()
        self.thread.setObjectName("persistence-writer")
        self.writer = PersistenceWriter(paths, vault=vault, **writer_options)
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
