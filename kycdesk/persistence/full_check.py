"""The full check of a store: the database's integrity, every photo row against its
file, every case folder for leftovers. Too slow for startup on a store of years (a
million photos: every file stat'ed, in `kycdesk doctor` every byte hashed), so it runs
after the window is up (reporting only: operations may be in flight) and in
`kycdesk doctor` (repairing, with the data folder locked).

Resumable: the position (the last case checked, by id) and what was found so far are
kept in `full-check.json` in the data folder after every batch, so a check cut short —
the app closed, doctor interrupted — continues where it stopped. Progress is reported
as cases checked of cases in the store.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kycdesk.core.clock import now_text
from kycdesk.core.errors import InvalidCaseIdError
from kycdesk.core.ids import validate_case_id
from kycdesk.paths import DataPaths
from kycdesk.persistence import images, intents
from kycdesk.persistence.db import Connection
from kycdesk.persistence.encrypted_files import (
    TamperedDataError,
    decrypted_sha256,
    photo_context,
    plain_size,
)
from kycdesk.persistence.lifecycle import GONE_PREFIX, repair_retired_folders
from kycdesk.persistence.recovery import RecoveryReport, count_lost_and_found, repair_case
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

STATE_FILENAME = "full-check.json"
BATCH = 200           # cases per step (the state is saved after each)
KEEP_FOUND = 1000     # findings listed per kind; past that, counted (a folder restored
                      # from an old backup can miss a million files: say so, briefly)
Progress = Callable[[int, int, int], None]  # cases checked, cases in store, photos checked


@dataclass
class CheckState:
    """What is kept between runs of one check."""

    started_at: str
    mode: str                       # "doctor" (repairs, hashes) or "background"
    after_case: str = ""            # every case with a smaller id has been checked
    finished_at: str | None = None
    cases_checked: int = 0
    photos_checked: int = 0
    found: dict[str, list[Any]] = field(default_factory=dict)  # RecoveryReport lists
    more: dict[str, int] = field(default_factory=dict)         # counted past KEEP_FOUND


def state_file(paths: DataPaths) -> Path:
    return paths.root / STATE_FILENAME


def load_state(paths: DataPaths) -> CheckState | None:
    try:
        data = json.loads(state_file(paths).read_text(encoding="utf-8"))
        return CheckState(**data)
    except (OSError, ValueError, TypeError):
        return None


def _save_state(paths: DataPaths, state: CheckState) -> None:
    """Progress, not evidence: written atomically, without fsync."""
    target = state_file(paths)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(asdict(state)), encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        log.info("full check position not saved: %s", exc)


_LISTS = ("integrity_errors", "removed_temp_files", "restored_deletes", "finished_deletes",
          "moved_to_lost_and_found", "missing_files", "size_mismatches", "hash_mismatches",
          "unexpected_entries", "retired_folders", "leftovers")


def _restore(report: RecoveryReport, found: dict[str, list[Any]]) -> None:
    for name in _LISTS:
        items = found.get(name, [])
        getattr(report, name).extend(tuple(i) if isinstance(i, list) else i for i in items)


def _found(report: RecoveryReport) -> dict[str, list[Any]]:
    """The report's lists, each cut to KEEP_FOUND (the rest counted in report.more)."""
    for name in _LISTS:
        items = getattr(report, name)
        if len(items) > KEEP_FOUND:
            report.more[name] = report.more.get(name, 0) + len(items) - KEEP_FOUND
            del items[KEEP_FOUND:]
    return {name: list(getattr(report, name)) for name in _LISTS if getattr(report, name)}


def _check_rows(conn: Connection, paths: DataPaths, vault: Vault, case_ids: list[str],
                report: RecoveryReport, *, verify_hashes: bool) -> int:
    """Each photo row against its file: there, the size its header says (cheap), and in
    doctor the SHA-256 of its decrypted bytes (a file that does not decrypt to its end,
    changed or cut, is a hash mismatch: its bytes are not the ones recorded)."""
    marks = ", ".join("?" * len(case_ids))
    rows = conn.query_all(
        f"SELECT id, case_id, file_path, byte_size, client_image_id, "
        f"{images.PHOTO_FACT_COLUMNS} FROM case_images "
        f"WHERE case_id IN ({marks}) ORDER BY case_id, id", case_ids)
    for image_id, case_id, file_path, byte_size, client_image_id, *facts in rows:
        sha256 = images.photo_facts(conn, "case_images", case_id, client_image_id,
                                    facts)["sha256"] if verify_hashes else None
        file = paths.absolute(file_path or "")
        try:
            size = plain_size(file) if file_path else -1
        except OSError:
            size = -1
        except TamperedDataError:
            size = -2  # no header of ours: whatever it holds, it is not the photo recorded
        if size == -2:
            report.hash_mismatches.append((int(image_id), case_id, file_path))
        elif size < 0:
            report.missing_files.append((int(image_id), case_id, file_path or ""))
        elif byte_size is not None and size != int(byte_size):
            report.size_mismatches.append((int(image_id), case_id, file_path))
        elif verify_hashes and sha256 and _plain_sha256(vault, file, case_id) != sha256:
            report.hash_mismatches.append((int(image_id), case_id, file_path))
    return len(rows)


def _plain_sha256(vault: Vault, file: Path, case_id: str) -> str | None:
    try:
        return decrypted_sha256(vault, file, photo_context(case_id))[0]
    except (OSError, TamperedDataError):
        return None


def run_full_check(conn: Connection, paths: DataPaths, vault: Vault, *, repair: bool,
                   verify_hashes: bool, full_integrity: bool = False,
                   restart: bool = False, progress: Progress | None = None,
                   should_stop: Callable[[], bool] | None = None) -> RecoveryReport:
    """Check everything (see the module doc); continue a check of the same mode that was
    cut short unless `restart`. The report is complete when `report.full_check`; if
    `should_stop` said stop first, the position is saved and the report is partial."""
    mode = "doctor" if repair else "background"
    state = load_state(paths)
    if restart or state is None or state.finished_at is not None or state.mode != mode:
        state = CheckState(started_at=now_text(), mode=mode)
    report = RecoveryReport(hashes_verified=verify_hashes)
    _restore(report, state.found)
    report.more = dict(state.more)
    total = int(conn.scalar("SELECT count(*) FROM cases"))
    if not state.after_case:  # a new check starts with the database itself
        report.integrity_errors = _integrity(conn, full_integrity, should_stop)
        if repair:
            report.retired_folders += repair_retired_folders(conn, paths)
    last_report = 0.0
    reported = -1
    while True:
        if should_stop is not None and should_stop():
            state.found, state.more = _found(report), dict(report.more)
            _save_state(paths, state)
            report.cases_checked, report.photos_checked = state.cases_checked, \
                state.photos_checked
            return report
        case_ids = [str(r[0]) for r in conn.query_all(
            "SELECT id FROM cases WHERE id > ? ORDER BY id LIMIT ?",
            (state.after_case, BATCH))]
        if not case_ids:
            break
        busy = {i.case_id for i in intents.pending(paths.root)} if not repair else set()
        for case_id in case_ids:
            if case_id not in busy:  # an operation in flight there: its own repair covers it
                repair_case(conn, paths, case_id, report, repair=repair)
        state.photos_checked += _check_rows(conn, paths, vault, case_ids, report,
                                            verify_hashes=verify_hashes)
        state.cases_checked += len(case_ids)
        state.after_case = case_ids[-1]
        state.found, state.more = _found(report), dict(report.more)
        _save_state(paths, state)
        now = time.monotonic()
        if progress is not None and now - last_report >= 0.5:
            last_report = now
            reported = state.cases_checked
            progress(state.cases_checked, total, state.photos_checked)
    _check_folders(conn, paths, report)
    report.lost_and_found_count = count_lost_and_found(paths)
    state.finished_at = now_text()
    state.found, state.more = _found(report), dict(report.more)
    _save_state(paths, state)
    report.full_check = True
    report.cases_checked, report.photos_checked = state.cases_checked, state.photos_checked
    if progress is not None and reported != state.cases_checked:
        progress(state.cases_checked, total, state.photos_checked)
    report.log()
    return report


def _integrity(conn: Connection, full: bool,
               should_stop: Callable[[], bool] | None) -> list[str]:
    """`integrity_check` of the whole file (doctor), or `quick_check` one table at a time
    (background: a check asked to stop waits for one table, not for the whole file)."""
    if full:
        results = [str(r[0]) for r in conn.query_all("PRAGMA integrity_check")]
        return [] if results == ["ok"] else results
    problems: list[str] = []
    tables = [str(r[0]) for r in conn.query_all(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    for table in tables:
        if should_stop is not None and should_stop():
            break
        results = [str(r[0]) for r in conn.query_all(f'PRAGMA quick_check("{table}")')]
        problems += [] if results == ["ok"] else results
    return problems


def _check_folders(conn: Connection, paths: DataPaths, report: RecoveryReport) -> None:
    """Entries of the cases folder that are not the folder of a case."""
    if not paths.cases_dir.is_dir():
        return
    for entry in os.scandir(paths.cases_dir):
        if entry.name.startswith(GONE_PREFIX):
            continue  # a discard in flight (the app is running) or reported by doctor
        try:
            case_id = validate_case_id(entry.name)
        except InvalidCaseIdError:
            report.unexpected_entries.append(paths.relative(Path(entry.path)))
            continue
        if not entry.is_dir() or (not conn.scalar("SELECT 1 FROM cases WHERE id = ?", (case_id,)) \
                and any(os.scandir(entry.path))):
            report.unexpected_entries.append(paths.relative(Path(entry.path)))
