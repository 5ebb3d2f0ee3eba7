"""`kycdesk case mrz FILE [--json]`: what an MRZ says, with which check digits passed.

FILE holds the zone's lines as text (what a desk MRZ swipe reader types, or `-` for
stdin); the parsing and its rules are `kycdesk.core.mrz`'s. Exit 0 when every check digit
passed, 1 when the zone was read but a digit failed or the text is not an MRZ (a sentence
on stderr says which). Needs no data folder: it reads the file and nothing else.
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
        print(f"error: {source} is not MRZ text (reading the MRZ from a photo is not "
              "available in this version)", file=sys.stderr)
        return ExitCode.PROBLEMS
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
                  f"{', corrected' if field.corrected else ''})", file=out)
    return ExitCode.OK if reading.all_digits_passed else ExitCode.PROBLEMS


def reading_json(reading: MrzReading) -> dict[str, object]:
    return {
        "format": reading.format.value,
        "lines": list(reading.lines),
        "all_check_digits_passed": reading.all_digits_passed,
        "check_digits": reading.digits,
        "fields": {name: {"value": f.value, "raw": f.raw, "check": f.check.value,
                          "corrected": f.corrected, "offered": f.offered}
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
