"""Real parts for the update tests: a built Linux bundle (N) and a copy of it stamped N+1
with a changed file, a signed release repository, and a loopback HTTP server that honours
Range requests (resumed downloads) and can be pointed at another repository folder
(tampered, rolled back, expired, signed with the wrong key).

The bundle comes from env KYCDESK_BUNDLE_DIR (CI exports it after `dev.py bundle`); without
it one is built once into a cache keyed by the hash of the sources that go into it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from kycdesk.update.pointer import InstallRoot
from tools import release

ROOT = Path(__file__).resolve().parent.parent
BUNDLE_ENV = "KYCDESK_BUNDLE_DIR"
CHANGED_FILE = "_internal/resources/geo/NOTICE.txt"
VERSION_N = "1.0.0"
VERSION_N1 = "1.0.1"


def _source_hash() -> str:
    digest = hashlib.sha256()
    files = sorted([*ROOT.glob("kycdesk/**/*.py"), *ROOT.glob("resources/**/*"),
                    ROOT / "kycdesk.spec", ROOT / "tools" / "build_bundle.py",
                    ROOT / "pyproject.toml"])
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def bundle_dir() -> Path:
    """The built one-dir bundle (read only: the tests copy or hard-link it)."""
    given = os.environ.get(BUNDLE_ENV)
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) \
        / "kycdesk-test-bundle" / _source_hash()
    built = cache / "dist" / "kycdesk"
    if not (built / "kycdesk").is_file():
        config = cache / "pyinstaller-config"
        config.mkdir(parents=True, exist_ok=True)
        # PyInstaller alone: the size and start budgets are tools/build_bundle.py's job
        # (a cold first start on a busy machine must not fail the update tests).
        subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level",
                        "WARN", "--distpath", str(cache / "dist"), "--workpath",
                        str(cache / "build"), str(ROOT / "kycdesk.spec")],
                       check=True, cwd=ROOT,
                       env=dict(os.environ, PYINSTALLER_CONFIG_DIR=str(config),
                                PYTHONPATH=str(ROOT)))
    return built


def link_copy(source: Path, dest: Path) -> None:
    """A copy of a bundle made of hard links (fast; nothing here writes a file in place)."""
    shutil.copytree(source, dest, symlinks=True, copy_function=os.link)


def make_next_bundle(bundle: Path, dest: Path) -> Path:
    """N+1: the same bundle with one file changed (written anew, not through the link)."""
    link_copy(bundle, dest)
    changed = dest / CHANGED_FILE
    # 256 kB more: big enough to arrive in several chunks (a download killed midway).
    text = changed.read_bytes() + b"\nkycdesk test release N+1\n" \
        + hashlib.sha256(b"N+1").hexdigest().encode() * 4096
    changed.unlink()
    changed.write_bytes(text)
    return dest


class Releases:
    """Keys and a repository with N published, and a copy of it with N+1 too."""

    def __init__(self, base: Path, bundle: Path) -> None:
        self.base = base
        self.bundle = bundle
        self.keys = base / "keys"
        release.make_keys(self.keys)
        self.repo_n = base / "repo-n"
        release.init_repo(self.keys, self.repo_n, release.EXPIRY_DAYS)
        release.publish(self.keys, self.repo_n, bundle, VERSION_N, release.EXPIRY_DAYS)
        self.bundle_n1 = make_next_bundle(bundle, base / "bundle-n1")
        self.repo = base / "repo"
        shutil.copytree(self.repo_n, self.repo)  # N, then N+1 on top
        release.publish(self.keys, self.repo, self.bundle_n1, VERSION_N1, release.EXPIRY_DAYS)

    def variant(self, name: str) -> Path:
        """A private copy of the N+1 repository to spoil."""
        dest = self.base / name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(self.repo, dest, copy_function=shutil.copyfile)
        return dest


class _RangeHandler(SimpleHTTPRequestHandler):
    """Static files with `Range: bytes=N-` (what the resumed download sends)."""

    ranges: list[str]
    stall_after: int | None = None  # a blob's first bytes, then silence (a stalled link)
    released: threading.Event

    def _stalled(self, path: Path) -> None:
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: self.stall_after])
        self.wfile.flush()
        self.released.wait()  # silent until the test ends: the client must give up itself

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        spec = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if spec:
            self.ranges.append(spec)
        if self.stall_after is not None and "/blobs/" in self.path and path.is_file():
            return self._stalled(path)
        if not spec or not path.is_file():
            return super().send_head()
        start = int(spec.removeprefix("bytes=").split("-")[0])
        size = path.stat().st_size
        if start >= size:
            self.send_error(416)
            return None
        f = path.open("rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.end_headers()
        return f


class RepoServer:
    def __init__(self) -> None:
        self.folder = Path()
        self.stall_after: int | None = None
        self.requests = 0
        self.ranges: list[str] = []
        server = self

        self.released = threading.Event()

        class Handler(_RangeHandler):
            ranges = self.ranges
            released = self.released

            @property
            def stall_after(self) -> int | None:  # type: ignore[override]
                return server.stall_after

            def __init__(self, *args: Any, **kwargs: Any) -> None:
                server.requests += 1
                super().__init__(*args, directory=str(server.folder), **kwargs)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, folder: Path) -> None:
        self.folder = folder


@contextmanager
def repo_server(folder: Path) -> Iterator[RepoServer]:
    server = RepoServer()
    server.serve(folder)
    server.thread.start()
    try:
        yield server
    finally:
        server.released.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(10)


def tiny_bundle(folder: Path, says: str, size: int = 1000) -> Path:
    """A stand-in bundle: an executable whose `--self-test` passes, and a data file."""
    folder.mkdir(parents=True)
    exe = folder / "kycdesk"
    exe.write_text(f"#!/bin/sh\necho '{says}'\nexit 0\n")
    exe.chmod(0o755)
    (folder / "_internal").mkdir()
    (folder / "_internal" / "data.txt").write_text((says + "\n") * (size // (len(says) + 1)))
    return folder


@contextmanager
def served_pair(base: Path, make_bundle: Callable[[Path, str], Path], old: str, new: str
                ) -> Iterator[tuple[InstallRoot, RepoServer, Path]]:
    """A repository with `old` published and installed under `base/install`, then `new`
    published on top, served on loopback: what a tablet sees when an update is out. Gives
    the install, the server and the keys folder."""
    keys, repo = base / "keys", base / "repo"
    release.make_keys(keys)
    release.init_repo(keys, repo, release.EXPIRY_DAYS)
    bundle = make_bundle(base / "n", "version N")
    release.publish(keys, repo, bundle, old, release.EXPIRY_DAYS)
    with repo_server(repo) as server:
        release.install(repo, bundle, old, base / "install", server.url)
        release.publish(keys, repo, make_bundle(base / "n1", "version N+1"), new,
                        release.EXPIRY_DAYS)
        yield InstallRoot(base / "install"), server, keys


def install_n(releases: Releases, to: Path, url: str) -> InstallRoot:
    release.install(releases.repo_n, releases.bundle, VERSION_N, to, url,
                    copy_function=os.link)
    return InstallRoot(to)


def run_update(install: Path, action: str, env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kycdesk", "update", action,
                           "--install-root", str(install), "--deadline", "120"],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})))


def launch(install: Path, *args: str, data_dir: Path, timeout: float = 120,
           pin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The launcher, as a kiosk starts it (from source: it is stdlib-only either way)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("KYCDESK_INSTALL_ROOT", "KYCDESK_RELEASE")}
    return subprocess.run([sys.executable, "-m", "kycdesk.update.launcher", *args,
                           "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          check=False, input=pin,
                          env=dict(env, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen",
                                   KYCDESK_INSTALL_ROOT=str(install)))


PIN = "blue kettle on the train\n"


def make_store(data_dir: Path) -> None:
    """A verifier with three encrypted cases and their photos (the app's own CLI)."""
    for args in (["user", "add", "Ana", "--pin-stdin"],
                 ["demo-data", "--cases", "3", "--images-per-case", "1",
                  "--image-size", "640x480", "--user", "Ana", "--pin-stdin"]):
        subprocess.run([sys.executable, "-m", "kycdesk", *args, "--data-dir", str(data_dir)],
                       input=PIN, capture_output=True, text=True, timeout=300, check=True,
                       cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT),
                                          QT_QPA_PLATFORM="offscreen"))


def store_report(install: Path, data_dir: Path) -> str:
    """The cases, as whichever version the launcher starts lists them, after its doctor
    found the database and every photo whole."""
    doctor = launch(install, "doctor", "--user", "Ana", "--pin-stdin", data_dir=data_dir,
                    pin=PIN)
    assert doctor.returncode == 0 and "no problems" in doctor.stdout, doctor.stdout
    listing = launch(install, "case", "list", "--user", "Ana", "--pin-stdin",
                     data_dir=data_dir, pin=PIN)
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout.splitlines()) == 3, listing.stdout
    return listing.stdout


def started_release(install: Path, data_dir: Path) -> str:
    """Which release the launcher starts now (the bundle's `--version` says it)."""
    done = launch(install, "--version", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("release: ")]
    assert lines, done.stdout
    return lines[0].removeprefix("release: ")
