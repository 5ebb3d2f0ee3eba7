"""Two-way sync end to end (issue 17): the real server (embedded and PostgreSQL back ends)
as a child process on 127.0.0.1, the office acting through its services, tablets syncing
with the app's engine, store and client — assign, capture, submit, return with comments,
fix, resubmit, approve; pulls through a link reset every 5 s; handovers."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kycdesk.persistence.commands import AddImage, SaveForm
from kycdesk.persistence.store import LocalStore
from kycdesk.security.streams import CHUNK_BYTES
from kycdesk.sync.progress import CaseProgress, describe
from kycdesk.sync.pull import FETCHING, NEEDS_HANDOVER
from kycdesk_server.backoffice.assignments import NewAssignment
from kycdesk_server.backoffice.review import Comment, DecisionRequest
from kycdesk_server.backoffice.review_states import ReviewChange
from tests import transitions
from tests.fieldlink import LinkProfile, field_link
from tests.photo_files import stored_bytes
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    Backend,
    ServerHandle,
    backend_for,
    photo_sources,
    start_server,
)
from tests.tablets import TEST_PIN, signed_in_args, vault_for
from tests.two_way_support import ANNA, IP, SUE, Tablet, office, tablet

TOKEN_B = "test-device-token-b"


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def server(tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    backend: Backend = backend_for(request)
    handle = start_server(tmp_path_factory.mktemp("two-way") / "data", backend=backend,
                          extra=["--token", TOKEN_B])
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_sources(tmp_path_factory.mktemp("two-way-photos"), count=2)


def _assign(server: ServerHandle, device: Tablet, reference: str, **prefill: object) -> str:
    with office(server) as services:
        return services.assignments.create(SUE, NewAssignment(
            reference=reference, applicant_name="Ada Lovelace", device_name=device.server_id,
            form_id="individual_kyc", form_version="2", address="1 Main St",
            due_date="2026-12-31",
            prefill=prefill or {"applicant.first_name": "Ada"}), address=IP)


def _decide(server: ServerHandle, case_id: str, revision: int, decision: ReviewChange,
            **more: object) -> None:
    with office(server) as services:
        services.review.decide(ANNA, case_id, DecisionRequest(
            revision=revision, decision=decision, **more), address=IP)  # type: ignore[arg-type]


def _capture(device: Tablet, case_id: str, values: dict[str, object],
             photos: list[Path]) -> None:
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        form = {**store.load_case(case_id).form, **values}
        store.run(SaveForm(case_id, form))
        for n, photo in enumerate(photos):
            store.run(AddImage(case_id, photo, slot=["id_front", "selfie"][n % 2]))
        transitions.submit(store, case_id)


def test_assigned_returned_fixed_resubmitted_approved_shows_each_step_on_the_tablet(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    a = tablet(tmp_path, TOKEN, "tablet-a")
    a.sync(server.base_url)  # what the office sent every tablet before (forms)
    first = a.sync(server.base_url)  # nothing new: an empty pull, nothing to push
    assert first.pull is not None and first.pull.applied == 0 and not first.pull.problems
    case_id = _assign(server, a, f"KYC-E2E-{uuid.uuid4().hex[:6]}")

    pulled = a.sync(server.base_url)
    assert pulled.pull is not None and pulled.pull.applied == 1, pulled.pull
    assert a.status(case_id) == "DRAFT"
    state = a.state(case_id)
    assert state.inbox == "assigned" and state.assignment is not None
    assert state.assignment.due_date == "2026-12-31"
    assert "applicant.first_name" in state.assignment.prefilled
    assert a.form(case_id)["applicant.first_name"] == "Ada"
    again = a.sync(server.base_url)
    assert again.pull is not None and again.pull.applied == 0  # never applied twice

    _capture(a, case_id, {"applicant.last_name": "Lovelase"}, sources)
    sent = a.sync(server.base_url)
    assert sent.synced == [case_id], sent
    assert a.status(case_id) == "SYNCED" and a.state(case_id).inbox is None
    with LocalStore(a.paths, vault=vault_for(a.paths)) as store:
        first_sent = store.load_sync_case(case_id).revision

    with office(server) as services:
        detail = services.review.case(case_id)
        front = next(p.client_image_id for p in detail.photos if p.slot == "id_front")
    _decide(server, case_id, first_sent, ReviewChange.RETURN, comments=[
        Comment("Check the spelling", field_key="applicant.last_name"),
        Comment("Glare on the photo: retake", client_image_id=front)])
    returned = a.sync(server.base_url)
    assert returned.pull is not None and returned.pull.applied >= 1
    assert a.status(case_id) == "DRAFT"
    state = a.state(case_id)
    assert state.inbox == "returned"
    assert {(c.field_key, c.client_image_id, c.text) for c in state.comments} == {
        ("applicant.last_name", None, "Check the spelling"),
        (None, front, "Glare on the photo: retake")}

    _capture(a, case_id, {"applicant.last_name": "Lovelace"}, [])
    resent = a.sync(server.base_url)
    assert resent.synced == [case_id], resent
    with LocalStore(a.paths, vault=vault_for(a.paths)) as store:
        second = store.load_sync_case(case_id).revision
    revisions = server.query("SELECT revision FROM submission_revisions WHERE case_id = ? "
                             "ORDER BY revision", (case_id,))
    # A newer revision (the device counts saves), kept beside the first.
    assert [r[0] for r in revisions] == [first_sent, second] and second > first_sent

    _decide(server, case_id, second, ReviewChange.APPROVE)
    decided = a.sync(server.base_url)
    assert decided.pull is not None and decided.pull.applied >= 1
    decision = a.state(case_id).decision
    assert decision is not None and (decision.revision, decision.decision) == (second, "approved")
    assert a.status(case_id) == "SYNCED"  # read-only on the tablet: status unchanged


def test_the_status_says_it_is_checking_for_work_from_the_office(
        qapp: object, server: ServerHandle, tmp_path: Path) -> None:
    seen: list[CaseProgress] = []
    tablet(tmp_path, TOKEN_B, "status").sync(server.base_url, on_progress=seen.append)
    assert [describe(p) for p in seen][:1] == ["checking for work from the office"]


def test_the_pull_completes_through_a_link_reset_every_five_seconds_applying_each_once(
        qapp: object, server: ServerHandle, tmp_path: Path) -> None:
    a = tablet(tmp_path, TOKEN_B, "tablet-reset")
    a.sync(server.base_url)  # catch up on what earlier tests gave this token
    cases = [_assign(server, a, f"KYC-RESET-{n}", **{
        "applicant.first_name": "Ada " * 200, "applicant.last_name": f"N{n}"})
        for n in range(40)]
    applied = 0
    with field_link(urlsplit(server.base_url).port or 0,
                    LinkProfile(rate_bps=4_000, latency_s=0.1, reset_every_s=5.0)) as link:
        for _ in range(30):
            result = a.sync(link.url)
            assert result.pull is not None
            applied += result.pull.applied
            if not result.pull.problems:
                break
        resets = link.resets
    assert resets >= 1, "the link was never reset during the pull"
    assert applied == len(cases)  # none applied twice, none lost
    with LocalStore(a.paths, vault=vault_for(a.paths)) as store:
        for case_id in cases:
            assert store.load_case(case_id).status == "DRAFT"
    final = a.sync(server.base_url)
    assert final.pull is not None and final.pull.applied == 0 and not final.pull.resynced


def test_a_case_imported_from_another_tablet_waits_for_a_handover_with_one_plain_sentence(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    from tests.sync_support import make_ready_cases

    a = tablet(tmp_path, TOKEN, "owner")
    b = tablet(tmp_path, TOKEN_B, "importer")
    with LocalStore(a.paths, vault=vault_for(a.paths)) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    assert a.sync(server.base_url).synced == [case_id]
    _copy_case(a, b, case_id, tmp_path)

    first = _sync_cli(b, server)
    assert first.returncode == 0, first.stdout
    assert f"WAITING {case_id}: {NEEDS_HANDOVER}" in first.stdout
    assert "FAILED" not in first.stdout
    assert b.state(case_id).handover == "requested"
    assert b.status(case_id) != "FAILED"
    [(requests,)] = server.query("SELECT count(*) FROM handovers WHERE case_id = ? AND "
                                 "state = 'requested'", (case_id,))
    assert requests == 1
    again = _sync_cli(b, server)  # not sent again, not asked again: it waits for the office
    assert again.returncode == 0 and "WAITING" not in again.stdout, again.stdout
    assert server.query("SELECT count(*) FROM handovers WHERE case_id = ?",
                        (case_id,)) == [(1,)]


def _sync_cli(device: Tablet, server: ServerHandle) -> subprocess.CompletedProcess[str]:
    """`kycdesk sync --once --now`, as a verifier or a kiosk's scheduler runs it."""
    return subprocess.run([sys.executable, "-m", "kycdesk", "sync", "--once", "--now",
                           *signed_in_args(device.paths), "--server", server.base_url,
                           "--token", device.token], capture_output=True, text=True,
                          input=f"{TEST_PIN}\n", cwd=REPO_ROOT, timeout=300, check=False)


def _copy_case(source: Tablet, target: Tablet, case_id: str, tmp: Path) -> None:
    """`kycdesk case export` on one tablet, `case import` on the other."""
    archive = tmp / f"{case_id}.zip"
    for args in (["export", case_id, "--output", str(archive),
                  *signed_in_args(source.paths)],
                 ["import", str(archive), *signed_in_args(target.paths)]):
        done = subprocess.run([sys.executable, "-m", "kycdesk", "case", *args],
                              capture_output=True, text=True, input=f"{TEST_PIN}\n",
                              cwd=REPO_ROOT, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def _held_case(server: ServerHandle, owner: Tablet, sources: list[Path]) -> str:
    """A case the owner captured and sent (two photos): it holds it."""
    from tests.sync_support import make_ready_cases

    with LocalStore(owner.paths, vault=vault_for(owner.paths)) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=2)
    assert owner.sync(server.base_url).synced == [case_id]
    return case_id


def _hand_over(server: ServerHandle, case_id: str, to: Tablet, *, force: bool) -> None:
    with office(server) as services:
        services.handovers.hand_over(SUE, case_id, to.server_id, force=force, address=IP)


def _photos_match(device: Tablet, case_id: str, expected: dict[str, str]) -> None:
    """The device holds every photo of the case, each file's SHA-256 (of its decrypted
    bytes) as the server's."""
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        images = store.list_images(case_id)
        files = {i.client_image_id: hashlib.sha256(stored_bytes(store, i)).hexdigest()
                 for i in images if i.file_path}
    assert files == expected


def _server_photos(server: ServerHandle, case_id: str) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in server.query(
        "SELECT client_image_id, sha256 FROM images WHERE case_id = ?", (case_id,))}


def test_a_two_phase_handover_moves_the_case_and_its_photos_resuming_after_cuts(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    old, new = tablet(tmp_path, TOKEN, "old"), tablet(tmp_path, TOKEN_B, "new")
    new.sync(server.base_url)  # catch up with what earlier tests gave this token
    case_id = _held_case(server, old, sources)
    photos = _server_photos(server, case_id)
    _hand_over(server, case_id, new, force=False)

    nothing_yet = new.sync(server.base_url)  # phase 1: the old tablet still has it
    assert nothing_yet.pull is not None and nothing_yet.pull.photos == 0
    let_go = old.sync(server.base_url)  # handover_out: nothing unsent, so release
    assert let_go.pull is not None and let_go.pull.released == [case_id]
    with LocalStore(old.paths, vault=vault_for(old.paths)) as store:
        assert case_id not in {c.id for c in store.list_cases()}

    total = sum(p.stat().st_size for p in sources[:2])
    received, cut, cuts = 0, 0, 0
    seen: list[CaseProgress] = []
    with field_link(urlsplit(server.base_url).port or 0,
                    LinkProfile(rate_bps=60_000, latency_s=0.05, reset_every_s=2.0)) as link:
        for _ in range(30):
            result = new.sync(link.url, on_progress=seen.append)
            assert result.pull is not None
            received += result.pull.photo_bytes
            cut += bool(result.pull.problems)
            cuts += len(result.pull.problems)
            if not result.pull.problems and not _pending(new):
                break
    assert cut >= 1, "no download was cut"
    _photos_match(new, case_id, photos)
    # Every cut resumed (Range) after the complete 64 KiB chunks the encrypted partial
    # file holds: the photos' bytes came over once, but for at most the chunk in
    # progress at each cut (docs/security.md "Files").
    assert total <= received <= total + cuts * CHUNK_BYTES, (received, total, cuts)
    assert new.status(case_id) == "DRAFT"  # the new tablet carries on with it
    fetching = [p for p in seen if p.step == FETCHING]
    assert fetching and max(p.bytes_total for p in fetching) == total
    assert describe(fetching[0]).startswith(f"{FETCHING} · 0 of 2 photos")


def _pending(device: Tablet) -> bool:
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        return bool(store.conn.scalar("SELECT count(*) FROM photos_to_fetch"))


def test_a_handover_forced_while_the_old_tablet_is_offline(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    old, new = tablet(tmp_path, TOKEN, "lost"), tablet(tmp_path, TOKEN_B, "spare")
    new.sync(server.base_url)
    case_id = _held_case(server, old, sources)
    photos = _server_photos(server, case_id)
    _hand_over(server, case_id, new, force=True)  # the old tablet is never asked

    got = new.sync(server.base_url)
    assert got.pull is not None and got.pull.photos == len(photos), got.pull
    _photos_match(new, case_id, photos)
    assert new.form(case_id)["applicant.first_name"].startswith("Sync")

    back = old.sync(server.base_url)  # back online: told to keep its copy read-only
    assert back.pull is not None and back.pull.applied >= 1
    assert old.state(case_id).locked_reason


def test_a_pushed_form_damaged_on_the_way_is_refused_and_the_good_one_is_kept(
        qapp: object, server: ServerHandle, tmp_path: Path) -> None:
    import json

    from kycdesk.core.hashing import form_definition_sha256
    from kycdesk.persistence.two_way import refused_forms

    device = tablet(tmp_path, TOKEN_B, "forms")
    device.sync(server.base_url)
    shipped = json.loads((REPO_ROOT / "resources" / "forms" / "individual_kyc_v2.json")
                         .read_text())
    version = f"9{uuid.uuid4().int % 10_000}"
    good = {**shipped, "version": version}
    damaged = {**shipped, "version": f"{version}1"}
    with office(server) as services:
        services.forms.publish(SUE, good, expected_sha256=form_definition_sha256(good),
                               address=IP)
        services.forms.publish(SUE, damaged, address=IP)
        # Damaged on the way (a proxy, a disk): its bytes no longer match its SHA-256.
        services.assignments.db.execute(
            "UPDATE published_forms SET definition_json = ? WHERE version = ?",
            (json.dumps({**damaged, "title": "tampered"}), damaged["version"]))
    result = device.sync(server.base_url)
    assert result.pull is not None and not result.pull.problems
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        kept = {(f.form_id, f.version) for f in store.pushed_forms()}
        refused = refused_forms(store.conn)
    assert ("individual_kyc", version) in kept
    assert ("individual_kyc", damaged["version"]) not in kept
    assert any(damaged["version"] in message and "SHA-256" in message for message in refused)


def test_a_held_set_out_of_step_gets_412_and_the_tablet_resyncs_in_the_same_run(
        qapp: object, server: ServerHandle, tmp_path: Path) -> None:
    from kycdesk.core.protocol import EMPTY_HELD_DIGEST

    device = tablet(tmp_path, TOKEN_B, "drift")
    device.sync(server.base_url)
    cases = [_assign(server, device, f"KYC-DRIFT-{n}") for n in range(3)]
    pulled = device.sync(server.base_url).pull
    assert pulled is not None and pulled.applied == 3
    # drift: the device's record of what it holds
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        store.conn.execute("UPDATE pull_position SET held_digest = ?, held_count = 0 "
                           "WHERE id = 1", (EMPTY_HELD_DIGEST,))
    result = device.sync(server.base_url)
    assert result.pull is not None and result.pull.resynced and not result.pull.problems
    assert result.pull.applied >= len(cases)  # every held case's state, paged
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        for case_id in cases:
            assert store.load_case(case_id).status == "DRAFT"  # kept, nothing duplicated
        assert store.conn.scalar("SELECT count(*) FROM cases WHERE id IN (?, ?, ?)",
                                 tuple(cases)) == 3
    after = device.sync(server.base_url)  # in step again (forms published come again
    assert after.pull is not None and not after.pull.resynced  # after a resync: by hash)
    settled = device.sync(server.base_url)
    assert settled.pull is not None and not settled.pull.resynced
    assert settled.pull.applied == 0


def test_a_failing_pull_does_not_hold_back_the_tablets_own_cases(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    from tests.sync_support import make_ready_cases

    device = tablet(tmp_path, TOKEN_B, "busy-office")
    device.sync(server.base_url)
    assigned = _assign(server, device, "KYC-LATER")
    with LocalStore(device.paths, vault=vault_for(device.paths)) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    server.set_faults([{"endpoint": "pull", "action": "status", "status": 503,
                        "retry_after": 1, "count": 1}])
    try:
        result = device.sync(server.base_url)
    finally:
        server.set_faults([])
    assert result.synced == [case_id]  # the push went on
    assert result.pull is not None and result.pull.applied == 0
    assert result.pull.problems and "busy" in result.pull.problems[0]
    later = device.sync(server.base_url)  # asked again next run, from the same token
    assert later.pull is not None and later.pull.applied == 1 and not later.pull.problems
    assert device.status(assigned) == "DRAFT"


def test_a_release_whose_reply_was_lost_or_overtaken_still_lets_the_copy_go(
        qapp: object, server: ServerHandle, tmp_path: Path, sources: list[Path]) -> None:
    """The release reached the server but its reply was lost (the tablet never recorded
    it): asked again, the server answers 200 and the copy goes. And when the office has
    meanwhile forced the case to the other tablet, the server answers 409; the copy,
    with nothing unsent, goes too instead of asking again on every run."""
    old, new = tablet(tmp_path, TOKEN, "lapsed"), tablet(tmp_path, TOKEN_B, "heir")
    new.sync(server.base_url)
    lost = _held_case(server, old, sources)
    _hand_over(server, lost, new, force=False)
    server.set_faults([{"endpoint": "release", "action": "drop_reply", "count": 1}])
    try:
        cut = old.sync(server.base_url)  # the release got there; its reply did not
    finally:
        server.set_faults([])
    assert cut.pull is not None and cut.pull.released == [] and cut.pull.problems
    with LocalStore(old.paths, vault=vault_for(old.paths)) as store:
        assert lost in {c.id for c in store.list_cases()}
    again = old.sync(server.base_url)
    assert again.pull is not None and again.pull.released == [lost], again.pull

    overtaken = _held_case(server, old, sources)
    _hand_over(server, overtaken, new, force=False)
    _hand_over(server, overtaken, new, force=True)  # before the old tablet came back
    back = old.sync(server.base_url)
    assert back.pull is not None and back.pull.released == [overtaken], back.pull
    with LocalStore(old.paths, vault=vault_for(old.paths)) as store:
        left = {c.id for c in store.list_cases()}
    assert lost not in left and overtaken not in left
    assert new.sync(server.base_url).pull is not None
    assert new.form(overtaken)["applicant.first_name"].startswith("Sync")
