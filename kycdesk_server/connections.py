"""Connection guards below the app, in uvicorn's h11 protocol (uvicorn itself has no
timeout for a request's headers, and counts connections only in total):

- a request's headers must arrive whole within `header_timeout_s` of its first byte (or
  of the connection's start): a client trickling a header a byte at a time is answered
  408 and disconnected, instead of holding a connection for ever (slowloris);
- one client address holds at most `per_address` connections at once in this process;
  past that a new connection is answered 503 with Retry-After and closed before anything
  is read, so one address cannot take the whole `--max-connections` budget.

The request body has its own idle timeouts (limits.py for JSON, the upload service for
photos). Settings are class attributes set once per process by `configure` (uvicorn
builds one protocol object per connection from the class, also in worker processes).
"""

from __future__ import annotations

import asyncio
import logging
from typing import ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("kycdesk.connections")

_TOO_MANY_BODY = (b'{"type":"about:blank","title":"Too many connections","status":503,'
                  b'"detail":"This address holds too many connections; try again shortly."}')
_TOO_MANY = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
             b"Content-Type: application/problem+json\r\nContent-Length: "
             + str(len(_TOO_MANY_BODY)).encode() + b"\r\n\r\n" + _TOO_MANY_BODY)
_TOO_SLOW = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0"
             b"\r\n\r\n")


class GuardedH11Protocol(H11Protocol):
    header_timeout_s: ClassVar[float] = 10.0
    per_address: ClassVar[int] = 256
    _open: ClassVar[dict[str, int]] = {}  # connections per client address, this process

    @classmethod
    def configure(cls, *, header_timeout_s: float, per_address: int) -> None:
        cls.header_timeout_s, cls.per_address = header_timeout_s, per_address

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._address = self.client[0] if self.client else ""
        held = GuardedH11Protocol._open.get(self._address, 0) + 1
        GuardedH11Protocol._open[self._address] = held
        if held > self.per_address:
            transport.write(_TOO_MANY)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        left = GuardedH11Protocol._open.get(self._address, 1) - 1
        if left > 0:
            GuardedH11Protocol._open[self._address] = left
        else:
            GuardedH11Protocol._open.pop(self._address, None)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            if self._header_timer is None:  # the first bytes of a (next) request
                self._arm()
        else:
            self._disarm()  # its headers are in: the body has its own timeouts

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.our_state is h11.IDLE:  # nothing of ours in flight: say why
            self.transport.write(_TOO_SLOW)
        self.transport.close()
