"""Build `kycdesk-launcher`: the small executable that stays at `<install>/` across
updates and starts the version the pointer names (kycdesk/update/launcher.py,
docs/updates.md). A PyInstaller one-file build of standard-library code only, so it never
depends on a version it may have to roll back from.

    .venv/bin/python tools/build_launcher.py [--dist dist] [--work build/launcher]

Prints its size and the time it adds to a start (launcher → `kycdesk --version` against
the bundle started directly), when given `--bundle` (a one-dir kycdesk bundle).
Exit code 1 if the build fails or the launcher cannot start the bundle.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "kycdesk-launcher"
# Everything a stdlib-only script does not need (PyInstaller finds these through optional
# imports of the standard library or the environment's hooks).
EXCLUDES = ["tkinter", "unittest", "pydoc", "doctest", "email", "http", "xml",
            "PySide6", "shiboken6", "numpy", "httpx", "httpcore", "tuf", "securesystemslib",
            "cryptography", "pydantic", "setuptools", "pkg_resources"]


def build(dist: Path, work: Path) -> Path:
    args = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
            # --strip: the runtime's symbols are 2/3 of it (16 MB → 7 MB, and each start
            # unpacks it: +640 ms → +50 ms). No-op on Windows, whose DLLs carry none.
            "--onefile", "--strip", "--name", NAME, "--distpath", str(dist),
            "--workpath", str(work), "--specpath", str(work), "--paths", str(ROOT)]
    if os.name == "nt":  # started from the Start menu / kiosk shell: no console window
        args.append("--noconsole")
    for name in EXCLUDES:
        args += ["--exclude-module", name]
    subprocess.run([*args, str(ROOT / "kycdesk" / "update" / "launcher.py")],
                   cwd=ROOT, check=True)
    return dist / (f"{NAME}.exe" if os.name == "nt" else NAME)


def _best_of(command: list[str], env: dict[str, str], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(launcher: Path, bundle: Path) -> None:
    """Install the bundle as version 0 beside the launcher, start both ways."""
    with tempfile.TemporaryDirectory(prefix="kycdesk-launcher-") as tmp:
        install = Path(tmp)
        shutil.copy2(launcher, install / launcher.name)
        versions = install / "versions"
        versions.mkdir()
        (versions / "0").symlink_to(bundle.resolve())
        (install / "update").mkdir()
        (install / "update" / "state.json").write_text('{"current": "0"}')
        env = dict(os.environ, KYCDESK_DATA_DIR=str(install / "data"),
                   QT_QPA_PLATFORM="offscreen")
        env.pop("KYCDESK_INSTALL_ROOT", None)
        direct = _best_of([str(bundle / "kycdesk"), "--version"], env)
        through = _best_of([str(install / launcher.name), "--version"], env)
        print(f"launcher: kycdesk --version directly {direct * 1000:.0f} ms, through the "
              f"launcher {through * 1000:.0f} ms (+{(through - direct) * 1000:.0f} ms; "
              "median of 7)")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "launcher")
    parser.add_argument("--bundle", type=Path, help="a built one-dir bundle to start")
    args = parser.parse_args()
    try:
        launcher = build(args.dist, args.work)
    except subprocess.CalledProcessError:
        print("launcher: BUILD FAILED")
        return 1
    print(f"launcher: {launcher} {launcher.stat().st_size / 1e6:.1f} MB")
    if args.bundle is not None:
        try:
            measure(launcher, args.bundle)
        except subprocess.CalledProcessError as exc:
            print(f"launcher: could not start the bundle ({exc})")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
