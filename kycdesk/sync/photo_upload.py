"""One photo's resumable upload, made to finish over a link that drops every minute.

- The upload's address and the last offset the server confirmed are persisted per photo
  (through the store) after every request, so a resume survives a killed app or a reboot.
- Requests are sized to the measured goodput (about 15 s each, 64 KiB – 8 MiB): short
  enough that a cut costs little, long enough that round trips do not dominate.
- After any failure the client asks the server where the upload stands (HEAD) and
  continues from there: the server keeps every byte that reached it.
- A failure after progress is retried at once (a short jittered pause); only failures
  that moved nothing count towards giving up (`UploadPolicy.patience`).
- An unknown or expired upload (404/410) restarts that photo cleanly; only the server's
  SHA-256 over the whole stored file confirms a photo.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kycdesk.core.errors import FailureKind
from kycdesk.core.records import ImageRecord
from kycdesk.sync.client import SyncClient, UploadState
from kycdesk.sync.errors import SyncCancelledError, SyncError, UploadGoneError
from kycdesk.sync.photo_files import PhotoSource
from kycdesk.sync.progress import TransferMeter

KiB = 1024
MiB = 1024 * KiB
# Failures retried within the attempt: the link broke (no status), or the upload moved on
# under a stale request (409 offset mismatch, 423 another request still holds it).
_RETRY_NOW = {None, 409, 423}


@dataclass(frozen=True)
class UploadPolicy:
    target_request_s: float = 15.0
    first_chunk: int = 512 * KiB  # a guess until goodput is measured: ~10 s on 2G
    min_chunk: int = 64 * KiB
    max_chunk: int = 8 * MiB
    patience: int = 4               # failures in a row that moved no byte: give up for now
    # Pause after a cut, jittered. Short: a reset link is usually back at once, and every
    # second paused is a second the link idles (benchmarks/packet_link.py).
    quick_retry_s: tuple[float, float] = (0.2, 1.0)
    max_restarts: int = 3           # uploads lost or damaged before it is a real problem
    # A photo that takes at most this long at the measured goodput goes in the request that
    # creates its upload (one round trip less). Longer ones are created first: a cut during
    # the creating request loses its bytes (their address is only in the lost reply).
    whole_photo_s: float = 3.0

    def next_chunk(self, goodput_bps: float) -> int:
        size = int(goodput_bps * self.target_request_s)
        return max(self.min_chunk, min(self.max_chunk, size))


class UploadRecorder(Protocol):
    """Where the uploader persists a photo's upload state (the sync store)."""

    def record_upload(self, case_id: str, image_id: int, upload_url: str | None,
                      offset: int) -> None: ...


@dataclass
class PhotoOutcome:
    server_image_id: str
    bytes_sent: int      # bytes this run put on the wire for the photo (incl. re-sent)
    progressed: bool     # the server holds more of it than before this run


class PhotoUploader:
    def __init__(self, client: SyncClient, store: UploadRecorder, *, policy: UploadPolicy,
                 cancel: threading.Event, rng: random.Random,
                 sleep: Callable[[float], bool] | None = None) -> None:
        self.client = client
        self.store = store
        self.policy = policy
        self.cancel = cancel
        self.rng = rng
        # Returns True if cancelled while waiting.
        self._sleep = sleep or cancel.wait
        # Goodput measured so far (bytes/s per request); shared by every photo this
        # uploader sends (and the threads sending them): only the first request guesses.
        self.goodput: float | None = None
        self.chunk = policy.first_chunk
        # Every byte put on the wire for photos, re-sent ones and cut requests included.
        self.sent_bytes = 0
        self._count_lock = threading.Lock()

    def _sent(self, count: int) -> int:
        with self._count_lock:
            self.sent_bytes += count
        return count

    def _adapt(self, moved: int, elapsed: float) -> None:
        if moved > 0:
            self.goodput = moved / max(elapsed, 1e-3)
            self.chunk = self.policy.next_chunk(self.goodput)

    def upload(self, image: ImageRecord, source: PhotoSource,
               meter: TransferMeter) -> PhotoOutcome:
        """Send one photo (`source`: its plaintext from any offset, decrypted as read)."""
        size = image.byte_size or 0
        try:
            stored_size = source.size()
        except OSError:
            stored_size = -1
        if stored_size != size:
            raise SyncError(FailureKind.PERMANENT,
                            f"The photo file {source.name} is missing or changed on this "
                            "device since it was captured; run 'kycdesk doctor'.")
        url = image.upload_url
        confirmed = image.upload_offset if url else 0
        start_confirmed = confirmed
        sent_total = 0
        quiet_failures = 0
        restarts = 0
        mark = confirmed
        handed = [0]  # bytes of the request in progress handed to the socket

        def on_sent(sent: int) -> None:
            handed[0] = sent
            meter.sending(image.id, sent)

        while True:
            if self.cancel.is_set():
                raise SyncCancelledError("cancelled")
            try:
                if url is None:
                    # A photo that fits one request goes with its creation (one round
                    # trip); a larger one is created first, so a cut never loses the
                    # address of bytes already on the server.
                    whole = (self.goodput is not None
                             and size <= self.goodput * self.policy.whole_photo_s)
                    began = time.monotonic()
                    handed[0] = 0
                    state = self.client.create_upload(
                        image.case_id, image.client_image_id, sha256=image.sha256 or "",
                        byte_size=size, source=source if whole else None, cancel=self.cancel,
                        progress=on_sent, rate_hint=self.goodput)
                    handed[0] = 0
                    url = state.url
                    if whole:
                        sent_total += self._sent(size)
                        self._adapt(state.offset, time.monotonic() - began)
                    confirmed = self._learn(image, state, 0, meter, persist=False)
                    if state.complete:  # confirmed by the caller: no upload to remember
                        return self._finish(image, state, sent_total, True)
                    self.store.record_upload(image.case_id, image.id, url, state.offset)
                else:
                    known = self.client.upload_state(url)
                    if known is None:
                        raise UploadGoneError("The server no longer has this upload.")
                    confirmed = self._learn(image, known, confirmed, meter)
                    if known.complete:
                        return self._finish(image, known, sent_total,
                                            confirmed > start_confirmed)
                while True:
                    count = min(self.chunk, size - confirmed)
                    began = time.monotonic()
                    before = confirmed
                    handed[0] = 0
                    state = self.client.append(
                        url, source, offset=confirmed, count=count, cancel=self.cancel,
                        progress=on_sent, rate_hint=self.goodput)
                    handed[0] = 0
                    sent_total += self._sent(count)
                    confirmed = self._learn(image, state, before, meter)
                    self._adapt(confirmed - before, time.monotonic() - began)
                    if state.complete:
                        return self._finish(image, state, sent_total, True)
                    if confirmed >= size:
                        break  # all bytes are there but not confirmed: ask (HEAD) above
            except UploadGoneError as exc:
                sent_total += self._sent(handed[0])  # a failed request's bytes count too
                handed[0] = 0
                meter.dropped(image.id)
                restarts += 1
                if restarts > self.policy.max_restarts:
                    raise SyncError(FailureKind.PERMANENT if exc.damaged else
                                    FailureKind.TRANSIENT,
                                    f"Photo {source.name} could not be uploaded intact after "
                                    f"{restarts} tries.") from exc
                meter.confirmed(image.id, -confirmed)  # those bytes are gone
                url = None
                confirmed = 0
                self.store.record_upload(image.case_id, image.id, None, 0)
                continue
            except SyncError as exc:
                sent_total += self._sent(handed[0])
                handed[0] = 0
                meter.dropped(image.id)
                if exc.kind is not FailureKind.TRANSIENT or exc.status not in _RETRY_NOW:
                    # The server said no, or "busy, come back later": the engine backs
                    # off (honouring Retry-After). Quick retries are for a cut link.
                    exc.progressed = confirmed > start_confirmed
                    raise
                confirmed = self._ask(image, url, confirmed, meter)
                quiet_failures = 0 if confirmed > mark else quiet_failures + 1
                mark = confirmed
                if quiet_failures >= self.policy.patience:
                    exc.progressed = confirmed > start_confirmed
                    raise
                low, high = self.policy.quick_retry_s
                if self._sleep(self.rng.uniform(low, high)):
                    raise SyncCancelledError("cancelled") from exc

    def _ask(self, image: ImageRecord, url: str | None, confirmed: int,
             meter: TransferMeter) -> int:
        """After a failure: how far did the server get? (It may have kept a cut request's
        bytes.) Failing to ask changes nothing: the next loop asks again."""
        if url is None:
            return confirmed
        try:
            state = self.client.upload_state(url)
        except SyncError:
            return confirmed
        if state is None:
            return confirmed
        return self._learn(image, state, confirmed, meter)

    def _learn(self, image: ImageRecord, state: UploadState, confirmed: int,
               meter: TransferMeter, *, persist: bool = True) -> int:
        """The server's offset is the truth; persist it and count what it added."""
        if persist and state.offset != confirmed:
            self.store.record_upload(image.case_id, image.id, state.url, state.offset)
        meter.confirmed(image.id, state.offset - confirmed)
        return state.offset

    def _finish(self, image: ImageRecord, state: UploadState, sent: int,
                progressed: bool) -> PhotoOutcome:
        if state.sha256 != image.sha256 or not state.server_image_id:
            raise SyncError(FailureKind.TRANSIENT,
                            "The server confirmed a different photo than the one sent.",
                            unclear=True)
        return PhotoOutcome(state.server_image_id, sent, progressed)
