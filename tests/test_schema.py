"""Schema creation, pragmas, migrations from every older version, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kycdesk.core.errors import DatabaseCorruptError, DatabaseTooNewError, FailureKind
from kycdesk.core.records import CaseSort
from kycdesk.core.states import CaseStatus, CaseView, Inbox, case_view
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import case_list, schema
from kycdesk.persistence.commands import AppendEdit, CreateCase, SaveForm
from kycdesk.persistence.db import Connection
from kycdesk.persistence.store import LocalStore
from tests.vaults import make_vault

SEED_CASE = "6f1c2a40-2b8f-4a38-9d2c-0e8a7f3b9c11"
ORPHAN_CASE = "a1b2c3d4-0000-4000-8000-000000000001"


def _columns(conn: Connection, table: str) -> list[str]:
    return [row[1] for row in conn.query_all(f"PRAGMA table_info({table})")]


def _build_at_version(paths: DataPaths, version: int) -> None:
    """A database exactly as an older release left it, with data in it."""
    ensure_private_dir(paths.root)
    conn = Connection(paths.database, role="old", writer=True)
    try:
        schema.migrate(conn, target=version)
        if version >= 1:
            conn.execute("INSERT INTO cases(id, reference_number, status, current_step, "
                         "last_saved) VALUES (?, 'REF-1', 'DRAFT', 'identity', "
                         "'2026-01-02T03:04:05Z')", (SEED_CASE,))
            conn.execute("INSERT INTO case_forms(case_id, form_json) VALUES (?, ?)",
                         (SEED_CASE, json.dumps({"applicant.first_name": "Ada"})))
            conn.execute("INSERT INTO case_images(case_id, file_path, latitude, longitude, "
                         "captured_at) VALUES (?, 'cases/x/img_1.jpg', 51.5, -0.1, "
                         "'2026-01-02T03:00:00Z')", (SEED_CASE,))
            if version >= 2:  # since v2 every image has its client id from capture
                conn.execute("UPDATE case_images SET client_image_id = "
                             "'0b7c3e4e-4a4b-4c1c-9a65-9e2e0d6c4a10'")
            if version >= 3:  # since v3 every save writes the name for the case list
                conn.execute("UPDATE cases SET applicant_name = 'Ada'")
        if version == 1:
            # Seed databases had no foreign keys: an image of a case row that is gone.
            conn.execute("INSERT INTO case_images(case_id, file_path) VALUES (?, "
                         "'cases/y/img_1.jpg')", (ORPHAN_CASE,))
    finally:
        conn.close()


def test_new_database_gets_latest_schema_and_durable_pragmas(store: LocalStore) -> None:
    conn = store.conn
    assert schema.user_version(conn) == schema.LATEST_VERSION
    assert conn.scalar("PRAGMA journal_mode") == "wal"
    assert conn.scalar("PRAGMA synchronous") == 2  # FULL
    assert conn.scalar("PRAGMA foreign_keys") == 1
    assert conn.scalar("PRAGMA busy_timeout") == 5000
    for seed_column in ("id", "reference_number", "status", "current_step", "last_saved"):
        assert seed_column in _columns(conn, "cases")
    assert _columns(conn, "case_forms")[:2] == ["case_id", "form_json"]
    assert _columns(conn, "case_images")[:9] == [
        "id", "case_id", "file_path", "latitude", "longitude", "address", "accuracy",
        "captured_at", "synced"]
    for added in ("client_image_id", "slot", "sha256", "byte_size", "mime", "width",
                  "height", "source", "server_image_id"):
        assert added in _columns(conn, "case_images")
    assert _columns(conn, "case_edits") == ["case_id", "seq", "field_key", "value_json", "at",
                                            "value_sealed"]
    assert _columns(conn, "case_events") == ["id", "case_id", "at", "kind", "detail_json",
                                             "detail_sealed"]


@pytest.mark.parametrize("sort", list(CaseSort))
def test_every_list_page_reads_an_index_in_order(store: LocalStore, sort: CaseSort) -> None:
    """Every sort, either direction, any view, any page: an index walked in order and
    stopped after the page — never a scan of the table sorted in a temporary B-tree."""
    store.run(CreateCase(reference_number="R-1"))
    row = store.list_cases(limit=1)[0]
    for descending in (False, True):
        for view in (None, *CaseView):
            for after in (None, row):
                sql, params = case_list.page_query(store.conn, limit=200, after=after,
                                                   view=view, search=None, sort=sort,
                                                   descending=descending)
                plan = " ".join(str(r[-1]) for r in store.conn.query_all(
                    "EXPLAIN QUERY PLAN " + sql, params))
                assert "TEMP B-TREE" not in plan, (sort, descending, view, after, plan)
                assert ("cases_list_" if view is None else "cases_view_") in plan, plan


@pytest.mark.parametrize("status", list(CaseStatus))
def test_the_stored_view_of_a_case_is_the_cores(store: LocalStore, status: CaseStatus) -> None:
    """`cases.list_view` (generated SQL) and `core.states.case_view` say the same for
    every status and error kind, and the per-view counts follow."""
    made = 0
    for inbox in [None, *Inbox]:
        for kind in [None, *FailureKind]:
            case_id = store.run(CreateCase())
            made += 1
            store.conn.execute(
                "UPDATE cases SET status = ?, last_error_kind = ?, inbox = ? WHERE id = ?",
                (status.value, None if kind is None else kind.value,
                 None if inbox is None else inbox.value, case_id))
            stored = store.conn.scalar("SELECT list_view FROM cases WHERE id = ?", (case_id,))
            assert stored == case_view(status, kind, inbox), (status, kind, inbox)
    counts = store.view_counts()
    assert sum(counts.values()) == made
    # The counts kept by triggers equal a count of the table, view by view.
    for view in CaseView:
        assert counts[view] == store.conn.scalar(
            "SELECT count(*) FROM cases WHERE list_view = ?", (view.value,)), view


def test_photo_count_index_for_the_case_editor(store: LocalStore) -> None:
    plan = " ".join(str(r[-1]) for r in store.conn.query_all(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM case_images WHERE case_id = 'x'"))
    assert "case_images_by_case" in plan


@pytest.mark.parametrize("old_version", range(schema.LATEST_VERSION))
def test_upgrade_from_every_older_version_keeps_data(qapp: object, paths: DataPaths,
                                                     old_version: int) -> None:
    _build_at_version(paths, old_version)
    with LocalStore(paths, vault=make_vault()) as store:
        conn = store.conn
        assert schema.user_version(conn) == schema.LATEST_VERSION
        assert conn.query_all("PRAGMA foreign_key_check") == []
        if old_version >= 1:
            case = store.load_case(SEED_CASE)
            assert case.reference_number == "REF-1"
            assert case.current_step == "identity"
            assert case.form == {"applicant.first_name": "Ada"}
            # v1 rows get revision 1 when revisions are introduced; later ones keep theirs.
            assert case.revision == (1 if old_version == 1 else 0)
            summary = next(c for c in store.list_cases() if c.id == SEED_CASE)
            assert summary.applicant_name == "Ada"  # backfilled for the case list
            images = store.list_images(SEED_CASE)
            assert len(images) == 1
            assert images[0].location.latitude == 51.5
            assert len(images[0].client_image_id) == 36  # backfilled UUID
        if old_version == 1:
            # The seed's orphaned image was kept and its case re-created, not dropped.
            assert len(store.list_images(ORPHAN_CASE)) == 1
            assert store.load_case(ORPHAN_CASE).reference_number == "recovered"
        # The upgraded store works for new data.
        new_case = store.run(CreateCase(reference_number="after-upgrade"))
        store.run(AppendEdit(new_case, "a", 1))
        assert store.run(SaveForm(new_case, {"a": 1})) == 1


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_database_is_refused_and_left_untouched(qapp: object, paths: DataPaths) -> None:
    _build_at_version(paths, schema.LATEST_VERSION)
    conn = Connection(paths.database, role="future", writer=True)
    conn.execute(f"PRAGMA user_version={schema.LATEST_VERSION + 1}")
    conn.close()
    before = _digest(paths.database)
    with pytest.raises(DatabaseTooNewError, match="newer kycdesk"):
        LocalStore(paths, vault=make_vault())
    assert _digest(paths.database) == before


@pytest.mark.parametrize("content", [b"not a database at all" * 100,
                                     b"SQLite format 3\x00" + b"\xff" * 4000])
def test_corrupt_database_is_refused_and_left_untouched(qapp: object, paths: DataPaths,
                                                        content: bytes) -> None:
    ensure_private_dir(paths.root)
    paths.database.write_bytes(content)
    with pytest.raises(DatabaseCorruptError) as raised:
        LocalStore(paths, vault=make_vault())
    assert "doctor" in str(raised.value)
    assert paths.database.read_bytes() == content
    assert not paths.database.with_name(paths.database.name + "-wal").exists()


def test_upgrade_to_two_way_holds_the_accepted_cases_and_keeps_the_counts(
        qapp: object, paths: DataPaths) -> None:
    """Schema 7 -> 8: the cases the server accepted are the held set (digest and count),
    every view count is exact, and old drafts stay plain drafts."""
    from kycdesk.core.hashing import held_digest

    ensure_private_dir(paths.root)
    conn = Connection(paths.database, role="old", writer=True)
    synced = "6f1c2a40-2b8f-4a38-9d2c-0e8a7f3b9c12"
    try:
        schema.migrate(conn, target=7)
        for case_id, status, receipt in ((SEED_CASE, "DRAFT", None),
                                         (synced, "SYNCED", '{"revision": 2}'),
                                         (ORPHAN_CASE, "FAILED", None)):
            conn.execute("INSERT INTO cases(id, status, last_saved, server_receipt, "
                         "last_error_kind) VALUES (?, ?, '2026-01-01T00:00:00Z', ?, ?)",
                         (case_id, status, receipt,
                          "permanent" if status == "FAILED" else None))
            conn.execute("INSERT INTO case_forms(case_id, form_json, revision) "
                         "VALUES (?, '{}', 2)", (case_id,))
    finally:
        conn.close()
    with LocalStore(paths, vault=make_vault()) as store:
        assert store.pull_position() == (None, held_digest([synced]), 1)
        counts = store.view_counts()
        assert (counts[CaseView.DRAFTS], counts[CaseView.SYNCED],
                counts[CaseView.NEEDS_ACTION], counts[CaseView.ASSIGNED]) == (1, 1, 1, 0)
        assert store.list_cases(view=CaseView.DRAFTS)[0].inbox is None
        # A case created after the upgrade joins the set when the server accepts it.
        case_id = store.run(CreateCase())
        from tests import transitions

        transitions.submit(store, case_id)
        transitions.mark_synced(store, case_id)
        assert store.pull_position()[1:] == (held_digest([synced, case_id]), 2)
