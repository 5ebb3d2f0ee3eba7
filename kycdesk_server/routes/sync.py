"""The device's JSON routes: enrolment, health, the photos held for a case, submissions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from kycdesk.core.protocol import (
    API_VERSION,
    ENROL_PATH,
    LEASE_PATH,
    EnrolledDevice,
    Enrolment,
    Health,
    HeldImage,
    Lease,
    Receipt,
    Submission,
)
from kycdesk_server.errors import RequestRefusedError
from kycdesk_server.openapi_docs import CaseIdPath, errors
from kycdesk_server.routes.auth import AppServices, DeviceId
from kycdesk_server.storage import StoredSubmission

router = APIRouter()
# Case ids are canonical lowercase UUIDs, checked whole by the path pattern (a trailing
# newline is not an id: it would end up in folder names).
CaseId = Annotated[str, CaseIdPath]


def receipt(stored: StoredSubmission) -> Receipt:
    return Receipt(receipt_id=stored.receipt_id,
                   accepted_at=datetime.fromisoformat(stored.accepted_at.replace("Z",
                                                                                  "+00:00")),
                   revision=stored.revision, server_image_ids=stored.server_image_ids)


@router.post(ENROL_PATH, status_code=201, response_model=EnrolledDevice,
             summary="Trade a one-time enrolment code for this device's credential",
             responses=errors(403))
async def enrol(enrolment: Enrolment, services: AppServices) -> EnrolledDevice:
    enrolled = await asyncio.to_thread(services.devices.enrol, enrolment.code,
                                       enrolment.device_name, tablet_id=enrolment.tablet_id,
                                       verifier_name=enrolment.verifier_name)
    return EnrolledDevice(device_id=enrolled.device.id, credential=enrolled.credential,
                          office_secret=services.devices.office_secret_b64(enrolled.device),
                          org_recovery_key=enrolled.org_recovery_key)


@router.get(LEASE_PATH, response_model=Lease,
            summary="Renew this device's offline lease (also in every pull answer)",
            responses=errors(404))
async def lease(device: DeviceId, services: AppServices) -> Lease:
    found = await asyncio.to_thread(services.devices.lease, device)
    if found is None:
        raise RequestRefusedError(404, "No lease for this device",
                                  "This device was enrolled before leases existed; enrol "
                                  "it again.")
    return found


@router.get("/v1/health", response_model=Health, responses=errors())
async def health(_device: DeviceId, services: AppServices) -> Health:
    return Health(status="ok", server_time=datetime.now(UTC), api_version=API_VERSION,
                  max_image_bytes=services.uploads.config.max_image_bytes)


@router.get("/v1/cases/{case_id}/images", response_model=list[HeldImage],
            responses=errors(403))
async def held_images(case_id: CaseId, device: DeviceId, services: AppServices
                      ) -> list[HeldImage]:
    held = await asyncio.to_thread(services.submissions.held_images, case_id, device)
    return [HeldImage(client_image_id=i.client_image_id, server_image_id=i.server_image_id,
                      sha256=i.sha256, byte_size=i.byte_size) for i in held]


@router.put("/v1/cases/{case_id}/submission", status_code=201, response_model=Receipt,
            responses={**errors(403, 409), 200: {
                "description": "The same revision with the same body again: the same "
                               "receipt", "model": Receipt}})
async def submit(submission: Submission, case_id: CaseId, device: DeviceId,
                 services: AppServices) -> JSONResponse:
    accepted = await services.submissions.submit(case_id, submission, device)
    return JSONResponse(receipt(accepted.stored).model_dump(mode="json"),
                        status_code=201 if accepted.new else 200)


@router.get("/v1/cases/{case_id}/submission", response_model=Receipt,
            responses=errors(403, 404))
async def get_submission(case_id: CaseId, device: DeviceId, services: AppServices
                         ) -> Receipt:
    return receipt(await asyncio.to_thread(services.submissions.current, case_id, device))
