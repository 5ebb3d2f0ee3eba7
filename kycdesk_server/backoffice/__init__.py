"""The back office: reviewers and supervisors working in a browser (accounts, sessions,
the review of cases). Registered on the server's app by `register_backoffice`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

if TYPE_CHECKING:
    from kycdesk_server.app import ServerConfig
    from kycdesk_server.storage import ServerStore


def register_backoffice(app: FastAPI, store: ServerStore, config: ServerConfig) -> None:
    """Pages under /office/…, JSON under /api/office/…, the security headers on both,
    and the services on `app.state.office` (what the session dependency reads)."""
    from kycdesk_server.backoffice import (
        api,
        casework_api,
        casework_pages,
        device_pages,
        pages,
        review_api,
        review_pages,
    )
    from kycdesk_server.backoffice.review import ReviewError
    from kycdesk_server.backoffice.services import OfficeServices
    from kycdesk_server.backoffice.web import (
        STATIC,
        CsrfRefusedError,
        RoleRefusedError,
        SignInRequiredError,
        csrf_refused,
        role_refused,
        security_headers,
        sign_in_required,
    )

    del config  # nothing configurable yet (session lengths: SessionPolicy's defaults)
    app.state.office = OfficeServices.open(store)
    app.add_exception_handler(SignInRequiredError, sign_in_required)
    app.add_exception_handler(CsrfRefusedError, csrf_refused)
    app.add_exception_handler(RoleRefusedError, role_refused)
    app.add_exception_handler(ReviewError, review_api.review_refused)
    app.middleware("http")(security_headers)
    app.mount(STATIC, StaticFiles(directory=Path(__file__).parent / "static"),
              name="office-static")
    app.include_router(review_pages.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(review_api.router)
    app.include_router(casework_api.router)
    app.include_router(casework_pages.router)
    app.include_router(device_pages.router)
