"""Signed updates end to end (docs/updates.md) with two REAL Linux bundles: N (the built
bundle) and N+1 (a copy stamped N+1 with a changed file), published by tools/release.py and
served by a loopback HTTP server; the update runs as `kycdesk update apply` in its own
process, the new version's `--self-test` for real, the launcher starting the result.

SIGKILL at every phase (download midway, verify, stage, self-test, switch, switched) → the
launcher starts N or N+1 — never anything else — the user's data folder is untouched, and
the next run finishes the update. Tampered files, rolled-back metadata, an expired
timestamp and a wrong key are refused with a message that says so, nothing changed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.update.pointer import InstallRoot, State, read_state, write_state
from tests.update_support import (
    CHANGED_FILE,
    ROOT,
    VERSION_N,
    VERSION_N1,
    Releases,
    RepoServer,
    bundle_dir,
    install_n,
    launch,
    make_store,
    repo_server,
    run_update,
    started_release,
    store_report,
)
from tools import release

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    return Releases(tmp_path_factory.mktemp("releases"), bundle_dir())


@pytest.fixture
def server(releases: Releases) -> Iterator[RepoServer]:
    with repo_server(releases.repo) as running:
        yield running


@pytest.fixture
def install(releases: Releases, server: RepoServer, tmp_path: Path) -> InstallRoot:
    server.serve(releases.repo)
    return install_n(releases, tmp_path / "install", server.url)


@pytest.fixture(scope="module")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("store") / "data"
    make_store(data)
    return data


@pytest.fixture
def data_dir(store_template: Path, tmp_path: Path) -> Path:
    """The user's data folder: a verifier's encrypted cases and photos (never under the
    install root: the update must not touch it)."""
    data = tmp_path / "data"
    shutil.copytree(store_template, data)
    return data


def _snapshot(install: InstallRoot, data: Path) -> str:
    return store_report(install.root, data)


def _assert_intact(install: InstallRoot, data: Path, before: str) -> None:
    """The same cases, the database and every photo whole, read by the version that
    starts now."""
    assert store_report(install.root, data) == before


def test_update_from_n_to_n_plus_1_downloads_only_what_changed(
        install: InstallRoot, data_dir: Path, releases: Releases) -> None:
    before = _snapshot(install, data_dir)
    assert started_release(install.root, data_dir) == VERSION_N
    check = run_update(install.root, "check")
    assert check.returncode == 0, check.stderr
    assert f"version {VERSION_N1}: 2 changed file(s)" in check.stdout  # the file + stamp
    applied = run_update(install.root, "apply")
    assert applied.returncode == 0, applied.stderr
    assert f"updated to {VERSION_N1}" in applied.stdout
    for phase in ("refresh", "download", "verify", "stage", "self-test", "switch"):
        assert f"update: {phase}" in applied.stdout
    assert read_state(install) == State(VERSION_N1, VERSION_N, pending=True)
    assert started_release(install.root, data_dir) == VERSION_N1
    new = install.version_dir(VERSION_N1)
    assert (new / CHANGED_FILE).read_bytes() == (releases.bundle_n1 / CHANGED_FILE).read_bytes()
    assert os.access(new / "kycdesk", os.X_OK)
    assert not any(install.blobs.iterdir())  # the downloads went into the new version
    # A real start of the app finishes its startup and keeps the new version.
    started = launch(install.root, "--startup-check", data_dir=data_dir)
    assert started.returncode == 0, started.stderr
    assert read_state(install) == State(VERSION_N1, VERSION_N, pending=False)
    _assert_intact(install, data_dir, before)
    again = run_update(install.root, "apply")
    assert again.returncode == 0 and "up to date" in again.stdout


@pytest.mark.parametrize("phase", ["download-midway", "verify", "stage", "stage-midway",
                                   "self-test", "switch", "switched"])
def test_sigkill_at_every_phase_leaves_n_or_n_plus_1_and_the_data(
        install: InstallRoot, data_dir: Path, server: RepoServer, phase: str) -> None:
    before = _snapshot(install, data_dir)
    env = dict(os.environ, PYTHONPATH=str(ROOT), KYCDESK_UPDATE_HOLD_AT=phase)
    updating = subprocess.Popen(
        [sys.executable, "-m", "kycdesk", "update", "apply", "--install-root",
         str(install.root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=ROOT, env=env)
    try:
        assert updating.stdout is not None
        for line in updating.stdout:
            if line.startswith(f"holding at {phase}"):
                break
        else:
            _out, err = updating.communicate(timeout=30)
            pytest.fail(f"the update never reached {phase}: {err}")
        updating.send_signal(signal.SIGKILL)
    finally:
        updating.kill()
        updating.communicate(timeout=30)
    if phase == "stage-midway":  # killed with half the new version's files copied
        assert install.staging_dir(VERSION_N1).is_dir()
    expected = VERSION_N1 if phase == "switched" else VERSION_N
    assert started_release(install.root, data_dir) == expected
    _assert_intact(install, data_dir, before)
    if phase == "download-midway":
        parts = list(install.blobs.glob("*.part"))
        assert len(parts) == 1 and parts[0].stat().st_size > 0  # resumed from here
        resumed_from = parts[0].stat().st_size
        server.ranges.clear()
    finished = run_update(install.root, "apply")
    assert finished.returncode == 0, finished.stderr
    if phase == "switched":
        assert "up to date" in finished.stdout
    else:
        assert f"updated to {VERSION_N1}" in finished.stdout
    if phase == "download-midway":
        # The rest of the file, not all of it again.
        assert server.ranges == [f"bytes={resumed_from}-"]
    assert started_release(install.root, data_dir) == VERSION_N1
    assert sorted(p.name for p in install.versions.iterdir()) == [VERSION_N, VERSION_N1]
    _assert_intact(install, data_dir, before)


def _refused(install: InstallRoot, data_dir: Path, words: str) -> None:
    done = run_update(install.root, "apply")
    assert done.returncode == 1, done.stdout
    assert words in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert read_state(install) == State(VERSION_N)
    assert started_release(install.root, data_dir) == VERSION_N
    assert [p.name for p in install.versions.iterdir()] == [VERSION_N]


def test_a_tampered_file_is_refused(install: InstallRoot, data_dir: Path,
                                    releases: Releases, server: RepoServer) -> None:
    repo = releases.variant("tampered")
    changed = hashlib.sha256((releases.bundle_n1 / CHANGED_FILE).read_bytes()).hexdigest()
    blob = repo / "targets" / "blobs" / f"{changed}.{changed}"
    blob.write_bytes(blob.read_bytes().replace(b"N+1", b"BAD"))  # same length
    server.serve(repo)
    _refused(install, data_dir, "does not match its signature (tampered")
    assert not list(install.blobs.glob(f"{changed}*"))  # the bad download was deleted


def test_rolled_back_metadata_is_refused(install: InstallRoot, data_dir: Path,
                                         releases: Releases, server: RepoServer) -> None:
    server.serve(releases.repo)
    assert run_update(install.root, "check").returncode == 0  # it has seen N+1's metadata
    server.serve(releases.repo_n)  # an attacker (or a stale mirror) replays the old one
    _refused(install, data_dir, "older metadata than this tablet already trusts (a rollback")


def test_an_older_release_than_the_installed_one_is_not_installed(
        tmp_path: Path, releases: Releases, server: RepoServer, data_dir: Path) -> None:
    server.serve(releases.repo)
    newer = InstallRoot(tmp_path / "newer")
    release.install(releases.repo, releases.bundle_n1, VERSION_N1, newer.root, server.url,
                    copy_function=os.link)
    server.serve(releases.repo_n)  # signed, but N is older than the installed N+1
    done = run_update(newer.root, "apply")
    assert done.returncode == 0 and "up to date" in done.stdout
    assert read_state(newer) == State(VERSION_N1)


def test_an_expired_timestamp_is_refused(install: InstallRoot, data_dir: Path,
                                         releases: Releases, server: RepoServer) -> None:
    repo = releases.variant("expired")
    release.resign_timestamp(releases.keys, repo, days=-1)
    server.serve(repo)
    _refused(install, data_dir, "signed metadata has expired")


def test_metadata_signed_with_the_wrong_key_is_refused(
        install: InstallRoot, data_dir: Path, releases: Releases, server: RepoServer,
        tmp_path: Path) -> None:
    repo = releases.variant("wrong-key")
    wrong = tmp_path / "wrong-keys"
    release.make_keys(wrong)
    shutil.copyfile(releases.keys / "root.pem", wrong / "root.pem")
    release.resign_timestamp(wrong, repo, days=1)  # a stolen server signs with its own key
    server.serve(repo)
    _refused(install, data_dir, "not signed by the keys this tablet trusts (wrong key")


def test_a_new_version_that_fails_its_self_test_is_not_switched_to(
        install: InstallRoot, data_dir: Path, releases: Releases, server: RepoServer,
        tmp_path: Path) -> None:
    broken = tmp_path / "broken-bundle"
    shutil.copytree(releases.bundle_n1, broken, symlinks=True, copy_function=os.link)
    library = broken / "_internal" / "base_library.zip"
    library.unlink()
    library.write_bytes(b"not a zip")
    repo = releases.variant("broken")
    release.publish(releases.keys, repo, broken, "1.0.2", release.EXPIRY_DAYS)
    server.serve(repo)
    _refused(install, data_dir, "version 1.0.2 failed its self-test")


def test_a_new_version_that_fails_to_start_twice_is_rolled_back(
        install: InstallRoot, data_dir: Path) -> None:
    applied = run_update(install.root, "apply")
    assert applied.returncode == 0, applied.stderr
    # It passed its self-test, but on this tablet its start fails (here: a damaged file,
    # as a disk error or an antivirus quarantine leaves it).
    library = install.version_dir(VERSION_N1) / "_internal" / "base_library.zip"
    library.write_bytes(b"damaged")
    for _ in range(2):
        assert launch(install.root, "--startup-check", data_dir=data_dir).returncode != 0
    assert read_state(install) == State(VERSION_N1, VERSION_N, pending=True, attempts=2)
    third = launch(install.root, "--startup-check", data_dir=data_dir)
    assert third.returncode == 0, third.stderr
    assert read_state(install) == State(VERSION_N, None, rolled_back=(VERSION_N1,))
    assert started_release(install.root, data_dir) == VERSION_N
    again = run_update(install.root, "apply")  # the refused release is not tried again
    assert again.returncode == 0 and "failed to start here before" in again.stdout
    assert [p.name for p in install.versions.iterdir()] == [VERSION_N]
    write_state(install, State(VERSION_N))  # (tidy: the module's install is per test)
    assert json.loads(install.state_file.read_text())["current"] == VERSION_N


def test_the_built_launcher_starts_the_version_the_pointer_names(
        install: InstallRoot, data_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped launcher itself (tools/build_launcher.py: one stripped file), not its
    source: found beside the versions, it starts N, then N+1 once switched to."""
    from tools import build_launcher

    monkeypatch.setenv("PYINSTALLER_CONFIG_DIR", str(tmp_path / "pyinstaller"))
    built = build_launcher.build(tmp_path / "launcher-dist", tmp_path / "launcher-work")
    launcher = install.root / built.name
    shutil.copy2(built, launcher)
    env = {k: v for k, v in os.environ.items()
           if k not in ("KYCDESK_INSTALL_ROOT", "KYCDESK_RELEASE")}
    env["QT_QPA_PLATFORM"] = "offscreen"

    def start(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(launcher), *args, "--data-dir", str(data_dir)],
                              capture_output=True, text=True, timeout=120, env=env,
                              check=False)

    assert "release: 1.0.0" in start("--version").stdout
    assert run_update(install.root, "apply").returncode == 0
    assert "release: 1.0.1" in start("--version").stdout
    started = start("--startup-check")
    assert started.returncode == 0, started.stderr
    assert read_state(install) == State(VERSION_N1, VERSION_N, pending=False)
