"""Devices and authority on the reference server: enrolment with one-time codes, a case
belongs to the device that first wrote to it, submissions are never overwritten,
revocation — over a real socket, with the admin commands run as a separate process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from kycdesk.core.protocol import SERVER_IMAGE_ID_HEADER, TUS_VERSION, parse_repr_digest
from kycdesk_server import schema as server_schema
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    ServerHandle,
    server_on_each_backend,
    tus_upload,
)

OTHER = "another-device-token"


server = server_on_each_backend("authority", extra=["--token", OTHER])


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _admin(server: ServerHandle, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kycdesk_server", args[0],
                           *server.admin_args, *args[1:]], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=False, env=server.admin_env)


def _submission(image: dict[str, str], revision: int, form: dict[str, Any]) -> dict[str, Any]:
    return {"revision": revision, "form": form, "images": [image],
            "client": {"app_version": "test", "device_id": "whatever-the-body-says"}}


def _case_of(server: ServerHandle, token: str) -> tuple[str, dict[str, str], str]:
    """A case with one photo and revision 1, written by `token`'s device."""
    case_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
    reply = tus_upload(server.base_url, case_id, image_id, b"evidence " + image_id.encode(),
                       token=token)
    assert reply.status_code == 204, reply.text
    image = {"client_image_id": image_id,
             "server_image_id": reply.headers[SERVER_IMAGE_ID_HEADER],
             "sha256": parse_repr_digest(reply.headers["repr-digest"]) or ""}
    url = f"{server.base_url}/v1/cases/{case_id}/submission"
    assert httpx.put(url, headers=_auth(token),
                     json=_submission(image, 1, {"a": 1})).status_code == 201
    return case_id, image, url


def test_another_device_gets_403_for_every_read_and_write_of_a_case(
        server: ServerHandle) -> None:
    case_id, image, url = _case_of(server, TOKEN)
    base = server.base_url
    other = _auth(OTHER)
    tus = {**other, "Tus-Resumable": TUS_VERSION}
    # An upload of the owner's still in progress: the other device must not touch it.
    created = httpx.post(f"{base}/v1/uploads", headers={
        **_auth(TOKEN), "Tus-Resumable": TUS_VERSION, "Upload-Length": "10",
        "Upload-Metadata": _metadata(case_id, str(uuid.uuid4()), "0" * 64)})
    assert created.status_code == 201
    upload = f"{base}{created.headers['location']}"
    attempts = {
        "read the photos held": httpx.get(f"{base}/v1/cases/{case_id}/images",
                                          headers=other),
        "read the receipt": httpx.get(url, headers=other),
        "submit a revision": httpx.put(url, headers=other,
                                       json=_submission(image, 2, {"a": "overwritten"})),
        "upload into the case": httpx.post(f"{base}/v1/uploads", headers={
            **tus, "Upload-Length": "3",
            "Upload-Metadata": _metadata(case_id, str(uuid.uuid4()), "1" * 64)}),
        "ask an upload's offset": httpx.head(upload, headers=tus),
        "append to an upload": httpx.patch(upload, content=b"x", headers={
            **tus, "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream"}),
        "abandon an upload": httpx.delete(upload, headers=tus),
    }
    assert {what: r.status_code for what, r in attempts.items()} == \
        dict.fromkeys(attempts, 403)
    assert "another device" in attempts["submit a revision"].json()["detail"]
    # The owner's case and upload are as they were.
    assert httpx.get(url, headers=_auth(TOKEN)).json()["revision"] == 1
    head = httpx.head(upload, headers={**_auth(TOKEN), "Tus-Resumable": TUS_VERSION})
    assert head.status_code == 200 and head.headers["upload-offset"] == "0"


def _metadata(case_id: str, image_id: str, sha: str) -> str:
    from kycdesk.core.protocol import encode_upload_metadata

    return encode_upload_metadata({"case_id": case_id, "client_image_id": image_id,
                                   "sha256": sha})


def test_two_devices_racing_for_a_new_case_cannot_both_win(server: ServerHandle) -> None:
    case_id = str(uuid.uuid4())
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def create(token: str) -> None:
        barrier.wait()
        reply = httpx.post(f"{server.base_url}/v1/uploads", headers={
            **_auth(token), "Tus-Resumable": TUS_VERSION, "Upload-Length": "3",
            "Upload-Metadata": _metadata(case_id, str(uuid.uuid4()), "2" * 64)})
        statuses.append(reply.status_code)

    threads = [threading.Thread(target=create, args=(TOKEN if i % 2 else OTHER,))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 4 + [403] * 4  # one device's four, never a mix


def test_a_submission_is_never_overwritten_each_revision_is_kept(
        server: ServerHandle) -> None:
    case_id, image, url = _case_of(server, TOKEN)
    second = httpx.put(url, headers=_auth(TOKEN), json=_submission(image, 2, {"a": 2}))
    assert second.status_code == 201
    same_revision_other_answers = httpx.put(url, headers=_auth(TOKEN),
                                            json=_submission(image, 2, {"a": 3}))
    assert same_revision_other_answers.status_code == 409
    listed = _admin(server, "revisions", case_id)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["1", "2"]
    assert "{" not in listed.stdout  # ids, times and counts; never the answers
    bodies = server.query("SELECT revision, body_json FROM submission_revisions WHERE "
                          "case_id = ? ORDER BY revision", (case_id,))
    assert [(r, json.loads(b)["form"]) for r, b in bodies] == [(1, {"a": 1}), (2, {"a": 2})]


def test_enrolment_codes_are_single_use_and_expire(server: ServerHandle) -> None:
    issued = _admin(server, "enrol-code", "--count", "2")
    assert issued.returncode == 0, issued.stderr
    code, spare = issued.stdout.split()
    enrol = f"{server.base_url}/v1/enrolments"
    first = httpx.post(enrol, json={"code": code.lower().replace("-", " "),
                                    "device_name": "tablet 7"})
    assert first.status_code == 201, first.text
    credential = first.json()["credential"]
    assert httpx.get(f"{server.base_url}/v1/health",
                     headers=_auth(credential)).status_code == 200
    assert httpx.post(enrol, json={"code": code}).status_code == 403  # used
    assert httpx.post(enrol, json={"code": "ABCD-EFGH-JKLM"}).status_code == 403  # unknown
    expired = _admin(server, "enrol-code", "--ttl-hours", "0").stdout.strip()
    assert httpx.post(enrol, json={"code": expired}).status_code == 403
    assert httpx.post(enrol, json={"code": spare}).status_code == 201
    stored = [r[0] for r in server.query("SELECT credential_sha256 FROM devices")]
    assert credential not in stored and all(len(s) == 64 for s in stored)  # only hashes
    devices = _admin(server, "devices").stdout
    assert first.json()["device_id"] in devices and "tablet 7" in devices


def test_a_revoked_device_is_refused_at_once_and_alone(server: ServerHandle) -> None:
    code = _admin(server, "enrol-code").stdout.strip()
    enrolled = httpx.post(f"{server.base_url}/v1/enrolments", json={"code": code}).json()
    health = f"{server.base_url}/v1/health"
    assert httpx.get(health, headers=_auth(enrolled["credential"])).status_code == 200
    revoked = _admin(server, "revoke", enrolled["device_id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    refused = httpx.get(health, headers=_auth(enrolled["credential"]))
    assert refused.status_code == 403 and refused.json()["title"] == "Device revoked"
    assert refused.json()["type"].endswith("/device-revoked")
    assert httpx.get(health, headers=_auth(TOKEN)).status_code == 200
    assert _admin(server, "revoke", "dev-nonexistent").returncode == 1


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_an_old_server_database_is_migrated_keeping_its_submissions(
        tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> None:
    from kycdesk_server import schema
    from kycdesk_server.database import Database, PostgresDatabase, SqliteDatabase

    db: Database
    if engine == "sqlite":
        db = SqliteDatabase(tmp_path / "server.sqlite3")
    else:
        db = PostgresDatabase(request.getfixturevalue("postgres").new_database("migrate"))
    schema.MIGRATIONS[0](db)  # what the server wrote before versions were kept
    db.execute("INSERT INTO submissions VALUES ('c1', 3, 'h', '{}', 'd', 'r1', 't', '[]')")
    assert schema.version(db) == 0
    assert schema.migrate(db) == (0, schema.LATEST)
    assert db.execute("SELECT case_id, revision, receipt_id FROM submission_revisions"
                      ).fetchall() == [("c1", 3, "r1")]
    assert schema.migrate(db) == (schema.LATEST, schema.LATEST)  # idempotent
    db.set_user_version(schema.LATEST + 1)
    with pytest.raises(schema.SchemaTooNewError):
        schema.migrate(db)
    db.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.parametrize("start", range(1, server_schema.LATEST))
def test_every_earlier_schema_version_is_upgraded_keeping_its_rows(
        tmp_path: Path, engine: str, start: int, request: pytest.FixtureRequest) -> None:
    """A database left at each released version (with rows in it) is brought to the
    latest, and what it held is still there."""
    from kycdesk_server import schema
    from kycdesk_server.database import Database, PostgresDatabase, SqliteDatabase

    db: Database
    if engine == "sqlite":
        db = SqliteDatabase(tmp_path / "server.sqlite3")
    else:
        db = PostgresDatabase(request.getfixturevalue("postgres").new_database(
            f"upgrade_from_{start}"))
    schema.migrate(db, target=start)
    db.execute("INSERT INTO images VALUES ('c1', 'i1', 's1', 'h', 3, 'p', 't')")
    db.execute('INSERT INTO uploads(id, case_id, client_image_id, sha256, length, "offset", '
               "created_at, touched_at) VALUES ('u1', 'c1', 'i2', 'h', 10, 4, 't', 't')")
    if start >= 2:
        db.execute("INSERT INTO devices VALUES ('dev-1', 'tablet', 'hash', 't', NULL)")
    assert schema.migrate(db) == (start, schema.LATEST)
    assert db.execute("SELECT server_image_id FROM images").fetchall() == [("s1",)]
    assert db.execute('SELECT "offset" FROM uploads').fetchall() == [(4,)]
    if start >= 2:
        assert db.execute("SELECT name FROM devices").fetchall() == [("tablet",)]
    db.close()
