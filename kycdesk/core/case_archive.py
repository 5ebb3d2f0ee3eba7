"""The case archive (`kycdesk-case/1`), read and verified: a zip of `manifest.json` (the
case, its form, its photos' facts and SHA-256s), the photos under `photos/`, and
`manifest.sha256`. Written by `kycdesk case export`; read by `kycdesk case import` on
another device and by `kycdesk-server ingest` — nothing is used before every hash
matches."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from kycdesk.core.hashing import file_sha256

ARCHIVE_FORMAT = "kycdesk-case/1"


def _check_names(names: list[str]) -> None:
    """Refuse the whole archive if any entry could land outside the folder it is unpacked
    in (an absolute name, a `..` step, a drive or backslash path) or is there twice (which
    copy would count?). Nothing escapes here anyway — only named photos are read — but an
    archive made like that was not made by `case export`."""
    seen: set[str] = set()
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if (name.startswith(("/", "\\")) or ".." in parts or "\\" in name
                or (len(name) > 1 and name[1] == ":")):
            raise ValueError(f"the archive has an entry that points outside it: {name!r}")
        if name in seen:
            raise ValueError(f"the archive has the entry {name!r} twice")
        seen.add(name)


def read_archive(path: Path, folder: Path) -> dict[str, Any]:
    """Unpack and verify an archive (manifest hash, every photo's hash); the manifest.
    Raises ValueError with a sentence saying what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            _check_names(archive.namelist())
            manifest = archive.read("manifest.json")
            declared = archive.read("manifest.sha256").decode().strip()
            if hashlib.sha256(manifest).hexdigest() != declared:
                raise ValueError("the archive's manifest was changed or damaged")
            data = json.loads(manifest)
            if data.get("format") != ARCHIVE_FORMAT:
                raise ValueError(f"not a {ARCHIVE_FORMAT} archive")
            for photo in data["case"]["photos"]:
                name = str(photo["file"])
                if not name.startswith("photos/") or ".." in name or "/" in name[7:]:
                    raise ValueError(f"an unexpected file name in the archive: {name!r}")
                target = folder / name[7:]
                target.write_bytes(archive.read(name))
                if file_sha256(target) != photo["sha256"]:
                    raise ValueError(f"photo {name} does not match its SHA-256")
                photo["path"] = str(target)
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ValueError(f"the archive cannot be read ({exc})") from exc
    case: dict[str, Any] = data["case"]
    return case
