"""The sync engine: plain logic (no Qt) over the local store and the HTTP client.

For each due case, oldest first, one case at a time:
1. ask the server which of the case's photos it already holds (resume after lost replies);
2. upload the others, up to `parallel` at a time, each as a resumable upload that
   continues from the server's offset after any cut (`photo_upload.PhotoUploader`),
   recording each confirmation at once;
3. once every photo is confirmed, submit the form with the server's photo ids (after any
   unclear failure, ask whether the submission arrived before sending it again);
4. check the receipt covers every photo, store it, mark the case SYNCED.
Before the push, the pull (`pull.PullStep`): what the office assigned, returned, decided
and handed over; after it, the release of cases handed away. Nothing local is deleted
(but a case handed to another device, once all of it was sent). A failed attempt that
moved bytes forward is retried soon without growing the backoff; one that moved nothing
backs off (exponential, jitter, Retry-After). Permanent failures wait for the verifier;
an authentication failure stops the whole run.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Protocol

from kycdesk import __version__
from kycdesk.core.clock import format_instant, now
from kycdesk.core.errors import FailureKind, StoreError
from kycdesk.core.protocol import (
    ClientInfo,
    FieldHistoryEntry,
    HeldImage,
    Receipt,
    Submission,
    SubmissionImage,
)
from kycdesk.core.records import ImageRecord, SyncCase
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.errors import DeviceRevokedError, SyncCancelledError, SyncError
from kycdesk.sync.photo_files import PhotoSource
from kycdesk.sync.photo_upload import PhotoOutcome, PhotoUploader, UploadPolicy
from kycdesk.sync.progress import CaseProgress, TransferMeter
from kycdesk.sync.pull import NEEDS_HANDOVER, PullStep, PullStore
from kycdesk.sync.status import PullOutcome, RunResult

log = logging.getLogger(__name__)

PARALLEL_UPLOADS = 3
TICK_S = 1.0  # progress while nothing moves, so "no data for 40 s" keeps counting


class SyncStore(Protocol):
    """The store as the engine sees it (implemented by persistence.SyncStoreAdapter;
    the engine imports no persistence and no Qt)."""

    def due_cases(self, now: str, *, ignore_backoff: bool) -> list[str]: ...
    def load_sync_case(self, case_id: str) -> SyncCase: ...
    def confirm_image(self, case_id: str, image_id: int, server_image_id: str) -> None: ...
    def record_upload(self, case_id: str, image_id: int, upload_url: str | None,
                      offset: int) -> None: ...
    def record_failure(self, case_id: str, *, kind: str, message: str,
                       next_attempt_at: str | None, progressed: bool = False) -> bool: ...
    def mark_synced(self, case_id: str, *, revision: int, receipt: dict[str, object]) -> bool: ...
    def photo_source(self, image: ImageRecord) -> PhotoSource: ...


ProgressCallback = Callable[[CaseProgress], None]


class SyncEngine:
    def __init__(self, store: SyncStore, client: SyncClient, *, device_id: str,
                 backoff: Backoff | None = None, cancel: threading.Event | None = None,
                 on_progress: ProgressCallback | None = None,
                 clock: Callable[[], datetime] | None = None,
                 rng: random.Random | None = None, parallel: int = PARALLEL_UPLOADS,
                 policy: UploadPolicy | None = None) -> None:
        self.store = store
        self.client = client
        self.device_id = device_id
        self.backoff = backoff or Backoff()
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.clock = clock or now
        self.rng = rng or random.Random()
        self.parallel = max(1, parallel)
        # One uploader for the engine's life: what it learns of the link (request size)
        # carries over from case to case and run to run.
        self.uploader = PhotoUploader(client, store, policy=policy or UploadPolicy(),
                                      cancel=self.cancel, rng=self.rng)
        # A store that can hold what the office sends (the app's) pulls before each push.
        self.puller = PullStep(store, client, cancel=self.cancel, on_progress=on_progress) \
            if isinstance(store, PullStore) else None
        self._index = 1
        self._count = 1

    def run_once(self, *, ignore_backoff: bool = False) -> RunResult:
        """Pull, push the due cases, then release the cases handed away. A failed pull
        does not hold back the push: the verifier's own work is what must leave the
        tablet, and a pull that failed is simply asked again next run (its token did
        not move). Only an authentication failure or a cancel stops the whole run."""
        result = RunResult()
        outcome = PullOutcome()
        if self.puller is not None:
            result.pull = outcome
        if not self._pull(outcome, result, self.puller.run if self.puller else None):
            return result
        self._push(result, ignore_backoff)
        if self.puller is not None and not (result.auth_error or result.cancelled):
            # After the push: a case handed away goes only once its unsent work is sent,
            # and an import refused just now (403) asks for its handover in this run.
            self._pull(outcome, result, self.puller.release_handed_over)
            self._pull(outcome, result, self.puller.send_handover_requests)
        return result

    def _pull(self, outcome: PullOutcome, result: RunResult,
              step: Callable[[PullOutcome], None] | None) -> bool:
        """Run one pull step; False when the whole run must stop."""
        if step is None:
            return True
        try:
            step(outcome)
        except SyncCancelledError:
            result.cancelled = True
            return False
        except SyncError as exc:
            if exc.kind is FailureKind.AUTH:
                result.auth_error = str(exc)
                result.revoked = isinstance(exc, DeviceRevokedError)
                result.revoked_tablet = isinstance(exc, DeviceRevokedError) \
                    and exc.whole_tablet
                return False
            if exc.status == 404:  # a server without the pull (older): push only
                log.info("the server offers no pull: %s", exc)
            else:
                outcome.problems.append(str(exc))
                log.warning("checking for work from the office failed: %s", exc)
        except StoreError as exc:
            outcome.problems.append(str(exc))
            log.error("work from the office not stored: %s", exc)
        return True

    def _push(self, result: RunResult, ignore_backoff: bool) -> None:
        sent_before = self.uploader.sent_bytes
        due = self.store.due_cases(format_instant(self.clock()), ignore_backoff=ignore_backoff)
        self._count = len(due)
        for index, case_id in enumerate(due, start=1):
            self._index = index
            if self.cancel.is_set():
                result.cancelled = True
                break
            try:
                self.sync_case(case_id, result)
            except SyncCancelledError as exc:
                result.cancelled = True
                result.deadline_passed = exc.deadline_passed
                log.info("sync %s during case %s; it resumes next time",
                         "stopped by the run's deadline" if exc.deadline_passed
                         else "cancelled", case_id)
                break
            except SyncError as exc:
                if exc.kind is FailureKind.AUTH:
                    # The token is wrong for every case (or the device was revoked):
                    # stop, leave everything queued.
                    result.auth_error = str(exc)
                    result.revoked = isinstance(exc, DeviceRevokedError)
                    result.revoked_tablet = isinstance(exc, DeviceRevokedError) \
                        and exc.whole_tablet
                    break
                if exc.status == 403 and self.puller is not None:
                    # Another device owns the case (an imported copy): not a failure the
                    # verifier can clear, a handover the office grants.
                    self.puller.store.record_needs_handover(case_id, NEEDS_HANDOVER)
                    result.waiting[case_id] = NEEDS_HANDOVER
                    continue
                self._failed(case_id, exc, result)
            except StoreError as exc:
                log.error("sync of %s stopped by a local storage problem: %s", case_id, exc)
                result.failed[case_id] = str(exc)
                break
        result.sent_bytes = self.uploader.sent_bytes - sent_before

    def _failed(self, case_id: str, exc: SyncError, result: RunResult) -> None:
        case = self.store.load_sync_case(case_id)
        next_at: str | None = None
        if exc.kind is FailureKind.TRANSIENT:
            if exc.progressed:  # a flapping link: come back soon, backoff starts over
                delay = self.backoff.after_progress(rng=self.rng)
            else:
                delay = self.backoff.delay(case.sync_attempts + 1, retry_after=exc.retry_after,
                                           status=exc.status, rng=self.rng)
            next_at = format_instant(self.clock() + timedelta(seconds=delay))
        else:
            result.permanent.add(case_id)
        self.store.record_failure(case_id, kind=exc.kind.value, message=str(exc),
                                  next_attempt_at=next_at, progressed=exc.progressed)
        result.failed[case_id] = str(exc)
        log.warning("sync of %s failed (%s): %s", case_id, exc.kind.value, exc)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise SyncCancelledError("cancelled")

    def sync_case(self, case_id: str, result: RunResult) -> None:
        case = self.store.load_sync_case(case_id)
        images = case.images
        total_bytes = sum(i.byte_size or 0 for i in images)
        held = {h.client_image_id: h for h in self.client.held_images(case_id)}
        confirmed: dict[int, str] = {}
        for image in images:
            server_id = self._already_held(image, held.get(image.client_image_id))
            if server_id is not None:
                confirmed[image.id] = server_id
        todo = [i for i in images if i.id not in confirmed]
        start = CaseProgress(
            case_id, case.reference_number, len(confirmed), len(images) + 1,
            sum(i.byte_size or 0 for i in images if i.id in confirmed)
            + sum(i.upload_offset for i in todo if i.upload_url),
            total_bytes, "sending photos" if todo else "sending the form",
            self._index, self._count)
        meter = TransferMeter(start, self.on_progress, link=self.client.watch)
        meter.emit(force=True)
        with upload_pool(self.parallel) as pool:
            stop_ticking = threading.Event()
            pool.submit(_tick, meter, TICK_S, stop_ticking)
            try:
                if todo:
                    self._upload_all(pool, case_id, todo, meter=meter, confirmed=confirmed,
                                     result=result)
                self._check_cancel()
                meter.set_step("sending the form")
                submission = self._submission(case, confirmed)
                accepted = self._submit(case_id, submission)
            finally:
                stop_ticking.set()
        missing = {i.server_image_id for i in submission.images} - set(accepted.server_image_ids)
        if missing:
            raise SyncError(FailureKind.TRANSIENT,
                            f"The server did not confirm {len(missing)} photo(s) of this "
                            "case; kycdesk will send the case again.")
        if not self.store.mark_synced(case_id, revision=case.revision,
                                      receipt=accepted.model_dump(mode="json")):
            log.info("case %s changed while it was being sent; not marked synced", case_id)
            return
        meter.item_done()
        meter.set_step("synced")
        result.synced.append(case_id)

    def _upload_all(self, pool: ThreadPoolExecutor, case_id: str, todo: list[ImageRecord], *,
                    meter: TransferMeter, confirmed: dict[int, str],
                    result: RunResult) -> None:
        """Every photo not held yet, `parallel` at a time (the pool's other thread
        ticks). A failure of one does not stop the others (their bytes are progress
        too); the worst failure is raised after."""
        errors: list[BaseException] = []
        progressed = False

        def one(image: ImageRecord) -> None:
            nonlocal progressed
            try:
                outcome: PhotoOutcome = self.uploader.upload(
                    image, self.store.photo_source(image), meter)
            except BaseException as exc:  # collected; re-raised below in this thread
                errors.append(exc)
                progressed = progressed or getattr(exc, "progressed", False)
                return
            self.store.confirm_image(case_id, image.id, outcome.server_image_id)
            confirmed[image.id] = outcome.server_image_id
            progressed = True
            result.uploaded_images += 1
            result.uploaded_bytes += image.byte_size or 0
            meter.item_done()

        list(pool.map(one, todo))
        if errors:
            raise _worst(errors, progressed)

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
            history=[FieldHistoryEntry.model_validate(entry) for entry in case.history],
            client=ClientInfo(app_version=__version__, device_id=self.device_id),
            images=[SubmissionImage(
                client_image_id=i.client_image_id, server_image_id=confirmed[i.id],
                slot=i.slot, sha256=i.sha256 or "", latitude=i.location.latitude,
                longitude=i.location.longitude, accuracy=i.location.accuracy,
                address=i.location.address, address_source=i.location.address_source,
                captured_at=i.captured_at,
                captured_at_source=i.captured_at_source,
                retake_suggested=list(note.problems) if note else [],
                retake_overridden=bool(note and note.kept))
                for i in case.images for note in [case.retakes.get(i.id)]])


def _worst(errors: list[BaseException], progressed: bool) -> BaseException:
    """Cancel first, then authentication, permanent, storage, transient; a transient one
    carries whether the attempt moved bytes forward."""
    def rank(exc: BaseException) -> int:
        if isinstance(exc, SyncCancelledError):
            return 0
        if isinstance(exc, SyncError):
            return {FailureKind.AUTH: 1, FailureKind.PERMANENT: 2}.get(exc.kind, 4)
        if isinstance(exc, StoreError):
            return 3
        return 5
    worst = min(errors, key=rank)
    if isinstance(worst, SyncError) and worst.kind is FailureKind.TRANSIENT:
        worst.progressed = worst.progressed or progressed
    return worst


def upload_pool(parallel: int) -> ThreadPoolExecutor:
    """The engine's upload pool, one per case being sent: `parallel` photo uploads plus
    the progress ticker. A plain executor on purpose — the engine imports no Qt (it runs
    in the sync worker's thread and in `kycdesk sync`), so it cannot use the app's
    background helper; it is the one executor of the client outside that helper."""
    return ThreadPoolExecutor(max_workers=parallel + 1, thread_name_prefix="kycdesk-upload")


def _tick(meter: TransferMeter, every_s: float, stop: threading.Event) -> None:
    """Re-emit progress every `every_s` while a case is being sent, so "no data for
    40 s" keeps counting while nothing moves."""
    while not stop.wait(every_s):
        meter.tick()
