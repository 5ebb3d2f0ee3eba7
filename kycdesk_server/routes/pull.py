"""The device's two-way routes (docs/sync-protocol.md "Pull"): the pull, the photos of a
case it holds (ranges), a request for another device's case, the release after a
handover. Thin: the behaviour is in kycdesk_server.services.pull / .handovers."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from kycdesk.core.protocol import (
    PULL_PATH,
    UUID_TEXT,
    HandoverRequest,
    PullReply,
    PullRequest,
    Release,
    repr_digest,
)
from kycdesk_server.backoffice.photo_bytes import etag, ranged_response
from kycdesk_server.openapi_docs import CaseIdPath, errors
from kycdesk_server.routes.auth import AppServices, DeviceId

router = APIRouter()
CaseId = Annotated[str, CaseIdPath]
ImageId = Annotated[str, Path(pattern=UUID_TEXT, description="The photo's client image id")]


@router.post(PULL_PATH, response_model=PullReply, response_model_exclude_defaults=True,
             summary="What changed for this device since its token (assignments, returns, "
                     "decisions, corrections, handovers, forms); 412: resync",
             responses=errors(412))
async def pull(body: PullRequest, device: DeviceId, services: AppServices) -> JSONResponse:
    def answer() -> PullReply:
        reply = services.pull.pull(device, body)
        lease, released = services.devices.after_pull(device)
        return reply.model_copy(update={"lease": lease, "released_devices": released})

    reply = await asyncio.to_thread(answer)
    # Unused fields left out: an empty pull stays one small answer.
    return JSONResponse(reply.model_dump(mode="json", exclude_defaults=True))


@router.get("/v1/cases/{case_id}/images/{client_image_id}", response_class=Response,
            summary="A photo of a case this device holds (handed over): single byte "
                    "ranges to resume, Repr-Digest (SHA-256 of the whole), strong ETag",
            responses={**errors(403, 404, 416), 200: {
                "description": "The photo's bytes",
                "content": {"application/octet-stream": {}}},
                206: {"description": "The requested byte range"}})
async def photo(case_id: CaseId, client_image_id: ImageId, device: DeviceId,
                services: AppServices, request: Request) -> Response:
    held = await asyncio.to_thread(services.pull.photo, device, case_id, client_image_id)
    tag = etag(held.sha256)
    headers = {"ETag": tag, "Accept-Ranges": "bytes", "Repr-Digest": repr_digest(held.sha256)}
    return ranged_response(request, tag=tag, size=held.byte_size,
                           media_type="application/octet-stream", headers=headers,
                           body=lambda start, end: services.pull.photo_bytes(held, start, end))


@router.post("/v1/cases/{case_id}/handover-requests", status_code=202,
             summary="This device holds an imported copy of another device's case: ask "
                     "the office to hand it over", responses=errors(404, 409))
async def request_handover(body: HandoverRequest, case_id: CaseId, device: DeviceId,
                           services: AppServices) -> JSONResponse:
    handover_id = await asyncio.to_thread(services.handovers.request, device, case_id, body)
    return JSONResponse({"request_id": handover_id, "status": "requested"},
                        status_code=202)


@router.post("/v1/cases/{case_id}/release", status_code=200,
             summary="After a handover_out: everything unsent was sent; the case goes to "
                     "the device it was handed to", responses=errors(409))
async def release(body: Release, case_id: CaseId, device: DeviceId,
                  services: AppServices) -> JSONResponse:
    await asyncio.to_thread(services.handovers.release, device, case_id, body)
    return JSONResponse({"case_id": case_id, "status": "released"})
