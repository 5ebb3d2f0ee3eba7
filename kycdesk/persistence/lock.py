"""One process per data dir (QLockFile): two writers on one case is how duplicate
submissions happen. A lock left by a killed process is detected as stale (its PID is
gone) and taken over."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLockFile

from kycdesk.core.errors import DatabaseLockedError


class DataDirLock:
    def __init__(self, lock_path: Path) -> None:
        self._lock = QLockFile(str(lock_path))
        # 0: never treat a lock of a *running* process as stale by age; a dead owner's
        # lock is still recognised by PID and removed by tryLock.
        self._lock.setStaleLockTime(0)
        self.path = lock_path

    def acquire(self, timeout_ms: int = 200) -> None:
        if self._lock.tryLock(timeout_ms):
            return
        if self._lock.error() == QLockFile.LockError.LockFailedError:
            pid, host, _app = self._lock.getLockInfo()
            where = f" (process {pid} on {host})" if pid > 0 else ""
            raise DatabaseLockedError(
                f"kycdesk is already running with this data folder{where}. Switch to that "
                "window, or close it first.")
        raise DatabaseLockedError(
            f"The data folder cannot be locked ({self.path}): it may be read-only.")

    def release(self) -> None:
        self._lock.unlock()

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
