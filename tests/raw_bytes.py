"""The raw-bytes proof: read every byte of every file under a data folder (the database,
its WAL and shared-memory files, photos, thumbnails, captures, downloads, logs, the
encrypted index snapshot, anything else) and report where any applicant value appears.

This is what a thief with a copied disk does first (`strings`, `grep -a`), so it is the
test of "a stolen powered-off tablet reveals nothing personal" (docs/security.md).

Needles must be long enough not to occur by chance in ciphertext: a store of 20 demo
cases holds ~50 MB of random-looking bytes, in which a given 3-byte string is expected
~3 times and a 4-byte one ~0.01 times per needle (so ~1 in 2 runs with 50 of them).
`Needle` therefore refuses needles shorter than MIN_NEEDLE bytes (6: ~5·10⁻⁷ expected
per needle), and the file signatures are matched with the bytes that follow them in a
real file (JPEG's SOI is `FF D8 FF`, three bytes; a real JPEG continues with a JFIF or
Exif header or a quantisation table).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_NEEDLE = 6

# A JPEG: SOI then APP0 "JFIF", APP1 "Exif" or a quantisation table (DQT, length 67
# or more); a PNG: its 8-byte signature, or an IHDR chunk header. The JFIF/Exif
# identifiers alone catch a JPEG whose first bytes were cut off.
JPEG_START = re.compile(
    rb"\xff\xd8\xff(?:\xe0..JFIF\x00|\xe1..Exif\x00\x00|\xdb\x00[\x43\x84\xc5])", re.DOTALL)
SIGNATURES: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("JPEG signature", JPEG_START),
    ("JFIF header", re.compile(re.escape(b"JFIF\x00\x01"))),
    ("Exif header", re.compile(re.escape(b"Exif\x00\x00"))),
    ("PNG signature", re.compile(re.escape(b"\x89PNG\r\n\x1a\n"))),
    ("PNG header chunk", re.compile(re.escape(b"\x00\x00\x00\x0dIHDR"))),
    # The same signatures as base64 (a signature image inside a JSON answer).
    ("PNG signature (base64)", re.compile(re.escape(b"iVBORw0KGgo"))),
    ("JPEG signature (base64)", re.compile(re.escape(b"/9j/4AAQSkZJRg"))),
)


@dataclass(frozen=True)
class Needle:
    label: str          # what it is ("name of case 3"), never printed with the value
    pattern: re.Pattern[bytes]

    @classmethod
    def text(cls, label: str, value: str) -> list[Needle]:
        """A value as it may sit in a file: UTF-8 (SQLite, JSON), its JSON-escaped form
        and UTF-16-LE (Windows APIs, Qt's settings); also in lower case (FTS5 folds)."""
        variants = {value, value.lower()}
        forms: set[bytes] = set()
        for variant in variants:
            forms.add(variant.encode("utf-8"))
            forms.add(variant.encode("utf-16-le"))
            escaped = variant.encode("ascii", "backslashreplace").replace(
                b"\\x", b"\\u00")
            forms.add(escaped)
        out = []
        for form in sorted(forms):
            if len(form) < MIN_NEEDLE:
                raise ValueError(f"needle {label!r} is {len(form)} bytes: shorter than "
                                 f"{MIN_NEEDLE} it would occur in ciphertext by chance")
            out.append(cls(label, re.compile(re.escape(form))))
        return out

    @classmethod
    def raw(cls, label: str, value: bytes) -> Needle:
        if len(value) < MIN_NEEDLE:
            raise ValueError(f"needle {label!r} is shorter than {MIN_NEEDLE} bytes")
        return cls(label, re.compile(re.escape(value)))


def photo_needles(label: str, data: bytes) -> list[Needle]:
    """A photo's SHA-256 (hex, both cases, and the 32 raw bytes) and three 32-byte
    slices of its body (a clear copy without its header is still a clear copy)."""
    digest = hashlib.sha256(data)
    out = [Needle.raw(f"{label} SHA-256 (raw)", digest.digest())]
    out += [Needle.raw(f"{label} SHA-256 (hex)", digest.hexdigest().encode("ascii")),
            Needle.raw(f"{label} SHA-256 (HEX)", digest.hexdigest().upper().encode("ascii"))]
    for fraction in (4, 2, 1.5):
        start = int(len(data) / fraction)
        piece = data[start:start + 32]
        if len(piece) == 32:
            out.append(Needle.raw(f"{label} body at {start}", piece))
    return out


def sha256_needles(label: str, hex_digest: str) -> list[Needle]:
    return [Needle.raw(f"{label} SHA-256 (raw)", bytes.fromhex(hex_digest)),
            Needle.raw(f"{label} SHA-256 (hex)", hex_digest.lower().encode("ascii")),
            Needle.raw(f"{label} SHA-256 (HEX)", hex_digest.upper().encode("ascii"))]


def signature_needles() -> list[Needle]:
    return [Needle(label, pattern) for label, pattern in SIGNATURES]


@dataclass(frozen=True)
class Hit:
    file: str           # relative to the scanned folder
    label: str
    offset: int

    def __str__(self) -> str:
        return f"{self.file} @ {self.offset}: {self.label}"


def every_file(folder: Path) -> Iterator[Path]:
    """Every regular file below `folder`, hidden ones included; symlinks not followed."""
    for directory, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


def scan(folder: Path, needles: Iterable[Needle], *, limit_per_needle: int = 3
         ) -> list[Hit]:
    """Every occurrence (up to a few per needle and file) of every needle in every file."""
    needles = list(needles)
    hits: list[Hit] = []
    for path in every_file(folder):
        data = path.read_bytes()
        relative = path.relative_to(folder).as_posix()
        for needle in needles:
            for count, match in enumerate(needle.pattern.finditer(data)):
                if count >= limit_per_needle:
                    break
                hits.append(Hit(relative, needle.label, match.start()))
    return hits


def files_scanned(folder: Path) -> dict[str, int]:
    """What the scan read: bytes per file (for the proof's report: WAL, SHM, logs ...)."""
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in every_file(folder)}


def copy_as_found(source: Path, target: Path) -> Path:
    """Copy a data folder as a disk image would hold it: every file, as it is now, even
    while the app has it open (the WAL and SHM files included)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def summary(hits: list[Hit]) -> str:
    """Hits grouped by file and kind of needle (labels without their case numbers), for
    a failing assertion that says at once which files still hold what."""
    import collections

    groups: collections.Counter[tuple[str, str]] = collections.Counter()
    for hit in hits:
        kind = re.sub(r"\b(case|photo|line) \d+ ", "", hit.label)
        groups[(hit.file, kind)] += 1
    return "\n".join(f"{count:5} × {kind} in {file}"
                     for (file, kind), count in sorted(groups.items()))
