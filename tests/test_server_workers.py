"""Stateless workers: two server processes on one address over PostgreSQL + S3. Any
worker continues any upload; one stored object per (case, client image id) and one
receipt per revision, whichever worker answers; a worker killed mid-upload loses
nothing acknowledged and the upload resumes on the other."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kycdesk.core.protocol import (
    OFFSET_CONTENT_TYPE,
    SERVER_IMAGE_ID_HEADER,
    TUS_VERSION,
    encode_upload_metadata,
    parse_repr_digest,
)
from tests.sync_support import TOKEN, ServerHandle, backend_for, start_server, tus_upload

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module", params=["production"])
def server(tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    handle = start_server(tmp_path_factory.mktemp("workers") / "data",
                          backend=backend_for(request), extra=["--workers", "2"])
    yield handle
    handle.stop()


def _workers_seen(server: ServerHandle, tries: int = 40) -> set[int]:
    return {server.state()["worker"] for _ in range(tries)}


def _case(server: ServerHandle, n: int) -> tuple[str, list[str]]:
    case_id = str(uuid.uuid4())
    images = []
    for i in range(2):
        image_id = str(uuid.uuid4())
        body = f"photo {n}.{i} ".encode() * 2000
        reply = tus_upload(server.base_url, case_id, image_id, body)
        assert reply.status_code == 204, reply.text
        images.append({"client_image_id": image_id,
                       "server_image_id": reply.headers[SERVER_IMAGE_ID_HEADER],
                       "sha256": parse_repr_digest(reply.headers["repr-digest"]) or ""})
    url = f"{server.base_url}/v1/cases/{case_id}/submission"
    body_json = {"revision": 1, "form": {"n": n}, "images": images,
                 "client": {"app_version": "t", "device_id": "d"}}
    first = httpx.put(url, headers=AUTH, json=body_json, timeout=30)
    again = httpx.put(url, headers=AUTH, json=body_json, timeout=30)  # a lost reply
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["receipt_id"] == again.json()["receipt_id"]
    return case_id, [i["client_image_id"] for i in images]


def test_two_workers_serve_one_address_without_duplicates(server: ServerHandle) -> None:
    assert len(_workers_seen(server)) == 2  # both answer on the one address
    with ThreadPoolExecutor(max_workers=8) as pool:  # a device may write 8 at once
        cases = list(pool.map(lambda n: _case(server, n), range(24)))
    ids = [image for _, images in cases for image in images]
    rows = server.query("SELECT client_image_id FROM images")
    assert sorted(r[0] for r in rows) == sorted(ids)  # one row per photo
    assert len(server.state()["files"]) == len(ids)   # one object per photo
    assert server.query("SELECT count(*) FROM submission_revisions") == [(len(cases),)]


def test_the_same_photo_sent_to_both_workers_at_once_is_held_once(
        server: ServerHandle) -> None:
    case_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = b"one photo" * 3000
    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(lambda _i: tus_upload(server.base_url, case_id, image_id,
                                                      body), range(8)))
    assert {r.status_code for r in replies} == {204}
    assert len({r.headers[SERVER_IMAGE_ID_HEADER] for r in replies}) == 1
    assert server.query("SELECT count(*) FROM images WHERE client_image_id = ?",
                        (image_id,)) == [(1,)]


def _worker_serving(server: ServerHandle, client: socket.socket) -> int:
    """The worker process holding the server side of this client's connection."""
    client_port = client.getsockname()[1]
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == client_port:
                inodes.add(fields[9])
    for process in Path("/proc").iterdir():
        if not process.name.isdigit() or int(process.name) == os.getpid():
            continue
        try:
            links = {str(fd.readlink()) for fd in (process / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return int(process.name)
    raise AssertionError("no worker holds the connection")


def test_a_worker_killed_mid_upload_loses_nothing_and_the_upload_resumes(
        server: ServerHandle) -> None:
    case_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = os.urandom(200_000)
    digest = hashlib.sha256(body).hexdigest()
    head = {**AUTH, "Tus-Resumable": TUS_VERSION}
    created = httpx.post(f"{server.base_url}/v1/uploads", headers={
        **head, "Upload-Length": str(len(body)), "Upload-Metadata": encode_upload_metadata(
            {"case_id": case_id, "client_image_id": image_id, "sha256": digest})})
    url = f"{server.base_url}{created.headers['location']}"
    first = httpx.patch(url, content=body[:50_000], headers={
        **head, "Upload-Offset": "0", "Content-Type": OFFSET_CONTENT_TYPE})
    assert first.status_code == 204 and first.headers["upload-offset"] == "50000"
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 0))
    sock.sendall((f"PATCH {parts.path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}"
                  f"\r\nTus-Resumable: {TUS_VERSION}\r\nUpload-Offset: 50000\r\n"
                  f"Content-Type: {OFFSET_CONTENT_TYPE}\r\nContent-Length: 150000\r\n\r\n"
                  ).encode() + body[50_000:120_000])
    deadline = time.monotonic() + 10
    while True:  # the worker is receiving those bytes (its own count says so)
        receiving = [server.state()["receiving"] for _ in range(6)]
        if any(r.get(parts.path.rsplit("/", 1)[1]) for r in receiving):
            break
        assert time.monotonic() < deadline
    victim = _worker_serving(server, sock)
    os.kill(victim, signal.SIGKILL)  # mid-request: its buffered bytes die with it
    sock.close()
    offset = int(httpx.head(url, headers=head, timeout=30).headers["upload-offset"])
    assert offset == 50_000  # only what was acknowledged
    done = httpx.patch(url, content=body[offset:], timeout=30, headers={
        **head, "Upload-Offset": str(offset), "Content-Type": OFFSET_CONTENT_TYPE})
    assert done.status_code == 204 and parse_repr_digest(done.headers["repr-digest"]) == digest
    assert server.query("SELECT count(*) FROM images WHERE client_image_id = ?",
                        (image_id,)) == [(1,)]
    deadline = time.monotonic() + 30
    while len(_workers_seen(server, 10)) < 2:  # the supervisor starts a new worker
        assert time.monotonic() < deadline
