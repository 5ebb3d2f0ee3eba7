"""The intent journal: which case folders have a file operation in flight.

Before a multi-step file operation on a case folder (a photo's import, a delete, a
discard or purge, a thumbnail) an empty file named `<case id>.<kind>.<unique>` is
created in `intents/` and, for operations on evidence, made durable (one directory
fsync); it is removed when the operation has finished, either way. After a crash,
startup repairs exactly the folders named there (`recovery.run_recovery`), in time
proportional to what was in flight, not to the size of the store. A lost removal is
harmless: repairing a folder that needs nothing changes nothing.

The names carry no applicant data (case ids are random UUIDs).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kycdesk.core.errors import InvalidCaseIdError, StorageUnavailableError
from kycdesk.core.ids import new_id, validate_case_id
from kycdesk.paths import ensure_private_dir
from kycdesk.persistence.files import fsync_dir, unlink_quietly

log = logging.getLogger(__name__)

INTENTS_DIRNAME = "intents"
KINDS = ("import", "delete", "retire", "thumbnail")


@dataclass(frozen=True)
class Intent:
    case_id: str
    kind: str
    path: Path


def journal_dir(root: Path) -> Path:
    return root / INTENTS_DIRNAME


def begin(root: Path, kind: str, case_id: str, *, durable: bool = True) -> Path:
    """Record that `kind` is about to change the folder of `case_id`; returns the entry
    to pass to `end`. Durable entries are on disk before this returns."""
    if kind not in KINDS:
        raise ValueError(f"unknown intent kind {kind!r}")
    folder = journal_dir(root)
    entry = folder / f"{validate_case_id(case_id)}.{kind}.{new_id()}"
    try:
        if not folder.is_dir():
            ensure_private_dir(folder)
            if durable:
                fsync_dir(root)
        os.close(os.open(entry, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if durable:
            fsync_dir(folder)  # the entry's name is all it says: its directory is enough
    except OSError as exc:
        raise StorageUnavailableError(
            f"The data folder cannot be written ({exc.strerror}).") from exc
    return entry


def end(entry: Path | None) -> None:
    """The operation is over (done or undone)."""
    if entry is not None:
        try:
            unlink_quietly(entry)
        except OSError as exc:  # left behind: the next start repairs a sound folder
            log.info("intent %s not removed: %s", entry.name, exc)


@contextlib.contextmanager
def recorded(root: Path, kind: str, case_id: str, *, durable: bool = True) -> Iterator[Path]:
    """`begin` … `end` around a block. If the block raises, the entry stays: whatever the
    block left half-done is repaired at the next start."""
    entry = begin(root, kind, case_id, durable=durable)
    yield entry
    end(entry)


def pending(root: Path) -> list[Intent]:
    """Entries left by operations that did not finish (at startup: a crash)."""
    folder = journal_dir(root)
    if not folder.is_dir():
        return []
    found: list[Intent] = []
    for item in os.scandir(folder):
        case_id, _, rest = item.name.partition(".")
        kind = rest.partition(".")[0]
        try:
            found.append(Intent(validate_case_id(case_id), kind, Path(item.path)))
        except InvalidCaseIdError:
            log.warning("unexpected entry in the intent journal left alone: %s", item.name)
    return found
