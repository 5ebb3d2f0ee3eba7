"""MRZ reading on real photos and scans of public specimen documents (not generated):
every photo in a folder is read by `kycdesk.documents.mrz_reader`, and each document's
format, whether it is verified (every check digit passing: what the app offers), and
the values read are printed, so a person can compare them with the pictures.

    .venv/bin/python -m benchmarks.mrz_specimens FOLDER [--truth TRUTH.json]

The photos are not in the repository (their licences are not ours to grant); the set
measured in docs/benchmarks.md is PassportEye's test data (github.com/konstantint/
PassportEye, `passporteye/mrz/testdata` and `tests/data`, commit d866f1b): 40 specimen
passports, ID cards and visas of 20 countries, many small or photographed at an angle.
`--truth` maps file names to the true values ({"file.jpg": {"surname": "…"}}) to count
wrong values among the verified reads.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from PIL import Image

from benchmarks.common import header, summary_ms
from kycdesk.documents.mrz_reader import MrzNotFoundError, read_image

SHOWN = ("document_number", "surname", "given_names", "birth_date", "expiry_date")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--truth", type=Path)
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text(encoding="utf-8")) if args.truth else {}
    photos = sorted(p for p in args.folder.iterdir()
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    header(f"MRZ from public specimen photos: {len(photos)} in {args.folder}")
    verified = not_found = wrong = withheld = 0
    times: list[float] = []
    today = date(2026, 12, 6)
    for photo in photos:
        started = time.perf_counter()
        with Image.open(photo) as opened:
            try:
                reading = read_image(opened.convert("L"), today).reading
            except MrzNotFoundError:
                times.append(time.perf_counter() - started)
                not_found += 1
                print(f"   {photo.name:24s} zone not found")
                continue
        times.append(time.perf_counter() - started)
        verified += reading.verified
        values = {name: reading.fields[name].value for name in SHOWN if name in reading.fields}
        if reading.verified:
            # What the app would offer (a doubted name is not): wrong ones count.
            wrong += sum(1 for name, value in truth.get(photo.name, {}).items()
                         if reading.fields[name].offered and reading.fields[name].value != value)
            withheld += any(f.doubted for f in reading.fields.values())
        state = "VERIFIED" if reading.verified else "not verified"
        if any(f.doubted for f in reading.fields.values()):
            state += " (names doubted: not offered)"
        print(f"   {photo.name:24s} {reading.format.name} {state} {values}")
    print(f"   verified (every check digit passing; what the app offers): {verified} of "
          f"{len(photos)}; zone not found: {not_found}")
    print(f"   verified reads whose names were doubted (not offered): {withheld}")
    if truth:
        print(f"   wrong values offered from the verified reads (--truth): {wrong}")
    print(f"   time per photo (decode + read): {summary_ms(times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
