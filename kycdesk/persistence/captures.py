"""Photos on their way in, encrypted: camera captures and the photos of an archive being
imported wait in the data folder's `captures/` (never the system temp folder), written
through the vault from the first byte (`encrypted_files`, context CAPTURE_CONTEXT). No
clear copy of an ID document exists anywhere, even for a moment.

A capture is written straight under its final name `<case>.<random>.capture` (O_EXCL,
owner-only); the stream's final chunk is written and fsynced only when the photo is
whole. So at startup (`recover_captures`) a capture that opens to its final chunk is a
complete photo whose import never happened: it is kept, still encrypted, in
`lost+found/<case>/` (never deleted); one without its final chunk was interrupted and
is removed. Sub-folders (an archive's photos being imported) are removed: the archive
itself is still where the verifier took it from.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path

from kycdesk.core.errors import InvalidCaseIdError
from kycdesk.core.ids import new_id, validate_case_id
from kycdesk.paths import PRIVATE_DIR_MODE, DataPaths, ensure_private_dir
from kycdesk.persistence.encrypted_files import (
    CAPTURE_CONTEXT,
    EncryptedFileWriter,
    is_complete,
)
from kycdesk.persistence.files import fsync_dir, unlink_quietly
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

CAPTURE_SUFFIX = ".capture"


def new_capture_file(folder: Path, case_id: str) -> Path:
    """A fresh capture name naming its case (what recovery needs to keep it)."""
    return folder / f"{validate_case_id(case_id)}.{new_id()}{CAPTURE_SUFFIX}"


def write_capture(vault: Vault, folder: Path, case_id: str,
                  data: bytes | Iterable[bytes]) -> Path:
    """Encrypt `data` into a new capture file in `folder` (captures/ or a scratch folder
    inside it), durably; returns its path. On any failure nothing is left."""
    ensure_private_dir(folder)
    target = new_capture_file(folder, case_id)
    with EncryptedFileWriter(vault, target, CAPTURE_CONTEXT) as out:
        for piece in ([data] if isinstance(data, bytes | bytearray) else data):
            out.write(piece)
        out.finish()
    fsync_dir(folder)
    return target


def _case_of(capture: Path) -> str | None:
    try:
        return validate_case_id(capture.name.split(".", 1)[0])
    except InvalidCaseIdError:
        return None


def recover_captures(paths: DataPaths, vault: Vault, moved: list[tuple[str, str]],
                     removed: list[str]) -> None:
    """Startup: keep complete captures (to lost+found/<case>/, encrypted), remove the
    interrupted ones and any scratch folder; only in-flight files live in captures/, so
    this is as long as what was in flight. `moved`/`removed`: the report's lists."""
    folder = paths.captures_dir
    try:
        entries = sorted(folder.iterdir())
    except FileNotFoundError:
        return
    folder.chmod(PRIVATE_DIR_MODE)
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(paths.relative(entry))
            continue
        case_id = _case_of(entry) if entry.name.endswith(CAPTURE_SUFFIX) else None
        if case_id is not None and is_complete(vault, entry, CAPTURE_CONTEXT):
            target_dir = paths.lost_and_found / case_id
            ensure_private_dir(target_dir)
            target = target_dir / entry.name
            entry.replace(target)
            fsync_dir(target_dir)
            moved.append((paths.relative(entry), paths.relative(target)))
            log.info("a complete camera photo whose import was cut short was kept in "
                     "lost+found")
        else:
            unlink_quietly(entry)
            removed.append(paths.relative(entry))
