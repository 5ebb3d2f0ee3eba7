"""The pull on the server (issue 17), over real HTTP on 127.0.0.1: the reference server
runs as its own process on a data folder where one tablet holds 10,000 cases (delivered
through its feed, as assignments are) and other tablets have feeds of their own.

- empty pull: bytes each way (body, and body + headers as HTTP/1.1 sends them) and the
  server's time (its access log's per-request time) and the round trip;
- a pull of 50 changes (returns, decisions, corrections written into the tablet's feed
  between pulls, as the office writes them) for the tablet holding 10,000 cases: server
  p50/p95 (target p95 < 100 ms) and the round trip.

    python -m benchmarks.pull_server [--held 10000] [--repeat 30] [--postgres]

`--postgres`: the store on a throwaway PostgreSQL cluster (tests/real_parts.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import header, percentile, verdict
from kycdesk.core.protocol import PullRequest
from kycdesk_server import feed
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.storage import ServerStore

TOKEN = "bench-tablet-token"
REPO = Path(__file__).resolve().parents[1]
_SERVER_TIME = re.compile(r"POST /v1/pull 200 in=\d+ out=\d+ ([0-9.]+)s")
BATCH = 2000


def assigned(n: int) -> dict[str, Any]:
    return {"at": "2026-12-01T09:00:00.000Z", "by": "sue", "reference_number": f"KYC-{n}",
            "applicant_name": "Ada Lovelace", "address": "1 Main Street",
            "due_date": "2026-12-31", "form_id": "individual_kyc", "form_version": "2",
            "form": {"applicant.first_name": "Ada"}, "prefilled": ["applicant.first_name"]}


def change(n: int) -> dict[str, Any]:
    """A return with two comments: a typical change a tablet pulls."""
    return {"at": "2026-12-02T09:00:00.000Z", "by": "anna", "revision": 1,
            "decision": "returned", "note": "Two things to fix",
            "comments": [{"field_key": "applicant.last_name", "text": f"Spell it as on "
                          f"the passport ({n})", "author": "anna", "at": "2026-12-02"},
                         {"field_key": "identity.document_number", "text": "Blurred",
                          "author": "anna", "at": "2026-12-02"}]}


def fill(store: ServerStore, device_id: str, held: int, others: int) -> list[str]:
    """`held` cases in the tablet's feed (and held set), `others` per other tablet."""
    cases = [str(uuid.UUID(int=n + 1)) for n in range(held)]
    for start in range(0, held, BATCH):
        with store.db.transaction():
            for n in range(start, min(held, start + BATCH)):
                feed.append(store.db, device_id, "assigned", cases[n], assigned(n),
                            held_delta=+1)
    registry = DeviceRegistry(store.db)
    for t in range(5):
        other = registry.system_device(f"dev-other-{t}", f"tablet {t}").id
        with store.db.transaction():
            for n in range(others):
                feed.append(store.db, other, "assigned", str(uuid.uuid4()), assigned(n),
                            held_delta=+1)
    return cases


@contextlib.contextmanager
def server(data: Path, database: str | None, log: Path) -> Iterator[str]:
    port_file = data.parent / "port"
    args = [sys.executable, "-m", "kycdesk_server", "--host", "127.0.0.1", "--port", "0",
            "--port-file", str(port_file), "--data-dir", str(data), "--token", TOKEN]
    if database:
        args += ["--database", database]
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start: " + log.read_text()[-2000:])
            time.sleep(0.05)  # the child writes its port file when it listens
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_times(log: Path) -> list[float]:
    return [float(m.group(1)) for m in _SERVER_TIME.finditer(log.read_text())]


def header_bytes(headers: httpx.Headers) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.raw) + 2


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--held", type=int, default=10_000)
    parser.add_argument("--others", type=int, default=2_000,
                        help="cases in each of 5 other tablets' feeds")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    header(f"pull on the server: a tablet holding {args.held:,} cases, pulls of "
           f"{args.changes} changes, over HTTP on 127.0.0.1")
    with tempfile.TemporaryDirectory(prefix="kycdesk-pull-") as tmp, \
            contextlib.ExitStack() as stack:
        data = Path(tmp) / "data"
        database = None
        if args.postgres:
            sys.path.insert(0, str(REPO))
            from tests.real_parts import start_postgres

            postgres = start_postgres()
            stack.callback(postgres.stop)
            database = postgres.new_database("pull_bench")
        print(f"   back end: {'PostgreSQL' if database else 'SQLite (embedded)'}")
        store = ServerStore(data, database)
        device_id = DeviceRegistry(store.db).register_lab_token(TOKEN).id
        started = time.perf_counter()
        cases = fill(store, device_id, args.held, args.others)
        print(f"   filled {args.held:,} held + {5 * args.others:,} other feed rows in "
              f"{time.perf_counter() - started:.1f} s")
        digest, count = feed.digest_of(cases), len(cases)
        token = f"f1.{feed.held(store.db, device_id).feed_seq}.0"
        log = Path(tmp) / "server.log"
        base = stack.enter_context(server(data, database, log))
        client = stack.enter_context(httpx.Client(
            base_url=base, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}))

        def pull(token: str) -> tuple[httpx.Response, bytes, float]:
            body = PullRequest(token=token, held_digest=digest, held_count=count,
                               limit=200).model_dump_json(exclude_defaults=True).encode()
            began = time.perf_counter()
            reply = client.post("/v1/pull", content=body,
                                headers={"Content-Type": "application/json"})
            elapsed = time.perf_counter() - began
            assert reply.status_code == 200, reply.text
            return reply, body, elapsed

        pull(token)  # warm-up (connections, first statements)
        empty_rtt: list[float] = []
        skip = len(server_times(log))
        for _ in range(args.repeat):
            reply, body, elapsed = pull(token)
            assert reply.json()["changes"] == []
            empty_rtt.append(elapsed)
        empty_server = server_times(log)[skip:]
        sent_total = len(body) + header_bytes(reply.request.headers) + \
            len("POST /v1/pull HTTP/1.1\r\n")
        received_total = len(reply.content) + header_bytes(reply.headers) + \
            len("HTTP/1.1 200 OK\r\n")
        print(f"   empty pull: request body {len(body)} B ({sent_total} B with headers), "
              f"reply body {len(reply.content)} B ({received_total} B with headers)")
        print(f"   empty pull: server p50 {percentile(empty_server, 50) * 1000:.1f} ms "
              f"p95 {percentile(empty_server, 95) * 1000:.1f} ms; round trip p50 "
              f"{percentile(empty_rtt, 50) * 1000:.1f} ms")
        ok = verdict("empty pull, bytes each way (with headers)",
                     max(sent_total, received_total), 1024, "B")

        rtt: list[float] = []
        sizes: list[int] = []
        skip = len(server_times(log))
        for r in range(args.repeat):
            with store.db.transaction():
                for n in range(args.changes):
                    feed.append(store.db, device_id, "returned",
                                cases[(r * args.changes + n) % len(cases)], change(n))
            reply, _, elapsed = pull(token)
            page = reply.json()
            assert len(page["changes"]) == args.changes and not page["more"]
            token = page["token"]
            rtt.append(elapsed)
            sizes.append(len(reply.content))
        times = server_times(log)[skip:]
        print(f"   pull of {args.changes} changes: server p50 "
              f"{percentile(times, 50) * 1000:.1f} ms p95 {percentile(times, 95) * 1000:.1f}"
              f" ms max {max(times) * 1000:.1f} ms; round trip p50 "
              f"{percentile(rtt, 50) * 1000:.1f} ms p95 {percentile(rtt, 95) * 1000:.1f} ms;"
              f" reply {sizes[0] / 1024:.1f} KiB")
        ok &= verdict(f"pull of {args.changes} changes at {args.held:,} held, server p95",
                      percentile(times, 95) * 1000, 100, "ms")
        store.close()
        print(json.dumps({"empty_bytes": [sent_total, received_total],
                          "p95_ms": round(percentile(times, 95) * 1000, 1)}))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
