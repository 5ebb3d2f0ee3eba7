"""The one background-work helper (kycdesk.background): continuation in the GUI thread,
errors to one handler, cancellation, priority, no thread left behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk import background
from kycdesk.background import Lane, Priority, Task, TaskControl, run_task


@pytest.fixture
def errors() -> Iterator[list[tuple[str, Exception]]]:
    caught: list[tuple[str, Exception]] = []
    background.set_error_handler(lambda name, exc: caught.append((name, exc)))
    yield caught
    background.set_error_handler(None)


def os_thread_names() -> list[str]:
    """The process's threads, by name (Linux): what a leak check must see."""
    names = []
    for task in Path("/proc/self/task").iterdir():
        try:
            names.append((task / "comm").read_text().strip())
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended between the listing and the read: not there
    return sorted(names)


def test_work_runs_off_the_gui_thread_and_its_continuation_in_it(qtbot: QtBot) -> None:
    gui = threading.get_ident()
    seen: dict[str, int] = {}

    def work(_control: TaskControl[None]) -> int:
        seen["work"] = threading.get_ident()
        return 41

    def done(value: int) -> None:
        seen["done"] = threading.get_ident()
        seen["value"] = value + 1

    run_task(work, done, name="answer")
    qtbot.waitUntil(lambda: "value" in seen)
    assert seen["work"] != gui and seen["done"] == gui and seen["value"] == 42


def test_an_error_reaches_the_one_handler_in_the_gui_thread(
        qtbot: QtBot, errors: list[tuple[str, Exception]]) -> None:
    where: list[int] = []

    def boom(_control: TaskControl[None]) -> int:
        raise ValueError("broken file")

    def handler(name: str, exc: Exception) -> None:
        errors.append((name, exc))
        where.append(threading.get_ident())

    background.set_error_handler(handler)
    done: list[int] = []
    run_task(boom, done.append, name="decode")
    qtbot.waitUntil(lambda: bool(errors))
    assert errors[0][0] == "decode" and str(errors[0][1]) == "broken file"
    assert where == [threading.get_ident()] and done == []


def test_a_task_with_its_own_error_handler_keeps_it_from_the_app_handler(
        qtbot: QtBot, errors: list[tuple[str, Exception]]) -> None:
    mine: list[Exception] = []

    def boom(_control: TaskControl[None]) -> None:
        raise OSError("no network")

    run_task(boom, name="check", on_error=mine.append)
    qtbot.waitUntil(lambda: bool(mine))
    assert isinstance(mine[0], OSError) and errors == []


def test_a_bug_in_a_continuation_reaches_the_one_handler(
        qtbot: QtBot, errors: list[tuple[str, Exception]]) -> None:
    def done(_value: None) -> None:
        raise KeyError("bug")

    run_task(lambda _c: None, done, name="buggy")
    qtbot.waitUntil(lambda: bool(errors))
    assert errors[0][0] == "buggy" and isinstance(errors[0][1], KeyError)


def test_cancel_drops_the_continuation_even_after_the_work_finished(
        qtbot: QtBot, errors: list[tuple[str, Exception]]) -> None:
    lane = Lane("test-cancel")
    done: list[int] = []
    task: Task[int, None] = run_task(lambda _c: 1, done.append, name="late", lane=lane)
    assert task.wait(10)   # the work is over; its continuation is queued for the GUI
    task.cancel()
    after: Task[int, None] = run_task(lambda _c: 2, done.append, name="marker", lane=lane)
    qtbot.waitUntil(lambda: done == [2])  # the marker's continuation came, the other not
    assert not after.cancelled and errors == []


def test_cancel_stops_work_that_polls_and_one_that_has_not_started(qtbot: QtBot) -> None:
    lane = Lane("test-stop")
    started, release = threading.Event(), threading.Event()
    steps: list[int] = []

    def long(control: TaskControl[int]) -> int:
        started.set()
        release.wait(10)
        while not control.cancelled():
            steps.append(1)
        return len(steps)

    done: list[object] = []
    running = run_task(long, done.append, name="long", lane=lane)
    queued: Task[None, None] = run_task(lambda _c: steps.append(99), done.append,
                                        name="queued", lane=lane)
    assert started.wait(10)
    queued.cancel()
    running.cancel()
    release.set()
    assert lane.wait_idle()
    qtbot.wait(50)  # (a dropped continuation leaves nothing to wait for)
    assert 99 not in steps and done == []


def test_waiting_tasks_start_by_priority(qtbot: QtBot) -> None:
    lane = Lane("test-priority")
    gate = threading.Event()
    order: list[str] = []
    run_task(lambda _c: gate.wait(10), name="gate", lane=lane)
    for label, priority in [("low", Priority.LOW), ("normal", Priority.NORMAL),
                            ("high", Priority.HIGH)]:
        def note(_control: TaskControl[None], label: str = label) -> None:
            order.append(label)

        run_task(note, name=label, lane=lane, priority=priority)
    gate.set()
    assert lane.wait_idle()
    assert order == ["high", "normal", "low"]


def test_progress_reaches_the_gui_thread_in_order(qtbot: QtBot) -> None:
    seen: list[tuple[int, int]] = []
    threads: set[int] = set()

    def work(control: TaskControl[int]) -> str:
        for step in range(5):
            control.report(step)
        return "done"

    def progress(step: int) -> None:
        threads.add(threading.get_ident())
        seen.append((step, len(seen)))

    finished: list[str] = []
    run_task(work, finished.append, name="steps", on_progress=progress)
    qtbot.waitUntil(lambda: finished == ["done"])
    assert [step for step, _ in seen] == [0, 1, 2, 3, 4]
    assert threads == {threading.get_ident()}


def test_shutdown_leaves_no_thread_behind(qtbot: QtBot) -> None:
    lanes = [Lane(f"test-leak-{n}", threads=2) for n in range(3)]
    blocker = threading.Event()
    for lane in lanes:
        for _ in range(4):
            run_task(lambda c: blocker.wait(0.05) or c.cancelled(), name="job", lane=lane)
    assert any(name.startswith("test-leak") for name in os_thread_names())
    assert background.shutdown()
    # An idle pool thread would live on for 30 s; joined, it is gone (the kernel takes a
    # moment after the join to drop it from the list).
    qtbot.waitUntil(lambda: not any(name.startswith("test-leak") for name in os_thread_names()))
    assert all(lane.active_threads() == 0 for lane in lanes)


def test_a_promised_lane_finishes_its_work_at_shutdown(qtbot: QtBot) -> None:
    lane = Lane("test-promised", cancel_at_shutdown=False)
    gate = threading.Event()
    ran: list[int] = []
    run_task(lambda _c: gate.wait(10), name="first", lane=lane)
    run_task(lambda _c: ran.append(1), name="accepted", lane=lane)
    gate.set()
    assert background.shutdown()
    assert ran == [1]
