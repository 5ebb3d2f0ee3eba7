"""The two-way routes on the real server (a child process on 127.0.0.1), on every back end
(SQLite + files, PostgreSQL + S3): the pull's size and its 412, the office's acts through
/api/office (supervisors only, CSRF, audit), a handover end to end with the photo fetched
in ranges and resumed, a tablet's request refused, a broken form refused."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kycdesk.core.hashing import form_definition_sha256
from kycdesk.core.protocol import (
    EMPTY_HELD_DIGEST,
    PullReply,
    parse_repr_digest,
)
from kycdesk_server.backoffice.web import CSRF_HEADER
from kycdesk_server.feed import digest_of
from tests.browser_support import OfficeServer
from tests.real_parts import start_postgres
from tests.review_support import FORM, answers, image_entry, jpeg
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    Backend,
    ServerHandle,
    server_on_each_backend,
    start_server,
    tus_upload,
)

TOKEN_B = "second-tablet-token"
server = server_on_each_backend("pull-api", extra=["--token", TOKEN_B])


def device_client(server: ServerHandle, token: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def lab_device_id(token: str) -> str:
    return f"lab-{hashlib.sha256(token.encode()).hexdigest()[:16]}"


class Tablet:
    def __init__(self, server: ServerHandle, token: str) -> None:
        self.http = device_client(server, token)
        self.id = lab_device_id(token)
        self.token: str | None = None
        self.held: set[str] = set()

    def pull(self, **extra: Any) -> httpx.Response:
        return self.http.post("/v1/pull", json={
            "token": self.token, "held_digest": digest_of(sorted(self.held)),
            "held_count": len(self.held), **extra})

    def pull_all(self) -> list[Any]:
        changes: list[Any] = []
        while True:
            reply = self.pull()
            assert reply.status_code == 200, reply.text
            page = PullReply.model_validate(reply.json())
            for change in page.changes:
                if change.kind in ("assigned", "handover_in"):
                    self.held.add(str(change.case_id))
                if change.kind == "withdrawn":
                    self.held.discard(str(change.case_id))
            changes += page.changes
            self.token = page.token
            if not page.more:
                return changes


@pytest.fixture(scope="module")
def tablets(server: ServerHandle) -> Iterator[tuple[Tablet, Tablet]]:
    a, b = Tablet(server, TOKEN), Tablet(server, TOKEN_B)
    yield a, b
    a.http.close()
    b.http.close()


@pytest.fixture(scope="module")
def office(server: ServerHandle) -> Iterator[dict[str, httpx.Client]]:
    handle = OfficeServer(server)
    clients = {}
    for role in ("supervisor", "reviewer"):
        headers = handle.api_headers(handle.add_account(role, with_totp=False))
        clients[role] = httpx.Client(base_url=server.base_url, timeout=10, headers=headers)
    yield clients
    for client in clients.values():
        client.close()


def new_case(office: dict[str, httpx.Client], device: str, reference: str = "KYC-9"
             ) -> str:
    reply = office["supervisor"].post("/api/office/assignments", json={
        "reference": reference, "applicant_name": "Ada Lovelace", "device": device,
        "form_version": "2", "due_date": "2026-12-31",
        "prefill": {"applicant.first_name": "Ada"}})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["case_id"])


def header_bytes(headers: httpx.Headers) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items())


def test_an_empty_pull_is_small_both_ways(server: ServerHandle) -> None:
    with device_client(server, TOKEN) as http:
        body = json.dumps({"token": None, "held_digest": EMPTY_HELD_DIGEST,
                           "held_count": 0}).encode()
        reply = http.post("/v1/pull", content=body,
                          headers={"Content-Type": "application/json"})
        assert reply.status_code == 200, reply.text
        sent = len(body) + header_bytes(reply.request.headers)
        received = len(reply.content) + header_bytes(reply.headers)
        assert sent < 1024 and received < 1024, (sent, received)
        assert reply.json()["changes"] == [] and reply.json()["more"] is False


def test_the_pull_needs_a_device_and_answers_412_on_a_held_set_mismatch(
        server: ServerHandle) -> None:
    assert httpx.post(f"{server.base_url}/v1/pull", json={
        "held_digest": EMPTY_HELD_DIGEST, "held_count": 0}, timeout=10).status_code == 401
    with device_client(server, TOKEN) as http:
        reply = http.post("/v1/pull", json={"held_digest": "1" * 64, "held_count": 3})
    assert reply.status_code == 412
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["resync"] is True


def test_office_acts_need_a_supervisor_and_the_pages_token(
        server: ServerHandle, office: dict[str, httpx.Client]) -> None:
    body = {"reference": "R", "applicant_name": "A", "device": lab_device_id(TOKEN),
            "form_version": "2"}
    assert office["reviewer"].post("/api/office/assignments", json=body).status_code == 403
    no_csrf = httpx.post(f"{server.base_url}/api/office/assignments", json=body, timeout=10,
                         headers={"Cookie": office["supervisor"].headers["Cookie"]})
    assert no_csrf.status_code == 403
    bad = office["supervisor"].post("/api/office/assignments",
                                    json={**body, "device": "no such tablet"})
    assert bad.status_code == 422 and "No enrolled tablet" in bad.json()["detail"]
    devices = office["reviewer"].get("/api/office/devices").json()
    assert {d["id"] for d in devices} >= {lab_device_id(TOKEN), lab_device_id(TOKEN_B)}
    actions = [r[0] for r in server.query("SELECT action FROM office_audit")]
    assert "case.assigned_to_device" not in actions  # nothing refused was done


def test_a_case_assigned_submitted_handed_over_and_its_photo_fetched_in_ranges(
        server: ServerHandle, office: dict[str, httpx.Client],
        tablets: tuple[Tablet, Tablet]) -> None:
    a, b = tablets
    a.pull_all(), b.pull_all()
    case_id = new_case(office, a.id)
    [assigned] = a.pull_all()
    assert (assigned.kind, assigned.case_id, assigned.prefilled) == \
        ("assigned", case_id, ["applicant.first_name"])
    rows = {r["case_id"]: r for r in office["reviewer"].get("/api/office/assignments").json()}
    assert rows[case_id]["status"] == "waiting"
    picture, front = jpeg(7, (640, 480)), str(uuid.uuid4())
    uploaded = tus_upload(server.base_url, case_id, front, picture)
    assert uploaded.status_code == 204, uploaded.text
    submitted = a.http.put(f"/v1/cases/{case_id}/submission", json={
        "revision": 1, "reference_number": "KYC-9", **FORM, "form": answers(),
        "images": [image_entry(front, uploaded.headers["kycdesk-server-image-id"], picture,
                               "id_front")],
        "client": {"app_version": "t", "device_id": "a"}})
    assert submitted.status_code == 201, submitted.text
    assert office["supervisor"].post(f"/api/office/cases/{case_id}/handover",
                                     json={"device": b.id}).status_code == 200
    [out] = a.pull_all()
    assert out.kind == "handover_out"
    assert b.pull_all() == []
    released = a.http.post(f"/v1/cases/{case_id}/release", json={"last_revision": 1})
    assert released.status_code == 200, released.text
    a.held.discard(case_id)
    [arrived] = b.pull_all()
    assert arrived.kind == "handover_in" and arrived.revision == 1
    [photo] = arrived.photos
    url = f"/v1/cases/{case_id}/images/{front}"
    whole = b.http.get(url)
    assert whole.status_code == 200 and whole.content == picture
    assert parse_repr_digest(whole.headers["repr-digest"]) == photo.sha256
    assert whole.headers["etag"] == f'"{photo.sha256}"'
    cut = len(picture) // 3  # a download cut after a third: resumed from there
    first = b.http.get(url, headers={"Range": f"bytes=0-{cut - 1}"})
    rest = b.http.get(url, headers={"Range": f"bytes={cut}-"})
    assert (first.status_code, rest.status_code) == (206, 206)
    assert rest.headers["content-range"] == f"bytes {cut}-{len(picture) - 1}/{len(picture)}"
    assert first.content + rest.content == picture
    beyond = b.http.get(url, headers={"Range": f"bytes={len(picture)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(picture)}"
    assert a.http.get(url).status_code == 403
    assert b.http.get(f"/v1/cases/{case_id}/images/{uuid.uuid4()}").status_code == 404
    assert a.pull().status_code == 200 and b.pull().status_code == 200  # digests agree
    actions = [r[0] for r in server.query("SELECT action FROM office_audit")]
    assert {"case.assigned_to_device", "case.handover_started"} <= set(actions)


def test_a_tablets_request_for_another_tablets_case_is_refused_with_a_reason(
        office: dict[str, httpx.Client], tablets: tuple[Tablet, Tablet]) -> None:
    a, b = tablets
    a.pull_all(), b.pull_all()
    case_id = new_case(office, a.id, "KYC-10")
    a.pull_all()
    asked = b.http.post(f"/v1/cases/{case_id}/handover-requests",
                        json={"reason": "imported", "reference_number": "KYC-10"})
    assert asked.status_code == 202, asked.text
    [request] = [h for h in office["reviewer"].get("/api/office/handovers").json()
                 if h["case_id"] == case_id]
    assert request["state"] == "requested"
    assert office["reviewer"].post(f"/api/office/handovers/{request['id']}/refusal",
                                   json={}).status_code == 403
    refused = office["supervisor"].post(f"/api/office/handovers/{request['id']}/refusal",
                                        json={"note": "Ask the office first"})
    assert refused.status_code == 200
    [refusal] = b.pull_all()
    assert (refusal.kind, refusal.note) == ("handover_refused", "Ask the office first")


def test_a_broken_form_is_refused_with_its_reason_and_a_good_one_reaches_tablets(
        office: dict[str, httpx.Client], tablets: tuple[Tablet, Tablet]) -> None:
    tablet = tablets[1]
    tablet.pull_all()
    shipped = json.loads((REPO_ROOT / "resources" / "forms" / "individual_kyc_v2.json")
                         .read_text())
    broken = {**shipped, "version": "7", "steps": []}
    refused = office["supervisor"].post("/api/office/forms", json={"definition": broken})
    assert refused.status_code == 422 and "steps" in refused.json()["detail"]
    good = {**shipped, "version": "7"}
    assert office["reviewer"].post("/api/office/forms",
                                   json={"definition": good}).status_code == 403
    published = office["supervisor"].post("/api/office/forms", json={
        "definition": good, "sha256": form_definition_sha256(good)})
    assert published.status_code == 201, published.text
    forms = [c for c in tablet.pull_all() if c.kind == "form"]
    assert [(f.form_version, f.definition_sha256) for f in forms] == \
        [("7", form_definition_sha256(good))]
    # The server checks submissions under the new version from now on.
    case_id = str(uuid.uuid4())
    accepted = tablet.http.put(f"/v1/cases/{case_id}/submission", json={
        "revision": 1, "form_id": "individual_kyc", "form_version": "7", "form": answers(),
        "images": [], "client": {"app_version": "t", "device_id": "b"}})
    assert accepted.status_code == 201, accepted.text
    assert CSRF_HEADER in office["supervisor"].headers


def test_a_pull_while_the_database_is_down_is_503_then_answers_again(
        tmp_path: Path) -> None:
    """The known storage error, as on every other route: 503 + Retry-After, no 500."""
    cluster = start_postgres()
    log = tmp_path / "server.log"
    handle = start_server(tmp_path / "data", backend=Backend(cluster.new_database("down")),
                          log=log, extra=["--db-timeout", "2"])
    body = {"held_digest": EMPTY_HELD_DIGEST, "held_count": 0}
    try:
        with device_client(handle, TOKEN) as http:
            assert http.post("/v1/pull", json=body).status_code == 200
            cluster.shut_down()
            down = http.post("/v1/pull", json=body)
            assert down.status_code == 503 and down.headers["retry-after"]
            assert http.get(f"/v1/cases/{uuid.uuid4()}/images/{uuid.uuid4()}"
                            ).status_code == 503
            cluster.start_again()
            assert http.post("/v1/pull", json=body).status_code == 200
    finally:
        handle.stop()
        cluster.stop()
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and " 500 " not in text


def test_the_office_pages_acts_need_the_pages_token_and_a_supervisor(
        server: ServerHandle, office: dict[str, httpx.Client]) -> None:
    form = {"reference": "KYC-P", "applicant_name": "Ada", "device": lab_device_id(TOKEN),
            "form": "individual_kyc/2", "prefill:applicant.first_name": "Ada"}
    url = f"{server.base_url}/office/assignments"
    for role, token, expected in (("supervisor", False, 403), ("reviewer", True, 403),
                                  ("supervisor", True, 303)):
        headers = office[role].headers
        sent = {**form, **({"csrf_token": headers[CSRF_HEADER]} if token else {})}
        reply = httpx.post(url, data=sent, timeout=10, headers={"Cookie": headers["Cookie"]})
        assert reply.status_code == expected, (role, token, reply.text[:300])
    rows = office["reviewer"].get("/api/office/assignments").json()
    assert [r["reference"] for r in rows].count("KYC-P") == 1
