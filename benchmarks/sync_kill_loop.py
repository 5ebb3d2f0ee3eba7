"""`kycdesk sync` SIGKILLed at random moments while photos are on the wire, many times:
every restart must resume from the persisted offsets; the end is every case SYNCED,
nothing twice on the server, and about one copy of the photos over the link.
(The test suite does 10 kills; this does as many as asked.)

    .venv/bin/python -m benchmarks.sync_kill_loop --kills 100
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.common import header, qt_app, verdict
from tests.fieldlink import LinkProfile, field_link
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    assert_server_holds_exactly,
    make_ready_cases,
    noisy_jpeg,
    start_server,
    sync_killing_repeatedly,
)
from tests.vaults import make_vault


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore

    header(f"sync kill loop: {args.kills} SIGKILLs mid-upload, 400 kB/s link")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kycdesk-killloop-") as tmp:
        root = Path(tmp)
        sources = [noisy_jpeg(root / f"p{i}.jpg", (1600, 1200), opacity=0.3, quality=90,
                              seed=60 + i) for i in range(5)]
        server = start_server(root / "server")
        paths = resolve(root / "data")
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
        kills = restarts_from_offset = 0
        began = time.monotonic()
        try:
            cases = max(2, args.kills // 4)
            with LocalStore(paths, vault=make_vault()) as store:
                ids = make_ready_cases(store, sources, cases=cases, images_per_case=3)
                photo_bytes = sum(i.byte_size or 0 for c in ids for i in store.list_images(c))
            with field_link(urlsplit(server.base_url).port or 0,
                            LinkProfile(rate_bps=400_000, latency_s=0.03)) as link:
                cmd = [sys.executable, "-m", "kycdesk", "sync", "--once", "--now",
                       "--data-dir", str(paths.root), "--server", link.url, "--token", TOKEN]
                def note_offsets() -> None:
                    nonlocal restarts_from_offset
                    with LocalStore(paths, vault=make_vault()) as store:
                        restarts_from_offset += any(
                            i.upload_offset for c in ids for i in store.list_images(c))

                kills = sync_killing_repeatedly(cmd, env, rng, args.kills, note_offsets)
                final = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                       timeout=600, check=False)
                received = link.bytes_to_server
            with LocalStore(paths, vault=make_vault()) as store:
                assert_server_holds_exactly(server, store, ids)  # raises on any duplicate
        finally:
            server.stop()
    print(f"   {kills} kills over {cases} cases of 3 photos ({photo_bytes / 1e6:.1f} MB) in "
          f"{time.monotonic() - began:.0f} s; final run exit {final.returncode}; "
          f"{restarts_from_offset} restarts found a persisted offset to resume from")
    print("   every case SYNCED, no duplicate on the server")
    ok = verdict("bytes the server received / photo bytes", received / photo_bytes, 1.1, "x")
    del app
    return 0 if ok and final.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
