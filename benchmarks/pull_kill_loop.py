"""`kycdesk sync` SIGKILLed again and again while it pulls and applies work from the
office (issue 17): after every kill the device's store is checked — the held-cases digest
agrees with the cases held, every case is there once with its prefill recorded once, and
the token stands exactly where the held set is (the server's assignments up to it). At
the end every assignment is on the device and a last pull applies nothing and needs no
resync. (The test suite does 6 kills: tests/test_pull_kill.py.)

    .venv/bin/python -m benchmarks.pull_kill_loop --kills 200
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
from tests.vaults import make_vault


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--rate", type=float, default=50_000, help="link bytes/s")
    args = parser.parse_args()
    app = qt_app()
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore
    from tests.fieldlink import LinkProfile, field_link
    from tests.sync_support import REPO_ROOT, TOKEN, start_server
    from tests.two_way_support import check_pull_state, lab_device_id, pull_kill_loop

    header(f"pull kill loop: {args.kills} SIGKILLs during pull-and-apply, "
           f"{args.rate / 1000:.0f} kB/s link")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="kycdesk-pullkill-") as tmp:
        root = Path(tmp)
        server = start_server(root / "server")
        paths = resolve(root / "device")
        began = time.monotonic()
        try:
            with LocalStore(paths, vault=make_vault()):
                pass
            with field_link(urlsplit(server.base_url).port or 0,
                            LinkProfile(rate_bps=args.rate, latency_s=0.03)) as link:
                result = pull_kill_loop(server, paths, TOKEN, kills=args.kills, rng=rng,
                                        link=link)
            env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
            final = subprocess.run(
                [sys.executable, "-m", "kycdesk", "sync", "--once", "--now", "--data-dir",
                 str(paths.root), "--server", server.base_url, "--token", TOKEN],
                capture_output=True, text=True, env=env, timeout=900, check=False)
            seq = check_pull_state(server, lab_device_id(TOKEN), paths)
            [(total,)] = server.query("SELECT count(*) FROM assignments WHERE device_id = ?",
                                      (lab_device_id(TOKEN),))
            [(last,)] = server.query("SELECT max(feed_seq) FROM assignments "
                                     "WHERE device_id = ?", (lab_device_id(TOKEN),))
        finally:
            server.stop()
    print(f"   {result.kills} kills in {time.monotonic() - began:.0f} s; "
          f"{result.assigned} cases assigned meanwhile; {result.checks} store checks after "
          f"kills, all consistent; the token moved between {result.mid_page} of them")
    print(f"   final run exit {final.returncode}; device at feed {seq} of {last}; "
          f"{total} cases assigned, all held once")
    ok = verdict("kills", result.kills, args.kills, "", lower_is_better=False)
    del app
    return 0 if ok and final.returncode == 0 and seq == last else 1


if __name__ == "__main__":
    raise SystemExit(main())
