"""Typing on a slow disk: keystroke -> durable through the real writer thread.

A verifier types at 20 characters a second; every keystroke is an AppendEdit (the
write-ahead). By default the typing never pauses (the hardest case: the debounced save
never gets a pause); with `--burst 40`, after every 40 keystrokes a 2.2 s pause lets the
debounced save write the whole draft (a 300-field, ~30 KB form), as `models.autosave`
does. Keystrokes are
submitted from the GUI thread on a timer; a keystroke is durable when its result comes
back (results are delivered after the commit). With `--fsync-delay-ms` every fsync of
the process costs that much more (benchmarks/slowfsync.c).

Targets (fsync 50 ms, 20 chars/s): keystroke -> durable p99 <= 150 ms, the queue stays
bounded, <= 20 fsyncs per second of typing.

    python -m benchmarks.typing_durable --fsync-delay-ms 50 [--seconds 60] [--rate 20]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import header, percentile, qt_app, summary_ms, verdict
from benchmarks.save_latency import make_form
from benchmarks.slowdisk import add_fsync_option, apply_fsync_delay, describe, fsync_count
from tests.vaults import make_vault

PAUSE_S = 2.2       # a pause long enough for the debounced save (2 s)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="keystrokes per second")
    parser.add_argument("--burst", type=int, default=0,
                        help="keystrokes between pauses that save the draft (0: no pauses)")
    add_fsync_option(parser, default=50.0)
    args = parser.parse_args()
    apply_fsync_delay(args.fsync_delay_ms)
    app = qt_app()
    from PySide6.QtCore import QEventLoop, Qt, QTimer

    from kycdesk.core.results import Result
    from kycdesk.paths import resolve
    from kycdesk.persistence.commands import AppendEdit, CreateCase, SaveForm
    from kycdesk.persistence.store import LocalStore
    from kycdesk.persistence.writer import WriterThread

    header(f"typing on a slow disk: {args.rate:g} chars/s for {args.seconds:g} s, "
           f"{'pause every ' + str(args.burst) if args.burst else 'no pauses'}, "
           f"{describe(args.fsync_delay_ms)}")
    form = make_form()
    latencies: list[float] = []
    lock = threading.Lock()
    max_pending = 0
    typed = 0
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        paths = resolve(Path(tmp) / "data")
        with LocalStore(paths, vault=make_vault()) as store:
            case_id = store.run(CreateCase())
            store.run(SaveForm(case_id, form))
        thread = WriterThread(paths, vault=make_vault())
        client = thread.client
        loop = QEventLoop()
        client.opened.connect(loop.quit)
        thread.start()
        loop.exec()
        syncs_before = fsync_count()
        commits_before = getattr(thread.writer, "transactions_written", 0)
        start = time.perf_counter()
        deadline = start + args.seconds
        paused_until = 0.0
        typing_time = 0.0

        def durable(submitted: float) -> Callable[[Result[object]], None]:
            def done(result: Result[object]) -> None:  # writer thread, after the commit
                with lock:
                    latencies.append(time.perf_counter() - submitted)
                if not result.ok:
                    print(f"   FAILED WRITE: {result.error}")
            return done

        def keystroke() -> None:
            nonlocal typed, max_pending, paused_until, typing_time
            now = time.perf_counter()
            if now >= deadline:
                timer.stop()
                loop.quit()
                return
            if now < paused_until:
                return
            key = f"step{typed % 7}.field_{typed // 40 % 300:03d}"
            form[key] = f"value {typed}"
            client.writer.submit(AppendEdit(case_id, key, form[key]), durable(now))
            typed += 1
            typing_time += 1 / args.rate
            max_pending = max(max_pending, client.pending_count())
            if args.burst and typed % args.burst == 0:
                paused_until = now + PAUSE_S
                client.writer.submit(SaveForm(case_id, dict(form)))

        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(round(1000 / args.rate))
        timer.timeout.connect(keystroke)
        timer.start()
        loop.exec()
        waited = time.perf_counter()
        while client.pending_count() and time.perf_counter() - waited < 120:
            app.processEvents()  # type: ignore[attr-defined]
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        syncs = fsync_count() - syncs_before
        commits = getattr(thread.writer, "transactions_written", 0) - commits_before
        left = client.pending_count()
        thread.stop()
    with lock:
        samples = list(latencies)
    print(f"   keystrokes: {typed}, durable: {len(samples)}, still queued at the end of "
          f"typing: {left}, largest queue: {max_pending}")
    print(f"   keystroke -> durable: {summary_ms(samples)}")
    print(f"   transactions: {commits} ({commits / elapsed:.1f}/s), fsyncs: {syncs} "
          f"({syncs / elapsed:.1f}/s of wall time, {syncs / typing_time:.1f} per second "
          f"of typing)")
    ok = verdict("keystroke -> durable p99", percentile(samples, 99) * 1000, 150, "ms")
    ok &= verdict("largest queue", max_pending, 50, "requests")
    if args.fsync_delay_ms >= 50:  # on a fast disk one commit per keystroke is right
        ok &= verdict("fsyncs per second of typing", syncs / typing_time, 20, "/s")
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
