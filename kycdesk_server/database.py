"""The server's database, one interface over two engines: SQLite (the embedded back end:
zero configuration, what tests and demos start) and PostgreSQL (a fleet). The SQL is
written once, in the subset both speak (`?` placeholders, `INSERT … ON CONFLICT`); this
module translates placeholders and runs transactions. One connection per worker
process, used under a lock from the worker's threads (never from the event loop).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

Params = Sequence[Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Database:
    """Base: `execute` one statement; `transaction()` for several. Thread-safe."""

    dialect: str
    integrity_errors: tuple[type[Exception], ...]
    errors: tuple[type[Exception], ...]

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._depth = 0

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        with self.lock:
            return self._execute(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All statements inside commit together or not at all (nested: the outer one)."""
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            self._execute(self._begin, ())
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._execute("ROLLBACK", ())
                raise
            self._depth = 0
            self._execute("COMMIT", ())

    _begin = "BEGIN"

    def _execute(self, sql: str, params: Params) -> Cursor:
        raise NotImplementedError

    def user_version(self) -> int:
        raise NotImplementedError

    def set_user_version(self, version: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteDatabase(Database):
    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)
    errors = (sqlite3.Error,)
    _begin = "BEGIN IMMEDIATE"  # the write lock up front: no deadlock halfway through

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")

    def _execute(self, sql: str, params: Params) -> Cursor:
        return self.conn.execute(sql, tuple(params))

    def user_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def set_user_version(self, version: int) -> None:
        self.conn.execute(f"PRAGMA user_version={int(version)}")

    def close(self) -> None:
        self.conn.close()


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, dsn: str) -> None:
        super().__init__()
        import psycopg

        self._psycopg = psycopg
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self.errors = (psycopg.Error,)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("CREATE TABLE IF NOT EXISTS kycdesk_schema(version INTEGER NOT NULL)")
        if self.conn.execute("SELECT count(*) FROM kycdesk_schema").fetchone() == (0,):
            self.conn.execute("INSERT INTO kycdesk_schema VALUES (0)")

    def _execute(self, sql: str, params: Params) -> Cursor:
        cursor: Cursor = self.conn.execute(sql.replace("?", "%s"), tuple(params))
        return cursor

    def user_version(self) -> int:
        row = self.conn.execute("SELECT version FROM kycdesk_schema").fetchone()
        return int(row[0]) if row else 0

    def set_user_version(self, version: int) -> None:
        self.conn.execute("UPDATE kycdesk_schema SET version = %s", (int(version),))

    def close(self) -> None:
        self.conn.close()


def open_database(url: str | None, data_dir: Path) -> Database:
    """`postgresql://…` (or a libpq key=value string): PostgreSQL; None: the embedded
    SQLite file in the data folder."""
    if url:
        return PostgresDatabase(url)
    return SqliteDatabase(data_dir / "server.sqlite3")
