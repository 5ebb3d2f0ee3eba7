"""HTTP client for the sync contract (httpx, blocking: it runs in the sync worker thread).

Only an explicit, well-formed success counts: the documented status, a body that parses
into the reply model, and an echo of what was sent (sha256 and size for an image,
revision for a submission). Anything else is a failure of a known kind.
"""

from __future__ import annotations

import email.utils
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kycdesk import __version__
from kycdesk.core.errors import FailureKind
from kycdesk.core.protocol import (
    Health,
    HeldImage,
    ImageReceipt,
    Problem,
    Receipt,
    Submission,
    repr_digest,
)
from kycdesk.sync.errors import SyncCancelledError, SyncError

CHUNK = 256 * 1024
Progress = Callable[[int], None]  # bytes sent so far for the current upload
ReplyT = TypeVar("ReplyT", bound=BaseModel)

PERMANENT_STATUSES = {400, 404, 409, 410, 413, 415, 422}
TRANSIENT_STATUSES = {408, 425, 429, 507}


def default_timeout() -> httpx.Timeout:
    # Connect fast or call the network absent; a slow upload is fine as long as it moves.
    return httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)


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


async def check_health(base_url: str, token: str, *, timeout: float = 10.0,
                       ca_bundle: str | None = None) -> Health:
    """The Settings dialog's "Test connection": one awaited request on the GUI loop."""
    if not base_url.startswith(("https://", "http://")):
        raise SyncError(FailureKind.PERMANENT,
                        f"The server address {base_url!r} must start with https://")
    async with httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout,
                                 verify=_trust(ca_bundle),
                                 headers={"Authorization": f"Bearer {token}",
                                          "User-Agent": f"kycdesk/{__version__}"}) as http:
        try:
            response = await http.get("/v1/health")
        except httpx.TimeoutException as exc:
            raise SyncError(FailureKind.TRANSIENT, "The server did not answer in time.") \
                from exc
        except httpx.ConnectError as exc:
            raise _connect_failure(exc) from exc
        except httpx.TransportError as exc:
            raise SyncError(FailureKind.TRANSIENT,
                            "The server cannot be reached (no network, or it is down).") \
                from exc
    if response.status_code != 200:
        raise SyncClient._failure(response, "the connection check")
    health: Health = SyncClient._parse(response, Health)
    return health


class SyncClient:
    def __init__(self, base_url: str, token: str, *, device_id: str,
                 timeout: httpx.Timeout | None = None, ca_bundle: str | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise SyncError(FailureKind.PERMANENT,
                            f"The server address {base_url!r} must start with https://")
        self.base_url = base_url.rstrip("/")
        self.device_id = device_id
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout or default_timeout(),
            verify=_trust(ca_bundle), transport=transport,
            headers={"Authorization": f"Bearer {token}",
                     "User-Agent": f"kycdesk/{__version__}"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------
    def _request(self, method: str, url: str, *, unclear_on_failure: bool,
                 **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, url, **kwargs)
        except SyncCancelledError:
            raise
        except httpx.TimeoutException as exc:
            raise SyncError(FailureKind.TRANSIENT, "The server did not answer in time.",
                            unclear=unclear_on_failure) from exc
        except httpx.ConnectError as exc:
            raise _connect_failure(exc) from exc
        except httpx.TransportError as exc:  # dropped connection, reset, protocol error
            raise SyncError(FailureKind.TRANSIENT,
                            f"The connection to the server broke ({type(exc).__name__}).",
                            unclear=unclear_on_failure) from exc

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
        if status in (401, 403):
            return SyncError(FailureKind.AUTH, "The server did not accept this device's "
                             f"token ({detail or status}). Enter a valid token in Settings.",
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

    def held_images(self, case_id: str) -> list[HeldImage]:
        response = self._request("GET", f"/v1/cases/{case_id}/images",
                                 unclear_on_failure=False)
        self._expect(response, (200,), "the list of photos")
        held: list[HeldImage] = self._parse(response, TypeAdapter(list[HeldImage]))
        return held

    def upload_image(self, case_id: str, client_image_id: str, path: Path, *, sha256: str,
                     byte_size: int, mime: str | None, cancel: threading.Event | None = None,
                     progress: Progress | None = None) -> ImageReceipt:
        def body() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    if cancel is not None and cancel.is_set():
                        raise SyncCancelledError("upload cancelled")
                    sent += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(sent)

        try:
            actual_size = path.stat().st_size
        except OSError as exc:
            raise SyncError(FailureKind.PERMANENT,
                            f"The photo file is missing on this device ({path.name}).") \
                from exc
        if actual_size != byte_size:
            raise SyncError(FailureKind.PERMANENT,
                            f"The photo file {path.name} changed on this device since it "
                            "was captured; run 'kycdesk doctor'.")
        response = self._request(
            "PUT", f"/v1/cases/{case_id}/images/{client_image_id}", unclear_on_failure=True,
            content=body(),
            headers={"Content-Type": mime or "application/octet-stream",
                     "Content-Length": str(byte_size), "Repr-Digest": repr_digest(sha256)})
        self._expect(response, (200, 201), f"photo {path.name}")
        receipt: ImageReceipt = self._parse(response, ImageReceipt)
        if receipt.sha256 != sha256 or receipt.byte_size != byte_size:
            raise SyncError(FailureKind.TRANSIENT,
                            "The server confirmed a different photo than the one sent.",
                            unclear=True)
        return receipt

    def submit(self, case_id: str, submission: Submission) -> Receipt:
        response = self._request("PUT", f"/v1/cases/{case_id}/submission",
                                 unclear_on_failure=True,
                                 json=submission.model_dump(mode="json"))
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
