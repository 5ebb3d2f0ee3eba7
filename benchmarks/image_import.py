"""Import of a 12-megapixel JPEG: validate + copy + sha256 + fsync + rename + row.

    python -m benchmarks.image_import [--runs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict
from kycdesk.persistence.commands import AddImage, CreateCase
from tests.vaults import make_vault


def camera_like_jpeg(path: Path, render_photo: object) -> None:
    """A 4000x3000 JPEG of camera-like size: a drawn card plus sensor-like noise (a flat
    drawing compresses to under 1 MB, a real 12 MP photo is several MB)."""
    import os

    from PySide6.QtGui import QImage, QPainter

    render_photo(path, label="ID FRONT", subtitle="benchmark", seed=3,  # type: ignore[operator]
                 size=(4000, 3000), quality=95)
    picture = QImage(str(path))
    noise = QImage(os.urandom(4000 * 3000 * 4), 4000, 3000, QImage.Format.Format_RGB32)
    painter = QPainter(picture)
    painter.setOpacity(0.12)
    painter.drawImage(0, 0, noise)
    painter.end()
    picture.save(str(path), "JPEG", 92)  # type: ignore[call-overload]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.demo import render_photo
    from kycdesk.paths import resolve
    from kycdesk.persistence.imagecheck import ImageLimits, probe
    from kycdesk.persistence.store import LocalStore

    header("12 MP JPEG import")
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        source = Path(tmp) / "camera.jpg"
        camera_like_jpeg(source, render_photo)
        size_mb = source.stat().st_size / 2**20
        print(f"   source: 4000x3000, {size_mb:.1f} MB")
        probes = []
        for _ in range(args.runs):
            start = time.perf_counter()
            probe(source.read_bytes(), ImageLimits())
            probes.append(time.perf_counter() - start)
        with LocalStore(resolve(Path(tmp) / "data"), vault=make_vault()) as store:
            case_id = store.run(CreateCase())
            imports = []
            for _ in range(args.runs):
                start = time.perf_counter()
                store.run(AddImage(case_id, source))
                imports.append(time.perf_counter() - start)
    print(f"   full import: {summary_ms(imports)}")
    print(f"   of which validation (QImageReader probe + 1/64 decode): {summary_ms(probes)}")
    print(f"   throughput p50: {size_mb / percentile(imports, 50):.0f} MB/s")
    ok = verdict("import p50", percentile(imports, 50) * 1000, 500, "ms")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
