"""The server store's schema, versioned (SQLite: PRAGMA user_version; PostgreSQL: the
kycdesk_schema table), forward-only, the same SQL on both engines.

`MIGRATIONS[n]` takes the database from version n to n+1 in one transaction; a released
migration is never edited (tests build every older version and upgrade it).
`kycdesk-server migrate --data-dir D` runs them; the server runs them at start too.
"""

from __future__ import annotations

from collections.abc import Callable

from kycdesk_server.database import Database

# Version 1: what the server wrote before versions were kept (IF NOT EXISTS: databases
# from then have these tables already and user_version 0).
_V1 = """
CREATE TABLE IF NOT EXISTS images(
    case_id TEXT NOT NULL, client_image_id TEXT NOT NULL, server_image_id TEXT NOT NULL,
    sha256 TEXT NOT NULL, byte_size INTEGER NOT NULL, path TEXT NOT NULL,
    stored_at TEXT NOT NULL, PRIMARY KEY(case_id, client_image_id));
CREATE UNIQUE INDEX IF NOT EXISTS images_by_client_id ON images(client_image_id);
CREATE TABLE IF NOT EXISTS submissions(
    case_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, body_hash TEXT NOT NULL,
    body_json TEXT NOT NULL, device_id TEXT NOT NULL, receipt_id TEXT NOT NULL,
    accepted_at TEXT NOT NULL, server_image_ids TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submission_log(
    case_id TEXT NOT NULL, revision INTEGER NOT NULL, receipt_id TEXT NOT NULL,
    accepted_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS uploads(
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, client_image_id TEXT NOT NULL,
    sha256 TEXT NOT NULL, length INTEGER NOT NULL, "offset" INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, touched_at TEXT NOT NULL, server_image_id TEXT,
    metadata TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS uploads_by_touch ON uploads(touched_at);
"""

# Version 2: devices and authority. A device enrols with a one-time code and gets a
# credential (stored as its SHA-256: it is 256 random bits, a slow hash adds nothing); a
# case belongs to the device that first wrote to it (a unique key, claimed inside the
# writing transaction); every revision of a submission is kept beside the others.
_V2 = """
CREATE TABLE devices(
    id TEXT PRIMARY KEY, name TEXT NOT NULL, credential_sha256 TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL, revoked_at TEXT);
CREATE TABLE enrolment_codes(
    code_sha256 TEXT PRIMARY KEY, created_at TEXT NOT NULL, expires_at TEXT NOT NULL,
    used_at TEXT, device_id TEXT REFERENCES devices(id));
CREATE TABLE case_owners(
    case_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, claimed_at TEXT NOT NULL);
CREATE TABLE submission_revisions(
    case_id TEXT NOT NULL, revision INTEGER NOT NULL, body_hash TEXT NOT NULL,
    body_json TEXT NOT NULL, device_id TEXT NOT NULL, receipt_id TEXT NOT NULL UNIQUE,
    accepted_at TEXT NOT NULL, server_image_ids TEXT NOT NULL,
    PRIMARY KEY(case_id, revision));
INSERT INTO submission_revisions SELECT case_id, revision, body_hash, body_json, device_id,
    receipt_id, accepted_at, server_image_ids FROM submissions;
"""

# Version 3: partial uploads kept as chunk objects (S3): each recorded chunk's place.
_V3 = """
CREATE TABLE upload_chunks(
    upload_id TEXT NOT NULL, start INTEGER NOT NULL, length INTEGER NOT NULL,
    PRIMARY KEY(upload_id, start));
"""

# Version 4: the back office's accounts, sessions, sign-in throttle and audit.
# - A username is unique case-insensitively (`username_key`, its case-folded form: the same
#   on both engines, where a functional index would not be).
# - The TOTP secret is stored sealed (Fernet) with a key kept outside the database
#   (backoffice/sealing.py): a dump alone does not give the second factor away.
#   `totp_confirmed_at` NULL: enrolment started, not yet proven with a code;
#   `totp_last_step`: the last time step accepted, so a code is never accepted twice.
# - A session row holds only the SHA-256 of its token (256 random bits).
# - The throttle counts failed sign-ins per key ('user:<name>' or 'address:<ip>') so every
#   worker, and every host on one PostgreSQL, sees the same count.
# - The audit is append-only: triggers (below, per engine) refuse UPDATE and DELETE.
_V4 = """
CREATE TABLE office_accounts(
    id TEXT PRIMARY KEY, username TEXT NOT NULL, username_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('reviewer', 'supervisor', 'admin')),
    password_hash TEXT NOT NULL, totp_secret_sealed TEXT, totp_confirmed_at TEXT,
    totp_last_step INTEGER, created_at TEXT NOT NULL, disabled_at TEXT,
    password_changed_at TEXT NOT NULL);
CREATE TABLE office_sessions(
    token_sha256 TEXT PRIMARY KEY, account_id TEXT NOT NULL REFERENCES office_accounts(id),
    stage TEXT NOT NULL CHECK (stage IN ('signed_in', 'enrol_totp')),
    created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, idle_expires_at TEXT NOT NULL,
    absolute_expires_at TEXT NOT NULL, address TEXT NOT NULL, csrf_secret TEXT NOT NULL);
CREATE INDEX office_sessions_by_account ON office_sessions(account_id);
CREATE TABLE office_signin_throttle(
    key TEXT PRIMARY KEY, failures INTEGER NOT NULL, first_failure_at TEXT NOT NULL,
    locked_until TEXT);
CREATE TABLE office_audit(
    id TEXT PRIMARY KEY, at TEXT NOT NULL, actor_id TEXT, actor_name TEXT,
    action TEXT NOT NULL, address TEXT NOT NULL, object_type TEXT, object_id TEXT,
    revision INTEGER, detail_json TEXT NOT NULL);
CREATE INDEX office_audit_by_object ON office_audit(object_type, object_id);
CREATE INDEX office_audit_by_actor ON office_audit(actor_id, at)
"""

# The audit's append-only guard: each engine's own trigger syntax (one statement a line).
_V4_APPEND_ONLY = {
    "sqlite": """
CREATE TRIGGER office_audit_no_update BEFORE UPDATE ON office_audit BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
CREATE TRIGGER office_audit_no_delete BEFORE DELETE ON office_audit BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END
""",  # noqa: E501
    "postgres": """
CREATE FUNCTION office_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the audit is append-only'; END $$;
CREATE TRIGGER office_audit_no_change BEFORE UPDATE OR DELETE ON office_audit FOR EACH ROW EXECUTE FUNCTION office_audit_append_only();
CREATE TRIGGER office_audit_no_truncate BEFORE TRUNCATE ON office_audit FOR EACH STATEMENT EXECUTE FUNCTION office_audit_append_only()
""",  # noqa: E501
}

# Version 5: the review of cases. `review_cases` is the queue: one row per case, filled
# when a submission is accepted (backoffice/intake.py), its columns denormalised from the
# current revision so the queue page never reads a submission body; `review_terms` holds
# the normalised words of the reference, the applicant's name and ID numbers, searched by
# prefix through an index (the same SQL on both engines). Decisions and comments are
# append-only; a decision names the revision it applies to.
_V5 = """
CREATE TABLE review_cases(
    case_id TEXT PRIMARY KEY, revision INTEGER NOT NULL, state TEXT NOT NULL,
    reference TEXT NOT NULL, applicant TEXT NOT NULL, applicant_key TEXT NOT NULL,
    id_numbers TEXT NOT NULL, device_id TEXT NOT NULL, received_at TEXT NOT NULL,
    assignee_id TEXT, assignee_name TEXT, updated_at TEXT NOT NULL);
CREATE INDEX review_by_received ON review_cases(received_at, case_id);
CREATE INDEX review_by_reference ON review_cases(reference, case_id);
CREATE INDEX review_by_applicant ON review_cases(applicant_key, case_id);
CREATE INDEX review_by_state ON review_cases(state, received_at, case_id);
CREATE INDEX review_by_assignee ON review_cases(assignee_id, received_at, case_id);
CREATE INDEX review_by_state_assignee ON review_cases(state, assignee_id, received_at,
    case_id);
CREATE TABLE review_terms(
    term TEXT NOT NULL, case_id TEXT NOT NULL, PRIMARY KEY(term, case_id));
CREATE INDEX review_terms_by_case ON review_terms(case_id);
CREATE TABLE review_reason_codes(
    code TEXT PRIMARY KEY, label TEXT NOT NULL, position INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 1);
INSERT INTO review_reason_codes(code, label, position) VALUES
    ('document_invalid', 'Identity document invalid or expired', 1),
    ('document_mismatch', 'Document does not match the applicant', 2),
    ('address_unverified', 'Address could not be verified', 3),
    ('sanctions_or_pep', 'Sanctions or PEP match', 4),
    ('fraud_suspected', 'Fraud suspected', 5),
    ('incomplete', 'Application incomplete', 6),
    ('other', 'Other (see note)', 7);
CREATE TABLE review_decisions(
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, revision INTEGER NOT NULL,
    decision TEXT NOT NULL, reason_code TEXT, note TEXT NOT NULL,
    decided_by TEXT NOT NULL, decided_by_name TEXT NOT NULL, decided_at TEXT NOT NULL);
CREATE INDEX review_decisions_by_case ON review_decisions(case_id, decided_at);
CREATE INDEX review_decisions_by_time ON review_decisions(decided_at, id);
CREATE TABLE review_comments(
    id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, case_id TEXT NOT NULL,
    revision INTEGER NOT NULL, field_key TEXT, client_image_id TEXT, text TEXT NOT NULL,
    author_id TEXT NOT NULL, created_at TEXT NOT NULL,
    CHECK ((field_key IS NULL) <> (client_image_id IS NULL)));
CREATE INDEX review_comments_by_case ON review_comments(case_id, revision);
"""


# Version 6: two-way (issue 17). Per device:
# - `device_held`: the held set's digest (XOR of SHA-256(case id)) and count, and the
#   device's feed counter; the row is updated (so locked, on PostgreSQL) by every
#   transaction that appends to the device's feed, so feed rows commit in seq order and a
#   pull never skips a row that commits late;
# - `device_cases`: the held set itself (a membership test, and the resync's pages);
# - `device_feed`: the changes for the device, keyed (device_id, seq): a pull reads
#   `seq > token` through the key, O(changes); `held_delta` (+1/-1/0) says how the row
#   changed the held set, so the digest as of any token is the current one with the later
#   rows undone.
# Cases created in the office (`assignments`), handovers and requests for one
# (`handovers`), the office's corrections of answers (`office_edits`) and form
# definitions published to every device (`published_forms`, a stream of its own).
_V6 = """
CREATE TABLE device_held(
    device_id TEXT PRIMARY KEY, held_digest TEXT NOT NULL, held_count INTEGER NOT NULL,
    feed_seq INTEGER NOT NULL, pulled_seq INTEGER NOT NULL DEFAULT 0,
    pulled_at TEXT);
CREATE TABLE device_cases(
    device_id TEXT NOT NULL, case_id TEXT NOT NULL, since TEXT NOT NULL,
    PRIMARY KEY(device_id, case_id));
CREATE INDEX device_cases_by_case ON device_cases(case_id);
CREATE TABLE device_feed(
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, case_id TEXT,
    payload_json TEXT NOT NULL, held_delta INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, PRIMARY KEY(device_id, seq));
CREATE INDEX device_feed_by_case ON device_feed(case_id, device_id);
CREATE TABLE assignments(
    case_id TEXT PRIMARY KEY, reference TEXT NOT NULL, applicant_name TEXT NOT NULL,
    address TEXT NOT NULL, form_id TEXT NOT NULL, form_version TEXT NOT NULL,
    prefill_json TEXT NOT NULL, due_date TEXT, note TEXT NOT NULL,
    device_id TEXT NOT NULL, feed_seq INTEGER NOT NULL, created_by TEXT NOT NULL,
    created_by_name TEXT NOT NULL, created_at TEXT NOT NULL, withdrawn_at TEXT);
CREATE INDEX assignments_by_created ON assignments(created_at, case_id);
CREATE INDEX assignments_by_device ON assignments(device_id, created_at);
CREATE TABLE handovers(
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, from_device TEXT NOT NULL,
    to_device TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN
        ('requested', 'refused', 'handing_out', 'released', 'forced', 'cancelled')),
    reason TEXT NOT NULL, created_at TEXT NOT NULL, created_by TEXT NOT NULL,
    decided_by TEXT, decided_at TEXT, note TEXT NOT NULL DEFAULT '');
CREATE INDEX handovers_by_case ON handovers(case_id, created_at);
CREATE INDEX handovers_by_state ON handovers(state, created_at);
CREATE TABLE office_edits(
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, after_revision INTEGER NOT NULL,
    field_key TEXT NOT NULL, value_json TEXT NOT NULL, base_value_json TEXT NOT NULL,
    by_id TEXT NOT NULL, by_name TEXT NOT NULL, note TEXT NOT NULL, at TEXT NOT NULL);
CREATE INDEX office_edits_by_case ON office_edits(case_id, at);
CREATE TABLE published_forms(
    seq INTEGER PRIMARY KEY, form_id TEXT NOT NULL, version TEXT NOT NULL,
    definition_json TEXT NOT NULL, sha256 TEXT NOT NULL, published_by TEXT NOT NULL,
    published_at TEXT NOT NULL, UNIQUE(form_id, version))
"""


# Version 7: protecting the tablets (issue 18). A device is one verifier's store on one
# tablet: `tablet_id` groups a tablet's devices (revoking a tablet revokes them all, and
# any device enrolled later with its id), `verifier_name` is what the office sees.
# `office_secret` (hex of 32 random bytes; NULL for devices enrolled before this version:
# they never received one) keys the revocation proof, the lease and the supervisor codes
# (kycdesk/core/office_codes.py). `revoked_by` names who revoked. `device_releases`: a
# supervisor's release of a wrong-PIN lockout, delivered to the tablet by any other
# verifier's pull until the released device itself pulls again. `server_settings`: the
# organisation's recovery public key (and what else the office sets at run time).
_V7 = """
ALTER TABLE devices ADD COLUMN tablet_id TEXT;
ALTER TABLE devices ADD COLUMN verifier_name TEXT;
ALTER TABLE devices ADD COLUMN office_secret TEXT;
ALTER TABLE devices ADD COLUMN revoked_by TEXT;
CREATE INDEX devices_by_tablet ON devices(tablet_id);
CREATE TABLE revoked_tablets(
    tablet_id TEXT PRIMARY KEY, revoked_at TEXT NOT NULL, revoked_by TEXT NOT NULL);
CREATE TABLE device_releases(
    device_id TEXT PRIMARY KEY, tablet_id TEXT NOT NULL, granted_at TEXT NOT NULL,
    granted_by TEXT NOT NULL, consumed_at TEXT);
CREATE INDEX device_releases_by_tablet ON device_releases(tablet_id, consumed_at);
CREATE TABLE server_settings(
    name TEXT PRIMARY KEY, value TEXT NOT NULL, set_at TEXT NOT NULL, set_by TEXT NOT NULL)
"""


def _v6(db: Database) -> None:
    """The two-way tables; every device's held set starts as the cases it owns and has
    submitted (what a device of the one-way version holds with the server's authority)."""
    from kycdesk_server.feed import backfill_held

    _script(_V6)(db)
    backfill_held(db)


def _v5(db: Database) -> None:
    """The review tables, then every case already held enters the queue as received."""
    from kycdesk_server.backoffice.intake import backfill

    _script(_V5)(db)
    backfill(db)


Migration = Callable[[Database], None]


def _script(sql: str) -> Migration:
    def run(db: Database) -> None:
        for statement in sql.split(";\n"):
            if statement.strip():
                db.execute(statement)
    return run


def _v4(db: Database) -> None:
    _script(_V4)(db)
    _script(_V4_APPEND_ONLY[db.dialect])(db)


MIGRATIONS: list[Migration] = [_script(_V1), _script(_V2), _script(_V3), _v4, _v5, _v6,
                               _script(_V7)]
LATEST = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    pass


def version(db: Database) -> int:
    return db.user_version()


def migrate(db: Database, target: int = LATEST) -> tuple[int, int]:
    """Bring the database to `target`; returns (from, to). Refuses a newer database."""
    current = version(db)
    if current > LATEST:
        raise SchemaTooNewError(f"the server database is schema {current}; this server "
                                f"knows {LATEST}: install the newer kycdesk-server")
    for step in range(current, target):
        with db.transaction():
            MIGRATIONS[step](db)
            db.set_user_version(step + 1)
    return current, max(current, target)
