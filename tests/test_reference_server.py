"""The reference server's contract rules, over a real socket."""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx

from kycdesk.core.protocol import SERVER_IMAGE_ID_HEADER, TUS_VERSION, parse_repr_digest
from tests.sync_support import (
    TOKEN,
    ServerHandle,
    server_on_each_backend,
    tus_upload,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


server = server_on_each_backend("server", max_image_bytes=50_000)


def _upload(server: ServerHandle, case_id: str, image_id: str, body: bytes,
            digest: bytes | None = None) -> httpx.Response:
    return tus_upload(server.base_url, case_id, image_id, body, declared=digest)


def _held(reply: httpx.Response) -> dict[str, str]:
    """What a completed upload's reply says the server holds."""
    return {"server_image_id": reply.headers[SERVER_IMAGE_ID_HEADER],
            "sha256": parse_repr_digest(reply.headers["repr-digest"]) or ""}


def _ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def test_every_endpoint_needs_the_token(server: ServerHandle) -> None:
    for token in (None, "wrong"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = httpx.get(f"{server.base_url}/v1/health", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"]


def test_health_and_openapi(server: ServerHandle) -> None:
    health = httpx.get(f"{server.base_url}/v1/health", headers=AUTH).json()
    assert health["status"] == "ok" and health["max_image_bytes"] == 50_000
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert "/v1/cases/{case_id}/submission" in spec["paths"]
    assert "Submission" in spec["components"]["schemas"]


def test_upload_is_idempotent_by_image_id_and_digest(server: ServerHandle) -> None:
    case_id, image_id = _ids()
    first = _upload(server, case_id, image_id, b"photo bytes")
    again = _upload(server, case_id, image_id, b"photo bytes")
    assert (first.status_code, again.status_code) == (204, 204)
    assert _held(first) == _held(again)
    assert _held(first)["sha256"] == hashlib.sha256(b"photo bytes").hexdigest()
    other = _upload(server, case_id, image_id, b"another photo")
    assert other.status_code == 409
    elsewhere = _upload(server, str(uuid.uuid4()), image_id, b"photo bytes")
    assert elsewhere.status_code == 409 and "another case" in elsewhere.json()["title"]
    held = [i for i in server.state()["images"] if i["client_image_id"] == image_id]
    assert len(held) == 1


def test_damaged_upload_is_refused_and_not_stored(server: ServerHandle) -> None:
    case_id, image_id = _ids()
    response = _upload(server, case_id, image_id, b"what arrived", digest=b"what was sent")
    assert response.status_code == 422 and "damaged" in response.json()["detail"]
    listed = httpx.get(f"{server.base_url}/v1/cases/{case_id}/images", headers=AUTH).json()
    assert listed == []
    no_metadata = httpx.post(f"{server.base_url}/v1/uploads", headers={
        **AUTH, "Tus-Resumable": TUS_VERSION, "Upload-Length": "3"})
    assert no_metadata.status_code == 400 and "sha256" in no_metadata.json()["detail"]


def test_oversize_upload_is_413(server: ServerHandle) -> None:
    case_id, image_id = _ids()
    assert _upload(server, case_id, image_id, b"x" * 60_000).status_code == 413


def test_concurrent_duplicate_uploads_store_one_image(server: ServerHandle) -> None:
    case_id, image_id = _ids()
    body = b"y" * 40_000
    replies: list[httpx.Response] = []

    def send() -> None:
        replies.append(_upload(server, case_id, image_id, body, ))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [204] * 6
    assert len({_held(r)["server_image_id"] for r in replies}) == 1
    held = [i for i in server.state()["images"] if i["client_image_id"] == image_id]
    assert len(held) == 1


def _submission(images: list[dict[str, Any]], revision: int = 1, device: str = "d1",
                form: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"revision": revision, "form": form or {"a": 1}, "images": images,
            "client": {"app_version": "test", "device_id": device}}


def test_submission_rules(server: ServerHandle) -> None:
    case_id, image_id = _ids()
    stored = _held(_upload(server, case_id, image_id, b"evidence"))
    image = {"client_image_id": image_id, "server_image_id": stored["server_image_id"],
             "sha256": stored["sha256"]}
    url = f"{server.base_url}/v1/cases/{case_id}/submission"
    assert httpx.get(url, headers=AUTH).status_code == 404
    ghost = {**image, "client_image_id": str(uuid.uuid4())}
    refused = httpx.put(url, headers=AUTH, json=_submission([image, ghost]))
    assert refused.status_code == 409 and refused.json()["missing"] == [ghost["client_image_id"]]
    first = httpx.put(url, headers=AUTH, json=_submission([image]))
    again = httpx.put(url, headers=AUTH, json=_submission([image]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["receipt_id"] == again.json()["receipt_id"]
    assert first.json()["server_image_ids"] == [stored["server_image_id"]]
    changed = httpx.put(url, headers=AUTH, json=_submission([image], form={"a": 2}))
    assert changed.status_code == 409
    # The device is its credential, never what the body says it is.
    newer = httpx.put(url, headers=AUTH, json=_submission([image], 2, device="d2",
                                                          form={"a": 2}))
    assert newer.status_code == 201 and newer.json()["revision"] == 2
    older = httpx.put(url, headers=AUTH, json=_submission([image], 1))
    assert older.status_code == 409
    assert httpx.get(url, headers=AUTH).json()["revision"] == 2
    invalid = httpx.put(url, headers=AUTH, json={"revision": 0})
    assert invalid.status_code == 422


def test_control_endpoint_answers_loopback(server: ServerHandle, tmp_path: Path) -> None:
    server.set_faults([{"endpoint": "health", "action": "status", "status": 503,
                        "retry_after": 7, "count": 1}])
    response = httpx.get(f"{server.base_url}/v1/health", headers=AUTH)
    assert response.status_code == 503 and response.headers["retry-after"] == "7"
    assert httpx.get(f"{server.base_url}/v1/health", headers=AUTH).status_code == 200
    assert server.state()["injected"]["health:status"] >= 1


def test_the_server_says_where_it_serves_and_logs_one_line_per_request(
        tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from tests.sync_support import REPO_ROOT

    out = tmp_path / "server.out"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kycdesk_server", "--port", "0", "--data-dir",
             str(tmp_path / "data"), "--token", TOKEN], stdout=sink, stderr=subprocess.STDOUT,
            cwd=REPO_ROOT, env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    try:
        ends = time.monotonic() + 30
        while "serving http://" not in out.read_text():
            assert process.poll() is None and time.monotonic() < ends, out.read_text()
            time.sleep(0.05)  # polling a child's output: there is no signal to wait on
        url = out.read_text().split("serving ", 1)[1].split(" ", 1)[0]
        case_id = str(uuid.uuid4())
        assert httpx.get(f"{url}/v1/cases/{case_id}/images", headers=AUTH).status_code == 200
        ends = time.monotonic() + 10
        while f"GET /v1/cases/{case_id}/images 200" not in out.read_text():
            assert time.monotonic() < ends, out.read_text()
            time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(10)


def test_readiness_and_metrics(server: ServerHandle) -> None:
    ready = httpx.get(f"{server.base_url}/ready")  # no credential: for load balancers
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    case_id, image_id = _ids()
    assert _upload(server, case_id, image_id, b"counted").status_code == 204
    httpx.get(f"{server.base_url}/v1/cases/{case_id}/images", headers=AUTH)
    text = httpx.get(f"{server.base_url}/metrics").text
    assert 'kycdesk_requests_total{method="GET",route="/v1/cases/{case_id}/images",status="200"}' \
        in text
    assert 'kycdesk_upload_outcomes_total{outcome="completed"}' in text
    assert "kycdesk_request_seconds_bucket" in text and "kycdesk_bytes_received_total" in text
    assert case_id not in text and image_id not in text  # ids never become labels
