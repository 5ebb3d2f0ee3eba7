"""The device side of revocation and the lease (issue 18), against the real reference
server: the sync client stops with `DeviceRevokedError` only on a proof its office
secret checks (a wrong or missing proof stops the sync and wipes nothing), and the sync
worker stops for good and hands the wipe to the app; each run's lease goes to the app."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.core import office_codes
from kycdesk.core.errors import FailureKind
from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.writer import WriterThread
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient, enrol_device
from kycdesk.sync.errors import DeviceRevokedError, SyncError
from kycdesk.sync.office import OfficeHooks, OfficeIdentity, office_identity
from kycdesk.sync.status import SyncState
from kycdesk.sync.worker import SyncController
from tests.sync_support import REPO_ROOT, ServerHandle, make_ready_cases, photo_sources
from tests.vaults import make_vault


def _admin(server: ServerHandle, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "kycdesk_server", args[0],
                           *server.admin_args, *args[1:]], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=True, env=server.admin_env)
    return done.stdout.strip()


def _enrolled(server: ServerHandle, tablet_id: str = "tablet-1",
              verifier: str = "Ama") -> tuple[str, OfficeIdentity]:
    code = _admin(server, "enrol-code")
    enrolled = enrol_device(server.base_url, code, "kiosk 3", tablet_id=tablet_id,
                            verifier_name=verifier)
    assert enrolled.org_recovery_key is None  # the office set none
    office = office_identity(enrolled)
    assert office is not None and len(office.office_secret) == 32
    assert office.office_secret.hex() not in repr(office)
    return enrolled.credential, office


def test_the_client_stops_with_device_revoked_only_on_a_proof_that_checks(
        server: ServerHandle) -> None:
    credential, office = _enrolled(server)
    _admin(server, "device", "revoke", office.device_id)
    with SyncClient(server.base_url, credential, device_id="local",
                    office=office) as client, pytest.raises(DeviceRevokedError) as hit:
        client.health()
    assert hit.value.kind is FailureKind.AUTH and "revoked" in str(hit.value)
    # The same answer checked with another secret (a hostile server could say anything):
    # an AUTH stop, never the revocation that wipes.
    forged = OfficeIdentity(office.device_id, bytes(32))
    for checked_with in (forged, None):
        with SyncClient(server.base_url, credential, device_id="local",
                        office=checked_with) as client, \
                pytest.raises(SyncError) as stopped:
            client.health()
        assert not isinstance(stopped.value, DeviceRevokedError)
        assert stopped.value.kind is FailureKind.AUTH and stopped.value.status == 403
        assert "kept" in str(stopped.value)


FAST = Backoff(base_s=0.05, cap_s=0.2, storage_full_min_s=0.2)


@pytest.fixture
def writer_thread(qtbot: QtBot, paths: DataPaths) -> Iterator[WriterThread]:
    thread = WriterThread(paths, vault=make_vault())
    with qtbot.waitSignal(thread.client.opened, timeout=10_000):
        thread.start()
    yield thread
    thread.stop()


def test_the_worker_records_the_lease_then_stops_for_good_when_revoked(
        qtbot: QtBot, paths: DataPaths, server: ServerHandle, tmp_path: Path,
        writer_thread: WriterThread) -> None:
    credential, office = _enrolled(server, verifier="Kofi")
    leases: list[tuple[str, str]] = []
    wiped: list[bool] = []
    hooks = OfficeHooks(on_revoked=wiped.append,
                        on_lease=lambda expires, proof: leases.append((expires, proof)))
    sync = SyncController(paths, writer_thread.writer, backoff=FAST,
                          periodic_ms=3_600_000, office=office, hooks=hooks)
    try:
        with qtbot.waitSignal(sync.stateChanged, timeout=10_000):
            sync.start()
        sync.configure(server.base_url, credential)
        with qtbot.waitSignal(sync.runFinished, timeout=30_000):
            sync.request_sync(now=True)
        [(expires, proof)] = leases
        assert office_codes.verify_lease(office.office_secret, office.device_id,
                                         expires, proof)
        assert not wiped

        with LocalStore(paths, vault=make_vault()) as store:
            sources = photo_sources(tmp_path / "src", count=1, size=(400, 300))
            [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
        _admin(server, "device", "revoke", office.device_id, "--whole-tablet")
        # The run's end, not only its REVOKED state: its runFinished must not be taken
        # below for a run after it (the state comes first, from the same thread).
        with qtbot.waitSignal(sync.runFinished, timeout=30_000) as finished:
            sync.request_sync(now=True)
        assert finished.args is not None and finished.args[0].revoked
        assert sync.state == SyncState.REVOKED and "revoked" in sync.detail
        assert wiped == [True]  # called in the sync thread before the run ended
        # Stopped for good: asked again, it runs nothing (no second wipe, no request).
        states: list[str] = []
        sync.stateChanged.connect(lambda state, _d: states.append(state))
        sync.request_sync(now=True)
        with qtbot.waitSignal(sync.runFinished, timeout=1_000, raising=False) as again:
            pass
        assert not again.signal_triggered and states == [] and wiped == [True]
        with LocalStore(paths, vault=make_vault()) as store:  # nothing sent since
            assert store.load_case(case_id).status == "READY"
        assert server.query("SELECT count(*) FROM submissions WHERE case_id = ?",
                            (case_id,)) == [(0,)]
    finally:
        sync.stop()


def test_kycdesk_sync_hands_the_lease_then_the_revocation_to_its_caller(
        paths: DataPaths, server: ServerHandle, tmp_path: Path) -> None:
    """The headless run (`kycdesk sync`): the same hooks, the revocation called once the
    store is closed and its lock released (the wipe may take both)."""
    import io

    from kycdesk.exit_codes import ExitCode
    from kycdesk.persistence.lock import DataDirLock
    from kycdesk.sync.headless import run_headless_sync

    credential, office = _enrolled(server, verifier="Yaw")
    with LocalStore(paths, vault=make_vault()) as store:
        sources = photo_sources(tmp_path / "src", count=1, size=(400, 300))
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    leases: list[tuple[str, str]] = []
    wiped: list[bool] = []

    def wipe(whole_tablet: bool) -> None:
        assert not whole_tablet  # this verifier's device alone was revoked
        lock = DataDirLock(paths.lock_file)
        lock.acquire()  # free: the run let go of the store first
        lock.release()
        wiped.append(True)

    hooks = OfficeHooks(on_revoked=wipe,
                        on_lease=lambda expires, proof: leases.append((expires, proof)))
    out = io.StringIO()
    assert run_headless_sync(paths, make_vault(), server=server.base_url, token=credential,
                             ignore_backoff=True, office=office, hooks=hooks,
                             out=out) == ExitCode.OK, out.getvalue()
    assert len(leases) == 1 and not wiped
    _admin(server, "device", "revoke", office.device_id)
    out = io.StringIO()
    assert run_headless_sync(paths, make_vault(), server=server.base_url, token=credential,
                             ignore_backoff=True, office=office, hooks=hooks,
                             out=out) == ExitCode.AUTH
    assert wiped == [True] and "revoked" in out.getvalue()


def test_kycdesk_sync_of_a_revoked_tablet_wipes_every_verifier_on_it(
        qapp: object, server: ServerHandle, tmp_path: Path) -> None:
    """End to end at the command line: two verifiers on one tablet enrol (each a device
    of its own), one syncs and records the server's lease; the office revokes the whole
    tablet; the other verifier's next `kycdesk sync` is refused with a proof that checks,
    and the tablet is wiped — both verifiers' keys and stores — while a forged answer
    would have wiped nothing (test above)."""
    import os

    from kycdesk.exit_codes import ExitCode
    from kycdesk.verifiers.registry import Registry
    from tests.tablets import TEST_PIN, make_tablet

    signed = make_tablet(tmp_path / "tablet")
    other = signed.registry.add("Kojo", TEST_PIN)
    sources = photo_sources(tmp_path / "src", count=1, size=(400, 300))
    for session in (signed.session, other):  # each store holds a case to send
        with LocalStore(session.paths, vault=session.vault) as store:
            make_ready_cases(store, sources, cases=1, images_per_case=1)
    env = {k: v for k, v in os.environ.items() if k not in ("KYCDESK_TOKEN", "KYCDESK_SERVER")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT),
               XDG_CONFIG_HOME=str(tmp_path / "config"))

    def kycdesk(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kycdesk", args[0], "--data-dir",
                               str(signed.tablet.root), "--user", user, "--pin-stdin",
                               *args[1:]], capture_output=True, text=True, timeout=120,
                              env=env, input=f"{TEST_PIN}\n", check=False)

    for user in ("Tess", "Kojo"):
        enrolled = kycdesk(user, "enrol", "--server", server.base_url, "--code",
                           _admin(server, "enrol-code"))
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    registry = Registry.open(signed.tablet)
    tess_device = registry.device_id(signed.session.verifier_id)
    assert tess_device is not None
    listed = _admin(server, "device", "list")
    assert str(registry.tablet_id) in listed and "verifier Kojo" in listed
    synced = kycdesk("Tess", "sync", "--once", "--server", server.base_url)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "synced 1 case(s)" in synced.stdout

    _admin(server, "device", "revoke", tess_device, "--whole-tablet")
    refused = kycdesk("Kojo", "sync", "--once", "--server", server.base_url)
    assert refused.returncode == ExitCode.AUTH, refused.stdout + refused.stderr
    assert "revoked" in refused.stdout
    after = Registry.open(signed.tablet)
    assert after.verifiers() == []  # every verifier's keys went
    for folder in (signed.session.paths.root, other.paths.root):
        assert not folder.exists() or not any(folder.rglob("*.sqlite3")), folder


def test_one_verifiers_revocation_wipes_their_store_only(tmp_path: Path) -> None:
    """The office revoked one verifier's device (one who left): their store goes, the
    other verifiers on the tablet keep theirs; the whole tablet's revocation takes all."""
    from kycdesk.paths import resolve_tablet
    from kycdesk.sync.tablet_hooks import revocation_wipe
    from kycdesk.verifiers.registry import Registry
    from tests.tablets import CHEAP_PARAMS

    registry = Registry.open(resolve_tablet(tmp_path / "tablet"), pin_params=CHEAP_PARAMS)
    ama = registry.add("Ama", "first long passphrase")
    kofi = registry.add("Kofi", "second long passphrase")
    revocation_wipe(registry, ama)(False)
    assert [v.name for v in registry.verifiers()] == ["Kofi"]
    assert not ama.paths.root.exists() and kofi.paths.root.exists()
    revocation_wipe(registry, kofi)(True)
    assert registry.verifiers() == [] and not kofi.paths.root.exists()
