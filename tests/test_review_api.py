"""The review's JSON API on the real server (a child process on 127.0.0.1), on every back
end: signed-in reviewers only, the queue, a case, decisions with their refusals as problem
bodies, photo bytes (sniffed type, nosniff, ETag, ranges) and the export."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kycdesk_server.backoffice.web import CSRF_HEADER
from tests.browser_support import OfficeServer
from tests.review_support import answers, jpeg, submit_over_api
from tests.sync_support import ServerHandle, server_on_each_backend

server = server_on_each_backend("review-api")

FRONT, SELFIE, ODD = (str(uuid.uuid4()) for _ in range(3))
CASE_A, CASE_B = str(uuid.uuid4()), str(uuid.uuid4())
NOT_AN_IMAGE = b"<html><script>alert(1)</script></html>"


@dataclass
class OfficeClient:
    """httpx with a reviewer's session; posts carry the CSRF header as the page's script
    does (`.http.post` sends the cookie alone)."""

    http: httpx.Client
    csrf: str
    username: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, headers={CSRF_HEADER: self.csrf}, **kwargs)

    def __enter__(self) -> OfficeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()  # its pooled sockets: left open they are a ResourceWarning


def signed_in(office: OfficeServer, role: str = "reviewer") -> OfficeClient:
    account = office.add_account(role, with_totp=False)
    headers = office.api_headers(account)
    return OfficeClient(httpx.Client(base_url=office.server.base_url, timeout=10,
                                     headers={"Cookie": headers["Cookie"]}),
                        headers[CSRF_HEADER], account.username)


@pytest.fixture(scope="module")
def seeded(server: ServerHandle) -> Iterator[dict[str, Any]]:
    office = OfficeServer(server)
    submit_over_api(server.base_url, CASE_A, 1,
                    answers("Ada", "Lovelace", "P1234567"),
                    [(FRONT, jpeg(1), "id_front"), (SELFIE, jpeg(2), "selfie"),
                     (ODD, NOT_AN_IMAGE, "other")], reference="=cmd|' /C calc'!A0")
    submit_over_api(server.base_url, CASE_B, 1, answers("Grace", "Hopper", "X9"), [])
    with signed_in(office) as anna, signed_in(office) as boris:
        yield {"anna": anna, "boris": boris}


def test_the_api_answers_only_a_signed_in_reviewer(server: ServerHandle,
                                                   seeded: dict[str, Any]) -> None:
    for path in ("/api/office/cases", f"/api/office/cases/{CASE_A}",
                 f"/api/office/cases/{CASE_A}/photos/{FRONT}", "/api/office/decisions/export.csv"):
        reply = httpx.get(server.base_url + path, timeout=10)
        assert reply.status_code == 401, path
        assert reply.headers["content-type"] == "application/problem+json"
    anna: OfficeClient = seeded["anna"]
    refused = anna.http.post(f"/api/office/cases/{CASE_B}/assignment", json={})
    assert refused.status_code == 403  # no CSRF token: refused before the service


def test_queue_search_and_paging(seeded: dict[str, Any]) -> None:
    anna: OfficeClient = seeded["anna"]
    page = anna.get("/api/office/cases", params={"limit": 1}).json()
    assert len(page["rows"]) == 1 and page["next"]
    rest = anna.get("/api/office/cases", params={"limit": 1, **page["next"]}).json()
    assert {page["rows"][0]["case_id"], rest["rows"][0]["case_id"]} == {CASE_A, CASE_B}
    found = anna.get("/api/office/cases", params={"q": "hopper"}).json()["rows"]
    assert [r["case_id"] for r in found] == [CASE_B]
    anywhere = anna.get("/api/office/cases", params={"after": "~", "after_id": "x"})
    assert anywhere.status_code == 200 and anywhere.json() == {"rows": [], "next": None}


def test_case_detail_and_photos(seeded: dict[str, Any]) -> None:
    anna: OfficeClient = seeded["anna"]
    detail = anna.get(f"/api/office/cases/{CASE_A}").json()
    assert detail["applicant"] == "Ada Lovelace" and detail["state"] == "received"
    assert {p["slot"]: p["sha256_verified"] for p in detail["photos"]} == \
        {"id_front": True, "selfie": True, "other": True}
    whole = anna.get(f"/api/office/cases/{CASE_A}/photos/{FRONT}")
    assert whole.status_code == 200 and whole.content == jpeg(1)
    assert whole.headers["content-type"] == "image/jpeg"
    assert whole.headers["x-content-type-options"] == "nosniff"
    tag = whole.headers["etag"]
    assert tag == f'"{detail["photos"][0]["sha256"]}"'
    assert anna.get(f"/api/office/cases/{CASE_A}/photos/{FRONT}",
                    headers={"If-None-Match": tag}).status_code == 304
    part = anna.get(f"/api/office/cases/{CASE_A}/photos/{FRONT}",
                    headers={"Range": "bytes=10-19"})
    assert (part.status_code, part.content) == (206, jpeg(1)[10:20])
    assert part.headers["content-range"] == f"bytes 10-19/{len(jpeg(1))}"
    tail = anna.get(f"/api/office/cases/{CASE_A}/photos/{FRONT}",
                    headers={"Range": "bytes=-5"})
    assert tail.content == jpeg(1)[-5:]
    beyond = anna.get(f"/api/office/cases/{CASE_A}/photos/{FRONT}",
                      headers={"Range": f"bytes={len(jpeg(1))}-"})
    assert beyond.status_code == 416
    odd = anna.get(f"/api/office/cases/{CASE_A}/photos/{ODD}")
    assert odd.headers["content-type"] == "application/octet-stream"
    assert odd.headers["content-disposition"].startswith("attachment")
    assert anna.get(f"/api/office/cases/{CASE_B}/photos/{FRONT}").status_code == 404


def test_decisions_conflicts_and_export(seeded: dict[str, Any]) -> None:
    anna: OfficeClient = seeded["anna"]
    boris: OfficeClient = seeded["boris"]
    taken = anna.post(f"/api/office/cases/{CASE_A}/assignment", json={})
    assert taken.status_code == 200 and taken.json()["assignee_name"] == anna.username
    clash = boris.post(f"/api/office/cases/{CASE_A}/assignment", json={})
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    stale = anna.post(f"/api/office/cases/{CASE_A}/decisions",
                      json={"revision": 2, "decision": "approve"})
    assert stale.status_code == 409 and "revision" in stale.json()["detail"].lower()
    invalid = anna.post(f"/api/office/cases/{CASE_A}/decisions",
                        json={"revision": 1, "decision": "reject", "note": "no code"})
    assert invalid.status_code == 422
    returned = anna.post(f"/api/office/cases/{CASE_A}/decisions", json={
        "revision": 1, "decision": "return", "comments": [
            {"field_key": "applicant.last_name", "text": "Check the spelling"},
            {"client_image_id": FRONT, "text": "Glare: retake"}]})
    assert returned.status_code == 201, returned.text
    assert len(returned.json()["comments"]) == 2
    history = anna.get(f"/api/office/cases/{CASE_A}/decisions").json()
    assert [d["decision"] for d in history] == ["return"]
    assert anna.get(f"/api/office/cases/{CASE_A}").json()["state"] == "returned"
    exported = anna.get("/api/office/decisions/export.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    [row] = [r for r in csv.DictReader(io.StringIO(exported.text)) if r["case_id"] == CASE_A]
    assert row["reference"] == "'=cmd|' /C calc'!A0" and row["comments"] == "2"
    lines = [json.loads(line) for line in
             anna.get("/api/office/decisions/export.json").text.splitlines()]
    assert [r["reference"] for r in lines if r["case_id"] == CASE_A] == ["=cmd|' /C calc'!A0"]


def test_openapi_documents_the_review_routes(server: ServerHandle) -> None:
    doc = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    decide = doc["paths"]["/api/office/cases/{case_id}/decisions"]["post"]
    assert {"201", "401", "404", "409", "422"} <= set(decide["responses"])
    assert "CaseDetail" in doc["components"]["schemas"]


HOSTILE_FIRST, HOSTILE_LAST = "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'


def test_pages_render_hostile_names_as_text_and_decide_through_forms(
        server: ServerHandle, seeded: dict[str, Any]) -> None:
    hostile = str(uuid.uuid4())
    submit_over_api(server.base_url, hostile, 1, answers(HOSTILE_FIRST, HOSTILE_LAST, "H1"),
                    [], reference="<b>REF</b>")
    anna: OfficeClient = seeded["anna"]
    for page in (anna.get("/office/queue", params={"q": "H1"}),
                 anna.get(f"/office/cases/{hostile}")):
        assert page.status_code == 200, page.text
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<b>REF</b>" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    form = {"csrf_token": anna.csrf, "revision": "1", "decision": "reject",
            "reason_code": "fraud_suspected", "note": "forged document"}
    refused = anna.http.post(f"/office/cases/{hostile}/decide",
                             data={**form, "csrf_token": "wrong"})
    assert refused.status_code == 403
    done = anna.http.post(f"/office/cases/{hostile}/decide", data=form)
    assert done.status_code == 303, done.text
    assert anna.get(f"/api/office/cases/{hostile}").json()["state"] == "rejected"
    stale = anna.http.post(f"/office/cases/{hostile}/decide",
                           data={"csrf_token": anna.csrf, "revision": "1",
                                 "decision": "approve"})
    assert stale.status_code == 409 and "text/html" in stale.headers["content-type"]


def test_a_supervisor_gives_a_case_to_a_reviewer(server: ServerHandle,
                                                 seeded: dict[str, Any]) -> None:
    anna: OfficeClient = seeded["anna"]
    boris: OfficeClient = seeded["boris"]
    with signed_in(OfficeServer(server), "supervisor") as sue:
        boris_id = boris.get("/api/office/me").json()["id"]
        refused = anna.post(f"/api/office/cases/{CASE_B}/assignment",
                            json={"assignee_id": boris_id})
        assert refused.status_code == 403
        page = sue.get(f"/office/cases/{CASE_B}")
        assert 'id="assignee_id"' in page.text and boris.username in page.text
        given = sue.http.post(f"/office/cases/{CASE_B}/assign",
                              data={"csrf_token": sue.csrf, "assignee_id": boris_id})
        assert given.status_code == 303
        assert anna.get(f"/api/office/cases/{CASE_B}").json()["assignee_name"] == boris.username
        mine = boris.get("/api/office/cases", params={"assignee": "me"}).json()["rows"]
        assert CASE_B in [r["case_id"] for r in mine]
        filtered = sue.get("/office/queue", params={"assignee": boris_id})
        assert "Grace Hopper" in filtered.text
        assert "Ada Lovelace" not in filtered.text
        unknown = sue.post(f"/api/office/cases/{CASE_B}/assignment",
                           json={"assignee_id": "acc-nobody"})
        assert unknown.status_code == 404


def test_the_case_page_compares_any_two_revisions(server: ServerHandle,
                                                  seeded: dict[str, Any]) -> None:
    anna: OfficeClient = seeded["anna"]
    submit_over_api(server.base_url, CASE_B, 2, answers("Grace", "Murray", "X9"), [])
    submit_over_api(server.base_url, CASE_B, 3, answers("Grace", "Murray Hopper", "X9"), [])
    latest = anna.get(f"/office/cases/{CASE_B}").text
    assert "from revision 2 to 3" in latest and "<ins>Murray Hopper</ins>" in latest
    chosen = anna.get(f"/office/cases/{CASE_B}",
                      params={"from_revision": 1, "to_revision": 2}).text
    assert "<del>Hopper</del>" in chosen and "<ins>Murray</ins>" in chosen
    api = anna.get(f"/api/office/cases/{CASE_B}/diff", params={"from": 1, "to": 3}).json()
    assert [(c["before"], c["after"]) for c in api["changes"]] == [("Hopper", "Murray Hopper")]
    missing = anna.get(f"/office/cases/{CASE_B}", params={"from_revision": 1,
                                                          "to_revision": 9})
    assert missing.status_code == 404


def test_the_case_page_shows_the_applicant_signature(server: ServerHandle,
                                                     seeded: dict[str, Any]) -> None:
    """Sent as a tablet sends it (strokes + PNG in the form value): the page redraws the
    strokes beside the declarations, the API carries the value and the PNG's check."""
    from kycdesk.core.signature import png_sha256, signature_value

    png = jpeg(7)  # any bytes: the check is the digest, not the format
    signed = signature_value(
        [[(10.0 + 9 * i, 40.0 + 20 * (i % 2), 16 * i, 0.5) for i in range(12)],
         [(30.0, 100.0, 400, 0.7), (120.0, 104.0, 450, 0.7)]],
        560, 180, png, "2026-12-06T05:00:00.000Z")
    case_id = str(uuid.uuid4())
    key = "declarations.applicant_signature"
    submit_over_api(server.base_url, case_id, 1,
                    answers("Sig", "Ner", "S1", **{key: signed, "declarations.pep": False}),
                    [], form={"form_id": "individual_kyc", "form_version": "3"})
    anna: OfficeClient = seeded["anna"]
    page = anna.get(f"/office/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert '<svg class="signature" viewBox="0 0 560 180"' in page.text
    assert f'data-field="{key}"' in page.text and page.text.count("<path d=\"M") == 2
    assert f"PNG SHA-256 {png_sha256(png)[:12]}" in page.text
    assert "PNG does not match" not in page.text
    detail = anna.get(f"/api/office/cases/{case_id}").json()
    answer = next(a for step in detail["steps"] for a in step["answers"] if a["key"] == key)
    assert answer["value"] == signed
    assert answer["signature"]["png_matches"] is True
    assert answer["signature"]["signed_at"] == "2026-12-06T05:00:00.000Z"
    assert key not in {p["key"] for p in detail["validation"]}


def test_a_retake_suggestion_kept_by_the_verifier_reaches_the_reviewer(
        server: ServerHandle, seeded: dict[str, Any]) -> None:
    case_id, kept, clean = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    photos = {kept: jpeg(8), clean: jpeg(9)}
    submit_over_api(server.base_url, case_id, 1, answers("Re", "Take", "R1"),
                    [(kept, photos[kept], "id_front"), (clean, photos[clean], "id_back")],
                    image_extra={kept: {"retake_suggested": ["blurred", "glare"],
                                        "retake_overridden": True}})
    anna: OfficeClient = seeded["anna"]
    page = anna.get(f"/office/cases/{case_id}")
    assert page.status_code == 200, page.text
    assert page.text.count("suggested at capture") == 1
    assert "⚠ suggested at capture: blurred, glare</span> · kept by the verifier" in page.text
    detail = anna.get(f"/api/office/cases/{case_id}").json()
    by_id = {p["client_image_id"]: p for p in detail["photos"]}
    assert by_id[kept]["retake_suggested"] == ["blurred", "glare"]
    assert by_id[kept]["retake_overridden"] is True
    assert by_id[clean]["retake_suggested"] == [] and not by_id[clean]["retake_overridden"]
