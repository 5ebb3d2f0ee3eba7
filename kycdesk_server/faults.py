"""Fault injection as ASGI middleware, so the client's retry and resume paths meet a
real socket: added latency, error statuses (500/503 with Retry-After, 429, 507), a
connection dropped mid-body, and "store but drop the reply".

Rules are matched per endpoint. A rule with `count` applies to the next N matching
requests (deterministic tests); one with `rate` applies at random with a seeded RNG
(soak runs and benchmarks).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENDPOINTS: list[tuple[str, str, re.Pattern[str]]] = [
    ("health", "GET", re.compile(r"^/v1/health$")),
    ("list_images", "GET", re.compile(r"^/v1/cases/[^/]+/images$")),
    # "upload": every request that carries photo bytes (a creation with the photo in it,
    # or an append); "upload_offset": asking where an upload stands.
    ("upload", "POST", re.compile(r"^/v1/uploads$")),
    ("upload", "PATCH", re.compile(r"^/v1/uploads/[^/]+$")),
    ("upload_offset", "HEAD", re.compile(r"^/v1/uploads/[^/]+$")),
    ("submit", "PUT", re.compile(r"^/v1/cases/[^/]+/submission$")),
    ("get_submission", "GET", re.compile(r"^/v1/cases/[^/]+/submission$")),
    ("pull", "POST", re.compile(r"^/v1/pull$")),
    ("fetch_image", "GET", re.compile(r"^/v1/cases/[^/]+/images/[^/]+$")),
    ("release", "POST", re.compile(r"^/v1/cases/[^/]+/release$")),
]
Action = Literal["status", "drop_mid_body", "drop_reply", "delay"]


def endpoint_of(method: str, path: str) -> str | None:
    for name, verb, pattern in ENDPOINTS:
        if verb == method and pattern.match(path):
            return name
    return None


@dataclass
class FaultRule:
    endpoint: str                 # an ENDPOINTS name, or "*"
    action: Action
    status: int = 503
    retry_after: float | None = None
    delay_ms: int = 0
    count: int | None = None      # next N matching requests
    rate: float | None = None     # or: this probability per request
    after_bytes: int = 64 * 1024  # drop_mid_body: after this much of the body

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint)


@dataclass
class FaultState:
    rules: list[FaultRule] = field(default_factory=list)
    latency_ms: int = 0
    seed: int = 0
    injected: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def replace(self, rules: list[FaultRule], latency_ms: int = 0, seed: int = 0) -> None:
        with self._lock:
            self.rules = rules
            self.latency_ms = latency_ms
            self._rng = random.Random(seed)

    def pick(self, endpoint: str) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if not rule.matches(endpoint):
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                elif rule.rate is None or self._rng.random() >= rule.rate:
                    continue
                key = f"{endpoint}:{rule.action}"
                self.injected[key] = self.injected.get(key, 0) + 1
                return rule
        return None


class DroppedConnectionError(Exception):
    """Raised after a response was started: the server closes the socket mid-reply."""


def problem_bytes(status: int, title: str, detail: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": detail}).encode()


class FaultMiddleware:
    def __init__(self, app: ASGIApp, state: FaultState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = endpoint_of(scope["method"], scope["path"])
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        if self.state.latency_ms:
            await asyncio.sleep(self.state.latency_ms / 1000)
        rule = self.state.pick(endpoint)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.action == "delay":
            await asyncio.sleep(rule.delay_ms / 1000)
            await self.app(scope, receive, send)
        elif rule.action == "status":
            await self._status(rule, send)
        elif rule.action == "drop_mid_body":
            await self._drop_mid_body(rule, receive, send)
        else:
            await self._drop_reply(scope, receive, send)

    async def _status(self, rule: FaultRule, send: Send) -> None:
        headers = [(b"content-type", b"application/problem+json")]
        if rule.retry_after is not None:
            headers.append((b"retry-after", str(int(rule.retry_after)).encode()))
        body = problem_bytes(rule.status, "Injected fault", "fault injection")
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": rule.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _drop_mid_body(self, rule: FaultRule, receive: Receive, send: Send) -> None:
        received = 0
        while True:
            message = await receive()
            received += len(message.get("body", b""))
            if received >= rule.after_bytes or not message.get("more_body"):
                break
        await self._cut(send)

    async def _drop_reply(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(_message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)  # the server does the work and stores it
        await self._cut(send)

    async def _cut(self, send: Send) -> None:
        # A started response with a body that never comes: the client sees the
        # connection close without a reply (httpx: RemoteProtocolError).
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"1000")]})
        raise DroppedConnectionError("fault injection: connection dropped")
