"""The update client: refresh the signed metadata, download what changed, verify, stage,
self-test, switch (docs/updates.md, "Client"). No Qt: it runs in the CLI and as a
background task of the app.

Each phase leaves the install startable at any instant: nothing under `versions/<current>`
or `versions/<previous>` is touched, the new version appears whole (a staging folder
renamed), and the pointer is replaced whole. A killed run is simply run again: the blobs
already downloaded are kept (`.part` files resume), the staging folder is rebuilt."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater as TufUpdater

from kycdesk.durable_io import fsync_dir
from kycdesk.update.fetch import UpdateLink, download_resumable
from kycdesk.update.manifest import (
    CHUNK,
    LATEST,
    Manifest,
    blob_target,
    manifest_target,
    scan_bundle,
)
from kycdesk.update.pointer import (
    INSTALL_ROOT_ENV,
    RELEASE_ENV,
    InstallRoot,
    State,
    is_newer,
    read_state,
    valid_version,
    write_atomic,
    write_state,
)

SELF_TEST_S = 180.0
# A test seam (tests/test_update_e2e.py): the run stops at this phase and waits to be
# killed, so every phase can be interrupted deterministically.
HOLD_ENV = "KYCDESK_UPDATE_HOLD_AT"
# Free space kept beyond the new version's files when staging (the database and photos
# live on the same disk on most tablets: an update must never fill it).
SPACE_MARGIN_BYTES = 200 * 1024 * 1024


class UpdateProblemError(Exception):
    """`summary` in the user's words (the status bar); `detail` for IT (the CLI, the log)."""

    def __init__(self, summary: str, detail: str = "") -> None:
        super().__init__(f"{summary}\nDetails: {detail}" if detail else summary)
        self.summary = summary
        self.detail = detail


class UpdateRefusedError(UpdateProblemError):
    """The update was refused for a reason the user or IT must hear; nothing changed."""


class UpdateUnavailableError(UpdateProblemError):
    """The update server could not be reached or the link failed: try again later."""


@dataclass(frozen=True)
class Offer:
    version: str
    manifest: Manifest
    blobs: dict[str, TargetFile]  # sha256 → signed target, the files to download

    @property
    def download_bytes(self) -> int:
        return sum(info.length for info in self.blobs.values())


def _refusal(exc: Exception) -> UpdateProblemError:
    """python-tuf's errors, in words an IT department acts on."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return UpdateRefusedError(
            "Update refused: the update server's signed metadata has expired. The release "
            "team must re-sign it (daily: tools/release.py snapshot; tools/release.py targets "
            "before the targets expire); nothing was changed on this tablet.", detail)
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return UpdateRefusedError(
            "Update refused: the update server offers older metadata than this tablet "
            "already trusts (a rollback). Nothing was changed.", detail)
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return UpdateRefusedError(
            "Update refused: the update server's metadata is not signed by the keys this "
            "tablet trusts (wrong key). Nothing was changed.", detail)
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError
                  | tuf_errors.DownloadLengthMismatchError):
        return UpdateRefusedError(
            "Update refused: a downloaded file does not match its signature (tampered or "
            "damaged). It was deleted; nothing was changed.", detail)
    if isinstance(exc, tuf_errors.DownloadError):
        return UpdateUnavailableError(
            "The update server could not be reached or the download stopped; kycdesk will "
            "try again later (what was downloaded is kept).", detail)
    return UpdateRefusedError("Update refused: the update server's metadata is invalid. "
                              "Nothing was changed.", detail)


class Updater:
    def __init__(self, install: InstallRoot, *, link: UpdateLink,
                 repository: str | None = None, self_test_s: float = SELF_TEST_S,
                 progress: Callable[[str], None] | None = None) -> None:
        self.install = install
        self.link = link  # the caller's, closed by the caller
        self.repository = (repository or self._configured_repository()).rstrip("/") + "/"
        self.self_test_s = self_test_s
        self.progress = progress or (lambda line: None)
        self.downloaded_bytes = 0
        self.space_margin = SPACE_MARGIN_BYTES
        self._tuf: TufUpdater | None = None

    def _configured_repository(self) -> str:
        try:
            url = json.loads(self.install.config_file.read_bytes())["repository"]
        except (OSError, ValueError, KeyError) as exc:
            raise UpdateRefusedError(
                "No update server is configured for this installation.",
                f"{self.install.config_file} missing or unreadable: {exc}") from None
        return str(url)

    def _phase(self, name: str) -> None:
        self.progress(f"update: {name}")
        if os.environ.get(HOLD_ENV) == name:
            print(f"holding at {name}", flush=True)
            while True:  # the test SIGKILLs this process here
                time.sleep(60)

    def _test_hold(self, point: str) -> None:
        """A point inside a phase where the tests kill the run (silent otherwise)."""
        if os.environ.get(HOLD_ENV) == point:
            self._phase(point)

    def _state(self) -> State:
        state = read_state(self.install)
        if state is None:
            raise UpdateRefusedError(
                "This installation has no version pointer: reinstall kycdesk.",
                str(self.install.state_file))
        return state

    # -- check ------------------------------------------------------------------------
    def check(self) -> Offer | None:
        """The newer signed release to install, or None when up to date."""
        state = self._state()
        self._phase("refresh")
        try:
            return self._check(state)
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            raise _refusal(exc) from exc
        except (ValueError, KeyError, TypeError) as exc:  # signed, yet not a release's JSON
            raise UpdateRefusedError("Update refused: the release's signed file list is "
                                     "malformed. Nothing was changed.", str(exc)) from exc

    def _tuf_updater(self) -> TufUpdater:
        from kycdesk.update.fetch import TufFetcher

        targets = self.install.update_dir / "targets"
        targets.mkdir(parents=True, exist_ok=True)
        return TufUpdater(metadata_dir=str(self.install.metadata_dir),
                          metadata_base_url=self.repository + "metadata/",
                          target_dir=str(targets),
                          target_base_url=self.repository + "targets/",
                          fetcher=TufFetcher(self.link), bootstrap=None)

    def _signed_json(self, tuf: TufUpdater, target: str) -> bytes | None:
        info = tuf.get_targetinfo(target)
        if info is None:
            return None
        return Path(tuf.download_target(info)).read_bytes()

    def _check(self, state: State) -> Offer | None:
        if state.pending:  # its rollback target must stay the last version that worked
            self.progress(f"update: {state.current} has not finished a start yet; no "
                          "newer version is installed before it has")
            return None
        tuf = self._tuf = self._tuf_updater()
        tuf.refresh()
        latest = self._signed_json(tuf, LATEST)
        if latest is None:
            return None
        version = json.loads(latest)["version"]
        if not valid_version(version):
            raise UpdateRefusedError("Update refused: the update server names a version "
                                     "kycdesk does not accept. Nothing was changed.",
                                     repr(version))
        if version in state.rolled_back:
            self.progress(f"update: {version} failed to start here before; not installed "
                          "again (a newer release will be)")
            return None
        if not is_newer(version, state.current):
            return None
        data = self._signed_json(tuf, manifest_target(version))
        if data is None:
            raise UpdateRefusedError(
                f"Update refused: release {version} has no signed file list.")
        manifest = Manifest.from_bytes(data)
        if manifest.version != version:
            raise UpdateRefusedError(
                f"Update refused: the file list of {version} names {manifest.version}.")
        have = self._current_manifest(state.current)
        present = {e.sha256 for e in have.files.values() if e.link is None}
        blobs: dict[str, TargetFile] = {}
        for entry in manifest.files.values():
            if entry.link is not None or entry.sha256 in present or entry.sha256 in blobs:
                continue
            info = tuf.get_targetinfo(blob_target(entry.sha256))
            if info is None or info.hashes.get("sha256") != entry.sha256 \
                    or info.length != entry.size:
                raise UpdateRefusedError(
                    f"Update refused: release {version} lists a file that is not signed.")
            blobs[entry.sha256] = info
        return Offer(version, manifest, blobs)

    def _current_manifest(self, version: str) -> Manifest:
        """The running version's file list (hashed once from its folder if not kept)."""
        path = self.install.manifests / f"{version}.json"
        try:
            return Manifest.from_bytes(path.read_bytes())
        except (OSError, ValueError, KeyError):
            manifest = scan_bundle(self.install.version_dir(version), version)
            write_atomic(path, manifest.to_bytes())
            return manifest

    # -- apply ------------------------------------------------------------------------
    def apply(self) -> str | None:
        """Install the newer release if there is one; the version switched to, or None.
        The new version runs from the launcher's next start."""
        with _only_run(self.install.update_dir / "apply.lock"):
            return self._apply()

    def _apply(self) -> str | None:
        state = self._state()
        self._sweep(state)
        offer = self.check()
        if offer is None:
            return None
        self._drop_blobs(set(offer.blobs))
        self._phase("download")
        self._fetch(offer.blobs)
        self._stage_or_clean_up(state, offer)
        self._self_test(offer.version)
        self._switch(state, offer.version)
        self._sweep(self._state())
        self._drop_blobs(set())  # all copied into versions/<new>
        return offer.version

    def _blob_url(self, info: TargetFile) -> str:
        folder, _, name = info.path.rpartition("/")  # consistent snapshot: <hash>.<name>
        return f"{self.repository}targets/{folder}/{info.hashes['sha256']}.{name}"

    def _fetch(self, blobs: dict[str, TargetFile]) -> None:
        """Download and verify `blobs` into `update/blobs/<sha256>`."""
        try:
            self._download(blobs)
            self._verify(blobs)
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as exc:
            raise _refusal(exc) from exc

    def _download(self, blobs: dict[str, TargetFile]) -> None:
        self.install.blobs.mkdir(parents=True, exist_ok=True)

        for sha, info in blobs.items():
            if (self.install.blobs / sha).exists():
                continue
            part = self.install.blobs / f"{sha}.part"

            def midway(have: int, total: int = info.length) -> None:
                if have < total:
                    self._test_hold("download-midway")

            try:
                self.downloaded_bytes += download_resumable(self.link, self._blob_url(info),
                                                            part, info.length, midway)
            except tuf_errors.DownloadLengthMismatchError:
                part.unlink(missing_ok=True)  # not the signed file: never resumed
                raise

    def _verify(self, blobs: dict[str, TargetFile]) -> None:
        self._phase("verify")
        for sha, info in blobs.items():
            final = self.install.blobs / sha
            if final.exists():
                continue
            part = self.install.blobs / f"{sha}.part"
            try:
                with part.open("rb") as f:
                    info.verify_length_and_hashes(f)
            except tuf_errors.LengthOrHashMismatchError:
                part.unlink()
                raise
            part.replace(final)
        fsync_dir(self.install.blobs)

    def _stage_or_clean_up(self, state: State, offer: Offer) -> None:
        """Stage, or leave no half-built folder behind (a full disk, a failing disk)."""
        staging = self.install.staging_dir(offer.version)
        self.install.versions.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.install.versions).free
        if free < offer.manifest.total_bytes + self.space_margin:
            raise UpdateUnavailableError(
                f"Not enough free space on this tablet for version {offer.version}; "
                "kycdesk will try again later. Nothing was changed.",
                f"{free} bytes free, {offer.manifest.total_bytes} + {self.space_margin} "
                "needed")
        try:
            self._stage(state, offer)
        except UpdateProblemError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise UpdateUnavailableError(
                f"Version {offer.version} could not be written on this tablet (the disk "
                "may be full); kycdesk will try again later. Nothing was changed.",
                str(exc)) from exc

    def _stage(self, state: State, offer: Offer) -> None:
        self._phase("stage")
        staging = self.install.staging_dir(offer.version)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        inside = staging.resolve()
        current_dir = self.install.version_dir(state.current)
        by_sha = {e.sha256: rel for rel, e in self._current_manifest(state.current).files.items()
                  if e.link is None}
        folders = {staging}
        copied = 0
        for rel, entry in offer.manifest.files.items():
            dest = staging / rel
            if dest.parent not in folders:
                dest.parent.mkdir(parents=True, exist_ok=True)
                folders.update((dest.parent, *dest.parent.parents))
            if not dest.parent.resolve().is_relative_to(inside):  # Manifest checks links;
                raise UpdateRefusedError(                          # this is the last guard
                    "Update refused: the release's files lead outside its folder.", rel)
            if entry.link is not None:
                dest.symlink_to(entry.link)
                continue
            if entry.sha256 in offer.blobs:
                self._copy_blob(entry.sha256, dest)
            elif not _copy_checked(current_dir / by_sha[entry.sha256], dest, entry.sha256):
                # The running version's copy is damaged: fetch that file signed instead.
                dest.unlink()
                self._fetch(self._signed_blob(entry.sha256, entry.size))
                self._copy_blob(entry.sha256, dest)
            if entry.executable:
                dest.chmod(dest.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            copied += 1
            if copied == len(offer.manifest.files) // 2:
                self._test_hold("stage-midway")
        for folder in sorted((f for f in folders if f.is_relative_to(staging)),
                             key=lambda p: len(p.parts), reverse=True):
            fsync_dir(folder)
        target = self.install.version_dir(offer.version)
        if target.exists():  # staged by a run killed before its switch: replace it
            shutil.rmtree(target)
        staging.replace(target)
        fsync_dir(self.install.versions)
        write_atomic(self.install.manifests / f"{offer.version}.json", offer.manifest.to_bytes())

    def _copy_blob(self, sha256: str, dest: Path) -> None:
        blob = self.install.blobs / sha256
        if not _copy_checked(blob, dest, sha256):
            blob.unlink()  # damaged since it was verified: downloaded again next run
            raise UpdateRefusedError("Update refused: a file changed on this tablet since "
                                     "it was verified; run the update again.", str(blob))

    def _signed_blob(self, sha256: str, size: int) -> dict[str, TargetFile]:
        info = None if self._tuf is None else self._tuf.get_targetinfo(blob_target(sha256))
        if info is None or info.hashes.get("sha256") != sha256 or info.length != size:
            raise UpdateRefusedError("Update refused: the release lists a file that is not "
                                     "signed.", sha256)
        return {sha256: info}

    def _self_test(self, version: str) -> None:
        self._phase("self-test")
        env = {k: v for k, v in os.environ.items()
               if k not in (INSTALL_ROOT_ENV, RELEASE_ENV, HOLD_ENV)}
        executable = self.install.executable(version)
        try:
            done = subprocess.run([str(executable), "--self-test"], env=env,
                                  capture_output=True, text=True, timeout=self.self_test_s,
                                  check=False)
            ok, output = done.returncode == 0, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            ok, output = False, f"no answer within {self.self_test_s:.0f} s"
        except OSError as exc:
            ok, output = False, str(exc)
        if not ok:
            shutil.rmtree(self.install.version_dir(version), ignore_errors=True)
            tail = "\n".join(output.strip().splitlines()[-5:])
            raise UpdateRefusedError(f"Update refused: version {version} failed its "
                                     "self-test on this tablet, so it was removed and the "
                                     "installed version stays.", tail)

    def _switch(self, state: State, version: str) -> None:
        self._phase("switch")
        write_state(self.install, State(current=version, previous=state.current, pending=True,
                                        attempts=0, rolled_back=state.rolled_back))
        self._phase("switched")

    def _sweep(self, state: State) -> None:
        """Leftovers of killed runs and versions no longer needed: only `current` and
        `previous` (the rollback target) are kept."""
        keep = {state.current, state.previous}
        if self.install.versions.is_dir():
            for folder in self.install.versions.iterdir():
                if folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)
        if self.install.manifests.is_dir():
            for path in self.install.manifests.glob("*.json"):
                if path.stem not in keep:
                    path.unlink(missing_ok=True)
        # A pointer write killed before its rename leaves its temporary file behind.
        for temp in self.install.update_dir.glob(f".{self.install.state_file.name}.*.tmp"):
            temp.unlink(missing_ok=True)

    def _drop_blobs(self, wanted: set[str]) -> None:
        """Blobs (and partial downloads) of any other release than the one wanted."""
        if self.install.blobs.is_dir():
            for blob in self.install.blobs.iterdir():
                if blob.name.removesuffix(".part") not in wanted:
                    blob.unlink(missing_ok=True)


# A new file only, never through a link planted where it should go.
_CREATE = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
           | getattr(os, "O_BINARY", 0))


def _copy_checked(source: Path, dest: Path, sha256: str) -> bool:
    """Copy, hashing on the way; False when `source` does not hold `sha256` (disk damage,
    tampering), so such a file never enters the new version unnoticed."""
    import hashlib

    digest = hashlib.sha256()
    with source.open("rb") as src, os.fdopen(os.open(dest, _CREATE, 0o644), "wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest() == sha256


@contextmanager
def _only_run(lock_file: Path) -> Iterator[None]:
    """One update run at a time per install (a second UpdateWatch, a scheduled `kycdesk
    update apply`): the other's sweep would delete this run's downloads and staging. An OS
    lock, which the kernel drops when its process dies, so a killed run never leaves it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UpdateUnavailableError(
                "Another update is running on this tablet; kycdesk will try again later.",
                str(lock_file)) from None
        try:
            yield
        finally:
            if sys.platform == "win32":
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
            # POSIX: closing the file releases the flock.
    finally:
        os.close(fd)


def describe(offer: Offer) -> str:
    return (f"version {offer.version}: {len(offer.blobs)} changed file(s), "
            f"{offer.download_bytes / 1e6:.1f} MB to download of "
            f"{offer.manifest.total_bytes / 1e6:.1f} MB")

