#!/usr/bin/env python3
"""One-command setup for kycdesk (standard library only, any OS with Python >= 3.11).

    python3 dev.py app     create .venv, install kycdesk, start the app
    python3 dev.py test    create .venv, install kycdesk + test tools, run lint, types, tests
    python3 dev.py test --fast   the same with only the unit and Qt test tiers (the quick
                                 loop; no server process, PostgreSQL, S3, browser or slow)
    python3 dev.py bundle  build the PyInstaller bundle in dist/kycdesk from the lock file
                           (requirements/bundle.lock, in .venv-bundle) and prove it starts

Extra arguments after `app` go to kycdesk (e.g. `python3 dev.py app --data-dir D`);
after `test` they go to pytest (e.g. `python3 dev.py test -k writer`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script must explain, not crash)
        sys.exit(f"kycdesk needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    # Reinstall only when the dependency list changed (fast repeat runs).
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode())
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    spec = f".[{extras}]" if extras else "."
    if run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("pip could not be upgraded")
    if run(PYTHON, "-m", "pip", "install", "--quiet", "-e", spec) != 0:
        sys.exit("kycdesk could not be installed (see pip's message above)")
    stamp.write_text(digest.hexdigest())


def ensure_postgresql() -> None:
    """The production back end's tests run against a real PostgreSQL (the distribution's
    server package). Installed here when missing and this is a Debian-like system run as
    root (CI); otherwise say how, and those tests fail with the same reason."""
    if shutil.which("initdb") or list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return
    if sys.platform.startswith("linux") and shutil.which("apt-get") and os.geteuid() == 0:
        print("installing PostgreSQL (apt-get install postgresql)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run("apt-get", "update", "-qq", env=env) == 0 and \
                run("apt-get", "install", "-y", "-qq", "postgresql", env=env) == 0:
            return
    print("PostgreSQL's server is not installed: the production back end's tests will fail "
          "until it is (Debian/Ubuntu: sudo apt-get install postgresql).")


def ensure_chromium() -> None:
    """The back office's tests drive a real headless Chromium (the distribution's browser
    and its driver; nothing is downloaded at test time). Installed here like PostgreSQL."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return
    if sys.platform.startswith("linux") and shutil.which("apt-get") and os.geteuid() == 0:
        print("installing Chromium (apt-get install chromium chromium-driver)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run("apt-get", "update", "-qq", env=env) == 0 and run(
                "apt-get", "install", "-y", "-qq", "chromium", "chromium-driver",
                env=env) == 0:
            return
    print("Chromium and its driver are not installed: the browser tests will fail until "
          "they are (Debian/Ubuntu: sudo apt-get install chromium chromium-driver).")


def ensure_nsis() -> None:
    """The Windows installer's script is compiled on every test run (tests/test_installer.py:
    NSIS's makensis, and 7-Zip to list what the installer would install). Installed here
    like PostgreSQL."""
    if shutil.which("makensis") and (shutil.which("7zz") or shutil.which("7z")):
        return
    if sys.platform.startswith("linux") and shutil.which("apt-get") and os.geteuid() == 0:
        print("installing NSIS and 7-Zip (apt-get install nsis 7zip)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run("apt-get", "update", "-qq", env=env) == 0 and run(
                "apt-get", "install", "-y", "-qq", "nsis", "7zip", env=env) == 0:
            return
    print("NSIS (makensis) or 7-Zip is not installed: the installer tests will fail until "
          "they are (Debian/Ubuntu: sudo apt-get install nsis 7zip; Windows: choco install "
          "nsis 7zip).")


BROWSER_TOOLS = ROOT / "tests" / "browser"


def ensure_browser_scripts() -> None:
    """axe-core (the accessibility check the browser tests inject), from the npm registry
    at the version tests/browser/package-lock.json pins."""
    if (BROWSER_TOOLS / "node_modules" / "axe-core" / "axe.min.js").exists():
        return
    npm = shutil.which("npm")
    if npm is None and sys.platform.startswith("linux") and shutil.which("apt-get") \
            and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if run("apt-get", "update", "-qq", env=env) == 0:
            run("apt-get", "install", "-y", "-qq", "npm", env=env)
        npm = shutil.which("npm")
    if npm is None or subprocess.call([npm, "ci", "--no-audit", "--no-fund"],
                                      cwd=BROWSER_TOOLS) != 0:
        print("axe-core could not be installed (npm ci in tests/browser): the accessibility "
              "checks will fail until it is.")


def test(pytest_args: list[str]) -> int:
    ensure_venv("dev")
    ensure_nsis()  # the installer tests are in the fast tiers too
    if "--fast" not in pytest_args:  # the fast tiers use no PostgreSQL and no browser
        ensure_postgresql()
        ensure_chromium()
        ensure_browser_scripts()
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    steps: list[list[str | Path]] = [
        [BIN / "ruff", "check", "."],
        [PYTHON, "-m", "mypy"],
        [BIN / "lint-imports"],
    ]
    for step in steps:
        if run(*step, env=env) != 0:
            return 1
    if "--fast" not in pytest_args:
        return _pytest(pytest_args, env)
    rest = [arg for arg in pytest_args if arg != "--fast"]
    # The unit tier in a process of its own, where importing Qt is an error (see
    # tests/tiers.py); then the Qt tier. Tiers are given by tests/conftest.py.
    return (_pytest(["-m", "unit", "-p", "no:pytest-qt", *rest], env)
            or _pytest(["-m", "qt", *rest], env))


def _pytest(pytest_args: list[str], env: dict[str, str]) -> int:
    code = run(PYTHON, "-m", "pytest", *pytest_args, env=env)
    if code == 5:
        print("pytest collected no tests: that is a failure here.")
        return 1
    return code


# The bundle is built in a venv of its own holding exactly the lock file's packages (every
# version pinned, every file's hash checked; one lock for Linux and Windows: its markers
# choose). The test venv (.venv) takes the newest versions pyproject allows, which is right
# for tests and wrong for a release. How to refresh the lock: docs/bundle.md
# ("The lock file"); tests/test_bundle_lock.py keeps it in step with pyproject.
BUNDLE_VENV = ROOT / ".venv-bundle"
BUNDLE_LOCK = ROOT / "requirements" / "bundle.lock"


def ensure_bundle_venv() -> Path:
    if sys.version_info < (3, 11):  # noqa: UP036  (this script must explain, not crash)
        sys.exit(f"kycdesk needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    python = BUNDLE_VENV / ("Scripts" if os.name == "nt" else "bin") / PYTHON.name
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(BUNDLE_VENV)
    digest = hashlib.sha256(BUNDLE_LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    stamp = BUNDLE_VENV / ".installed-lock"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return python
    # --require-hashes: a file whose hash is not in the lock (or a dependency the lock
    # lacks) stops the install. Then kycdesk itself, with no dependency resolution and
    # built by the lock's setuptools (no build isolation: nothing unpinned is fetched).
    if run(python, "-m", "pip", "install", "--quiet", "--require-hashes",
           "-r", BUNDLE_LOCK) != 0:
        sys.exit(f"the bundle's dependencies could not be installed from {BUNDLE_LOCK.name} "
                 "(see pip's message above)")
    if run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
           "-e", ".") != 0:
        sys.exit("kycdesk could not be installed into the bundle's venv")
    stamp.write_text(digest.hexdigest())
    return python


def bundle(extra: list[str]) -> int:
    return run(ensure_bundle_venv(), "tools/build_bundle.py", *extra)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("app", "test", "bundle"):
        print(__doc__)
        return 2
    if argv[0] == "app":
        ensure_venv("")
        return run(PYTHON, "-m", "kycdesk", *argv[1:])
    if argv[0] == "bundle":
        return bundle(argv[1:])
    return test(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
