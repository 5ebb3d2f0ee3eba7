"""Disk full / read-only / low space become messages, never tracebacks."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kycdesk.core.errors import StorageUnavailableError
from kycdesk.logging_setup import configure
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import CreateCase, SaveForm
from kycdesk.persistence.db import Connection
from kycdesk.persistence.diskspace import space_report
from kycdesk.persistence.store import LocalStore, open_connection
from tests.vaults import make_vault


def test_write_on_read_only_database_says_read_only(store: LocalStore,
                                                    paths: DataPaths) -> None:
    reader = open_connection(paths, writer=False, role="test-reader",
                             vault=make_vault())
    try:
        with pytest.raises(StorageUnavailableError, match="read-only") as raised:
            reader.execute("INSERT INTO case_events(at, kind) VALUES ('now', 'x')")
        assert raised.value.retryable
    finally:
        reader.close()


def test_full_database_says_disk_full_and_keeps_old_data(store: LocalStore) -> None:
    case_id = store.run(CreateCase())
    store.run(SaveForm(case_id, {"kept": True}))
    pages = store.conn.scalar("PRAGMA page_count")
    store.conn.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(StorageUnavailableError, match="disk is full"):
        store.run(SaveForm(case_id, {"big": "x" * 500_000}))
    assert store.load_case(case_id).form == {"kept": True}
    store.conn.execute("PRAGMA max_page_count=1073741823")
    assert store.run(SaveForm(case_id, {"big": "x" * 500_000})) == 2


def test_low_space_report_warns_in_words(qapp: object, tmp_path: Path) -> None:
    report = space_report(tmp_path, low_threshold=2**62)
    assert report.low
    message = report.message()
    assert message is not None and "MB of disk space left" in message
    assert space_report(tmp_path, low_threshold=0).message() is None


def test_connection_refuses_use_from_another_thread(store: LocalStore) -> None:
    import threading

    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.conn.scalar("SELECT 1")
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    assert errors and "outside the thread" in str(errors[0])


def test_missing_bound_values_are_a_bug_not_a_null(store: LocalStore) -> None:
    conn: Connection = store.conn
    with pytest.raises(Exception, match="Missing bound values"):
        conn.execute("INSERT INTO case_events(at, kind) VALUES (?, ?)", ("now",))


def test_log_file_is_written_and_rotates(tmp_path: Path) -> None:
    path = configure(tmp_path / "logs")
    assert path is not None
    log = logging.getLogger("kycdesk.test")
    for _ in range(30_000):
        log.info("x" * 100)
    assert path.exists()
    assert (path.parent / (path.name + ".1")).exists()
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_kycdesk", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_the_app_warns_of_low_space_without_the_gui_thread_asking_the_disk(
        qtbot: object, paths: DataPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from kycdesk.app import KycDeskApp

    asked_in: list[int] = []

    def nearly_full(path: Path) -> object:
        asked_in.append(threading.get_ident())
        return space_report(path, low_threshold=2**62)

    monkeypatch.setattr("kycdesk.app.space_report", nearly_full)
    app = KycDeskApp(paths, vault=make_vault())
    try:
        assert app.start()
        qtbot.waitUntil(lambda: bool(app.window.space_label.text()))  # type: ignore[attr-defined]
        assert asked_in and threading.get_ident() not in asked_in
    finally:
        app.shutdown()
