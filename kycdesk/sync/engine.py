"""The sync engine: plain logic (no Qt) over the local store and the HTTP client.

For each due case, oldest first, one at a time:
1. ask the server which of the case's photos it already holds (resume after lost replies);
2. upload each photo it does not hold, recording each confirmation at once;
3. submit the form with the server's photo ids (after any unclear failure, ask whether
   the submission arrived before sending it again);
4. check the receipt covers every photo, store it, mark the case SYNCED.
Nothing local is deleted. Transient failures schedule a retry with backoff; permanent
ones wait for the verifier; an authentication failure stops the whole run.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from kycdesk import __version__
from kycdesk.core.errors import FailureKind, StoreError
from kycdesk.core.protocol import ClientInfo, HeldImage, Receipt, Submission, SubmissionImage
from kycdesk.core.records import ImageRecord, SyncCase
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.errors import SyncCancelledError, SyncError

log = logging.getLogger(__name__)


class SyncStore(Protocol):
    """The store as the engine sees it (implemented by persistence.SyncStoreAdapter;
    the engine imports no persistence and no Qt)."""

    def due_cases(self, now: str, *, ignore_backoff: bool) -> list[str]: ...
    def load_sync_case(self, case_id: str) -> SyncCase: ...
    def confirm_image(self, case_id: str, image_id: int, server_image_id: str) -> None: ...
    def record_failure(self, case_id: str, *, kind: str, message: str,
                       next_attempt_at: str | None) -> bool: ...
    def mark_synced(self, case_id: str, *, revision: int, receipt: dict[str, object]) -> bool: ...
    def absolute_path(self, stored: str) -> Path: ...


@dataclass
class CaseProgress:
    case_id: str
    reference: str | None
    items_done: int
    items_total: int
    bytes_done: int
    bytes_total: int
    step: str
    case_index: int = 1   # this case's place in the run (1-based) ...
    case_count: int = 1   # ... and how many cases the run has


@dataclass
class RunResult:
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)        # case id -> message
    permanent: set[str] = field(default_factory=set)
    auth_error: str | None = None
    cancelled: bool = False
    uploaded_images: int = 0
    uploaded_bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and self.auth_error is None and not self.cancelled


ProgressCallback = Callable[[CaseProgress], None]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class SyncEngine:
    def __init__(self, store: SyncStore, client: SyncClient, *, device_id: str,
                 backoff: Backoff | None = None, cancel: threading.Event | None = None,
                 on_progress: ProgressCallback | None = None,
                 clock: Callable[[], datetime] | None = None,
                 rng: random.Random | None = None) -> None:
        self.store = store
        self.client = client
        self.device_id = device_id
        self.backoff = backoff or Backoff()
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.clock = clock or (lambda: datetime.now(UTC))
        self.rng = rng or random.Random()
        self._index = 1
        self._count = 1

    def run_once(self, *, ignore_backoff: bool = False) -> RunResult:
        result = RunResult()
        due = self.store.due_cases(_iso(self.clock()), ignore_backoff=ignore_backoff)
        self._count = len(due)
        for index, case_id in enumerate(due, start=1):
            self._index = index
            if self.cancel.is_set():
                result.cancelled = True
                break
            try:
                self.sync_case(case_id, result)
            except SyncCancelledError:
                result.cancelled = True
                log.info("sync cancelled during case %s; it resumes next time", case_id)
                break
            except SyncError as exc:
                if exc.kind is FailureKind.AUTH:
                    # The token is wrong for every case: stop, leave everything queued.
                    result.auth_error = str(exc)
                    break
                self._failed(case_id, exc, result)
            except StoreError as exc:
                log.error("sync of %s stopped by a local storage problem: %s", case_id, exc)
                result.failed[case_id] = str(exc)
                break
        return result

    def _failed(self, case_id: str, exc: SyncError, result: RunResult) -> None:
        case = self.store.load_sync_case(case_id)
        attempts = case.sync_attempts + 1
        next_at: str | None = None
        if exc.kind is FailureKind.TRANSIENT:
            delay = self.backoff.delay(attempts, retry_after=exc.retry_after,
                                       status=exc.status, rng=self.rng)
            next_at = _iso(self.clock() + timedelta(seconds=delay))
        else:
            result.permanent.add(case_id)
        self.store.record_failure(case_id, kind=exc.kind.value, message=str(exc),
                                  next_attempt_at=next_at)
        result.failed[case_id] = str(exc)
        log.warning("sync of %s failed (%s): %s", case_id, exc.kind.value, exc)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise SyncCancelledError("cancelled")

    def sync_case(self, case_id: str, result: RunResult) -> None:
        case = self.store.load_sync_case(case_id)
        images = case.images
        total_bytes = sum(i.byte_size or 0 for i in images)
        progress = CaseProgress(case_id, case.reference_number, 0, len(images) + 1, 0,
                                total_bytes, "checking", self._index, self._count)
        self._report(progress)

        held = {h.client_image_id: h for h in self.client.held_images(case_id)}
        confirmed: dict[int, str] = {}
        for image in images:
            server_id = self._already_held(image, held.get(image.client_image_id))
            if server_id is not None:
                confirmed[image.id] = server_id
                progress.items_done += 1
                progress.bytes_done += image.byte_size or 0
        self._report(progress)

        for image in images:
            if image.id in confirmed:
                continue
            self._check_cancel()
            progress.step = f"uploading photo {progress.items_done + 1} of {len(images)}"
            start_bytes = progress.bytes_done

            def sent(count: int, base: int = start_bytes) -> None:
                progress.bytes_done = base + count
                self._report(progress)

            receipt = self.client.upload_image(
                case_id, image.client_image_id, self._path(image), sha256=image.sha256 or "",
                byte_size=image.byte_size or 0, mime=image.mime, cancel=self.cancel,
                progress=sent)
            self.store.confirm_image(case_id, image.id, receipt.server_image_id)
            confirmed[image.id] = receipt.server_image_id
            result.uploaded_images += 1
            result.uploaded_bytes += image.byte_size or 0
            progress.items_done += 1
            progress.bytes_done = start_bytes + (image.byte_size or 0)
            self._report(progress)

        self._check_cancel()
        progress.step = "sending the form"
        self._report(progress)
        submission = self._submission(case, confirmed)
        accepted = self._submit(case_id, submission)
        missing = {i.server_image_id for i in submission.images} - set(accepted.server_image_ids)
        if missing:
            raise SyncError(FailureKind.TRANSIENT,
                            f"The server's receipt does not list {len(missing)} photo(s); "
                            "kycdesk will send the case again.")
        if not self.store.mark_synced(case_id, revision=case.revision,
                                      receipt=accepted.model_dump(mode="json")):
            log.info("case %s changed while it was being sent; not marked synced", case_id)
            return
        progress.items_done = progress.items_total
        progress.step = "synced"
        self._report(progress)
        result.synced.append(case_id)

    def _already_held(self, image: ImageRecord, held: HeldImage | None) -> str | None:
        if held is None:
            return None
        if held.sha256 != image.sha256:
            raise SyncError(FailureKind.PERMANENT,
                            "The server holds a different photo under the same id.")
        if not image.synced or image.server_image_id != held.server_image_id:
            self.store.confirm_image(image.case_id, image.id,
                                     held.server_image_id)  # a lost reply
        return held.server_image_id

    def _submit(self, case_id: str, submission: Submission) -> Receipt:
        try:
            return self.client.submit(case_id, submission)
        except SyncError as exc:
            if not exc.unclear:
                raise
            # The reply was lost or garbled: the server may have stored it. Ask first.
            try:
                receipt = self.client.get_submission(case_id)
            except SyncError:
                raise exc from None
            if receipt is not None and receipt.revision == submission.revision:
                log.info("submission of %s had arrived despite the lost reply", case_id)
                return receipt
            raise

    def _submission(self, case: SyncCase, confirmed: dict[int, str]) -> Submission:
        return Submission(
            revision=case.revision, reference_number=case.reference_number,
            form_id=case.form_id, form_version=case.form_version, form=case.form,
            finalized_at=case.finalized_at,
            client=ClientInfo(app_version=__version__, device_id=self.device_id),
            images=[SubmissionImage(
                client_image_id=i.client_image_id, server_image_id=confirmed[i.id],
                slot=i.slot, sha256=i.sha256 or "", latitude=i.location.latitude,
                longitude=i.location.longitude, accuracy=i.location.accuracy,
                address=i.location.address, captured_at=i.captured_at) for i in case.images])

    def _path(self, image: ImageRecord) -> Path:
        return self.store.absolute_path(image.file_path)

    def _report(self, progress: CaseProgress) -> None:
        if self.on_progress is not None:
            # A snapshot: listeners in other threads must not see it change under them.
            self.on_progress(replace(progress))
