"""The office's tablets page (issue 18): every tablet with its verifiers' devices, and
for supervisors the acts on them — revoke a device or a whole tablet (a confirmation
box must be ticked: the tablet erases what it holds), show today's unlock code (extend
the lease, release a wrong-PIN lockout), release a lockout through the tablet's other
verifiers' sync. Forms post here (CSRF checked by the session dependency); every act is
an audit row (DeviceAdmin); the code is shown on the answer page, never put in a URL."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kycdesk.core.office_codes import utc_today
from kycdesk_server.backoffice.device_admin import DeviceActRefusedError
from kycdesk_server.backoffice.web import (
    PAGES,
    SignedInReviewer,
    Supervisor,
    client_address,
    render,
    services,
)

router = APIRouter(prefix=PAGES, include_in_schema=False)
DONE = {"revoked": "Revoked. The tablet stops and erases what it holds at its next "
                   "contact with the server.",
        "released": "Released. The verifier can sign in again once another verifier of "
                    "the tablet has synced."}
PURPOSE_WORDS = {"lease": "extend the offline lease",
                 "pin-release": "release a wrong-PIN lockout"}


def _back(done: str) -> Response:
    return RedirectResponse(f"{PAGES}/devices?done={done}", status_code=303)


@router.get("/devices")
async def devices_page(request: Request, reviewer: SignedInReviewer,
                       done: str = "") -> Response:
    tablets = await asyncio.to_thread(services(request).devices.tablets)
    return render(request, "devices.html", tablets=tablets, done=DONE.get(done, ""),
                  may_act=reviewer.may_assign(), purposes=PURPOSE_WORDS)


@router.post("/devices/{device_id}/revoke")
async def revoke(request: Request, actor: Supervisor, device_id: str, *,
                 confirm: Annotated[str, Form(max_length=10)] = "",
                 whole_tablet: Annotated[str, Form(max_length=10)] = "") -> Response:
    if confirm != "yes":
        raise DeviceActRefusedError("Tick the box that confirms the tablet will erase "
                                    "what it holds; nothing was revoked.")
    await asyncio.to_thread(services(request).devices.revoke, actor, device_id[:64],
                            whole_tablet=whole_tablet == "yes",
                            address=client_address(request))
    return _back("revoked")


@router.post("/devices/{device_id}/code")
async def unlock_code(request: Request, actor: Supervisor, device_id: str, *,
                      purpose: Annotated[str, Form(max_length=20)]) -> Response:
    office = services(request)
    code = await asyncio.to_thread(office.devices.code, actor, device_id[:64], purpose,
                                   address=client_address(request))
    device = await asyncio.to_thread(office.devices.registry.get, device_id[:64])
    return render(request, "device_code.html", code=code, device=device,
                  purpose=PURPOSE_WORDS.get(purpose, purpose), day=utc_today().isoformat())


@router.post("/devices/{device_id}/release")
async def release(request: Request, actor: Supervisor, device_id: str) -> Response:
    await asyncio.to_thread(services(request).devices.release, actor, device_id[:64],
                            address=client_address(request))
    return _back("released")
