"""The sync engine against the real reference server on 127.0.0.1 (a child process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.sync_store import standalone_sync_store
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.engine import SyncEngine
from kycdesk.sync.status import RunResult
from tests import transitions
from tests.sync_support import (
    TOKEN,
    ServerHandle,
    assert_server_holds_exactly,
    make_ready_cases,
    photo_sources,
    start_server,
    tus_upload,
)
from tests.vaults import make_vault

DEVICE = "device-test-1"
FAST = Backoff(base_s=0.0, cap_s=0.0, storage_full_min_s=0.0)


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_sources(tmp_path_factory.mktemp("sync-sources"))


def _run(paths: DataPaths, server: ServerHandle, *, token: str = TOKEN,
         ignore_backoff: bool = True, timeout: float | None = None) -> RunResult:
    import httpx

    with (standalone_sync_store(paths, vault=make_vault()) as adapter,
          SyncClient(server.base_url, token, device_id=DEVICE,
                     timeout=httpx.Timeout(timeout) if timeout else None) as client):
        engine = SyncEngine(adapter, client, device_id=DEVICE, backoff=FAST)
        return engine.run_once(ignore_backoff=ignore_backoff)


def _sync_until_done(paths: DataPaths, server: ServerHandle, rounds: int = 10) -> list[RunResult]:
    results = []
    for _ in range(rounds):
        result = _run(paths, server)
        results.append(result)
        if not result.failed and not result.cancelled:
            break
    return results


def test_happy_path_syncs_every_case_exactly_once(qapp: object, paths: DataPaths,
                                                  server: ServerHandle,
                                                  sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=3, images_per_case=3)
    result = _run(paths, server)
    assert result.ok and sorted(result.synced) == sorted(ids)
    assert result.uploaded_images == 9
    with LocalStore(paths, vault=make_vault()) as store:
        assert_server_holds_exactly(server, store, ids)
        case = store.load_case(ids[0])
        receipt = store.conn.scalar("SELECT server_receipt FROM cases WHERE id = ?", (ids[0],))
        assert "receipt_id" in receipt and case.status == "SYNCED"
    # Running again does nothing: no case is due, nothing is sent twice.
    again = _run(paths, server)
    assert again.synced == [] and again.uploaded_images == 0
    assert len(server.state()["submission_log"]) == 3


FAULTS = {
    "503 with Retry-After on upload": [{"endpoint": "upload", "action": "status",
                                        "status": 503, "retry_after": 1, "count": 2}],
    "429 on submission": [{"endpoint": "submit", "action": "status", "status": 429,
                           "retry_after": 1, "count": 1}],
    "500 on the photo list": [{"endpoint": "list_images", "action": "status", "status": 500,
                               "count": 1}],
    "connection dropped mid-upload": [{"endpoint": "upload", "action": "drop_mid_body",
                                       "after_bytes": 20000, "count": 2}],
    "reply lost after the image was stored": [{"endpoint": "upload", "action": "drop_reply",
                                               "count": 2}],
    "reply lost after the submission was stored": [{"endpoint": "submit",
                                                    "action": "drop_reply", "count": 1}],
    "reply lost and the receipt lookup fails once": [
        {"endpoint": "submit", "action": "drop_reply", "count": 1},
        {"endpoint": "get_submission", "action": "status", "status": 503, "count": 1}],
    "timeout": [{"endpoint": "upload", "action": "delay", "delay_ms": 3000, "count": 1}],
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_transient_fault_ends_synced_without_duplicates(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path],
        fault: str) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=2, images_per_case=3)
    server.set_faults(FAULTS[fault])
    results = []
    for _ in range(6):
        result = _run(paths, server, timeout=1.0 if fault == "timeout" else None)
        results.append(result)
        if result.ok and not _due(paths):
            break
    assert sum(server.state()["injected"].values()) >= 1, "the fault never bit"
    with LocalStore(paths, vault=make_vault()) as store:
        assert_server_holds_exactly(server, store, ids)


def _due(paths: DataPaths) -> list[str]:
    with standalone_sync_store(paths, vault=make_vault()) as adapter:
        return adapter.due_cases(datetime.now(UTC).isoformat(), ignore_backoff=True)


def test_transient_failure_schedules_backoff_honouring_retry_after(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    server.set_faults([{"endpoint": "upload", "action": "status", "status": 503,
                        "retry_after": 120, "count": 1}])
    with (standalone_sync_store(paths, vault=make_vault()) as adapter,
          SyncClient(server.base_url, TOKEN, device_id=DEVICE) as client):
        before = datetime.now(UTC)
        result = SyncEngine(adapter, client, device_id=DEVICE).run_once()
        assert case_id in result.failed
        row = adapter.conn.query_one("SELECT status, last_error_kind, next_attempt_at, "
                                     "sync_attempts, last_error FROM cases WHERE id = ?",
                                     (case_id,))
        assert row is not None
        status, kind, next_at, attempts, error = row
        assert (status, kind, attempts) == ("FAILED", "transient", 1)
        assert "busy or failing (503)" in error
        wait = datetime.fromisoformat(next_at.replace("Z", "+00:00")) - before
        assert timedelta(seconds=119) <= wait <= timedelta(seconds=125)
        # Not due before its time; due when forced (`--now`).
        assert adapter.due_cases(datetime.now(UTC).isoformat(),
                                 ignore_backoff=False) == []
        assert adapter.due_cases(datetime.now(UTC).isoformat(),
                                 ignore_backoff=True) == [case_id]


def test_backoff_grows_with_jitter_and_caps() -> None:
    import random

    policy = Backoff(base_s=5, cap_s=300)
    rng = random.Random(1)
    delays = [policy.delay(n, rng=rng) for n in range(1, 10)]
    assert 2.5 <= delays[0] <= 5
    assert all(d <= 300 for d in delays)
    assert delays[5] > delays[1]
    assert policy.delay(1, retry_after=42, rng=rng) >= 42
    assert policy.delay(1, status=507, rng=rng) >= 900


ANOTHER_DEVICE = "another-tablet-token"


@pytest.mark.parametrize(("setup", "expected"), [
    ("hash", "different photo"),
    ("too_large", "accepts photos up to"),
])
def test_permanent_error_fails_with_a_readable_message_and_no_retry(
        qapp: object, paths: DataPaths, tmp_path: Path, sources: list[Path], setup: str,
        expected: str) -> None:
    server = start_server(tmp_path / "server",
                          max_image_bytes=1000 if setup == "too_large" else None,
                          extra=["--token", ANOTHER_DEVICE])
    try:
        with LocalStore(paths, vault=make_vault()) as store:
            [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=2)
            if setup == "hash":
                # Another photo is already on the server under this photo's id.
                image = store.list_images(case_id)[0]
                other = sources[-1].read_bytes() + b"x"
                held = tus_upload(server.base_url, case_id, image.client_image_id, other)
                assert held.status_code == 204, held.text
        result = _run(paths, server)
        assert case_id in result.failed and case_id in result.permanent
        assert expected.lower() in result.failed[case_id].lower()
        with LocalStore(paths, vault=make_vault()) as store:
            row = store.conn.query_one("SELECT status, last_error_kind, next_attempt_at "
                                       "FROM cases WHERE id = ?", (case_id,))
        assert row == ("FAILED", "permanent", None)
        assert _run(paths, server).failed == {}  # not retried on its own: waits for a person
    finally:
        server.stop()


def test_another_devices_case_waits_for_a_handover_instead_of_needing_action(
        qapp: object, paths: DataPaths, tmp_path: Path, sources: list[Path]) -> None:
    import httpx

    from kycdesk.sync.pull import NEEDS_HANDOVER

    server = start_server(tmp_path / "server", extra=["--token", ANOTHER_DEVICE])
    try:
        with LocalStore(paths, vault=make_vault()) as store:
            [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=2)
        # Another tablet already finalized this case on the server: it is that device's
        # case now, and this device may not touch it until the office hands it over.
        httpx.put(f"{server.base_url}/v1/cases/{case_id}/submission",
                  headers={"Authorization": f"Bearer {ANOTHER_DEVICE}"},
                  json={"revision": 1, "form": {}, "images": [],
                        "client": {"app_version": "0", "device_id": "another-device"}}
                  ).raise_for_status()
        result = _run(paths, server)
        assert result.waiting == {case_id: NEEDS_HANDOVER}
        assert result.failed == {} and result.permanent == set()
        assert result.pull is not None and result.pull.handover_requests == 1
        with LocalStore(paths, vault=make_vault()) as store:
            assert store.load_case(case_id).status != "FAILED"
        assert _due(paths) == []  # waits for the office, not retried on its own
    finally:
        server.stop()


def test_retry_after_permanent_failure_is_the_verifiers_call(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
        transitions.fail(store, case_id)
    assert _due(paths) == []
    with LocalStore(paths, vault=make_vault()) as store:
        transitions.retry(store, case_id)
    assert _run(paths, server).synced == [case_id]


def test_bad_token_stops_the_queue_and_keeps_cases_ready(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        ids = make_ready_cases(store, sources, cases=3, images_per_case=1)
    result = _run(paths, server, token="wrong-token")
    assert result.auth_error is not None and "token" in result.auth_error
    assert result.failed == {} and result.synced == []
    with LocalStore(paths, vault=make_vault()) as store:
        assert {store.load_case(i).status for i in ids} == {"READY"}
    assert server.state()["images"] == []


def test_case_reopened_during_sync_is_not_marked_synced(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    with (standalone_sync_store(paths, vault=make_vault()) as adapter,
          SyncClient(server.base_url, TOKEN, device_id=DEVICE) as client):
        engine = SyncEngine(adapter, client, device_id=DEVICE)
        case = adapter.load_sync_case(case_id)
        with LocalStore(paths, vault=make_vault()) as store:
            transitions.reopen(store, case_id)  # the verifier reopens it
        assert not adapter.mark_synced(case_id, revision=case.revision,
                                       receipt={"receipt_id": "x"})
        assert engine.run_once().synced == []
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).status == "DRAFT"


def test_captive_portal_answer_is_not_success(qapp: object, paths: DataPaths,
                                              sources: list[Path]) -> None:
    import httpx

    def portal(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>Sign in to the hotel Wi-Fi</html>")

    with LocalStore(paths, vault=make_vault()) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    with standalone_sync_store(paths, vault=make_vault()) as adapter:
        client = SyncClient("https://kyc.example.org", TOKEN, device_id=DEVICE,
                            transport=httpx.MockTransport(portal))
        result = SyncEngine(adapter, client, device_id=DEVICE).run_once()
        client.close()
    assert case_id in result.failed and "not the kycdesk server" in result.failed[case_id]
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).status == "FAILED"
        assert not any(i.synced for i in store.list_images(case_id))


def test_a_located_photo_sends_its_place_words_and_their_source(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    import json

    from kycdesk.core.records import Location
    from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm

    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="KYC-PLACE",
                                       form_id="individual_kyc", form_version="2"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Amina"}))
        store.run(AddImage(case_id, sources[0], slot="site", origin="camera",
                           location=Location(-1.2864, 36.8172, 10.0)))
        store.run(AddImage(case_id, sources[1], slot="selfie"))  # no GPS
        transitions.submit(store, case_id)
    assert _run(paths, server).ok
    (body,), = server.query("SELECT body_json FROM submission_revisions WHERE case_id = ?",
                            (case_id,))
    sent = {i["slot"]: i for i in json.loads(body)["images"]}
    assert (sent["site"]["address"], sent["site"]["address_source"]) == \
        ("near Nairobi, Nairobi Area, Kenya", "nearest place, under 1 km")
    assert (sent["selfie"]["address"], sent["selfie"]["address_source"]) == (None, None)
