"""HTTP client for the sync contract (httpx, blocking: it runs in the sync worker thread).

Only an explicit, well-formed success counts: the documented status, a body that parses
into the reply model, and an echo of what was sent (sha256 and size for an image,
revision for a submission). Anything else is a failure of a known kind.
"""

from __future__ import annotations

import contextlib
import email.utils
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kycdesk import __version__
from kycdesk.core.errors import FailureKind
from kycdesk.core.protocol import (
    ENROL_PATH,
    LEASE_PATH,
    OFFSET_CONTENT_TYPE,
    PULL_PATH,
    SERVER_IMAGE_ID_HEADER,
    TUS_VERSION,
    UPLOADS_PATH,
    EnrolledDevice,
    Enrolment,
    HandoverRequest,
    Health,
    HeldImage,
    Lease,
    Problem,
    PullReply,
    PullRequest,
    Receipt,
    Release,
    Submission,
    encode_upload_metadata,
    parse_repr_digest,
)
from kycdesk.security.errors import TamperedDataError
from kycdesk.sync.errors import RunCutError, SyncCancelledError, SyncError, UploadGoneError
from kycdesk.sync.office import OfficeIdentity, is_revoked_problem, revoked_answer
from kycdesk.sync.photo_files import DownloadTarget, PhotoSource
from kycdesk.sync.server_url import url_problem
from kycdesk.sync.transport import (
    FLOOR_RATE,
    STALL_S,
    LinkWatch,
    deadline,
    drain_s,
    field_timeout,
    field_transport,
    reply_deadline,
)

# Read and write granularity of an upload body: a write of one piece that does not finish
# within the stall timeout is a stall, so a piece must cross the slowest link we serve
# (2 kB/s) well within it.
PIECE = 16 * 1024


@dataclass(frozen=True)
class UploadState:
    """Where a photo's upload stands on the server."""

    url: str
    offset: int
    length: int | None
    server_image_id: str | None  # set once the whole photo is held ...
    sha256: str | None           # ... with the SHA-256 the server computed over it

    @property
    def complete(self) -> bool:
        return self.server_image_id is not None
@dataclass(frozen=True)
class Download:
    """A photo fetched into its partial file: the SHA-256 the server announced for the
    whole photo (`Repr-Digest`; None if it gave none) and the bytes this request brought."""

    sha256: str | None
    received: int


Progress = Callable[[int], None]  # bytes of the current request handed to the socket
ReplyT = TypeVar("ReplyT", bound=BaseModel)

PERMANENT_STATUSES = {400, 404, 409, 410, 413, 415, 422}
TRANSIENT_STATUSES = {408, 425, 429, 507}


REQUEST_DEADLINE_S = 60.0  # everything but the body's bytes: connect, headers, reply


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _trust(ca_bundle: str | None) -> ssl.SSLContext | bool:
    """System trust store, or the organisation's CA certificates (verification stays on)."""
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise SyncError(FailureKind.PERMANENT,
                        f"The certificate file {ca_bundle} cannot be used ({exc}).") from exc


def _connect_failure(exc: httpx.ConnectError) -> SyncError:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        # Not "offline": retrying will not help until someone fixes trust.
        return SyncError(FailureKind.TRANSIENT,
                         "The server's certificate is not trusted by this device. If your "
                         "organisation uses its own certificate authority, set its "
                         "certificates in Settings.")
    return SyncError(FailureKind.TRANSIENT,
                     "The server cannot be reached (no network, or it is down).")


def _one_request(base_url: str, method: str, path: str, *, timeout: float,
                 ca_bundle: str | None, token: str | None = None,
                 json_body: dict[str, object] | None = None) -> httpx.Response:
    """One request outside a sync run (Settings, `kycdesk enrol`; the app runs it as a
    background task), failures in the verifier's words."""
    if (refused := url_problem(base_url)) is not None:
        raise SyncError(FailureKind.PERMANENT, refused)
    headers = {"User-Agent": f"kycdesk/{__version__}"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                      verify=_trust(ca_bundle), headers=headers) as http:
        try:
            return http.request(method, path, json=json_body)
        except httpx.TimeoutException as exc:
            raise SyncError(FailureKind.TRANSIENT, "The server did not answer in time.") \
                from exc
        except httpx.ConnectError as exc:
            raise _connect_failure(exc) from exc
        except httpx.TransportError as exc:
            raise SyncError(FailureKind.TRANSIENT,
                            "The server cannot be reached (no network, or it is down).") \
                from exc


def check_health(base_url: str, token: str, *, timeout: float = 10.0,
                 ca_bundle: str | None = None) -> Health:
    """The Settings dialog's "Test connection" (a background task in the app). No token
    yet (a device about to enrol with a code): asked without one, so a server that
    answers says "not enrolled" (an AUTH failure) instead of looking unreachable (an
    empty bearer is not a valid header at all)."""
    response = _one_request(base_url, "GET", "/v1/health", timeout=timeout,
                                  ca_bundle=ca_bundle, token=token or None)
    if response.status_code != 200:
        raise SyncClient._failure(response, "the connection check")
    health: Health = SyncClient._parse(response, Health)
    return health


def enrol_device(base_url: str, code: str, device_name: str, *,
                 timeout: float = 20.0, ca_bundle: str | None = None,
                 tablet_id: str | None = None,
                 verifier_name: str | None = None) -> EnrolledDevice:
    """Trade a one-time enrolment code for this device's credential (Settings, as a
    background task, and `kycdesk enrol`). A verifier's store names its tablet and
    verifier (the server groups a tablet's devices for revocation)."""
    body = Enrolment(code=code.strip(), device_name=device_name[:100], tablet_id=tablet_id,
                     verifier_name=verifier_name[:100] if verifier_name else None
                     ).model_dump(exclude_none=True)
    response = _one_request(base_url, "POST", ENROL_PATH, timeout=timeout,
                                  ca_bundle=ca_bundle, json_body=body)
    if response.status_code != 201:
        raise SyncClient._failure(response, "the enrolment")
    enrolled: EnrolledDevice = SyncClient._parse(response, EnrolledDevice)
    return enrolled


def _file_body(source: PhotoSource, offset: int, count: int,
               cancel: threading.Event | None, progress: Progress | None) -> Iterator[bytes]:
    """Bytes [offset, offset + count) of a photo, in pieces, checking for cancel. The
    stored photo is encrypted: `source` decrypts from the chunk holding `offset` (a tus
    resume at any offset), so only the plaintext goes on the wire."""
    sent = 0
    plain = source.read_from(offset)
    try:
        pending = memoryview(b"")  # the rest of the chunk in hand, cut without copying
        while sent < count:
            if cancel is not None and cancel.is_set():
                raise SyncCancelledError("upload cancelled")
            if not pending:
                pending = memoryview(next(plain, b""))
                if not pending:
                    raise SyncError(FailureKind.PERMANENT,
                                    f"The photo file {source.name} is shorter than recorded; "
                                    "run 'kycdesk doctor'.")
            size = min(PIECE, count - sent, len(pending))
            piece, pending = bytes(pending[:size]), pending[size:]
            sent += len(piece)
            yield piece
            if progress is not None:
                progress(sent)
    except TamperedDataError as exc:
        raise SyncError(FailureKind.PERMANENT,
                        f"The photo file {source.name} was changed on this device since it "
                        "was captured; run 'kycdesk doctor'.") from exc
    finally:
        close = getattr(plain, "close", None)
        if close is not None:
            close()  # the encrypted file is closed even when the request was cut


def _then_await_reply(body: Iterator[bytes], reply_s: float) -> Iterator[bytes]:
    """The body's pieces; after the last one is written, the request's deadline becomes
    the reply's (`transport.reply_deadline`)."""
    yield from body
    reply_deadline(reply_s)


class SyncClient:
    def __init__(self, base_url: str, token: str, *, device_id: str,
                 timeout: httpx.Timeout | None = None, ca_bundle: str | None = None,
                 transport: httpx.BaseTransport | None = None,
                 stall_s: float = STALL_S,
                 request_deadline_s: float = REQUEST_DEADLINE_S,
                 office: OfficeIdentity | None = None) -> None:
        if (refused := url_problem(base_url)) is not None:
            raise SyncError(FailureKind.PERMANENT, refused)
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        # Checks a "revoked" answer's proof (None: enrolled without one; never wipes).
        self.office = office
        self.stall_s = stall_s
        self.request_deadline_s = request_deadline_s
        trust = _trust(ca_bundle)
        # The run's deadline, the cut, and when bytes last moved: shared by every thread.
        self.watch = LinkWatch()
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout or field_timeout(stall_s),
            verify=trust, transport=transport or field_transport(trust, stall_s, self.watch),
            headers={"Authorization": f"Bearer {token}",
                     "User-Agent": f"kycdesk/{__version__}"},
        )

    def close(self) -> None:
        self.watch.close()
        self._http.close()

    def end_run_at(self, ends: float) -> None:
        """Every request ends by `ends` (time.monotonic()), those in flight included."""
        self.watch.end_run_at(ends)

    def interrupt(self) -> None:
        """Cancel (from any thread): requests in flight end now; bytes that reached the
        server stay there and the next run resumes from the server's offset."""
        self.watch.cut("cancelled")

    def _cut(self) -> RunCutError | None:
        reason = self.watch.cut_reason
        if reason is None:
            return None
        return RunCutError(reason, deadline_passed=self.watch.deadline_cut)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------
    def _request(self, method: str, url: str, *, unclear_on_failure: bool,
                 body_bytes: int = 0, rate_hint: float | None = None,
                 **kwargs: Any) -> httpx.Response:
        """One request, all of it (connect, send, headers, body) within its deadline: the
        client's per-request allowance plus the body's time at the floor rate. With a
        body, the reply may take as long as the stall timeout plus the time to drain what
        was still queued (`DRAIN_BYTES`) at `rate_hint` (the measured goodput)."""
        if (cut := self._cut()) is not None:
            raise cut
        if body_bytes:
            kwargs["timeout"] = self._reply_timeout(body_bytes, rate_hint)
            if "content" in kwargs and not isinstance(kwargs["content"], bytes):
                # Once a photo's bytes are written, its reply may take the reply timeout
                # (stall plus drain) and the stall timeout again, not what is left of the
                # body's allowance. (A bytes body keeps httpx's Content-Length.)
                kwargs["content"] = _then_await_reply(
                    kwargs["content"], kwargs["timeout"].read + self.stall_s)
        try:
            with deadline(self.request_deadline_s + body_bytes / FLOOR_RATE):
                response = self._http.request(method, url, **kwargs)
        except SyncCancelledError:
            raise
        except httpx.TransportError as exc:
            if (cut := self._cut()) is not None:  # the run's deadline, or a cancel
                raise cut from exc
            raise self._transport_failure(exc, unclear_on_failure) from exc
        self._stop_if_revoked(response)
        return response

    def _stop_if_revoked(self, response: httpx.Response) -> None:
        """Every answer passes here: a 403 `device-revoked` stops the sync at once —
        `DeviceRevokedError` if its proof checks, a plain AUTH error if not."""
        if response.status_code != 403:
            return
        try:
            problem = response.json()
        except ValueError:
            return
        if is_revoked_problem(problem):
            raise revoked_answer(problem, self.office)

    @staticmethod
    def _transport_failure(exc: httpx.TransportError, unclear_on_failure: bool) -> SyncError:
        if isinstance(exc, httpx.TimeoutException):
            return SyncError(FailureKind.TRANSIENT, "The server did not answer in time.",
                             unclear=unclear_on_failure)
        if isinstance(exc, httpx.ConnectError):
            return _connect_failure(exc)
        # dropped connection, reset, protocol error
        return SyncError(FailureKind.TRANSIENT,
                         f"The connection to the server broke ({type(exc).__name__}).",
                         unclear=unclear_on_failure)

    def _reply_timeout(self, body_bytes: int, rate_hint: float | None) -> httpx.Timeout:
        base = self._http.timeout
        return httpx.Timeout(connect=base.connect,
                             read=(base.read or self.stall_s) + drain_s(body_bytes, rate_hint),
                             write=base.write, pool=base.pool)

    @staticmethod
    def _failure(response: httpx.Response, what: str) -> SyncError:
        status = response.status_code
        problem: Problem | None = None
        try:
            problem = Problem.model_validate(response.json())
        except (ValueError, ValidationError):
            problem = None
        detail = (problem.detail or problem.title) if problem else ""
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 401:
            return SyncError(FailureKind.AUTH, "The server did not accept this device's "
                             f"token ({detail or status}). Enter a valid token or a new "
                             "enrolment code in Settings.", status=status)
        if status == 403 and what == "the enrolment":
            return SyncError(FailureKind.PERMANENT, detail or "The enrolment code was "
                             "refused.", status=status)
        if status == 403:  # this device may not touch this case: the case needs a person
            return SyncError(FailureKind.PERMANENT, f"The server refused {what}: "
                             f"{detail or 'this case belongs to another device'}",
                             status=status)
        if status == 507:
            return SyncError(FailureKind.TRANSIENT, "The server is out of storage; kycdesk "
                             "will try again later.", status=status, retry_after=retry_after)
        if status in TRANSIENT_STATUSES or status >= 500:
            return SyncError(FailureKind.TRANSIENT,
                             f"The server is busy or failing ({status}); kycdesk will try "
                             "again.", status=status, retry_after=retry_after,
                             unclear=status >= 500 or status == 408)
        if status in PERMANENT_STATUSES or 400 <= status < 500:
            return SyncError(FailureKind.PERMANENT,
                             f"The server refused {what}: {detail or f'status {status}'}",
                             status=status, missing=problem.missing if problem else None)
        return SyncError(FailureKind.TRANSIENT,
                         f"Unexpected answer from the server ({status}).", status=status)

    @staticmethod
    def _parse(response: httpx.Response, model: type[ReplyT] | TypeAdapter[Any]) -> Any:
        """A success status with a body that is not the contract's is not a success:
        typically a captive portal or a proxy page."""
        try:
            payload = response.json()
            if isinstance(model, TypeAdapter):
                return model.validate_python(payload)
            return model.model_validate(payload)
        except (ValueError, ValidationError) as exc:
            raise SyncError(FailureKind.TRANSIENT,
                            "The network answered with something that is not the kycdesk "
                            "server (a sign-in page or proxy?).", status=response.status_code,
                            unclear=True) from exc

    def _expect(self, response: httpx.Response, statuses: tuple[int, ...], what: str) -> None:
        if response.status_code not in statuses:
            raise self._failure(response, what)

    # -- endpoints --------------------------------------------------------------------
    def health(self) -> Health:
        response = self._request("GET", "/v1/health", unclear_on_failure=False)
        self._expect(response, (200,), "the connection check")
        health: Health = self._parse(response, Health)
        return health

    def lease(self) -> Lease:
        """The office's lease for this device (the lease page's "Try to reach the
        server"; every pull answer carries one too)."""
        response = self._request("GET", LEASE_PATH, unclear_on_failure=False)
        self._expect(response, (200,), "the renewal of this tablet's lease")
        lease: Lease = self._parse(response, Lease)
        return lease

    def held_images(self, case_id: str) -> list[HeldImage]:
        response = self._request("GET", f"/v1/cases/{case_id}/images",
                                 unclear_on_failure=False)
        self._expect(response, (200,), "this case's photos")
        held: list[HeldImage] = self._parse(response, TypeAdapter(list[HeldImage]))
        return held

    # -- resumable photo upload (tus 1.0.0) ----------------------------------------------
    def create_upload(self, case_id: str, client_image_id: str, *, sha256: str,
                      byte_size: int, source: PhotoSource | None = None,
                      cancel: threading.Event | None = None,
                      progress: Progress | None = None,
                      rate_hint: float | None = None) -> UploadState:
        """A new upload for one photo. With `source`, the whole photo goes in the same
        request (tus creation-with-upload: one round trip for a photo that fits one
        request); the caller learns the address only if the reply arrives."""
        metadata = encode_upload_metadata({"case_id": case_id,
                                           "client_image_id": client_image_id,
                                           "sha256": sha256})
        headers = {"Tus-Resumable": TUS_VERSION, "Upload-Length": str(byte_size),
                   "Upload-Metadata": metadata}
        extra: dict[str, Any] = {}
        if source is not None:
            headers.update({"Content-Type": OFFSET_CONTENT_TYPE,
                            "Content-Length": str(byte_size)})
            extra["content"] = _file_body(source, 0, byte_size, cancel, progress)
        response = self._request("POST", UPLOADS_PATH, unclear_on_failure=False,
                                 body_bytes=byte_size if source is not None else 0,
                                 rate_hint=rate_hint, headers=headers, **extra)
        if response.status_code == 422 and source is not None:
            raise UploadGoneError("The photo arrived damaged; kycdesk sends it again.",
                                  damaged=True)
        self._expect(response, (201,), "a new photo upload")
        location = response.headers.get("location")
        if not location:
            raise SyncError(FailureKind.TRANSIENT,
                            "The network answered with something that is not the kycdesk "
                            "server (a sign-in page or proxy?).", status=201)
        return self._state(str(response.url.join(location)), response)

    def upload_state(self, url: str) -> UploadState | None:
        """How far the server has the upload (HEAD); None if it is unknown or expired."""
        response = self._request("HEAD", url, unclear_on_failure=False,
                                 headers={"Tus-Resumable": TUS_VERSION})
        if response.status_code in (404, 410) and \
                response.headers.get("tus-resumable") == TUS_VERSION:
            return None
        self._expect(response, (200,), "the upload's progress")
        return self._state(url, response)

    def append(self, url: str, source: PhotoSource, *, offset: int, count: int,
               cancel: threading.Event | None = None,
               progress: Progress | None = None,
               rate_hint: float | None = None) -> UploadState:
        """Send bytes [offset, offset + count) of the photo (PATCH). What reaches the server
        is kept even if the request is cut; the caller asks (`upload_state`) after a failure."""
        response = self._request(
            "PATCH", url, unclear_on_failure=True, body_bytes=count, rate_hint=rate_hint,
            content=_file_body(source, offset, count, cancel, progress),
            headers={"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(offset),
                     "Content-Type": OFFSET_CONTENT_TYPE, "Content-Length": str(count)})
        if response.status_code in (404, 410) and \
                response.headers.get("tus-resumable") == TUS_VERSION:
            raise UploadGoneError("The server no longer has this upload.")
        if response.status_code in (409, 423):  # offset moved on, or a stale request holds it
            raise SyncError(FailureKind.TRANSIENT, "The upload's position changed; kycdesk "
                            "asks the server where to continue.", status=response.status_code)
        if response.status_code == 422:  # the finished file did not match its SHA-256
            raise UploadGoneError("The photo arrived damaged; kycdesk sends it again.",
                                  damaged=True)
        self._expect(response, (204,), f"part of photo {source.name}")
        return self._state(url, response)

    def _state(self, url: str, response: httpx.Response) -> UploadState:
        raw = response.headers.get("upload-offset", "")
        if not raw.isdigit() or response.headers.get("tus-resumable") != TUS_VERSION:
            raise SyncError(FailureKind.TRANSIENT,
                            "The network answered with something that is not the kycdesk "
                            "server (a sign-in page or proxy?).", status=response.status_code,
                            unclear=True)
        length = response.headers.get("upload-length", "")
        return UploadState(url=url, offset=int(raw),
                           length=int(length) if length.isdigit() else None,
                           server_image_id=response.headers.get(SERVER_IMAGE_ID_HEADER),
                           sha256=parse_repr_digest(response.headers.get("repr-digest")))

    def delete_upload(self, url: str) -> None:
        """Best effort: tell the server an upload is abandoned (it expires anyway)."""
        with contextlib.suppress(SyncError):
            self._request("DELETE", url, unclear_on_failure=False,
                          headers={"Tus-Resumable": TUS_VERSION})

    def submit(self, case_id: str, submission: Submission) -> Receipt:
        body = submission.model_dump_json().encode()
        response = self._request("PUT", f"/v1/cases/{case_id}/submission",
                                 unclear_on_failure=True, body_bytes=len(body), content=body,
                                 headers={"Content-Type": "application/json"})
        self._expect(response, (200, 201), "the case")
        receipt: Receipt = self._parse(response, Receipt)
        if receipt.revision != submission.revision:
            raise SyncError(FailureKind.TRANSIENT,
                            "The server confirmed another revision of this case.",
                            unclear=True)
        return receipt

    def get_submission(self, case_id: str) -> Receipt | None:
        response = self._request("GET", f"/v1/cases/{case_id}/submission",
                                 unclear_on_failure=False)
        if response.status_code == 404:
            try:  # a real "none here" is a problem document; a portal's 404 is not
                Problem.model_validate(response.json())
            except (ValueError, ValidationError) as exc:
                raise SyncError(FailureKind.TRANSIENT, "Unexpected answer from the network.",
                                status=404) from exc
            return None
        self._expect(response, (200,), "the receipt lookup")
        receipt: Receipt = self._parse(response, Receipt)
        return receipt

    # -- two-way: the pull and what follows it (docs/sync-protocol.md "Pull") ----------
    def pull(self, request: PullRequest) -> PullReply:
        """One page of what changed for this device. A 412 (the held-cases digests
        disagree) is raised as a SyncError with status 412: the caller resyncs."""
        body = request.model_dump_json().encode()
        # "Unclear" when cut: the page may have been on its way (asking again is safe:
        # the same token gives the same page).
        response = self._request("POST", PULL_PATH, unclear_on_failure=True,
                                 content=body, headers={"Content-Type": "application/json"})
        self._expect(response, (200,), "the check for work from the office")
        reply: PullReply = self._parse(response, PullReply)
        return reply

    def release(self, case_id: str, release: Release) -> None:
        """After a handover: everything unsent was sent, the case may go."""
        response = self._request("POST", f"/v1/cases/{case_id}/release",
                                 unclear_on_failure=False,
                                 content=release.model_dump_json().encode(),
                                 headers={"Content-Type": "application/json"})
        self._expect(response, (200, 204), "the hand-over of this case")

    def request_handover(self, case_id: str, request: HandoverRequest) -> None:
        """Ask the office for a case another device owns (an imported copy)."""
        response = self._request("POST", f"/v1/cases/{case_id}/handover-requests",
                                 unclear_on_failure=False,
                                 content=request.model_dump_json().encode(),
                                 headers={"Content-Type": "application/json"})
        self._expect(response, (200, 201, 202), "the request to hand this case over")

    def download_image(self, case_id: str, client_image_id: str, target: DownloadTarget, *,
                       byte_size: int, cancel: threading.Event | None = None,
                       progress: Progress | None = None) -> Download:
        """Fetch a photo's bytes into `target` (a partial file, encrypted as it arrives),
        continuing after what it holds (Range); a cut keeps what came."""
        offset = target.resume()
        headers = {"Range": f"bytes={offset}-"} if 0 < offset < byte_size else {}
        if not headers:
            offset = 0
        url = f"/v1/cases/{case_id}/images/{client_image_id}"
        written = 0
        try:
            with (deadline(self.request_deadline_s + max(0, byte_size - offset) / FLOOR_RATE),
                  self._http.stream("GET", url, headers=headers) as response):
                if response.status_code == 206:
                    start = _range_start(response.headers.get("content-range"))
                    if start != offset:
                        raise SyncError(FailureKind.TRANSIENT, "The server sent another part "
                                        "of the photo than asked; kycdesk asks again.")
                elif response.status_code == 200:
                    offset = 0
                else:
                    response.read()
                    self._stop_if_revoked(response)
                    if response.status_code == 416:  # our partial copy is not a prefix
                        target.discard()
                    raise self._failure(response, "a photo of this case")
                if offset == 0:
                    target.restart()
                for piece in response.iter_bytes(PIECE):
                    if cancel is not None and cancel.is_set():
                        raise SyncCancelledError("download cancelled")
                    target.write(piece)
                    written += len(piece)
                    if progress is not None:
                        progress(written)  # bytes this request brought, as uploads
                target.finish()
                return Download(parse_repr_digest(response.headers.get("repr-digest")),
                                written)
        except (SyncError, SyncCancelledError) as exc:
            if isinstance(exc, SyncError):
                exc.progressed = exc.progressed or written > 0
            raise
        except httpx.TransportError as exc:  # timeout, refused, reset, protocol error
            error = _transport_failure(exc)
            error.progressed = written > 0
            raise error from exc
        finally:
            target.close()  # cut short or not: what came stays for the next resume


def _transport_failure(exc: httpx.TransportError) -> SyncError:
    """A request that broke on the way, in the same words `_request` uses."""
    if isinstance(exc, httpx.TimeoutException):
        return SyncError(FailureKind.TRANSIENT, "The server did not answer in time.")
    if isinstance(exc, httpx.ConnectError):
        return _connect_failure(exc)
    return SyncError(FailureKind.TRANSIENT,
                     f"The connection to the server broke ({type(exc).__name__}).")


def _range_start(header: str | None) -> int | None:
    """The first byte of a `Content-Range: bytes a-b/n` header."""
    if not header or not header.startswith("bytes "):
        return None
    first = header[6:].split("-", 1)[0]
    return int(first) if first.isdigit() else None
