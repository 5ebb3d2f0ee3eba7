"""The full check in the background, after the window is up (see `full_check`).

Its own read-only connection, a background task on its own lowest-priority lane;
reporting only (the app is running: an operation may be in flight, and repairs are
doctor's job). At most one pass a day; a pass cut short by closing the app (its task
cancelled) continues at the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from PySide6.QtCore import QThread

from kycdesk.background import Lane, Priority, Task, TaskControl, run_task
from kycdesk.core.clock import now as clock_now
from kycdesk.core.clock import parse_instant_or_none
from kycdesk.core.errors import StoreError
from kycdesk.paths import DataPaths
from kycdesk.persistence.full_check import load_state, run_full_check
from kycdesk.persistence.recovery import RecoveryReport
from kycdesk.persistence.store import open_connection
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(days=1)

CheckProgress = tuple[int, int]  # cases checked, cases in the store


def check_due(paths: DataPaths, now: datetime | None = None) -> bool:
    """A pass is due if none finished within CHECK_EVERY (a doctor run counts)."""
    state = load_state(paths)
    if state is None or state.finished_at is None:
        return True
    finished = parse_instant_or_none(state.finished_at)
    if finished is None:
        return True
    return (now or clock_now()) - finished >= CHECK_EVERY


def check_lane() -> Lane:
    """The full check reads every row and stats every file for minutes: the lowest
    thread priority, so the verifier's typing never waits for it."""
    return Lane("full-check", threads=1, thread_priority=QThread.Priority.LowestPriority)


def start_full_check(paths: DataPaths, *, vault: Vault,
                     on_progress: Callable[[CheckProgress], None],
                     on_checked: Callable[[RecoveryReport], None],
                     lane: Lane) -> Task[RecoveryReport | None, CheckProgress]:
    """One pass; `on_checked(report)` in the GUI thread when it finished (not when it was
    cancelled: `task.cancel()` stops it at the next batch, its position saved). `vault`
    opens what the check reads sealed."""

    def work(control: TaskControl[CheckProgress]) -> RecoveryReport | None:
        try:
            conn = open_connection(paths, writer=False, role="full-check",
                                   vault=vault)
        except StoreError as exc:
            log.warning("background check not started: %s", exc)
            return None
        try:
            report = run_full_check(
                conn, paths, vault, repair=False, verify_hashes=False,
                progress=lambda done, total, _photos: control.report((done, total)),
                should_stop=control.cancelled)
        except StoreError as exc:
            log.warning("background check stopped: %s", exc)
            return None
        finally:
            conn.close()
        return report if report.full_check else None

    def finished(report: RecoveryReport | None) -> None:
        if report is not None:
            on_checked(report)

    return run_task(work, finished, name="full check", on_progress=on_progress, lane=lane,
                    priority=Priority.LOW)
