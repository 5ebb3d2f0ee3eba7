"""StoreClient: the GUI thread's face of the persistence writer.

It lives in the thread that created it (the GUI thread) and re-emits the writer's
broadcasts there, and it delivers each request's one `Result` to the requester's
callback in the GUI thread too. Views and models talk to the client, never to the
worker object, so every connected callable — lambdas included — runs in the GUI thread
(a lambda connected to a worker's own signal would run in the worker thread and touch
widgets from it).
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from kycdesk.core.results import Done, Result
from kycdesk.persistence.commands import Command
from kycdesk.persistence.writer import PersistenceWriter

T = TypeVar("T")


class StoreClient(QObject):
    opened = Signal(object)
    openFailed = Signal(str)
    caseChanged = Signal(object)         # CaseChange: created, or a new status
    storageStateChanged = Signal(bool, str)
    idle = Signal()
    backlogChanged = Signal(int)         # writes waiting past the writer's limit; 0: cleared
    _deliver = Signal(object, object)    # callback, Result (queued into this thread)

    def __init__(self, writer: PersistenceWriter) -> None:
        super().__init__()
        self._writer = writer
        # Signal-to-signal connections are queued into this object's (GUI) thread.
        for name in ("opened", "openFailed", "caseChanged", "storageStateChanged", "idle",
                     "backlogChanged"):
            getattr(writer, name).connect(getattr(self, name))
        self._deliver.connect(self._call)

    def submit(self, command: Command[T], done: Done[T] | None = None) -> None:
        """Queue a write and return at once (never waits on disk); `done` is called in
        this (the GUI) thread with the one `Result[T]` of this request."""
        if done is None:
            self._writer.submit(command)
        else:
            self._writer.submit(command, lambda result: self._deliver.emit(done, result))

    @Slot(object, object)
    def _call(self, done: Done[object], result: Result[object]) -> None:
        done(result)

    def pending_count(self) -> int:
        return self._writer.pending_count()

    @property
    def writer(self) -> PersistenceWriter:
        """For the sync worker, which waits for its writes in its own thread."""
        return self._writer
