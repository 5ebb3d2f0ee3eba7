"""Startup recovery, and the full check (`kycdesk doctor`, and in the background).

Startup (`run_recovery`) repairs exactly the case folders the intent journal names
(`intents`): the operations a crash cut short. Time is proportional to what was in
flight, never to the size of the store. For each such folder:
- `.img_*.tmp` files of an import that did not finish are removed;
- `.del_*` tombstones: the delete finished (row gone) -> removed; it did not -> restored;
- image files no row refers to (a crash between rename and commit) are moved to
  `lost+found/<case>/`, never deleted;
- a retired `.gone_<case>` folder is removed or put back, as the rows say;
- half-written thumbnails (a cache) are dropped.
Then the data dir's `captures/` folder (photos on their way in, encrypted: camera
captures, an archive being imported; `captures.recover_captures`): a complete capture
whose import never happened is kept in `lost+found/<case>/` (still encrypted), an
interrupted one (no final chunk) and an archive's scratch folder are removed.
Then photos being fetched from the server (`photos_to_fetch`, the downloads in flight):
a photo renamed into its case folder (`pulled_<id>.*`) but not recorded is recorded if
its bytes are the office's (else removed: fetched again); in `downloads/`, a partial file
of a photo still wanted stays (the download resumes from its length), any other goes.

The full check (`full_check.run_full_check`) looks at everything: the database's
integrity, every row against its file (size; SHA-256 in `kycdesk doctor`), every folder
for leftovers. It runs after the window is up (reporting only) and in `kycdesk doctor`
(repairing as above), resumable and with progress. Reported, never "fixed" by dropping
data: rows whose file is missing, size or hash mismatches, integrity failures,
unexpected folders.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import intents
from kycdesk.persistence.captures import recover_captures
from kycdesk.persistence.db import Connection
from kycdesk.persistence.encrypted_files import (
    TamperedDataError,
    decrypted_sha256,
    photo_context,
)
from kycdesk.persistence.events import append_event
from kycdesk.persistence.files import fsync_dir, unlink_quietly
from kycdesk.persistence.images import IMAGE_NAME, TMP_PREFIX, TMP_SUFFIX, TOMBSTONE_PREFIX
from kycdesk.persistence.lifecycle import repair_retired_folder
from kycdesk.persistence.thumbnails import THUMBS_DIRNAME
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    integrity_errors: list[str] = field(default_factory=list)
    removed_temp_files: list[str] = field(default_factory=list)
    restored_deletes: list[str] = field(default_factory=list)
    finished_deletes: list[str] = field(default_factory=list)
    moved_to_lost_and_found: list[tuple[str, str]] = field(default_factory=list)
    missing_files: list[tuple[int, str, str]] = field(default_factory=list)
    size_mismatches: list[tuple[int, str, str]] = field(default_factory=list)
    hash_mismatches: list[tuple[int, str, str]] = field(default_factory=list)
    unexpected_entries: list[str] = field(default_factory=list)
    retired_folders: list[str] = field(default_factory=list)  # discards/purges finished
    recorded_downloads: list[str] = field(default_factory=list)  # pulled, then recorded
    leftovers: list[str] = field(default_factory=list)  # found, not repaired (app running)
    lost_and_found_count: int = 0
    hashes_verified: bool = False
    full_check: bool = False        # everything was looked at (not only the journal)
    cases_checked: int = 0
    photos_checked: int = 0
    more: dict[str, int] = field(default_factory=dict)  # findings past the lists' cap

    def include_repairs(self, earlier: RecoveryReport) -> None:
        """Put the repairs of an earlier pass (startup's, before a full check) first."""
        for name in ("removed_temp_files", "restored_deletes", "finished_deletes",
                     "moved_to_lost_and_found", "retired_folders"):
            getattr(self, name)[:0] = getattr(earlier, name)

    @property
    def repairs(self) -> int:
        return (len(self.removed_temp_files) + len(self.restored_deletes)
                + len(self.finished_deletes) + len(self.moved_to_lost_and_found)
                + len(self.retired_folders) + len(self.recorded_downloads))

    @property
    def has_problems(self) -> bool:
        """Problems need a person: damaged database or evidence that is missing/changed."""
        return bool(self.integrity_errors or self.missing_files or self.size_mismatches
                    or self.hash_mismatches or self.more)

    def lines(self) -> list[str]:
        out: list[str] = []
        if self.full_check:
            out.append("database integrity: " + ("ok" if not self.integrity_errors
                                                 else "FAILED"))
            out += [f"  {e}" for e in self.integrity_errors[:20]]
        out += [f"removed unfinished import: {p}" for p in self.removed_temp_files]
        out += [f"finished interrupted delete: {p}" for p in self.finished_deletes]
        out += [f"undid interrupted delete: {p}" for p in self.restored_deletes]
        out += self.retired_folders
        out += [f"recorded a photo fetched before the crash: {p}"
                for p in self.recorded_downloads]
        out += [f"photo file with no record moved to {dst} (from {src})"
                for src, dst in self.moved_to_lost_and_found]
        out += [f"MISSING FILE: photo {i} of case {c}: {p}" for i, c, p in self.missing_files]
        out += [f"SIZE MISMATCH: photo {i} of case {c}: {p}"
                for i, c, p in self.size_mismatches]
        out += [f"HASH MISMATCH: photo {i} of case {c}: {p}"
                for i, c, p in self.hash_mismatches]
        out += [f"left over, to repair with 'kycdesk doctor': {p}" for p in self.leftovers]
        out += [f"unexpected entry left alone: {p}" for p in self.unexpected_entries]
        out += [f"... and {n:,} more {name.replace('_', ' ')}" for name, n
                in sorted(self.more.items())]
        if self.lost_and_found_count:
            out.append(f"lost+found holds {self.lost_and_found_count} file(s) to review")
        if self.full_check:
            out.append(f"checked {self.cases_checked} case(s), {self.photos_checked} photo(s)")
            out.append("photo hashes: " + ("verified" if self.hashes_verified
                                           else "not verified (run 'kycdesk doctor')"))
        out.append(f"summary: {self.repairs} repair(s), "
                   + ("PROBLEMS FOUND" if self.has_problems else "no problems"))
        return out

    def log(self) -> None:
        for line in self.lines():
            if "MISMATCH" in line or "MISSING" in line or "FAILED" in line:
                log.error("store check: %s", line)
            elif not line.startswith(("database integrity: ok", "photo hashes", "summary",
                                      "checked ")):
                log.warning("store check: %s", line)


def _quarantine(paths: DataPaths, case_id: str, file: Path) -> Path:
    target_dir = paths.lost_and_found / case_id
    ensure_private_dir(target_dir)
    target = target_dir / file.name
    counter = 1
    while target.exists():
        target = target_dir / f"{file.stem}.{counter}{file.suffix}"
        counter += 1
    shutil.move(file, target)
    fsync_dir(target_dir)
    return target


def _prune_thumbnails(case_dir: Path, thumbs: Path) -> None:
    """Thumbnails are a cache: drop half-written ones and those whose photo is gone."""
    photo_stems = {p.stem for p in case_dir.iterdir() if IMAGE_NAME.match(p.name)}
    for thumb in thumbs.iterdir():
        if thumb.name.startswith(".") or thumb.stem not in photo_stems:
            unlink_quietly(thumb)


def count_lost_and_found(paths: DataPaths) -> int:
    if not paths.lost_and_found.is_dir():
        return 0
    return sum(len(files) for _, _, files in os.walk(paths.lost_and_found))


def repair_case(conn: Connection, paths: DataPaths, case_id: str, report: RecoveryReport,
                *, repair: bool = True) -> None:
    """Bring one case folder back in line with its rows (see the module doc). With
    `repair=False` (the app is running: an operation may be in flight) leftovers are
    only reported."""
    if repair:
        action = repair_retired_folder(conn, paths, case_id)
        if action:
            report.retired_folders.append(action)
    case_dir = paths.case_dir(case_id)
    if not case_dir.is_dir():
        return
    referenced = {paths.absolute(r[0]) for r in conn.query_all(
        "SELECT file_path FROM case_images WHERE case_id = ? AND file_path IS NOT NULL",
        (case_id,))}
    repaired_here: list[str] = []
    for entry in sorted(os.scandir(case_dir), key=lambda e: e.name):
        file = Path(entry.path)
        name = entry.name
        leftover = ((name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX))
                    or name.startswith(TOMBSTONE_PREFIX)
                    or (IMAGE_NAME.match(name) is not None and file not in referenced))
        if leftover and not repair:
            report.leftovers.append(paths.relative(file))
        elif name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX):
            unlink_quietly(file)
            report.removed_temp_files.append(paths.relative(file))
            repaired_here.append(f"removed {name}")
        elif name.startswith(TOMBSTONE_PREFIX):
            original = file.with_name(name.removeprefix(TOMBSTONE_PREFIX))
            if original in referenced and not original.exists():
                os.rename(file, original)
                report.restored_deletes.append(paths.relative(original))
                repaired_here.append(f"restored {original.name}")
            else:
                unlink_quietly(file)
                report.finished_deletes.append(paths.relative(original))
                repaired_here.append(f"removed {name}")
        elif name == THUMBS_DIRNAME and entry.is_dir() and repair:
            _prune_thumbnails(case_dir, Path(entry.path))
        elif IMAGE_NAME.match(name) and file not in referenced:
            target = _quarantine(paths, case_id, file)
            report.moved_to_lost_and_found.append(
                (paths.relative(file), paths.relative(target)))
            repaired_here.append(f"moved {name} to lost+found")
    if repaired_here:
        fsync_dir(case_dir)
        if conn.scalar("SELECT 1 FROM cases WHERE id = ?", (case_id,)):
            with conn.transaction():
                append_event(conn, case_id, "recovery", {"actions": repaired_here})


def _recover_downloads(conn: Connection, paths: DataPaths, vault: Vault,
                       report: RecoveryReport) -> None:
    """Photos fetched from the server when the crash came: looked up from
    `photos_to_fetch` (only the downloads in flight: never a listing of every case
    folder), and `downloads/`, which holds only partial files in flight."""
    from kycdesk.persistence import images, two_way

    wanted = conn.query_all("SELECT case_id, client_image_id, byte_size, "
                            f"{images.PHOTO_FACT_COLUMNS} FROM photos_to_fetch "
                            "WHERE held_back = 0")
    for case_id, client_image_id, byte_size, *facts in wanted:
        sha256 = images.photo_facts(conn, "photos_to_fetch", case_id, client_image_id,
                                    facts)["sha256"]
        case_dir = paths.case_dir(str(case_id))
        if not case_dir.is_dir():
            continue
        # Renamed into place, then the crash came before `record_fetched_photo`.
        for file in sorted(case_dir.glob(f"pulled_{client_image_id}.*")):
            try:
                plain = decrypted_sha256(vault, file, photo_context(str(case_id)))
            except (OSError, TamperedDataError):
                plain = ("", -1)
            if plain == (sha256, int(byte_size)):
                two_way.record_fetched_photo(conn, paths, vault, str(case_id),
                                             str(client_image_id), path=file)
                report.recorded_downloads.append(paths.relative(file))
                break
            unlink_quietly(file)
            report.removed_temp_files.append(paths.relative(file))
    folder = paths.downloads_dir
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return
    still = {paths.partial_download(str(row[0]), str(row[1])).name for row in wanted}
    for entry in entries:
        if entry.name not in still:  # its photo came, or is no longer wanted
            unlink_quietly(entry)
            report.removed_temp_files.append(paths.relative(entry))


def run_recovery(conn: Connection, paths: DataPaths, vault: Vault) -> RecoveryReport:
    """Startup: repair the case folders the intent journal names, then clear it."""
    report = RecoveryReport()
    pending = intents.pending(paths.root)
    for case_id in sorted({intent.case_id for intent in pending}):
        repair_case(conn, paths, case_id, report)
    for intent in pending:
        intents.end(intent.path)
    recover_captures(paths, vault, report.moved_to_lost_and_found,
                     report.removed_temp_files)
    _recover_downloads(conn, paths, vault, report)
    if report.moved_to_lost_and_found:
        report.lost_and_found_count = count_lost_and_found(paths)
    if pending:
        log.info("startup recovery: %d operation(s) were in flight, %d repair(s)",
                 len(pending), report.repairs)
    report.log()
    return report
