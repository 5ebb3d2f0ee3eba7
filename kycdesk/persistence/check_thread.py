"""The full check in the background, after the window is up (see `full_check`).

Its own read-only connection, its own low-priority thread; reporting only (the app is
running: an operation may be in flight, and repairs are doctor's job). At most one pass
a day; a pass cut short by closing the app continues at the next start.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QThread, Signal

from kycdesk.core.errors import StoreError
from kycdesk.paths import DataPaths
from kycdesk.persistence.full_check import load_state, run_full_check
from kycdesk.persistence.store import open_connection

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(days=1)


def check_due(paths: DataPaths, now: datetime | None = None) -> bool:
    """A pass is due if none finished within CHECK_EVERY (a doctor run counts)."""
    state = load_state(paths)
    if state is None or state.finished_at is None:
        return True
    try:
        finished = datetime.fromisoformat(state.finished_at.replace("Z", "+00:00"))
    except ValueError:
        return True
    return (now or datetime.now(UTC)) - finished >= CHECK_EVERY


class FullCheckThread(QThread):
    progress = Signal(int, int)    # cases checked, cases in the store
    checked = Signal(object)       # RecoveryReport of a finished pass

    def __init__(self, paths: DataPaths) -> None:
        super().__init__()
        self.setObjectName("full-check")
        self._paths = paths

    def run(self) -> None:
        try:
            conn = open_connection(self._paths, writer=False, role="full-check")
        except StoreError as exc:
            log.warning("background check not started: %s", exc)
            return
        try:
            report = run_full_check(
                conn, self._paths, repair=False, verify_hashes=False,
                progress=lambda done, total, _photos: self.progress.emit(done, total),
                should_stop=self.isInterruptionRequested)
        except StoreError as exc:
            log.warning("background check stopped: %s", exc)
            return
        except Exception:  # a bug: never take the app down for a background check
            log.exception("background check failed")
            return
        finally:
            conn.close()
        if report.full_check:
            self.checked.emit(report)

    def stop(self) -> None:
        """Stop at the next batch (the position is saved) and wait for the thread."""
        self.requestInterruption()
        self.wait()
