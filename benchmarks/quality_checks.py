"""Retake checks (blur, glare, darkness, document size) of a 12 MP JPEG, as import and
capture run them: scaled decode to ~1,000 px + grey + the numpy checks.

    python -m benchmarks.quality_checks [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict


def twelve_megapixels(path: Path, seed: int) -> None:
    """A generated ID photo at 4000x3000 with sensor-like noise (several MB, as a camera's)."""
    import numpy as np
    from PySide6.QtGui import QImage

    from tests.quality_images import id_photo

    grey = id_photo(4000, 3000, seed=seed).astype(np.int16)
    noise = np.frombuffer(os.urandom(grey.size), np.uint8).reshape(grey.shape) % 13
    rgb = np.clip(grey + noise - 6, 0, 255).astype(np.uint8)
    colour = np.ascontiguousarray(np.dstack([rgb, rgb, rgb]))
    image = QImage(colour.data, 4000, 3000, 12000, QImage.Format.Format_RGB888).copy()
    if not image.save(str(path), "JPEG", 92):  # type: ignore[call-overload]
        raise RuntimeError("could not write the generated photo")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.core.photo_quality import assess
    from kycdesk.persistence.quality import CHECK_EDGE, check_photo, grey_of
    from kycdesk.persistence.thumbnails import decode_scaled

    header("Retake checks of a 12 MP JPEG")
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        photos = [Path(tmp) / f"id_{seed}.jpg" for seed in range(3)]
        for seed, photo in enumerate(photos):
            twelve_megapixels(photo, seed)
        size_mb = sum(p.stat().st_size for p in photos) / len(photos) / 2**20
        print(f"   source: 4000x3000 JPEG q92, {size_mb:.1f} MB; checked at {CHECK_EDGE} px")
        totals, decodes, checks = [], [], []
        for run in range(args.runs):
            photo = photos[run % len(photos)]
            start = time.perf_counter()
            quality = check_photo(photo)
            totals.append(time.perf_counter() - start)
            assert quality is not None and quality.problems == (), quality
            start = time.perf_counter()
            grey = grey_of(decode_scaled(str(photo), CHECK_EDGE))
            decodes.append(time.perf_counter() - start)
            start = time.perf_counter()
            assess(grey)
            checks.append(time.perf_counter() - start)
    print(f"   whole check: {summary_ms(totals)}")
    print(f"   of which scaled decode + grey: {summary_ms(decodes)}")
    print(f"   of which numpy checks: {summary_ms(checks)}")
    ok = verdict("check p95", percentile(totals, 95) * 1000, 100, "ms")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
