"""MRZ reading on public specimen photos (scans and photos of real specimen documents, not
generated): how many are fully read, and whether anything offered to the form is wrong.

    git clone https://github.com/konstantint/PassportEye /tmp/PassportEye
    mkdir /tmp/mrz-public && cp /tmp/PassportEye/passporteye/mrz/testdata/* \\
        /tmp/PassportEye/tests/data/passport-* /tmp/mrz-public/
    .venv/bin/python -m benchmarks.mrz_public /tmp/mrz-public

The photos are not in this repository (their licence is theirs); the lines they hold, for
the photos the reader verifies, are in `benchmarks/data/mrz_public_truth.json`, typed from
the photos by eye. A verified photo with no truth recorded is reported, to be checked and
added. Targets: wrong values offered 0 (the read share is reported, not targeted: many of
these photos are thumbnails of 300 px or less, or show the zone under a hologram).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from benchmarks.common import header, summary_ms, verdict
from kycdesk.core.mrz import parse
from kycdesk.documents.mrz_reader import MrzNotFoundError, read_photo

TRUTH = Path(__file__).with_name("data") / "mrz_public_truth.json"
TODAY = date(2026, 12, 6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    truth = {name: lines for name, lines in json.loads(TRUTH.read_text("utf-8")).items()
             if not name.startswith("_")}
    photos = sorted(p for p in args.folder.iterdir()
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    header(f"MRZ from public specimen photos: {len(photos)} in {args.folder}")
    verified = wrong = offered = not_found = 0
    unknown: list[str] = []
    times: list[float] = []
    for photo in photos:
        started = time.perf_counter()
        try:
            reading = read_photo(photo, TODAY).reading
        except MrzNotFoundError:
            not_found += 1
            continue
        finally:
            times.append(time.perf_counter() - started)
        if not reading.verified:
            continue
        verified += 1
        if photo.name not in truth:
            unknown.append(photo.name)
            continue
        right = parse(truth[photo.name], TODAY).fields
        for name, field in reading.offered().items():
            offered += 1
            if field.value != right[name].value:
                wrong += 1
                print(f"   WRONG {photo.name}: {name} offered {field.value!r}, "
                      f"the document says {right[name].value!r}")
    print(f"   zone not found: {not_found}; time per photo: {summary_ms(times)}")
    print(f"   fully read (every digit passing, no doubt): {verified} of {len(photos)}; "
          f"values offered from them: {offered}")
    if unknown:
        print(f"   verified but no truth recorded (check by eye, add to {TRUTH.name}): "
              + ", ".join(unknown))
    ok = verdict("wrong values offered", wrong, 0, "")
    return 0 if ok and not unknown else 1


if __name__ == "__main__":
    raise SystemExit(main())
