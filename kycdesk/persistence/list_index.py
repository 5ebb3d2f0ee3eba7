"""The case list's index, in memory: what the list shows and sorts and searches, with the
reference, applicant name and ID numbers opened from their sealed columns.

On disk those values are sealed (docs/security.md, "The search index under encryption"):
no clear column, no full-text table. While a verifier is signed in, one stdlib `sqlite3`
":memory:" database per store holds them: the list's columns, the same sort keys and
indexes the store had (`schema.LIST_SORT_KEYS_V8`, so keyset paging and every sort read
an index in order), and an FTS5 trigram table for substring search. One lock around it;
the writer thread, the GUI's reader and any other connection of the process share it
(`acquire`/`release`, counted; the last release drops it — at sign-out or lock).

Kept current by the store's *list sequence* (schema 11): every change of a listed column
of a case (and of its newest decision) stamps the row with the next number
(`cases.list_seq`), a removed case leaves its key in `list_removed`. `catch_up(conn)`
re-reads the rows stamped after what the index has applied — one indexed read, nothing
when nothing changed — so whichever connection reads next sees every commit, made by
this process or another one (the command line), and a snapshot written at any moment
(list_snapshot.py) is completed at the next sign-in by the rows stamped after it.

Search folds case and diacritics in Python ("García" is stored and searched as
"garcia"): the stdlib SQLite's trigram tokenizer may predate `remove_diacritics`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kycdesk.paths import DataPaths
from kycdesk.persistence import list_snapshot, list_values, schema
from kycdesk.persistence.db import Connection
from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

# A close writes the snapshot only this far behind (see `write_snapshot_at_close`): fewer
# changes are re-read from their sealed rows at the next sign-in (~2 ms per 100 rows).
CLOSE_SNAPSHOT_MIN_CHANGES = 2_000

# The in-memory schema below; a snapshot of another format is rebuilt (2: `pairs`).
FORMAT = 2
# Rows read (and values opened) per query while (re)building: bounds memory, not speed.
BATCH = 5000

# Letters NFKD does not take apart but SQLite's remove_diacritics folds (and people type
# without their stroke).
_STROKES = str.maketrans({"ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "ŧ": "t"})


def pair_token(pair: str) -> str:
    """The `pairs` table's token for two folded characters: their code points in hex
    ("zq" -> "7ax71"), so any two characters (a space, an apostrophe, a letter of any
    script) make one plain ASCII word the tokenizer keeps whole."""
    return "x".join(f"{ord(c):x}" for c in pair)


def pair_tokens(values: Sequence[str | None]) -> str:
    """Every distinct pair of adjacent characters of the folded values, as tokens (in
    one order: a row's removal repeats exactly what its insertion gave)."""
    pairs = {value[i:i + 2] for value in values if value for i in range(len(value) - 1)}
    return " ".join(pair_token(pair) for pair in sorted(pairs))


def fold(text: str | None) -> str:
    """What search compares: lower case, without diacritics ("Núñez" -> "nunez")."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_STROKES)


# 100,000 cases take ~90 MB here (and in the snapshot): every byte of a row is paid
# thirteen times (the table and twelve indexes). So the case id, every index's last key,
# is kept as its 16 bytes (`idb`; a canonical UUID's bytes sort as its text does), and
# the id is not kept as text at all.
_TABLES = (
    "CREATE TABLE meta(id INTEGER PRIMARY KEY CHECK (id = 1), format INTEGER NOT NULL, "
    "applied INTEGER NOT NULL)",
    # k: cases.search_key (unique and never reused from schema 11 on).
    f"""CREATE TABLE cases(
        k INTEGER PRIMARY KEY, idb BLOB NOT NULL,
        reference_number TEXT, applicant_name TEXT, id_number TEXT,
        status TEXT, last_saved TEXT, photo_count INTEGER NOT NULL DEFAULT 0,
        last_error TEXT, last_error_kind TEXT, next_attempt_at TEXT, purged_at TEXT,
        inbox TEXT, due_date TEXT, decision TEXT, decision_reason TEXT,
        sort_saved TEXT GENERATED ALWAYS AS (ifnull(last_saved, '')) VIRTUAL,
        sort_reference TEXT COLLATE NOCASE
            GENERATED ALWAYS AS (ifnull(reference_number, '')) VIRTUAL,
        sort_applicant TEXT COLLATE NOCASE
            GENERATED ALWAYS AS (ifnull(applicant_name, '')) VIRTUAL,
        sort_due TEXT GENERATED ALWAYS AS (ifnull(due_date, '9999-12-31')) VIRTUAL,
        list_view TEXT GENERATED ALWAYS AS ({schema.VIEW_OF_ROW}) VIRTUAL)""",
    "CREATE VIRTUAL TABLE search USING fts5(reference_number, applicant_name, id_number, "
    "tokenize = 'trigram', columnsize = 0)",
    # Two-letter search ("Ng", "zq"): too short for trigrams, and a LIKE over every row
    # cost 120-200 ms at 100,000 cases when little matched. Each case's folded values
    # as the set of their letter pairs, one token per pair (`pair_tokens`); only which
    # rows hold a pair is kept (detail = none), and not the tokens themselves (content
    # = '': they were 32 MB of the snapshot at 100,000 cases). A row is taken out with
    # FTS5's 'delete' command and its tokens, made again from `search`'s folded values.
    "CREATE VIRTUAL TABLE pairs USING fts5(tokens, tokenize = 'ascii', detail = none, "
    "content = '', columnsize = 0)",
    f"INSERT INTO meta(id, format, applied) VALUES (1, {FORMAT}, -1)",
)
# Made after the rows when the index is built from nothing (several times faster).
_INDEXES = (
    *(f"CREATE INDEX list_{n} ON cases({key}, idb)"
      for n, key in enumerate(schema.LIST_SORT_KEYS_V8)),
    *(f"CREATE INDEX view_{n} ON cases(list_view, {key}, idb)"
      for n, key in enumerate(schema.LIST_SORT_KEYS_V8)),
)

# The clear values of a row come as one JSON array: Qt's driver costs ~1 µs a value, and
# a rebuild reads 100,000 rows (20 values each otherwise).
_CHANGED_ROWS = (
    "SELECT c.search_key, c.id, c.reference_sealed, c.applicant_sealed, "
    "c.id_number_sealed, json_array(c.reference_number, c.applicant_name, c.id_number, "
    "c.status, c.last_saved, c.photo_count, c.last_error, c.last_error_kind, "
    "c.next_attempt_at, c.purged_at, c.inbox, c.due_date, d.decision, "
    "coalesce(d.reason_label, d.reason_code)), c.list_seq "
    "FROM cases c LEFT JOIN case_decisions d ON d.id = (SELECT max(x.id) FROM "
    "case_decisions x WHERE x.case_id = c.id) "
    "WHERE c.list_seq > ? ORDER BY c.list_seq LIMIT ?")
_INSERT = ("INSERT OR REPLACE INTO cases(k, idb, reference_number, applicant_name, "
           "id_number, status, last_saved, photo_count, last_error, last_error_kind, "
           "next_attempt_at, purged_at, inbox, due_date, decision, decision_reason) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


_FIELDS = (list_values.REFERENCE, list_values.APPLICANT, list_values.ID_NUMBER)


class IndexNotOpenError(RuntimeError):
    """The index was used after the last store holding it closed (a bug)."""


class ListIndex:
    """One store's in-memory list index (see the module). Thread-safe: every use holds
    `_lock`; the sqlite3 connection is used only under it."""

    def __init__(self, paths: DataPaths, vault: Vault) -> None:
        self.paths = paths
        self.vault = vault
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None  # set by `load`
        # One snapshot write at a time: a slower older one must not replace a newer one.
        self._write_lock = threading.Lock()
        self._applied = -1          # the store's list sequence the index reflects
        self._snapshot_applied = -2  # … and the snapshot on disk (-2: none written)
        self.rebuilt = False         # the last load found no usable snapshot
        self.read_at_load = 0        # rows re-read at load (changed after the snapshot)
        self._users = 0

    # -- the database --------------------------------------------------------------
    @staticmethod
    def _empty(*, indexed: bool = True) -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        for statement in _TABLES + (_INDEXES if indexed else ()):
            db.execute(statement)
        return db

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise IndexNotOpenError("the case list's index is closed")
        return self._db

    @contextmanager
    def reading(self, conn: Connection | None) -> Iterator[sqlite3.Connection]:
        """The in-memory database, current with `conn`'s view of the store (caught up
        first, when given), under the lock for the duration of the block."""
        with self._lock:
            if conn is not None:
                self._catch_up(conn)
            yield self._conn()

    @property
    def applied(self) -> int:
        with self._lock:
            return self._applied

    # -- loading -------------------------------------------------------------------
    def load(self, conn: Connection) -> None:
        """At sign-in: the snapshot if it is usable, else a rebuild; then the rows
        changed since. `conn` is the opening connection (the writer's)."""
        with self._lock:
            list_snapshot.remove_leftovers(self.paths)
            store_sequence = _store_sequence(conn)
            data = list_snapshot.read(self.paths, self.vault)
            if data is not None and self._restore(data, store_sequence):
                self._snapshot_applied = self._applied
                self.read_at_load = self._catch_up(conn)
                if self._count() == int(conn.scalar("SELECT count(*) FROM cases")):
                    return
                # Cases missing or too many: a snapshot of another history of this
                # store (one restored from a copy, then changed). Not trusted.
                log.warning("the case list's snapshot does not match the store: "
                            "rebuilding it")
                self.close()
            self._rebuild(conn)

    def _rebuild(self, conn: Connection) -> None:
        self.rebuilt = True
        self._db = self._empty(indexed=False)
        self._applied = -1
        try:
            self.read_at_load = self._catch_up(conn)
        finally:
            for statement in _INDEXES:
                self._db.execute(statement)

    def _count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM cases").fetchone()[0])

    def _restore(self, data: bytes, store_sequence: int) -> bool:
        db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        try:
            db.deserialize(data)
            row = db.execute("SELECT format, applied FROM meta WHERE id = 1").fetchone()
            db.execute("SELECT count(*) FROM search WHERE rowid = 0").fetchone()
        except (sqlite3.Error, ValueError) as exc:
            log.warning("the case list's snapshot is unreadable (%s): rebuilding it",
                        type(exc).__name__)
            db.close()
            return False
        if row is None or row[0] != FORMAT or not -1 <= int(row[1]) <= store_sequence:
            # Another format, or from a store that has since gone back (restored from a
            # copy): what it holds cannot be completed by the rows stamped after it.
            log.warning("the case list's snapshot does not match the store: rebuilding it")
            db.close()
            return False
        self._db = db
        self._applied = int(row[1])
        return True

    # -- keeping current -----------------------------------------------------------
    def catch_up(self, conn: Connection) -> int:
        """Apply the store's changes since the last catch-up; returns the rows read."""
        with self._lock:
            return self._catch_up(conn)

    def _catch_up(self, conn: Connection) -> int:
        # The sequence first: a row committed after this read carries a higher number
        # and is (re)read next time, never skipped.
        sequence = _store_sequence(conn)
        if sequence == self._applied:
            return 0
        db = self._conn()
        fresh = self._applied < 0
        db.execute("BEGIN")
        try:
            if not fresh:
                for (key,) in conn.query_all("SELECT search_key FROM list_removed "
                                             "WHERE seq > ?", (self._applied,)):
                    self._remove(db, int(key))
            read = 0
            after = self._applied
            while True:
                rows = conn.query_all(_CHANGED_ROWS, (after, BATCH))
                self._put(db, rows, fresh=fresh)
                read += len(rows)
                if len(rows) < BATCH:
                    break
                after = int(rows[-1][-1])
            self._applied = max(sequence, self._applied)
            db.execute("UPDATE meta SET applied = ? WHERE id = 1", (self._applied,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return read

    def _remove(self, db: sqlite3.Connection, key: int) -> None:
        db.execute("DELETE FROM cases WHERE k = ?", (key,))
        self._unpair(db, [key])
        db.execute("DELETE FROM search WHERE rowid = ?", (key,))

    @staticmethod
    def _unpair(db: sqlite3.Connection, keys: Sequence[int]) -> None:
        """Take rows out of `pairs` (before `search` forgets their folded values)."""
        for key in keys:
            row = db.execute("SELECT reference_number, applicant_name, id_number "
                             "FROM search WHERE rowid = ?", (key,)).fetchone()
            if row is not None:
                db.execute("INSERT INTO pairs(pairs, rowid, tokens) VALUES "
                           "('delete', ?, ?)", (key, pair_tokens(row)))

    def _put(self, db: sqlite3.Connection, rows: Sequence[Sequence[Any]], *,
             fresh: bool) -> None:
        """Rows of the store (`_CHANGED_ROWS`) into the index, replacing what it had
        under their keys (a case keeps its key for life: removals come first)."""
        listed, searched, paired = [], [], []
        for row in rows:
            key, case_id = int(row[0]), str(row[1])
            clear = json.loads(row[5])
            values = [list_values.read(self.vault, case_id, field, row[2 + n], clear[n])
                      for n, field in enumerate(_FIELDS)]
            listed.append((key, uuid.UUID(case_id).bytes, *values, *clear[3:]))
            folded = [fold(value) for value in values]
            searched.append((key, *folded))
            paired.append((key, pair_tokens(folded)))
        if not fresh:
            self._unpair(db, [r[0] for r in listed])
            db.executemany("DELETE FROM search WHERE rowid = ?", [(r[0],) for r in listed])
        db.executemany(_INSERT, listed)
        db.executemany("INSERT INTO search(rowid, reference_number, applicant_name, "
                       "id_number) VALUES (?, ?, ?, ?)", searched)
        db.executemany("INSERT INTO pairs(rowid, tokens) VALUES (?, ?)", paired)

    # -- the snapshot ----------------------------------------------------------------
    def dirty(self) -> bool:
        """Changes not in the snapshot on disk yet."""
        with self._lock:
            return self._db is not None and self._applied != self._snapshot_applied

    def write_snapshot_at_close(self) -> bool:
        """At a close (a lock, a sign-out, quit: something may wait for it in the GUI
        thread) the snapshot is written only when none exists or it is far behind: a few
        changes are re-read from their sealed rows at the next sign-in in milliseconds,
        while a snapshot at 100,000 cases is ~85 MB to encrypt and fsync."""
        with self._lock:
            if self._db is None:
                return False
            far = (self._snapshot_applied < 0
                   or self._applied - self._snapshot_applied >= CLOSE_SNAPSHOT_MIN_CHANGES)
        return self.write_snapshot() if far else False

    def write_snapshot(self) -> bool:
        """Write the snapshot if the index changed since the last one (any thread but
        the GUI's: ~55 ms at 100,000 cases). Returns whether it wrote."""
        with self._write_lock:
            with self._lock:
                if self._db is None or self._applied == self._snapshot_applied:
                    return False
                data = self._db.serialize()
                applied = self._applied
            # Encrypting and writing ~23 MB does not hold up the list's readers.
            list_snapshot.write(self.paths, self.vault, data)
            with self._lock:
                self._snapshot_applied = applied
            return True

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# -- sharing: one index per store in the process ------------------------------------
_registry_lock = threading.Lock()
_open: dict[Path, ListIndex] = {}


def acquire(paths: DataPaths, vault: Vault, conn: Connection) -> ListIndex:
    """The store's index, loaded (snapshot or rebuild) by the first connection that
    opens the store in this process; later ones share it."""
    key = paths.database.resolve()
    with _registry_lock:
        index = _open.get(key)
        if index is not None and index.vault.verifier != vault.verifier:
            raise RuntimeError("a store is open under another verifier's keys")
        if index is None:
            index = ListIndex(paths, vault)
            index.load(conn)
            _open[key] = index
        index._users += 1
        return index


def release(index: ListIndex, *, write: bool = True) -> None:
    """A connection closed; the last one writes what the snapshot misses and drops the
    index (the names in memory go with it)."""
    with _registry_lock:
        index._users -= 1
        if index._users > 0:
            return
        _open.pop(index.paths.database.resolve(), None)
    try:
        if write:
            index.write_snapshot_at_close()
    except OSError as exc:  # the next sign-in completes an older snapshot or rebuilds
        log.warning("the case list's snapshot could not be written (%s)", exc.strerror)
    finally:
        index.close()


def _store_sequence(conn: Connection) -> int:
    return int(conn.scalar("SELECT n FROM list_sequence"))
