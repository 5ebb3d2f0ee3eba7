"""The back office's web shell in process: role checks of `require_role`, CSRF on the JSON
API, and autoescaping of every template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

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
def client(tmp_path: Path) -> Iterator[tuple[TestClient, OfficeServices]]:
    store = ServerStore(tmp_path / "data")
    app = create_app(store, ServerConfig(tokens=set()))

    @app.get("/api/office/test/assign")
    async def assign_page(reviewer: Annotated[Reviewer, Depends(SupervisorOrAdmin)]
                          ) -> dict[str, str]:
        return {"by": reviewer.username}

    @app.post("/api/office/test/echo")
    async def echo(reviewer: SignedInReviewer) -> dict[str, str]:
        return {"by": reviewer.username}

    # https: the session cookie is Secure (a browser keeps it on 127.0.0.1 only).
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client, app.state.office
    store.close()


def _signed_in(office: OfficeServices, client: TestClient, role: Role) -> str:
    account = office.accounts.add(f"user-{role}", role, "a long enough passphrase",
                                  by=None, address="test")
    token = office.sessions.start(account.id, "signed_in", "test")
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local")
    session = office.sessions.resume(token)
    assert session is not None
    return session.csrf_secret


def test_require_role_refuses_other_roles(client: tuple[TestClient, OfficeServices]) -> None:
    test_client, office = client
    assert test_client.get("/api/office/test/assign").status_code == 401
    _signed_in(office, test_client, "reviewer")
    refused = test_client.get("/api/office/test/assign")
    assert refused.status_code == 403 and refused.json()["title"] == "Not allowed"
    test_client.cookies.clear()
    _signed_in(office, test_client, "supervisor")
    assert test_client.get("/api/office/test/assign").json() == {"by": "user-supervisor"}


def test_json_posts_need_the_csrf_header(client: tuple[TestClient, OfficeServices]) -> None:
    test_client, office = client
    csrf = _signed_in(office, test_client, "reviewer")
    assert test_client.post("/api/office/test/echo").status_code == 403
    assert test_client.post("/api/office/test/echo",
                            headers={CSRF_HEADER: csrf + "x"}).status_code == 403
    assert test_client.post("/api/office/test/echo", headers={CSRF_HEADER: csrf}
                            ).json() == {"by": "user-reviewer"}


def test_templates_escape_what_they_are_given() -> None:
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    html = TEMPLATES.get_template("error.html").render(title=hostile, message=hostile)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&#34;&gt;&lt;img" in html
