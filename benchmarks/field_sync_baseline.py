"""The sync engine of an older checkout, over the same emulated link as
`benchmarks.field_sync --profile rtt200` (200 ms RTT, 50 photos of ~340 kB).

Prints the old engine's time for one run, to compare with this tree's engine:

    git worktree add /tmp/kycdesk-old bd47583
    .venv/bin/python -m benchmarks.field_sync_baseline --tree /tmp/kycdesk-old

The old tree's server and engine run in a child process (its own modules); the link
emulator and the photos come from this tree.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.common import header, qt_app
from tests.fieldlink import LinkProfile, field_link
from tests.sync_support import noisy_jpeg

CHILD = textwrap.dedent("""
    import os, sys, time, subprocess, json
    from pathlib import Path
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore
    from kycdesk.persistence.sync_store import SyncStoreAdapter
    from kycdesk.persistence.records import CaseStatus
    from kycdesk.sync.client import SyncClient
    from kycdesk.sync.engine import SyncEngine
    root, sources, link_url = Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    paths = resolve(root / "data")
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.create_case(reference_number="OLD", form_id="individual_kyc",
                                    form_version="2")
        store.save_form(case_id, {"applicant.first_name": "Old"})
        for i in range(50):
            store.add_image(case_id, Path(sources[i % len(sources)]), slot="site")
        store.set_status(case_id, CaseStatus.READY)
    adapter = SyncStoreAdapter(paths)
    with SyncClient(link_url, "bench-token", device_id="old") as client:
        start = time.perf_counter()
        result = SyncEngine(adapter, client, device_id="old").run_once()
        print("OLD_ENGINE_S", time.perf_counter() - start, len(result.synced))
""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, required=True, help="an older checkout")
    args = parser.parse_args()
    app = qt_app()
    header(f"old engine at {args.tree} over 200 ms RTT, 50 x ~340 kB photos")
    with tempfile.TemporaryDirectory(prefix="kycdesk-baseline-") as tmp:
        root = Path(tmp)
        sources = [noisy_jpeg(root / f"s{i}.jpg", (1100, 825), opacity=0.25, quality=85,
                              seed=700 + i) for i in range(5)]
        env = dict(os.environ, PYTHONPATH=str(args.tree), QT_QPA_PLATFORM="offscreen")
        port_file = root / "server.port"
        server = subprocess.Popen(
            [sys.executable, "-m", "kycdesk_server", "--port", "0", "--port-file",
             str(port_file), "--data-dir", str(root / "server"), "--token", "bench-token"],
            env=env, cwd=args.tree)
        try:
            while not port_file.exists():
                if server.poll() is not None:
                    raise RuntimeError("the old server did not start")
                time.sleep(0.05)  # polling a child's startup file: there is no signal
            port = int(port_file.read_text())
            with field_link(port, LinkProfile(rate_bps=50_000_000, latency_s=0.1)) as link:
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(root), str([str(s) for s in sources])
                     .replace("'", '"'), link.url],
                    env=env, cwd=args.tree, capture_output=True, text=True, check=True)
        finally:
            server.terminate()
            server.wait(10)
    line = next(x for x in out.stdout.splitlines() if x.startswith("OLD_ENGINE_S"))
    seconds, synced = float(line.split()[1]), int(line.split()[2])
    print(f"   old engine: {seconds:.2f} s for 50 photos ({synced} case synced)")
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
