"""Slow-fsync disks for benchmarks: `--fsync-delay-ms N` makes every fsync/fdatasync of
this process (SQLite's and ours) take N ms longer, like the eMMC of a cheap tablet
(10-50 ms). The shim (`slowfsync.c`) is compiled with the system C compiler into a
cache folder and loaded with LD_PRELOAD by re-executing the benchmark (Linux only).

    from benchmarks.slowdisk import add_fsync_option, apply_fsync_delay, fsync_count
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("slowfsync.c")
ENV_DELAY = "KYCDESK_FSYNC_DELAY_MS"


def add_fsync_option(parser: argparse.ArgumentParser, default: float = 0.0) -> None:
    parser.add_argument("--fsync-delay-ms", type=float, default=default,
                        help="add this many ms to every fsync (eMMC: 10-50; default "
                             f"{default:g})")


def _shim() -> Path:
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = Path(tempfile.gettempdir()) / f"kycdesk-slowfsync-{digest}.so"
    if not target.exists():
        compiler = shutil.which("cc") or shutil.which("gcc")
        if compiler is None:
            raise SystemExit("--fsync-delay-ms needs a C compiler (apt-get install gcc)")
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(partial), str(SOURCE),
                        "-ldl"], check=True)
        partial.replace(target)
    return target


def apply_fsync_delay(delay_ms: float) -> None:
    """Re-execute this process under the shim (always, so fsyncs are counted), unless
    it already runs under it with this delay."""
    shim = str(_shim())
    preload = os.environ.get("LD_PRELOAD", "")
    if shim in preload.split(":") and os.environ.get(ENV_DELAY) == f"{delay_ms:g}":
        return
    env = dict(os.environ, LD_PRELOAD=":".join(p for p in (shim, preload) if p))
    env[ENV_DELAY] = f"{delay_ms:g}"
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def fsync_count() -> int:
    """fsync + fdatasync calls made by this process so far (-1 without the shim)."""
    try:
        counter = ctypes.CDLL(None).kycdesk_fsync_count
    except AttributeError:
        return -1
    counter.restype = ctypes.c_long
    return int(counter())


def describe(delay_ms: float) -> str:
    return f"fsync delay {delay_ms:g} ms (LD_PRELOAD benchmarks/slowfsync.c)"
