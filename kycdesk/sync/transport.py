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
  past its deadline, as a per-read timeout alone would. Once a body is written, the
  request's deadline shrinks to the time its reply may take (`reply_deadline()`).
- the run's own deadline and the user's cancel (`LinkWatch`), shared by every thread of
  a client: every socket operation is bounded by the nearer of the request's and the
  run's deadlines, and at the run's deadline (or a cancel) the sockets of the requests
  in flight are shut, so a run ends on time whatever its requests are doing.
The request deadline is per thread: the sync engine's parallel uploads each have their own.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
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


def reply_deadline(seconds: float) -> None:
    """The body is written: the rest of this thread's request (its reply) gets at most
    `seconds` more — a reply trickled a byte a second must not keep the body's allowance
    (60 s plus the body at the floor rate: half an hour for a 3.4 MB request)."""
    ends = time.monotonic() + seconds
    current = getattr(_local, "deadline", None)
    if current is not None:
        _local.deadline = min(current, ends)


class LinkWatch:
    """What every request of one client shares, whichever thread sends it: the run's
    deadline, the cut (the run's deadline passed or the user cancelled: the sockets of
    the requests in flight are shut at once), and when bytes last moved each way — the
    progress line tells a silent link from a server that answers a trickle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: set[_DeadlineStream] = set()
        self._timer: threading.Timer | None = None
        self.run_ends: float | None = None   # time.monotonic() the run must end by
        self.cut_reason: str | None = None   # set once: why requests stopped
        self.deadline_cut = False            # the cut was the run's deadline
        now = time.monotonic()
        self.last_sent = now       # the socket last took bytes of a request
        self.last_received = now   # bytes of a reply last arrived

    def end_run_at(self, ends: float) -> None:
        """The run ends at `ends` (time.monotonic()): requests in flight then are cut."""
        with self._lock:
            self.run_ends = ends
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(max(0.0, ends - time.monotonic()), self.cut,
                                          kwargs={"reason": "the run's deadline passed",
                                                  "deadline_passed": True})
            self._timer.daemon = True
            self._timer.start()

    def cut(self, reason: str = "cancelled", *, deadline_passed: bool = False) -> None:
        """End every request now, those in flight included (from any thread)."""
        with self._lock:
            if self.cut_reason is None:
                self.cut_reason = reason
                self.deadline_cut = deadline_passed
            streams = list(self._streams)
        for stream in streams:
            stream.shut()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def bounded(self, timeout: float | None, error: type[Exception]) -> float | None:
        """`timeout` cut to the nearer of the request's and the run's deadlines."""
        if self.cut_reason is not None:
            raise error(self.cut_reason)
        left = remaining()
        if self.run_ends is not None:
            run_left = self.run_ends - time.monotonic()
            left = run_left if left is None else min(left, run_left)
        if left is None:
            return timeout
        if left <= 0:
            raise error("the request's deadline passed")
        return left if timeout is None else min(timeout, left)

    def opened(self, stream: _DeadlineStream) -> None:
        with self._lock:
            self._streams.add(stream)
            cut = self.cut_reason is not None
        if cut:  # cut while it was connecting
            stream.shut()

    def closed(self, stream: _DeadlineStream) -> None:
        with self._lock:
            self._streams.discard(stream)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, watch: LinkWatch) -> None:
        self._inner = inner
        self._watch = watch
        watch.opened(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data = self._inner.read(max_bytes, self._watch.bounded(timeout, httpcore.ReadTimeout))
        if data:
            self._watch.last_received = time.monotonic()
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._watch.bounded(timeout, httpcore.WriteTimeout))
        self._watch.last_sent = time.monotonic()

    def shut(self) -> None:
        """Wake a read or write blocked on this socket (from another thread): it fails at
        once, as on a dropped link; what reached the server stays there (tus)."""
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._watch.closed(self)
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self._watch.closed(self)  # the TLS stream wraps the same socket from now on
        return _DeadlineStream(self._inner.start_tls(
            ssl_context, server_hostname,
            self._watch.bounded(timeout, httpcore.ConnectTimeout)), self._watch)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, watch: LinkWatch) -> None:
        self._inner = httpcore.SyncBackend()
        self._watch = watch

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_tcp(
            host, port, self._watch.bounded(timeout, httpcore.ConnectTimeout),
            local_address, socket_options), self._watch)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None
                            ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(
            path, self._watch.bounded(timeout, httpcore.ConnectTimeout), socket_options),
            self._watch)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


SocketOption = tuple[int, int, int] | tuple[int, int, bytes]


def socket_options(stall_s: float) -> list[SocketOption]:
    options: list[SocketOption] = [(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)]
    if sys.platform.startswith("linux") and hasattr(socket, "TCP_USER_TIMEOUT"):
        # Bytes queued in a slow link stay unacknowledged while it drains: the kernel may
        # drop the connection only after the longest silence the client itself allows.
        longest = stall_s + drain_s(DRAIN_BYTES, None)
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(longest * 1000)))
    return options


def field_timeout(stall_s: float = STALL_S) -> httpx.Timeout:
    return httpx.Timeout(connect=CONNECT_S, read=stall_s, write=stall_s, pool=CONNECT_S)


def field_transport(verify: ssl.SSLContext | bool, stall_s: float = STALL_S,
                    watch: LinkWatch | None = None) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(verify=verify, socket_options=socket_options(stall_s))
    # httpx builds its httpcore pool itself; give it the deadline-aware network backend.
    # tests/test_field_sync.py (trickled reply) fails if a new httpx stops honouring it.
    pool = transport._pool
    if isinstance(pool, httpcore.ConnectionPool):
        pool._network_backend = _DeadlineBackend(watch or LinkWatch())
    return transport
