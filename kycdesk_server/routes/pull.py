"""The device's two-way routes (docs/sync-protocol.md "Pull"): the pull, the photos of a
case it holds (ranges), a request for another device's case, the release after a
handover. Thin: the behaviour is in kycdesk_server.services.pull / .handovers."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from kycdesk.core.protocol import (
    PULL_PATH,
    UUID_TEXT,
    PullReply,
    PullRequest,
)
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
    reply = await asyncio.to_thread(services.pull.pull, device, body)
    # Unused fields left out: an empty pull stays one small answer.
    return JSONResponse(reply.model_dump(mode="json", exclude_defaults=True))
