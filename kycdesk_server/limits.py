"""Limits that keep a hostile or broken client from wedging the server (pure ASGI, in
front of the app; photo uploads have their own, in tus.py):

- a JSON request body must say its length (411 otherwise) and stay under the limit
  (413): a 51 MB "form" is refused before a byte of it is read;
- a body that stops arriving for `body_idle_s` ends the request (the connection is
  dropped; nothing was acknowledged), so a half-sent request holds nothing for long;
- request headers over 16 KB in all are refused (431) on every route (the HTTP parser
  itself stops a little later, at its own limit).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from kycdesk_server.headers import decimal

MAX_HEADER_BYTES = 16 * 1024
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body = json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/problem+json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, body_idle_s: float,
                 exempt_prefix: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_idle_s = body_idle_s
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v
                                           in scope.get("headers") or []) > MAX_HEADER_BYTES:
            await _problem(send, 431, "Request headers too large",
                           f"Headers are limited to {MAX_HEADER_BYTES} bytes.")
            return
        if scope["type"] != "http" or str(scope["path"]).startswith(self.exempt_prefix) \
                or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = decimal(headers.get(b"content-length", b"").decode("latin-1"))
        if declared is None:
            await _problem(send, 411, "Length required",
                           "Send the body with a Content-Length.")
            return
        if declared > self.max_body_bytes:
            await _problem(send, 413, "Request too large",
                           f"Requests are limited to {self.max_body_bytes} bytes.")
            return
        await self.app(scope, self._bounded(receive, declared), send)

    def _bounded(self, receive: Receive, declared: int) -> Receive:
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_idle_s)
            except TimeoutError:
                return {"type": "http.disconnect"}  # stalled: the request is over
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > declared:
                    return {"type": "http.disconnect"}  # more than it said: not served
                complete = not message.get("more_body", False)
            return message

        return bounded_receive
