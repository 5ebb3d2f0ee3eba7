"""The office's two-way acts as JSON under /api/office/… (issue 17): assign a case to a
tablet, list assignments, correct an answer, withdraw, hand over (and grant or refuse a
tablet's request), publish a form version. Thin: the services decide and audit; every
state-changing route needs a supervisor or an admin (`require_role`), and the session
dependency checks CSRF on every POST."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from kycdesk.core.protocol import MAX_TEXT, SHA256_HEX
from kycdesk_server.backoffice.assignments import (
    AssignmentRow,
    DeviceChoice,
    NewAssignment,
)
from kycdesk_server.backoffice.form_publishing import PublishedForm
from kycdesk_server.backoffice.handovers import Handover
from kycdesk_server.backoffice.review_api import CaseId, errors
from kycdesk_server.backoffice.web import (
    API,
    SignedInReviewer,
    Supervisor,
    client_address,
    services,
)

router = APIRouter(prefix=API, tags=["office acts"])
HandoverId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="The handover's id")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignmentBody(_Body):
    reference: str = Field(min_length=1, max_length=100)
    applicant_name: str = Field(min_length=1, max_length=MAX_TEXT)
    address: str = Field(default="", max_length=MAX_TEXT)
    device: str = Field(min_length=1, max_length=100,
                        description="The tablet's name (or id) as enrolled")
    form_id: str = Field(default="individual_kyc", max_length=100)
    form_version: str = Field(max_length=100)
    due_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    prefill: dict[str, Any] = Field(default_factory=dict, max_length=500,
                                    description="Answers the office fills in, by field key")
    note: str = Field(default="", max_length=MAX_TEXT)


class Created(BaseModel):
    case_id: str


class CorrectionBody(_Body):
    field_key: str = Field(min_length=1, max_length=200)
    value: Any = Field(description="The new answer (text, number, yes/no, choices)")
    note: str = Field(default="", max_length=MAX_TEXT)


class WithdrawBody(_Body):
    note: str = Field(default="", max_length=MAX_TEXT)


class HandoverBody(_Body):
    device: str = Field(min_length=1, max_length=100, description="The tablet to hand to")
    force: bool = Field(default=False, description="Now, without waiting for the old "
                        "tablet: what it has not sent can then no longer reach the server")
    note: str = Field(default="", max_length=MAX_TEXT)


class GrantBody(_Body):
    force: bool = False


class RefuseBody(_Body):
    note: str = Field(default="", max_length=MAX_TEXT)


class PublishBody(_Body):
    definition: dict[str, Any]
    sha256: str | None = Field(default=None, pattern=SHA256_HEX,
                               description="If given, the definition must hash to it")


class Done(BaseModel):
    ok: bool = True


@router.get("/devices", response_model=list[DeviceChoice], responses=errors(),
            summary="Enrolled tablets a case can be assigned or handed to")
async def devices(request: Request, _reviewer: SignedInReviewer) -> list[DeviceChoice]:
    return await asyncio.to_thread(services(request).assignments.devices)


@router.get("/assignments", response_model=list[AssignmentRow], responses=errors(),
            summary="Cases assigned to tablets, newest first, with where each stands")
async def assignments(request: Request, _reviewer: SignedInReviewer) -> list[AssignmentRow]:
    return await asyncio.to_thread(services(request).assignments.list)


@router.post("/assignments", response_model=Created, status_code=201,
             responses=errors(403), summary="Create a case for a tablet (supervisors)")
async def assign(request: Request, actor: Supervisor, body: AssignmentBody) -> Created:
    new = NewAssignment(reference=body.reference, applicant_name=body.applicant_name,
                        device_name=body.device, form_id=body.form_id,
                        form_version=body.form_version, address=body.address,
                        due_date=body.due_date, prefill=body.prefill, note=body.note)
    case_id = await asyncio.to_thread(services(request).assignments.create, actor, new,
                                      address=client_address(request))
    return Created(case_id=case_id)


@router.post("/assignments/{case_id}/withdrawal", response_model=Done,
             responses=errors(403, 404, 409),
             summary="Withdraw an assignment nothing was submitted for (supervisors)")
async def withdraw(request: Request, actor: Supervisor, case_id: CaseId,
                   body: WithdrawBody) -> Done:
    await asyncio.to_thread(services(request).assignments.withdraw, actor, case_id,
                            note=body.note, address=client_address(request))
    return Done()


@router.post("/cases/{case_id}/corrections", response_model=Done,
             responses=errors(403, 404),
             summary="Correct an answer of a case a tablet holds (supervisors)")
async def correct(request: Request, actor: Supervisor, case_id: CaseId,
                  body: CorrectionBody) -> Done:
    await asyncio.to_thread(services(request).assignments.correct, actor, case_id,
                            body.field_key, body.value, note=body.note,
                            address=client_address(request))
    return Done()


@router.post("/cases/{case_id}/handover", response_model=Done,
             responses=errors(403, 404, 409),
             summary="Hand the case to another tablet (supervisors); force: now")
async def hand_over(request: Request, actor: Supervisor, case_id: CaseId,
                    body: HandoverBody) -> Done:
    await asyncio.to_thread(services(request).handovers.hand_over, actor, case_id,
                            body.device, force=body.force, note=body.note,
                            address=client_address(request))
    return Done()


@router.get("/handovers", response_model=list[Handover], responses=errors(),
            summary="Tablets' requests for cases, and handovers under way")
async def handovers(request: Request, _reviewer: SignedInReviewer) -> list[Handover]:
    return await asyncio.to_thread(services(request).handovers.list)


@router.post("/handovers/{handover_id}/grant", response_model=Done,
             responses=errors(403, 404, 409), summary="Grant a tablet's request (supervisors)")
async def grant(request: Request, actor: Supervisor, handover_id: HandoverId,
                body: GrantBody) -> Done:
    await asyncio.to_thread(services(request).handovers.grant, actor, handover_id,
                            force=body.force, address=client_address(request))
    return Done()


@router.post("/handovers/{handover_id}/refusal", response_model=Done,
             responses=errors(403, 404, 409), summary="Refuse a tablet's request (supervisors)")
async def refuse(request: Request, actor: Supervisor, handover_id: HandoverId,
                 body: RefuseBody) -> Done:
    await asyncio.to_thread(services(request).handovers.refuse, actor, handover_id,
                            note=body.note, address=client_address(request))
    return Done()


@router.get("/forms", response_model=list[PublishedForm], responses=errors(),
            summary="Form versions published to the tablets, newest first")
async def forms(request: Request, _reviewer: SignedInReviewer) -> list[PublishedForm]:
    return await asyncio.to_thread(services(request).forms.published)


@router.post("/forms", response_model=PublishedForm, status_code=201,
             responses=errors(403, 409),
             summary="Publish a form version to every tablet (checked: schema, hash)")
async def publish(request: Request, actor: Supervisor, body: PublishBody) -> PublishedForm:
    return await asyncio.to_thread(services(request).forms.publish, actor, body.definition,
                                   expected_sha256=body.sha256,
                                   address=client_address(request))

