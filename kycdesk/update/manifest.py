"""A release's manifest: every file of a bundle with its SHA-256, size and mode.

Files are TUF targets named by content (`blobs/<sha256>`): a file that did not change
between two releases is the same target, so an update downloads only what changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kycdesk.update.pointer import RELEASE_STAMP, valid_version

CHUNK = 1024 * 1024
LATEST = "latest.json"


def blob_target(sha256: str) -> str:
    return f"blobs/{sha256}"


def manifest_target(version: str) -> str:
    return f"releases/{version}.json"


@dataclass(frozen=True)
class FileEntry:
    sha256: str       # "" for a symbolic link
    size: int
    executable: bool
    link: str | None = None  # a relative symbolic link inside the bundle (Linux bundles)


@dataclass(frozen=True)
class Manifest:
    version: str
    files: dict[str, FileEntry]  # POSIX relative path → entry

    def to_bytes(self) -> bytes:
        return json.dumps({
            "version": self.version,
            "files": {path: {"sha256": e.sha256, "size": e.size, "executable": e.executable,
                             **({"link": e.link} if e.link is not None else {})}
                      for path, e in sorted(self.files.items())},
        }, indent=0, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if not valid_version(raw["version"]):
            raise ValueError(f"the release names no valid version: {raw['version']!r}")
        files: dict[str, FileEntry] = {}
        for path, entry in raw["files"].items():
            _check_relative(path)
            link = entry.get("link")
            if link is not None:
                _check_link(path, str(link))
            files[path] = FileEntry(str(entry["sha256"]), int(entry["size"]),
                                    bool(entry["executable"]),
                                    None if link is None else str(link))
        _check_no_path_through_a_link(files)
        return cls(version=str(raw["version"]), files=files)

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.files.values())


def _check_relative(path: str) -> None:
    """A manifest path stays inside the version's folder (no `..`, no absolute path)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts or "\\" in path \
            or ":" in path:
        raise ValueError(f"the release lists a file outside its folder: {path!r}")


def _check_link(path: str, link: str) -> None:
    """A link points inside the version's folder, relatively."""
    resolved = PurePosixPath(path).parent / link
    if link.startswith("/") or "\\" in link or ":" in link:
        raise ValueError(f"the release links a file outside its folder: {path!r}")
    depth = 0
    for part in resolved.parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise ValueError(f"the release links a file outside its folder: {path!r}")


def _check_no_path_through_a_link(files: dict[str, FileEntry]) -> None:
    """Each link is checked on its own text above; through another link it could still
    lead anywhere (`x/y/b -> ../..`, `q -> x/y/b/..` is `versions/`). So no path and no
    link target may pass through a link entry: only its last part may be one."""
    links = {path for path, e in files.items() if e.link is not None}
    for path, entry in files.items():
        parts = PurePosixPath(path).parts
        if any("/".join(parts[:i]) in links for i in range(1, len(parts))):
            raise ValueError(f"the release lists a file through a link: {path!r}")
        if entry.link is None:
            continue
        walked = list(parts[:-1])
        steps = PurePosixPath(entry.link).parts
        for i, step in enumerate(steps):
            if step == "..":
                walked.pop()
            elif step != ".":
                walked.append(step)
            if i < len(steps) - 1 and "/".join(walked) in links:
                raise ValueError(f"the release links a file through a link: {path!r}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stamp_bytes(version: str) -> bytes:
    return json.dumps({"version": version}).encode()


def walk_files(folder: Path) -> Iterator[tuple[str, Path]]:
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            full = Path(dirpath) / name
            yield full.relative_to(folder).as_posix(), full


def scan_bundle(folder: Path, version: str) -> Manifest:
    """The manifest of a bundle folder, stamped as `version` (the stamp file is part of it
    whatever the folder holds)."""
    files: dict[str, FileEntry] = {}
    for rel, full in walk_files(folder):
        if rel == RELEASE_STAMP:
            continue
        if full.is_symlink():
            link = str(full.readlink())
            _check_link(rel, link)
            files[rel] = FileEntry("", 0, False, link)
            continue
        mode = full.stat().st_mode
        files[rel] = FileEntry(sha256_of(full), full.stat().st_size,
                               bool(mode & stat.S_IXUSR))
    stamp = stamp_bytes(version)
    files[RELEASE_STAMP] = FileEntry(hashlib.sha256(stamp).hexdigest(), len(stamp), False)
    return Manifest(version=version, files=files)
