"""The install root's layout and its pointer file (docs/updates.md, "Installed layout").

Standard library only: the launcher imports this, and the launcher must never depend on a
version it may have to roll back from.

The pointer (`update/state.json`) says which version the launcher starts. It is only ever
replaced whole (temporary name, fsync, rename, fsync of the folder), so a crash at any
instant leaves the old pointer or the new one, never a mix.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from kycdesk.durable_io import fsync_dir, replace_with_retry

# Starts of a pending version that may fail before the launcher goes back to the previous.
FAILED_STARTS_BEFORE_ROLLBACK = 2
RELEASE_STAMP = "kycdesk-release.json"
INSTALL_ROOT_ENV = "KYCDESK_INSTALL_ROOT"
RELEASE_ENV = "KYCDESK_RELEASE"


# A version becomes a folder name (`versions/<v>/`, which the updater deletes and
# replaces): numbers only, so no name can climb out of `versions/` on any OS, and versions
# order without ties (no pre-release tags: "1.2.rc1" against "1.2.0" has no safe order).
_VERSION = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9}){0,3}")


def valid_version(version: object) -> bool:
    """A release version kycdesk accepts anywhere: `1`, `1.4`, `1.4.0` or `1.4.0.2`."""
    return isinstance(version, str) and _VERSION.fullmatch(version) is not None


def executable_name() -> str:
    return "kycdesk.exe" if sys.platform == "win32" else "kycdesk"


def _checked(version: str) -> str:
    if not valid_version(version):  # never a path of ours built from a name like "9/../.."
        raise ValueError(f"not a kycdesk version: {version!r}")
    return version


@dataclass(frozen=True)
class InstallRoot:
    """`<install>/`: the launcher, `versions/<v>/` bundles and `update/` state."""

    root: Path

    @property
    def versions(self) -> Path:
        return self.root / "versions"

    @property
    def update_dir(self) -> Path:
        return self.root / "update"

    @property
    def state_file(self) -> Path:
        return self.update_dir / "state.json"

    @property
    def config_file(self) -> Path:
        return self.update_dir / "config.json"

    @property
    def metadata_dir(self) -> Path:
        return self.update_dir / "metadata"

    @property
    def blobs(self) -> Path:
        return self.update_dir / "blobs"

    @property
    def manifests(self) -> Path:
        return self.update_dir / "manifests"

    def version_dir(self, version: str) -> Path:
        return self.versions / _checked(version)

    def staging_dir(self, version: str) -> Path:
        return self.versions / f".staging-{_checked(version)}"

    def executable(self, version: str) -> Path:
        return self.version_dir(version) / executable_name()


@dataclass(frozen=True)
class State:
    current: str
    previous: str | None = None
    pending: bool = False   # `current` has not yet finished a start
    attempts: int = 0       # starts of the pending version so far
    rolled_back: tuple[str, ...] = field(default=())  # versions never to install again

    def to_json(self) -> dict[str, object]:
        return {"current": self.current, "previous": self.previous, "pending": self.pending,
                "attempts": self.attempts, "rolled_back": list(self.rolled_back)}

    @classmethod
    def from_json(cls, data: object) -> State:
        if not isinstance(data, dict) or not valid_version(data.get("current")):
            raise ValueError("the pointer names no valid current version")
        previous = data.get("previous")
        rolled = data.get("rolled_back") or []
        return cls(current=data["current"],
                   previous=previous if valid_version(previous) else None,
                   pending=bool(data.get("pending", False)),
                   attempts=int(data.get("attempts", 0)),
                   rolled_back=tuple(str(v) for v in rolled if valid_version(v)))


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` whole: a temporary name of its own in the same folder (two writers —
    the app's start marked good from two places — never share one), fsync, rename, fsync."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        replace_with_retry(temp, path)  # Windows: retried while busy
    except OSError:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)



def read_state(install: InstallRoot) -> State | None:
    try:
        return State.from_json(json.loads(install.state_file.read_bytes()))
    except (OSError, ValueError):
        return None


def write_state(install: InstallRoot, state: State) -> None:
    write_atomic(install.state_file, json.dumps(state.to_json(), indent=1).encode())


def complete_versions(install: InstallRoot) -> list[str]:
    """Versions whose folder holds an executable (staging folders are never listed)."""
    if not install.versions.is_dir():
        return []
    return sorted((p.name for p in install.versions.iterdir()
                   if valid_version(p.name) and (p / executable_name()).is_file()),
                  key=version_key)


def version_key(version: str) -> tuple[int | str, ...]:
    """"1.10.0" sorts after "1.9.2"; a non-numeric part compares as text after numbers."""
    parts: list[int | str] = []
    for part in version.split("."):
        parts.append(int(part) if part.isdigit() else part)
    return tuple(parts)


def is_newer(candidate: str, installed: str) -> bool:
    a, b = version_key(candidate), version_key(installed)
    try:
        return a > b
    except TypeError:  # "1.2.rc1" against "1.2.0": compare as text
        return candidate > installed


def choose_start(install: InstallRoot, *, count: bool = True) -> tuple[str, State] | None:
    """The version the launcher starts now, and the pointer to write before starting it
    (a pending version's start counted, or the rollback after two failed starts).
    `count` False: a command, not a start of the app — the pointer stays as it is."""
    state = read_state(install)
    if state is None or not install.executable(state.current).is_file():
        found = complete_versions(install)
        if state is not None and state.previous in found:
            fallback = State(current=state.previous, rolled_back=state.rolled_back)
            return fallback.current, fallback
        if not found:
            return None
        newest = State(current=found[-1])
        return newest.current, newest
    if not state.pending or not count:
        return state.current, state
    if state.attempts >= FAILED_STARTS_BEFORE_ROLLBACK and state.previous is not None \
            and install.executable(state.previous).is_file():
        back = State(current=state.previous, previous=None, pending=False, attempts=0,
                     rolled_back=(*state.rolled_back, state.current))
        return back.current, back
    counted = replace(state, attempts=state.attempts + 1)
    return counted.current, counted


def mark_good(install: InstallRoot, version: str) -> bool:
    """The running `version` finished its startup: it is no longer on trial. True if the
    pointer changed."""
    state = read_state(install)
    if state is None or state.current != version or not state.pending:
        return False
    write_state(install, replace(state, pending=False, attempts=0))
    return True


def running_install() -> tuple[InstallRoot, str] | None:
    """The install root and release of this process, when the launcher started it."""
    root, release = os.environ.get(INSTALL_ROOT_ENV), os.environ.get(RELEASE_ENV)
    if not root or not release:
        return None
    return InstallRoot(Path(root)), release
