"""Many devices against one reference server (embedded back end): each device enrols with a
one-time code, uploads 3 photos of 300 kB through the resumable upload (creation with the
bytes in one request, as the app does for small photos), and submits its case.

The devices run in separate client processes (asyncio + httpx, `--clients` processes,
`--concurrency` devices in flight each); every client reports its CPU time so the report
can show the client was not the bottleneck. Afterwards the server's database and folder
are checked for duplicates (rows and files).

    python -m benchmarks.server_load [--devices 1000] [--clients 2] [--concurrency 16]

The production back end (PostgreSQL + S3, several workers) is not built yet: the
2-workers ÷ 1-worker ratio and the worker-kill run wait for it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import header, percentile

PHOTO_BYTES = 300 * 1024


def _metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


RETRIES = 20


class _Stats:
    def __init__(self) -> None:
        self.timings: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.retries = 0


async def _timed(http: Any, stats: _Stats, kind: str, method: str, url: str,
                 **kwargs: Any) -> Any:
    start = time.perf_counter()
    reply = await http.request(method, url, **kwargs)
    stats.timings.setdefault(kind, []).append(time.perf_counter() - start)
    return reply


async def _enrol(http: Any, code: str, stats: _Stats) -> dict[str, str] | None:
    enrolled = await _timed(http, stats, "enrol", "POST", "/v1/enrolments",
                            json={"code": code, "device_name": "load"})
    if enrolled.status_code != 201:
        stats.errors.append(f"enrol {enrolled.status_code}")
        return None
    return {"Authorization": f"Bearer {enrolled.json()['credential']}"}


async def _upload(http: Any, auth: dict[str, str], case_id: str, body: bytes,
                  stats: _Stats) -> dict[str, str] | None:
    """One photo as the app sends it: whole with its creation; after a cut (a worker
    killed, a reset) ask where it got to and send the rest — resumed, never restarted
    unless the creation itself was lost."""
    import asyncio

    import httpx

    image_id = str(uuid.uuid4())
    digest = hashlib.sha256(body).hexdigest()
    tus = {**auth, "Tus-Resumable": "1.0.0"}
    url: str | None = None
    for attempt in range(RETRIES):
        if attempt:
            stats.retries += 1
            await asyncio.sleep(0.2)
        try:
            if url is None:
                reply = await _timed(http, stats, "upload", "POST", "/v1/uploads",
                                     content=body, headers={
                    **tus, "Upload-Length": str(len(body)),
                    "Content-Type": "application/offset+octet-stream",
                    "Upload-Metadata": _metadata({"case_id": case_id,
                                                  "client_image_id": image_id,
                                                  "sha256": digest})})
                if reply.status_code == 201:
                    url = reply.headers["location"]
            else:
                head = await http.head(url, headers=tus)
                if head.status_code != 200:
                    continue
                reply = head if head.headers.get("kycdesk-server-image-id") else \
                    await _timed(http, stats, "upload", "PATCH", url,
                                 content=body[int(head.headers["upload-offset"]):],
                                 headers={**tus, "Upload-Offset":
                                          head.headers["upload-offset"],
                                          "Content-Type": "application/offset+octet-stream"})
        except httpx.TransportError:
            continue
        server_id = reply.headers.get("kycdesk-server-image-id")
        if server_id:
            return {"client_image_id": image_id, "server_image_id": server_id,
                    "sha256": digest}
        if reply.status_code < 500 and reply.status_code not in (201, 204, 409, 423, 429):
            stats.errors.append(f"upload {reply.status_code}")
            return None
    stats.errors.append("upload: gave up")
    return None


async def _send_case(http: Any, auth: dict[str, str], photos: list[bytes],
                     stats: _Stats) -> None:
    import asyncio

    import httpx

    case_id = str(uuid.uuid4())
    images = []
    for body in photos:
        held = await _upload(http, auth, case_id, body, stats)
        if held is None:
            return
        images.append(held)
    for attempt in range(RETRIES):
        if attempt:
            stats.retries += 1
            await asyncio.sleep(0.2)
        try:
            submitted = await _timed(http, stats, "submit", "PUT",
                                     f"/v1/cases/{case_id}/submission", headers=auth,
                                     json={"revision": 1,
                                           "form": {"applicant.first_name": "Load"},
                                           "images": images,
                                           "client": {"app_version": "load",
                                                      "device_id": "x"}})
        except httpx.TransportError:
            continue
        if submitted.status_code in (200, 201):  # 200: a lost reply, sent again
            return
        if submitted.status_code < 500:
            stats.errors.append(f"submit {submitted.status_code}")
            return
    stats.errors.append("submit: gave up")


def _client(base_url: str, codes: list[str], concurrency: int, queue: Any,
            enrolled: Any) -> None:
    import asyncio

    import httpx

    photos = [os.urandom(PHOTO_BYTES) for _ in range(3)]

    async def run() -> _Stats:
        stats = _Stats()
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
            semaphore = asyncio.Semaphore(concurrency)

            async def enrol(code: str) -> dict[str, str] | None:
                async with semaphore:
                    return await _enrol(http, code, stats)

            devices = [a for a in await asyncio.gather(*(enrol(c) for c in codes)) if a]
            enrolled.set()  # the parent may now break a worker: uploads are next

            async def send(auth: dict[str, str]) -> None:
                async with semaphore:
                    await _send_case(http, auth, photos, stats)

            await asyncio.gather(*(send(auth) for auth in devices))
        return stats

    started_cpu = time.process_time()
    stats = asyncio.run(run())
    queue.put((stats.timings, stats.errors, time.process_time() - started_cpu,
               stats.retries))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="devices in flight per client process")
    parser.add_argument("--backend", choices=["embedded", "production"], default="embedded",
                        help="production: a throwaway PostgreSQL + SeaweedFS S3 server")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--kill-worker-after", type=float, metavar="SECONDS",
                        help="SIGKILL one worker this long after the uploads began")
    args = parser.parse_args()
    from tests.real_parts import start_postgres, start_s3
    from tests.sync_support import REPO_ROOT, Backend, start_server

    header(f"server load: {args.devices} devices x (enrol, 3 x 300 kB photos, submit), "
           f"{args.clients} client processes x {args.concurrency} in flight, "
           f"{args.backend} back end, {args.workers} server process(es)")
    with tempfile.TemporaryDirectory(prefix="kycdesk-load-") as tmp:
        parts: list[Any] = []
        backend = Backend()
        if args.backend == "production":
            postgres = start_postgres()
            s3 = start_s3(Path(tmp) / "s3")
            parts = [postgres, s3]
            s3.client().create_bucket(Bucket="load")
            backend = Backend(postgres.new_database("load"),
                              ("--s3-endpoint", s3.endpoint, "--s3-bucket", "load"),
                              (("AWS_ACCESS_KEY_ID", s3.key),
                               ("AWS_SECRET_ACCESS_KEY", s3.secret)))
        server = start_server(Path(tmp) / "data", log=Path(tmp) / "server.log",
                              backend=backend, extra=["--workers", str(args.workers)])
        try:
            codes = subprocess.run(
                [sys.executable, "-m", "kycdesk_server", "enrol-code", *server.admin_args,
                 "--count", str(args.devices)], capture_output=True, env=server.admin_env,
                text=True, cwd=REPO_ROOT, check=True).stdout.split()
            queue: Any = multiprocessing.Queue()
            shares = [codes[i::args.clients] for i in range(args.clients)]
            server_cpu_before = _tree_cpu(server.process.pid)
            started = time.perf_counter()
            enrolled = [multiprocessing.Event() for _ in shares]
            processes = [multiprocessing.Process(target=_client, args=(
                server.base_url, share, args.concurrency, queue, event))
                for share, event in zip(shares, enrolled, strict=True)]
            for process in processes:
                process.start()
            killed = None
            if args.kill_worker_after is not None:
                for event in enrolled:
                    event.wait()
                time.sleep(args.kill_worker_after)  # uploads under way
                killed = _kill_one_worker(server.process.pid)
            results = [queue.get() for _ in processes]
            for process in processes:
                process.join()
            elapsed = time.perf_counter() - started
            server_cpu = _tree_cpu(server.process.pid) - server_cpu_before
            rows = server.query("SELECT count(*), count(DISTINCT client_image_id) "
                                "FROM images")[0]
            submissions = server.query("SELECT count(*) FROM submission_revisions")[0][0]
            files = len(server.state()["files"])
        finally:
            server.stop()
            for part in parts:
                part.stop()
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    client_cpu = 0.0
    retries = 0
    for part, part_errors, cpu, part_retries in results:
        for kind, samples in part.items():
            timings.setdefault(kind, []).extend(samples)
        errors += part_errors
        client_cpu += cpu
        retries += part_retries
    if killed is not None:
        print(f"   killed worker {killed} during the uploads; client retries/resumes: "
              f"{retries}")
    done = len(timings.get("submit", []))
    megabytes = done * 3 * PHOTO_BYTES / 2**20
    print(f"   wall time {elapsed:.1f} s: {done / elapsed:.1f} devices/s, "
          f"{megabytes / elapsed:.1f} MB/s of photos, "
          f"{sum(len(v) for v in timings.values()) / elapsed:.0f} requests/s")
    for kind in ("enrol", "upload", "submit"):
        samples = [s * 1000 for s in timings.get(kind, [])]
        if samples:
            print(f"   {kind:7} n={len(samples)} p50={percentile(samples, 50):.1f} ms "
                  f"p99={percentile(samples, 99):.1f} ms mean={statistics.fmean(samples):.1f} ms")
    print(f"   errors: {len(errors)} {sorted(set(errors))[:5]}")
    print(f"   stored: {rows[0]} photo rows ({rows[1]} distinct ids), {files} photo files, "
          f"{submissions} submissions -> duplicates: {rows[0] - rows[1]} rows, "
          f"{files - rows[1]} files")
    print(f"   CPU: server {server_cpu:.1f} s ({server_cpu / elapsed:.0%} of one core), "
          f"clients {client_cpu:.1f} s ({client_cpu / elapsed:.0%} of one core, "
          f"{args.clients} processes)")
    ok = not errors and rows[0] == rows[1] == files == 3 * args.devices \
        and submissions == args.devices
    print(f"   target: 0 errors, 0 duplicates -> {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_one_worker(parent: int) -> int:
    """SIGKILL one worker process of the server (its supervisor starts another)."""
    import signal

    for children in Path(f"/proc/{parent}/task").glob("*/children"):
        for kid in children.read_text().split():
            command = Path(f"/proc/{kid}/cmdline").read_bytes()
            if b"resource_tracker" in command:  # multiprocessing's helper, not a worker
                continue
            os.kill(int(kid), signal.SIGKILL)
            return int(kid)
    raise SystemExit("--kill-worker-after needs --workers 2 or more")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the server's workers)."""
    total = _cpu_of(pid)
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for kid in child.read_text().split():
            total += _tree_cpu(int(kid))
    return total


if __name__ == "__main__":
    raise SystemExit(main())
