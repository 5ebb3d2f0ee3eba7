"""The launcher and its pointer (kycdesk/update/pointer.py, launcher.py): which version
starts, counting a new version's starts, the rollback after two failed starts, and the
manifest's path checks. Real processes: the versions are small executables that say who
they are and exit with the code they are told."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kycdesk.update.launcher import is_app_start
from kycdesk.update.manifest import Manifest
from kycdesk.update.pointer import (
    InstallRoot,
    State,
    choose_start,
    is_newer,
    mark_good,
    read_state,
    valid_version,
    write_state,
)

ROOT = Path(__file__).resolve().parent.parent


def _version(install: InstallRoot, version: str) -> None:
    """A stand-in bundle: prints its version and the release the launcher gave it, then
    exits with $FAKE_EXIT (a start that fails when non-zero)."""
    exe = install.executable(version)
    exe.parent.mkdir(parents=True)
    exe.write_text(f"#!/bin/sh\necho \"started {version} as $KYCDESK_RELEASE\"\n"
                   "exit ${FAKE_EXIT:-0}\n")
    exe.chmod(0o755)


def _launch(install: InstallRoot, *args: str,
            fail: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), KYCDESK_INSTALL_ROOT=str(install.root),
               FAKE_EXIT="3" if fail else "0")
    return subprocess.run([sys.executable, "-m", "kycdesk.update.launcher", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


@pytest.fixture
def install(tmp_path: Path) -> InstallRoot:
    root = InstallRoot(tmp_path / "install")
    _version(root, "1.0.0")
    _version(root, "1.0.1")
    write_state(root, State(current="1.0.1", previous="1.0.0", pending=True))
    return root


def test_a_new_version_that_fails_twice_is_rolled_back_on_the_third_start(
        install: InstallRoot) -> None:
    first = _launch(install, fail=True)
    assert first.returncode == 3 and "started 1.0.1 as 1.0.1" in first.stdout
    assert read_state(install) == State("1.0.1", "1.0.0", pending=True, attempts=1)
    assert "started 1.0.1" in _launch(install, fail=True).stdout
    third = _launch(install)
    assert "started 1.0.0 as 1.0.0" in third.stdout
    assert read_state(install) == State("1.0.0", None, pending=False, attempts=0,
                                        rolled_back=("1.0.1",))
    assert "started 1.0.0" in _launch(install).stdout  # and stays there


def test_a_start_marked_good_is_kept(install: InstallRoot) -> None:
    assert "started 1.0.1" in _launch(install, fail=True).stdout
    assert mark_good(install, "1.0.1")  # the second start finished its startup
    for _ in range(3):
        assert "started 1.0.1" in _launch(install, fail=True).stdout
    assert read_state(install) == State("1.0.1", "1.0.0", pending=False, attempts=0)
    assert not mark_good(install, "1.0.0")  # an old version cannot claim the pointer


def test_questions_and_commands_do_not_count_as_starts(install: InstallRoot) -> None:
    for args in (["--version"], ["--self-test"], ["sync", "--once"],
                 ["--data-dir", "/x", "update", "check"]):
        assert "started 1.0.1" in _launch(install, *args, fail=True).stdout
    assert read_state(install) == State("1.0.1", "1.0.0", pending=True, attempts=0)
    assert is_app_start([]) and is_app_start(["--user", "ann", "--pin-stdin"])
    assert is_app_start(["--data-dir", "/data", "--startup-check"])
    assert not is_app_start(["doctor"])


def test_without_a_readable_pointer_the_newest_complete_version_starts(
        install: InstallRoot) -> None:
    install.state_file.write_text("{half a pointer")
    install.staging_dir("1.0.2").mkdir()  # a staging folder is never a version
    assert "started 1.0.1" in _launch(install).stdout
    assert read_state(install) == State("1.0.1")


def test_a_missing_current_version_falls_back_to_the_previous(install: InstallRoot) -> None:
    install.executable("1.0.1").unlink()
    assert choose_start(install) == ("1.0.0", State("1.0.0"))
    assert "started 1.0.0" in _launch(install).stdout


def test_no_version_at_all_is_said_plainly(tmp_path: Path) -> None:
    done = _launch(InstallRoot(tmp_path / "empty"))
    assert done.returncode == 2 and "no installed version" in done.stderr


def test_the_pointer_is_replaced_whole(install: InstallRoot) -> None:
    write_state(install, State("1.0.0"))
    assert json.loads(install.state_file.read_text())["current"] == "1.0.0"
    assert [p.name for p in install.update_dir.iterdir()] == ["state.json"]  # no temp left


@pytest.mark.parametrize("path", ["../evil", "/etc/passwd", "a/../../b", "C:\\x"])
def test_a_manifest_cannot_write_outside_its_folder(path: str) -> None:
    data = json.dumps({"version": "1", "files": {
        path: {"sha256": "0" * 64, "size": 1, "executable": False}}}).encode()
    with pytest.raises(ValueError, match="outside its folder"):
        Manifest.from_bytes(data)


def test_a_manifest_link_cannot_point_outside_its_folder() -> None:
    data = json.dumps({"version": "1", "files": {"lib/a.so": {
        "sha256": "", "size": 0, "executable": False, "link": "../../../etc/passwd"}}}).encode()
    with pytest.raises(ValueError, match="outside its folder"):
        Manifest.from_bytes(data)


def test_a_restart_waits_for_the_old_process_to_be_gone(
        install: InstallRoot, tmp_path: Path) -> None:
    """The kiosk's restart into a new version: the launcher starts it only once the app
    that asked has exited (its locks released), so that start cannot fail on them. The
    "old app" blocks on a pipe until the test closes it; both write to one log, so the
    order is seen, not timed."""
    import threading

    log = tmp_path / "order.log"
    exe = install.executable("1.0.1")
    exe.write_text(f"#!/bin/sh\necho started >> {log}\n")
    old_app = subprocess.Popen([sys.executable, "-c",
                                f"import sys; sys.stdin.read(); open({str(log)!r}, 'a')"
                                ".write('old gone\\n')"], stdin=subprocess.PIPE)
    reaper = threading.Thread(target=old_app.wait)  # gone means gone, not a zombie
    reaper.start()
    env = dict(os.environ, PYTHONPATH=str(ROOT), KYCDESK_INSTALL_ROOT=str(install.root),
               KYCDESK_WAIT_FOR_PID=str(old_app.pid))
    launcher = subprocess.Popen([sys.executable, "-m", "kycdesk.update.launcher"], env=env)
    try:
        with pytest.raises(subprocess.TimeoutExpired):  # still waiting for the old app
            launcher.wait(timeout=3)
        assert not log.exists()  # nothing started while the old app runs
    finally:
        assert old_app.stdin is not None
        old_app.stdin.close()  # the old app quits
        reaper.join()
    assert launcher.wait(timeout=60) == 0
    assert log.read_text().splitlines() == ["old gone", "started"]


def test_a_chain_of_links_cannot_lead_outside_the_folder() -> None:
    """`x/y/b -> ../..` and `q -> x/y/b/..` each look inside on their own text; together
    `q` is `versions/`, and `q/1.0.0/kycdesk` would overwrite the running version."""
    link = {"sha256": "", "size": 0, "executable": False}
    for files in ({"x/y/b": {**link, "link": "../.."}, "q": {**link, "link": "x/y/b/.."},
                   "q/1.0.0/kycdesk": {"sha256": "0" * 64, "size": 1, "executable": True}},
                  {"x/y/b": {**link, "link": "../.."}, "q": {**link, "link": "x/y/b/.."}},
                  {"a": {**link, "link": "b"}, "a/c": {**link, "link": "d"}}):
        with pytest.raises(ValueError, match="through a link"):
            Manifest.from_bytes(json.dumps({"version": "1", "files": files}).encode())
    plain = {"lib/a.so": {**link, "link": "a.so.1"}, "lib/a.so.1": {**link, "link": "a.so.1.2"},
             "lib/a.so.1.2": {"sha256": "0" * 64, "size": 1, "executable": False}}
    assert len(Manifest.from_bytes(json.dumps({"version": "1", "files": plain}).encode())
               .files) == 3  # PyInstaller's aliases (a link to a link) stay allowed


@pytest.mark.parametrize("version", ["9/../..", "..", "1.2.rc1", "", "1.2.3.4.5", "1.0\\x",
                                     " 1.0", "1.0\n"])
def test_a_version_name_is_numbers_only(version: str, install: InstallRoot) -> None:
    assert not valid_version(version)
    with pytest.raises(ValueError):
        Manifest.from_bytes(json.dumps({"version": version, "files": {}}).encode())
    with pytest.raises(ValueError):
        install.staging_dir(version)
    install.state_file.write_text(json.dumps({"current": version, "previous": "1.0.0"}))
    assert read_state(install) is None  # the launcher falls back to a version it finds
    assert "started 1.0.1" in _launch(install).stdout


def test_valid_versions_order_by_number() -> None:
    assert all(valid_version(v) for v in ("1", "1.4", "1.4.0", "1.4.0.2", "10.0.0"))
    assert is_newer("1.10.0", "1.9.2") and not is_newer("1.2.0", "1.2.0")


def test_a_pointer_that_cannot_be_written_does_not_stop_the_start(
        install: InstallRoot) -> None:
    """A full disk or a pointer that cannot be replaced: this start goes uncounted, said on
    stderr, and the app starts all the same."""
    install.state_file.unlink()
    install.state_file.mkdir()  # unreadable, and the replace over it fails (even as root)
    done = _launch(install)
    assert done.returncode == 0 and "started 1.0.1" in done.stdout
    assert "could not record this start" in done.stderr and "Traceback" not in done.stderr


def test_re_running_an_older_installer_never_moves_the_pointer_backwards(
        install: InstallRoot) -> None:
    """`kycdesk-launcher --adopt V`, what the installer runs after copying V in: a tablet
    that updated itself to 1.0.2 (and refused 1.0.3) keeps both when the original 1.0.0
    installer runs again; a newer installer puts its version on trial."""
    _version(install, "1.0.2")
    updated = State("1.0.2", "1.0.1", rolled_back=("1.0.3",))
    write_state(install, updated)
    again = _launch(install, "--adopt", "1.0.0")
    assert again.returncode == 0, again.stderr
    assert read_state(install) == updated
    assert _launch(install, "--adopt", "1.0.2").returncode == 0
    assert read_state(install) == updated  # the same version once more: nothing changes
    _version(install, "1.0.3")
    assert _launch(install, "--adopt", "1.0.3").returncode == 0  # IT installs it on purpose
    assert read_state(install) == State("1.0.3", "1.0.2", pending=True)


def test_adopt_on_a_first_install_and_over_a_version_still_on_trial(tmp_path: Path) -> None:
    fresh = InstallRoot(tmp_path / "fresh")
    _version(fresh, "1.0.0")
    assert _launch(fresh, "--adopt", "1.0.0").returncode == 0
    assert read_state(fresh) == State("1.0.0")
    _version(fresh, "1.0.1")
    write_state(fresh, State("1.0.1", "1.0.0", pending=True, attempts=1))
    _version(fresh, "1.0.2")
    assert _launch(fresh, "--adopt", "1.0.2").returncode == 0
    # 1.0.1 never finished a start: the version to go back to stays 1.0.0
    assert read_state(fresh) == State("1.0.2", "1.0.0", pending=True)
    missing = _launch(fresh, "--adopt", "9.9.9")
    assert missing.returncode == 2 and "not installed" in missing.stderr
    assert read_state(fresh) == State("1.0.2", "1.0.0", pending=True)
