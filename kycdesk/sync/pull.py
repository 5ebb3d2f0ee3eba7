"""The pull: what the office decided, assigned and handed over, brought to this device
(docs/sync-protocol.md "Pull"). Plain logic over the store and the HTTP client, no Qt; it
runs on the sync worker through the same client (the field-grade transport) as the push.

A run of `PullStep` does, in order:
1. `POST /v1/pull` with the store's token and held-cases digest; each page is applied by
   the store in one transaction together with its new token, so a page fetched twice (a
   lost reply, a killed app) applies once. `more`: the next page at once. A 412 (the
   digests disagree): the whole current state again (`resync`), reconciled by the store.
2. The photos of cases handed to this device: each fetched into a partial file in the
   data folder, encrypted as it arrives (resumed with `Range` after the complete chunks
   it holds after any cut; `sync.photo_files`), its SHA-256 over the decrypted bytes
   checked against the one the pull announced and the server's `Repr-Digest`, fsynced,
   renamed into the case's folder, then recorded.
3. Handover requests the device owes (an imported case another device owns).
After the push of the device's own cases, `release_handed_over` lets go of the cases
handed away whose unsent work has now been sent (`POST …/release`, then the local copy is
dropped).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from kycdesk.core.errors import FailureKind
from kycdesk.core.protocol import HandoverRequest, PullReply, PullRequest, Release
from kycdesk.core.records import PendingPhoto
from kycdesk.paths import DataPaths
from kycdesk.sync.client import SyncClient
from kycdesk.sync.errors import SyncCancelledError, SyncError
from kycdesk.sync.photo_files import PhotoDownload
from kycdesk.sync.progress import CaseProgress, TransferMeter
from kycdesk.sync.status import PullOutcome

log = logging.getLogger(__name__)

PAGE_LIMIT = 200
MAX_CUTS = 4  # in one run: 200 -> 50 -> 12 -> 3 -> 1 change(s) a page
CHECKING = "checking for work from the office"
FETCHING = "fetching photos of cases handed to this tablet"
NEEDS_HANDOVER = ("This case belongs to another tablet. The office has been asked to hand "
                  "it over; it will be sent once they do.")
HANDOVER_REASON = "A copy of this case was imported on this tablet."


@runtime_checkable
class PullStore(Protocol):
    """The store's pull side (persistence.SyncStoreAdapter; docs: TWOWAY interfaces)."""

    paths: DataPaths

    def pull_position(self) -> tuple[str | None, str, int]: ...
    def apply_pull(self, reply: PullReply, *, resync: bool) -> int: ...
    def photos_to_fetch(self) -> list[PendingPhoto]: ...
    def record_fetched_photo(self, case_id: str, client_image_id: str, path: Path) -> None: ...
    def photo_download(self, case_id: str, client_image_id: str) -> PhotoDownload: ...
    def cases_to_release(self) -> list[tuple[str, int]]: ...
    def is_held(self, case_id: str) -> bool: ...
    def record_released(self, case_id: str) -> None: ...
    def handover_requests_due(self) -> list[tuple[str, str | None]]: ...
    def record_handover_requested(self, case_id: str) -> None: ...
    def record_needs_handover(self, case_id: str, message: str) -> None: ...


ProgressCallback = Callable[[CaseProgress], None]


class PullStep:
    def __init__(self, store: PullStore, client: SyncClient, *,
                 cancel: threading.Event | None = None,
                 on_progress: ProgressCallback | None = None,
                 limit: int = PAGE_LIMIT) -> None:
        self.store = store
        self.client = client
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.limit = limit
        # The page size asked for: a quarter after a cut, doubled after each page that
        # arrived, never above `limit` — what the link allows, learnt as the uploads do.
        self.page = limit

    def run(self, outcome: PullOutcome) -> None:
        """Pages, then photos, then handover requests. A SyncError of one photo or one
        request is noted and the rest goes on; one of the pull itself is raised (the
        caller decides: the push of the device's own cases still runs)."""
        self._report(CHECKING)
        self.pull_pages(outcome)
        self.fetch_photos(outcome)
        self.send_handover_requests(outcome)

    # -- 1. pages -----------------------------------------------------------------------
    def pull_pages(self, outcome: PullOutcome) -> None:
        resync = False
        continuing = False  # a later page of a resync carries the token of the one before
        cuts = 0
        while True:
            self._check_cancel()
            token, digest, count = self.store.pull_position()
            request = PullRequest(token=token if (continuing or not resync) else None,
                                  held_digest=digest, held_count=count, limit=self.page,
                                  resync=resync)
            try:
                reply = self.client.pull(request)
            except SyncError as exc:
                if exc.status == 412 and not resync:
                    log.info("held cases differ from the server's: resync")
                    resync = outcome.resynced = True
                    continue
                if exc.unclear and exc.status is None and cuts < MAX_CUTS and self.page > 1:
                    # The link broke while the page came: a smaller page fits between
                    # cuts (a link reset every few seconds never lets a big one through).
                    cuts += 1
                    self.page = max(1, self.page // 4)
                    log.info("pull cut; asking for %d changes at a time", self.page)
                    continue
                raise
            outcome.applied += self.store.apply_pull(reply, resync=resync)
            outcome.pages += 1
            self.page = min(self.limit, self.page * 2)
            if not reply.more:
                return
            if not reply.changes and reply.token == token:
                # "More" without anything or a step forward: asking again would loop.
                raise SyncError(FailureKind.TRANSIENT, "The server said more work from the "
                                "office was waiting but sent none; kycdesk asks again later.")
            continuing = True

    # -- 2. photos ------------------------------------------------------------------------
    def fetch_photos(self, outcome: PullOutcome) -> None:
        pending = self.store.photos_to_fetch()
        self._drop_stale_partials(pending)
        if not pending:
            return
        partials = [self._partial_size(p) for p in pending]
        # The push's meter: throttled updates, rate, time left, "waiting for the network".
        meter = TransferMeter(CaseProgress(
            "", None, 0, len(pending) + 1, sum(partials),
            sum(p.byte_size for p in pending), FETCHING), self.on_progress)
        meter.emit(force=True)
        for index, (photo, partial) in enumerate(zip(pending, partials, strict=True)):
            self._check_cancel()
            self._fetch_counted(photo, outcome, meter, index, partial)

    def _partial_size(self, photo: PendingPhoto) -> int:
        return self.store.photo_download(photo.case_id, photo.client_image_id).kept()

    def _fetch_counted(self, photo: PendingPhoto, outcome: PullOutcome,
                       meter: TransferMeter, index: int, partial: int) -> None:
        """One photo; a failure is noted (and the rest goes on), the bytes it brought
        counted either way (a cut request's bytes stay in the partial file)."""
        brought = [0]

        def moved(count: int) -> None:
            brought[0] = count
            meter.sending(index, count)

        try:
            self.fetch_photo(photo, progress=moved)
            outcome.photos += 1
            meter.confirmed(index, photo.byte_size - partial)
            meter.item_done()
        except SyncError as exc:
            meter.confirmed(index, brought[0])  # kept in the partial file
            if exc.kind is FailureKind.AUTH:
                raise
            outcome.problems.append(str(exc))
            log.warning("photo of %s not fetched: %s", photo.case_id, exc)
        finally:
            outcome.photo_bytes += brought[0]

    def fetch_photo(self, photo: PendingPhoto, *,
                    progress: Callable[[int], None] | None = None) -> None:
        """One photo: resumed from its partial file (encrypted as it arrives), checked
        over its decrypted bytes, renamed into place, recorded. `progress`: the bytes
        this request has brought so far."""
        download = self.store.photo_download(photo.case_id, photo.client_image_id)
        expected = (photo.sha256, photo.byte_size)
        announced = None
        if download.whole_sha256() != expected:  # else: all came before a kill
            announced = self.client.download_image(
                photo.case_id, photo.client_image_id, download, byte_size=photo.byte_size,
                cancel=self.cancel, progress=progress).sha256
        actual = download.whole_sha256()
        if actual != expected or (announced is not None and announced != photo.sha256):
            download.discard()  # start again from byte 0 next time
            error = SyncError(FailureKind.TRANSIENT, "A photo arrived damaged; kycdesk "
                              "fetches it again.")
            error.progressed = True
            raise error
        final = download.move_into_case()
        self.store.record_fetched_photo(photo.case_id, photo.client_image_id, final)

    def _drop_stale_partials(self, pending: list[PendingPhoto]) -> None:
        """With nothing left to fetch, a partial file left is of a photo no longer wanted
        (its case went away meanwhile). The folder holds only downloads in flight, so
        this is as long as what was in flight."""
        folder = self.store.paths.downloads_dir
        if pending or not folder.is_dir():
            return
        for entry in folder.iterdir():
            entry.unlink(missing_ok=True)

    # -- 3. handover requests, and releases after the push ---------------------------------
    def send_handover_requests(self, outcome: PullOutcome) -> None:
        for case_id, reference in self.store.handover_requests_due():
            self._check_cancel()
            try:
                self.client.request_handover(case_id, HandoverRequest(
                    reason=HANDOVER_REASON, reference_number=reference))
            except SyncError as exc:
                if exc.kind is FailureKind.AUTH:
                    raise
                outcome.problems.append(str(exc))
                continue
            self.store.record_handover_requested(case_id)
            outcome.handover_requests += 1

    def release_handed_over(self, outcome: PullOutcome) -> None:
        """Cases handed to another device whose unsent work is sent: let them go."""
        for case_id, last_revision in self.store.cases_to_release():
            self._check_cancel()
            try:
                self.client.release(case_id, Release(last_revision=last_revision))
            except SyncError as exc:
                if exc.kind is FailureKind.AUTH:
                    raise
                # Refused because the case already moved (the office forced it on, or
                # the reply to our release was lost and it went on since): the pull has
                # taken it out of the cases this tablet holds; nothing of it is unsent
                # (cases_to_release), so the copy goes. Still held: a real refusal.
                if exc.status not in (404, 409) or self.store.is_held(case_id):
                    outcome.problems.append(str(exc))
                    continue
            self.store.record_released(case_id)
            outcome.released.append(case_id)

    # -- helpers --------------------------------------------------------------------------
    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise SyncCancelledError("cancelled")

    def _report(self, step: str, *, items_done: int = 0, items_total: int = 1,
                bytes_done: int = 0, bytes_total: int = 0) -> None:
        if self.on_progress is not None:
            self.on_progress(CaseProgress(case_id="", reference=None, items_done=items_done,
                                          items_total=items_total, bytes_done=bytes_done,
                                          bytes_total=bytes_total, step=step))
