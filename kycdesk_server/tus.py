"""tus 1.0.0 photo uploads under /v1/uploads: core, creation, creation-with-upload,
expiration, termination and checksum (sha256). See docs/sync-protocol.md.

A finished upload is verified against the SHA-256 the client declared in its metadata and
bound to (case id, client image id) with the same idempotency rules as before: the same
id with the same digest gives the same server id, another digest is a 409.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from kycdesk.core.ids import is_canonical_uuid
from kycdesk.core.protocol import (
    OFFSET_CONTENT_TYPE,
    SERVER_IMAGE_ID_HEADER,
    SHA256_HEX,
    TUS_CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    UPLOADS_PATH,
    parse_upload_checksum,
    parse_upload_metadata,
    repr_digest,
)
from kycdesk_server.blobs import StorageUnavailableError
from kycdesk_server.locks import DeviceSlots, KeyedLocks, TakenOverError, UploadGuards
from kycdesk_server.openapi_docs import (
    NEEDS_CREDENTIAL,
    UploadIdPath,
    errors,
    header,
    tus_headers,
)
from kycdesk_server.storage import ImageConflictError, ServerStore
from kycdesk_server.uploads import Upload, UploadStore

log = logging.getLogger(__name__)

Problem = Callable[..., JSONResponse]

_STR = {"schema": {"type": "string"}}
UPLOAD_REPLY_HEADERS = {"Tus-Resumable": _STR, "Upload-Offset": _STR, "Upload-Expires": _STR,
                        "Location": {**_STR, "description": "created: the upload's address"},
                        "Kycdesk-Server-Image-Id": {**_STR, "description": "once complete"},
                        "Repr-Digest": {**_STR, "description": "once complete: sha-256"}}
OCTET_BODY = {"required": True, "content": {
    "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
OCTET_BODY_OPTIONAL = {**OCTET_BODY, "required": False}


@dataclass
class TusConfig:
    max_image_bytes: int
    idle_timeout_s: float = 60.0  # no byte for this long: the request is over (kept)
    uploads_per_device: int = 8   # requests of one device writing at once
    on_outcome: Callable[[str], None] = lambda _outcome: None  # metrics: how uploads end


def _http_date(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _headers(upload: Upload, **extra: str) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(upload.offset),
               "Upload-Expires": _http_date(upload.expires_at), "Cache-Control": "no-store",
               **extra}
    if upload.complete:
        headers[SERVER_IMAGE_ID_HEADER] = upload.server_image_id or ""
        headers["Repr-Digest"] = repr_digest(upload.sha256)
    return headers


async def _chunks(request: Request, stop: asyncio.Event,
                  idle_timeout_s: float) -> AsyncIterator[bytes]:
    """The request body as it arrives; ends quietly when the client is gone, when no byte
    came for `idle_timeout_s`, or when a newer request for this upload asks us to stop."""
    stream = request.stream().__aiter__()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            step = asyncio.ensure_future(stream.__anext__())
            done, _ = await asyncio.wait({step, stopping}, timeout=idle_timeout_s,
                                         return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                return
            try:
                chunk = step.result()
            except (StopAsyncIteration, ClientDisconnect):
                return
            if chunk:
                yield chunk
    finally:
        stopping.cancel()


class Authority(Protocol):
    """Which device may touch which case (see kycdesk_server.devices)."""

    async def claim(self, request: Request, case_id: str) -> JSONResponse | None: ...
    async def check(self, request: Request, case_id: str) -> JSONResponse | None: ...


def register_tus(app: FastAPI, store: ServerStore, uploads: UploadStore, config: TusConfig,
                 *, image_locks: KeyedLocks, problem: Problem,
                 authority: Authority) -> UploadGuards:
    guards = UploadGuards()
    # Bytes received by requests still running, per upload (this process): shown by the
    # control endpoint, so a test can cut a link once the server has the bytes.
    receiving: dict[str, int] = {}
    app.state.receiving = receiving
    slots = DeviceSlots(config.uploads_per_device)

    def storage_down() -> JSONResponse:
        config.on_outcome("storage_unavailable")
        response = tus_problem(503, "Storage unavailable",
                               "The server cannot store photos right now; nothing was lost "
                               "that it acknowledged. Try again shortly.")
        response.headers["Retry-After"] = "10"
        return response

    def too_many() -> JSONResponse:
        config.on_outcome("refused_busy")
        response = tus_problem(429, "Too many uploads at once",
                               f"A device may write {config.uploads_per_device} uploads at "
                               "a time; try again shortly.")
        response.headers["Retry-After"] = "5"
        return response

    def tus_problem(status: int, title: str, detail: str = "", **extra: Any) -> JSONResponse:
        response = problem(status, title, detail, **extra)
        response.headers["Tus-Resumable"] = TUS_VERSION
        return response

    def check_version(request: Request) -> JSONResponse | None:
        if "tus-resumable" not in request.headers:
            return tus_problem(400, "Missing Tus-Resumable",
                               f"Send Tus-Resumable: {TUS_VERSION}.")
        if request.headers.get("tus-resumable") != TUS_VERSION:
            response = tus_problem(412, "Unsupported tus version",
                                   f"Send Tus-Resumable: {TUS_VERSION}.")
            response.headers["Tus-Version"] = TUS_VERSION
            return response
        return None

    async def current(upload_id: str, request: Request) -> Upload | JSONResponse:
        """The upload, if it exists, has not expired and is this device's (checked before
        any guard is taken: another device must not even interrupt the owner's writes)."""
        upload = await asyncio.to_thread(uploads.get, upload_id) \
            if len(upload_id) == 32 else None
        if upload is None:
            return tus_problem(404, "No such upload", "Create a new upload.")
        if (denied := await authority.check(request, upload.case_id)) is not None:
            denied.headers["Tus-Resumable"] = TUS_VERSION
            return denied
        if not upload.complete and upload.expired(datetime.now(UTC)):
            await asyncio.to_thread(uploads.delete, upload.id)
            return tus_problem(410, "Upload expired", "Create a new upload.")
        return upload

    async def bind(upload: Upload) -> Response:
        """The last byte arrived: verify the whole upload, then hold it as the photo."""
        try:
            return await hold(upload)
        except StorageUnavailableError as exc:
            log.warning("upload %s: the photo storage is unavailable (%s)", upload.id, exc)
            return storage_down()

    async def hold(upload: Upload) -> Response:
        with tempfile.TemporaryDirectory(prefix="kycdesk-assemble-") as folder:
            whole, actual = await asyncio.to_thread(uploads.assemble, upload, Path(folder))
            if actual != upload.sha256:
                config.on_outcome("digest_mismatch")
                await asyncio.to_thread(uploads.delete, upload.id)
                return tus_problem(422, "Digest mismatch",
                                   "The photo arrived damaged or changed: its SHA-256 does "
                                   "not match the one declared. Upload it again.")
            async with image_locks.hold(upload.client_image_id):
                try:
                    stored = await asyncio.to_thread(
                        store.hold_image, upload.case_id, upload.client_image_id, whole,
                        actual, upload.length)
                except ImageConflictError as conflict:
                    return tus_problem(409, conflict.title, conflict.detail)
                await asyncio.to_thread(uploads.mark_complete, upload.id,
                                        stored.server_image_id)
        await asyncio.to_thread(uploads.release, upload.id)
        config.on_outcome("completed")
        done = await asyncio.to_thread(uploads.get, upload.id)
        assert done is not None
        return Response(status_code=204, headers=_headers(done))

    async def append(request: Request, upload: Upload, stop: asyncio.Event) -> Response:
        """Write the body at the upload's offset; keep every byte that arrived."""
        checksum = parse_upload_checksum(request.headers.get("upload-checksum"))
        if request.headers.get("upload-checksum") and checksum is None:
            return tus_problem(400, "Bad Upload-Checksum", "Send `sha256 <base64>`.")
        if checksum is not None and checksum[0] != "sha256":
            return tus_problem(400, "Unsupported checksum algorithm",
                               f"Use one of: {TUS_CHECKSUM_ALGORITHMS}.")
        start = upload.offset
        writer = await asyncio.to_thread(uploads.open_writer, upload)
        offset = start
        digest = hashlib.sha256() if checksum is not None else None
        too_long = False
        try:
            async for received in _chunks(request, stop, config.idle_timeout_s):
                room = upload.length - offset
                too_long = len(received) > room
                data = received[:room] if too_long else received
                await asyncio.to_thread(writer.write, data)
                offset += len(data)
                receiving[upload.id] = offset
                if digest is not None:
                    digest.update(data)
                if too_long:
                    break
        finally:
            # However the request ended (even cancelled), what reached us is kept: stored,
            # then counted, in one step a cancellation cannot split. A chunk whose
            # checksum does not match is not kept (tus checksum extension).
            verified = digest is None or (checksum is not None
                                          and digest.digest() == checksum[1])
            receiving.pop(upload.id, None)
            recorded: bool | None
            try:
                recorded = await asyncio.shield(asyncio.to_thread(writer.close, verified))
            except StorageUnavailableError as exc:
                log.warning("upload %s: the photo storage did not take %d bytes (%s); "
                            "nothing recorded", upload.id, offset - start, exc)
                recorded = None
        if recorded is None:
            return storage_down()
        if not verified:
            return tus_problem(460, "Checksum mismatch",
                               "The chunk arrived damaged; send it again.")
        if not recorded:  # a newer request for this upload moved it on meanwhile
            current_offset = (await asyncio.to_thread(uploads.get, upload.id) or upload).offset
            response = tus_problem(409, "Offset mismatch",
                                   f"The upload is at byte {current_offset}.")
            response.headers["Upload-Offset"] = str(current_offset)
            return response
        if too_long:
            return tus_problem(400, "Too much data",
                               f"The upload is {upload.length} bytes long.")
        fresh = await asyncio.to_thread(uploads.get, upload.id)
        assert fresh is not None
        if fresh.offset == fresh.length:
            return await bind(fresh)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and offset - start < int(declared):
            # A cut link, a killed app, a stall: normal in the field. One line, no
            # traceback; the bytes are kept and the client resumes from the offset.
            log.warning("upload %s interrupted after %d of %d bytes (kept, resumable at %d)",
                        upload.id, offset - start, int(declared), fresh.offset)
            config.on_outcome("interrupted")
        else:
            config.on_outcome("partial")
        return Response(status_code=204, headers=_headers(fresh))

    @app.options(UPLOADS_PATH, include_in_schema=False)
    async def tus_options() -> Response:
        return Response(status_code=204, headers={
            "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS, "Tus-Max-Size": str(config.max_image_bytes),
            "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS})

    @app.post(UPLOADS_PATH, status_code=201, summary="Create a photo upload (tus)",
              dependencies=NEEDS_CREDENTIAL, responses={
                  201: {"description": "Created (with the bytes sent, if any)",
                        "headers": UPLOAD_REPLY_HEADERS},
                  **errors(400, 403, 409, 412, 415, 429, 460)},
              openapi_extra={**tus_headers(
                  header("Upload-Length", {"type": "string", "pattern": "^[0-9]{1,12}$"}),
                  header("Upload-Metadata", {"type": "string"},
                         description="case_id, client_image_id and sha256 (hex), each "
                                     "`key base64(value)`, comma-separated"),
                  header("Upload-Checksum", {"type": "string"}, required=False,
                         description="`sha256 base64(digest)` of this request's body")),
                  "requestBody": OCTET_BODY_OPTIONAL})
    async def tus_create(request: Request) -> Response:
        if (bad := check_version(request)) is not None:
            return bad
        raw_length = request.headers.get("upload-length", "")
        if not raw_length.isdigit():
            return tus_problem(400, "Missing Upload-Length",
                               "Send Upload-Length (deferred lengths are not supported).")
        length = int(raw_length)
        if length > config.max_image_bytes:
            return tus_problem(413, "Photo too large",
                               f"The server accepts photos up to {config.max_image_bytes} "
                               "bytes.")
        header = request.headers.get("upload-metadata", "")
        metadata = parse_upload_metadata(header)
        if metadata is None or any(k not in metadata for k in ("case_id", "client_image_id",
                                                                "sha256")):
            return tus_problem(400, "Bad Upload-Metadata",
                               "Upload-Metadata needs case_id, client_image_id and sha256.")
        if not (is_canonical_uuid(metadata["case_id"])
                and is_canonical_uuid(metadata["client_image_id"])
                and _is_sha256(metadata["sha256"])):
            return tus_problem(400, "Bad Upload-Metadata",
                               "case_id and client_image_id must be UUIDs, sha256 64 hex "
                               "digits.")
        if (denied := await authority.claim(request, metadata["case_id"])) is not None:
            denied.headers["Tus-Resumable"] = TUS_VERSION
            return denied
        upload = await asyncio.to_thread(
            uploads.create, case_id=metadata["case_id"],
            client_image_id=metadata["client_image_id"], sha256=metadata["sha256"],
            length=length, metadata=header)
        location = f"{UPLOADS_PATH}/{upload.id}"
        if request.headers.get("content-type") == OFFSET_CONTENT_TYPE:
            async with slots.slot(str(request.state.device_id)) as granted:
                if not granted:  # created, nothing written: the client PATCHes later
                    return Response(status_code=201,
                                    headers=_headers(upload, Location=location))
                async with guards.writer(upload.id) as stop:  # creation-with-upload
                    reply = await append(request, upload, stop)
            if reply.status_code >= 400:
                return reply
            fresh = await asyncio.to_thread(uploads.get, upload.id) or upload
            return Response(status_code=201, headers=_headers(fresh, Location=location))
        return Response(status_code=201, headers=_headers(upload, Location=location))

    @app.head(UPLOADS_PATH + "/{upload_id}", summary="Offset of a photo upload (tus)",
              dependencies=NEEDS_CREDENTIAL,
              responses={200: {"description": "The upload's offset, length and metadata",
                               "headers": UPLOAD_REPLY_HEADERS},
                         **errors(403, 404, 410, 412, 423, body=False)},
              openapi_extra=tus_headers())
    async def tus_head(request: Request, upload_id: str = UploadIdPath) -> Response:
        if (bad := check_version(request)) is not None:
            return Response(status_code=bad.status_code, headers=dict(bad.headers))
        # A request still writing this upload (a killed client's bytes still arriving, a
        # stalled link) is given its grace and then stopped, so the offset is the truth
        # and the resuming client sends nothing twice.
        found = await current(upload_id, request)
        if isinstance(found, JSONResponse):
            return Response(status_code=found.status_code,
                            headers={"Tus-Resumable": TUS_VERSION})
        try:
            async with guards.writer(upload_id):
                found = await current(upload_id, request)
        except TakenOverError:
            return Response(status_code=423, headers={"Tus-Resumable": TUS_VERSION})
        if isinstance(found, JSONResponse):
            return Response(status_code=found.status_code,
                            headers={"Tus-Resumable": TUS_VERSION})
        return Response(status_code=200, headers=_headers(
            found, **{"Upload-Length": str(found.length), "Upload-Metadata": found.metadata}))

    @app.patch(UPLOADS_PATH + "/{upload_id}", summary="Append to a photo upload (tus)",
               dependencies=NEEDS_CREDENTIAL, status_code=204,
               responses={204: {"description": "Appended (or complete: then the server's "
                                               "photo id and digest)",
                                "headers": UPLOAD_REPLY_HEADERS},
                          **errors(400, 403, 404, 409, 410, 412, 415, 423, 429, 460)},
               openapi_extra={**tus_headers(
                   header("Upload-Offset", {"type": "string", "pattern": "^[0-9]{1,12}$"}),
                   header("Upload-Checksum", {"type": "string"}, required=False)),
                   "requestBody": OCTET_BODY})
    async def tus_patch(request: Request, upload_id: str = UploadIdPath) -> Response:
        if (bad := check_version(request)) is not None:
            return bad
        if request.headers.get("content-type") != OFFSET_CONTENT_TYPE:
            return tus_problem(415, "Wrong Content-Type", f"Send {OFFSET_CONTENT_TYPE}.")
        raw_offset = request.headers.get("upload-offset", "")
        if not raw_offset.isdigit():
            return tus_problem(400, "Missing Upload-Offset", "Send Upload-Offset.")
        if isinstance(found := await current(upload_id, request), JSONResponse):
            return found
        async with slots.slot(str(request.state.device_id)) as granted:
            if not granted:
                return too_many()
            return await patch_holding_a_slot(request, upload_id, raw_offset)

    async def patch_holding_a_slot(request: Request, upload_id: str,
                                   raw_offset: str) -> Response:
        try:
            async with guards.writer(upload_id) as stop:
                found = await current(upload_id, request)
                if isinstance(found, JSONResponse):
                    return found
                if found.complete:
                    return Response(status_code=204, headers=_headers(found))
                if int(raw_offset) != found.offset:
                    response = tus_problem(409, "Offset mismatch",
                                           f"The upload is at byte {found.offset}.")
                    response.headers["Upload-Offset"] = str(found.offset)
                    return response
                return await append(request, found, stop)
        except TakenOverError:
            return tus_problem(423, "Upload busy",
                               "Another request is still writing this upload; ask its "
                               "offset (HEAD) and try again.")

    @app.delete(UPLOADS_PATH + "/{upload_id}", status_code=204,
                summary="Abandon a photo upload (tus termination)",
                dependencies=NEEDS_CREDENTIAL, responses=errors(403, 404, 410, 412, 423),
                openapi_extra=tus_headers())
    async def tus_delete(request: Request, upload_id: str = UploadIdPath) -> Response:
        if (bad := check_version(request)) is not None:
            return bad
        if isinstance(found := await current(upload_id, request), JSONResponse):
            return found
        async with guards.writer(upload_id):
            found = await current(upload_id, request)
            if isinstance(found, JSONResponse):
                return found
            await asyncio.to_thread(uploads.delete, upload_id)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})

    return guards


def _is_sha256(value: str) -> bool:
    return re.fullmatch(SHA256_HEX, value) is not None


async def expire_periodically(uploads: UploadStore, every_s: float,
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                              ) -> None:
    """Remove expired partial uploads now and then (also done at start)."""
    while True:
        removed = await asyncio.to_thread(uploads.expire)
        if removed:
            log.info("removed %d expired upload(s)", removed)
        await sleep(every_s)

