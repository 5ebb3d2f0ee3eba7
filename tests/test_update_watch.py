"""The app's side of updates (kycdesk/update_watch.py): a check in the background that
stages and switches a signed release, its refusal reported, and the kiosk's restart at its
quiet hour only when no sync runs and no case has unsaved edits. Real TUF repository and
loopback server; the "bundles" are tiny executables (the full bundles are in
tests/test_update_e2e.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.update.pointer import InstallRoot, State, read_state
from kycdesk.update_watch import UpdateWatch
from tests.update_support import RepoServer, served_pair, tiny_bundle
from tools import release


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[InstallRoot, RepoServer, Path]]:
    with served_pair(tmp_path, tiny_bundle, "2.0.0", "2.1.0") as served:
        yield served


def test_a_check_stages_and_switches_a_new_release_in_the_background(
        qtbot: QtBot, served: tuple[InstallRoot, RepoServer, Path]) -> None:
    install, _server, _keys = served
    watch = UpdateWatch(install, busy=lambda: False)
    with qtbot.waitSignal(watch.ready, timeout=60_000) as ready:
        watch.check_now()
    assert ready.args == ["2.1.0"] and watch.staged == "2.1.0"
    assert read_state(install) == State("2.1.0", "2.0.0", pending=True)
    assert (install.version_dir("2.1.0") / "_internal" / "data.txt").read_text() \
        .startswith("version N+1\n")


def test_a_refused_update_is_reported(
        qtbot: QtBot, served: tuple[InstallRoot, RepoServer, Path]) -> None:
    install, server, keys = served
    release.resign_timestamp(keys, server.folder, days=-1)
    watch = UpdateWatch(install, busy=lambda: False)
    with qtbot.waitSignal(watch.failed, timeout=60_000) as failed:
        watch.check_now()
    assert "expired" in failed.args[0]
    assert read_state(install) == State("2.0.0")


def test_a_kiosk_restarts_into_a_staged_version_only_at_its_quiet_hour_when_idle(
        qtbot: QtBot, tmp_path: Path) -> None:
    busy = [True]
    watch = UpdateWatch(InstallRoot(tmp_path), busy=lambda: busy[0], quiet_hour=3)
    restarts: list[bool] = []
    watch.restartNow.connect(lambda: restarts.append(True))
    at_three, at_noon = datetime(2026, 12, 6, 3, 15), datetime(2026, 12, 6, 12, 0)
    watch._maybe_restart(at_three)
    assert restarts == []  # nothing staged yet
    watch.staged = "2.1.0"
    watch._maybe_restart(at_three)
    assert restarts == []  # a sync runs or a case has unsaved edits
    busy[0] = False
    watch._maybe_restart(at_noon)
    assert restarts == []  # not the quiet hour
    watch._maybe_restart(at_three)
    assert restarts == [True]


def _check(install: InstallRoot) -> str | None:
    from kycdesk.update.client import Updater
    from kycdesk.update.fetch import UpdateLink

    link = UpdateLink(deadline_s=60)
    try:
        offer = Updater(install, link=link).check()
    finally:
        link.close()
    return None if offer is None else offer.version


@pytest.mark.parametrize("role", ["snapshot", "targets"])
def test_the_scheduled_re_signing_keeps_the_fleet_updating_past_each_expiry(
        served: tuple[InstallRoot, RepoServer, Path], role: str) -> None:
    """A week after a release its snapshot expires (90 days: its targets): a fresh
    timestamp alone leaves every tablet refusing; `release.py snapshot` (the daily job) /
    `release.py targets` makes them update again."""
    from kycdesk.update.client import UpdateRefusedError

    install, server, keys = served
    lapsed = dict(release.EXPIRY_DAYS, **{role: -1.0})  # signed, then time passed
    if role == "snapshot":
        release.resign_snapshot(keys, server.folder, lapsed)
    else:
        release.resign_targets(keys, server.folder, lapsed)
    release.resign_timestamp(keys, server.folder, days=1)
    with pytest.raises(UpdateRefusedError) as refused:
        _check(install)
    assert "expired" in refused.value.summary
    assert f"release.py {role}" in refused.value.summary
    assert release.main([role, "--keys", str(keys), "--repo", str(server.folder)]) == 0
    assert _check(install) == "2.1.0"


def test_the_first_check_comes_shortly_after_startup_not_after_the_six_hours(
        qtbot: QtBot, served: tuple[InstallRoot, RepoServer, Path]) -> None:
    install, _server, _keys = served
    watch = UpdateWatch(install, busy=lambda: False, first_check_ms=50)
    assert watch._timer.interval() == 6 * 3600 * 1000  # the schedule after it
    with qtbot.waitSignal(watch.ready, timeout=60_000) as ready:
        watch.start()
    assert ready.args == ["2.1.0"]


def test_the_sync_s_ca_certificates_setting_is_used_for_updates(
        qtbot: QtBot, served: tuple[InstallRoot, RepoServer, Path], tmp_path: Path) -> None:
    install, _server, _keys = served
    watch = UpdateWatch(install, busy=lambda: False, ca_bundle=str(tmp_path / "no-ca.pem"))
    with qtbot.waitSignal(watch.failed, timeout=60_000):
        watch.check_now()  # the named CA file is read (here: it is missing)
    assert read_state(install) == State("2.0.0")


def test_a_start_counts_good_after_the_store_opened_or_a_sign_in_screen_that_stayed_up(
) -> None:
    """Not as soon as the sign-in screen shows: a release crashing as it opens or migrates
    the verifier's store must fail its start (and be rolled back after two)."""
    from kycdesk.update_watch import StartCountsGood

    now, desk, shown = [100.0], [False], [True]
    good = StartCountsGood(lambda: desk[0], lambda: shown[0], sign_in_up_s=30,
                           clock=lambda: now[0])
    assert not good()  # the sign-in screen just appeared
    now[0] += 10
    shown[0] = False  # a PIN entered: the store is being opened and migrated
    assert not good()
    now[0] += 60  # ... and it crashes there: never good, however long it took
    assert not good()
    shown[0] = True  # back at the sign-in screen (e.g. signed out)
    assert not good()
    now[0] += 29
    assert not good()
    now[0] += 1
    assert good()  # a signed-out kiosk, up for 30 s
    fresh = StartCountsGood(lambda: desk[0], lambda: False, clock=lambda: now[0])
    assert not fresh()
    desk[0] = True  # the verifier's startup finished (store open, cases shown)
    assert fresh()
