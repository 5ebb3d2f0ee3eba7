"""The persistence writer thread: order, coalescing, failures, retries, flush on stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from kycdesk.paths import DataPaths
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import (
    AddImage,
    AppendEdit,
    AppendEvent,
    CreateCase,
    DeleteImage,
    SaveForm,
    SetCurrentStep,
    SetStatus,
)
from kycdesk.persistence.records import CaseStatus, ImageRecord
from kycdesk.persistence.store import LocalStore
from kycdesk.persistence.writer import WriterThread


@pytest.fixture
def writer_thread(qapp: object, paths: DataPaths) -> Iterator[WriterThread]:
    thread = WriterThread(paths, retry_first_ms=20, retry_max_ms=40)
    yield thread
    thread.stop()


def _start(qtbot: QtBot, thread: WriterThread) -> StoreClient:
    with qtbot.waitSignal(thread.client.opened, timeout=10_000):
        thread.start()
    return thread.client


def _result(qtbot: QtBot, writer: StoreClient, command: object) -> object:
    """Submit and wait for *this* request's completion (not a late one of an earlier)."""
    ticket: list[int] = []
    with qtbot.waitSignal(writer.completed, timeout=10_000,
                          check_params_cb=lambda t, _r: bool(ticket) and t == ticket[0]
                          ) as blocker:
        ticket.append(writer.submit(command))  # type: ignore[arg-type]
    assert blocker.args is not None
    return blocker.args[1]


def test_every_operation_goes_through_the_writer(qtbot: QtBot, writer_thread: WriterThread,
                                                 paths: DataPaths, jpeg: Path) -> None:
    writer = _start(qtbot, writer_thread)
    with qtbot.waitSignal(writer.caseCreated) as created:
        case_id = _result(qtbot, writer, CreateCase(reference_number="W-1"))
    assert created.args == [case_id]
    assert isinstance(case_id, str)
    assert _result(qtbot, writer, AppendEdit(case_id, "name", "Ada")) == 1
    with qtbot.waitSignal(writer.saved) as saved:
        writer.submit(SaveForm(case_id, {"name": "Ada"}))
    assert saved.args == [case_id, 1]
    with qtbot.waitSignal(writer.imageAdded) as added:
        writer.submit(AddImage(case_id, jpeg, slot="selfie"))
    image = added.args[1] if added.args else None
    assert isinstance(image, ImageRecord) and image.slot == "selfie"
    with qtbot.waitSignal(writer.imageDeleted) as deleted:
        writer.submit(DeleteImage(case_id, image.id))
    assert deleted.args == [case_id, image.id]
    _result(qtbot, writer, SetCurrentStep(case_id, "address"))
    _result(qtbot, writer, AppendEvent(case_id, "opened", {"by": "test"}))
    with qtbot.waitSignal(writer.statusChanged) as status:
        writer.submit(SetStatus(case_id, CaseStatus.READY))
    assert status.args == [case_id, "READY"]
    writer_thread.stop()
    with LocalStore(paths) as store:
        case = store.load_case(case_id)
        assert (case.status, case.current_step, case.form) == ("READY", "address",
                                                               {"name": "Ada"})
        assert store.list_images(case_id) == []


def test_queued_saves_of_a_case_coalesce_into_one_write(qtbot: QtBot, qapp: object,
                                                        paths: DataPaths) -> None:
    with LocalStore(paths) as store:
        case_id = store.create_case()
    thread = WriterThread(paths)
    writer = thread.client
    tickets = []
    form: dict[str, object] = {}
    for i in range(5):  # queued before the thread runs: nothing executes yet
        form["field"] = i
        tickets.append(writer.submit(AppendEdit(case_id, "field", i)))
        tickets.append(writer.submit(SaveForm(case_id, dict(form))))
    assert writer.pending_count() == 6  # 5 edits + the one surviving save
    completed: list[int] = []
    saves: list[list[object]] = []
    writer.completed.connect(lambda ticket, _r: completed.append(ticket))
    writer.saved.connect(lambda case, rev: saves.append([case, rev]))
    try:
        thread.start()
        qtbot.waitUntil(lambda: len(completed) == len(tickets), timeout=10_000)
    finally:
        thread.stop()
    assert sorted(completed) == sorted(tickets)  # every caller hears back
    assert saves == [[case_id, 1]]               # but the disk saw one save
    with LocalStore(paths) as store:
        case = store.load_case(case_id)
        assert (case.form, case.revision, case.replayed_edits) == ({"field": 4}, 1, 0)


def test_bad_input_fails_that_request_alone(qtbot: QtBot, writer_thread: WriterThread,
                                            tmp_path: Path) -> None:
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    not_a_photo = tmp_path / "letter.jpg"
    not_a_photo.write_text("not a photo")
    with qtbot.waitSignal(writer.failed) as failed:
        ticket = writer.submit(AddImage(case_id, not_a_photo))
    assert failed.args is not None
    assert failed.args[:2] == [ticket, case_id]
    assert "not a photo" in failed.args[2]
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
    save_failures: list[str] = []
    writer.saveFailed.connect(lambda _case, message: save_failures.append(message))
    with qtbot.waitSignal(writer.storageStateChanged, timeout=10_000) as failing:
        writer.submit(SaveForm(case_id, big_form))
    assert failing.args is not None
    state, message = failing.args
    assert state is False and "disk is full" in message
    qtbot.waitUntil(lambda: len(save_failures) >= 1)
    assert writer.pending_count() == 1  # kept, not dropped

    def lift_limit() -> None:
        worker._store.conn.execute("PRAGMA max_page_count=1073741823")  # type: ignore[union-attr]

    with qtbot.waitSignals([writer.storageStateChanged, writer.saved], timeout=10_000,
                           check_params_cbs=[lambda ok, _m: ok, lambda *_a: True]):
        QTimer.singleShot(0, worker, lift_limit)
    writer_thread.stop()
    with LocalStore(paths) as store:
        assert store.load_case(case_id).form == big_form


def test_stop_flushes_everything_queued(qtbot: QtBot, writer_thread: WriterThread,
                                        paths: DataPaths) -> None:
    writer = _start(qtbot, writer_thread)
    case_id = _result(qtbot, writer, CreateCase())
    assert isinstance(case_id, str)
    for i in range(200):
        writer.submit(AppendEdit(case_id, f"f{i % 20}", i))
    assert writer_thread.stop()
    with LocalStore(paths) as store:
        form = store.load_case(case_id).form
    assert form == {f"f{k}": 180 + k for k in range(20)}


def test_store_that_cannot_open_reports_and_fails_requests(qtbot: QtBot, qapp: object,
                                                           paths: DataPaths) -> None:
    paths.root.mkdir(parents=True)
    paths.database.write_bytes(b"garbage" * 1000)
    thread = WriterThread(paths)
    try:
        with qtbot.waitSignal(thread.client.openFailed) as failed:
            thread.start()
        assert failed.args is not None and "damaged" in failed.args[0]
        with qtbot.waitSignal(thread.client.failed) as refused:
            thread.client.submit(CreateCase())
        assert refused.args is not None and "damaged" in refused.args[2]
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
    writer.imageAdded.connect(lambda _c, _i: order.append("photo"))
    edit_ticket: list[int] = []
    writer.completed.connect(
        lambda t, _r: order.append("edit") if edit_ticket and t == edit_ticket[0] else None)
    writer.submit(AddImage(case_id, big, slot="site"))
    edit_ticket.append(writer.submit(AppendEdit(case_id, "typed", "during the import")))
    qtbot.waitUntil(lambda: len(order) == 2, timeout=10_000)
    assert order == ["edit", "photo"]  # the write-ahead did not wait behind the copy
    assert writer.pending_count() == 0
