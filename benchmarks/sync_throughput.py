"""Sync throughput and memory against the local reference server.

1. 50 photos of ~3 MB (5 cases x 10) synced by the engine, against the same files
   uploaded by a bare httpx loop (one tus creation-with-upload request per photo, as many
   at a time as the engine) to the same server in the same run: ratio, target >= 0.8.
2. Peak RSS of a `kycdesk sync --once` process syncing ~1 MB photos vs ~8 MB photos:
   target no growth with image size (uploads stream from disk in chunks).
3. The same 50 photos with 10 % injected transient failures (503 on uploads and
   submissions, dropped replies): total time and zero duplicates on the server.

    .venv/bin/python -m benchmarks.sync_throughput
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header, qt_app, verdict
from benchmarks.field_sync import ideal_loop
from kycdesk.sync.engine import PARALLEL_UPLOADS
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    assert_server_holds_exactly,
    make_ready_cases,
    noisy_jpeg,
    start_server,
)
from tests.vaults import make_vault


def engine_sync(paths: object, base_url: str, *, ignore_backoff: bool = True) -> tuple[float, int]:
    from kycdesk.persistence.sync_store import standalone_sync_store
    from kycdesk.sync.backoff import Backoff
    from kycdesk.sync.client import SyncClient
    from kycdesk.sync.engine import SyncEngine

    start = time.perf_counter()
    runs = 0
    with (standalone_sync_store(paths, vault=make_vault()) as adapter,  # type: ignore[arg-type]
          SyncClient(base_url, TOKEN, device_id="bench") as client):
        engine = SyncEngine(adapter, client, device_id="bench",
                            backoff=Backoff(base_s=0.0, cap_s=0.0, storage_full_min_s=0))
        while True:
            runs += 1
            result = engine.run_once(ignore_backoff=ignore_backoff)
            if not result.failed or runs > 50:
                break
    return time.perf_counter() - start, runs


# VmHWM (this process image's RSS high-water mark), not ru_maxrss: Linux carries the
# forking parent's peak into the child's ru_maxrss across exec, which would measure this
# benchmark's own image buffers instead of the sync process.
PEAK_RSS_WRAPPER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from kycdesk.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [l for l in Path('/proc/self/status').read_text().splitlines()"
    " if l.startswith('VmHWM')][0].split()[1]\n"
    "print('MAXRSS_KB', hwm)\n"
    "sys.exit(code)\n"
)


def sync_process_peak_rss(data_dir: Path, base_url: str) -> float:
    """Peak RSS of the sync process itself (measured inside it: RUSAGE_CHILDREN would
    also count the server processes this benchmark starts and stops)."""
    out = subprocess.run([sys.executable, "-c", PEAK_RSS_WRAPPER, "sync", "--once", "--now",
                          "--data-dir", str(data_dir), "--server", base_url, "--token", TOKEN],
                         check=True, capture_output=True, text=True, cwd=REPO_ROOT,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen")).stdout
    kib = next(int(line.split()[1]) for line in out.splitlines()
               if line.startswith("MAXRSS_KB"))
    return kib / 1024


def main() -> int:
    app = qt_app()
    import logging

    from kycdesk.paths import resolve
    from kycdesk.persistence.store import LocalStore

    logging.basicConfig(level=logging.ERROR)  # injected faults are expected here
    header("sync throughput, memory and fault tolerance (local reference server)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="kycdesk-bench-") as tmp:
        root = Path(tmp)
        sources = []
        for i in range(5):
            path = root / f"src3mb_{i}.jpg"
            noisy_jpeg(path, (2400, 1800), opacity=0.25, quality=92, seed=i)
            sources.append(path)
        sizes = [p.stat().st_size for p in sources]
        print(f"   photos: 50 x ~{sum(sizes) / len(sizes) / 2**20:.1f} MB")

        server = start_server(root / "server")
        try:
            paths = resolve(root / "data")
            with LocalStore(paths, vault=make_vault()) as store:
                ids = make_ready_cases(store, sources, cases=5, images_per_case=10)
                files = [store.paths.absolute(i.file_path) for c in ids
                         for i in store.list_images(c)]
            total_mb = sum(f.stat().st_size for f in files) / 2**20
            bare = ideal_loop(server.base_url, files, PARALLEL_UPLOADS)
            synced, _ = engine_sync(paths, server.base_url)
            with LocalStore(paths, vault=make_vault()) as store:
                assert_server_holds_exactly(server, store, ids)
            ratio = bare / synced
            print(f"   bare httpx loop (one request per photo, {PARALLEL_UPLOADS} at a time): "
                  f"{bare:.2f} s ({total_mb / bare:.0f} MB/s)")
            print(f"   kycdesk engine (5 cases, list + 50 uploads + 5 submissions): "
                  f"{synced:.2f} s ({total_mb / synced:.0f} MB/s)")
            ok &= verdict("throughput ratio engine/bare", ratio, 0.8, "x",
                          lower_is_better=False)
        finally:
            server.stop()

        rss = {}
        for label, size, opacity in (("small", (1600, 1200), 0.2),
                                     ("large", (4000, 3000), 0.3)):
            folder = root / label
            folder.mkdir()
            photos = []
            for i in range(3):
                path = folder / f"p{i}.jpg"
                noisy_jpeg(path, size, opacity=opacity, quality=92, seed=i)
                photos.append(path)
            server = start_server(folder / "server")
            try:
                data = resolve(folder / "data")
                with LocalStore(data, vault=make_vault()) as store:
                    make_ready_cases(store, photos, cases=2, images_per_case=5)
                rss[label] = sync_process_peak_rss(data.root, server.base_url)
                mb = photos[0].stat().st_size / 2**20
                print(f"   peak RSS of `kycdesk sync --once`, 10 photos of {mb:.1f} MB: "
                      f"{rss[label]:.0f} MB")
            finally:
                server.stop()
        growth = rss["large"] - rss["small"]
        ok &= verdict("peak RSS growth from small to large photos", growth, 16, "MB")

        server = start_server(root / "server-faults")
        try:
            server.set_faults([
                {"endpoint": "upload", "action": "status", "status": 503, "rate": 0.05},
                {"endpoint": "upload", "action": "drop_reply", "rate": 0.05},
                {"endpoint": "submit", "action": "status", "status": 503, "rate": 0.1},
            ], seed=42)
            paths = resolve(root / "data-faults")
            with LocalStore(paths, vault=make_vault()) as store:
                ids = make_ready_cases(store, sources, cases=5, images_per_case=10)
            elapsed, runs = engine_sync(paths, server.base_url)
            with LocalStore(paths, vault=make_vault()) as store:
                assert_server_holds_exactly(server, store, ids)  # raises on any duplicate
            injected = server.state()["injected"]
            print(f"   with ~10 % transient faults ({sum(injected.values())} injected: "
                  f"{injected}): {elapsed:.2f} s in {runs} runs, 0 duplicates, all SYNCED")
        finally:
            server.stop()
    del app
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
