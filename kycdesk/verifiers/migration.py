"""The store from before sign-in (clear, at the data root) becomes the first signing-in
verifier's encrypted store (`<root>/verifiers/<id>/`), crash-safe and with progress.

Design (docs/security.md, *Migration of an unencrypted store*): every step is
idempotent and a phase marker (`<root>/legacy-migration.json`, replaced atomically and
fsynced) says which step comes next, so a SIGKILL anywhere loses nothing and the next
sign-in of the same verifier finishes the work, redoing at most one batch:

1. **copying** — the clear database is copied whole into the verifier's folder
   (`VACUUM INTO` a temporary name: a consistent copy that includes what is still in
   the WAL; fsync; rename). The clear original is left untouched until the end. The
   case folders (`cases/`, `lost+found/`, the intent journal, the device id) are moved
   with one rename each. Files only in flight (`captures/`, `downloads/`) are shredded:
   a capture the old app never took was never promised, a partial download restarts.
2. **sealing** — the copy is opened (the schema migrations run), then cases are sealed
   in batches in case-id order: each case's files are encrypted in place
   (`legacy_sealing`: ciphertext staged beside the clear file, the clear file
   overwritten with zeros, the staged file renamed over it; thumbnails, a cache, are
   shredded), then ONE transaction seals the batch's rows and NULLs their clear
   columns. The marker holds the last case id done (the cursor): a restart resumes
   after it. Folders no case names and `lost+found/` come last. Startup recovery of
   what the old app's crash left in flight is the store's own, at its first opening
   after the migration (its intent journal moved with the case folders; the files it
   repairs are encrypted by then, under the same names).
3. **compacting** — every clear value is now NULL in the copy, but its old pages may
   survive in the file's free pages and the WAL. `VACUUM INTO` writes a fresh file that
   holds only current content (with `secure_delete=ON`), it is fsynced, the marker says
   **compacted**, and the old file with its WAL and SHM is overwritten with zeros and
   removed before the fresh file takes its name. (An in-place `VACUUM` followed by
   `wal_checkpoint(TRUNCATE)` would leave the WAL's clear pages in freed blocks: the
   truncation does not overwrite them.)
4. **removing** — the clear original database (with WAL/SHM) at the root is
   overwritten with zeros and removed, then the marker.

Progress is reported as `MigrationProgress(phase, done, total)` in cases; the UI shows
`message`. What cannot be guaranteed (flash wear levelling, snapshots, backups) is in
docs/security.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from kycdesk.core.errors import StoreError
from kycdesk.paths import (
    CAPTURES_DIRNAME,
    CASES_DIRNAME,
    DOWNLOADS_DIRNAME,
    LOCK_FILENAME,
    LOST_AND_FOUND_DIRNAME,
    DataPaths,
    TabletPaths,
    ensure_private_dir,
)
from kycdesk.persistence import schema
from kycdesk.persistence.db import Connection
from kycdesk.persistence.device import DEVICE_ID_FILE
from kycdesk.persistence.files import fsync_dir, replace_durably
from kycdesk.persistence.full_check import STATE_FILENAME as FULL_CHECK_STATE
from kycdesk.persistence.intents import INTENTS_DIRNAME
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.store import open_connection
from kycdesk.security.vault import Vault
from kycdesk.verifiers import legacy_sealing
from kycdesk.verifiers.errors import VerifierError
from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session
from kycdesk.verifiers.shred import shred_database, shred_file, shred_tree

log = logging.getLogger(__name__)

MARKER_FILENAME = "legacy-migration.json"
MARKER_VERSION = 1
INCOMING_SUFFIX = ".incoming"   # the copy being written in phase 1
COMPACT_SUFFIX = ".compact"     # the fresh file being written in phase 3
DEFAULT_BATCH = 50
# Moved into the verifier's folder with one rename each (the store's own entries).
MOVED_ENTRIES = (CASES_DIRNAME, LOST_AND_FOUND_DIRNAME, INTENTS_DIRNAME, DEVICE_ID_FILE)
# Only files in flight live there: shredded, never moved.
IN_FLIGHT_ENTRIES = (CAPTURES_DIRNAME, DOWNLOADS_DIRNAME)


class Phase(StrEnum):
    COPYING = "copying"
    SEALING = "sealing"
    COMPACTING = "compacting"
    COMPACTED = "compacted"
    REMOVING = "removing"
    DONE = "done"


PHASE_WORDS = {
    Phase.COPYING: "Moving the cases from before sign-in into your folder",
    Phase.SEALING: "Protecting cases",
    Phase.COMPACTING: "Removing the unprotected copies",
    Phase.COMPACTED: "Removing the unprotected copies",
    Phase.REMOVING: "Removing the unprotected copies",
    Phase.DONE: "Done",
}


class MigrationRefusedError(StoreError):
    """The clear store cannot be moved into this verifier's folder (message says why)."""


@dataclass(frozen=True)
class MigrationProgress:
    phase: Phase
    done: int
    total: int

    @property
    def message(self) -> str:
        words = PHASE_WORDS[self.phase]
        if self.phase is Phase.SEALING:
            return f"{words}: {self.done:,} of {self.total:,} cases"
        return words


Progress = Callable[[MigrationProgress], None]


@dataclass
class MigrationReport:
    cases: int = 0
    sealed_cases: int = 0           # in this run (a resumed run does the rest)
    encrypted_files: int = 0
    shredded_files: int = 0
    resumed_from: Phase | None = None
    notes: list[str] = field(default_factory=list)


# --- the marker ----------------------------------------------------------------------

def marker_file(legacy: DataPaths) -> Path:
    return legacy.root / MARKER_FILENAME


def _read_marker(legacy: DataPaths) -> dict[str, Any] | None:
    try:
        data = json.loads(marker_file(legacy).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MigrationRefusedError(
            f"The record of the protection of older cases ({MARKER_FILENAME}) cannot be "
            f"read ({exc}). Nothing was changed; keep the tablet and call support.") from exc
    if not isinstance(data, dict) or data.get("version") != MARKER_VERSION:
        raise MigrationRefusedError(
            f"{MARKER_FILENAME} was written by another kycdesk version. Nothing was "
            "changed; install the newer version.")
    return data


def _write_marker(legacy: DataPaths, data: dict[str, Any]) -> None:
    """Temp name, fsync, rename, fsync the folder: the marker is either old or new."""
    payload = json.dumps({"version": MARKER_VERSION, **data}, sort_keys=True).encode()
    replace_durably(marker_file(legacy), payload)


def legacy_owner(legacy: DataPaths) -> str | None:
    """The verifier a migration in progress belongs to (None: none started)."""
    marker = _read_marker(legacy)
    return None if marker is None else str(marker["verifier_id"])


def has_legacy_store(legacy: DataPaths) -> bool:
    """A clear store from before sign-in is at the data root (or its migration is
    unfinished)."""
    return legacy.database.exists() or marker_file(legacy).exists()


def should_migrate_for(legacy: DataPaths, verifier_id: str) -> bool:
    """At sign-in: the clear store goes to the first verifier who signs in; once a
    migration has started, only to that verifier (their keys sealed half of it)."""
    if not has_legacy_store(legacy):
        return False
    owner = legacy_owner(legacy)
    return owner is None or owner == verifier_id


# --- the steps -----------------------------------------------------------------------

def _connect(database: Path, role: str) -> Connection:
    conn = Connection(database, role=role, writer=True)
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _vacuum_into(source: Path, target: Path) -> None:
    """A consistent, compact copy of `source` (WAL content included) at `target`,
    fsynced. A stale `target` of an earlier, killed attempt is shredded first."""
    shred_database(target)
    schema.check_header(source)
    conn = _connect(source, "migration-copy")
    try:
        conn.execute("VACUUM INTO ?", (str(target),))
    finally:
        conn.close()
    fd = os.open(target, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(target.parent)


def _count_cases(database: Path) -> int:
    conn = Connection(database, role="migration-count", writer=False)
    try:
        return int(conn.scalar("SELECT count(*) FROM cases") or 0)
    finally:
        conn.close()


def _claim(legacy: DataPaths, target: DataPaths, verifier_id: str) -> None:
    """Before the first step: the verifier's folder must hold no case of its own (the
    old store is moved, not merged); an empty store there is set aside."""
    if target.database.exists() and _count_cases(target.database) > 0:
        raise MigrationRefusedError(
            "This tablet holds cases from before sign-in, and your folder already has "
            "cases of its own. The older cases can only move into an empty folder: ask "
            "your supervisor to add a new verifier for them. Nothing was changed.")
    shred_database(target.database)
    _write_marker(legacy, {"verifier_id": verifier_id, "phase": Phase.COPYING.value,
                           "cursor": ""})


def _move_entry(source: Path, target: Path) -> None:
    """One rename; if the target exists (an empty folder the store created), move the
    children one by one. Idempotent."""
    if not source.exists() and not source.is_symlink():
        return
    if not target.exists():
        os.rename(source, target)
        fsync_dir(target.parent)
        fsync_dir(source.parent)
        return
    if source.is_dir() and target.is_dir():
        for child in sorted(source.iterdir()):
            _move_entry(child, target / child.name)
        source.rmdir()
        fsync_dir(source.parent)
        return
    raise MigrationRefusedError(
        f"Both {source} and {target} exist; nothing was overwritten. Call support.")


def _copy(legacy: DataPaths, target: DataPaths, report: MigrationReport) -> None:
    ensure_private_dir(target.root)
    incoming = target.database.with_name(target.database.name + INCOMING_SUFFIX)
    if legacy.database.exists() and not target.database.exists():
        _vacuum_into(legacy.database, incoming)
        os.rename(incoming, target.database)
        fsync_dir(target.root)
    for name in MOVED_ENTRIES:
        _move_entry(legacy.root / name, target.root / name)
    for name in IN_FLIGHT_ENTRIES:
        report.shredded_files += shred_tree(legacy.root / name)
    with contextlib.suppress(FileNotFoundError):
        (legacy.root / FULL_CHECK_STATE).unlink()  # a resume point of the old check


def _seal(legacy: DataPaths, target: DataPaths, vault: Vault, *, marker: dict[str, Any],
          report: MigrationReport, progress: Progress | None, batch_size: int) -> None:
    conn = open_connection(target, writer=True, role="migration", vault=vault)
    try:
        conn.execute("PRAGMA secure_delete=ON")
        total = int(conn.scalar("SELECT count(*) FROM cases") or 0)
        report.cases = total
        tables = legacy_sealing.sealable_tables(conn)
        cursor = str(marker.get("cursor", ""))
        done = int(conn.scalar("SELECT count(*) FROM cases WHERE id <= ?", (cursor,)) or 0)
        if progress is not None:
            progress(MigrationProgress(Phase.SEALING, done, total))
        while True:
            ids = [str(r[0]) for r in conn.query_all(
                "SELECT id FROM cases WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, batch_size))]
            if not ids:
                break
            for case_id in ids:  # files first: a row never names a file not yet there
                report.encrypted_files += legacy_sealing.encrypt_case_files(
                    target, vault, case_id)
            with conn.transaction():
                for case_id in ids:
                    legacy_sealing.seal_case_rows(conn, vault, case_id, tables)
            cursor = ids[-1]
            done += len(ids)
            report.sealed_cases += len(ids)
            marker = {**marker, "cursor": cursor}
            _write_marker(legacy, marker)
            if progress is not None:
                progress(MigrationProgress(Phase.SEALING, done, total))
        with conn.transaction():
            legacy_sealing.seal_device_rows(conn, vault, tables)
        cases = {str(r[0]) for r in conn.query_all("SELECT id FROM cases")}
        report.encrypted_files += legacy_sealing.encrypt_leftover_files(target, vault,
                                                                        done=cases)
    finally:
        conn.close()


def _compact(target: DataPaths) -> None:
    compact = target.database.with_name(target.database.name + COMPACT_SUFFIX)
    _vacuum_into(target.database, compact)


def _replace_with_compact(target: DataPaths, report: MigrationReport) -> None:
    compact = target.database.with_name(target.database.name + COMPACT_SUFFIX)
    if not compact.exists():
        return  # renamed by an earlier run
    report.shredded_files += shred_database(target.database)
    os.rename(compact, target.database)
    fsync_dir(target.root)


def _remove_legacy(legacy: DataPaths, report: MigrationReport) -> None:
    report.shredded_files += shred_database(legacy.database)
    for name in IN_FLIGHT_ENTRIES:
        report.shredded_files += shred_tree(legacy.root / name)


# --- the whole -----------------------------------------------------------------------

def migrate_legacy_store(legacy: DataPaths, target: DataPaths, vault: Vault, *,
                         progress: Progress | None = None,
                         batch_size: int = DEFAULT_BATCH) -> MigrationReport:
    """Move and encrypt the clear store at `legacy` into `target` under `vault`, or
    finish a migration a crash interrupted. Runs off the GUI thread (it reads and
    writes every case). Raises MigrationRefusedError when it must not start."""
    report = MigrationReport()
    if not has_legacy_store(legacy):
        return report
    ensure_private_dir(target.root)
    with DataDirLock(legacy.root / LOCK_FILENAME):
        found = _read_marker(legacy)
        if found is None:
            _claim(legacy, target, vault.verifier)
            found = _read_marker(legacy)
        else:
            report.resumed_from = Phase(found["phase"])
            log.info("legacy migration: resuming at %s", found["phase"])
        if found is None:
            raise MigrationRefusedError(f"{MARKER_FILENAME} could not be written.")
        marker: dict[str, Any] = found
        if marker["verifier_id"] != vault.verifier:
            raise MigrationRefusedError(
                "The cases from before sign-in are being moved into another "
                "verifier's folder; that verifier must sign in to finish it.")

        def advance(phase: Phase) -> None:
            nonlocal marker
            marker = {**marker, "phase": phase.value}
            _write_marker(legacy, marker)
            if progress is not None and phase is not Phase.SEALING:  # sealing counts itself
                progress(MigrationProgress(phase, report.cases, report.cases))

        phase = Phase(marker["phase"])
        if phase is Phase.COPYING:
            if progress is not None:
                progress(MigrationProgress(Phase.COPYING, 0, 0))
            _copy(legacy, target, report)
            advance(phase := Phase.SEALING)
        if phase is Phase.SEALING:
            _seal(legacy, target, vault, marker=marker, report=report, progress=progress,
                  batch_size=batch_size)
            advance(phase := Phase.COMPACTING)
        if phase is Phase.COMPACTING:
            _compact(target)
            advance(phase := Phase.COMPACTED)
        if phase is Phase.COMPACTED:
            _replace_with_compact(target, report)
            advance(phase := Phase.REMOVING)
        if phase is Phase.REMOVING:
            _remove_legacy(legacy, report)
            shred_file(marker_file(legacy))
            if progress is not None:
                progress(MigrationProgress(Phase.DONE, report.cases, report.cases))
    with contextlib.suppress(FileNotFoundError):
        (legacy.root / LOCK_FILENAME).unlink()
    log.info("legacy migration: done (%d case(s) sealed in this run, %d file(s) "
             "encrypted, %d clear file(s) overwritten and removed)",
             report.sealed_cases, report.encrypted_files, report.shredded_files)
    return report


def migrate_for_session(tablet: TabletPaths, session: Session, *,
                        progress: Progress | None = None) -> MigrationReport | None:
    """At sign-in, before the session's store is opened: move the clear store from
    before sign-in into this verifier's folder if it is theirs to take (see
    `should_migrate_for`), or finish their interrupted migration. None: nothing to do."""
    legacy = tablet.legacy_store()
    if not should_migrate_for(legacy, session.verifier_id):
        return None
    return migrate_legacy_store(legacy, session.paths, session.vault, progress=progress)


class LegacyMigrationError(VerifierError):
    """The sign-in screen's form of `MigrationRefusedError` (a refusal it shows, not a
    bug): the PIN was right, the older cases could not be taken over."""


class MigratingRegistry:
    """The registry as the app's sign-in screen uses it: a sign-in (or a first-use
    verifier) also finishes the migration of the cases from before sign-in, on the same
    background lane, before the store opens; `progress` is called from that lane. Every
    other call goes to the registry itself."""

    def __init__(self, registry: Registry, tablet: TabletPaths,
                 progress: Progress | None = None) -> None:
        self._registry = registry
        self._tablet = tablet
        self._progress = progress

    def _migrated(self, session: Session) -> Session:
        try:
            migrate_for_session(self._tablet, session, progress=self._progress)
        except MigrationRefusedError as exc:
            raise LegacyMigrationError(str(exc)) from exc
        return session

    def sign_in(self, verifier_id: str, pin: str) -> Session:
        return self._migrated(self._registry.sign_in(verifier_id, pin))

    def add(self, name: str, pin: str) -> Session:
        return self._migrated(self._registry.add(name, pin))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)
