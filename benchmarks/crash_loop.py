"""The long crash loop: SIGKILL the writer child N times at random points, reopen, check.

Each round uses a fresh data dir; every 10th round keeps killing the same data dir for
10 lives (recovery of recovery). Prints a line per 100 kills and a summary.

    python -m benchmarks.crash_loop --kills 1000 [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, qt_app


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-every", type=int, default=100,
                        help="a progress line every N kills (a run cut short still says "
                             "how far it got)")
    args = parser.parse_args()
    app = qt_app()
    from tests.crash.harness import kill_once, make_sources

    header(f"crash loop: {args.kills} SIGKILLs (encryption on: sealed values, encrypted "
           "photos and thumbnails under the test vault)")
    rng = random.Random(args.seed)
    failures: list[str] = []
    totals = {"acked_edits": 0, "in_flight_applied": 0, "repairs": 0, "lost_and_found": 0,
              "acked_images": 0}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kycdesk-crash-") as tmp:
        sources = make_sources(Path(tmp) / "sources")
        data = Path(tmp) / "data"
        for kill in range(1, args.kills + 1):
            if kill % 10 == 1:
                shutil.rmtree(data, ignore_errors=True)
            outcome = kill_once(data, seed=rng.randrange(2**31), images=sources,
                                max_ops=600, kill_after_lines=rng.randrange(1, 500),
                                kill_delay_s=rng.uniform(0, 0.005))
            totals["acked_edits"] += outcome.acked_edits
            totals["in_flight_applied"] += outcome.applied_edits - outcome.acked_edits
            totals["repairs"] += outcome.repairs
            totals["lost_and_found"] += outcome.lost_and_found
            totals["acked_images"] += outcome.acked_images
            failures += [f"kill {kill}: {f}" for f in outcome.failures]
            if kill % args.report_every == 0:
                print(f"   {kill} kills, {len(failures)} failures, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    elapsed = time.perf_counter() - start
    print(f"   kills: {args.kills}, failures: {len(failures)}, time: {elapsed:.0f} s")
    for key, value in totals.items():
        print(f"   {key}: {value}")
    for failure in failures[:20]:
        print(f"   FAILURE {failure}")
    print(f"   target: 0 failures -> {'OK' if not failures else 'MISSED'}")
    del app
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
