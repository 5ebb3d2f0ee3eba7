"""The persistence writer thread: order, coalescing, failures, retries, flush on stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from kycdesk.core.records import ImageRecord
from kycdesk.core.results import Result
from kycdesk.core.states import CaseChange, CaseStatus, Change
from kycdesk.paths import DataPaths
from kycdesk.persistence import events
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import (
    AddImage,
    AppendEdit,
    AppendEvent,
    Command,
    CreateCase,
    DeleteImage,
    SaveForm,
    SetCurrentStep,
    StoreContext,
    Transition,
)
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.writer import BACKLOG_LIMIT, WriterThread
from tests.vaults import make_vault


@pytest.fixture
def writer_thread(qapp: object, paths: DataPaths) -> Iterator[WriterThread]:
    thread = WriterThread(paths, retry_first_ms=20, retry_max_ms=40, vault=make_vault())
    yield thread
    thread.stop()


def _start(qtbot: QtBot, thread: WriterThread) -> StoreClient:
    with qtbot.waitSignal(thread.client.opened, timeout=10_000):
        thread.start()
    return thread.client


def _outcome(qtbot: QtBot, writer: StoreClient, command: Command[object]) -> Result[object]:
    """Submit and wait for this request's one result (delivered in the GUI thread)."""
    results: list[Result[object]] = []
    writer.submit(command, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=10_000)
    assert len(results) == 1
    return results[0]


def _result(qtbot: QtBot, writer: StoreClient, command: Command[object]) -> object:
    return _outcome(qtbot, writer, command).unwrap()


def test_every_operation_goes_through_the_writer(qtbot: QtBot, writer_thread: WriterThread,
                                                 paths: DataPaths, jpeg: Path) -> None:
    writer = _start(qtbot, writer_thread)
    with qtbot.waitSignal(writer.caseChanged) as created:
        case_id = _result(qtbot, writer, CreateCase(reference_number="W-1"))
    assert isinstance(case_id, str)
    assert created.args == [CaseChange(case_id, CaseStatus.DRAFT, 0)]
    assert _result(qtbot, writer, AppendEdit(case_id, "name", "Ada")) == 1
    assert _result(qtbot, writer, SaveForm(case_id, {"name": "Ada"})) == 1
    image = _result(qtbot, writer, AddImage(case_id, jpeg, slot="selfie"))
    assert isinstance(image, ImageRecord) and image.slot == "selfie"
    assert _result(qtbot, writer, DeleteImage(case_id, image.id)) == image.id
    _result(qtbot, writer, SetCurrentStep(case_id, "address"))
    _result(qtbot, writer, AppendEvent(case_id, "opened", {"by": "test"}))
    with qtbot.waitSignal(writer.caseChanged) as status:
        change = _result(qtbot, writer, Transition(case_id, Change.SUBMIT))
    assert status.args == [change]
    assert isinstance(change, CaseChange) and change.status is CaseStatus.READY
    writer_thread.stop()
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
        assert (case.status, case.current_step, case.form) == ("READY", "address",
                                                               {"name": "Ada"})
        assert store.list_images(case_id) == []


def _case_and_unstarted_writer(paths: DataPaths) -> tuple[str, WriterThread]:
    """A case, and a writer whose thread has not started: what is submitted now waits
    in its queue, together."""
    with LocalStore(paths, vault=make_vault()) as store:
        case_id: str = store.run(CreateCase())
    return case_id, WriterThread(paths, vault=make_vault())


def test_queued_saves_of_a_case_coalesce_into_one_write(qtbot: QtBot, qapp: object,
                                                        paths: DataPaths) -> None:
    case_id, thread = _case_and_unstarted_writer(paths)
    writer = thread.client
    edits: list[Result[object]] = []
    saves: list[Result[object]] = []
    form: dict[str, object] = {}
    for i in range(5):  # queued before the thread runs: nothing executes yet
        form["field"] = i
        writer.submit(AppendEdit(case_id, "field", i), edits.append)
        writer.submit(SaveForm(case_id, dict(form)), saves.append)
    assert writer.pending_count() == 6  # 5 edits + the one surviving save
    try:
        thread.start()
        qtbot.waitUntil(lambda: len(edits) + len(saves) == 10, timeout=10_000)
    finally:
        thread.stop()
    assert [r.value for r in edits] == [1, 2, 3, 4, 5]  # every caller hears back, once
    assert [r.value for r in saves] == [1] * 5          # but the disk saw one save
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
        assert (case.form, case.revision, case.replayed_edits) == ({"field": 4}, 1, 0)


def test_bad_input_fails_that_request_alone(qtbot: QtBot, writer_thread: WriterThread,
                                            tmp_path: Path) -> None:
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    not_a_photo = tmp_path / "letter.jpg"
    not_a_photo.write_text("not a photo")
    refused = _outcome(qtbot, writer, AddImage(case_id, not_a_photo))
    assert not refused.ok and "not a photo" in str(refused.error)
    assert _result(qtbot, writer, AppendEdit(case_id, "still", "works")) == 1


def test_full_disk_keeps_the_write_queued_and_retries(qtbot: QtBot,
                                                      writer_thread: WriterThread,
                                                      paths: DataPaths) -> None:
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)

    worker = writer_thread.writer

    limited = threading.Event()

    def limit_database_size() -> None:  # runs in the writer thread (QTimer context)
        conn = worker._store.conn  # type: ignore[union-attr]
        pages = conn.scalar("PRAGMA page_count")
        conn.execute(f"PRAGMA max_page_count={pages}")
        limited.set()

    QTimer.singleShot(0, worker, limit_database_size)
    qtbot.waitUntil(limited.is_set, timeout=10_000)
    big_form = {f"field{i}": "x" * 200 for i in range(2000)}  # ~450 KB: cannot fit
    saved: list[Result[object]] = []
    with qtbot.waitSignal(writer.storageStateChanged, timeout=10_000) as failing:
        writer.submit(SaveForm(case_id, big_form), saved.append)
    assert failing.args is not None
    state, message = failing.args
    assert state is False and "disk is full" in message
    assert writer.pending_count() == 1  # kept, not dropped
    assert saved == []                  # no result yet: it is still being retried

    def lift_limit() -> None:
        worker._store.conn.execute("PRAGMA max_page_count=1073741823")  # type: ignore[union-attr]

    with qtbot.waitSignal(writer.storageStateChanged, timeout=10_000,
                          check_params_cb=lambda ok, _m: ok):
        QTimer.singleShot(0, worker, lift_limit)
    qtbot.waitUntil(lambda: bool(saved), timeout=10_000)
    assert [r.value for r in saved] == [1]
    writer_thread.stop()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).form == big_form


def test_stop_flushes_everything_queued(qtbot: QtBot, writer_thread: WriterThread,
                                        paths: DataPaths) -> None:
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    for i in range(200):
        writer.submit(AppendEdit(case_id, f"f{i % 20}", i))
    assert writer_thread.stop()
    with LocalStore(paths, vault=make_vault()) as store:
        form = store.load_case(case_id).form
    assert form == {f"f{k}": 180 + k for k in range(20)}


def test_store_that_cannot_open_reports_and_fails_requests(qtbot: QtBot, qapp: object,
                                                           paths: DataPaths) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.database.write_bytes(b"garbage" * 1000)
    thread = WriterThread(paths, vault=make_vault())
    try:
        with qtbot.waitSignal(thread.client.openFailed) as failed:
            thread.start()
        assert failed.args is not None and "damaged" in failed.args[0]
        refused = _outcome(qtbot, thread.client, CreateCase())
        assert not refused.ok and "damaged" in str(refused.error)
    finally:
        thread.stop()
    assert paths.database.read_bytes() == b"garbage" * 1000


def test_edits_are_acknowledged_while_a_photo_is_being_prepared(
        qtbot: QtBot, writer_thread: WriterThread, tmp_path: Path) -> None:
    from kycdesk.demo import render_photo

    big = tmp_path / "camera.jpg"
    render_photo(big, label="BIG", subtitle="12 MP", seed=3, size=(4000, 3000), quality=97)
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    order: list[str] = []
    writer.submit(AddImage(case_id, big, slot="site"), lambda _r: order.append("photo"))
    writer.submit(AppendEdit(case_id, "typed", "during the import"),
                  lambda _r: order.append("edit"))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=10_000)
    assert order == ["edit", "photo"]  # the write-ahead did not wait behind the copy
    assert writer.pending_count() == 0


def test_every_request_gets_exactly_one_result_even_when_refused_or_coalesced(
        qtbot: QtBot, writer_thread: WriterThread, tmp_path: Path, jpeg: Path) -> None:
    """One result per request: a photo refused at preparation, a photo stored, a status
    change refused by the table, a coalesced save — each callback runs once."""
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    bad = tmp_path / "bad.jpg"
    bad.write_text("a letter, not a photo")
    calls: dict[str, list[Result[object]]] = {k: [] for k in ("bad", "good", "refused", "s1", "s2")}
    writer.submit(AddImage(case_id, bad), calls["bad"].append)
    writer.submit(AddImage(case_id, jpeg), calls["good"].append)
    writer.submit(Transition(case_id, Change.RETRY), calls["refused"].append)
    writer.submit(SaveForm(case_id, {"a": 1}), calls["s1"].append)
    writer.submit(SaveForm(case_id, {"a": 2}), calls["s2"].append)
    qtbot.waitUntil(lambda: all(calls.values()), timeout=10_000)
    qtbot.waitUntil(lambda: writer.pending_count() == 0, timeout=10_000)
    assert {k: len(v) for k, v in calls.items()} == dict.fromkeys(calls, 1)
    assert not calls["bad"][0].ok and calls["good"][0].ok
    assert "cannot take" in str(calls["refused"][0].error)


@dataclass(frozen=True)
class _WriteThenFail(Command[object]):
    """A request with a bug: it writes a row, then raises."""

    case_id: str
    groupable = True

    def apply(self, ctx: StoreContext) -> None:
        events.append_event(ctx.conn, self.case_id, "half-done", {})
        raise RuntimeError("a bug after a write")


@dataclass(frozen=True)
class _FillTheDiskOnce(Command[object]):
    """Caps the database at its current size the first time it runs (a full disk)."""

    case_id: str | None
    first_time: threading.Event
    groupable = True

    def apply(self, ctx: StoreContext) -> None:
        if not self.first_time.is_set():
            self.first_time.set()
            pages = ctx.conn.scalar("PRAGMA page_count")
            ctx.conn.execute(f"PRAGMA max_page_count={pages}")


def test_requests_queued_together_commit_in_one_transaction(
        qtbot: QtBot, qapp: object, paths: DataPaths) -> None:
    """Group commit: one transaction (one fsync) for everything queued when the writer
    wakes, yet every request still hears its own result, in order."""
    case_id, thread = _case_and_unstarted_writer(paths)
    results: list[Result[object]] = []
    for i in range(100):  # queued before the thread runs: they wait together
        thread.client.submit(AppendEdit(case_id, f"f{i % 7}", i), results.append)
    thread.client.submit(SetCurrentStep(case_id, "address"), results.append)
    try:
        thread.start()
        qtbot.waitUntil(lambda: len(results) == 101, timeout=10_000)
        assert thread.writer.transactions_written == 1
    finally:
        thread.stop()
    assert [r.value for r in results[:100]] == list(range(1, 101))
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
    assert case.form == {f"f{k}": max(i for i in range(100) if i % 7 == k) for k in range(7)}
    assert case.current_step == "address"


def test_a_failing_request_in_a_group_is_rolled_back_alone(
        qtbot: QtBot, qapp: object, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        locked = store.run(CreateCase())
        store.run(Transition(locked, Change.SUBMIT))
    thread = WriterThread(paths, vault=make_vault())
    outcomes: dict[str, list[Result[object]]] = {k: [] for k in ("a", "locked", "bug", "b")}
    client = thread.client
    client.submit(AppendEdit(case_id, "a", 1), outcomes["a"].append)
    client.submit(AppendEdit(locked, "x", 1), outcomes["locked"].append)
    client.submit(_WriteThenFail(case_id), outcomes["bug"].append)
    client.submit(AppendEdit(case_id, "b", 2), outcomes["b"].append)
    try:
        thread.start()
        qtbot.waitUntil(lambda: all(outcomes.values()), timeout=10_000)
        assert thread.writer.transactions_written == 1
    finally:
        thread.stop()
    assert outcomes["a"][0].ok and outcomes["b"][0].ok
    assert "only drafts can be changed" in str(outcomes["locked"][0].error)
    assert "unexpected error" in str(outcomes["bug"][0].error)
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).form == {"a": 1, "b": 2}
        half_done = store.conn.scalar(
            "SELECT count(*) FROM case_events WHERE kind = 'half-done'")
    assert half_done == 0  # the failing request's own write was rolled back


def test_a_group_that_cannot_be_written_stays_queued_whole_and_is_retried(
        qtbot: QtBot, qapp: object, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
    thread = WriterThread(paths, retry_first_ms=20, retry_max_ms=40, vault=make_vault())
    client = thread.client
    big_form = {f"field{i}": "x" * 200 for i in range(2000)}  # ~450 KB: cannot fit
    results: list[Result[object]] = []
    client.submit(_FillTheDiskOnce(None, threading.Event()), results.append)
    client.submit(AppendEdit(case_id, "before", 1), results.append)
    client.submit(SaveForm(case_id, big_form), results.append)
    client.submit(AppendEdit(case_id, "after", 2), results.append)
    try:
        with qtbot.waitSignal(client.storageStateChanged, timeout=10_000,
                              check_params_cb=lambda ok, _m: not ok):
            thread.start()
        assert results == [] and client.pending_count() == 4  # none lost, none half-done

        def lift_limit() -> None:
            thread.writer._store.conn.execute(  # type: ignore[union-attr]
                "PRAGMA max_page_count=1073741823")

        QTimer.singleShot(0, thread.writer, lift_limit)
        qtbot.waitUntil(lambda: len(results) == 4, timeout=10_000)
    finally:
        thread.stop()
    assert [r.ok for r in results] == [True] * 4
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
    assert case.form == {**big_form, "after": 2} and case.revision == 1


def test_a_backlog_is_announced_and_cleared(qtbot: QtBot, qapp: object,
                                            paths: DataPaths) -> None:
    case_id, thread = _case_and_unstarted_writer(paths)
    client = thread.client
    heard: list[int] = []
    client.backlogChanged.connect(heard.append)
    for i in range(BACKLOG_LIMIT + 1):
        client.submit(AppendEdit(case_id, "typed", i))
    assert heard == [BACKLOG_LIMIT + 1]  # told at once, before anything is written
    try:
        with qtbot.waitSignal(client.backlogChanged, timeout=10_000,
                              check_params_cb=lambda waiting: waiting == 0):
            thread.start()
    finally:
        thread.stop()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(case_id).form == {"typed": BACKLOG_LIMIT}
