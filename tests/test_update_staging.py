"""Staging a new version on a tablet that is not in perfect shape: a damaged file in the
running version, too little free space, a second update run at the same time. Real
repository, real loopback server, tiny stand-in bundles (the real ones: test_update_e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.update.client import (
    Offer,
    Updater,
    UpdateRefusedError,
    UpdateUnavailableError,
    _only_run,
)
from kycdesk.update.fetch import UpdateLink
from kycdesk.update.manifest import FileEntry, Manifest
from kycdesk.update.pointer import InstallRoot, State, read_state
from tests.update_support import RepoServer, served_pair, tiny_bundle
from tools import release

SAME = "_internal/same.bin"  # a file both versions share: copied, never downloaded
SAME_BYTES = b"unchanged between the releases\n" * 2000


def _bundle(folder: Path, says: str) -> Path:
    tiny_bundle(folder, says)
    (folder / SAME).write_bytes(SAME_BYTES)
    return folder


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[InstallRoot, RepoServer]]:
    with served_pair(tmp_path, _bundle, "3.0.0", "3.1.0") as (install, server, _keys):
        yield install, server


def _updater(install: InstallRoot) -> Updater:
    return Updater(install, link=UpdateLink())


def test_a_damaged_file_in_the_running_version_is_fetched_signed_instead(
        served: tuple[InstallRoot, RepoServer]) -> None:
    install, server = served
    damaged = install.version_dir("3.0.0") / SAME
    damaged.write_bytes(b"bit rot" + SAME_BYTES[7:])
    server.ranges.clear()
    updater = _updater(install)
    try:
        assert updater.apply() == "3.1.0"
    finally:
        updater.link.close()
    assert (install.version_dir("3.1.0") / SAME).read_bytes() == SAME_BYTES
    assert read_state(install) == State("3.1.0", "3.0.0", pending=True)
    assert list(install.blobs.iterdir()) == []  # all copied into versions/3.1.0


def test_too_little_free_space_stages_nothing(
        served: tuple[InstallRoot, RepoServer]) -> None:
    install, _server = served
    updater = _updater(install)
    updater.space_margin = 1 << 62  # more than any disk has
    try:
        with pytest.raises(UpdateUnavailableError, match="Not enough free space") as caught:
            updater.apply()
    finally:
        updater.link.close()
    assert "Errno" not in caught.value.summary
    assert sorted(p.name for p in install.versions.iterdir()) == ["3.0.0"]
    assert read_state(install) == State("3.0.0")


def test_a_second_update_run_waits_its_turn(
        served: tuple[InstallRoot, RepoServer]) -> None:
    """Another run (a second UpdateWatch, a scheduled `kycdesk update apply`) would sweep
    this one's downloads and staging folder: it is told another update is running."""
    install, _server = served
    partial = install.blobs / f"{'0' * 64}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"the first run's download")
    updater = _updater(install)
    try:
        with _only_run(install.update_dir / "apply.lock"):  # the first run, in progress
            with pytest.raises(UpdateUnavailableError, match="Another update is running"):
                updater.apply()
            assert partial.exists()  # the first run's work is untouched
        assert updater.apply() == "3.1.0"  # once it is done, the next run goes ahead
    finally:
        updater.link.close()


def test_staging_never_writes_outside_its_folder(
        served: tuple[InstallRoot, RepoServer]) -> None:
    """The last guard behind the manifest's own checks: a file list that reaches the
    running version through a chain of links (as if signed by mistake) is refused at
    staging, and the running version is untouched."""
    install, _server = served
    running = install.executable("3.0.0")
    before = running.read_bytes()
    exe = Manifest.from_bytes(
        (install.manifests / "3.0.0.json").read_bytes()).files["kycdesk"]
    chained = Manifest("3.1.0", {
        "x/y/b": FileEntry("", 0, False, "../.."),
        "q": FileEntry("", 0, False, "x/y/b/.."),
        "q/3.0.0/kycdesk": exe,
    })
    updater = _updater(install)
    try:
        with pytest.raises(UpdateRefusedError, match="outside its folder"):
            updater._stage_or_clean_up(State("3.0.0"), Offer("3.1.0", chained, {}))
    finally:
        updater.link.close()
    assert running.read_bytes() == before
    assert not install.staging_dir("3.1.0").exists()


def test_a_release_with_a_version_kycdesk_refuses_is_never_published(tmp_path: Path) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    release.make_keys(keys)
    release.init_repo(keys, repo, release.EXPIRY_DAYS)
    bundle = _bundle(tmp_path / "n", "version N")
    for version in ("9/../..", "1.2.rc1"):
        with pytest.raises(SystemExit, match="numbers only"):
            release.publish(keys, repo, bundle, version, release.EXPIRY_DAYS)
    assert not list((repo / "targets").glob("**/*.json"))
