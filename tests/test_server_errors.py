"""Known failures of the server's parts are classified where they arise (storage
unavailable, disk full) and answered 503/507 with Retry-After; anything else is a bug: a
500 problem body and one log line, no traceback."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from kycdesk_server.app import ServerConfig, create_app
from kycdesk_server.database import PoolSettings, PostgresDatabase, SqliteDatabase
from kycdesk_server.errors import StorageUnavailableError
from kycdesk_server.storage import ServerStore
from tests.real_parts import Postgres


def _get(app: FastAPI, path: str) -> httpx.Response:
    """One request to the app in this process (its error handling is what is tested)."""
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(call())


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ServerStore]:
    opened = ServerStore(tmp_path / "data")
    yield opened
    opened.close()


def test_a_locked_sqlite_file_is_storage_unavailable(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "s.sqlite3", busy_timeout_s=0.1)
    db.execute("CREATE TABLE t(x INTEGER)")
    other = sqlite3.connect(tmp_path / "s.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(StorageUnavailableError) as raised:
            db.execute("INSERT INTO t VALUES (1)")
        assert not raised.value.disk_full and raised.value.part == "database"
    finally:
        other.execute("ROLLBACK")
        other.close()
        db.close()


def test_bad_sql_stays_a_bug(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "s.sqlite3")
    try:
        with pytest.raises(sqlite3.OperationalError):
            db.execute("SELECT * FROM no_such_table")
        db.execute("CREATE TABLE t(x INTEGER PRIMARY KEY)")
        db.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(db.integrity_errors):
            db.execute("INSERT INTO t VALUES (1)")
    finally:
        db.close()


def test_postgres_that_does_not_answer_is_storage_unavailable() -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(StorageUnavailableError):
        PostgresDatabase(f"host=127.0.0.1 port={port} user=x dbname=x",
                         PoolSettings(timeout_s=1.0))


def test_a_postgres_statement_error_stays_a_bug(postgres: Postgres) -> None:
    import psycopg

    db = PostgresDatabase(postgres.new_database("bugs"))
    try:
        with pytest.raises(psycopg.errors.UndefinedTable):
            db.execute("SELECT * FROM no_such_table")
        with db.transaction():  # the pool's connection is fine afterwards
            assert db.execute("SELECT 1").fetchone() == (1,)
    finally:
        db.close()


def test_storage_unavailable_is_503_and_disk_full_507(store: ServerStore,
                                                      caplog: pytest.LogCaptureFixture
                                                      ) -> None:
    app = create_app(store, ServerConfig(tokens={"t"}))

    async def down() -> None:
        raise StorageUnavailableError("the database is unavailable (test)",
                                      part="database")

    async def full() -> None:
        raise StorageUnavailableError("no space (test)", part="photos", disk_full=True)

    app.add_api_route("/test/down", down)
    app.add_api_route("/test/full", full)
    with caplog.at_level(logging.WARNING):
        unavailable = _get(app, "/test/down")
        full_reply = _get(app, "/test/full")
    assert unavailable.status_code == 503 and unavailable.headers["retry-after"] == "10"
    assert unavailable.headers["content-type"] == "application/problem+json"
    assert full_reply.status_code == 507 and int(full_reply.headers["retry-after"]) >= 60
    assert not any(r.exc_info for r in caplog.records)


def test_a_bug_is_a_500_and_one_log_line(store: ServerStore,
                                         caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(store, ServerConfig(tokens={"t"}))

    async def boom() -> None:
        raise KeyError("nobody expected this")

    app.add_api_route("/test/boom", boom)
    with caplog.at_level(logging.INFO):
        reply = _get(app, "/test/boom")
    assert reply.status_code == 500 and reply.json()["title"] == "Internal server error"
    bugs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(bugs) == 1 and "KeyError" in bugs[0].getMessage()
    assert "test_server_errors.py" in bugs[0].getMessage() and bugs[0].exc_info is None
