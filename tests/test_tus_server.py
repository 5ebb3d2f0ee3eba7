"""The reference server's resumable uploads (tus 1.0.0), over real sockets: the protocol's
rules, bytes kept from cut and stalled requests, restarts, expiry, takeover, and the
protocol's own Python client (tuspy, unmodified) working against it."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from kycdesk.core.protocol import (
    OFFSET_CONTENT_TYPE,
    SERVER_IMAGE_ID_HEADER,
    TUS_VERSION,
    encode_upload_metadata,
)
from tests.sync_support import TOKEN, ServerHandle, server_on_each_backend, start_server

AUTH = {"Authorization": f"Bearer {TOKEN}", "Tus-Resumable": TUS_VERSION}
BODY = bytes(range(256)) * 400  # 102,400 bytes


server = server_on_each_backend("tus", extra=["--idle-timeout", "2"])


def _create(server: ServerHandle, body: bytes = BODY, *, case_id: str | None = None,
            image_id: str | None = None) -> str:
    metadata = encode_upload_metadata({
        "case_id": case_id or str(uuid.uuid4()), "client_image_id": image_id or str(uuid.uuid4()),
        "sha256": hashlib.sha256(body).hexdigest(), "filename": "photo.jpg"})
    reply = httpx.post(f"{server.base_url}/v1/uploads", headers={
        **AUTH, "Upload-Length": str(len(body)), "Upload-Metadata": metadata})
    assert reply.status_code == 201, reply.text
    assert reply.headers["upload-offset"] == "0" and reply.headers["upload-expires"]
    return f"{server.base_url}{reply.headers['location']}"


def _patch(url: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
    return httpx.patch(url, content=data, headers={
        **AUTH, "Upload-Offset": str(offset), "Content-Type": OFFSET_CONTENT_TYPE, **headers})


def _offset(url: str) -> int:
    reply = httpx.head(url, headers=AUTH)
    assert reply.status_code == 200
    return int(reply.headers["upload-offset"])


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll a condition the server reaches on its own (a child process: no signal)."""
    ends = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < ends, "the server did not get there in time"
        time.sleep(0.05)


def _raw_patch(url: str, offset: int, declared: int, data: bytes) -> socket.socket:
    """A PATCH that sends `data` of a declared `declared` bytes and then goes quiet —
    the socket stays open (a stalled link) until the caller closes it (a cut link)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: Bearer {TOKEN}\r\nTus-Resumable: {TUS_VERSION}\r\n"
            f"Upload-Offset: {offset}\r\nContent-Type: {OFFSET_CONTENT_TYPE}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    sock.sendall(head + data)
    return sock


def test_options_advertise_the_protocol(server: ServerHandle) -> None:
    reply = httpx.options(f"{server.base_url}/v1/uploads", headers=AUTH)
    assert reply.status_code == 204
    assert reply.headers["tus-version"] == TUS_VERSION
    assert set(reply.headers["tus-extension"].split(",")) == {
        "creation", "creation-with-upload", "expiration", "termination", "checksum"}
    assert set(reply.headers["tus-checksum-algorithm"].split(",")) == {"sha1", "sha256"}
    assert int(reply.headers["tus-max-size"]) > 0


def test_head_patch_offsets_and_refusals(server: ServerHandle) -> None:
    url = _create(server)
    head = httpx.head(url, headers=AUTH)
    assert head.headers["upload-length"] == str(len(BODY))
    assert head.headers["cache-control"] == "no-store"
    assert "filename" in head.headers["upload-metadata"]
    assert _patch(url, 0, BODY[:1000]).status_code == 204
    assert _offset(url) == 1000
    stale = _patch(url, 0, BODY[:1000])
    assert stale.status_code == 409 and stale.headers["upload-offset"] == "1000"
    wrong_type = httpx.patch(url, content=b"x", headers={**AUTH, "Upload-Offset": "1000",
                                                        "Content-Type": "image/jpeg"})
    assert wrong_type.status_code == 415
    old_client = httpx.patch(url, content=b"x", headers={
        "Authorization": AUTH["Authorization"], "Tus-Resumable": "0.2.2",
        "Upload-Offset": "1000", "Content-Type": OFFSET_CONTENT_TYPE})
    assert old_client.status_code == 412 and old_client.headers["tus-version"] == TUS_VERSION
    done = _patch(url, 1000, BODY[1000:])
    assert done.status_code == 204 and done.headers["upload-offset"] == str(len(BODY))
    assert done.headers[SERVER_IMAGE_ID_HEADER]
    # A lost final reply is recovered by asking.
    assert httpx.head(url, headers=AUTH).headers[SERVER_IMAGE_ID_HEADER] == \
        done.headers[SERVER_IMAGE_ID_HEADER]
    missing = httpx.head(f"{server.base_url}/v1/uploads/{'0' * 32}", headers=AUTH)
    assert missing.status_code == 404


def test_creation_with_upload_and_termination(server: ServerHandle) -> None:
    metadata = encode_upload_metadata({"case_id": str(uuid.uuid4()),
                                       "client_image_id": str(uuid.uuid4()),
                                       "sha256": hashlib.sha256(BODY).hexdigest()})
    reply = httpx.post(f"{server.base_url}/v1/uploads", content=BODY[:5000], headers={
        **AUTH, "Upload-Length": str(len(BODY)), "Upload-Metadata": metadata,
        "Content-Type": OFFSET_CONTENT_TYPE})
    assert reply.status_code == 201 and reply.headers["upload-offset"] == "5000"
    url = f"{server.base_url}{reply.headers['location']}"
    assert httpx.delete(url, headers=AUTH).status_code == 204
    assert httpx.head(url, headers=AUTH).status_code == 404


def test_checksum_mismatch_discards_that_chunk_only(server: ServerHandle) -> None:
    url = _create(server)
    assert _patch(url, 0, BODY[:100]).status_code == 204
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    refused = _patch(url, 100, BODY[100:600], **{"Upload-Checksum": f"sha256 {wrong}"})
    assert refused.status_code == 460
    assert _offset(url) == 100
    right = base64.b64encode(hashlib.sha256(BODY[100:600]).digest()).decode()
    assert _patch(url, 100, BODY[100:600], **{"Upload-Checksum": f"sha256 {right}"}
                  ).status_code == 204
    assert _offset(url) == 600


def test_bytes_of_a_cut_request_are_kept(server: ServerHandle) -> None:
    url = _create(server)
    sock = _raw_patch(url, 0, len(BODY), BODY[:30_000])
    _eventually(lambda: _upload_file_size(server, url) == 30_000)
    sock.close()  # the link is cut mid-request
    _eventually(lambda: _offset(url) == 30_000)
    done = _patch(url, 30_000, BODY[30_000:])
    assert done.status_code == 204 and done.headers[SERVER_IMAGE_ID_HEADER]


def test_a_stalled_request_is_taken_over_by_the_resuming_one(server: ServerHandle) -> None:
    url = _create(server)
    sock = _raw_patch(url, 0, len(BODY), BODY[:10_000])  # stalls, socket open
    try:
        _eventually(lambda: _upload_file_size(server, url) == 10_000)
        # The device gave up on that request and resumes from what it last knew.
        moved = _patch(url, 0, BODY)
        assert moved.status_code == 409 and moved.headers["upload-offset"] == "10000"
        done = _patch(url, 10_000, BODY[10_000:])
        assert done.status_code == 204 and done.headers[SERVER_IMAGE_ID_HEADER]
    finally:
        sock.close()
    state = server.state()
    _eventually(lambda: server.state()["upload_guards"] == 0)
    assert state["locks"] == 0  # the per-id lock table does not grow


def test_a_silent_request_ends_at_the_idle_timeout_and_keeps_its_bytes(
        server: ServerHandle) -> None:
    url = _create(server)
    sock = _raw_patch(url, 0, len(BODY), BODY[:20_000])
    try:
        _eventually(lambda: server.state()["upload_guards"] == 1)
        # Nobody asks (a HEAD would take over): --idle-timeout 2 ends it on its own.
        _eventually(lambda: server.state()["upload_guards"] == 0)
        assert _offset(url) == 20_000
    finally:
        sock.close()


def test_partial_upload_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        url = _create(first)
        assert _patch(url, 0, BODY[:40_000]).status_code == 204
    finally:
        first.stop()
    second = start_server(data)
    try:
        resumed = f"{second.base_url}{urlsplit(url).path}"
        assert _offset(resumed) == 40_000
        done = _patch(resumed, 40_000, BODY[40_000:])
        assert done.status_code == 204 and done.headers[SERVER_IMAGE_ID_HEADER]
    finally:
        second.stop()


def test_a_partial_upload_without_progress_expires_and_is_removed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(data, extra=["--upload-expiry", "2"])
    try:
        url = _create(server)
        assert _patch(url, 0, BODY[:1000]).status_code == 204
        assert httpx.head(url, headers=AUTH).headers["upload-expires"]
        _eventually(lambda: httpx.head(url, headers=AUTH).status_code == 410)
        assert server.state()["uploads"] == 0
        assert not any((data / "uploads").iterdir())
    finally:
        server.stop()


def test_tuspy_uploads_a_photo_the_server_then_holds(server: ServerHandle,
                                                     tmp_path: Path) -> None:
    from tusclient.client import TusClient

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(BODY * 3)
    case_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
    client = TusClient(f"{server.base_url}/v1/uploads",
                       headers={"Authorization": f"Bearer {TOKEN}"})
    # Our own stream, closed here: given a path, tuspy opens the file and never closes it.
    # With a per-chunk checksum: tuspy sends sha1 (a MUST of the checksum extension).
    with photo.open("rb") as stream:
        uploader = client.uploader(file_stream=stream, chunk_size=64 * 1024,
                                   upload_checksum=True, metadata={
                                       "case_id": case_id, "client_image_id": image_id,
                                       "sha256": hashlib.sha256(photo.read_bytes())
                                       .hexdigest()})
        uploader.upload()
    held = httpx.get(f"{server.base_url}/v1/cases/{case_id}/images", headers=AUTH).json()
    assert [(h["client_image_id"], h["sha256"]) for h in held] == \
        [(image_id, hashlib.sha256(photo.read_bytes()).hexdigest())]


def _upload_file_size(server: ServerHandle, url: str) -> int:
    """How far a running request for this upload has got (the server's own count)."""
    received: dict[str, int] = server.state()["receiving"]
    return received.get(urlsplit(url).path.rsplit("/", 1)[1], -1)


def test_a_sha1_checksum_is_verified_too(server: ServerHandle) -> None:
    url = _create(server)
    wrong = "sha1 " + base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    assert _patch(url, 0, BODY[:10], **{"Upload-Checksum": wrong}).status_code == 460
    right = "sha1 " + base64.b64encode(hashlib.sha1(BODY[:10]).digest()).decode()
    assert _patch(url, 0, BODY[:10], **{"Upload-Checksum": right}).status_code == 204
    assert _offset(url) == 10


def test_a_body_longer_than_the_upload_counts_nothing(server: ServerHandle) -> None:
    """Never at offset = length without being bound: a PATCH that would run past the
    length is refused whole, whether its Content-Length says so or its bytes do."""
    url = _create(server)
    assert _patch(url, 0, BODY[:10]).status_code == 204
    refused = _patch(url, 10, BODY[10:] + b"extra")
    assert refused.status_code == 400 and refused.headers["tus-resumable"] == TUS_VERSION
    assert _offset(url) == 10
    sock = _raw_patch(url, 10, len(BODY) - 10, BODY[10:] + b"extra")  # lies about it
    try:
        reply = sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert reply in (b"HTTP/1.1 400 Bad Request", b"HTTP/1.1 204 No Content")
    done = httpx.head(url, headers=AUTH)
    # Either the declared bytes were taken and the photo bound, or nothing was counted.
    assert (int(done.headers["upload-offset"]), "kycdesk-server-image-id" in done.headers) \
        in ((10, False), (len(BODY), True))


def test_upload_numbers_are_ascii_digits_only(server: ServerHandle) -> None:
    """`"²".isdigit()` is True and `int("²")` fails: both headers are 400, never 500."""
    metadata = encode_upload_metadata({"case_id": str(uuid.uuid4()),
                                       "client_image_id": str(uuid.uuid4()),
                                       "sha256": hashlib.sha256(BODY).hexdigest()})
    auth = {name.encode(): value.encode() for name, value in AUTH.items()}
    superscript_two = "²".encode("latin-1")  # as the server decodes header values
    created = httpx.post(f"{server.base_url}/v1/uploads", headers={
        **auth, b"Upload-Length": superscript_two, b"Upload-Metadata": metadata.encode()})
    assert created.status_code == 400
    url = _create(server)
    patched = httpx.patch(url, content=b"x", headers={
        **auth, b"Upload-Offset": superscript_two,
        b"Content-Type": OFFSET_CONTENT_TYPE.encode()})
    assert patched.status_code == 400
