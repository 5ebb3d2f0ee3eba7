"""Open a case with 200 photos: time to a usable form, time until every thumbnail is
decoded and shown, and the memory it costs.

Targets: usable form < 100 ms, all thumbnails < 2 s, RSS growth < 150 MB.

    .venv/bin/python -m benchmarks.open_case [--photos 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, verdict
from benchmarks.image_import import camera_like_jpeg
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm
from tests.vaults import make_vault


def rss_mb() -> float:
    statm = Path(f"/proc/{os.getpid()}/statm").read_text()
    return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--cold", action="store_true",
                        help="delete the stored thumbnails first (data from before they "
                             "existed, or after a crash): every photo is decoded")
    args = parser.parse_args()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from kycdesk.app import KycDeskApp
    from kycdesk.demo import SLOTS, render_photo
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore

    header(f"open a case with {args.photos} photos"
           + (" (cold: no stored thumbnails)" if args.cold else ""))
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        paths = resolve(Path(tmp) / "data")
        sources = []
        for i in range(4):
            source = Path(tmp) / f"src{i}.jpg"
            camera_like_jpeg(source, render_photo)
            sources.append(source)
        with LocalStore(paths, vault=make_vault()) as store:
            case_id = store.run(CreateCase(reference_number="KYC-BENCH",
                                        form_id="individual_kyc", form_version="2"))
            store.run(SaveForm(case_id, {"applicant.first_name": "Bench"}))
            for n in range(args.photos):
                store.run(AddImage(case_id, sources[n % len(sources)],
                                slot=SLOTS[n % len(SLOTS)][0]))
        print(f"   photos: {args.photos} camera-like JPEGs of 4000x3000 "
              f"({sources[0].stat().st_size / 2**20:.1f} MB each)")
        if args.cold:
            for thumbs in paths.cases_dir.glob("*/thumbs"):
                for thumb in thumbs.iterdir():
                    thumb.unlink()
        desk = KycDeskApp(paths, confirm=lambda *_: True, vault=make_vault())
        assert desk.start()
        loop = QEventLoop()
        desk.writer_thread.client.opened.connect(lambda _r: loop.quit())  # type: ignore[union-attr]
        loop.exec()
        while desk.reader is None:
            app.processEvents()
        desk.window.show()
        app.processEvents()
        before = rss_mb()
        start = time.perf_counter()
        editor = desk.open_case(case_id)
        assert editor is not None
        app.processEvents()
        usable = time.perf_counter() - start
        editor.go_to_step(6)
        for model in editor.session.photos.values():  # as the views do when all are visible
            for image in model.images:
                model.loader.request(image.id, image.file_path)
        done = QEventLoop()

        def check() -> None:
            if all(desk.loader.cached(i.id) is not None
                   for m in editor.session.photos.values() for i in m.images):
                done.quit()

        poll = QTimer()
        poll.timeout.connect(check)
        poll.start(5)
        done.exec()
        poll.stop()
        app.processEvents()
        thumbnails = time.perf_counter() - start
        growth = rss_mb() - before
        desk.shutdown()
    print(f"   usable form: {usable * 1000:.1f} ms")
    print(f"   all {args.photos} thumbnails decoded: {thumbnails:.2f} s")
    print(f"   RSS growth: {growth:.0f} MB")
    ok = verdict("usable form", usable * 1000, 100, "ms")
    ok &= verdict("all thumbnails", thumbnails, 2.0, "s")
    ok &= verdict("RSS growth", growth, 150, "MB")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
