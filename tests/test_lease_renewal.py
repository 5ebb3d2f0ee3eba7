"""The lease page's "Try to reach the server" (issue 18): a verifier whose lease ran out
signs in with the right PIN, the tablet asks the real office server for a lease, keeps
it only with the office's proof, and the next sign-in goes through."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kycdesk.core.errors import FailureKind
from kycdesk.paths import resolve_tablet
from kycdesk.sync.client import enrol_device
from kycdesk.sync.enrolment import keep_enrolment
from kycdesk.sync.errors import SyncError
from kycdesk.sync.tablet_hooks import renew_lease
from kycdesk.verifiers.errors import LeaseExpiredError
from kycdesk.verifiers.registry import Registry
from tests.sync_support import REPO_ROOT, ServerHandle
from tests.tablets import CHEAP_PARAMS

PIN = "correct horse battery"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _enrol_code(server: ServerHandle) -> str:
    done = subprocess.run([sys.executable, "-m", "kycdesk_server", "enrol-code",
                           *server.admin_args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=True, env=server.admin_env)
    return done.stdout.strip()


def test_reaching_the_server_renews_an_expired_lease(server: ServerHandle,
                                                      tmp_path: Path) -> None:
    # Enrolled 20 days ago (by the tablet's clock): its first lease ended 6 days ago.
    clock = Clock(datetime.now(UTC) - timedelta(days=20))
    registry = Registry.open(resolve_tablet(tmp_path / "tablet"), now=clock,
                             pin_params=CHEAP_PARAMS)
    session = registry.add("Ama", PIN)
    with pytest.raises(SyncError) as never_enrolled:
        renew_lease(registry, session, server.base_url)
    assert never_enrolled.value.kind is FailureKind.AUTH
    enrolled = enrol_device(server.base_url, _enrol_code(server), "kiosk 3",
                            tablet_id=registry.tablet_id, verifier_name="Ama")
    keep_enrolment(registry, session, enrolled)
    clock.now = datetime.now(UTC)
    with pytest.raises(LeaseExpiredError) as expired:
        registry.sign_in(session.verifier_id, PIN)
    renew_lease(registry, expired.value.session, server.base_url)
    assert registry.verifiers()[0].locked is None
    registry.sign_in(session.verifier_id, PIN)  # no LeaseExpiredError any more


def test_a_server_that_cannot_be_reached_says_so_and_keeps_the_lock(
        tmp_path: Path) -> None:
    clock = Clock(datetime.now(UTC))
    registry = Registry.open(resolve_tablet(tmp_path / "tablet"), now=clock,
                             pin_params=CHEAP_PARAMS)
    session = registry.add("Ama", PIN)
    with pytest.raises(SyncError) as no_address:
        renew_lease(registry, session, "")
    assert "unlock code" in str(no_address.value)
