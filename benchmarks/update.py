"""Signed updates (docs/updates.md) with real bundles over a loopback server:

- bytes downloaded for N → N+1 against the full bundle, for two kinds of release:
  a data file changed (the tests' N+1) and the app's code changed (every Python change
  lands in the bundle's executable, which holds the bytecode archive);
- `kycdesk update apply` end to end (refresh, download, verify, stage, the new version's
  self-test, switch), per phase;
- "update ready" → the new version running: the launcher started after the switch until
  the new version's startup has finished (`--startup-check`), against a start of N;
- rollback: the third start after two failed ones, until N's startup has finished.

    KYCDESK_BUNDLE_DIR=dist/kycdesk python -m benchmarks.update [--rounds 3]

Targets: a data-file release downloads < 1 % of the bundle, a code release < 10 %;
the launcher adds < 0.2 s to a start; rollback costs no more than a start + 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import header
from kycdesk.update.manifest import scan_bundle
from kycdesk.update.pointer import State, read_state, write_state
from tests.update_support import (
    ROOT,
    VERSION_N,
    VERSION_N1,
    Releases,
    bundle_dir,
    install_n,
    launch,
    link_copy,
    repo_server,
)
from tools import release


def _timed_apply(install: Path) -> tuple[float, dict[str, float], str]:
    """`kycdesk update apply`, with the time each phase started (from its progress)."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "kycdesk", "update", "apply",
                                "--install-root", str(install)], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert process.stdout is not None
    marks: dict[str, float] = {}
    out = []
    for line in process.stdout:
        out.append(line)
        if line.startswith("update: "):
            marks[line.removeprefix("update: ").strip()] = time.perf_counter() - started
    _out, err = process.communicate(timeout=600)
    if process.returncode != 0:
        raise SystemExit(f"apply failed: {err}")
    return time.perf_counter() - started, marks, "".join(out)


def _start_s(install: Path, data: Path) -> float:
    started = time.perf_counter()
    done = launch(install, "--startup-check", data_dir=data)
    if done.returncode != 0:
        raise SystemExit(f"start failed: {done.stderr[-500:]}")
    return time.perf_counter() - started


def _code_release(bundle: Path, dest: Path) -> Path:
    """N+1 whose Python code changed: the executable (bytecode archive) differs."""
    link_copy(bundle, dest)
    exe = dest / "kycdesk"
    data = exe.read_bytes()
    exe.unlink()
    exe.write_bytes(data[:-64] + bytes(64))  # same size, different bytes (never started)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    header("signed updates: N → N+1 with real bundles over 127.0.0.1")
    bundle = bundle_dir()
    with tempfile.TemporaryDirectory(prefix="kycdesk-update-bench-") as tmp_name:
        tmp = Path(tmp_name)
        releases = Releases(tmp / "releases", bundle)
        files = scan_bundle(bundle, VERSION_N).files.values()
        full = sum({e.sha256: e.size for e in files if e.link is None}.values())  # unique
        code_repo = releases.variant("code")
        release.publish(releases.keys, code_repo, _code_release(bundle, tmp / "code-n1"),
                        "1.0.5", release.EXPIRY_DAYS)
        with repo_server(releases.repo) as server:
            for name, repo in (("data-file release", releases.repo),
                               ("code release", code_repo)):
                server.serve(repo)
                install = install_n(releases, tmp / f"check-{name[:4]}", server.url)
                check = subprocess.run([sys.executable, "-m", "kycdesk", "update", "check",
                                        "--install-root", str(install.root)], cwd=ROOT,
                                       capture_output=True, text=True, check=True,
                                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
                found = re.search(r"(\d+) changed file\(s\), ([\d.]+) MB", check.stdout)
                assert found, check.stdout
                mb = float(found.group(2))
                print(f"   {name}: {found.group(1)} file(s), {mb:.2f} MB to download of "
                      f"{full / 1e6:.1f} MB, the full bundle's distinct files "
                      f"({100 * mb * 1e6 / full:.2f} %)")
                shutil.rmtree(install.root)
            server.serve(releases.repo)
            applies, phases, ready, starts_n, rollbacks = [], [], [], [], []
            for i in range(args.rounds):
                install = install_n(releases, tmp / f"install-{i}", server.url)
                data = tmp / f"data-{i}"
                starts_n.append(_start_s(install.root, data))
                total, marks, _out = _timed_apply(install.root)
                applies.append(total)
                phases.append(marks)
                ready.append(_start_s(install.root, data))  # the new version's first start
                assert read_state(install).current == VERSION_N1  # type: ignore[union-attr]
                # Two failed starts of N+1 (recorded as such), then the timed third start.
                write_state(install, State(VERSION_N1, VERSION_N, pending=True, attempts=2))
                rollbacks.append(_start_s(install.root, data))
                assert read_state(install).current == VERSION_N  # type: ignore[union-attr]
                shutil.rmtree(install.root)
    med = statistics.median
    print(f"   apply (refresh → switch), median of {args.rounds}: {med(applies):.2f} s; "
          f"phases started at " + ", ".join(
              f"{phase} {med([m[phase] for m in phases]):.2f} s" for phase in phases[0]))
    print(f"   start of N through the launcher: {med(starts_n):.2f} s")
    print(f"   update ready → N+1 running (startup finished): {med(ready):.2f} s")
    print(f"   rollback (third start → N running): {med(rollbacks):.2f} s "
          f"({med(rollbacks) - med(starts_n):+.2f} s against a start of N)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
