"""tus photo uploads as a service (the protocol: docs/sync-protocol.md; the routes:
kycdesk_server.routes.tus).

A finished upload is verified against the SHA-256 the client declared in its metadata and
bound to (case id, client image id): the same id with the same digest gives the same
server id, another digest is a 409. An upload never reaches its length without being
bound: a request that would write past it is refused before its bytes count.

Every method either returns the upload as it now stands or raises `RequestRefusedError`
(a known refusal) or `StorageUnavailableError` (a part is down: nothing acknowledged).
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

from starlette.requests import ClientDisconnect

from kycdesk.core.ids import is_canonical_uuid
from kycdesk.core.protocol import (
    SHA256_HEX,
    TUS_CHECKSUM_ALGORITHMS,
    parse_upload_checksum,
    parse_upload_metadata,
)
from kycdesk_server.errors import RequestRefusedError, StorageUnavailableError
from kycdesk_server.headers import decimal
from kycdesk_server.locks import DeviceSlots, KeyedLocks, TakenOverError, UploadGuards
from kycdesk_server.services.devices import DeviceService
from kycdesk_server.storage import ImageConflictError, ServerStore
from kycdesk_server.uploads import Upload, UploadStore

log = logging.getLogger("kycdesk_server.tus")

Body = Callable[[], AsyncIterator[bytes]]  # the request body as it arrives
CHECKSUMS: dict[str, Callable[[], hashlib._Hash]] = {"sha1": hashlib.sha1,
                                                     "sha256": hashlib.sha256}


@dataclass
class TusConfig:
    max_image_bytes: int
    idle_timeout_s: float = 60.0  # no byte for this long: the request is over (kept)
    uploads_per_device: int = 8   # requests of one device writing at once
    on_outcome: Callable[[str], None] = lambda _outcome: None  # metrics: how uploads end


async def _chunks(body: Body, stop: asyncio.Event, idle_timeout_s: float
                  ) -> AsyncIterator[bytes]:
    """The request body as it arrives; ends quietly when the client is gone, when no byte
    came for `idle_timeout_s`, or when a newer request for this upload asks us to stop."""
    stream = body().__aiter__()
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


def _busy() -> RequestRefusedError:
    return RequestRefusedError(423, "Upload busy",
                               "Another request is still writing this upload; ask its "
                               "offset (HEAD) and try again.")


def _offset_mismatch(offset: int) -> RequestRefusedError:
    return RequestRefusedError(409, "Offset mismatch", f"The upload is at byte {offset}.",
                               headers={"Upload-Offset": str(offset)})


class UploadService:
    def __init__(self, store: ServerStore, uploads: UploadStore, config: TusConfig, *,
                 devices: DeviceService, image_locks: KeyedLocks) -> None:
        self.store, self.uploads, self.config = store, uploads, config
        self.devices, self.image_locks = devices, image_locks
        self.guards = UploadGuards()
        self.slots = DeviceSlots(config.uploads_per_device)
        # Bytes received by requests still running, per upload (this process): shown by
        # the control endpoint, so a test can cut a link once the server has the bytes.
        self.receiving: dict[str, int] = {}

    # -- creation ------------------------------------------------------------------------
    async def create(self, device_id: str, *, length: str | None, metadata: str,
                     body: Body | None, declared_body: str | None,
                     checksum: str | None) -> Upload:
        """A new upload (and its first bytes when `body` is given: creation-with-upload;
        a device at its limit of writing requests gets the upload without them)."""
        size = decimal(length)
        if size is None:
            raise RequestRefusedError(400, "Missing Upload-Length",
                                      "Send Upload-Length as digits (deferred lengths are "
                                      "not supported).")
        if size > self.config.max_image_bytes:
            raise RequestRefusedError(413, "Photo too large",
                                      "The server accepts photos up to "
                                      f"{self.config.max_image_bytes} bytes.")
        values = parse_upload_metadata(metadata)
        if values is None or any(k not in values for k in ("case_id", "client_image_id",
                                                            "sha256")):
            raise RequestRefusedError(400, "Bad Upload-Metadata",
                                      "Upload-Metadata needs case_id, client_image_id and "
                                      "sha256.")
        if not (is_canonical_uuid(values["case_id"])
                and is_canonical_uuid(values["client_image_id"])
                and re.fullmatch(SHA256_HEX, values["sha256"]) is not None):
            raise RequestRefusedError(400, "Bad Upload-Metadata",
                                      "case_id and client_image_id must be UUIDs, sha256 64 "
                                      "hex digits.")
        await asyncio.to_thread(self.devices.claim, values["case_id"], device_id)
        upload = await asyncio.to_thread(
            self.uploads.create, case_id=values["case_id"],
            client_image_id=values["client_image_id"], sha256=values["sha256"],
            length=size, metadata=metadata)
        if body is None:
            return upload
        async with self.slots.slot(device_id) as granted:
            if not granted:  # created, nothing written: the client PATCHes later
                return upload
            async with self.guards.writer(upload.id) as stop:
                return await self._append(upload, body, stop, declared_body, checksum)

    # -- offset (HEAD) ---------------------------------------------------------------------
    async def offset(self, upload_id: str, device_id: str) -> Upload:
        """The upload as it stands. A request still writing it (a killed client's bytes
        still arriving, a stalled link) is given its grace and then stopped, so the offset
        is the truth and the resuming client sends nothing twice."""
        await self.current(upload_id, device_id)
        try:
            async with self.guards.writer(upload_id):
                return await self.current(upload_id, device_id)
        except TakenOverError:
            raise _busy() from None

    # -- append (PATCH) --------------------------------------------------------------------
    async def append(self, upload_id: str, device_id: str, *, offset: str | None,
                     body: Body, declared_body: str | None, checksum: str | None) -> Upload:
        start = decimal(offset)
        if start is None:
            raise RequestRefusedError(400, "Missing Upload-Offset",
                                      "Send Upload-Offset as digits.")
        await self.current(upload_id, device_id)
        async with self.slots.slot(device_id) as granted:
            if not granted:
                self.config.on_outcome("refused_busy")
                raise RequestRefusedError(
                    429, "Too many uploads at once",
                    f"A device may write {self.config.uploads_per_device} uploads at a "
                    "time; try again shortly.", headers={"Retry-After": "5"})
            try:
                async with self.guards.writer(upload_id) as stop:
                    found = await self.current(upload_id, device_id)
                    if found.complete:
                        return found
                    if start != found.offset:
                        raise _offset_mismatch(found.offset)
                    return await self._append(found, body, stop, declared_body, checksum)
            except TakenOverError:
                raise _busy() from None

    # -- termination (DELETE) --------------------------------------------------------------
    async def terminate(self, upload_id: str, device_id: str) -> None:
        await self.current(upload_id, device_id)
        async with self.guards.writer(upload_id):
            await self.current(upload_id, device_id)
            await asyncio.to_thread(self.uploads.delete, upload_id)

    # -- shared ----------------------------------------------------------------------------
    async def current(self, upload_id: str, device_id: str) -> Upload:
        """The upload, if it exists, has not expired and is this device's (checked before
        any guard is taken: another device must not even interrupt the owner's writes)."""
        upload = await asyncio.to_thread(self.uploads.get, upload_id) \
            if len(upload_id) == 32 else None
        if upload is None:
            raise RequestRefusedError(404, "No such upload", "Create a new upload.")
        await asyncio.to_thread(self.devices.check, upload.case_id, device_id)
        if not upload.complete and upload.expired(datetime.now(UTC)):
            await asyncio.to_thread(self.uploads.delete, upload.id)
            raise RequestRefusedError(410, "Upload expired", "Create a new upload.")
        return upload

    async def _append(self, upload: Upload, body: Body, stop: asyncio.Event,
                      declared_body: str | None, checksum_header: str | None) -> Upload:
        """Write the body at the upload's offset; keep every byte that arrived."""
        checksum = parse_upload_checksum(checksum_header)
        if checksum_header and checksum is None:
            raise RequestRefusedError(400, "Bad Upload-Checksum",
                                      "Send `<algorithm> <base64 digest>`.")
        if checksum is not None and checksum[0] not in CHECKSUMS:
            raise RequestRefusedError(400, "Unsupported checksum algorithm",
                                      f"Use one of: {TUS_CHECKSUM_ALGORITHMS}.")
        room = upload.length - upload.offset
        declared = decimal(declared_body)
        if declared is not None and declared > room:
            raise _too_much(upload)
        writer = await asyncio.to_thread(self.uploads.open_writer, upload)
        start = offset = upload.offset
        digest = CHECKSUMS[checksum[0]]() if checksum is not None else None
        too_long = False
        try:
            async for received in _chunks(body, stop, self.config.idle_timeout_s):
                if len(received) > upload.length - offset:
                    too_long = True  # never count a byte past the length: drop them all
                    break
                await asyncio.to_thread(writer.write, received)
                offset += len(received)
                self.receiving[upload.id] = offset
                if digest is not None:
                    digest.update(received)
        finally:
            # However the request ended (even cancelled), what reached us is kept: stored,
            # then counted, in one step a cancellation cannot split. A chunk whose
            # checksum does not match is not kept (tus checksum extension), nor a body
            # longer than the upload.
            verified = not too_long and (digest is None or (
                checksum is not None and digest.digest() == checksum[1]))
            self.receiving.pop(upload.id, None)
            try:
                recorded = await asyncio.shield(asyncio.to_thread(writer.close, verified))
            except StorageUnavailableError as exc:
                self.config.on_outcome("storage_unavailable")
                log.warning("upload %s: the photo storage did not take %d bytes (%s); "
                            "nothing recorded", upload.id, offset - start, exc.reason)
                raise
        if too_long:
            raise _too_much(upload)
        if not verified:
            raise RequestRefusedError(460, "Checksum mismatch",
                                      "The chunk arrived damaged; send it again.")
        if not recorded:  # a newer request for this upload moved it on meanwhile
            moved = await asyncio.to_thread(self.uploads.get, upload.id)
            raise _offset_mismatch((moved or upload).offset)
        fresh = await asyncio.to_thread(self.uploads.get, upload.id)
        assert fresh is not None
        if fresh.offset == fresh.length:
            return await self._bind(fresh)
        if declared is not None and offset - start < declared:
            # A cut link, a killed app, a stall: normal in the field. One line, no
            # traceback; the bytes are kept and the client resumes from the offset.
            log.warning("upload %s interrupted after %d of %d bytes (kept, resumable at %d)",
                        upload.id, offset - start, declared, fresh.offset)
            self.config.on_outcome("interrupted")
        else:
            self.config.on_outcome("partial")
        return fresh

    async def _bind(self, upload: Upload) -> Upload:
        """The last byte arrived: verify the whole upload, then hold it as the photo."""
        try:
            return await self._hold(upload)
        except StorageUnavailableError:
            self.config.on_outcome("storage_unavailable")
            raise

    async def _hold(self, upload: Upload) -> Upload:
        with tempfile.TemporaryDirectory(prefix="kycdesk-assemble-",
                                         dir=self.store.tmp_dir) as folder:
            whole, actual = await asyncio.to_thread(self.uploads.assemble, upload,
                                                    Path(folder))
            if actual != upload.sha256:
                self.config.on_outcome("digest_mismatch")
                await asyncio.to_thread(self.uploads.delete, upload.id)
                raise RequestRefusedError(422, "Digest mismatch",
                                          "The photo arrived damaged or changed: its "
                                          "SHA-256 does not match the one declared. Upload "
                                          "it again.")
            async with self.image_locks.hold(upload.client_image_id):
                try:
                    stored = await asyncio.to_thread(
                        self.store.hold_image, upload.case_id, upload.client_image_id,
                        whole, actual, upload.length)
                except ImageConflictError as conflict:
                    raise RequestRefusedError(409, conflict.title, conflict.detail) \
                        from None
                await asyncio.to_thread(self.uploads.mark_complete, upload.id,
                                        stored.server_image_id)
        await asyncio.to_thread(self.uploads.release, upload.id)
        self.config.on_outcome("completed")
        done = await asyncio.to_thread(self.uploads.get, upload.id)
        assert done is not None
        return done


def _too_much(upload: Upload) -> RequestRefusedError:
    return RequestRefusedError(400, "Too much data",
                               f"The upload is {upload.length} bytes long and at byte "
                               f"{upload.offset}; send at most the rest.")


async def expire_periodically(uploads: UploadStore, every_s: float,
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
                              ) -> None:
    """Remove expired partial uploads now and then (also done at start)."""
    while True:
        try:
            removed = await asyncio.to_thread(uploads.expire)
        except StorageUnavailableError as exc:
            log.warning("expiring uploads: %s (tried again later)", exc.reason)
            removed = 0
        if removed:
            log.info("removed %d expired upload(s)", removed)
        await sleep(every_s)
