"""The server survives its own parts failing, under load, on the real parts: PostgreSQL
restarted, the S3 storage stopped and started, the disk full, a slowloris from one
address. Never a 500 (503/507 with Retry-After while a part is down), ready again soon
after the part is back, and everything it acknowledged still held."""

from __future__ import annotations

import os
import selectors
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.outage import (
    AUTH,
    SteadyLoad,
    assert_nothing_acknowledged_was_lost,
    seconds_until_ready,
)
from tests.real_parts import Postgres, fill_disk, small_disk, start_postgres, start_s3
from tests.sync_support import Backend, ServerHandle, start_server, tus_upload

READY_WITHIN_S = 5.0


def _no_tracebacks(log: Path) -> None:
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and " 500 " not in text


def _part_down_under_load(server: ServerHandle, take_away: Callable[[], object],
                          bring_back: Callable[[], object], *, unavailable: int
                          ) -> SteadyLoad:
    """Load, the part taken away (answers `unavailable` + Retry-After, never a 500, `/ready`
    503), brought back (`/ready` 200 within READY_WITHIN_S, work taken again), and nothing
    acknowledged lost. Returns the load (what it saw, what was acknowledged)."""
    with SteadyLoad(server) as load:
        load.wait_for_answers(20)
        take_away()
        load.wait_until(lambda: load.statuses[unavailable] >= 6)
        assert httpx.get(f"{server.base_url}/ready", timeout=30).status_code == 503
        before = len(load.acknowledged)
        bring_back()
        back_after = seconds_until_ready(server)
        load.wait_for_answers(30)
    assert back_after < READY_WITHIN_S
    assert load.statuses[500] == 0
    assert {s for s in load.statuses if s >= 500} == {unavailable}
    assert load.retry_after_missing == 0
    assert len(load.acknowledged) > before  # it took work again after the return
    assert_nothing_acknowledged_was_lost(server, load.acknowledged)
    return load


@pytest.fixture
def own_postgres() -> Iterator[Postgres]:
    """A cluster of this test's own: it is stopped and started."""
    cluster = start_postgres()
    yield cluster
    cluster.stop()


def test_a_postgres_restart_under_load_is_503_then_ready_again(
        own_postgres: Postgres, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(tmp_path / "data", backend=Backend(
        own_postgres.new_database("restart")), log=log, extra=["--db-timeout", "2"])
    try:
        _part_down_under_load(server, own_postgres.shut_down, own_postgres.start_again,
                              unavailable=503)
    finally:
        server.stop()
    _no_tracebacks(log)


def test_an_s3_outage_under_load_is_503_then_ready_again(
        postgres: Postgres, tmp_path: Path) -> None:
    s3 = start_s3(tmp_path / "s3")
    try:
        s3.client().create_bucket(Bucket="outage")
        log = tmp_path / "server.log"
        server = start_server(tmp_path / "data", log=log, backend=Backend(
            postgres.new_database(f"s3_{uuid.uuid4().hex[:8]}"),
            ("--s3-endpoint", s3.endpoint, "--s3-bucket", "outage"),
            (("AWS_ACCESS_KEY_ID", s3.key), ("AWS_SECRET_ACCESS_KEY", s3.secret))))
        try:
            load = _part_down_under_load(server, s3.stop, s3.start_again, unavailable=503)
            held = {o["Key"].removeprefix("photos/") for o in s3.client().list_objects_v2(
                Bucket="outage", Prefix="photos/").get("Contents", [])}
            assert {f"{a.case_id}/{a.client_image_id}" for a in load.acknowledged} <= held
        finally:
            server.stop()
        _no_tracebacks(log)
    finally:
        s3.stop()


def test_a_full_disk_is_507_and_nothing_unstored_is_acknowledged(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("mounting a small disk needs root (CI runs as root)")
    log = tmp_path / "server.log"
    with small_disk(tmp_path / "disk", "24m") as disk:
        server = start_server(disk / "data", log=log)
        filler = disk / "filler"
        try:
            load = _part_down_under_load(server, lambda: fill_disk(disk), filler.unlink,
                                         unavailable=507)
            for ack in load.acknowledged:  # the bytes are there, not only the rows
                assert (disk / "data" / "images" / ack.case_id /
                        ack.client_image_id).stat().st_size == 2048
        finally:
            server.stop()
    _no_tracebacks(log)


def _trickler(port: int, source: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    return sock


def _first_lines(socks: list[socket.socket], within_s: float) -> dict[socket.socket, bytes]:
    """The first line each socket receives within the time (b"" closed without one)."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ, data=sock)
    got: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + within_s
    while len(got) < len(socks) and (left := deadline - time.monotonic()) > 0:
        for key, _events in selector.select(timeout=left):
            sock = key.data
            try:
                data = sock.recv(200)
            except OSError:  # reset: closed just as well
                data = b""
            got[sock] = data.split(b"\r\n", 1)[0]
            selector.unregister(sock)
    selector.close()
    return got


def test_a_slowloris_from_one_address_does_not_starve_others(tmp_path: Path) -> None:
    """300 connections from 127.0.0.2 sending a header a byte at a time, against a server
    that serves 200 connections in all: those past the per-address limit are refused at
    once, the others are cut at the header timeout, and another address is answered
    meanwhile."""
    server = start_server(tmp_path / "data", extra=[
        "--max-connections", "200", "--max-connections-per-address", "50",
        "--header-timeout", "4"])
    port = int(server.base_url.rsplit(":", 1)[1])
    slow = [_trickler(port, "127.0.0.2") for _ in range(300)]
    try:
        began = time.monotonic()
        refused = _first_lines(slow, within_s=2)
        assert set(refused.values()) == {b"HTTP/1.1 503 Service Unavailable"}
        kept = [sock for sock in slow if sock not in refused]
        assert len(kept) == 50
        for _ in range(5):
            for sock in kept:
                sock.send(b"x")  # a byte each, as a slowloris keeps its sockets alive
            ready = httpx.get(f"{server.base_url}/ready", timeout=5)
            health = httpx.get(f"{server.base_url}/v1/health", headers=AUTH, timeout=5)
            assert (ready.status_code, health.status_code) == (200, 200)
        cut = _first_lines(kept, within_s=4 + 3 - (time.monotonic() - began))
        assert len(cut) == 50 and set(cut.values()) == {b"HTTP/1.1 408 Request Timeout"}
        assert tus_upload(server.base_url, str(uuid.uuid4()), str(uuid.uuid4()),
                          b"photo").status_code == 204
    finally:
        for sock in slow:
            sock.close()
        server.stop()
