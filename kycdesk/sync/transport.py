"""An httpx transport for field links: stalls are detected, every request has a deadline.

Timeouts, chosen for 2G/EDGE (30–60 kB/s, 0.5–2 s round trips, links that stall open):
- connect 15 s: TCP + TLS is 3–4 round trips, 8 s on a bad 2G cell; beyond that the
  network is as good as absent.
- write and read: the stall timeout (default 30 s). The socket's send buffer is kept small
  (64 KiB, ~2 s of a 2G link) so a write that blocks that long means the link moved no
  data for that long, not that a 4 MB kernel buffer is still draining. Once the body is
  written, the reply is awaited for the stall timeout plus the time the last queued bytes
  (`DRAIN_BYTES`) take to drain at the measured goodput (`drain_s`). On Linux
  TCP_USER_TIMEOUT drops a connection whose sent bytes stay unacknowledged longer than
  the longest of those silences.
- a deadline per request (see `deadline()`), enforced on every socket read and write —
  response headers included — so a reply trickled one byte a second cannot hold a run
  past its deadline, as a per-read timeout alone would.
The deadline is per thread: the sync engine's parallel uploads each have their own.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

STALL_S = 30.0
CONNECT_S = 15.0
SEND_BUFFER = 64 * 1024
# A request moving less than this, on average, is stopped and resumed (its bytes are kept).
FLOOR_RATE = 2_000  # bytes/s
# Bytes written are not yet bytes sent: when a body's last write returns, up to this much
# may still be queued — the send buffer and the network's own queues (a radio bearer, a
# proxy) — and on GPRS that alone drains for half a minute. The wait for the reply gets
# the time to drain it on top of the stall timeout, so a link that is still moving the body
# is never taken for a stalled one.
DRAIN_BYTES = 128 * 1024


def drain_s(body_bytes: int, rate: float | None) -> float:
    """How long what may still be queued of a body takes to drain at `rate` (the measured
    goodput; the floor rate when unknown), with room for the rate to wobble."""
    return 1.5 * min(body_bytes, DRAIN_BYTES) / max(rate or FLOOR_RATE, FLOOR_RATE)

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every socket operation of this thread's requests ends by `seconds` from now."""
    previous = getattr(_local, "deadline", None)
    ends = time.monotonic() + seconds
    _local.deadline = ends if previous is None else min(previous, ends)
    try:
        yield
    finally:
        _local.deadline = previous


def remaining() -> float | None:
    ends = getattr(_local, "deadline", None)
    return None if ends is None else ends - time.monotonic()


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, _bounded(timeout, httpcore.ConnectTimeout), local_address,
            socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _bounded(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def socket_options(stall_s: float) -> list[tuple[int, int, int]]:
    options = [(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)]
    if sys.platform.startswith("linux") and hasattr(socket, "TCP_USER_TIMEOUT"):
        # Bytes queued in a slow link stay unacknowledged while it drains: the kernel may
        # drop the connection only after the longest silence the client itself allows.
        longest = stall_s + drain_s(DRAIN_BYTES, None)
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(longest * 1000)))
    return options


def field_timeout(stall_s: float = STALL_S) -> httpx.Timeout:
    return httpx.Timeout(connect=CONNECT_S, read=stall_s, write=stall_s, pool=CONNECT_S)


def field_transport(verify: ssl.SSLContext | bool, stall_s: float = STALL_S
                    ) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=verify, socket_options=socket_options(stall_s))
    # httpx builds its httpcore pool itself; give it the deadline-aware network backend.
    # tests/test_field_sync.py (trickled reply) fails if a new httpx stops honouring it.
    pool = transport._pool
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = _DeadlineBackend()
    return transport
