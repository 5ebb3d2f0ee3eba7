"""Bytes saved by a slot's size policy (`max_megapixels` in the form definition), on a
folder of real photos: each is re-encoded exactly as an import into such a slot does.

    .venv/bin/python -m benchmarks.slot_policy --folder PHOTOS [--megapixels 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.common import header, qt_app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # Real photos only: generated noise compresses nothing like a camera's and flatters.
    parser.add_argument("--folder", type=Path, required=True, help="a folder of photos")
    parser.add_argument("--megapixels", type=float, default=3.0)
    args = parser.parse_args()
    app = qt_app()
    from PySide6.QtGui import QImageReader

    from kycdesk.persistence.images import reencode_within

    header(f"slot size policy: at most {args.megapixels} MP, on {args.folder}")
    limit = int(args.megapixels * 1_000_000)
    before = after = resized = kept = 0
    for photo in sorted(args.folder.iterdir()):
        if photo.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        size = QImageReader(str(photo)).size()
        if not size.isValid():
            continue
        original = photo.stat().st_size
        before += original
        if size.width() * size.height() <= limit:
            after += original
            kept += 1
            continue
        result = reencode_within(photo.read_bytes(), limit, keep_if_not_smaller=original)
        stored = original if result is None else len(result)
        after += stored
        resized += result is not None
        kept += result is None
        print(f"   {photo.name}: {size.width()}x{size.height()}, {original / 1e6:.2f} MB "
              f"-> {stored / 1e6:.2f} MB")
    saved = before - after
    print(f"   {resized + kept} photos ({resized} re-encoded, {kept} kept as taken)")
    print(f"   {before / 1e6:.1f} MB as taken -> {after / 1e6:.1f} MB stored: "
          f"{saved / 1e6:.1f} MB saved ({100 * saved / max(before, 1):.0f} %)")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
