"""The device's pull (issue 17): an empty pull's bytes each way; then, for a device holding
10,000 cases, a pull of 50 new changes — the store's apply time (one page, one
transaction, through the persistence writer) and the GUI thread's longest stall while the
app's real sync worker pulls and applies them (a 1 ms QTimer probe in the GUI thread, the
case list open on 10,000 cases).

The 10,000 cases are real assignments made in the office (the server's own service) and
pulled by the device, so the store is what a device holding them has.

    .venv/bin/python -m benchmarks.pull_device [--held 10000] [--changes 50]

Targets: empty pull < 1 kB each way; device apply < 1 s; GUI longest stall < 16 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.common import header, summary_ms, verdict
from tests.vaults import make_vault


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50)
    args = parser.parse_args()
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore
    from kycdesk.persistence.sync_store import standalone_sync_store
    from kycdesk.sync.client import SyncClient
    from kycdesk.sync.engine import SyncEngine
    from kycdesk.sync.pull import PullStep
    from kycdesk.sync.status import PullOutcome, RunResult
    from tests.fieldlink import LinkProfile, field_link
    from tests.sync_support import TOKEN, start_server
    from tests.two_way_support import FAST, assign_batch, lab_device_id

    header(f"device pull: empty pull; {args.changes} changes for a device holding "
           f"{args.held} cases")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kycdesk-pull-") as tmp:
        root = Path(tmp)
        server = start_server(root / "server")
        paths = resolve(root / "device")
        device = lab_device_id(TOKEN)
        try:
            with LocalStore(paths, vault=make_vault()):
                pass  # the device's store exists, empty
            # -- 1. an empty pull, bytes each way (HTTP headers included) ---------------
            with (standalone_sync_store(paths, vault=make_vault()) as store,
                  SyncClient(server.base_url, TOKEN, device_id="bench") as client):
                SyncEngine(store, client, device_id="bench", backoff=FAST).run_once()
            with (field_link(urlsplit(server.base_url).port or 0,
                             LinkProfile(rate_bps=10_000_000, latency_s=0.001)) as link,
                  standalone_sync_store(paths, vault=make_vault()) as store,
                  SyncClient(link.url, TOKEN, device_id="bench") as client):
                step = PullStep(store, client)
                sent_before, got_before = link.bytes_to_server, link.bytes_to_client
                began = time.perf_counter()
                step.pull_pages(PullOutcome())
                empty_s = time.perf_counter() - began
                up, down = (link.bytes_to_server - sent_before,
                            link.bytes_to_client - got_before)
            print(f"   empty pull: {up} B up, {down} B down (HTTP/1.1 headers included), "
                  f"{empty_s * 1000:.1f} ms round trip on 127.0.0.1 through the emulator")
            ok &= verdict("empty pull, bytes up", up, 1000, "B")
            ok &= verdict("empty pull, bytes down", down, 1000, "B")

            # -- 2. the device holds `held` cases (assigned in the office, pulled) ------
            began = time.perf_counter()
            for start in range(0, args.held, 500):
                assign_batch(server, device, min(500, args.held - start), start)
            assigned_s = time.perf_counter() - began
            began = time.perf_counter()
            with (standalone_sync_store(paths, vault=make_vault()) as store,
                  SyncClient(server.base_url, TOKEN, device_id="bench") as client):
                outcome = PullOutcome()
                PullStep(store, client, limit=500).pull_pages(outcome)
            print(f"   setup: {args.held} assignments in {assigned_s:.0f} s; pulled in "
                  f"{outcome.pages} pages in {time.perf_counter() - began:.0f} s")

            # -- 3. the store's apply of one page of `changes` new assignments ----------
            assign_batch(server, device, args.changes, args.held)
            with (standalone_sync_store(paths, vault=make_vault()) as store,
                  SyncClient(server.base_url, TOKEN, device_id="bench") as client):
                token, digest, count = store.pull_position()
                from kycdesk.core.protocol import PullRequest

                reply = client.pull(PullRequest(token=token, held_digest=digest,
                                                held_count=count, limit=500))
                assert len(reply.changes) == args.changes and not reply.more
                began = time.perf_counter()
                applied = store.apply_pull(reply, resync=False)
                apply_s = time.perf_counter() - began
            assert applied == args.changes, applied
            print(f"   apply of {args.changes} assignments (one transaction, token "
                  f"included) on a store holding {args.held} cases: {apply_s * 1000:.0f} ms")
            ok &= verdict("device apply", apply_s, 1.0, "s")

            # -- 4. the GUI thread while the app's own sync worker pulls and applies ----
            assign_batch(server, device, args.changes, args.held + args.changes)
            from kycdesk.app import KycDeskApp

            desk = KycDeskApp(paths, confirm=lambda *_: True,
                              sync_options={"periodic_ms": 3_600_000}, vault=make_vault())
            assert desk.start()
            desk.window.show()
            loop = QEventLoop()
            QTimer.singleShot(1500, loop.quit)  # the window and its case list settle
            loop.exec()
            assert desk.sync is not None
            delays: list[float] = []
            last = [time.perf_counter()]

            def probe() -> None:
                now = time.perf_counter()
                delays.append(max(0.0, now - last[0] - 0.001))
                last[0] = now

            results: list[RunResult] = []

            def finished(result: RunResult) -> None:
                results.append(result)
                loop.quit()

            desk.sync.runFinished.connect(finished)
            timer = QTimer()
            timer.setTimerType(Qt.TimerType.PreciseTimer)
            timer.setInterval(1)
            timer.timeout.connect(probe)
            timer.start()
            desk.sync.configure(server.base_url, TOKEN)
            desk.sync.request_sync(True)
            began = time.perf_counter()
            QTimer.singleShot(120_000, loop.quit)
            loop.exec()
            run_s = time.perf_counter() - began
            QTimer.singleShot(300, loop.quit)  # the last caseChanged reach the list
            loop.exec()
            timer.stop()
            desk.shutdown()
            [result] = results
            assert result.pull is not None
            pulled = result.pull.applied
            delays = delays[5:]
            print(f"   the app's sync worker pulled and applied {pulled} changes in "
                  f"{run_s * 1000:.0f} ms (health check, pull, empty push) with the case "
                  f"list on {args.held + 2 * args.changes} cases")
            print(f"   GUI event-loop delay per 1 ms tick: {summary_ms(delays)}")
            ok &= pulled == args.changes
            ok &= verdict("GUI longest stall while applying", max(delays) * 1000, 16, "ms")
        finally:
            server.stop()
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
