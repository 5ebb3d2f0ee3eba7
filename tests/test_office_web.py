"""The back office's web shell in process (the app over ASGI, no socket): role checks of
`require_role`, CSRF on the JSON API, and autoescaping of every template."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from kycdesk_server.app import ServerConfig, create_app
from kycdesk_server.backoffice.identity import Reviewer, Role
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.web import (
    CSRF_HEADER,
    SESSION_COOKIE,
    TEMPLATES,
    SignedInReviewer,
    require_role,
)
from kycdesk_server.storage import ServerStore

SupervisorOrAdmin = require_role("supervisor", "admin")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    store = ServerStore(tmp_path / "data")
    app = create_app(store, ServerConfig(tokens=set()))

    @app.get("/api/office/test/assign")
    async def assign_page(reviewer: Annotated[Reviewer, Depends(SupervisorOrAdmin)]
                          ) -> dict[str, str]:
        return {"by": reviewer.username}

    @app.post("/api/office/test/echo")
    async def echo(reviewer: SignedInReviewer) -> dict[str, str]:
        return {"by": reviewer.username}

    yield app
    store.close()


def _send(app: FastAPI, method: str, path: str,
          headers: dict[str, str] | None = None) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://testserver") as client:
            return await client.request(method, path, headers=headers)
    return asyncio.run(go())


def _signed_in(app: FastAPI, role: Role) -> dict[str, str]:
    """The headers of a signed-in page's script: the session cookie and the CSRF token."""
    office: OfficeServices = app.state.office
    account = office.accounts.add(f"user-{role}", role, "a long enough passphrase",
                                  by=None, address="test")
    token = office.sessions.start(account.id, "signed_in", "test")
    session = office.sessions.resume(token)
    assert session is not None
    return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: session.csrf_secret}


def test_require_role_refuses_other_roles(app: FastAPI) -> None:
    assert _send(app, "GET", "/api/office/test/assign").status_code == 401
    refused = _send(app, "GET", "/api/office/test/assign", _signed_in(app, "reviewer"))
    assert refused.status_code == 403 and refused.json()["title"] == "Not allowed"
    allowed = _send(app, "GET", "/api/office/test/assign", _signed_in(app, "supervisor"))
    assert allowed.json() == {"by": "user-supervisor"}


def test_json_posts_need_the_csrf_header(app: FastAPI) -> None:
    headers = _signed_in(app, "reviewer")
    cookie_only = {"Cookie": headers["Cookie"]}
    assert _send(app, "POST", "/api/office/test/echo", cookie_only).status_code == 403
    forged = {**headers, CSRF_HEADER: headers[CSRF_HEADER] + "x"}
    assert _send(app, "POST", "/api/office/test/echo", forged).status_code == 403
    assert _send(app, "POST", "/api/office/test/echo", headers).json() == \
        {"by": "user-reviewer"}


def test_templates_escape_what_they_are_given() -> None:
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    html = TEMPLATES.get_template("error.html").render(title=hostile, message=hostile)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&#34;&gt;&lt;img" in html


def test_https_responses_ask_for_strict_transport(app: FastAPI) -> None:
    response = _send(app, "GET", "/office/sign-in")  # https://testserver
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "default-src 'self'" in response.headers["content-security-policy"]
