"""Schema and forward-only migrations, versioned by PRAGMA user_version.

`MIGRATIONS[n]` takes a database from version n to n+1 inside one transaction. A
migration, once released, is never edited: tests build databases of every older version
by running the first n migrations, then upgrade them with the current code.

Version 1 is the seed schema the product started from (its columns are kept exactly);
version 2 adds sync/audit columns, the edit write-ahead and the audit trail, and
rebuilds the child tables so they get foreign keys (SQLite cannot ALTER those in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from kycdesk.core.errors import DatabaseCorruptError, DatabaseTooNewError
from kycdesk.core.hashing import held_digest
from kycdesk.core.states import RETRIED_KIND, CaseStatus, CaseView, Inbox
from kycdesk.persistence.db import Connection

log = logging.getLogger(__name__)

SQLITE_HEADER = b"SQLite format 3\x00"


def _v0_to_v1_seed(conn: Connection) -> None:
    conn.execute("""CREATE TABLE cases(
        id TEXT PRIMARY KEY, reference_number TEXT, status TEXT, current_step TEXT,
        last_saved TEXT)""")
    conn.execute("CREATE TABLE case_forms(case_id TEXT PRIMARY KEY, form_json TEXT)")
    conn.execute("""CREATE TABLE case_images(
        id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT, file_path TEXT,
        latitude REAL, longitude REAL, address TEXT, accuracy REAL, captured_at TEXT,
        synced INTEGER DEFAULT 0)""")


# A v4-shaped UUID from SQLite alone, for rows that existed before images had one.
_SQL_UUID4 = (
    "lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || "
    "substr(lower(hex(randomblob(2))), 2) || '-' || "
    "substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || "
    "'-' || lower(hex(randomblob(6)))"
)


def _v1_to_v2_sync_and_audit(conn: Connection) -> None:
    for column in (
        "created_at TEXT", "form_id TEXT", "form_version TEXT", "finalized_at TEXT",
        "sync_attempts INTEGER DEFAULT 0", "next_attempt_at TEXT", "last_error TEXT",
        "last_error_kind TEXT", "server_receipt TEXT",
    ):
        conn.execute(f"ALTER TABLE cases ADD COLUMN {column}")
    conn.execute("UPDATE cases SET created_at = last_saved WHERE created_at IS NULL")
    # Seed databases had no foreign keys: give images/forms that point at a missing case
    # a case row instead of dropping them (nothing captured is ever silently lost).
    adopted = conn.execute(
        "INSERT INTO cases(id, status, reference_number) "
        "SELECT DISTINCT case_id, 'DRAFT', 'recovered' FROM ("
        " SELECT case_id FROM case_images UNION SELECT case_id FROM case_forms)"
        " WHERE case_id IS NOT NULL AND case_id NOT IN (SELECT id FROM cases)"
    )
    if adopted > 0:
        log.warning("migration 2: created %d case rows for orphaned forms/images", adopted)

    conn.execute("""CREATE TABLE case_forms_v2(
        case_id TEXT PRIMARY KEY REFERENCES cases(id),
        form_json TEXT,
        form_version TEXT,
        revision INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT)""")
    conn.execute(
        "INSERT INTO case_forms_v2(case_id, form_json, revision, updated_at) "
        "SELECT f.case_id, f.form_json, 1, c.last_saved "
        "FROM case_forms f LEFT JOIN cases c ON c.id = f.case_id "
        "WHERE f.case_id IS NOT NULL"
    )
    conn.execute("DROP TABLE case_forms")
    conn.execute("ALTER TABLE case_forms_v2 RENAME TO case_forms")

    conn.execute("""CREATE TABLE case_images_v2(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL REFERENCES cases(id),
        file_path TEXT,
        latitude REAL, longitude REAL, address TEXT, accuracy REAL, captured_at TEXT,
        synced INTEGER DEFAULT 0,
        client_image_id TEXT UNIQUE,
        slot TEXT, sha256 TEXT, byte_size INTEGER, mime TEXT, width INTEGER, height INTEGER,
        source TEXT, server_image_id TEXT)""")
    conn.execute(
        "INSERT INTO case_images_v2(id, case_id, file_path, latitude, longitude, address, "
        "accuracy, captured_at, synced, client_image_id, source) "
        f"SELECT id, case_id, file_path, latitude, longitude, address, accuracy, "
        f"captured_at, synced, {_SQL_UUID4}, 'migrated' FROM case_images "
        "WHERE case_id IS NOT NULL"
    )
    conn.execute("DROP TABLE case_images")
    conn.execute("ALTER TABLE case_images_v2 RENAME TO case_images")

    conn.execute("""CREATE TABLE case_edits(
        case_id TEXT NOT NULL REFERENCES cases(id),
        seq INTEGER NOT NULL,
        field_key TEXT NOT NULL,
        value_json TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY(case_id, seq))""")
    conn.execute("""CREATE TABLE case_events(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT REFERENCES cases(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail_json TEXT)""")
    conn.execute("CREATE INDEX cases_by_last_saved ON cases(last_saved DESC, id)")
    conn.execute("CREATE INDEX cases_by_status ON cases(status, last_saved DESC)")
    conn.execute("CREATE INDEX cases_by_reference ON cases(reference_number)")
    conn.execute("CREATE INDEX case_images_by_case ON case_images(case_id, id)")
    conn.execute("CREATE INDEX case_events_by_case ON case_events(case_id, id)")


def _v2_to_v3_applicant_name(conn: Connection) -> None:
    """The case list shows and searches the applicant's name: keep it on the case row
    (written with every form save) instead of parsing form_json for 10,000 rows."""
    conn.execute("ALTER TABLE cases ADD COLUMN applicant_name TEXT")
    conn.execute(
        "UPDATE cases SET applicant_name = nullif(trim("
        " coalesce((SELECT json_extract(f.form_json, '$.\"applicant.first_name\"')"
        "  FROM case_forms f WHERE f.case_id = cases.id), '') || ' ' ||"
        " coalesce((SELECT json_extract(f.form_json, '$.\"applicant.last_name\"')"
        "  FROM case_forms f WHERE f.case_id = cases.id), '')), '')"
    )
    conn.execute("CREATE INDEX cases_by_applicant ON cases(applicant_name COLLATE NOCASE)")


def _v3_to_v4_resumable_uploads(conn: Connection) -> None:
    """Each photo remembers its resumable upload (the server's upload address and the
    last offset the server confirmed), so a resume survives a killed app or a reboot."""
    conn.execute("ALTER TABLE case_images ADD COLUMN upload_url TEXT")
    conn.execute("ALTER TABLE case_images ADD COLUMN upload_offset INTEGER NOT NULL DEFAULT 0")


def _v4_to_v5_captured_at_source(conn: Connection) -> None:
    """Where a photo's "taken at" came from: the photo's EXIF, the camera at capture, the
    file's modification time, or the import itself. Older rows say so (unknown source)."""
    conn.execute("ALTER TABLE case_images ADD COLUMN captured_at_source TEXT")


def _v5_to_v6_retention(conn: Connection) -> None:
    """When a synced case's data was removed from this device (its stub row stays)."""
    conn.execute("ALTER TABLE cases ADD COLUMN purged_at TEXT")


_VIEW_OF_ROW = (
    # core.states.case_view of a row, as SQL, spelled with the core's own names (a FAILED
    # case the app retries by itself is waiting; one that needs a person is not);
    # tests/test_schema.py holds the two equal. A change to the views is a new migration.
    f"CASE WHEN status = '{CaseStatus.DRAFT}' THEN '{CaseView.DRAFTS}' "
    f"WHEN status = '{CaseStatus.READY}' THEN '{CaseView.WAITING}' "
    f"WHEN status = '{CaseStatus.FAILED}' AND coalesce(last_error_kind, '{RETRIED_KIND}') "
    f"= '{RETRIED_KIND}' THEN '{CaseView.WAITING}' "
    f"WHEN status = '{CaseStatus.FAILED}' THEN '{CaseView.NEEDS_ACTION}' "
    f"WHEN status = '{CaseStatus.SYNCED}' THEN '{CaseView.SYNCED}' END"
)
# The list's sort keys (cases.sort_*) and the index each needs, in every view and in all.
LIST_SORT_KEYS = ("sort_saved", "sort_reference", "sort_applicant", "photo_count",
                  "status, sort_saved")


def _v6_to_v7_list_at_scale(conn: Connection) -> None:
    """The case list at 100,000 cases: every sort served by an index in either direction
    (keyset paging), photo counts kept on the case row, the counts per view kept by
    triggers, and a trigram full-text index over reference, applicant name and ID numbers
    for substring search — all maintained in the same transaction as the case row."""
    conn.execute("ALTER TABLE cases ADD COLUMN id_number TEXT")
    conn.execute("ALTER TABLE cases ADD COLUMN photo_count INTEGER NOT NULL DEFAULT 0")
    # The search index's row id: rowids of a table with a TEXT key may change on VACUUM.
    conn.execute("ALTER TABLE cases ADD COLUMN search_key INTEGER")
    for column, expression in (
        ("sort_saved TEXT", "ifnull(last_saved, '')"),
        ("sort_reference TEXT COLLATE NOCASE", "ifnull(reference_number, '')"),
        ("sort_applicant TEXT COLLATE NOCASE", "ifnull(applicant_name, '')"),
        ("list_view TEXT", _VIEW_OF_ROW),
    ):
        conn.execute(f"ALTER TABLE cases ADD COLUMN {column} "
                     f"GENERATED ALWAYS AS ({expression}) VIRTUAL")
    conn.execute("UPDATE cases SET search_key = rowid, photo_count = "
                 "(SELECT count(*) FROM case_images i WHERE i.case_id = cases.id)")
    # The built-in form's ID fields; cases of other forms get theirs on their next save.
    conn.execute(
        "UPDATE cases SET id_number = nullif(trim("
        " coalesce((SELECT json_extract(f.form_json, '$.\"identity.document_number\"')"
        "  FROM case_forms f WHERE f.case_id = cases.id), '') || ' ' ||"
        " coalesce((SELECT json_extract(f.form_json,"
        "  '$.\"applicant.national_insurance_number\"')"
        "  FROM case_forms f WHERE f.case_id = cases.id), '')), '') "
        "WHERE purged_at IS NULL")
    conn.execute("CREATE UNIQUE INDEX cases_by_search_key ON cases(search_key)")
    for old in ("cases_by_last_saved", "cases_by_reference", "cases_by_applicant"):
        conn.execute(f"DROP INDEX IF EXISTS {old}")
    for number, key in enumerate(LIST_SORT_KEYS):
        conn.execute(f"CREATE INDEX cases_list_{number} ON cases({key}, id)")
        conn.execute(f"CREATE INDEX cases_view_{number} ON cases(list_view, {key}, id)")

    conn.execute("CREATE TABLE case_view_counts(view TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    for view in CaseView:
        conn.execute("INSERT INTO case_view_counts(view, n) SELECT ?, count(*) FROM cases "
                     "WHERE list_view = ?", (view.value, view.value))
    conn.execute("CREATE VIRTUAL TABLE cases_search USING fts5(reference_number, "
                 "applicant_name, id_number, tokenize = 'trigram remove_diacritics 1')")
    conn.execute("INSERT INTO cases_search(rowid, reference_number, applicant_name, "
                 "id_number) SELECT search_key, reference_number, applicant_name, id_number "
                 "FROM cases")
    conn.execute("""CREATE TRIGGER cases_listed AFTER INSERT ON cases BEGIN
        UPDATE cases SET search_key = (SELECT coalesce(max(search_key), 0) + 1 FROM cases)
            WHERE id = new.id AND new.search_key IS NULL;
        INSERT INTO cases_search(rowid, reference_number, applicant_name, id_number)
            SELECT search_key, reference_number, applicant_name, id_number
            FROM cases WHERE id = new.id;
        UPDATE case_view_counts SET n = n + 1 WHERE view = new.list_view;
    END""")
    conn.execute("""CREATE TRIGGER cases_unlisted AFTER DELETE ON cases BEGIN
        DELETE FROM cases_search WHERE rowid = old.search_key;
        UPDATE case_view_counts SET n = n - 1 WHERE view = old.list_view;
    END""")
    conn.execute("""CREATE TRIGGER cases_searched_anew
        AFTER UPDATE OF reference_number, applicant_name, id_number ON cases
        WHEN old.reference_number IS NOT new.reference_number
          OR old.applicant_name IS NOT new.applicant_name
          OR old.id_number IS NOT new.id_number
        BEGIN
        UPDATE cases_search SET reference_number = new.reference_number,
            applicant_name = new.applicant_name, id_number = new.id_number
            WHERE rowid = new.search_key;
    END""")
    conn.execute("""CREATE TRIGGER cases_moved_view AFTER UPDATE OF status, last_error_kind
        ON cases WHEN old.list_view IS NOT new.list_view BEGIN
        UPDATE case_view_counts SET n = n - 1 WHERE view = old.list_view;
        UPDATE case_view_counts SET n = n + 1 WHERE view = new.list_view;
    END""")
    conn.execute("""CREATE TRIGGER case_photo_added AFTER INSERT ON case_images BEGIN
        UPDATE cases SET photo_count = photo_count + 1 WHERE id = new.case_id;
    END""")
    conn.execute("""CREATE TRIGGER case_photo_removed AFTER DELETE ON case_images BEGIN
        UPDATE cases SET photo_count = photo_count - 1 WHERE id = old.case_id;
    END""")


# Version 8's view of a row (version 7's, frozen above, is what migration 7 built):
# drafts in the verifier's inbox are listed apart. tests/test_schema.py holds it equal to
# core.states.case_view.
_VIEW_OF_ROW_V8 = (
    f"CASE WHEN status = '{CaseStatus.DRAFT}' AND inbox = '{Inbox.ASSIGNED}' "
    f"THEN '{CaseView.ASSIGNED}' "
    f"WHEN status = '{CaseStatus.DRAFT}' AND inbox = '{Inbox.RETURNED}' "
    f"THEN '{CaseView.RETURNED}' "
    f"WHEN status = '{CaseStatus.DRAFT}' THEN '{CaseView.DRAFTS}' "
    f"WHEN status = '{CaseStatus.READY}' THEN '{CaseView.WAITING}' "
    f"WHEN status = '{CaseStatus.FAILED}' AND coalesce(last_error_kind, '{RETRIED_KIND}') "
    f"= '{RETRIED_KIND}' THEN '{CaseView.WAITING}' "
    f"WHEN status = '{CaseStatus.FAILED}' THEN '{CaseView.NEEDS_ACTION}' "
    f"WHEN status = '{CaseStatus.SYNCED}' THEN '{CaseView.SYNCED}' END"
)
# Version 8 adds the due date (the "Assigned to you" view's order) to the sort keys.
LIST_SORT_KEYS_V8 = (*LIST_SORT_KEYS, "sort_due")


def _v7_to_v8_two_way(conn: Connection) -> None:
    """Two-way sync (issue 17): the pull's position and the held-cases digest, each
    case's inbox, due date and read-only reason, what the office sent (assignment,
    comments, decisions, conflicts, photos to fetch, pushed forms) and the field-level
    audit. Built for 100,000 cases: new columns are added without rewriting the case
    table (ADD/DROP of virtual columns), the held set is a table of its own (filled
    with one INSERT … SELECT), the views' indexes are rebuilt once."""
    for column in ("inbox TEXT", "due_date TEXT", "locked_reason TEXT"):
        conn.execute(f"ALTER TABLE cases ADD COLUMN {column}")
    # list_view's definition changes: drop what refers to it, swap it, rebuild.
    for trigger in ("cases_listed", "cases_unlisted", "cases_moved_view"):
        conn.execute(f"DROP TRIGGER {trigger}")
    for number in range(len(LIST_SORT_KEYS)):
        conn.execute(f"DROP INDEX cases_view_{number}")
    conn.execute("ALTER TABLE cases DROP COLUMN list_view")
    conn.execute(f"ALTER TABLE cases ADD COLUMN list_view TEXT "
                 f"GENERATED ALWAYS AS ({_VIEW_OF_ROW_V8}) VIRTUAL")
    conn.execute("ALTER TABLE cases ADD COLUMN sort_due TEXT "
                 "GENERATED ALWAYS AS (ifnull(due_date, '9999-12-31')) VIRTUAL")
    for number, key in enumerate(LIST_SORT_KEYS_V8):
        if number == len(LIST_SORT_KEYS):  # the new key's plain index
            conn.execute(f"CREATE INDEX cases_list_{number} ON cases({key}, id)")
        conn.execute(f"CREATE INDEX cases_view_{number} ON cases(list_view, {key}, id)")
    conn.execute("DELETE FROM case_view_counts")
    conn.execute("INSERT INTO case_view_counts(view, n) SELECT list_view, count(*) "
                 "FROM cases WHERE list_view IS NOT NULL GROUP BY list_view")
    for view in CaseView:
        conn.execute("INSERT OR IGNORE INTO case_view_counts(view, n) VALUES (?, 0)",
                     (view.value,))
    conn.execute("""CREATE TRIGGER cases_listed AFTER INSERT ON cases BEGIN
        UPDATE cases SET search_key = (SELECT coalesce(max(search_key), 0) + 1 FROM cases)
            WHERE id = new.id AND new.search_key IS NULL;
        INSERT INTO cases_search(rowid, reference_number, applicant_name, id_number)
            SELECT search_key, reference_number, applicant_name, id_number
            FROM cases WHERE id = new.id;
        UPDATE case_view_counts SET n = n + 1 WHERE view = new.list_view;
    END""")
    conn.execute("""CREATE TRIGGER cases_unlisted AFTER DELETE ON cases BEGIN
        DELETE FROM cases_search WHERE rowid = old.search_key;
        UPDATE case_view_counts SET n = n - 1 WHERE view = old.list_view;
    END""")
    conn.execute("""CREATE TRIGGER cases_moved_view
        AFTER UPDATE OF status, last_error_kind, inbox
        ON cases WHEN old.list_view IS NOT new.list_view BEGIN
        UPDATE case_view_counts SET n = n - 1 WHERE view = old.list_view;
        UPDATE case_view_counts SET n = n + 1 WHERE view = new.list_view;
    END""")

    # The pull's position: one row. held_*: the digest of the cases this device holds
    # with the server's authority (held_cases), kept in the transaction that changes it.
    conn.execute("""CREATE TABLE pull_position(
        id INTEGER PRIMARY KEY CHECK (id = 1),
        token TEXT,
        held_digest TEXT NOT NULL,
        held_count INTEGER NOT NULL,
        resyncing INTEGER NOT NULL DEFAULT 0,
        actor TEXT NOT NULL DEFAULT '')""")
    conn.execute("CREATE TABLE held_cases(case_id TEXT PRIMARY KEY REFERENCES cases(id)) "
                 "WITHOUT ROWID")
    # Until now a device held exactly the cases the server accepted from it.
    conn.execute("INSERT INTO held_cases(case_id) SELECT id FROM cases "
                 "WHERE server_receipt IS NOT NULL")
    held = [str(r[0]) for r in conn.query_all("SELECT case_id FROM held_cases")]
    conn.execute("INSERT INTO pull_position(id, held_digest, held_count) VALUES (1, ?, ?)",
                 (held_digest(held), len(held)))
    conn.execute("CREATE TABLE resync_seen(case_id TEXT PRIMARY KEY) WITHOUT ROWID")

    # What the office said about a case: the assignment, the handover, the newest return.
    conn.execute("""CREATE TABLE case_office(
        case_id TEXT PRIMARY KEY REFERENCES cases(id),
        assigned_by TEXT, assigned_at TEXT, office_note TEXT NOT NULL DEFAULT '',
        prefilled_json TEXT NOT NULL DEFAULT '[]',
        handover TEXT, handover_note TEXT NOT NULL DEFAULT '')""")
    # Each sync run asks which cases wait on a handover: a few rows, never a scan.
    conn.execute("CREATE INDEX case_office_handover ON case_office(handover) "
                 "WHERE handover IS NOT NULL")
    conn.execute("""CREATE TABLE review_comments(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL REFERENCES cases(id),
        revision INTEGER NOT NULL, field_key TEXT, client_image_id TEXT,
        text TEXT NOT NULL, author TEXT NOT NULL, at TEXT NOT NULL)""")
    conn.execute("CREATE INDEX review_comments_by_case ON review_comments(case_id, revision)")
    # One row per decision on a revision (a change and a resync's state of the same
    # decision are one row); the newest is the highest id.
    conn.execute("""CREATE TABLE case_decisions(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL REFERENCES cases(id),
        revision INTEGER NOT NULL, decision TEXT NOT NULL,
        reason_code TEXT, reason_label TEXT, note TEXT NOT NULL DEFAULT '',
        by TEXT NOT NULL DEFAULT '', at TEXT NOT NULL,
        UNIQUE(case_id, revision, decision))""")
    conn.execute("""CREATE TABLE conflicts(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL REFERENCES cases(id),
        seq INTEGER NOT NULL, kind TEXT NOT NULL,
        field_key TEXT, client_image_id TEXT,
        server_json TEXT, server_by TEXT NOT NULL DEFAULT '', server_at TEXT NOT NULL,
        local_json TEXT, local_by TEXT NOT NULL DEFAULT '', local_at TEXT NOT NULL,
        resolved_at TEXT, kept TEXT)""")
    # A page applied twice records each conflict once (NULLs are distinct in UNIQUE).
    conn.execute("CREATE UNIQUE INDEX conflicts_once ON conflicts(case_id, seq, kind, "
                 "ifnull(field_key, ''), ifnull(client_image_id, ''))")
    conn.execute("CREATE INDEX conflicts_open ON conflicts(case_id) WHERE resolved_at IS NULL")
    conn.execute("""CREATE TABLE photos_to_fetch(
        client_image_id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL REFERENCES cases(id),
        server_image_id TEXT NOT NULL, sha256 TEXT NOT NULL, byte_size INTEGER NOT NULL,
        slot TEXT, latitude REAL, longitude REAL, accuracy REAL, address TEXT,
        captured_at TEXT,
        held_back INTEGER NOT NULL DEFAULT 0)""")  # 1: in a photo conflict, not fetched
    conn.execute("CREATE INDEX photos_to_fetch_by_case ON photos_to_fetch(case_id)")
    conn.execute("""CREATE TABLE pushed_forms(
        form_id TEXT NOT NULL, version TEXT NOT NULL,
        definition_json TEXT NOT NULL, sha256 TEXT NOT NULL, received_at TEXT NOT NULL,
        PRIMARY KEY(form_id, version))""")
    # The field-level audit: every change of an answer (old, new, when, who, why).
    conn.execute("""CREATE TABLE field_history(
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id TEXT NOT NULL REFERENCES cases(id),
        field_key TEXT NOT NULL, old_json TEXT, new_json TEXT,
        at TEXT NOT NULL, by TEXT NOT NULL DEFAULT '', why TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT '')""")
    conn.execute("CREATE INDEX field_history_by_case ON field_history(case_id, id)")


def _v8_to_v9_address_source(conn: Connection) -> None:
    """How a photo's `address` was found ("nearest place, 3 km"): the place name is the
    offline finder's (core/places.py), said as such. Located photos of older versions get
    theirs after the upgrade, a bounded batch per start (persistence/place_backfill.py)."""
    conn.execute("ALTER TABLE case_images ADD COLUMN address_source TEXT")


# Version 10's sealed column of each table holding personal values (issue 18): one
# sealed JSON document of the row's personal values (persistence/sealed.py says which
# and how a row with a NULL sealed column — written before version 10 — is read).
SEALED_COLUMNS_V10: dict[str, str] = {
    "case_forms": "answers_sealed",
    "case_edits": "value_sealed",
    "case_events": "detail_sealed",
    "field_history": "change_sealed",
    "conflicts": "values_sealed",
    "pushed_forms": "definition_sealed",
    "case_office": "office_sealed",
    "review_comments": "comment_sealed",
    "case_decisions": "decision_sealed",
    "case_images": "photo_sealed",
    "photos_to_fetch": "photo_sealed",
}


def _v9_to_v10_sealed_values(conn: Connection) -> None:
    """Personal values sealed under the verifier's keys (issue 18): each table that holds
    some gets a sealed BLOB column. A migration has no keys, so rows written before stay
    in clear (their sealed column NULL) until the migration of a clear store seals them
    and empties their clear columns (docs/security.md, *Store wiring*); every write from
    now on seals. Photos waiting for a place name are marked in clear (`place_pending`),
    so the backfill finds them without opening every photo's sealed location."""
    for table, column in SEALED_COLUMNS_V10.items():
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} BLOB")
    conn.execute("ALTER TABLE case_images ADD COLUMN place_pending INTEGER NOT NULL DEFAULT 0")
    conn.execute("UPDATE case_images SET place_pending = 1 WHERE latitude IS NOT NULL AND "
                 "longitude IS NOT NULL AND address IS NULL AND address_source IS NULL")
    conn.execute("CREATE INDEX case_images_place_pending ON case_images(id) "
                 "WHERE place_pending = 1")


Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = [_v0_to_v1_seed, _v1_to_v2_sync_and_audit,
                               _v2_to_v3_applicant_name, _v3_to_v4_resumable_uploads,
                               _v4_to_v5_captured_at_source, _v5_to_v6_retention,
                               _v6_to_v7_list_at_scale, _v7_to_v8_two_way,
                               _v8_to_v9_address_source, _v9_to_v10_sealed_values]
LATEST_VERSION = len(MIGRATIONS)


def check_header(path: Path) -> None:
    """Refuse a file that is not SQLite before Qt/SQLite touch it (WAL mode would write)."""
    try:
        with path.open("rb") as fh:
            header = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise DatabaseCorruptError(f"The database file cannot be read ({exc.strerror}). "
                                   "It has not been changed.") from exc
    if header and header != SQLITE_HEADER:
        raise DatabaseCorruptError(
            f"{path.name} is not a kycdesk database (damaged or replaced). It has not been "
            "changed; run 'kycdesk doctor' for the options."
        )


def user_version(conn: Connection) -> int:
    return int(conn.scalar("PRAGMA user_version") or 0)


def migrate(conn: Connection, target: int = LATEST_VERSION) -> tuple[int, int]:
    """Bring the database to `target`; return (from, to). Refuses newer databases."""
    current = user_version(conn)
    if current > LATEST_VERSION:
        raise DatabaseTooNewError(
            f"This database was written by a newer kycdesk (schema {current}, this app "
            f"knows {LATEST_VERSION}). Install the newer version; nothing was changed."
        )
    if current >= target:
        return current, current
    # Table rebuilds need foreign keys off; the pragma is a no-op inside a transaction.
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        for version in range(current, target):
            with conn.transaction():
                MIGRATIONS[version](conn)
                problems = conn.query_all("PRAGMA foreign_key_check")
                if problems:
                    raise DatabaseCorruptError(
                        f"Migration to schema {version + 1} found broken references: "
                        f"{problems[:5]}"
                    )
                conn.execute(f"PRAGMA user_version={version + 1}")
            log.info("database migrated from schema %d to %d", version, version + 1)
    finally:
        conn.execute("PRAGMA foreign_keys=ON")
    return current, target
