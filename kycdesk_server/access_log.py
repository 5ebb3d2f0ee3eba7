"""One line per request: method, path, status, bytes in and out, duration.

Paths carry only ids (case, photo, upload); query strings, headers and bodies are never
logged — applicants' data stays out of the server's log.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kycdesk_server.faults import ASGIApp, Message, Receive, Scope, Send
from kycdesk_server.metrics import ServerMetrics, route_label

log = logging.getLogger("kycdesk.access")
_MAX_FIELD = 200


def escaped(field: str) -> str:
    """A client-chosen field (the decoded path: `%0A` is a newline by now) as one safe
    token: control characters, spaces, quotes and backslashes escaped, length bounded,
    so no request can forge or split a log line."""
    text = "".join(c if c.isprintable() and c not in ' "\\' else
                   f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   for c in field[:_MAX_FIELD])
    return text + ("…" if len(field) > _MAX_FIELD else "")


class AccessLog:
    def __init__(self, app: ASGIApp, metrics: ServerMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.monotonic()
        counts: dict[str, Any] = {"in": 0, "out": 0, "status": None}

        async def counting_receive() -> Message:
            message = await receive()
            counts["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                counts["status"] = message["status"]
            elif message["type"] == "http.response.body":
                counts["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            elapsed = time.monotonic() - began
            log.info("%s %s %s in=%d out=%d %.3fs", escaped(scope["method"]),
                     escaped(scope["path"]), counts["status"] or "-", counts["in"],
                     counts["out"], elapsed)
            if self.metrics is not None:
                self.metrics.observe(scope["method"], route_label(scope),
                                     status=counts["status"],
                                     bytes_in=counts["in"], bytes_out=counts["out"],
                                     seconds=elapsed)
