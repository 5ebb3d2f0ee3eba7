"""The run's deadline is a deadline, and the progress line tells a server answering a
trickle from a silent link: the real reference server behind the field-link emulator
(tests/fieldlink.py) on 127.0.0.1, the real `kycdesk sync` process and the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kycdesk.core.states import CaseStatus
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.sync_store import standalone_sync_store
from kycdesk.sync.backoff import Backoff
from kycdesk.sync.client import SyncClient
from kycdesk.sync.engine import SyncEngine
from kycdesk.sync.photo_upload import UploadPolicy
from kycdesk.sync.progress import STALL_AFTER_S, CaseProgress, describe
from kycdesk.sync.status import RunResult
from tests import transitions
from tests.fieldlink import LinkProfile, field_link
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    ServerHandle,
    assert_server_holds_exactly,
    noisy_jpeg,
)
from tests.tablets import (
    pin_file,
    signed_in_args,
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)

DEVICE = "device-deadline-1"
FIRST_REQUEST = 512 * 1024  # UploadPolicy.first_chunk: the first PATCH's body
# A reply on a connection that carried a photo request comes back a byte a second.
TRICKLE = LinkProfile(rate_bps=2_000_000, latency_s=0.01, trickle_after_bytes=64 * 1024,
                      trickle_bps=1.0)


@pytest.fixture(scope="module")
def photo(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("deadline-photo")
    return noisy_jpeg(folder / "deadline.jpg", (1600, 1200), opacity=0.3, quality=90, seed=77)


def _ready_case(paths: DataPaths, photo: Path) -> tuple[str, int]:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        case_id: str = store.run(CreateCase(reference_number="KYC-DEADLINE",
                                            form_id="individual_kyc", form_version="2"))
        store.run(SaveForm(case_id, {"applicant.first_name": "Dead",
                                     "applicant.last_name": "Line"},
                           applicant_name="Dead Line"))
        store.run(AddImage(case_id, photo, slot="id_front"))
        transitions.submit(store, case_id)
        size = sum(i.byte_size or 0 for i in store.list_images(case_id))
    assert size > FIRST_REQUEST + 200_000, "the photo must need more than one request"
    return case_id, size


def _port(server: ServerHandle) -> int:
    port = urlsplit(server.base_url).port
    assert port is not None
    return port


def test_the_runs_deadline_cuts_a_trickled_reply_and_the_upload_resumes_after(
        qapp: object, paths: DataPaths, server: ServerHandle, photo: Path) -> None:
    """`kycdesk sync --until-done --deadline 12` while the reply to its first photo
    request trickles a byte a second: the process ends within 5 s of its deadline
    (before: the request's own limit, 60 s plus its body at 2 kB/s — over 5 min here);
    the case stays due, not failed; the next run continues from the server's offset."""
    case_id, size = _ready_case(paths, photo)
    deadline_s = 12.0
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
    with field_link(_port(server), replace(TRICKLE)) as link, \
            pin_file(paths).open("rb") as pin:
        process = subprocess.Popen(
            [sys.executable, "-m", "kycdesk", "sync", "--until-done",
             "--deadline", str(deadline_s), *signed_in_args(paths),
             "--server", link.url, "--token", TOKEN],
            stdin=pin,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert process.stdout is not None
        # The first progress line comes within milliseconds of the run's start (its
        # deadline's zero), after the process's own start-up, which a loaded machine may
        # stretch to seconds and which the deadline does not cover.
        first = process.stdout.readline()
        began = time.monotonic()
        try:
            rest, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        elapsed = time.monotonic() - began
        output = first + rest
        # Before: the request's own limit (60 s + 512 KiB at 2 kB/s) held it > 5 min.
        assert elapsed < deadline_s + 5.0, (elapsed, output)
        assert process.returncode == 1, output
        assert link.bytes_to_client_trickled > 0, "no reply trickled: nothing was tested"
        assert "The deadline passed while sending" in output, output
        assert "Traceback" not in output, output
        with standalone_sync_store(paths, vault=vault_for(paths)) as store:
            case = store.load_sync_case(case_id)
        assert case.status == CaseStatus.READY.value  # due again, not failed
        assert case.sync_attempts == 0
        assert server.state()["uploads"] == 1
        # The cut request's body reached the server (tus keeps it): the next run, over
        # the same link now answering at its rate, asks (HEAD) and sends only the rest.
        link.profile.trickle_after_bytes = None
        before = link.bytes_to_server
        result = _run(paths, link.url)
        delivered = link.bytes_to_server - before
    assert result.synced == [case_id], result
    assert delivered <= size - FIRST_REQUEST + 20_000, (delivered, size)
    with LocalStore(paths, vault=vault_for(paths)) as store:
        assert_server_holds_exactly(server, store, [case_id])


def _run(paths: DataPaths, url: str, *, client_ready: Callable[[SyncClient], None] | None
         = None, on_progress: Callable[[CaseProgress], None] | None = None) -> RunResult:
    with (standalone_sync_store(paths, vault=vault_for(paths)) as store,
          SyncClient(url, TOKEN, device_id=DEVICE) as client):
        if client_ready is not None:
            client_ready(client)
        engine = SyncEngine(store, client, device_id=DEVICE,
                            backoff=Backoff(base_s=0.0, cap_s=0.0, storage_full_min_s=0.0),
                            policy=UploadPolicy(quick_retry_s=(0.05, 0.2)),
                            on_progress=on_progress)
        return engine.run_once(ignore_backoff=True)


def _run_until_said(paths: DataPaths, url: str, said: Callable[[CaseProgress], bool],
                    also: Callable[[CaseProgress], None] | None = None
                    ) -> tuple[RunResult, list[str], float]:
    """Sync until a progress line matches `said`, then cancel as the app's Cancel does
    (`SyncClient.interrupt`): the run must end at once, its request in flight cut."""
    lines: list[CaseProgress] = []
    seen = threading.Event()
    clients: list[SyncClient] = []
    outcome: list[RunResult] = []

    def watch(progress: CaseProgress) -> None:
        lines.append(progress)
        if also is not None:
            also(progress)
        if said(progress):
            seen.set()

    def sync() -> None:
        outcome.append(_run(paths, url, client_ready=clients.append, on_progress=watch))

    thread = threading.Thread(target=sync, daemon=True)
    thread.start()
    assert seen.wait(STALL_AFTER_S + 45), [describe(p) for p in lines[-5:]]
    cancelled_at = time.monotonic()
    clients[0].interrupt()
    thread.join(30)
    assert not thread.is_alive()
    return outcome[0], [describe(p) for p in lines], time.monotonic() - cancelled_at


def test_a_server_answering_a_trickle_is_said_to_answer_slowly_not_silent(
        qapp: object, paths: DataPaths, server: ServerHandle, photo: Path) -> None:
    _ready_case(paths, photo)
    with field_link(_port(server), TRICKLE) as link:
        result, said, stopping = _run_until_said(
            paths, link.url, lambda p: p.slow_answer_s >= STALL_AFTER_S + 1)
    slow = [line for line in said if "the server is answering very slowly" in line]
    assert slow, said[-5:]
    assert not any("waiting for the network" in line for line in said), said
    assert result.cancelled and not result.deadline_passed, result
    assert not result.failed, result
    assert stopping < 5.0, stopping  # the cancel cut the reply in flight


def test_a_silent_link_is_said_to_carry_no_data(
        qapp: object, paths: DataPaths, server: ServerHandle, photo: Path) -> None:
    _ready_case(paths, photo)
    # 200 kB/s: the first photo request (512 KiB) is on the wire when, 100 kB into it,
    # the link goes silent (sockets open, nothing forwarded either way) for two minutes.
    profile = LinkProfile(rate_bps=200_000, latency_s=0.01)
    with field_link(_port(server), profile) as link:

        def go_silent(progress: CaseProgress) -> None:
            if progress.bytes_done > 100_000 and not profile.stalls:
                profile.stalls = [(link.elapsed(), 120.0)]

        result, said, stopping = _run_until_said(
            paths, link.url, lambda p: p.stalled_s >= STALL_AFTER_S + 1, also=go_silent)
    silent = [line for line in said if "waiting for the network (no data for" in line]
    assert silent, said[-5:]
    assert not any("answering very slowly" in line for line in said), said
    assert result.cancelled, result
    assert stopping < 5.0, stopping
