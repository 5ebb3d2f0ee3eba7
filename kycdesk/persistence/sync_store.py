"""The sync engine's view of the store: reads on the sync thread's own read-only
connection, every write through the persistence writer (the one writer), waited for in
the sync thread. Status changes are `Transition`s like any other."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec

from PySide6.QtCore import QCoreApplication

from kycdesk.core.errors import StoreError, TransitionRefusedError
from kycdesk.core.states import Change
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import (
    ApplyPull,
    Command,
    ConfirmImage,
    RecordFetchedPhoto,
    RecordHandoverRequested,
    RecordNeedsHandover,
    RecordUpload,
    ReleaseCase,
    Transition,
)
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.writer import PersistenceWriter, WriterThread
from kycdesk.security.vault import Vault

if TYPE_CHECKING:
    from kycdesk.core.protocol import PullReply

log = logging.getLogger(__name__)

P = ParamSpec("P")


def waits_for(
        command: Callable[P, Command[object]]) -> Callable[Concatenate[SyncStoreAdapter, P],
                                                           None]:
    """A `SyncStore` write made from its command alone: same parameters (mypy checks them
    against the engine's Protocol), submitted to the writer and waited for in the sync
    thread. A new sync write is its command plus one line here, no forwarding code."""

    def write(adapter: SyncStoreAdapter, /, *args: P.args, **kwargs: P.kwargs) -> None:
        adapter.writer.call(command(*args, **kwargs))

    write.__doc__ = command.__doc__
    return write


class SyncStoreAdapter(ReadStore):
    """Opened in the thread that uses it (the sync worker, or the CLI's main thread)."""

    def __init__(self, paths: DataPaths, writer: PersistenceWriter) -> None:
        super().__init__(paths, vault=writer.vault, role="sync")
        self.writer = writer

    confirm_image = waits_for(ConfirmImage)
    record_upload = waits_for(RecordUpload)
    record_handover_requested = waits_for(RecordHandoverRequested)
    record_needs_handover = waits_for(RecordNeedsHandover)

    # -- two-way sync (issue 17); reads (pull_position, photos_to_fetch,
    # cases_to_release, handover_requests_due) come from StoreReads ---------------------
    def apply_pull(self, reply: PullReply, *, resync: bool) -> int:
        """One page and its token in one transaction (idempotent); the changes applied."""
        return self.writer.call(ApplyPull(reply, resync)).changes

    def record_fetched_photo(self, case_id: str, client_image_id: str, path: Path) -> None:
        """`path`: a verified file already renamed into place (`paths.pulled_photo`)."""
        self.writer.call(RecordFetchedPhoto(case_id, client_image_id, path))

    def record_released(self, case_id: str) -> None:
        """The server took the case back: its rows and files leave this device."""
        self.writer.call(ReleaseCase(case_id))

    def record_failure(self, case_id: str, *, kind: str, message: str,
                       next_attempt_at: str | None, progressed: bool = False) -> bool:
        """FAILED with the reason; False if the case left the sync queue meanwhile."""
        try:
            self.writer.call(Transition(case_id, Change.SYNC_FAILED, error=message,
                                        error_kind=kind, next_attempt_at=next_attempt_at,
                                        progressed=progressed))
        except TransitionRefusedError as exc:
            log.info("failure of %s not recorded: %s", case_id, exc)
            return False
        return True

    def mark_synced(self, case_id: str, *, revision: int, receipt: dict[str, object]) -> bool:
        """SYNCED with the receipt, only if still queued at the revision that was sent."""
        try:
            self.writer.call(Transition(case_id, Change.SYNCED, revision=revision,
                                        receipt=dict(receipt)))
        except TransitionRefusedError as exc:
            log.info("%s not marked synced: %s", case_id, exc)
            return False
        return True


# A process without the app gets a core application, kept alive here.
_HEADLESS_APP: list[QCoreApplication] = []


@contextmanager
def standalone_sync_store(paths: DataPaths, *, vault: Vault,
                          run_recovery: bool = True) -> Iterator[SyncStoreAdapter]:
    """The sync store for a process without the app (`kycdesk sync`, tests, benchmarks):
    it starts the one writer in its own thread, as the app does, and stops it (flushing
    what is queued) on the way out. Raises StoreError if the store cannot be opened."""
    if QCoreApplication.instance() is None:
        # The writer thread's event loop needs a core application in the process.
        _HEADLESS_APP.append(QCoreApplication(["kycdesk"]))
    thread = WriterThread(paths, vault=vault, run_recovery=run_recovery)
    thread.start()
    try:
        problem = thread.writer.wait_open()
        if problem is not None:
            raise StoreError(problem)
        adapter = SyncStoreAdapter(paths, thread.writer)
        try:
            yield adapter
        finally:
            adapter.close()
    finally:
        thread.stop()
