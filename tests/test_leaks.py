"""The leak check (tests/leaks.py) itself: it sees what a test leaves running, and
gives what is on its way out a bounded wait instead of calling it a leak."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests import leaks


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leaks, "JOIN_S", 0.2)


@pytest.fixture
def stuck_thread() -> Iterator[threading.Event]:
    release = threading.Event()
    before = leaks.baseline()
    thread = threading.Thread(target=release.wait, name="stuck", daemon=True)
    thread.start()
    yield release
    release.set()
    thread.join()
    assert leaks.check(before) == []


def test_a_thread_left_running_is_a_leak(short_wait: None) -> None:
    release = threading.Event()
    before = leaks.baseline()
    thread = threading.Thread(target=release.wait, name="forgotten", daemon=True)
    thread.start()
    try:
        assert leaks.check(before) == ["thread 'forgotten' (Thread) still runs"]
    finally:
        release.set()
        thread.join()


def test_a_thread_on_its_way_out_gets_a_bounded_join() -> None:
    release = threading.Event()
    before = leaks.baseline()
    thread = threading.Thread(target=release.wait, name="finishing", daemon=True)
    thread.start()
    threading.Timer(0.05, release.set).start()  # finishes during the check's join
    assert leaks.check(before) == []
    assert not thread.is_alive()


def test_what_ran_before_the_test_is_not_its_leak(stuck_thread: threading.Event,
                                                  short_wait: None) -> None:
    before = leaks.baseline()
    assert leaks.check(before) == []


def test_a_timer_left_active_is_a_leak(qapp: object, short_wait: None) -> None:
    from PySide6.QtCore import QTimer

    before = leaks.baseline()
    timer = QTimer()
    timer.start(60_000)
    try:
        assert leaks.check(before) == [
            "QTimer every 60000 ms (parent: no parent) still active"]
    finally:
        timer.stop()
    assert leaks.check(before) == []


def test_a_pool_job_left_running_is_a_leak(qapp: object, short_wait: None) -> None:
    from PySide6.QtCore import QThreadPool

    release = threading.Event()
    before = leaks.baseline()
    pool = QThreadPool.globalInstance()
    pool.start(release.wait)
    try:
        problems = leaks.check(before)
        assert any("QThreadPool: 1 job(s) still run" in p for p in problems), problems
    finally:
        release.set()
        pool.waitForDone()


def test_a_background_job_left_running_is_a_leak(qapp: object, short_wait: None) -> None:
    """The background helper's lanes are pools of their own: checked too."""
    from kycdesk.background import Lane, run_task

    release = threading.Event()
    before = leaks.baseline()
    lane = Lane("leak-test")
    run_task(lambda _control: release.wait(10), lane=lane, name="forgotten job")
    try:
        assert leaks.check(before) == ["background lane 'leak-test': 1 job(s) still run"]
    finally:
        release.set()
        assert lane.wait_idle()
