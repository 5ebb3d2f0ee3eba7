"""Error answers in one place: RFC 9457 problem bodies, the known failure of the server's
parts (storage unavailable: 503 + Retry-After, disk full: 507 + Retry-After, one warning
line, no traceback) and the barrier that turns a bug into a 500 with one log line."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from kycdesk.core.protocol import TUS_VERSION, UPLOADS_PATH
from kycdesk_server.errors import StorageUnavailableError
from kycdesk_server.faults import ASGIApp, Message, Receive, Scope, Send

PROBLEM = "application/problem+json"
RETRY_UNAVAILABLE_S = 10  # a restart, a reconnect: seconds
RETRY_DISK_FULL_S = 300   # someone must free space: minutes

log = logging.getLogger("kycdesk.server")


def problem(status: int, title: str, detail: str = "", *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"type": "about:blank", "title": title, "status": status,
                         "detail": detail, **extra}, status_code=status, media_type=PROBLEM,
                        headers=headers)


class _Throttled:
    """One warning line for an outage, not one per request: the first at once, then at
    most one every `every_s` saying how many more there were."""

    def __init__(self, every_s: float = 10.0) -> None:
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last = -every_s
        self._quiet = 0

    def warn(self, text: str) -> None:
        with self._lock:
            now = time.monotonic()
            if now - self._last < self.every_s:
                self._quiet += 1
                return
            quiet, self._quiet, self._last = self._quiet, 0, now
        log.warning("%s%s", text, f" ({quiet} more answered 503/507 since)" if quiet else "")


_outage_log = _Throttled()


def storage_unavailable(request: Request, exc: StorageUnavailableError) -> JSONResponse:
    """The answer to any request the storage could not serve (nothing was acknowledged)."""
    _outage_log.warn(f"{request.method} {request.url.path}: {exc.reason}")
    headers = {"Tus-Resumable": TUS_VERSION} \
        if request.url.path.startswith(UPLOADS_PATH) else {}
    if exc.disk_full:
        headers["Retry-After"] = str(RETRY_DISK_FULL_S)
        return problem(507, "Server out of storage",
                       "The server's disk is full; nothing was stored from this request "
                       "and nothing it acknowledged was lost. Try again later.",
                       headers=headers)
    headers["Retry-After"] = str(RETRY_UNAVAILABLE_S)
    return problem(503, "Storage unavailable",
                   "The server cannot reach its storage right now; nothing it acknowledged "
                   "was lost. Try again shortly.", headers=headers)


class BugBarrier:
    """Innermost catch-all (inside the app's own error handling): an exception nobody
    expected is a bug — one log line (type, message, where), a 500 problem body, and no
    traceback per request in the server's log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("bug: %s %s: %s", scope["method"], scope["path"], _where(exc))
            if started:
                return  # the reply is cut short; the client sees a dropped connection
            response = problem(500, "Internal server error",
                               "The server failed on this request; it was logged.")
            await response(scope, receive, send)


def _where(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    place = f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else ""
    return f"{type(exc).__name__}: {exc}{place}"


def install(app: FastAPI) -> None:
    """The storage-unavailable answer and the bug barrier, on one app."""

    async def on_storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StorageUnavailableError)
        return storage_unavailable(request, exc)

    app.add_exception_handler(StorageUnavailableError, on_storage_unavailable)
    app.add_middleware(BugBarrier)
