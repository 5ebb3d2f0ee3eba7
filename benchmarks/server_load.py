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


async def _device(http: Any, code: str, photos: list[bytes],
                  timings: dict[str, list[float]], errors: list[str]) -> None:
    async def timed(kind: str, method: str, url: str, **kwargs: Any) -> Any:
        start = time.perf_counter()
        reply = await http.request(method, url, **kwargs)
        timings.setdefault(kind, []).append(time.perf_counter() - start)
        return reply

    enrolled = await timed("enrol", "POST", "/v1/enrolments",
                           json={"code": code, "device_name": "load"})
    if enrolled.status_code != 201:
        errors.append(f"enrol {enrolled.status_code}")
        return
    auth = {"Authorization": f"Bearer {enrolled.json()['credential']}"}
    case_id = str(uuid.uuid4())
    images = []
    for body in photos:
        image_id = str(uuid.uuid4())
        digest = hashlib.sha256(body).hexdigest()
        reply = await timed("upload", "POST", "/v1/uploads", content=body, headers={
            **auth, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(body)),
            "Content-Type": "application/offset+octet-stream",
            "Upload-Metadata": _metadata({"case_id": case_id, "client_image_id": image_id,
                                          "sha256": digest})})
        server_id = reply.headers.get("kycdesk-server-image-id")
        if reply.status_code != 201 or not server_id:
            errors.append(f"upload {reply.status_code}")
            return
        images.append({"client_image_id": image_id, "server_image_id": server_id,
                       "sha256": digest})
    submitted = await timed("submit", "PUT", f"/v1/cases/{case_id}/submission",
                            headers=auth, json={
                                "revision": 1, "form": {"applicant.first_name": "Load"},
                                "images": images,
                                "client": {"app_version": "load", "device_id": "x"}})
    if submitted.status_code != 201:
        errors.append(f"submit {submitted.status_code}")


def _client(base_url: str, codes: list[str], concurrency: int, queue: Any) -> None:
    import asyncio

    import httpx

    photos = [os.urandom(PHOTO_BYTES) for _ in range(3)]

    async def run() -> tuple[dict[str, list[float]], list[str]]:
        timings: dict[str, list[float]] = {}
        errors: list[str] = []
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as http:
            pending = list(codes)

            async def worker() -> None:
                while pending:
                    code = pending.pop()
                    try:
                        await _device(http, code, photos, timings, errors)
                    except httpx.HTTPError as exc:
                        errors.append(type(exc).__name__)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return timings, errors

    started_cpu = time.process_time()
    timings, errors = asyncio.run(run())
    queue.put((timings, errors, time.process_time() - started_cpu))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16,
                        help="devices in flight per client process")
    parser.add_argument("--backend", choices=["embedded", "production"], default="embedded",
                        help="production: a throwaway PostgreSQL + SeaweedFS S3 server")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
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
            processes = [multiprocessing.Process(target=_client, args=(
                server.base_url, share, args.concurrency, queue)) for share in shares]
            for process in processes:
                process.start()
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
    for part, part_errors, cpu in results:
        for kind, samples in part.items():
            timings.setdefault(kind, []).extend(samples)
        errors += part_errors
        client_cpu += cpu
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


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (the server's workers)."""
    total = _cpu_of(pid)
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for kid in child.read_text().split():
            total += _tree_cpu(int(kid))
    return total


if __name__ == "__main__":
    raise SystemExit(main())
