"""The reference server as a real child process on 127.0.0.1, and READY demo cases."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kycdesk.demo import render_photo
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm
from kycdesk.persistence.store import LocalStore
from tests import transitions

TOKEN = "test-device-token"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ServerHandle:
    process: subprocess.Popen[bytes]
    base_url: str
    data_dir: Path
    database_url: str | None = None  # PostgreSQL; None: the data folder's SQLite file
    backend: Backend | None = None

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of the server's database, whichever engine it runs on (checks only)."""
        from kycdesk_server.database import open_database

        database = open_database(self.database_url, self.data_dir)
        try:
            return [tuple(row) for row in database.execute(sql, params).fetchall()]
        finally:
            database.close()

    @property
    def admin_args(self) -> list[str]:
        """`--data-dir …` (and `--database …`, the bucket) for the admin commands."""
        return ["--data-dir", str(self.data_dir),
                *(["--database", self.database_url] if self.database_url else []),
                *(self.backend.s3_args if self.backend else ())]

    @property
    def admin_env(self) -> dict[str, str]:
        return dict(os.environ, **dict(self.backend.env if self.backend else ()))

    def set_faults(self, rules: list[dict[str, Any]], *, latency_ms: int = 0,
                   seed: int = 0) -> None:
        response = httpx.post(f"{self.base_url}/_control/faults", timeout=10,
                              json={"rules": rules, "latency_ms": latency_ms, "seed": seed})
        response.raise_for_status()

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.base_url}/_control/state", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# embedded: SQLite + files; postgres: PostgreSQL + files; production: PostgreSQL + S3.
BACKENDS = ["embedded", "postgres", "production"]


@dataclass(frozen=True)
class Backend:
    database: str | None = None
    s3_args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def backend_for(request: Any) -> Backend:
    """For a fixture parametrized with BACKENDS: a fresh database (and bucket)."""
    if request.param == "embedded":
        return Backend()
    name = f"kyc_{uuid.uuid4().hex[:12]}"
    database = str(request.getfixturevalue("postgres").new_database(name))
    if request.param == "postgres":
        return Backend(database)
    s3 = request.getfixturevalue("s3")
    s3.client().create_bucket(Bucket=name.replace("_", "-"))
    return Backend(database, ("--s3-endpoint", s3.endpoint, "--s3-bucket",
                              name.replace("_", "-")),
                   (("AWS_ACCESS_KEY_ID", s3.key), ("AWS_SECRET_ACCESS_KEY", s3.secret)))


def server_on_each_backend(name: str, **options: Any) -> Any:
    """A module-scoped `server` fixture: the reference server on every back end in turn
    (the same contract suite for all)."""
    import pytest

    @pytest.fixture(scope="module", params=BACKENDS)
    def server(tmp_path_factory: pytest.TempPathFactory,
               request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
        handle = start_server(tmp_path_factory.mktemp(name) / "data",
                              backend=backend_for(request), **options)
        yield handle
        handle.stop()

    return server


def start_server(data_dir: Path, *, max_image_bytes: int | None = None,
                 extra: list[str] | None = None, log: Path | None = None,
                 backend: Backend | None = None) -> ServerHandle:
    """The reference server as a child process on 127.0.0.1 (a free port); its output
    goes to `log` if given (else to the test's own output)."""
    port_file = data_dir.parent / f"{data_dir.name}.port"
    port_file.unlink(missing_ok=True)
    args = [sys.executable, "-m", "kycdesk_server", "--host", "127.0.0.1", "--port", "0",
            "--port-file", str(port_file), "--data-dir", str(data_dir), "--token", TOKEN,
            "--control"]
    if max_image_bytes is not None:
        args += ["--max-image-bytes", str(max_image_bytes)]
    backend = backend or Backend()
    if backend.database is not None:
        args += ["--database", backend.database]
    args += list(backend.s3_args)
    output = log.open("ab") if log is not None else None
    process = subprocess.Popen([*args, *(extra or [])], cwd=REPO_ROOT,
                               env=dict(os.environ, PYTHONPATH=str(REPO_ROOT),
                                        **dict(backend.env)),
                               stdout=output, stderr=subprocess.STDOUT if output else None)
    if output is not None:
        output.close()  # the child has its own descriptor
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"reference server exited with {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise TimeoutError("reference server did not start")
        time.sleep(0.02)  # polling a child's startup file; no signal to wait on
    scheme = "https" if "--ssl-certfile" in (extra or []) else "http"
    return ServerHandle(process, f"{scheme}://127.0.0.1:{port_file.read_text()}", data_dir,
                        backend.database, backend)


def make_ready_cases(store: LocalStore, sources: list[Path], *, cases: int,
                     images_per_case: int) -> list[str]:
    ids = []
    for n in range(cases):
        case_id = store.run(CreateCase(reference_number=f"KYC-SYNC-{n}",
                                    form_id="individual_kyc", form_version="2"))
        store.run(SaveForm(case_id, {"applicant.first_name": f"Sync {n}",
                                  "applicant.last_name": "Test"},
                        applicant_name=f"Sync {n} Test"))
        for i in range(images_per_case):
            store.run(AddImage(case_id, sources[(n + i) % len(sources)],
                            slot=["id_front", "id_back", "selfie", "site"][i % 4]))
        transitions.submit(store, case_id)
        ids.append(case_id)
    return ids


def photo_sources(folder: Path, count: int = 3, size: tuple[int, int] = (1200, 900)
                  ) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"sync_{i}.jpg"
        render_photo(path, label=f"SYNC {i}", subtitle="sync test", seed=100 + i, size=size,
                     quality=92)
        paths.append(path)
    return paths


def assert_server_holds_exactly(server: ServerHandle, store: LocalStore,
                                case_ids: list[str]) -> None:
    """No duplicates, nothing missing, hashes equal, one submission per case."""
    state = server.state()
    by_case: dict[str, list[dict[str, Any]]] = {}
    for image in state["images"]:
        by_case.setdefault(image["case_id"], []).append(image)
    submissions = {s["case_id"]: s for s in state["submissions"]}
    assert len(state["submission_log"]) == len(case_ids), state["submission_log"]
    assert len(state["files"]) == len(state["images"])
    for case_id in case_ids:
        local = store.list_images(case_id)
        held = by_case.get(case_id, [])
        assert sorted((i["client_image_id"], i["sha256"]) for i in held) == \
            sorted((i.client_image_id, i.sha256) for i in local)
        assert case_id in submissions
        case = store.load_case(case_id)
        assert case.status == "SYNCED"
        assert all(i.synced and i.server_image_id for i in local)
        for image in local:  # nothing local was deleted
            assert store.paths.absolute(image.file_path).is_file()


def tus_upload(base_url: str, case_id: str, image_id: str, body: bytes, *,
               declared: bytes | None = None, chunk: int | None = None,
               token: str = TOKEN) -> httpx.Response:
    """Upload a photo the way the protocol says (POST, then PATCHes); returns the last
    reply (the creation's, if that failed)."""
    from kycdesk.core.protocol import OFFSET_CONTENT_TYPE, TUS_VERSION, encode_upload_metadata

    sha = hashlib.sha256(declared if declared is not None else body).hexdigest()
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": TUS_VERSION}
    created = httpx.post(f"{base_url}/v1/uploads", timeout=10, headers={
        **headers, "Upload-Length": str(len(body)),
        "Upload-Metadata": encode_upload_metadata({"case_id": case_id,
                                                   "client_image_id": image_id,
                                                   "sha256": sha})})
    if created.status_code != 201:
        return created
    url = f"{base_url}{created.headers['location']}"
    offset, reply = 0, created
    step = chunk or max(1, len(body))
    while offset < len(body) or offset == 0:
        reply = httpx.patch(url, content=body[offset:offset + step], timeout=10, headers={
            **headers, "Upload-Offset": str(offset), "Content-Type": OFFSET_CONTENT_TYPE})
        if reply.status_code != 204:
            return reply
        offset = int(reply.headers["upload-offset"])
        if offset >= len(body):
            break
    return reply


def noisy_jpeg(path: Path, size: tuple[int, int], *, opacity: float = 0.25,
               quality: int = 90, seed: int = 1) -> Path:
    """A demo photo with seeded noise: it compresses like a camera photo (a plain demo
    card is a fifth of the size), so byte counts are realistic."""
    import random

    from PySide6.QtGui import QImage, QPainter

    render_photo(path, label="FIELD", subtitle="sync test", seed=seed, size=size,
                 quality=95)
    picture = QImage(str(path))
    noise = QImage(random.Random(seed).randbytes(size[0] * size[1] * 4), size[0], size[1],
                   QImage.Format.Format_RGB32)
    painter = QPainter(picture)
    painter.setOpacity(opacity)
    painter.drawImage(0, 0, noise)
    painter.end()
    picture.save(str(path), "JPEG", quality)  # type: ignore[call-overload]
    return path


def sync_killing_repeatedly(cmd: list[str], env: dict[str, str], rng: random.Random,
                            kills: int, after_kill: Callable[[], None],
                            stdin: Path | None = None) -> int:
    """Run `cmd` (a `kycdesk sync --once`) again and again, SIGKILLing it 1-3 s into its
    run, until `kills` kills are done or a run completes with exit 0; `after_kill` looks at
    the store after each kill. `stdin`: a file each run reads (the PIN). Returns the kills
    done. The 1-3 s count from the run's first line of output, not from the process's
    start: start-up (imports, sign-in) takes 1-3 s itself on a loaded machine, and would
    otherwise decide whether any kill lands mid-upload."""
    done = 0
    while done < kills:
        with (stdin or Path(os.devnull)).open("rb") as given:
            process = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, stdin=given, env=env)
        assert process.stdout is not None
        process.stdout.readline()  # the run began ("checking for work…"), or it ended
        # The rest is drained so a full pipe never blocks the run.
        drain = threading.Thread(target=process.stdout.read, daemon=True)
        drain.start()
        try:
            code = process.wait(timeout=rng.uniform(1.0, 3.0))
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            code = None
        drain.join()
        process.stdout.close()
        if code is None:
            done += 1
            after_kill()
        elif code == 0:
            break
    return done
