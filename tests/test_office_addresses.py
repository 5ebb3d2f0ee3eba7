"""Whose address a sign-in is counted and audited under: the peer's, never one a client
writes into X-Forwarded-For (unless the operator names the proxy that sets it)."""

from __future__ import annotations

from pathlib import Path

import httpx

from kycdesk_server.backoffice.web import SIGNIN_COOKIE
from tests.sync_support import ServerHandle, start_server

FORGED = "203.0.113.9"


def _failed_sign_in(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.get("/office/sign-in").cookies[SIGNIN_COOKIE]
        reply = client.post("/office/sign-in", headers={
            "Cookie": f"{SIGNIN_COOKIE}={token}", "X-Forwarded-For": FORGED},
            data={"username": "nobody", "password": "wrong password here",
                  "code": "", "csrf_token": token})
        assert reply.status_code == 401, reply.text


def _audited_addresses(handle: ServerHandle) -> set[str]:
    return {row[0] for row in handle.query("SELECT address FROM office_audit")}


def test_a_forged_forwarded_for_is_not_believed(tmp_path: Path) -> None:
    handle = start_server(tmp_path / "data")
    try:
        _failed_sign_in(handle.base_url)
        assert _audited_addresses(handle) == {"127.0.0.1"}
    finally:
        handle.stop()


def test_a_named_proxy_gives_the_clients_address(tmp_path: Path) -> None:
    handle = start_server(tmp_path / "data", extra=["--forwarded-allow-ips", "127.0.0.1"])
    try:
        _failed_sign_in(handle.base_url)
        assert _audited_addresses(handle) == {FORGED}
    finally:
        handle.stop()
