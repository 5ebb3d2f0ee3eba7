"""The updater's downloads follow the field transport's rules (kycdesk/sync/transport.py):
a link that goes silent is dropped after the stall timeout, a run ends at its deadline,
and what arrived is kept and resumed with a Range request. Real repository, real loopback
server that stops sending midway; tiny stand-in bundles (the real ones: test_update_e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.update.client import Updater, UpdateUnavailableError
from kycdesk.update.fetch import UpdateLink
from kycdesk.update.pointer import InstallRoot, State, read_state, write_state
from tests.update_support import RepoServer, repo_server, tiny_bundle
from tools import release

BLOB = 400_000


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[InstallRoot, RepoServer]]:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    release.make_keys(keys)
    release.init_repo(keys, repo, release.EXPIRY_DAYS)
    n = tiny_bundle(tmp_path / "n", "version N", BLOB)
    release.publish(keys, repo, n, "3.0.0", release.EXPIRY_DAYS)
    with repo_server(repo) as server:
        release.install(repo, n, "3.0.0", tmp_path / "install", server.url)
        release.publish(keys, repo, tiny_bundle(tmp_path / "n1", "version N+1", BLOB),
                        "3.1.0", release.EXPIRY_DAYS)
        yield InstallRoot(tmp_path / "install"), server


def _apply(install: InstallRoot, link: UpdateLink) -> str | None:
    try:
        return Updater(install, link=link).apply()
    finally:
        link.close()


@pytest.mark.parametrize("cut", ["stall", "deadline"])
def test_a_silent_link_is_dropped_and_the_download_resumed(
        served: tuple[InstallRoot, RepoServer], cut: str) -> None:
    install, server = served
    server.stall_after = 100_000
    link = (UpdateLink(stall_s=1.0) if cut == "stall"
            else UpdateLink(stall_s=30.0, deadline_s=2.0))
    # The server stays silent until the test ends: only the stall timeout or the deadline
    # can end this run (without them it would hang until pytest's timeout).
    with pytest.raises(UpdateUnavailableError, match="try again later"):
        _apply(install, link)
    parts = list(install.blobs.glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == 100_000  # kept
    assert read_state(install) == State("3.0.0")
    server.stall_after = None
    server.ranges.clear()
    assert _apply(install, UpdateLink()) == "3.1.0"
    assert server.ranges == ["bytes=100000-"]
    assert read_state(install) == State("3.1.0", "3.0.0", pending=True)


def test_no_newer_version_is_installed_before_the_last_one_finished_a_start(
        served: tuple[InstallRoot, RepoServer]) -> None:
    """Its rollback target must stay the last version that worked."""
    install, _server = served
    pending = State("3.0.0", "2.9.0", pending=True, attempts=1)
    write_state(install, pending)
    lines: list[str] = []
    link = UpdateLink()
    try:
        assert Updater(install, link=link, progress=lines.append).apply() is None
    finally:
        link.close()
    assert any("has not finished a start yet" in line for line in lines)
    assert read_state(install) == pending


def test_the_command_says_what_is_missing(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k != "KYCDESK_INSTALL_ROOT"}
    env.update(PYTHONPATH=str(root), KYCDESK_DATA_DIR=str(tmp_path / "data"))

    def update(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kycdesk", "update", "check", *args],
                              capture_output=True, text=True, timeout=60, env=env,
                              check=False)

    alone = update()
    assert alone.returncode == 1 and "give --install-root" in alone.stderr
    bare = update("--install-root", str(tmp_path / "nothing"))
    assert bare.returncode == 1 and "No update server is configured" in bare.stderr
    given = update("--install-root", str(tmp_path / "nothing"), "--server",
                   "http://127.0.0.1:9/")
    assert given.returncode == 1 and "reinstall kycdesk" in given.stderr
    assert "Traceback" not in bare.stderr + given.stderr
