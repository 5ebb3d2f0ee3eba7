"""Every filesystem location the app uses is decided here and nowhere else.

The data dir holds personal data (ID photos, addresses), so every folder we create is
owner-only (0o700). A `--data-dir` flag or the KYCDESK_DATA_DIR environment variable
overrides the platformdirs default; when overridden, logs live inside it too so tests,
kiosks and demos never touch the real user profile.

Photos on their way in (camera captures, the photos of an archive being imported) wait
in the data dir's `captures/` folder, never in the system temp folder: they are ID
documents. The folder only ever holds files in flight, so startup recovery empties it.
Scratch space for data that is not personal (the self-test, demo pictures) is the one
use of the system temp folder, through `system_scratch_dir`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from kycdesk import APP_NAME

DATA_DIR_ENV = "KYCDESK_DATA_DIR"
DB_FILENAME = "kycdesk.sqlite3"
LIST_SNAPSHOT_FILENAME = "list-index.kyce"
LOCK_FILENAME = "kycdesk.lock"
CASES_DIRNAME = "cases"
LOST_AND_FOUND_DIRNAME = "lost+found"
CAPTURES_DIRNAME = "captures"
DOWNLOADS_DIRNAME = "downloads"
TABLET_FILENAME = "tablet.json"
REGISTRY_FILENAME = "verifiers.json"
REGISTRY_LOCK_FILENAME = "verifiers.lock"
VERIFIERS_DIRNAME = "verifiers"
WIPE_MARKER_FILENAME = "wipe-in-progress.json"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True)
class DataPaths:
    """Resolved locations for one data dir."""

    root: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.root / DB_FILENAME

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILENAME

    @property
    def cases_dir(self) -> Path:
        return self.root / CASES_DIRNAME

    @property
    def lost_and_found(self) -> Path:
        return self.root / LOST_AND_FOUND_DIRNAME

    @property
    def captures_dir(self) -> Path:
        """Photos in flight into the store (see the module docstring)."""
        return self.root / CAPTURES_DIRNAME

    @property
    def downloads_dir(self) -> Path:
        """Photos being fetched from the server (a handover), under a temporary name until
        their SHA-256 is checked. Kept across restarts: a download resumes from its
        partial file's length. Only files in flight live here."""
        return self.root / DOWNLOADS_DIRNAME

    def partial_download(self, case_id: str, client_image_id: str) -> Path:
        """Where a photo's bytes gather while they arrive (ids already validated)."""
        return self.downloads_dir / f"{case_id}.{client_image_id}.part"

    def case_dir(self, case_id: str) -> Path:
        """Folder of one case. `case_id` must already be validated (see persistence.ids)."""
        return self.cases_dir / case_id

    def pulled_photo(self, case_id: str, client_image_id: str, extension: str) -> Path:
        """Where a photo received by a pull (handover, office) lives once verified:
        its own name in the case's folder, never one of the `img_<n>` numbers."""
        return self.case_dir(case_id) / f"pulled_{client_image_id}.{extension}"

    @property
    def list_snapshot(self) -> Path:
        """The case list's index, encrypted (persistence/list_snapshot.py)."""
        return self.root / LIST_SNAPSHOT_FILENAME

    def list_snapshot_temp(self, tag: str) -> Path:
        """Where a snapshot is written before its rename (`tag`: the writing process)."""
        return self.root / f"{LIST_SNAPSHOT_FILENAME}.{tag}.tmp"

    def relative(self, path: Path) -> str:
        """Path stored in the database: relative to the data dir, POSIX separators,
        so the install (or the whole data dir) can move between machines."""
        return path.relative_to(self.root).as_posix()

    def absolute(self, stored: str) -> Path:
        return self.root / Path(stored)


def resolve(data_dir: str | os.PathLike[str] | None = None) -> DataPaths:
    """Pick the data dir: explicit argument, then environment, then platformdirs."""
    explicit = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if explicit is not None:
        root = Path(explicit).expanduser().resolve()
        return DataPaths(root=root, log_dir=root / "logs")
    root = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    log_dir = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    return DataPaths(root=root, log_dir=log_dir)


@dataclass(frozen=True)
class TabletPaths:
    """A tablet's data root: the verifiers' registry and one whole store per verifier
    (`kycdesk.verifiers`; docs/security.md, *Verifiers*). Each verifier's store is an
    ordinary `DataPaths` in its own folder, so one verifier's session opens nothing of
    another's; the logs stay shared (they hold no applicant data)."""

    root: Path
    log_dir: Path

    @property
    def tablet_file(self) -> Path:
        """The tablet's random id (clear): groups its verifiers' devices on the server."""
        return self.root / TABLET_FILENAME

    @property
    def registry_file(self) -> Path:
        """The verifiers: names, key rings, wrong-PIN counters (no secret in clear)."""
        return self.root / REGISTRY_FILENAME

    @property
    def verifiers_dir(self) -> Path:
        return self.root / VERIFIERS_DIRNAME

    @property
    def wipe_marker(self) -> Path:
        """Present while a wipe is under way: the next start finishes it."""
        return self.root / WIPE_MARKER_FILENAME

    @property
    def registry_lock(self) -> Path:
        """Serialises changes to the registry between processes (app, CLI)."""
        return self.root / REGISTRY_LOCK_FILENAME

    def store(self, verifier_id: str) -> DataPaths:
        """A verifier's own store. `verifier_id` is one the registry made (hex)."""
        if not verifier_id or not all(c in "0123456789abcdef" for c in verifier_id):
            raise ValueError("not a verifier id")
        return DataPaths(root=self.verifiers_dir / verifier_id, log_dir=self.log_dir)

    def legacy_store(self) -> DataPaths:
        """The clear store written before verifiers existed (issue 18's migration)."""
        return DataPaths(root=self.root, log_dir=self.log_dir)


def resolve_tablet(data_dir: str | os.PathLike[str] | None = None) -> TabletPaths:
    """The tablet's data root, by the same rules as `resolve`."""
    legacy = resolve(data_dir)
    return TabletPaths(root=legacy.root, log_dir=legacy.log_dir)


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and parents) owner-only; an existing folder is left as it is."""
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


@contextmanager
def private_scratch_dir(paths: DataPaths, prefix: str) -> Iterator[Path]:
    """A temporary owner-only folder inside `captures/` for personal data in flight
    (an archive's photos); removed on exit, and by startup recovery after a crash."""
    ensure_private_dir(paths.captures_dir)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=paths.captures_dir) as folder:
        yield Path(folder)


@contextmanager
def system_scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder in the system temp folder, only for data that is not personal
    (generated demo pictures, the self-test's throwaway store)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield Path(folder)
