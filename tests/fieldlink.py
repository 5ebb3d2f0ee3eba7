"""A field-link emulator: a TCP proxy on 127.0.0.1 that behaves like a bad mobile link.

Kernel `netem` is not available here, so the link is emulated in user space, between the
app (or a benchmark) and the reference server:
- a token-bucket rate and one queue (a bandwidth-delay product) per direction, shared by
  every connection (one radio bearer); what is queued when a connection is reset is lost;
- added one-way latency (half the round trip) on every chunk, in order;
- hard resets (RST) of every open connection every `reset_every_s` seconds;
- stalls: windows during which nothing is forwarded but sockets stay open;
- a captive-portal phase: new connections get a hotel sign-in page, never the server;
- a trickle: the server's answers on a connection that carried a large request (a photo
  upload) come back a byte at a time, as through a proxy that drips its replies.
Small socket buffers on the proxy's side keep "sent" close to "on the link", as on a
real radio link. Counters say how many bytes actually reached the server.

Packet loss is not emulated (a proxy sees TCP streams, not packets), and the device's
TCP ends at the proxy on 127.0.0.1, so after a reset there is no handshake or slow start
across the link: goodput under resets is flattered (docs/benchmarks.md). For loss, a
realistic queue and resets as real TCP stacks see them, use tests/packetlink.py.

Used by tests (small, fast profiles) and by `benchmarks/field_sync.py` (2G, GPRS).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

PIECE = 4096
BUFFER = 16 * 1024  # the proxy adds little buffering of its own: the link is the queue
PORTAL = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 52\r\n"
          b"Connection: close\r\n\r\n<html><body>Sign in to the hotel Wi-Fi</body></html>")


@dataclass
class LinkProfile:
    rate_bps: float = 50_000            # each direction
    latency_s: float = 0.25             # one way (RTT = 2 x latency)
    reset_every_s: float | None = None  # hard reset of every connection
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (start, length) s
    portal: tuple[float, float] | None = None  # (start, length) s: captive portal
    # Answers on a connection that has carried this many bytes to the server (an upload)
    # come back at `trickle_bps` (bytes/s): the server answers, at a trickle.
    trickle_after_bytes: int | None = None
    trickle_bps: float = 1.0


class _Bucket:
    """One direction of the radio link: its rate, and its queue — one bandwidth-delay
    product (at least a few pieces) in flight, shared by every connection, as a device's
    connections share one bearer. What is in it when a connection is reset is lost."""

    def __init__(self, rate: float, latency_s: float) -> None:
        self.rate = rate
        self.tokens = 0.0
        self.stamp = time.monotonic()
        self.room = asyncio.Semaphore(int(rate * latency_s) // PIECE + 4)  # pieces

    async def take(self, count: int) -> None:
        """Spend `count` bytes of the rate: a piece larger than the burst allowance (a
        4 KB piece on a 3.5 kB/s GPRS link) goes into debt and waits it off, never forever."""
        now = time.monotonic()
        self.tokens = min(self.rate * 0.1, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= count
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


class FieldLink:
    def __init__(self, target_port: int, profile: LinkProfile) -> None:
        self.target_port = target_port
        self.profile = profile
        self.port = 0
        self.bytes_to_server = 0    # delivered to the server
        self.bytes_from_client = 0  # taken from the client (lost in flight when cut)
        self.bytes_to_client = 0
        self.bytes_to_client_trickled = 0
        self.resets = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open: set[asyncio.StreamWriter] = set()
        self._started = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- control (any thread) -----------------------------------------------------------
    def start(self) -> FieldLink:
        self._thread = threading.Thread(target=self._run, name="fieldlink", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the link emulator did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("the link emulator did not stop")

    async def _shutdown(self) -> None:
        for stream in list(self._open):
            _hard_close(stream)
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        asyncio.get_running_loop().stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def up_time(self, until: float | None = None) -> float:
        """Seconds the link could carry data (not stalled, not a portal) so far."""
        span = until if until is not None else self.elapsed()
        down = 0.0
        for start, length in [*self.profile.stalls,
                              *([self.profile.portal] if self.profile.portal else [])]:
            down += max(0.0, min(span, start + length) - start)
        return span - down

    # -- the link -----------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BUFFER)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._up = _Bucket(self.profile.rate_bps, self.profile.latency_s)
        self._down = _Bucket(self.profile.rate_bps, self.profile.latency_s)
        self._started = time.monotonic()

        async def main() -> None:
            # limit: the proxy reads ahead little (a StreamReader buffers 2 x limit), so a
            # byte the client wrote is soon either on the link or still the client's.
            server = await asyncio.start_server(self._accept, sock=listener, limit=PIECE)
            if self.profile.reset_every_s:
                self._tasks.add(loop.create_task(self._resetter(self.profile.reset_every_s)))
            self._ready.set()
            async with server:
                await asyncio.Event().wait()

        self._tasks.add(loop.create_task(main()))
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _in_window(self, windows: list[tuple[float, float]]) -> bool:
        now = self.elapsed()
        return any(start <= now < start + length for start, length in windows)

    async def _resetter(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            for stream in list(self._open):
                _hard_close(stream)
            self.resets += 1

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Shutting down cancels us; asyncio's stream callback reports a cancelled handler
        # as an error, so end quietly.
        with suppress(asyncio.CancelledError):
            await self._serve(reader, writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.profile.portal and self._in_window([self.profile.portal]):
            await asyncio.sleep(self.profile.latency_s * 2)
            writer.write(PORTAL)
            with suppress(OSError):
                await writer.drain()
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port,
                                                                 limit=PIECE)
        except OSError:
            writer.close()
            return
        up_writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                                      BUFFER)
        self.connections += 1
        self._open.update({writer, up_writer})
        carried = [0]  # bytes this connection delivered to the server
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, self._up, to_server=True, carried=carried),
                self._pump(up_reader, writer, self._down, to_server=False, carried=carried),
                return_exceptions=True)
        finally:
            self._open.discard(writer)
            self._open.discard(up_writer)
            for w in (writer, up_writer):
                w.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    bucket: _Bucket, *, to_server: bool, carried: list[int]) -> None:
        """Latency is a delivery time stamped on each chunk as it enters the link; the
        rate is the bucket; a stall holds everything (sockets stay open)."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        held = 0  # pieces of the shared link queue this connection occupies

        async def enter() -> None:
            nonlocal held
            while data := await reader.read(PIECE):
                await bucket.room.acquire()
                held += 1
                if to_server:
                    self.bytes_from_client += len(data)
                await queue.put((time.monotonic() + self.profile.latency_s, data))
            await queue.put((0.0, b""))

        feeder = asyncio.ensure_future(enter())
        try:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                while self._in_window(self.profile.stalls):
                    await asyncio.sleep(0.05)
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await bucket.take(len(data))
                if not to_server and self._trickles(carried[0]):
                    await self._trickle(data, writer)
                else:
                    writer.write(data)
                    await writer.drain()
                held -= 1
                bucket.room.release()
                if to_server:
                    self.bytes_to_server += len(data)
                    carried[0] += len(data)
                else:
                    self.bytes_to_client += len(data)
            with suppress(OSError):
                writer.write_eof()
        finally:
            feeder.cancel()
            with suppress(asyncio.CancelledError):
                await feeder
            for _ in range(held):  # a reset loses what was queued: its room is free again
                bucket.room.release()


    def _trickles(self, carried: int) -> bool:
        threshold = self.profile.trickle_after_bytes
        return threshold is not None and carried >= threshold

    async def _trickle(self, data: bytes, writer: asyncio.StreamWriter) -> None:
        """One byte at a time at the trickle rate: the client sees an answer arriving."""
        for index in range(len(data)):
            writer.write(data[index:index + 1])
            await writer.drain()
            self.bytes_to_client_trickled += 1
            await asyncio.sleep(1.0 / self.profile.trickle_bps)


def _hard_close(stream: asyncio.StreamWriter) -> None:
    """RST, as a dropped radio bearer or a NAT that forgot the connection does."""
    sock = stream.get_extra_info("socket")
    with suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    stream.transport.abort()


@contextmanager
def field_link(target_port: int, profile: LinkProfile) -> Iterator[FieldLink]:
    link = FieldLink(target_port, profile).start()
    try:
        yield link
    finally:
        link.stop()
