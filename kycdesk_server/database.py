"""The server's database, one interface over two engines: SQLite (the embedded back end:
zero configuration, what tests and demos start) and PostgreSQL (a fleet). The SQL is
written once, in the subset both speak (`?` placeholders, `INSERT … ON CONFLICT`); this
module translates placeholders, runs transactions and classifies failures.

- PostgreSQL: a pool of connections (psycopg_pool), each checked before it is handed
  out, so a connection that died with a server restart is replaced, never used. While
  the server is down a request waits at most `PoolSettings.timeout_s` for a connection;
  new connections are tried as requests need them (a failed attempt gives up after
  `reconnect_timeout_s`, so the pool never sits in a long backoff after the server is
  back).
- SQLite: one connection, used by one thread at a time under `lock` (SQLite has one
  writer anyway; a second process, e.g. an admin command, waits `busy_timeout_s`).

Every result is read whole while the connection is held (`Rows`), so no cursor outlives
its connection. Errors: a lost connection, a restarting or shut-down server, too many
connections, a locked SQLite file, an I/O error -> `StorageUnavailableError` (503); no
space (SQLITE_FULL, PostgreSQL's disk_full) -> the same with `disk_full` (507); anything
else (a constraint, bad SQL) is raised as it is: a conflict the caller handles, or a bug.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kycdesk_server.errors import StorageUnavailableError

Params = Sequence[Any]


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Rows:
    """A statement's result, read whole while its connection was held."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self._rowcount = rowcount

    @property
    def rowcount(self) -> int:
        return self._rowcount

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Any]:
        rest, self._next = self._rows[self._next:], len(self._rows)
        return rest


@dataclass(frozen=True)
class PoolSettings:
    """PostgreSQL connections of one server process (docs/deploy-server.md)."""

    min_size: int = 1
    max_size: int = 10
    timeout_s: float = 5.0            # a request waits this long for a connection: then 503
    reconnect_timeout_s: float = 2.0  # a failing connection attempt gives up after this
    connect_timeout_s: int = 5


class Database:
    """Base: `execute` one statement; `transaction()` for several. Thread-safe."""

    dialect: str
    integrity_errors: tuple[type[Exception], ...]

    def __init__(self) -> None:
        # Callers may hold it to serialise a read-then-write inside this process; the
        # engines do not need it for safety (SQLite's connection takes it itself).
        self.lock = threading.RLock()

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        with self._classified():
            return self._run(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All statements inside commit together or not at all (nested: the outer one)."""
        with self._classified(), self._transaction():
            yield self

    @contextlib.contextmanager
    def _classified(self) -> Iterator[None]:
        try:
            yield
        except StorageUnavailableError:
            raise
        except Exception as exc:
            known = self.unavailable(exc)
            if known is None:
                raise
            raise known from exc

    def unavailable(self, exc: Exception) -> StorageUnavailableError | None:
        """The engine's error as "storage unavailable", or None: not a known condition."""
        raise NotImplementedError

    def _run(self, sql: str, params: Params) -> Rows:
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def user_version(self) -> int:
        raise NotImplementedError

    def set_user_version(self, version: int) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _read(cursor: Any) -> Rows:
    return Rows(cursor.fetchall() if cursor.description else [], cursor.rowcount)


# SQLite's primary result codes (the low byte of an extended code).
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY = 5, 6, 7, 8
SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 10, 13, 14
_SQLITE_UNAVAILABLE = {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_READONLY,
                       SQLITE_IOERR, SQLITE_CANTOPEN}


class SqliteDatabase(Database):
    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)
    _begin = "BEGIN IMMEDIATE"  # the write lock up front: no deadlock halfway through

    def __init__(self, path: Path, *, busy_timeout_s: float = 5.0) -> None:
        super().__init__()
        self._depth = 0
        with self._classified():
            self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                        timeout=busy_timeout_s)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")

    def unavailable(self, exc: Exception) -> StorageUnavailableError | None:
        if not isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError) \
                or isinstance(exc, sqlite3.IntegrityError):
            return None
        code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
        if code == SQLITE_FULL:
            return StorageUnavailableError(f"the database's disk is full ({exc})",
                                           part="database", disk_full=True)
        if code in _SQLITE_UNAVAILABLE:
            return StorageUnavailableError(f"the database is unavailable ({exc})",
                                           part="database")
        return None

    def _run(self, sql: str, params: Params) -> Rows:
        with self.lock:
            return _read(self.conn.execute(sql, tuple(params)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute(self._begin)
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):  # the first error is the news
                    self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise

    def user_version(self) -> int:
        return int(self.execute("PRAGMA user_version").fetchone()[0])

    def set_user_version(self, version: int) -> None:
        self.execute(f"PRAGMA user_version={int(version)}")

    def close(self) -> None:
        self.conn.close()


# PostgreSQL SQLSTATEs of a server that cannot serve now (not of a wrong statement).
_PG_DISK_FULL = "53100"
_PG_UNAVAILABLE_CLASSES = ("08", "53")              # connection exception, resources
_PG_UNAVAILABLE = {"57P01", "57P02", "57P03", "57P05"}  # admin/crash shutdown, starting


class PostgresDatabase(Database):
    dialect = "postgres"

    def __init__(self, dsn: str, pool: PoolSettings | None = None) -> None:
        super().__init__()
        import psycopg
        from psycopg_pool import ConnectionPool

        settings = pool or PoolSettings()
        self._psycopg = psycopg
        self.integrity_errors = (psycopg.errors.IntegrityError,)
        self._local = threading.local()  # the connection of this thread's transaction
        self.pool: ConnectionPool[Any] = ConnectionPool(
            dsn, min_size=settings.min_size, max_size=settings.max_size,
            timeout=settings.timeout_s, reconnect_timeout=settings.reconnect_timeout_s,
            kwargs={"autocommit": True, "connect_timeout": settings.connect_timeout_s},
            check=ConnectionPool.check_connection, open=False, name="kycdesk")
        self.pool.open(wait=False)
        try:
            self.execute("CREATE TABLE IF NOT EXISTS kycdesk_schema(version INTEGER NOT NULL)")
            with self.transaction():
                if self.execute("SELECT count(*) FROM kycdesk_schema").fetchone() == (0,):
                    self.execute("INSERT INTO kycdesk_schema VALUES (0)")
        except BaseException:
            self.pool.close()
            raise

    def unavailable(self, exc: Exception) -> StorageUnavailableError | None:
        if not isinstance(exc, self._psycopg.Error) \
                or isinstance(exc, self._psycopg.errors.IntegrityError):
            return None
        sqlstate = getattr(exc, "sqlstate", None)
        if sqlstate == _PG_DISK_FULL:
            return StorageUnavailableError(f"the database's disk is full ({sqlstate})",
                                           part="database", disk_full=True)
        # No SQLSTATE on an OperationalError: the connection itself failed (refused, lost
        # mid-statement, the pool's wait timed out).
        if (sqlstate is None and isinstance(exc, self._psycopg.OperationalError)) \
                or (sqlstate is not None and (sqlstate.startswith(_PG_UNAVAILABLE_CLASSES)
                                              or sqlstate in _PG_UNAVAILABLE)):
            return StorageUnavailableError(
                f"the database is unavailable ({type(exc).__name__}"
                f"{' ' + sqlstate if sqlstate else ''})", part="database")
        return None

    def _run(self, sql: str, params: Params) -> Rows:
        held = getattr(self._local, "conn", None)
        if held is not None:
            return _read(held.execute(sql.replace("?", "%s"), tuple(params)))
        with self.pool.connection() as conn:
            return _read(conn.execute(sql.replace("?", "%s"), tuple(params)))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield  # nested: part of the outer transaction
            return
        with self.pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def user_version(self) -> int:
        row = self.execute("SELECT version FROM kycdesk_schema").fetchone()
        return int(row[0]) if row else 0

    def set_user_version(self, version: int) -> None:
        self.execute("UPDATE kycdesk_schema SET version = ?", (int(version),))

    def close(self) -> None:
        self.pool.close()


def open_database(url: str | None, data_dir: Path, *,
                  pool: PoolSettings | None = None) -> Database:
    """`postgresql://…` (or a libpq key=value string): PostgreSQL; None: the embedded
    SQLite file in the data folder."""
    if url:
        return PostgresDatabase(url, pool)
    return SqliteDatabase(data_dir / "server.sqlite3")
