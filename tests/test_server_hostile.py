"""Hostile and broken clients cannot crash or wedge the reference server: every input
gets a 4xx (never a 500), bodies are bounded in size and in time, a device cannot hold
more than its share of uploads, and the server's data is its owner's alone."""

from __future__ import annotations

import socket
import stat
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from kycdesk.core.protocol import (
    MAX_REVISION,
    OFFSET_CONTENT_TYPE,
    TUS_VERSION,
    encode_upload_metadata,
)
from tests.sync_support import (
    TOKEN,
    ServerHandle,
    server_on_each_backend,
    start_server,
    tus_upload,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
IDLE_S = 2


server = server_on_each_backend("hostile", extra=["--idle-timeout", str(IDLE_S)])


def _healthy(server: ServerHandle) -> bool:
    return httpx.get(f"{server.base_url}/v1/health", headers=AUTH).status_code == 200


def _raw(server: ServerHandle, head: bytes) -> socket.socket:
    parts = urlsplit(server.base_url)
    sock = socket.create_connection((parts.hostname or "", parts.port or 0), timeout=10)
    sock.sendall(head)
    return sock


def _status_of(sock: socket.socket) -> int:
    reply = sock.recv(65536)
    return int(reply.split(b" ", 2)[1]) if reply else 0


def _submission(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {"revision": 1, "form": {}, "images": [],
                               "client": {"app_version": "x", "device_id": "d"}}
    body.update(changes)
    return body


def test_odd_ids_and_values_are_4xx_never_500(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    base = f"{server.base_url}/v1/cases"
    replies = {
        "newline after the id": httpx.get(f"{base}/{case_id}%0A/images", headers=AUTH),
        "upper-case id": httpx.get(f"{base}/{case_id.upper()}/images", headers=AUTH),
        "revision 2**63": httpx.put(f"{base}/{case_id}/submission", headers=AUTH,
                                    json=_submission(revision=2**63)),
        "revision past the bound": httpx.put(f"{base}/{case_id}/submission", headers=AUTH,
                                             json=_submission(revision=MAX_REVISION + 1)),
        "a form 500 levels deep": httpx.put(
            f"{base}/{case_id}/submission", headers=AUTH,
            content=b'{"revision":1,"images":[],"client":{"app_version":"x","device_id":"d"},'
                    b'"form":{"a":' + b"[" * 500 + b"]" * 500 + b"}}",
            ),
        "not JSON": httpx.put(f"{base}/{case_id}/submission", headers=AUTH,
                              content=b"\xff\xfe<html>"),
        "revision as a string": httpx.put(f"{base}/{case_id}/submission", headers=AUTH,
                                          json=_submission(revision="1")),
        "revision as true": httpx.put(f"{base}/{case_id}/submission", headers=AUTH,
                                      json=_submission(revision=True)),
    }
    statuses = {what: reply.status_code for what, reply in replies.items()}
    assert all(400 <= status < 500 for status in statuses.values()), statuses
    assert statuses["newline after the id"] == 422  # the path's pattern, checked whole
    assert statuses["revision as a string"] == statuses["revision as true"] == 422
    assert _healthy(server)
    assert not any("\n" in f for f in server.state()["files"])


def test_a_huge_body_is_refused_before_it_is_read(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    sock = _raw(server, (f"PUT /v1/cases/{case_id}/submission HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {51 * 1024 * 1024}\r\n\r\n").encode())
    with sock:
        assert _status_of(sock) == 413  # answered at once: none of the 51 MB was sent
    chunked = httpx.put(f"{server.base_url}/v1/cases/{case_id}/submission", headers=AUTH,
                        content=iter([b'{"revision": 1}']))
    assert chunked.status_code == 411


def test_a_body_that_stops_arriving_does_not_hold_the_server(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    sock = _raw(server, (f"PUT /v1/cases/{case_id}/submission HTTP/1.1\r\nHost: x\r\n"
                         f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
                         "Content-Length: 1000\r\n\r\n{\"revision\": ").encode())
    started = time.monotonic()
    with sock:
        sock.settimeout(IDLE_S * 5)
        while sock.recv(65536):  # the server gives up on the body and closes
            pass
    assert time.monotonic() - started < IDLE_S * 5
    assert _healthy(server)


def test_oversized_headers_are_refused(server: ServerHandle) -> None:
    huge = {**AUTH, "X-Padding": "a" * 64 * 1024}
    try:
        reply = httpx.get(f"{server.base_url}/v1/health", headers=huge)
        assert 400 <= reply.status_code < 500
    except httpx.RemoteProtocolError:
        pass  # closed without a reply: refused just as well
    assert _healthy(server)


def test_a_device_cannot_hold_more_than_its_share_of_uploads(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    held: list[socket.socket] = []
    urls = []
    for _ in range(9):
        created = httpx.post(f"{server.base_url}/v1/uploads", headers={
            **AUTH, "Tus-Resumable": TUS_VERSION, "Upload-Length": "1000",
            "Upload-Metadata": encode_upload_metadata({
                "case_id": case_id, "client_image_id": str(uuid.uuid4()),
                "sha256": "0" * 64})})
        assert created.status_code == 201
        urls.append(created.headers["location"])
    try:
        for path in urls[:8]:  # eight requests that send a little, then stall
            held.append(_raw(server, (
                f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                f"Tus-Resumable: {TUS_VERSION}\r\nUpload-Offset: 0\r\n"
                f"Content-Type: {OFFSET_CONTENT_TYPE}\r\nContent-Length: 1000\r\n\r\nab"
            ).encode()))
        # The eight hold their slots once the server is receiving all of their bodies
        # (its own record, through the control endpoint). Each is kept alive with a byte
        # at a time: the server ends a body idle for IDLE_S, and under load the eight can
        # take longer than that to get through their heads — waiting on a clock raced.
        ids = {path.rsplit("/", 1)[-1] for path in urls[:8]}
        give_up = time.monotonic() + 120  # a hang guard, not a timing assumption
        fed = time.monotonic()
        while not ids <= set(server.state()["receiving"]):
            assert time.monotonic() < give_up, server.state()["receiving"]
            if time.monotonic() - fed > IDLE_S / 4:  # well inside the idle limit,
                fed = time.monotonic()              # and far from the 1,000 bytes
                for sock in held:
                    sock.sendall(b"c")
        ninth = httpx.patch(f"{server.base_url}{urls[8]}", content=b"x", headers={
            **AUTH, "Tus-Resumable": TUS_VERSION, "Upload-Offset": "0",
            "Content-Type": OFFSET_CONTENT_TYPE})
        assert ninth.status_code == 429 and ninth.headers["retry-after"] == "5"
    finally:
        for sock in held:
            sock.close()
    # The stalled requests end (their bytes kept); the device can upload again.
    reply = tus_upload(server.base_url, str(uuid.uuid4()), str(uuid.uuid4()), b"photo")
    assert reply.status_code == 204


def test_the_servers_data_is_its_owners_alone(server: ServerHandle) -> None:
    tus_upload(server.base_url, str(uuid.uuid4()), str(uuid.uuid4()), b"private photo")
    mode = stat.S_IMODE
    assert mode(server.data_dir.stat().st_mode) == 0o700
    if server.database_url is None:  # the embedded back end's database file
        assert mode((server.data_dir / "server.sqlite3").stat().st_mode) == 0o600
    for path in server.data_dir.rglob("*"):
        allowed = 0o700 if path.is_dir() else 0o600
        assert mode(path.stat().st_mode) & ~allowed == 0, path


def test_an_interrupted_upload_is_one_warning_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(tmp_path / "data", log=log)
    try:
        created = httpx.post(f"{server.base_url}/v1/uploads", headers={
            **AUTH, "Tus-Resumable": TUS_VERSION, "Upload-Length": "100000",
            "Upload-Metadata": encode_upload_metadata({
                "case_id": str(uuid.uuid4()), "client_image_id": str(uuid.uuid4()),
                "sha256": "0" * 64})})
        path = created.headers["location"]
        cut = _raw(server, (f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                            f"{TOKEN}\r\nTus-Resumable: {TUS_VERSION}\r\nUpload-Offset: 0\r\n"
                            f"Content-Type: {OFFSET_CONTENT_TYPE}\r\n"
                            "Content-Length: 100000\r\n\r\n").encode() + b"x" * 5000)
        with cut:  # the app died mid-body; the resuming one asks where it got to
            head = {**AUTH, "Tus-Resumable": TUS_VERSION}
            deadline = time.monotonic() + 20
            while httpx.head(f"{server.base_url}{path}", headers=head, timeout=20
                             ).headers["upload-offset"] != "5000":
                assert time.monotonic() < deadline
    finally:
        server.stop()
    text = log.read_text()
    assert text.count("interrupted after 5000 of 100000 bytes") == 1
    assert "Traceback" not in text


@pytest.mark.parametrize(("host", "flags", "refused"), [
    ("0.0.0.0", [], True),
    ("10.1.2.3", [], True),
    ("0.0.0.0", ["--tls-terminated-by-proxy"], False),
    ("127.0.0.1", [], False),
    ("localhost", [], False),
])
def test_the_server_refuses_plain_http_off_this_machine(host: str, flags: list[str],
                                                         refused: bool) -> None:
    from kycdesk_server.cli import plain_http_refusal

    problem = plain_http_refusal(host, False, "--tls-terminated-by-proxy" in flags)
    assert (problem is not None) is refused
    if refused:
        assert "--ssl-certfile" in (problem or "")


def test_the_server_process_exits_with_the_reason(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.sync_support import REPO_ROOT

    run = subprocess.run([sys.executable, "-m", "kycdesk_server", "--host", "0.0.0.0",
                          "--port", "0", "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                         check=False)
    assert run.returncode == 2 and "refusing to serve plain HTTP" in run.stderr
    assert not (tmp_path / "d").exists()  # nothing was created


def test_photo_storage_down_is_503_and_nothing_is_acknowledged(tmp_path: Path) -> None:
    """Object storage unreachable: readiness says so, uploads get 503 with Retry-After,
    and no byte is counted that the storage did not take."""
    from tests.sync_support import Backend

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    server = start_server(tmp_path / "data", backend=Backend(
        s3_args=("--s3-endpoint", dead, "--s3-bucket", "photos"),
        env=(("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s"))))
    try:
        ready = httpx.get(f"{server.base_url}/ready", timeout=60)
        assert ready.status_code == 503 and ready.headers["retry-after"]
        reply = tus_upload(server.base_url, str(uuid.uuid4()), str(uuid.uuid4()),
                           b"photo bytes")
        assert reply.status_code == 503 and reply.headers["retry-after"] == "10"
        assert server.state()["images"] == [] and server.state()["files"] is None
        uploads = server.query('SELECT "offset" FROM uploads')
        assert uploads and all(offset == 0 for (offset,) in uploads)
    finally:
        server.stop()


def test_metrics_stay_bounded_whatever_paths_are_asked(tmp_path: Path) -> None:
    """Anonymous requests for thousands of made-up paths share one label: the exposition
    does not grow with them."""
    server = start_server(tmp_path / "data")
    try:
        with httpx.Client(base_url=server.base_url) as http:
            def ask(count: int) -> None:
                for _ in range(count):
                    junk = uuid.uuid4().hex
                    http.get(f"/v1/{junk}/x")
                    http.get(f"/{junk}")
                    http.request("FOO" + junk[:4].upper(), f"/v1/uploads/{junk}")
            ask(50)
            http.get("/metrics")  # its own series exist from now on
            size = len(http.get("/metrics").content)
            ask(1000)
            exposition = http.get("/metrics").text
        assert len(exposition) <= size + 200  # counts grow a few digits, labels do not
        assert 'route="other"' in exposition and 'method="other"' in exposition
        assert 'route="/v1/uploads/{upload_id}"' in exposition
    finally:
        server.stop()


def test_a_path_cannot_forge_an_access_log_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server(tmp_path / "data", log=log)
    try:
        forged = "2026-01-01 00:00:00,000 GET /v1/health 200 in=0 out=0 0.001s"
        httpx.get(f"{server.base_url}/v1/x%0A{forged.replace(' ', '%20')}%0D%1B[31m")
        assert _healthy(server)
    finally:
        server.stop()
    lines = log.read_text().splitlines()
    assert not any(line.startswith("2026-01-01") for line in lines)
    [line] = [line for line in lines if "/v1/x" in line]
    assert "/v1/x\\x0a2026-01-01\\x2000:00:00,000" in line and "\x1b" not in line
