"""The case archive (`kycdesk-case/1`), read and verified: a zip of `manifest.json` (the
case, its form, its photos' facts and SHA-256s), the photos under `photos/`, and
`manifest.sha256`. Written by `kycdesk case export`; read by `kycdesk case import` on
another device and by `kycdesk-server ingest` — nothing is used before every hash
matches."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

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


def _write_clear(folder: Path, name: str, data: bytes) -> str:
    target = folder / name
    target.write_bytes(data)
    return str(target)


def read_archive(path: Path | IO[bytes], folder: Path, *,
                 keep_photo: Callable[[str, bytes], str] | None = None) -> dict[str, Any]:
    """Unpack and verify an archive (manifest hash, every photo's hash, checked in
    memory before the photo is kept); the manifest, each photo's `path` set to where
    it was kept. Raises ValueError with a sentence saying what is wrong.

    `path`: the archive's file, or its zip already opened (a sealed archive is opened in
    memory: kycdesk/security/sealed_archive.py).
    `keep_photo(case_id, bytes) -> path`: how a photo is kept (the tablet encrypts it
    into its captures folder: never a clear file); None: a clear file in `folder` (the
    server's ingest, whose storage is its own)."""
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
                content = archive.read(name)
                if hashlib.sha256(content).hexdigest() != photo["sha256"]:
                    raise ValueError(f"photo {name} does not match its SHA-256")
                photo["path"] = (keep_photo(str(data["case"]["id"]), content)
                                 if keep_photo is not None
                                 else _write_clear(folder, name[7:], content))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise ValueError(f"the archive cannot be read ({exc})") from exc
    case: dict[str, Any] = data["case"]
    return case
