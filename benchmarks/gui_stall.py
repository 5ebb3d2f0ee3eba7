"""GUI-thread stall while typing 1,000 characters across fields with autosave running.

A 1 ms QTimer probe records how late the event loop gets to it; keystrokes are sent
through the real widgets (QTest.keyClick -> draft model -> write-ahead -> debounced
save) every 8 ms in bursts of 50 (then a 400 ms pause), cycling through the first
step's text fields, with a 250 ms debounce so a save lands after every burst.
Target: longest event-loop delay < 16 ms (one frame).

With `--sync-photos 50`, the app's sync worker sends a READY case of that many ~4 MB
photos to a local reference server (through the link emulator at 20 MB/s, so the sync
lasts as long as the typing) while the case's 50 thumbnails load in a second tab; the
progress signals that reach the GUI thread are counted.

    .venv/bin/python -m benchmarks.gui_stall [--chars 1000] [--sync-photos 50]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.common import header, percentile, summary_ms, verdict
from tests.vaults import make_vault


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--sync-photos", type=int, default=0)
    args = parser.parse_args()
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from kycdesk.app import KycDeskApp
    from kycdesk.paths import resolve
    from kycdesk.views.case_editor import CaseEditor
    from kycdesk.views.field_widgets import TextEditor

    header(f"GUI stall while typing {args.chars} characters (autosave running"
           + (f", syncing {args.sync_photos} photos)" if args.sync_photos else ")"))
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp, ExitStack() as stack:
        paths = resolve(Path(tmp) / "data")
        ready_case, link_url = None, None
        if args.sync_photos:
            ready_case, link_url = _sync_fixture(Path(tmp), paths, args.sync_photos, stack)
        desk = KycDeskApp(paths, debounce_ms=250, confirm=lambda *_: True,
                          sync_options={"periodic_ms": 3_600_000}, vault=make_vault())
        assert desk.start()
        loop = QEventLoop()
        desk.caseOpened.connect(lambda _c: loop.quit())
        desk.writer_thread.client.opened.connect(  # type: ignore[union-attr]
            lambda _r: QTimer.singleShot(0, desk.new_case))
        loop.exec()
        editor = desk.window.tabs.currentWidget()
        assert isinstance(editor, CaseEditor)
        desk.window.show()
        progress_signals = [0]
        if ready_case is not None and link_url is not None:
            from tests.sync_support import TOKEN

            assert desk.sync is not None
            desk.sync.progress.connect(lambda _p: progress_signals.__setitem__(
                0, progress_signals[0] + 1))
            desk.sync.configure(link_url, TOKEN)
            desk.sync.request_sync()
            if not os.environ.get("BENCH_NO_THUMBS"):
                photos_tab = desk.open_case(ready_case)  # read-only: 50 thumbnails load
                assert photos_tab is not None
                photos_tab.go_to_step(6)
                desk.window.tabs.setCurrentWidget(editor)
        lines = [e.line for key, e in editor.editors.items()
                 if isinstance(e, TextEditor) and key.startswith("applicant.")][:20]
        delays: list[float] = []
        last = [time.perf_counter()]

        def probe() -> None:
            now = time.perf_counter()
            delays.append(max(0.0, now - last[0] - 0.001))
            last[0] = now

        typed = [0]
        text = "The quick brown fox jumps over the lazy dog 0123456789 "

        def type_one() -> None:
            if typed[0] >= args.chars:
                typer.stop()
                QTimer.singleShot(500, loop.quit)  # let the last debounced save land
                return
            line = lines[typed[0] % len(lines)]
            QTest.keyClicks(line, text[typed[0] % len(text)])
            typed[0] += 1
            # Bursts of 50 keys, then a pause longer than the debounce: saves happen
            # while the probe runs, as they do when a verifier stops to read.
            typer.setInterval(400 if typed[0] % 50 == 0 else 8)

        probe_timer = QTimer()
        probe_timer.setTimerType(Qt.TimerType.PreciseTimer)
        probe_timer.setInterval(1)
        probe_timer.timeout.connect(probe)
        typer = QTimer()
        typer.setInterval(8)
        typer.timeout.connect(type_one)
        probe_timer.start()
        typer.start()
        started = time.perf_counter()
        loop.exec()
        elapsed = time.perf_counter() - started
        probe_timer.stop()
        saves = editor.autosave.saves_requested
        desk.shutdown()
    delays = delays[5:]  # the first ticks include starting the timers
    print(f"   typed {args.chars} chars in {elapsed:.1f} s, {saves} debounced saves, "
          f"{args.chars} write-ahead edits")
    print(f"   event-loop delay per 1 ms tick: {summary_ms(delays)}")
    print(f"   ticks delayed > 16 ms: {sum(1 for d in delays if d > 0.016)} of {len(delays)}")
    if args.sync_photos:
        print(f"   sync progress signals that reached the GUI thread: {progress_signals[0]} "
              f"in {elapsed:.1f} s ({progress_signals[0] / elapsed:.1f}/s; target <= 10/s)")
    ok = verdict("longest event-loop delay", max(delays) * 1000, 16, "ms")
    print(f"   (p99 {percentile(delays, 99) * 1000:.2f} ms)")
    del app
    return 0 if ok else 1


def _sync_fixture(root: Path, paths: object, count: int, stack: ExitStack
                  ) -> tuple[str, str]:
    """A READY case of `count` ~4 MB photos, a reference server, a 20 MB/s link to it."""
    from urllib.parse import urlsplit

    from kycdesk.persistence.store import LocalStore
    from tests.fieldlink import LinkProfile, field_link
    from tests.sync_support import make_ready_cases, noisy_jpeg, start_server

    sources = [noisy_jpeg(root / f"p{i}.jpg", (2200, 1650), opacity=0.3, quality=92,
                          seed=300 + i) for i in range(5)]
    with LocalStore(paths, vault=make_vault()) as store:  # type: ignore[arg-type]
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=count)
    server = start_server(root / "server")
    stack.callback(server.stop)
    link = stack.enter_context(field_link(urlsplit(server.base_url).port or 0,
                                          LinkProfile(rate_bps=20_000_000, latency_s=0.005)))
    return case_id, link.url


if __name__ == "__main__":
    raise SystemExit(main())
