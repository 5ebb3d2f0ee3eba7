"""The only module that talks to QSqlDatabase.

One `Connection` per thread, created and closed in that thread (QSqlDatabase is not
thread-safe). Every statement is prepared with positional bound values; a mismatch in
their count is a bug and raises at once instead of silently binding NULL. SQLite
failures are sorted into conditions the user can act on (disk full, read-only, corrupt)
and bugs (everything else).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QCoreApplication
from PySide6.QtSql import QSqlDatabase, QSqlError, QSqlQuery

from kycdesk.core.errors import (
    DatabaseCorruptError,
    StorageUnavailableError,
    StoreError,
)

if TYPE_CHECKING:
    from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
SqlValue = str | int | float | bytes | None
Row = tuple[Any, ...]

# Primary SQLite result codes (extended codes keep them in the low byte).
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

_names = itertools.count(1)


class SqlError(RuntimeError):
    """An SQL failure that is a bug (syntax, constraint, misuse), not a user condition."""


def classify(error: QSqlError, context: str) -> Exception:
    """Turn a QSqlError into a StoreError the UI can show, or an SqlError (a bug)."""
    native = error.nativeErrorCode()
    text = error.text()
    try:
        code = int(native) & 0xFF
    except ValueError:
        code = -1
    detail = f"{context}: {text} (sqlite code {native or '?'})"
    if code == SQLITE_FULL:
        return StorageUnavailableError("The disk is full. Free some space; kycdesk keeps "
                                       "your changes and saves them as soon as it can.")
    if code == SQLITE_READONLY:
        return StorageUnavailableError("The data folder is read-only. kycdesk keeps your "
                                       "changes and saves them once it can write again.")
    if code in (SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_NOMEM):
        return StorageUnavailableError(f"The disk could not be written ({text}). "
                                       "kycdesk keeps your changes and tries again.")
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return StorageUnavailableError("The database is busy. kycdesk tries again.")
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return DatabaseCorruptError(f"The database file is damaged ({text}). It has not "
                                    "been changed; run 'kycdesk doctor' for the options.")
    return SqlError(detail)


def _value(value: Any) -> Any:
    """A column's value as Python: a BLOB (QByteArray) as bytes."""
    return value.data() if isinstance(value, QByteArray) else value


class Connection:
    """A named QSQLITE connection owned by the thread that created it."""

    def __init__(self, path: Path, *, role: str, writer: bool) -> None:
        self.path = path
        self.role = role
        self.writer = writer
        # The keys that seal and open this store's personal values (persistence/sealed.py),
        # set by `store.open_connection`; None only in schema tests that read no values.
        self.vault: Vault | None = None
        self.name = f"kycdesk-{role}-{next(_names)}"
        self._owner = threading.get_ident()
        self._in_transaction = False
        self._savepoints = 0
        if QCoreApplication.instance() is None:
            # QtSql crashes (not raises) without an application object.
            raise SqlError("create a QCoreApplication before opening the store")
        if writer and not path.exists():
            # Personal data: the database (and its -wal/-shm, which copy its mode) owner-only.
            with contextlib.suppress(OSError):
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        db = QSqlDatabase.addDatabase("QSQLITE", self.name)
        db.setDatabaseName(str(path))
        db.setConnectOptions(f"QSQLITE_BUSY_TIMEOUT={BUSY_TIMEOUT_MS}")
        if not db.open():
            error = classify(db.lastError(), f"open {path}")
            del db
            QSqlDatabase.removeDatabase(self.name)
            raise error
        self._db: QSqlDatabase | None = db

    # -- lifecycle -------------------------------------------------------------------
    def configure(self) -> None:
        """Pragmas. Separate from __init__ so a corrupt file is reported, not altered:
        `journal_mode=WAL` writes to the file, so callers first check it is a database."""
        self.execute("PRAGMA foreign_keys=ON")
        if self.writer:
            self.query_one("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before the writer acknowledges it (WAL+NORMAL can
            # lose the last transactions on power loss, which breaks "saved means saved").
            self.execute("PRAGMA synchronous=FULL")
        else:
            self.execute("PRAGMA query_only=ON")

    def close(self) -> None:
        if self._db is None:
            return
        self._check_thread()
        self._db.close()
        self._db = None
        QSqlDatabase.removeDatabase(self.name)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- statements ------------------------------------------------------------------
    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise SqlError(f"connection {self.name} used outside the thread that opened it")

    def _run(self, sql: str, params: Sequence[SqlValue]) -> QSqlQuery:
        self._check_thread()
        if self._db is None:
            raise SqlError(f"connection {self.name} is closed")
        expected = sql.count("?")
        if expected != len(params):
            raise SqlError(f"Missing bound values! {expected} placeholders, "
                           f"{len(params)} values: {sql}")
        query = QSqlQuery(self._db)
        query.setForwardOnly(True)
        if not query.prepare(sql):
            raise classify(query.lastError(), f"prepare {sql}")
        for value in params:
            # Python bytes bound as they are become an empty TEXT in QtSql: a BLOB (a
            # sealed value) is bound as a QByteArray, and read back as bytes (`_value`).
            query.addBindValue(QByteArray(bytes(value))
                               if isinstance(value, bytes | bytearray) else value)
        if not query.exec():
            error = classify(query.lastError(), f"exec {sql}")
            query.finish()
            raise error
        return query

    def execute(self, sql: str, params: Sequence[SqlValue] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        query = self._run(sql, params)
        affected = query.numRowsAffected()
        query.finish()
        return affected

    def insert(self, sql: str, params: Sequence[SqlValue] = ()) -> int:
        """Run an INSERT; return the new rowid."""
        query = self._run(sql, params)
        rowid = query.lastInsertId()
        query.finish()
        return int(rowid)

    def query_all(self, sql: str, params: Sequence[SqlValue] = ()) -> list[Row]:
        query = self._run(sql, params)
        width = query.record().count()
        rows: list[Row] = []
        while query.next():
            # PySide6 returns '' for SQL NULL; keep NULL distinct (a missing GPS fix is
            # not the same as an empty address).
            rows.append(tuple(None if query.isNull(i) else _value(query.value(i))
                              for i in range(width)))
        error = query.lastError()
        query.finish()
        if error.isValid():
            raise classify(error, f"fetch {sql}")
        return rows

    def query_one(self, sql: str, params: Sequence[SqlValue] = ()) -> Row | None:
        rows = self.query_all(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Sequence[SqlValue] = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT; rollback on any exception.

        IMMEDIATE takes the write lock up front so a busy database fails at BEGIN (and is
        retried by busy_timeout) instead of half-way through a multi-row change.

        Inside an open transaction (the writer's group commit runs many requests in one)
        this is a SAVEPOINT: a failing request rolls back its own changes and nothing
        else, and its COMMIT is the group's — one fsync for the lot.
        """
        if self._savepoints or self._in_transaction:
            yield from self._savepoint()
            return
        self.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._in_transaction = False
            try:
                self.execute("ROLLBACK")
            except (StoreError, SqlError) as rollback_error:
                # SQLite may have rolled back on its own (e.g. after SQLITE_FULL).
                log.warning("rollback on %s failed: %s", self.name, rollback_error)
            raise
        self._in_transaction = False
        try:
            self.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(StoreError, SqlError):
                self.execute("ROLLBACK")
            raise

    def _savepoint(self) -> Iterator[Connection]:
        self._savepoints += 1
        name = f"sp{self._savepoints}"
        self.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            try:
                self.execute(f"ROLLBACK TO {name}")
                self.execute(f"RELEASE {name}")
            except (StoreError, SqlError) as rollback_error:
                # After SQLITE_FULL and friends SQLite may have ended the whole
                # transaction; the outer level sees the error and rolls back.
                log.warning("rollback to %s on %s failed: %s", name, self.name,
                            rollback_error)
            raise
        finally:
            self._savepoints -= 1
        self.execute(f"RELEASE {name}")

    @property
    def in_transaction(self) -> bool:
        return self._in_transaction
