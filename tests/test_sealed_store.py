"""Personal values sealed in the database (issue 18, schema 10; docs/security.md, *Store
wiring*): the raw SQLite file holds none of them in clear, a value moved to another case
or answer does not open (a clear message naming the case), and a version-9 store upgrades
with its clear rows still readable until they are sealed."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from kycdesk.core.errors import UnreadableDataError
from kycdesk.core.records import Location
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import events, schema, sealed
from kycdesk.persistence.commands import (
    AddImage,
    AppendEdit,
    AppendEvent,
    ApplyPull,
    CreateCase,
    SaveForm,
)
from kycdesk.persistence.db import Connection
from kycdesk.persistence.store import LocalStore
from tests import pull_pages, two_way_cases
from tests.vaults import make_vault

# What an applicant's case holds, each spelled so it cannot occur by chance.
FIRST, LAST = "Quirinella", "Zdravkovicova"
ID_NUMBER = "QX7734219Z"
INCOME = 48213
STREET = "17 Marrowbone Lane"
OFFICE_NOTE = "Visit after Wickerfield market"
COMMENT = "Please retake the Thornaby document"
DECISION_NOTE = "Checked against the Plumstead register"
LATITUDE, LONGITUDE = -1.283456, 36.817123
PLACE = "near Oxwich Bay"
FORM_MARKER = "Ballymacarbry"  # in a pushed form definition's title


def _personal_rows(path: Path) -> dict[str, list[sqlite3.Row]]:
    """Every row of every table that holds personal values, read raw (stdlib sqlite3,
    not the store's code)."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        return {table: db.execute(f"SELECT * FROM {table}").fetchall()
                for table in sealed.SEALED_COLUMNS}
    finally:
        db.close()


def _raw_text(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


@pytest.fixture
def full_case(qapp: object, paths: DataPaths, jpeg: Path) -> tuple[str, str, str]:
    """A case with every kind of personal row: answers, a pending keystroke, the field
    history, events, a located photo; and cases the office sent (assignment note,
    comments, a decision, a conflict, a photo to fetch) and a pushed form."""
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase(reference_number="REF-SEALED"))
        answers = {"applicant.first_name": FIRST, "applicant.last_name": LAST,
                   "identity.document_number": ID_NUMBER, "employment.income": INCOME}
        store.run(SaveForm(case_id, answers))
        store.run(AppendEdit(case_id, "address.line1", STREET))  # not saved yet
        store.run(AppendEvent(case_id, "note", {"said": f"{FIRST} {LAST}"}))
        photo = store.run(AddImage(case_id, jpeg, slot="id_front",
                                   location=Location(LATITUDE, LONGITUDE, 12.0, PLACE,
                                                     "typed")))
        assigned = two_way_cases.assigned(due_in_days=2, seed=7, note=OFFICE_NOTE)
        assert assigned.case_id is not None
        base = assigned.form["applicant.last_name"]
        two_way_cases.pull(store, assigned)
        two_way_cases.type_answer(store, assigned.case_id, "applicant.last_name", LAST)
        two_way_cases.pull(store, two_way_cases.office_edit(
            assigned.case_id, "applicant.last_name", FIRST, base))  # a conflict
        returned = store.run(CreateCase())
        store.run(SaveForm(returned, {"applicant.first_name": FIRST}))
        revision = two_way_cases.submit_and_sync(store, returned)
        two_way_cases.pull(store, two_way_cases.returned(
            returned, revision, [two_way_cases.comment(COMMENT)]))
        two_way_cases.pull(store, two_way_cases.decided(
            returned, revision, "rejected", reason_code="other", note=DECISION_NOTE))
        feed = pull_pages.Feed()
        office_photo = pull_pages.photo(content=b"the office's photo of " + ID_NUMBER.encode())
        office_photo.update(latitude=LATITUDE, longitude=LONGITUDE, address=PLACE)
        definition = pull_pages.shipped_form()
        definition["title"] = f"{definition.get('title', 'Form')} {FORM_MARKER}"
        definition["version"] = "99"
        store.run(ApplyPull(feed.page(
            pull_pages.assigned(feed, pull_pages.new_case_id(), photos=[office_photo]),
            pull_pages.form_change(feed, definition))))
        assert photo.sha256 is not None
        return case_id, photo.sha256, office_photo["sha256"]


def test_no_personal_value_is_in_clear_in_the_database(
        paths: DataPaths, full_case: tuple[str, str, str]) -> None:
    _case_id, photo_sha, office_sha = full_case
    rows = _personal_rows(paths.database)
    secrets = [FIRST, LAST, ID_NUMBER, str(INCOME), STREET, OFFICE_NOTE, COMMENT,
               DECISION_NOTE, PLACE, str(LATITUDE), str(LONGITUDE), FORM_MARKER,
               photo_sha, office_sha, two_way_cases.OFFICE, two_way_cases.REVIEWER,
               "REF-SEALED"]
    for table, table_rows in rows.items():
        assert table_rows, f"{table}: the fixture wrote no row, the test proves nothing"
        column = sealed.SEALED_COLUMNS[table]
        for row in table_rows:
            assert row[column] is not None, f"{table} has a row in clear: {dict(row)}"
            for name in sealed.CLEAR_COLUMNS[table]:
                assert row[name] == sealed.CLEAR_COLUMNS[table][name], (table, name)
            raw = b"\x00".join(_raw_text(row[key]) for key in row.keys())  # noqa: SIM118
            found = [s for s in secrets if s.encode("utf-8") in raw]
            assert found == [], f"{table} holds {found} in clear"


def test_the_store_reads_back_what_it_sealed(
        paths: DataPaths, full_case: tuple[str, str, str]) -> None:
    case_id, photo_sha, _office_sha = full_case
    with LocalStore(paths, vault=make_vault()) as store:
        case = store.load_case(case_id)
        assert case.form["applicant.last_name"] == LAST
        assert case.form["address.line1"] == STREET  # the replayed keystroke
        photo = store.list_images(case_id)[0]
        assert photo.sha256 == photo_sha
        assert (photo.location.latitude, photo.location.address) == (LATITUDE, PLACE)
        assert any(detail.get("said") == f"{FIRST} {LAST}"
                   for _at, _kind, detail in events.list_events(store.conn, case_id))
        assert any(entry["new"] == ID_NUMBER for entry in store.field_history(case_id))


def test_another_verifiers_keys_open_nothing(
        paths: DataPaths, full_case: tuple[str, str, str]) -> None:
    case_id, _photo_sha, _office_sha = full_case
    with LocalStore(paths, vault=make_vault("v-other")) as store, \
            pytest.raises(UnreadableDataError, match=case_id):
        store.load_case(case_id)


def _swap(path: Path, sql: str, params: tuple[object, ...]) -> None:
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(sql, params)
    finally:
        db.close()


def test_answers_moved_to_another_case_do_not_open(qapp: object, paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        mine = store.run(CreateCase())
        store.run(SaveForm(mine, {"identity.document_number": ID_NUMBER}))
        other = store.run(CreateCase())
    _swap(paths.database, "UPDATE case_forms SET answers_sealed = (SELECT answers_sealed "
          "FROM case_forms WHERE case_id = ?) WHERE case_id = ?", (mine, other))
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.load_case(mine).form == {"identity.document_number": ID_NUMBER}
        with pytest.raises(UnreadableDataError) as raised:
            store.load_case(other)
    message = str(raised.value)
    assert other in message and "cannot be opened" in message
    assert ID_NUMBER not in message


def test_a_keystroke_moved_to_another_answer_does_not_open(qapp: object,
                                                           paths: DataPaths) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        store.run(AppendEdit(case_id, "identity.document_number", ID_NUMBER))
    _swap(paths.database, "UPDATE case_edits SET field_key = 'applicant.first_name'", ())
    with LocalStore(paths, vault=make_vault()) as store, \
            pytest.raises(UnreadableDataError, match=case_id):
        store.load_case(case_id)


def test_a_photo_place_moved_to_another_photo_does_not_open(
        qapp: object, paths: DataPaths, jpeg: Path) -> None:
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        located = store.run(AddImage(case_id, jpeg, location=Location(LATITUDE, LONGITUDE)))
        plain = store.run(AddImage(case_id, jpeg))
    _swap(paths.database, "UPDATE case_images SET photo_sealed = (SELECT photo_sealed FROM "
          "case_images WHERE id = ?) WHERE id = ?", (located.id, plain.id))
    with LocalStore(paths, vault=make_vault()) as store, \
            pytest.raises(UnreadableDataError, match=case_id):
        store.list_images(case_id)


V9_CASE = "00000000-0000-4000-8000-00000000000a"


def _build_v9_with_personal_rows(paths: DataPaths) -> str:
    """A store as version 9 left it: every personal value in clear."""
    ensure_private_dir(paths.root)
    conn = Connection(paths.database, role="v9", writer=True)
    sha = hashlib.sha256(b"v9 photo").hexdigest()
    try:
        schema.migrate(conn, target=9)
        conn.execute("INSERT INTO cases(id, reference_number, status, last_saved, created_at) "
                     "VALUES (?, 'REF-9', 'DRAFT', '2026-01-02T03:04:05Z', "
                     "'2026-01-02T03:04:05Z')", (V9_CASE,))
        conn.execute("INSERT INTO case_forms(case_id, form_json, revision) VALUES (?, ?, 1)",
                     (V9_CASE, json.dumps({"applicant.first_name": FIRST})))
        conn.execute("INSERT INTO case_edits(case_id, seq, field_key, value_json, at) "
                     "VALUES (?, 1, 'address.line1', ?, '2026-01-02T03:05:00Z')",
                     (V9_CASE, json.dumps(STREET)))
        conn.execute("INSERT INTO case_events(case_id, at, kind, detail_json) VALUES "
                     "(?, '2026-01-02T03:04:05Z', 'note', ?)",
                     (V9_CASE, json.dumps({"said": LAST})))
        conn.execute("INSERT INTO field_history(case_id, field_key, old_json, new_json, at, "
                     "by, why, note) VALUES (?, 'applicant.first_name', 'null', ?, "
                     "'2026-01-02T03:04:05Z', 'A. Verifier', 'typed', '')",
                     (V9_CASE, json.dumps(FIRST)))
        conn.execute("INSERT INTO case_images(case_id, file_path, latitude, longitude, "
                     "captured_at, client_image_id, sha256) VALUES (?, 'cases/x/img_1.jpg', "
                     "?, ?, '2026-01-02T03:00:00Z', '0b7c3e4e-4a4b-4c1c-9a65-9e2e0d6c4a10', ?)",
                     (V9_CASE, LATITUDE, LONGITUDE, sha))
        conn.execute("INSERT INTO case_office(case_id, assigned_by, assigned_at, office_note) "
                     "VALUES (?, 'S. Office', '2026-01-01T09:00:00Z', ?)",
                     (V9_CASE, OFFICE_NOTE))
    finally:
        conn.close()
    return sha


def test_a_version_9_store_upgrades_and_its_clear_rows_stay_readable(
        qapp: object, paths: DataPaths) -> None:
    sha = _build_v9_with_personal_rows(paths)
    with LocalStore(paths, vault=make_vault()) as store:
        assert schema.user_version(store.conn) == schema.LATEST_VERSION
        for table, column in sealed.SEALED_COLUMNS.items():
            assert column in [r[1] for r in store.conn.query_all(f"PRAGMA table_info({table})")]
        # Not sealed by the migration (it has no keys): NULL marks a row still in clear.
        assert store.conn.scalar("SELECT count(*) FROM case_forms WHERE answers_sealed "
                                 "IS NULL") == 1
        case = store.load_case(V9_CASE)
        assert case.form == {"applicant.first_name": FIRST, "address.line1": STREET}
        assert [d for _a, _k, d in events.list_events(store.conn, V9_CASE)] == [{"said": LAST}]
        assert store.field_history(V9_CASE)[0]["by"] == "A. Verifier"
        photo = store.list_images(V9_CASE)[0]
        assert (photo.sha256, photo.location.latitude) == (sha, LATITUDE)
        assert store.conn.scalar("SELECT place_pending FROM case_images") == 1  # to be named
        assignment = store.read_two_way(V9_CASE).assignment
        assert assignment is not None and assignment.note == OFFICE_NOTE
        # The next save seals the answers and empties the clear column.
        store.run(SaveForm(V9_CASE, {**case.form, "applicant.last_name": LAST}))
        assert store.load_case(V9_CASE).form["applicant.last_name"] == LAST
    row = _personal_rows(paths.database)["case_forms"][0]
    assert row["form_json"] is None and row["answers_sealed"] is not None
