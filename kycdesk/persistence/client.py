"""StoreClient: the GUI thread's face of the persistence writer.

It lives in the thread that created it (the GUI thread) and re-emits the writer's
signals there. Views connect to the client, never to the worker object, so every
connected callable — lambdas included — runs in the GUI thread (a lambda connected to
a worker's own signal would run in the worker thread and touch widgets from it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from kycdesk.persistence.commands import Command
from kycdesk.persistence.writer import PersistenceWriter


class StoreClient(QObject):
    opened = Signal(object)
    openFailed = Signal(str)
    completed = Signal(int, object)
    failed = Signal(int, str, str)
    saved = Signal(str, int)
    saveFailed = Signal(str, str)
    caseCreated = Signal(str)
    imageAdded = Signal(str, object)
    imageDeleted = Signal(str, int)
    statusChanged = Signal(str, str)
    storageStateChanged = Signal(bool, str)
    idle = Signal()

    def __init__(self, writer: PersistenceWriter) -> None:
        super().__init__()
        self._writer = writer
        # Signal-to-signal connections are queued into this object's (GUI) thread.
        for name in ("opened", "openFailed", "completed", "failed", "saved", "saveFailed",
                     "caseCreated", "imageAdded", "imageDeleted", "statusChanged",
                     "storageStateChanged", "idle"):
            getattr(writer, name).connect(getattr(self, name))

    def submit(self, command: Command) -> int:
        """Queue a write; returns at once with a ticket (never waits on disk)."""
        return self._writer.submit(command)

    def pending_count(self) -> int:
        return self._writer.pending_count()
