"""The packet-level link emulator (tests/packetlink.py) does what its figures rely on:
TCP between its two namespaces arrives whole through real packet loss, and a reset
reaches the sockets as a reset. Addresses are in namespaces this test creates on this
machine; nothing leaves it. Skipped, with the reason, where namespaces are not allowed."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from tests.packetlink import SERVER_IP, PacketLink, PacketProfile, unavailable

REASON = unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"packet link: {REASON}")
PORT = 5005  # the server namespace is new: nothing else listens in it

RECEIVER = f"""
import hashlib, socket, sys
listener = socket.create_server(("{SERVER_IP}", {PORT}))
print("ready", flush=True)
conn, _ = listener.accept()
digest, count, end = hashlib.sha256(), 0, "eof"
try:
    while data := conn.recv(65536):
        digest.update(data)
        count += len(data)
except OSError as exc:
    end = type(exc).__name__
print(count, digest.hexdigest(), end, flush=True)
"""

SENDER = f"""
import socket, sys
payload = bytes(range(256)) * {{blocks}}
with socket.create_connection(("{SERVER_IP}", {PORT}), timeout=30) as sock:
    try:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)
    except OSError as exc:
        print(type(exc).__name__)
"""


def _transfer(link: PacketLink, blocks: int) -> tuple[str, str]:
    receiver = subprocess.Popen(link.in_server([sys.executable, "-c", RECEIVER]),
                                stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        assert receiver.stdout.readline().strip() == "ready"
        sender = subprocess.run(link.in_client([sys.executable, "-c",
                                                SENDER.format(blocks=blocks)]),
                                capture_output=True, text=True, timeout=60, check=True)
        received, _ = receiver.communicate(timeout=60)
    finally:
        receiver.kill()
        receiver.wait()
    return sender.stdout.strip(), received.strip()


def test_tcp_arrives_whole_through_real_packet_loss() -> None:
    blocks = 1200  # 300 kB
    with PacketLink(PacketProfile(rate_bps=400_000, rtt_s=0.04, loss=0.05,
                                  queue_packets=50)) as link:
        sent, received = _transfer(link, blocks)
        counters = link.counters
    payload = bytes(range(256)) * blocks
    assert sent == ""
    assert received == f"{len(payload)} {hashlib.sha256(payload).hexdigest()} eof"
    assert counters.lost > 0  # TCP retransmitted real lost packets
    assert counters.to_server_bytes > len(payload)


def test_a_reset_reaches_both_ends_as_a_reset() -> None:
    # 2 MB at 40 kB/s would take 50 s: the reset after 1 s cuts it.
    with PacketLink(PacketProfile(rate_bps=40_000, rtt_s=0.1, reset_every_s=1.0)) as link:
        sent, received = _transfer(link, 8000)
        counters = link.counters
    assert sent in {"ConnectionResetError", "BrokenPipeError"}, sent
    count, _, end = received.split()
    assert 0 < int(count) < 8000 * 256
    assert end == "ConnectionResetError"  # the server's end was reset too
    assert counters.resets >= 1 and counters.rsts >= 2
