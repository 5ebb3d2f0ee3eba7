"""Real photos through kycdesk's import, checked against a reference reader (Pillow).

For every file of a folder: imported exactly as the app imports (copy, completeness walk,
decode, EXIF, orientation) into a throwaway store. Prints acceptance by class (the class
is the part of the file name before its last "__", e.g. `ianare__jpg__gps`), rejections
with their reason, orientation agreement (recorded width x height vs Pillow's size after
`exif_transpose`), EXIF agreement (GPS within 1e-4 degrees, DateTimeOriginal), and how
many located photos got a place name (issue 22: every one should), with the names.

    .venv/bin/python -m benchmarks.photo_corpus --folder <photos>
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from benchmarks.common import header, qt_app
from tests.vaults import make_vault

EXIF_GPS, EXIF_IFD = 0x8825, 0x8769
DATETIME_ORIGINAL, ORIENTATION = 0x9003, 0x0112


def reference(path: Path) -> dict[str, object] | None:
    """What Pillow reads: displayed size, orientation, GPS, DateTimeOriginal."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            exif = image.getexif()
            upright = ImageOps.exif_transpose(image)
            size = upright.size
            gps = exif.get_ifd(EXIF_GPS)
            when = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL)
    except Exception:  # the reference cannot read it either
        return None
    lat = _degrees(gps.get(2), gps.get(1))
    lon = _degrees(gps.get(4), gps.get(3))
    return {"size": size, "orientation": exif.get(ORIENTATION, 1), "lat": lat, "lon": lon,
            "when": when.strip("\x00 ") if isinstance(when, str) else None}


def _degrees(value: object, ref: object) -> float | None:
    try:
        d, m, s = (float(x) for x in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = d + m / 60 + s / 3600
    return -result if isinstance(ref, str) and ref.upper() in ("S", "W") else result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.core.errors import StoreError
    from kycdesk.paths import resolve
    from kycdesk.persistence.commands import AddImage, CreateCase
    from kycdesk.persistence.store import LocalStore

    header(f"photo corpus: {args.folder}")
    files = sorted(p for p in args.folder.iterdir()
                   if p.is_file() and p.suffix.lower() not in (".md", ".tsv", ".txt"))
    accepted: Counter[str] = Counter()
    total: Counter[str] = Counter()
    rejected: dict[str, list[str]] = defaultdict(list)
    rotated = rotated_ok = gps_checked = gps_ok = when_checked = when_ok = 0
    located: list[str] = []
    unnamed: list[str] = []
    disagreements: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, LocalStore(resolve(Path(tmp)),
                                                          vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        for photo in files:
            kind = photo.name.rsplit("__", 1)[0]
            total[kind] += 1
            ref = reference(photo)
            try:
                image = store.run(AddImage(case_id, photo))
            except StoreError as exc:
                rejected[kind].append(f"{photo.name}: {exc}"
                                      + ("" if ref is None else " (Pillow reads it)"))
                continue
            accepted[kind] += 1
            if image.location.known:
                if image.location.address:
                    located.append(f"{photo.name}: {image.location.address} "
                                   f"({image.location.address_source})")
                else:
                    unnamed.append(photo.name)
            if ref is None:
                continue
            if ref["orientation"] not in (1, None):
                rotated += 1
                if (image.width, image.height) == ref["size"]:
                    rotated_ok += 1
                else:
                    disagreements.append(f"{photo.name}: size {image.width}x{image.height}, "
                                         f"Pillow {ref['size']}")
            if ref["lat"] is not None and ref["lon"] is not None:
                gps_checked += 1
                lat, lon = image.location.latitude, image.location.longitude
                ref_lat, ref_lon = float(str(ref["lat"])), float(str(ref["lon"]))
                if lat is not None and lon is not None and abs(lat - ref_lat) < 1e-4 \
                        and abs(lon - ref_lon) < 1e-4:
                    gps_ok += 1
                else:
                    disagreements.append(f"{photo.name}: GPS {lat},{lon}, Pillow "
                                         f"{ref['lat']},{ref['lon']}")
            if ref["when"]:
                when_checked += 1
                ours = (image.captured_at or "") if image.captured_at_source == "exif" else ""
                theirs = str(ref["when"]).replace(":", "-", 2).replace(" ", "T")
                if ours.startswith(theirs[:16]) or ours == theirs:
                    when_ok += 1
                else:
                    disagreements.append(f"{photo.name}: taken {ours or '-'}, Pillow "
                                         f"{ref['when']}")
    print(f"   {sum(accepted.values())} of {len(files)} photos accepted")
    for kind in sorted(total):
        print(f"     {kind}: {accepted[kind]} of {total[kind]}")
    for kind, lines in sorted(rejected.items()):
        for line in lines:
            print(f"     rejected ({kind}) {line}")
    print(f"   orientation: {rotated_ok} of {rotated} rotated photos recorded upright")
    print(f"   GPS agrees with Pillow: {gps_ok} of {gps_checked}; "
          f"DateTimeOriginal agrees: {when_ok} of {when_checked}")
    for line in disagreements:
        print(f"     differs: {line}")
    print(f"   place names: {len(located)} of {len(located) + len(unnamed)} located photos "
          f"named (target: all)")
    for line in located:
        print(f"     {line}")
    for name in unnamed:
        print(f"     NO PLACE: {name}")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
