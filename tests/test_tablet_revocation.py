"""Protecting the tablets on the server (issue 18): the office secret and the
organisation's recovery key given at enrolment, the revoked answer with its proof on every
device route, whole-tablet revocation, the lease in every pull and at GET /v1/lease,
supervisor codes and wrong-PIN releases — over a real socket on every back end, with
the admin commands run as separate processes."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from kycdesk.core import office_codes
from kycdesk.core.protocol import DEVICE_REVOKED_TYPE, EMPTY_HELD_DIGEST, TUS_VERSION
from kycdesk.security.keys import org_fingerprint
from tests.sync_support import REPO_ROOT, TOKEN, ServerHandle, server_on_each_backend

server = server_on_each_backend("tablets", extra=["--lease-days", "9"])


def _admin(server: ServerHandle, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kycdesk_server", args[0],
                           *server.admin_args, *args[1:]], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=False, env=server.admin_env)


def _auth(credential: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {credential}"}


def _enrol(server: ServerHandle, tablet_id: str | None, verifier: str) -> dict[str, Any]:
    code = _admin(server, "enrol-code").stdout.strip()
    body = {"code": code, "device_name": "tablet", "verifier_name": verifier,
            **({"tablet_id": tablet_id} if tablet_id else {})}
    reply = httpx.post(f"{server.base_url}/v1/enrolments", json=body)
    assert reply.status_code == 201, reply.text
    enrolled: dict[str, Any] = reply.json()
    return enrolled


def _secret(enrolled: dict[str, Any]) -> bytes:
    return base64.b64decode(enrolled["office_secret"])


def _pull(server: ServerHandle, credential: str) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/pull", headers=_auth(credential),
                      json={"token": None, "held_digest": EMPTY_HELD_DIGEST,
                            "held_count": 0})


def _assert_revoked(reply: httpx.Response, enrolled: dict[str, Any], *,
                    whole_tablet: bool = False) -> None:
    assert reply.status_code == 403, reply.text
    problem = reply.json()
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == DEVICE_REVOKED_TYPE and problem["type"].endswith(
        "/device-revoked")
    assert problem["scope"] == ("tablet" if whole_tablet else "device")
    assert office_codes.verify_revocation(_secret(enrolled), enrolled["device_id"],
                                          problem["proof"], whole_tablet=whole_tablet)
    # The proof of one scope is no proof of the other: a verifier's revocation cannot be
    # widened into the whole tablet's on the way.
    assert not office_codes.verify_revocation(_secret(enrolled), enrolled["device_id"],
                                              problem["proof"],
                                              whole_tablet=not whole_tablet)


def test_enrolment_gives_an_office_secret_and_the_organisation_key_once_set(
        server: ServerHandle, tmp_path: Path) -> None:
    shown = _admin(server, "org-key", "show")
    assert shown.returncode == 0 and "No organisation recovery key" in shown.stdout
    tablet = str(uuid.uuid4())
    before = _enrol(server, tablet, "Ama")
    assert len(_secret(before)) == 32 and before["org_recovery_key"] is None

    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private_file = tmp_path / "org.key"
    private_file.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                                   NoEncryption()))
    refused = _admin(server, "org-key", "set", str(private_file))
    assert refused.returncode == 1 and "private key" in refused.stderr
    pem = tmp_path / "org.pub"
    pem.write_bytes(private.public_key().public_bytes(Encoding.PEM,
                                                      PublicFormat.SubjectPublicKeyInfo))
    assert _admin(server, "org-key", "set", str(pem)).returncode == 0
    expected = org_fingerprint(public).hex()
    printed = _admin(server, "org-key", "show").stdout
    assert printed.split("fingerprint ")[1].split("\n")[0].replace(" ", "") == expected

    after = _enrol(server, tablet, "Kofi")
    assert base64.b64decode(after["org_recovery_key"]) == public
    assert _secret(after) != _secret(before)  # one secret per device
    rows = server.query("SELECT tablet_id, verifier_name FROM devices WHERE id = ?",
                        (after["device_id"],))
    assert rows == [(tablet, "Kofi")]
    listed = _admin(server, "device", "list").stdout
    assert after["device_id"] in listed and "verifier Kofi" in listed
    audit = server.query("SELECT action FROM office_audit WHERE action = 'org_key.set'")
    assert audit


def test_a_revoked_device_is_answered_with_its_proof_on_every_device_route(
        server: ServerHandle) -> None:
    enrolled = _enrol(server, str(uuid.uuid4()), "Esi")
    other = _enrol(server, str(uuid.uuid4()), "Yaw")
    auth = _auth(enrolled["credential"])
    assert httpx.get(f"{server.base_url}/v1/health", headers=auth).status_code == 200
    revoked = _admin(server, "device", "revoke", "Esi")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    base, case_id = server.base_url, str(uuid.uuid4())
    for reply in (
            httpx.get(f"{base}/v1/health", headers=auth),
            _pull(server, enrolled["credential"]),
            httpx.get(f"{base}/v1/lease", headers=auth),
            httpx.get(f"{base}/v1/cases/{case_id}/submission", headers=auth),
            httpx.get(f"{base}/v1/cases/{case_id}/images", headers=auth),
            httpx.post(f"{base}/v1/cases/{case_id}/release", headers=auth,
                       json={"last_revision": 1}),
            httpx.post(f"{base}/v1/uploads", headers={
                **auth, "Tus-Resumable": TUS_VERSION, "Upload-Length": "10"})):
        _assert_revoked(reply, enrolled)
    # The other tablet's device, and the lab token, go on.
    assert httpx.get(f"{base}/v1/health", headers=_auth(other["credential"])
                     ).status_code == 200
    assert httpx.get(f"{base}/v1/health", headers=_auth(TOKEN)).status_code == 200
    again = _admin(server, "device", "revoke", enrolled["device_id"])
    assert again.returncode == 0 and "already revoked" in again.stdout
    assert _admin(server, "device", "revoke", "nobody-called-this").returncode == 1
    rows = server.query("SELECT revoked_by FROM devices WHERE id = ?",
                        (enrolled["device_id"],))
    assert rows == [("administrator (command line)",)]
    assert server.query("SELECT object_id FROM office_audit WHERE action = "
                        "'device.revoked' AND object_id = ?", (enrolled["device_id"],))


def test_revoking_a_whole_tablet_stops_every_verifier_on_it_now_and_later(
        server: ServerHandle) -> None:
    tablet, elsewhere = str(uuid.uuid4()), str(uuid.uuid4())
    ama, kofi = _enrol(server, tablet, "Ama T"), _enrol(server, tablet, "Kofi T")
    bystander = _enrol(server, elsewhere, "Abena T")
    done = _admin(server, "device", "revoke", ama["device_id"], "--whole-tablet")
    assert done.returncode == 0 and "2 device(s)" in done.stdout, done.stdout
    for enrolled in (ama, kofi):
        _assert_revoked(_pull(server, enrolled["credential"]), enrolled, whole_tablet=True)
    assert _pull(server, bystander["credential"]).status_code == 200
    # A code used on the revoked tablet is refused, and stays usable elsewhere.
    code = _admin(server, "enrol-code").stdout.strip()
    refused = httpx.post(f"{server.base_url}/v1/enrolments",
                         json={"code": code, "tablet_id": tablet})
    assert refused.status_code == 403 and refused.json()["title"] == "Tablet revoked"
    assert httpx.post(f"{server.base_url}/v1/enrolments",
                      json={"code": code, "tablet_id": elsewhere}).status_code == 201


def test_every_pull_and_the_lease_route_renew_the_lease_with_its_proof(
        server: ServerHandle) -> None:
    enrolled = _enrol(server, str(uuid.uuid4()), "Lease")
    started = datetime.now(UTC)
    pulled = _pull(server, enrolled["credential"])
    assert pulled.status_code == 200, pulled.text
    for lease in (pulled.json()["lease"],
                  httpx.get(f"{server.base_url}/v1/lease",
                            headers=_auth(enrolled["credential"])).json()):
        expires = office_codes.parse_instant(lease["expires_at"])
        assert timedelta(days=9) - timedelta(seconds=5) <= expires - started \
            <= timedelta(days=9, seconds=60)  # the server's --lease-days
        assert office_codes.verify_lease(_secret(enrolled), enrolled["device_id"],
                                         lease["expires_at"], lease["proof"])
    # A lab token has no office secret the device knows: its lease cannot be checked,
    # but it is still a lease of its own device.
    lab = httpx.get(f"{server.base_url}/v1/lease", headers=_auth(TOKEN))
    assert lab.status_code == 200 and len(lab.json()["proof"]) == 64


def test_supervisor_codes_verify_on_the_tablet_for_today_and_are_audited(
        server: ServerHandle) -> None:
    enrolled = _enrol(server, str(uuid.uuid4()), "Codes")
    codes = []
    for purpose in office_codes.PURPOSES:
        shown = _admin(server, "device", "code", enrolled["device_id"], "--purpose", purpose)
        assert shown.returncode == 0, shown.stderr
        code = shown.stdout.strip()
        codes.append(code)
        assert len(code) == 19
        today = office_codes.utc_today()
        assert office_codes.verify_code(_secret(enrolled), purpose, enrolled["device_id"],
                                        code, today) or \
            office_codes.verify_code(_secret(enrolled), purpose, enrolled["device_id"],
                                     code, today - timedelta(days=1))  # midnight passed
    other_purpose = _admin(server, "device", "code", enrolled["device_id"], "--purpose",
                           "everything")
    assert other_purpose.returncode == 2  # argparse: not a purpose
    rows = server.query("SELECT detail_json FROM office_audit WHERE action = "
                        "'device.code_shown' AND object_id = ?", (enrolled["device_id"],))
    assert len(rows) == 2
    for (detail,) in rows:  # the audit names the purpose, never a code
        assert '"purpose"' in detail and not any(c in detail for c in codes)


def test_a_wrong_pin_release_reaches_the_tablet_through_its_other_verifiers(
        server: ServerHandle) -> None:
    tablet = str(uuid.uuid4())
    locked, other = _enrol(server, tablet, "Locked R"), _enrol(server, tablet, "Other R")
    stranger = _enrol(server, str(uuid.uuid4()), "Stranger R")
    assert "released_devices" not in _pull(server, other["credential"]).json()
    released = _admin(server, "device", "release", locked["device_id"])
    assert released.returncode == 0, released.stderr
    assert _pull(server, other["credential"]).json()["released_devices"] == \
        [locked["device_id"]]
    assert "released_devices" not in _pull(server, stranger["credential"]).json()
    # Until the released verifier pulls itself (signed in again): then it is done.
    assert "released_devices" not in _pull(server, locked["credential"]).json()
    assert "released_devices" not in _pull(server, other["credential"]).json()
    no_tablet = _enrol(server, None, "Untabled R")
    assert _admin(server, "device", "release", no_tablet["device_id"]).returncode == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_devices_enrolled_before_schema_7_keep_working_without_an_office_secret(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    """From version 6: the device keeps its credential; it has no office secret (it
    never received one), so it gets no lease and no code, and a revocation answers it
    with `proof: null` (it cannot wipe on that: docs/sync-protocol.md)."""
    from kycdesk_server import schema
    from kycdesk_server.backoffice.audit import AuditLog
    from kycdesk_server.backoffice.device_admin import DeviceAdmin
    from kycdesk_server.backoffice.review import ReviewError
    from kycdesk_server.database import Database, PostgresDatabase, SqliteDatabase
    from kycdesk_server.devices import DeviceRegistry, sha256_hex
    from kycdesk_server.errors import RequestRefusedError
    from kycdesk_server.services.devices import DeviceService

    db: Database
    if engine == "sqlite":
        db = SqliteDatabase(tmp_path / "server.sqlite3")
    else:
        db = PostgresDatabase(request.getfixturevalue("postgres").new_database("before7"))
    schema.migrate(db, target=6)
    db.execute("INSERT INTO devices VALUES ('dev-old', 'tablet', ?, 't', NULL)",
                (sha256_hex("old-credential"),))
    assert schema.migrate(db) == (6, schema.LATEST)
    service = DeviceService(DeviceRegistry(db))
    device = service.authenticated("old-credential")
    assert (device.tablet_id, device.office_secret) == (None, None)
    assert service.lease("dev-old") is None and service.released_devices("dev-old") == []
    admin = DeviceAdmin(service.registry, AuditLog(db))
    with pytest.raises(ReviewError) as no_code:
        admin.code(None, "dev-old", "lease", address="test")
    assert no_code.value.status == 409
    assert admin.revoke(None, "dev-old", whole_tablet=True, address="test") == ["dev-old"]
    with pytest.raises(RequestRefusedError) as refused:
        service.authenticated("old-credential")
    assert refused.value.status == 403 and refused.value.extra["proof"] is None
    db.close()
