"""A test fails if it leaves work running behind it (tests/conftest.py runs `check`
after every test's teardown, once every fixture has been finalized).

Looked at: Python threads (`threading.enumerate`, executors' workers included), Qt's
global thread pool (`QThreadPool.activeThreadCount`), the jobs of `kycdesk.background`'s
lanes (each a pool of its own), `QThread`s still running and `QTimer`s still active.
Something that is finishing is given a bounded wait (a join with a deadline, never a
sleep) before it counts as a leak, so a thread that is on its way out cannot make a test
flaky; one still there after `JOIN_S` is a leak.

Exempt, and only these, each with its reason: see `LONG_LIVED_THREADS`.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass, field

JOIN_S = 10.0

# Threads that outlive a test by design, by name prefix -> why.
LONG_LIVED_THREADS: dict[str, str] = {
    # Python registers a _DummyThread for every thread it did not start (Qt's) once that
    # thread runs Python code, and never removes it: those are checked as Qt threads.
}


@dataclass
class Baseline:
    """What was running before the test began (its own set-up not counted yet)."""

    threads: set[threading.Thread] = field(default_factory=set)
    qt_objects: set[int] = field(default_factory=set)


def _python_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate()
            if thread is not threading.main_thread()
            and not isinstance(thread, threading._DummyThread)
            and not thread.name.startswith(tuple(LONG_LIVED_THREADS))}


def _qt_running() -> dict[int, tuple[object, str]]:
    """Running QThreads and active QTimers, by id (only when Qt is loaded at all)."""
    if "PySide6.QtCore" not in sys.modules:
        return {}
    from PySide6.QtCore import QThread, QTimer

    found: dict[int, tuple[object, str]] = {}
    for obj in gc.get_objects():
        try:
            if isinstance(obj, QThread) and obj.isRunning():
                found[id(obj)] = (obj, f"QThread {type(obj).__name__} {obj.objectName()!r}"
                                       " still runs")
            elif isinstance(obj, QTimer) and obj.isActive():
                parent = obj.parent()
                owner = type(parent).__name__ if parent is not None else "no parent"
                found[id(obj)] = (obj, f"QTimer every {obj.interval()} ms (parent: {owner})"
                                       " still active")
        except RuntimeError:  # its C++ object is already gone
            continue
    return found


# Qt objects still active when the last check ran (reported then, or owned by a fixture
# of a wider scope): the next test's baseline, so the heap is scanned once per test.
_active_after_last_check: set[int] = set()


def baseline() -> Baseline:
    return Baseline(_python_threads(), set(_active_after_last_check))


def check(before: Baseline) -> list[str]:
    """What the test left running (after a bounded wait for it to stop)."""
    deadline = time.monotonic() + JOIN_S
    problems: list[str] = []
    for thread in sorted(_python_threads() - before.threads, key=lambda t: t.name):
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            problems.append(f"thread {thread.name!r} ({type(thread).__name__}) still runs")
    if "PySide6.QtCore" in sys.modules:
        from PySide6.QtCore import QCoreApplication, QEvent, QThreadPool

        pool = QThreadPool.globalInstance()
        if not pool.waitForDone(max(0, int((deadline - time.monotonic()) * 1000))):
            problems.append(f"QThreadPool: {pool.activeThreadCount()} job(s) still run")
        problems += _background_jobs_left(deadline)
        if QCoreApplication.instance() is not None:
            # Widgets closed by pytest-qt are deleted (with their timers) on this event.
            QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        problems += _qt_left_running(before, deadline)
    return problems


def _background_jobs_left(deadline: float) -> list[str]:
    """The background helper's lanes are pools of their own, not Qt's global one."""
    if "kycdesk.background" not in sys.modules:
        return []
    from kycdesk.background import live_lanes

    problems = []
    for lane in live_lanes():
        if not lane.wait_idle(max(0, int((deadline - time.monotonic()) * 1000))):
            problems.append(f"background lane {lane.name!r}: {lane.active_threads()} "
                            "job(s) still run")
    return problems


def _qt_left_running(before: Baseline, deadline: float) -> list[str]:
    from PySide6.QtCore import QThread

    problems = []
    running = _qt_running()
    _active_after_last_check.clear()
    _active_after_last_check.update(running)
    for key, (obj, description) in running.items():
        if key in before.qt_objects:
            continue
        if isinstance(obj, QThread):
            obj.wait(max(0, int((deadline - time.monotonic()) * 1000)))
            if not obj.isRunning():
                continue
        problems.append(description)
    return problems
