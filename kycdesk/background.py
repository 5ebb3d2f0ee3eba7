"""The client's one way to run short background work: `run_task(work, on_done)`.

Modelled on Picard's `run_task(func, next_func)` and Anki's `QueryOp`: `work` runs on a
worker thread of a *lane* (a named, bounded pool), and its continuation `on_done(value)`
runs later in the GUI thread, where widgets and models may be touched. Every exception
`work` raises reaches exactly one handler, in the GUI thread: the task's own `on_error`
if it has one (a known failure it explains to the person), otherwise the app's one error
handler (`set_error_handler`; by default a log line with the traceback). `cancel()` drops
the continuation (a cancelled task's `on_done`/`on_error` never run, even if `work`
already finished) and lets `work` stop early by polling `control.cancelled()`. Within a
lane, a waiting task of higher `Priority` starts first.

The long-lived workers — the persistence writer and the sync worker — are threads of
their own (they keep a connection and a loop for the app's life); everything else that
leaves the GUI thread goes through here. `shutdown()` at quit cancels what may be
cancelled, waits for the rest and joins every lane's threads, so none outlives the app.

Imports nothing of kycdesk but the core (an import contract): persistence, models and
views all use it.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from enum import IntEnum
from typing import Generic, TypeVar

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QRunnable,
    Qt,
    QThread,
    QThreadPool,
    Signal,
    Slot,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P")

ErrorHandler = Callable[[str, Exception], None]


class Priority(IntEnum):
    """Which waiting task of a lane starts first (QThreadPool's start priority)."""

    LOW = -10
    NORMAL = 0
    HIGH = 10


def _log_error(name: str, error: Exception) -> None:
    log.error("background task %s failed", name, exc_info=error)


def set_error_handler(handler: ErrorHandler | None) -> None:
    """The one place an unhandled background error goes (None: log it). The app sets it."""
    _shared.error_handler = handler or _log_error


class _Relay(QObject):
    """Lives in the GUI thread; a call emitted from a worker runs there (queued)."""

    deliver = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.deliver.connect(self._run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _run(self, call: Callable[[], None]) -> None:
        call()


class _Shared:
    """The process's one error handler, GUI-thread relay and default lane."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.error_handler: ErrorHandler = _log_error
        self.relay: _Relay | None = None
        self.default_lane: Lane | None = None


_shared = _Shared()


def _gui_relay() -> _Relay:
    with _shared.lock:
        if _shared.relay is None:
            app = QCoreApplication.instance()
            if app is None:
                raise RuntimeError("background continuations need a Qt application")
            relay = _Relay()
            relay.moveToThread(app.thread())
            _shared.relay = relay
        return _shared.relay


class Lane:
    """A named pool of worker threads for one kind of work: its own thread count (one
    keeps order, e.g. photo imports) and thread priority (thumbnails and the full check
    leave the other core to the GUI thread). `cancel_at_shutdown=False` for work that
    was promised to someone (an accepted photo import finishes before the app quits)."""

    def __init__(self, name: str, *, threads: int = 1,
                 thread_priority: QThread.Priority = QThread.Priority.InheritPriority,
                 cancel_at_shutdown: bool = True) -> None:
        self.name = name
        self.cancel_at_shutdown = cancel_at_shutdown
        self._pool = QThreadPool()
        self._pool.setObjectName(name)
        self._pool.setMaxThreadCount(max(1, threads))
        self._pool.setThreadPriority(thread_priority)
        self._lock = threading.Lock()
        self._live: set[_Job] = set()
        _lanes.add(self)

    def _start(self, task: _Job, priority: Priority) -> None:
        with self._lock:
            self._live.add(task)
        self._pool.start(_Runnable(task, self), int(priority))

    def _finished(self, task: _Job) -> None:
        with self._lock:
            self._live.discard(task)

    def cancel_all(self) -> None:
        with self._lock:
            live = list(self._live)
        for task in live:
            task.cancel()

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Wait until every task has run (continuations are still to come in the GUI
        thread); the lane's threads are joined. Never from the GUI thread while it runs."""
        return bool(self._pool.waitForDone(timeout_ms))

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        if self.cancel_at_shutdown:
            self.cancel_all()
        finished = self.wait_idle(timeout_ms)
        if not finished:
            log.error("background lane %s did not finish within %d ms", self.name, timeout_ms)
        return finished

    def active_threads(self) -> int:
        return int(self._pool.activeThreadCount())


_lanes: weakref.WeakSet[Lane] = weakref.WeakSet()


def default_lane() -> Lane:
    """Short jobs with no lane of their own (a connection check, an enrolment)."""
    with _shared.lock:
        if _shared.default_lane is None:
            _shared.default_lane = Lane("background", threads=2)
        return _shared.default_lane


def live_lanes() -> list[Lane]:
    """Every lane still referenced (the tests' leak check waits for their jobs)."""
    return list(_lanes)


def shutdown(timeout_ms: int = 30_000) -> bool:
    """At quit: cancel what may be cancelled, wait for the rest, join every lane's
    threads. (Blocking is right at quit, as for the writer's last writes.)"""
    return all([lane.shutdown(timeout_ms) for lane in list(_lanes)])


class TaskControl(Generic[P]):
    """What `work` sees of its task: whether it was cancelled, and a way to report
    progress (delivered to `on_progress` in the GUI thread)."""

    def __init__(self, cancelled: Callable[[], bool], report: Callable[[P], None]) -> None:
        self.cancelled = cancelled
        self.report = report


class _Job:
    """What a lane keeps of a task: its name, cancellation and the call its thread makes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cancelled = threading.Event()
        self._ran = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Drop the continuation; `work` stops early if it polls `cancelled()`."""
        self._cancelled.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until `work` returned (or was skipped, cancelled before it started)."""
        return self._ran.wait(timeout_s)

    def _run(self) -> None:
        raise NotImplementedError


class Task(_Job, Generic[T, P]):
    """One piece of background work; `cancel()` and `wait()` from any thread."""

    def __init__(self, name: str, work: Callable[[TaskControl[P]], T],
                 on_done: Callable[[T], None] | None,
                 on_error: Callable[[Exception], None] | None,
                 on_progress: Callable[[P], None] | None) -> None:
        super().__init__(name)
        self._work = work
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress

    # -- worker thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.cancelled:
                return
            try:
                value = self._work(TaskControl(lambda: self.cancelled, self._report))
            except Exception as exc:  # every error goes to one handler
                error = exc  # (`exc` is unbound when the except block ends)
                self._continue(lambda: self._failed(error))
                return
            if self._on_done is not None:
                on_done = self._on_done
                self._continue(lambda: on_done(value))
        finally:
            self._ran.set()

    def _report(self, progress: P) -> None:
        if self._on_progress is not None and not self.cancelled:
            on_progress = self._on_progress
            self._continue(lambda: on_progress(progress))

    def _continue(self, call: Callable[[], None]) -> None:
        try:
            relay = _gui_relay()
        except RuntimeError:  # no Qt application, so no GUI thread: run it here, now
            self._guarded(call)
            return
        relay.deliver.emit(lambda: self._guarded(call))

    # -- GUI thread ----------------------------------------------------------------------
    def _guarded(self, call: Callable[[], None]) -> None:
        if self.cancelled:
            return  # the owner no longer wants it (a closed dialog, a quitting app)
        try:
            call()
        except Exception as exc:  # a continuation's bug: the one handler hears it
            _shared.error_handler(self.name, exc)

    def _failed(self, error: Exception) -> None:
        if self._on_error is not None:
            self._on_error(error)
        else:
            _shared.error_handler(self.name, error)


class _Runnable(QRunnable):
    def __init__(self, task: _Job, lane: Lane) -> None:
        super().__init__()
        self._task: _Job | None = task
        self._lane = lane

    def run(self) -> None:
        task = self._task
        if task is None:
            return
        try:
            task._run()
        finally:
            self._lane._finished(task)
            # The pool may keep this runnable's Python object; it must not keep the task,
            # whose work and continuations hold what they captured (a store, a verifier's
            # keys after a lock: tests/test_signin_ui.py).
            self._task = None


def run_task(work: Callable[[TaskControl[P]], T], on_done: Callable[[T], None] | None = None,
             *, name: str, on_error: Callable[[Exception], None] | None = None,
             on_progress: Callable[[P], None] | None = None, lane: Lane | None = None,
             priority: Priority = Priority.NORMAL) -> Task[T, P]:
    """Run `work(control)` on `lane` (the default lane if None); then, in the GUI thread,
    `on_done(value)` — or the error to `on_error`, else to the one error handler. Any
    thread may call it; continuations need a running Qt application."""
    task: Task[T, P] = Task(name, work, on_done, on_error, on_progress)
    (lane or default_lane())._start(task, priority)
    return task
