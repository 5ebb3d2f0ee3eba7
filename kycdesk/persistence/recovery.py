"""Startup recovery and `kycdesk doctor`: repair what a crash left, report the rest.

Repairs (safe, because the interrupted operation was never acknowledged):
- `.img_*.tmp` files of an import that did not finish are removed;
- `.del_*` tombstones: the delete finished (row gone) -> removed; it did not -> restored;
- image files no row refers to (a crash between rename and commit) are moved to
  `lost+found/<case>/`, never deleted.
Reported, never "fixed" by dropping data: rows whose file is missing, size or sha256
mismatches, integrity_check failures, unexpected folders.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kycdesk.core.errors import InvalidCaseIdError
from kycdesk.core.ids import validate_case_id
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence.db import Connection
from kycdesk.persistence.events import append_event
from kycdesk.persistence.files import file_sha256, fsync_dir, unlink_quietly
from kycdesk.persistence.images import CHUNK, IMAGE_NAME, TMP_PREFIX, TMP_SUFFIX, TOMBSTONE_PREFIX
from kycdesk.persistence.lifecycle import repair_retired_folders
from kycdesk.persistence.thumbnails import THUMBS_DIRNAME

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
    lost_and_found_count: int = 0
    hashes_verified: bool = False

    @property
    def repairs(self) -> int:
        return (len(self.removed_temp_files) + len(self.restored_deletes)
                + len(self.finished_deletes) + len(self.moved_to_lost_and_found)
                + len(self.retired_folders))

    @property
    def has_problems(self) -> bool:
        """Problems need a person: damaged database or evidence that is missing/changed."""
        return bool(self.integrity_errors or self.missing_files or self.size_mismatches
                    or self.hash_mismatches)

    def lines(self) -> list[str]:
        out = ["database integrity: " + ("ok" if not self.integrity_errors
                                         else "FAILED")]
        out += [f"  {e}" for e in self.integrity_errors[:20]]
        out += [f"removed unfinished import: {p}" for p in self.removed_temp_files]
        out += [f"finished interrupted delete: {p}" for p in self.finished_deletes]
        out += [f"undid interrupted delete: {p}" for p in self.restored_deletes]
        out += self.retired_folders
        out += [f"photo file with no record moved to {dst} (from {src})"
                for src, dst in self.moved_to_lost_and_found]
        out += [f"MISSING FILE: photo {i} of case {c}: {p}" for i, c, p in self.missing_files]
        out += [f"SIZE MISMATCH: photo {i} of case {c}: {p}"
                for i, c, p in self.size_mismatches]
        out += [f"HASH MISMATCH: photo {i} of case {c}: {p}"
                for i, c, p in self.hash_mismatches]
        out += [f"unexpected entry left alone: {p}" for p in self.unexpected_entries]
        if self.lost_and_found_count:
            out.append(f"lost+found holds {self.lost_and_found_count} file(s) to review")
        out.append("photo hashes: " + ("verified" if self.hashes_verified
                                       else "not verified (run 'kycdesk doctor')"))
        out.append(f"summary: {self.repairs} repair(s), "
                   + ("PROBLEMS FOUND" if self.has_problems else "no problems"))
        return out


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


def run_recovery(conn: Connection, paths: DataPaths, *, full_integrity: bool = False,
                 verify_hashes: bool = False) -> RecoveryReport:
    report = RecoveryReport(hashes_verified=verify_hashes)
    pragma = "integrity_check" if full_integrity else "quick_check"
    results = [str(r[0]) for r in conn.query_all(f"PRAGMA {pragma}")]
    if results != ["ok"]:
        report.integrity_errors = results
    rows = conn.query_all("SELECT id, case_id, file_path, sha256, byte_size FROM case_images")
    referenced = {paths.absolute(r[2]) for r in rows if r[2]}

    for action in repair_retired_folders(conn, paths):
        report.retired_folders.append(action)
    case_dirs = [Path(e.path) for e in os.scandir(paths.cases_dir)] \
        if paths.cases_dir.is_dir() else []
    for case_dir in case_dirs:
        try:
            case_id = validate_case_id(case_dir.name)
        except InvalidCaseIdError:
            report.unexpected_entries.append(paths.relative(case_dir))
            continue
        if not case_dir.is_dir():
            report.unexpected_entries.append(paths.relative(case_dir))
            continue
        repaired_here: list[str] = []
        for entry in sorted(os.scandir(case_dir), key=lambda e: e.name):
            file = Path(entry.path)
            name = entry.name
            if name.startswith(TMP_PREFIX) and name.endswith(TMP_SUFFIX):
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
            elif name == THUMBS_DIRNAME and entry.is_dir():
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

    for image_id, case_id, file_path, sha256, byte_size in rows:
        file = paths.absolute(file_path or "")
        if not file_path or not file.is_file():
            report.missing_files.append((int(image_id), case_id, file_path or ""))
            continue
        if byte_size is not None and file.stat().st_size != int(byte_size):
            report.size_mismatches.append((int(image_id), case_id, file_path))
        elif verify_hashes and sha256 and file_sha256(file, CHUNK) != sha256:
            report.hash_mismatches.append((int(image_id), case_id, file_path))

    if paths.lost_and_found.is_dir():
        report.lost_and_found_count = sum(len(files) for _, _, files
                                          in os.walk(paths.lost_and_found))
    for line in report.lines():
        if "MISMATCH" in line or "MISSING" in line or "FAILED" in line:
            log.error("recovery: %s", line)
        elif not line.startswith(("database integrity: ok", "photo hashes", "summary")):
            log.warning("recovery: %s", line)
    return report
