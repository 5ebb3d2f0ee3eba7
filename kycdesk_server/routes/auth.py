"""Device authentication as a dependency: a `/v1/…` route receives the device id
(`DeviceId`), or the request is answered before the route runs — 401 (no credential, a
wrong one) or 403 `device-revoked` with its proof (the device or its tablet was revoked;
services.devices.revoked_refusal). The bearer scheme is part of the OpenAPI contract."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kycdesk_server.services import Services
from kycdesk_server.services.devices import DeviceService

bearer = HTTPBearer(auto_error=False, scheme_name="DeviceCredential",
                    description="The device's credential from its enrolment (or a lab "
                                "token): `Authorization: Bearer <credential>`.")


def services(request: Request) -> Services:
    """The app's services (a dependency every route takes them through)."""
    found: Services = request.app.state.services
    return found


def device_service(request: Request) -> DeviceService:
    return services(request).devices


async def device_id(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        devices: Annotated[DeviceService, Depends(device_service)]) -> str:
    """The authenticated device's id (401 for no credential or a wrong one; 403
    `device-revoked` for a revoked device or tablet)."""
    token = credentials.credentials.strip() if credentials is not None else ""
    return await asyncio.to_thread(devices.authenticate, token)


DeviceId = Annotated[str, Depends(device_id)]
AppServices = Annotated[Services, Depends(services)]
