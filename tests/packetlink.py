"""A packet-level link emulator: real TCP stacks on both ends react to real packet
loss, a drop-tail queue and resets (benchmarks/packet_link.py measures sync over it).

The stream proxy in tests/fieldlink.py sees TCP streams, never packets: it cannot lose a
packet, so the TCP stacks never see loss, never halve their window, never wait for a
retransmission. Here two network namespaces (the device, the server) are joined by two
TUN devices, and a user-space forwarder (a thread of this process) moves every IP packet
between them through, in each direction:
- a drop-tail queue of `queue_packets` packets (what a radio bearer or a modem buffers);
- the link rate (each packet takes its size ÷ rate on the wire, one after another);
- one-way latency (half the round trip);
- per-packet loss (Bernoulli, `loss`), on data, ACKs and handshakes alike;
- resets every `reset_every_s`: what is queued or on the wire is lost and every TCP
  connection gets an RST at both ends (as when a NAT forgets it or the bearer drops);
  a packet of a reset connection that still arrives is answered by an RST (with the
  sequence number its own ACK field says the sender expects, so the stack takes it).
No kernel `netem`. Needs root (namespaces, /dev/net/tun) and `ip` (iproute2):
`unavailable()` says why not.
"""

from __future__ import annotations

import contextlib
import fcntl
import heapq
import os
import random
import select
import shutil
import struct
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

CLIENT_IP = "10.77.0.1"
SERVER_IP = "10.77.0.2"
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
FLAG_FIN, FLAG_SYN, FLAG_RST, FLAG_ACK = 0x01, 0x02, 0x04, 0x10


@dataclass(frozen=True)
class PacketProfile:
    rate_bps: float = 40_000           # bytes/s of IP packets, each direction
    rtt_s: float = 0.6
    loss: float = 0.0                  # probability a packet is lost, each direction
    queue_packets: int = 50            # drop-tail queue depth, each direction
    reset_every_s: float | None = None
    mtu: int = 1500
    seed: int = 1


def unavailable() -> str | None:
    """Why the packet link cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, /dev/net/tun)"
    if shutil.which("ip") is None:
        return "needs `ip` from iproute2 (apt-get install -y iproute2)"
    if not Path("/dev/net/tun").exists():
        return "no /dev/net/tun"
    probe = f"kdpl-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _rst(src: bytes, dst: bytes, sport: int, dport: int, seq: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, FLAG_RST, 0, 0, 0)
    csum = _checksum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst)
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + tcp


@dataclass
class _Direction:
    """One direction of the link: its queue and when its wire is free again."""

    out_fd: int
    queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    free_at: float = 0.0
    delivered_bytes: int = 0


@dataclass
class LinkCounters:
    packets: int = 0
    lost: int = 0
    tail_dropped: int = 0
    flushed: int = 0          # queued or on the wire at a reset
    resets: int = 0
    rsts: int = 0
    to_server_bytes: int = 0  # IP bytes delivered to the server's side
    to_client_bytes: int = 0


class PacketLink:
    """Two namespaces joined by a user-space packet forwarder (see the module's doc)."""

    def __init__(self, profile: PacketProfile, tag: str | None = None) -> None:
        self.profile = profile
        tag = tag or f"{os.getpid() % 100000}"
        self.client_ns = f"kdpl-{tag}-c"
        self.server_ns = f"kdpl-{tag}-s"
        self._tun_names = (f"kdc{tag}"[:15], f"kds{tag}"[:15])
        self._fds: list[int] = []
        self.counters = LinkCounters()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rng = random.Random(profile.seed)
        self._lock = threading.Lock()

    # -- set up / tear down -------------------------------------------------------------
    def start(self) -> PacketLink:
        try:
            self._set_up()
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(target=self._forward, name="packet-link", daemon=True)
        self._thread.start()
        return self

    def _set_up(self) -> None:
        for ns in (self.client_ns, self.server_ns):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        ends = ((self.client_ns, CLIENT_IP, SERVER_IP), (self.server_ns, SERVER_IP, CLIENT_IP))
        for name, (ns, own, peer) in zip(self._tun_names, ends, strict=True):
            fd = os.open("/dev/net/tun", os.O_RDWR)
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
            os.set_blocking(fd, False)
            self._fds.append(fd)
            # Made here, then moved: the descriptor stays attached to the device.
            _ip("link", "set", name, "netns", ns)
            _ip("-n", ns, "addr", "add", own, "peer", peer, "dev", name)
            _ip("-n", ns, "link", "set", name, "mtu", str(self.profile.mtu), "up")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        for ns in (self.client_ns, self.server_ns):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    def __enter__(self) -> PacketLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def in_client(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.client_ns, *args]

    def in_server(self, args: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.server_ns, *args]

    # -- the link -----------------------------------------------------------------------
    def _forward(self) -> None:
        client_fd, server_fd = self._fds
        up = _Direction(server_fd)     # device -> server
        down = _Direction(client_fd)   # server -> device
        direction = {client_fd: up, server_fd: down}
        deliveries: list[tuple[float, int, int, bytes]] = []  # (due, n, fd, packet)
        order = 0
        latency = self.profile.rtt_s / 2
        next_reset = (time.monotonic() + self.profile.reset_every_s
                      if self.profile.reset_every_s else None)
        flows: dict[tuple[bytes, int, bytes, int], int] = {}  # sender's last ACK number
        killed: set[tuple[bytes, int, bytes, int]] = set()
        while not self._stop.is_set():
            now = time.monotonic()
            if next_reset is not None and now >= next_reset:
                next_reset += self.profile.reset_every_s or 0
                self._reset(flows, killed, (up, down), deliveries)
            while deliveries and deliveries[0][0] <= now:
                _, _, fd, packet = heapq.heappop(deliveries)
                with contextlib.suppress(OSError):
                    os.write(fd, packet)
                if fd == server_fd:
                    self.counters.to_server_bytes += len(packet)
                else:
                    self.counters.to_client_bytes += len(packet)
            for side in (up, down):
                while side.queue and side.free_at <= now:
                    arrived, packet = side.queue.popleft()
                    start = max(side.free_at, arrived)
                    side.free_at = start + len(packet) / self.profile.rate_bps
                    order += 1
                    heapq.heappush(deliveries, (side.free_at + latency, order, side.out_fd,
                                                packet))
            wake = [d[0] for d in deliveries[:1]]
            wake += [side.free_at for side in (up, down) if side.queue]
            if next_reset is not None:
                wake.append(next_reset)
            timeout = max(0.0, min([*wake, now + 0.05]) - time.monotonic())
            readable, _, _ = select.select([client_fd, server_fd], [], [], timeout)
            for fd in readable:
                while True:
                    try:
                        packet = os.read(fd, 65535)
                    except (BlockingIOError, OSError):
                        break
                    if not packet:
                        break
                    self._enter(packet, fd, direction[fd], flows, killed)

    def _enter(self, packet: bytes, fd: int, side: _Direction,
               flows: dict[tuple[bytes, int, bytes, int], int],
               killed: set[tuple[bytes, int, bytes, int]]) -> None:
        self.counters.packets += 1
        tcp = _tcp(packet)
        if tcp is not None:
            key, ack, flags = tcp
            if key in killed or _reverse(key) in killed:
                if flags & FLAG_SYN and not flags & FLAG_ACK:
                    killed.discard(key)  # a new connection on the same ports
                    killed.discard(_reverse(key))
                else:
                    if not flags & FLAG_RST and flags & FLAG_ACK:
                        # The sender still thinks the connection is open: its ACK field is
                        # exactly the sequence number an RST must carry to be taken.
                        self._inject(fd, key, ack)
                    return
            if flags & FLAG_RST:
                flows.pop(key, None)
                flows.pop(_reverse(key), None)
            elif flags & FLAG_ACK:
                flows[key] = ack
        if self._rng.random() < self.profile.loss:
            self.counters.lost += 1
            return
        if len(side.queue) >= self.profile.queue_packets:
            self.counters.tail_dropped += 1
            return
        side.queue.append((time.monotonic(), packet))

    def _inject(self, fd: int, key: tuple[bytes, int, bytes, int], seq: int) -> None:
        """An RST to the sender of `key`'s packets, as from its peer."""
        src, sport, dst, dport = key
        with contextlib.suppress(OSError):
            os.write(fd, _rst(dst, src, dport, sport, seq))
        self.counters.rsts += 1

    def _reset(self, flows: dict[tuple[bytes, int, bytes, int], int],
               killed: set[tuple[bytes, int, bytes, int]], sides: tuple[_Direction, ...],
               deliveries: list[tuple[float, int, int, bytes]]) -> None:
        self.counters.resets += 1
        for side in sides:
            self.counters.flushed += len(side.queue)
            side.queue.clear()
        self.counters.flushed += len(deliveries)
        deliveries.clear()
        client_fd = self._fds[0]
        for key, ack in list(flows.items()):
            killed.add(key)
            sender_is_client = key[0] == bytes(map(int, CLIENT_IP.split(".")))
            self._inject(client_fd if sender_is_client else self._fds[1], key, ack)
        flows.clear()


def _tcp(packet: bytes) -> tuple[tuple[bytes, int, bytes, int], int, int] | None:
    if len(packet) < 40 or packet[0] >> 4 != 4 or packet[9] != 6:
        return None
    ihl = (packet[0] & 0x0F) * 4
    sport, dport, _seq, ack = struct.unpack("!HHII", packet[ihl:ihl + 12])
    return (packet[12:16], sport, packet[16:20], dport), ack, packet[ihl + 13]


def _reverse(key: tuple[bytes, int, bytes, int]) -> tuple[bytes, int, bytes, int]:
    return key[2], key[3], key[0], key[1]
