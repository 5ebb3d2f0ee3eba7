"""A back-office account and a signed-in client against the real server: the account made
with `kycdesk-server user add`, the session from the real sign-in form (cookies are
`__Host-` and Secure, which a cookie jar would not send over http://127.0.0.1, so the
client carries them itself)."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from tests.sync_support import REPO_ROOT, ServerHandle

SESSION_COOKIE = "__Host-kycdesk-office"
SIGNIN_COOKIE = "__Host-kycdesk-signin"
PASSWORD = "correct horse battery staple 42"


def add_account(server: ServerHandle, username: str, role: str = "reviewer") -> None:
    subprocess.run([sys.executable, "-m", "kycdesk_server", "user", "add", username,
                    "--role", role, "--password-stdin", *server.admin_args],
                   input=PASSWORD + "\n", text=True, check=True, cwd=REPO_ROOT,
                   env=server.admin_env, capture_output=True)


@dataclass
class OfficeClient:
    http: httpx.Client
    csrf: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.http.post(path, headers=headers, **kwargs)


def sign_in(server: ServerHandle, username: str) -> OfficeClient:
    http = httpx.Client(base_url=server.base_url, timeout=10)
    form = http.get("/office/sign-in")
    token = form.cookies[SIGNIN_COOKIE]
    reply = http.post("/office/sign-in", data={"username": username, "password": PASSWORD,
                                               "csrf_token": token},
                      headers={"Cookie": f"{SIGNIN_COOKIE}={token}"})
    assert reply.status_code == 303, reply.text
    session = reply.cookies[SESSION_COOKIE]
    http.headers["Cookie"] = f"{SESSION_COOKIE}={session}"
    page = http.get("/office/queue")
    match = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert match, page.text
    return OfficeClient(http, match.group(1))
