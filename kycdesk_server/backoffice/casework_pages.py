"""The office's two-way pages (issue 17): the assignments page (cases given to tablets
and where each stands, tablets' requests for cases, handing a case over, publishing a
form version) and the "new case for a tablet" form. Server-rendered over the same
services as /api/office; forms post here (CSRF checked by the session dependency), the
acts need a supervisor (`require_role`), and each answers with a redirect
(post/redirect/get)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from kycdesk.core.form_schema import CHOICE_KINDS, FieldKind
from kycdesk_server.backoffice.assignments import NewAssignment, prefillable
from kycdesk_server.backoffice.form_publishing import MAX_DEFINITION_BYTES
from kycdesk_server.backoffice.handovers import FORCE_WARNING
from kycdesk_server.backoffice.review_api import CaseId
from kycdesk_server.backoffice.web import (
    PAGES,
    SignedInReviewer,
    Supervisor,
    client_address,
    render,
    services,
)

router = APIRouter(prefix=PAGES, include_in_schema=False)
# What the page offers to prefill: answers typed as text or picked from a list (numbers,
# yes/no and multiple choices are stored in forms the JSON API takes as they are).
PAGE_KINDS = {FieldKind.TEXT, FieldKind.MULTILINE, FieldKind.DATE, FieldKind.PHONE,
              FieldKind.EMAIL, FieldKind.ID_NUMBER, FieldKind.SINGLE_CHOICE}
DONE = {"created": "The case was created; the tablet gets it at its next sync.",
        "withdrawn": "The assignment was withdrawn.",
        "handing_over": "The old tablet is asked to send what it has and let the case go.",
        "forced": "The case was handed over; the old tablet keeps a read-only copy.",
        "granted": "The request was granted.", "refused": "The request was refused.",
        "published": "The form version was published; tablets get it at their next sync.",
        "corrected": "The correction goes to the tablet at its next sync."}


def _back(done: str, path: str = "/assignments") -> Response:
    return RedirectResponse(f"{PAGES}{path}?done={done}", status_code=303)


@router.get("/assignments")
async def assignments_page(request: Request, reviewer: SignedInReviewer,
                           done: str = "") -> Response:
    office = services(request)
    rows = await asyncio.to_thread(office.assignments.list)
    devices = await asyncio.to_thread(office.assignments.devices)
    handovers = await asyncio.to_thread(office.handovers.list)
    published = await asyncio.to_thread(office.forms.published)
    return render(request, "assignments.html", rows=rows, devices=devices,
                  handovers=handovers, published=published, done=DONE.get(done, ""),
                  may_act=reviewer.may_assign(), force_warning=FORCE_WARNING)


@router.get("/assignments/new")
async def new_assignment_page(request: Request, _actor: Supervisor,
                              form: str = "") -> Response:
    office = services(request)
    known = office.review.forms.known()
    form_id, _, version = form.partition("/")
    if (form_id, version) not in known:
        form_id, version = known[-1]
    definition = office.review.forms.get(form_id, version)
    assert definition is not None
    fields = [f for f in prefillable(definition).values() if f.kind in PAGE_KINDS]
    devices = await asyncio.to_thread(office.assignments.devices)
    return render(request, "assignment_new.html", known=known,
                  chosen=f"{form_id}/{version}", definition=definition, fields=fields,
                  choice_kinds=CHOICE_KINDS, devices=devices)


@router.post("/assignments")
async def create(request: Request, actor: Supervisor) -> Response:
    form = await request.form()
    form_id, _, version = str(form.get("form", "")).partition("/")
    prefill = {key.removeprefix("prefill:"): value.strip() for key, value in form.items()
               if key.startswith("prefill:") and isinstance(value, str) and value.strip()}
    new = NewAssignment(
        reference=str(form.get("reference", ""))[:200],
        applicant_name=str(form.get("applicant_name", ""))[:4000],
        address=str(form.get("address", ""))[:4000],
        device_name=str(form.get("device", ""))[:100], form_id=form_id[:100],
        form_version=version[:100], due_date=str(form.get("due_date", "")) or None,
        prefill=prefill, note=str(form.get("note", ""))[:4000])
    await asyncio.to_thread(services(request).assignments.create, actor, new,
                            address=client_address(request))
    return _back("created")


@router.post("/assignments/{case_id}/withdraw")
async def withdraw(request: Request, actor: Supervisor, case_id: CaseId,
                   note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    await asyncio.to_thread(services(request).assignments.withdraw, actor, case_id,
                            note=note, address=client_address(request))
    return _back("withdrawn")


@router.post("/cases/{case_id}/handover")
async def hand_over(request: Request, actor: Supervisor, case_id: CaseId, *,
                    device: Annotated[str, Form(max_length=100)],
                    force: Annotated[str, Form(max_length=10)] = "",
                    note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    await asyncio.to_thread(services(request).handovers.hand_over, actor, case_id, device,
                            force=force == "yes", note=note,
                            address=client_address(request))
    return _back("forced" if force == "yes" else "handing_over")


@router.post("/cases/{case_id}/correct")
async def correct(request: Request, actor: Supervisor, case_id: CaseId, *,
                  field_key: Annotated[str, Form(max_length=200)],
                  value: Annotated[str, Form(max_length=4000)],
                  note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    await asyncio.to_thread(services(request).assignments.correct, actor, case_id,
                            field_key, value, note=note, address=client_address(request))
    return RedirectResponse(f"{PAGES}/cases/{case_id}?done=corrected", status_code=303)


@router.post("/handovers/{handover_id}/grant")
async def grant(request: Request, actor: Supervisor, handover_id: str,
                force: Annotated[str, Form(max_length=10)] = "") -> Response:
    await asyncio.to_thread(services(request).handovers.grant, actor, handover_id[:64],
                            force=force == "yes", address=client_address(request))
    return _back("granted")


@router.post("/handovers/{handover_id}/refuse")
async def refuse(request: Request, actor: Supervisor, handover_id: str,
                 note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    await asyncio.to_thread(services(request).handovers.refuse, actor, handover_id[:64],
                            note=note, address=client_address(request))
    return _back("refused")


@router.post("/forms")
async def publish(request: Request, actor: Supervisor, definition: UploadFile,
                  sha256: Annotated[str, Form(max_length=64)] = "") -> Response:
    raw = await definition.read(MAX_DEFINITION_BYTES + 1)
    await asyncio.to_thread(services(request).forms.publish, actor, raw,
                            expected_sha256=sha256.strip() or None,
                            address=client_address(request))
    return _back("published")
