"""One process per data dir: a second instance is refused, a dead one's lock is taken."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.core.errors import DatabaseLockedError
from kycdesk.paths import DataPaths
from kycdesk.persistence.lock import DataDirLock

HOLDER = """
import sys
from PySide6.QtCore import QCoreApplication, QLockFile
app = QCoreApplication([])
lock = QLockFile(sys.argv[1])
lock.setStaleLockTime(0)
assert lock.tryLock(1000)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(paths: DataPaths) -> Iterator[subprocess.Popen[str]]:
    paths.root.mkdir(parents=True, exist_ok=True)
    # `with`: its pipes are closed and the process reaped when the test is over.
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(paths.lock_file)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
        if proc.poll() is None:
            proc.kill()


def test_second_instance_is_told_the_app_is_running(qapp: object, paths: DataPaths,
                                                    holder: subprocess.Popen[str]) -> None:
    with pytest.raises(DatabaseLockedError, match="already running") as raised:
        DataDirLock(paths.lock_file).acquire()
    assert f"process {holder.pid}" in str(raised.value)


def test_lock_of_a_killed_process_is_taken_over(qapp: object, paths: DataPaths,
                                                holder: subprocess.Popen[str]) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = DataDirLock(paths.lock_file)
    lock.acquire()
    lock.release()


def test_lock_is_released_for_the_next_run(qapp: object, tmp_path: Path) -> None:
    path = tmp_path / "kycdesk.lock"
    with DataDirLock(path):
        pass
    with DataDirLock(path):
        pass
