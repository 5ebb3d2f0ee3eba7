"""`kycdesk case mrz FILE [--json]`: what an MRZ says, with which check digits passed.

FILE holds the zone's lines as text (what a desk MRZ swipe reader types, or `-` for
stdin), or is a photo of the document (JPEG, PNG), read by `documents.mrz_reader`; the
parsing and its rules are `kycdesk.core.mrz`'s. Exit 0 when the reading is verified (every
check digit passed, and for a photo no doubted character), 1 otherwise or when no MRZ is
found (a sentence on stderr says which). Needs no data folder: it reads the file only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from kycdesk.core.clock import now
from kycdesk.core.mrz import MrzError, MrzReading, parse
from kycdesk.exit_codes import ExitCode

_MAX_TEXT = 4096  # an MRZ is at most 92 characters; a photo or a big file is not one


def run(source: str, as_json: bool, out: TextIO) -> int:
    try:
        text = _read(source)
    except OSError as exc:
        print(f"error: {source} cannot be read ({exc.strerror})", file=sys.stderr)
        return ExitCode.PROBLEMS
    if text is None:
        photo = _read_photo(Path(source))
        if isinstance(photo, str):
            print(f"error: {source} {photo}", file=sys.stderr)
            return ExitCode.PROBLEMS
        reading = photo
    else:
        try:
            reading = parse(text.splitlines(), now().date())
        except MrzError as exc:
            print(f"error: {source} is not an MRZ: {exc}", file=sys.stderr)
            return ExitCode.PROBLEMS
    if as_json:
        print(json.dumps(reading_json(reading), indent=1), file=out)
    else:
        for name, field in reading.fields.items():
            print(f"{name}: {field.value or '-'} ({field.check.value}"
                  f"{', corrected' if field.corrected else ''}"
                  f"{', unclear: not offered' if field.doubted else ''})", file=out)
    return ExitCode.OK if reading.verified else ExitCode.PROBLEMS


def _read_photo(path: Path) -> MrzReading | str:
    """The photo's zone, or why there is none (a sentence following the file's name)."""
    try:
        from PIL import UnidentifiedImageError

        from kycdesk.documents.mrz_reader import MrzNotFoundError, read_photo
    except ImportError:
        return "is not MRZ text, and reading photos needs kycdesk[documents] (numpy, Pillow)"
    try:
        return read_photo(path, now().date()).reading
    except UnidentifiedImageError:
        return "is neither MRZ text nor a photo (JPEG, PNG)"
    except MrzNotFoundError as exc:
        return f"is a photo, but {exc}"
    except OSError as exc:
        return f"cannot be read ({exc})"


def reading_json(reading: MrzReading) -> dict[str, object]:
    return {
        "format": reading.format.value,
        "lines": list(reading.lines),
        "verified": reading.verified,
        "all_check_digits_passed": reading.all_digits_passed,
        "check_digits": reading.digits,
        "fields": {name: {"value": f.value, "raw": f.raw, "check": f.check.value,
                          "corrected": f.corrected, "doubted": f.doubted,
                          "offered": f.offered}
                   for name, f in reading.fields.items()},
    }


def _read(source: str) -> str | None:
    """The file's text, or None when it is not short UTF-8 text (a photo, say)."""
    if source == "-":
        return sys.stdin.read(_MAX_TEXT)
    with Path(source).open("rb") as handle:
        data = handle.read(_MAX_TEXT + 1)
    if len(data) > _MAX_TEXT or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
