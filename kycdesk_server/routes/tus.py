"""tus 1.0.0 photo uploads under /v1/uploads: core, creation, creation-with-upload,
expiration, termination and checksum (sha1, sha256). See docs/sync-protocol.md; the
behaviour is kycdesk_server.services.uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response

from kycdesk.core.protocol import (
    OFFSET_CONTENT_TYPE,
    SERVER_IMAGE_ID_HEADER,
    TUS_CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    UPLOADS_PATH,
    repr_digest,
)
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.openapi_docs import UploadIdPath, errors, header, tus_headers
from kycdesk_server.routes.auth import AppServices, DeviceId
from kycdesk_server.uploads import Upload

_STR = {"schema": {"type": "string"}}
UPLOAD_REPLY_HEADERS = {"Tus-Resumable": _STR, "Upload-Offset": _STR, "Upload-Expires": _STR,
                        "Location": {**_STR, "description": "created: the upload's address"},
                        "Kycdesk-Server-Image-Id": {**_STR, "description": "once complete"},
                        "Repr-Digest": {**_STR, "description": "once complete: sha-256"}}
OCTET_BODY = {"required": True, "content": {
    "application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
OCTET_BODY_OPTIONAL = {**OCTET_BODY, "required": False}


def tus_version(tus_resumable: Annotated[str | None, Header(include_in_schema=False)] = None
                ) -> None:
    """Every tus request but OPTIONS says the protocol version it speaks."""
    if tus_resumable is None:
        raise RequestRefusedError(400, "Missing Tus-Resumable",
                                  f"Send Tus-Resumable: {TUS_VERSION}.")
    if tus_resumable != TUS_VERSION:
        raise RequestRefusedError(412, "Unsupported tus version",
                                  f"Send Tus-Resumable: {TUS_VERSION}.",
                                  headers={"Tus-Version": TUS_VERSION})


# The version is checked before the credential, as tus servers do.
router = APIRouter(dependencies=[Depends(tus_version)])
options_router = APIRouter()
UploadId = Annotated[str, UploadIdPath]


def _http_date(iso: str) -> str:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def upload_headers(upload: Upload, **extra: str) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(upload.offset),
               "Upload-Expires": _http_date(upload.expires_at), "Cache-Control": "no-store",
               **extra}
    if upload.complete:
        headers[SERVER_IMAGE_ID_HEADER] = upload.server_image_id or ""
        headers["Repr-Digest"] = repr_digest(upload.sha256)
    return headers


@options_router.options(UPLOADS_PATH, include_in_schema=False)
async def tus_options(services: AppServices) -> Response:
    return Response(status_code=204, headers={
        "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION,
        "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(services.uploads.config.max_image_bytes),
        "Tus-Checksum-Algorithm": TUS_CHECKSUM_ALGORITHMS})


@router.post(UPLOADS_PATH, status_code=201, summary="Create a photo upload (tus)",
             responses={201: {"description": "Created (with the bytes sent, if any)",
                              "headers": UPLOAD_REPLY_HEADERS},
                        **errors(400, 403, 409, 412, 415, 429, 460)},
             openapi_extra={**tus_headers(
                 header("Upload-Length", {"type": "string", "pattern": "^[0-9]{1,12}$"}),
                 header("Upload-Metadata", {"type": "string"},
                        description="case_id, client_image_id and sha256 (hex), each "
                                    "`key base64(value)`, comma-separated"),
                 header("Upload-Checksum", {"type": "string"}, required=False,
                        description="`sha1|sha256 base64(digest)` of this request's body")),
                 "requestBody": OCTET_BODY_OPTIONAL})
async def tus_create(request: Request, device: DeviceId, services: AppServices) -> Response:
    with_body = request.headers.get("content-type") == OFFSET_CONTENT_TYPE
    upload = await services.uploads.create(
        device, length=request.headers.get("upload-length"),
        metadata=request.headers.get("upload-metadata", ""),
        body=request.stream if with_body else None,
        declared_body=request.headers.get("content-length"),
        checksum=request.headers.get("upload-checksum"))
    return Response(status_code=201, headers=upload_headers(
        upload, Location=f"{UPLOADS_PATH}/{upload.id}"))


@router.head(UPLOADS_PATH + "/{upload_id}", summary="Offset of a photo upload (tus)",
             responses={200: {"description": "The upload's offset, length and metadata",
                              "headers": UPLOAD_REPLY_HEADERS},
                        **errors(403, 404, 410, 412, 423, body=False)},
             openapi_extra=tus_headers())
async def tus_head(upload_id: UploadId, device: DeviceId, services: AppServices) -> Response:
    found = await services.uploads.offset(upload_id, device)
    return Response(status_code=200, headers=upload_headers(
        found, **{"Upload-Length": str(found.length), "Upload-Metadata": found.metadata}))


@router.patch(UPLOADS_PATH + "/{upload_id}", summary="Append to a photo upload (tus)",
              status_code=204,
              responses={204: {"description": "Appended (or complete: then the server's "
                                              "photo id and digest)",
                               "headers": UPLOAD_REPLY_HEADERS},
                         **errors(400, 403, 404, 409, 410, 412, 415, 423, 429, 460)},
              openapi_extra={**tus_headers(
                  header("Upload-Offset", {"type": "string", "pattern": "^[0-9]{1,12}$"}),
                  header("Upload-Checksum", {"type": "string"}, required=False)),
                  "requestBody": OCTET_BODY})
async def tus_patch(request: Request, upload_id: UploadId, device: DeviceId,
                    services: AppServices) -> Response:
    if request.headers.get("content-type") != OFFSET_CONTENT_TYPE:
        raise RequestRefusedError(415, "Wrong Content-Type", f"Send {OFFSET_CONTENT_TYPE}.")
    upload = await services.uploads.append(
        upload_id, device, offset=request.headers.get("upload-offset"), body=request.stream,
        declared_body=request.headers.get("content-length"),
        checksum=request.headers.get("upload-checksum"))
    return Response(status_code=204, headers=upload_headers(upload))


@router.delete(UPLOADS_PATH + "/{upload_id}", status_code=204,
               summary="Abandon a photo upload (tus termination)",
               responses=errors(403, 404, 410, 412, 423), openapi_extra=tus_headers())
async def tus_delete(upload_id: UploadId, device: DeviceId, services: AppServices
                     ) -> Response:
    await services.uploads.terminate(upload_id, device)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
