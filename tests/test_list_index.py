"""The case list under encryption (issue 18): the list's personal values sealed on disk,
the in-memory index and its encrypted snapshot — what is on disk, what survives a
restart, a damaged or missing snapshot, changes made after it, the upgrade from 10."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kycdesk.core.records import CaseSort
from kycdesk.core.states import CaseView
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import list_index, list_snapshot, schema
from kycdesk.persistence.commands import (
    CreateCase,
    DiscardDraft,
    SaveForm,
    SetReferenceNumber,
)
from kycdesk.persistence.db import Connection
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.store import LocalStore
from kycdesk.security.vault import Vault
from tests.vaults import make_vault

# Values that appear nowhere else on disk (no form answers, no events): the list's own.
PEOPLE = [("Zuzanna Wróblewska", "KYC-20261206-7Q1ZX9", "PQ8842913"),
          ("Oluwaseun Adébáyọ̀", "KYC-20261206-4MW2KD", "ZX5517048 NI-AB123456C"),
          ("Søren Kierkegaard-Ng", "KYC-20261206-H8J3RT", "DK7730021")]
SEALED_LIST_VERSION = schema.LATEST_VERSION  # the list's sealing is the newest step


def _add_people(store: LocalStore) -> list[str]:
    ids = []
    for name, reference, id_number in PEOPLE:
        case_id = store.run(CreateCase())
        store.run(SetReferenceNumber(case_id, reference))
        store.run(SaveForm(case_id, {}, applicant_name=name, id_number=id_number))
        ids.append(case_id)
    return ids


def _names(reads: LocalStore | ReadStore, search: str | None = None) -> set[str | None]:
    return {c.applicant_name for c in reads.list_cases(limit=500, search=search)}


def _needles() -> list[bytes]:
    found = []
    for name, reference, id_number in PEOPLE:
        for value in (name, reference, *id_number.split()):
            found.append(value.encode("utf-8"))
            found.append(value.encode("utf-16-le"))
        # Each part of a name too (long enough not to occur in ciphertext by chance).
        found += [part.encode("utf-8") for part in name.replace("-", " ").split()
                  if len(part) >= 5]
    return found


def test_neither_the_database_nor_the_snapshot_holds_a_name_reference_or_id_number(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    with LocalStore(paths, vault=vault) as store:
        _add_people(store)
        assert _names(store, "wroblewska") == {PEOPLE[0][0]}  # the index has them
        store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        files = [p for p in paths.root.iterdir() if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files)  # the WAL is read too
        for path in files:
            data = path.read_bytes()
            for needle in _needles():
                assert needle not in data, (path.name, needle)
    assert paths.list_snapshot.exists()  # written at close
    data = paths.list_snapshot.read_bytes()
    for needle in _needles():
        assert needle not in data
    assert list_snapshot.MAGIC not in data  # the whole file is ciphertext
    for path in paths.root.iterdir():
        if path.is_file():
            for needle in _needles():
                assert needle not in path.read_bytes(), (path.name, needle)


def test_the_snapshot_restores_the_index_without_reading_the_rows(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    with LocalStore(paths, vault=vault) as store:
        ids = _add_people(store)
        before = store.list_cases(limit=50, sort=CaseSort.APPLICANT)
    with LocalStore(paths, vault=vault) as store:
        index = store.list_index
        assert not index.rebuilt
        assert index.read_at_load == 0  # nothing changed since the snapshot
        assert store.list_cases(limit=50, sort=CaseSort.APPLICANT) == before
        assert [c.id for c in store.list_cases(limit=50, search="adebayo")] == [ids[1]]
        assert store.count_cases(search="KYC-20261206") == 3
        # The letter pairs too (two-letter search; in the reference, folded name).
        assert [c.id for c in store.list_cases(limit=50, search="7q")] == [ids[0]]
        assert _names(store, "NG") == {PEOPLE[2][0]}


def test_every_connection_of_the_process_shares_one_index(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    with LocalStore(paths, vault=vault) as store:
        reader = ReadStore(paths, vault=vault)
        try:
            assert reader.list_index is store.list_index
            case_id = store.run(CreateCase())
            store.run(SaveForm(case_id, {}, applicant_name="Ines Brandão"))
            assert _names(reader, "brandao") == {"Ines Brandão"}
        finally:
            reader.close()
        assert store.list_index.dirty()  # still open: the store keeps it
    with LocalStore(paths, vault=vault) as store:
        assert store.list_cases()  # the index loaded under this verifier's keys
        other = ReadStore(paths, vault=make_vault("v-other"))
        try:
            with pytest.raises(RuntimeError, match="another verifier"):
                other.list_cases()
        finally:
            other.close()


@pytest.mark.parametrize("damage", ["missing", "flipped", "cut", "other-key", "empty"])
def test_a_missing_or_damaged_snapshot_is_rebuilt_from_the_sealed_rows(
        qapp: object, paths: DataPaths, vault: Vault, damage: str) -> None:
    with LocalStore(paths, vault=vault) as store:
        _add_people(store)
        before = store.list_cases(limit=50, sort=CaseSort.REFERENCE)
    snapshot = paths.list_snapshot
    data = snapshot.read_bytes()
    if damage == "missing":
        snapshot.unlink()
    elif damage == "flipped":
        snapshot.write_bytes(data[:200] + bytes([data[200] ^ 1]) + data[201:])
    elif damage == "cut":
        snapshot.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        snapshot.write_bytes(b"")
    else:  # written by another verifier: does not open with these keys
        list_snapshot.write(paths, make_vault("v-other"), b"anything")
    with LocalStore(paths, vault=vault) as store:
        assert store.list_index.rebuilt
        assert store.list_cases(limit=50, sort=CaseSort.REFERENCE) == before
        assert _names(store, "kierkegaard") == {PEOPLE[2][0]}
    # The rebuild wrote a good snapshot again.
    with LocalStore(paths, vault=vault) as store:
        assert not store.list_index.rebuilt


def test_cases_changed_after_the_snapshot_appear_at_the_next_sign_in(
        qapp: object, paths: DataPaths, vault: Vault, tmp_path: Path) -> None:
    with LocalStore(paths, vault=vault) as store:
        ids = _add_people(store)
        assert store.list_index.dirty()  # loaded; its snapshot is written at close
    old_snapshot = tmp_path / "old-snapshot"
    shutil.copy(paths.list_snapshot, old_snapshot)
    with LocalStore(paths, vault=vault) as store:
        store.run(SaveForm(ids[0], {}, applicant_name="Zuzanna Nowak"))   # renamed
        store.run(DiscardDraft(ids[1]))                                   # removed
        added = store.run(CreateCase(reference_number="KYC-LATE-1"))      # added
        store.run(SaveForm(added, {}, applicant_name="Late Arrival"))
        store.conn.execute("UPDATE cases SET status = 'READY' WHERE id = ?", (ids[2],))
        expected = store.list_cases(limit=50, sort=CaseSort.APPLICANT)
    # As if the process had been killed before writing its snapshot: the old one stays.
    shutil.copy(old_snapshot, paths.list_snapshot)
    with LocalStore(paths, vault=vault) as store:
        assert not store.list_index.rebuilt
        assert store.list_index.read_at_load == 3  # renamed, added, status changed
        assert store.list_cases(limit=50, sort=CaseSort.APPLICANT) == expected
        assert _names(store, "wroblewska") == set()
        assert _names(store, "nowak") == {"Zuzanna Nowak"}
        assert _names(store, "adebayo") == set()
        assert _names(store, "late") == {"Late Arrival"}
        # ... and the letter pairs followed: renamed, removed, added.
        assert _names(store, "wr") == set() and _names(store, "ad") == set()
        assert _names(store, "ow") == {"Zuzanna Nowak"}
        assert _names(store, "ar") == {"Søren Kierkegaard-Ng", "Late Arrival"}
        assert store.count_cases(view=CaseView.WAITING) == 1
        assert [c.id for c in store.list_cases(view=CaseView.WAITING)] == [ids[2]]


def _restore_under_a_newer_snapshot(paths: DataPaths, vault: Vault, tmp_path: Path,
                                    *names: str) -> None:
    """Three people, a copy of the store, then one more case saved as each of `names`
    with its snapshot written; the store is put back from the copy, keeping that newer
    snapshot (a restore from a backup older than the snapshot)."""
    with LocalStore(paths, vault=vault) as store:
        _add_people(store)
        assert len(store.list_cases()) == 3
    copy = tmp_path / "copy"
    shutil.copytree(paths.root, copy)
    with LocalStore(paths, vault=vault) as store:
        late = store.run(CreateCase())
        for name in names:
            store.run(SaveForm(late, {}, applicant_name=name))
        assert len(store.list_cases()) == 4
        assert store.list_index.write_snapshot()  # a close leaves a few changes unwritten
    shutil.copy(paths.list_snapshot, copy / paths.list_snapshot.name)
    shutil.rmtree(paths.root)
    shutil.copytree(copy, paths.root)


def test_a_snapshot_ahead_of_its_store_is_rebuilt(
        qapp: object, paths: DataPaths, vault: Vault, tmp_path: Path) -> None:
    """The store copied back from before the snapshot (a restore): the snapshot's rows
    cannot be completed by the rows stamped after it, so it is not trusted."""
    _restore_under_a_newer_snapshot(paths, vault, tmp_path, "Only In The Snapshot",
                                    "Only In The Snapshot Too")
    with LocalStore(paths, vault=vault) as store:
        assert store.list_index.rebuilt
        assert _names(store, "snapshot") == set()
        assert len(store.list_cases()) == 3


def test_upgrade_10_to_11_keeps_the_clear_values_listed_until_they_are_sealed(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    """Schema 11 adds the sealed columns and drops the clear search table; the values an
    older store holds in clear stay listed and searchable (sealed column NULL: not sealed
    yet) until the encrypting migration seals them, which the list then follows."""
    ensure_private_dir(paths.root)
    conn = Connection(paths.database, role="old", writer=True)
    case_id = "6f1c2a40-2b8f-4a38-9d2c-0e8a7f3b9c11"
    try:
        schema.migrate(conn, target=SEALED_LIST_VERSION - 1)
        conn.execute("INSERT INTO cases(id, reference_number, status, last_saved, "
                     "applicant_name, id_number) VALUES (?, 'REF-OLD-1', 'DRAFT', "
                     "'2026-01-02T03:04:05Z', 'Ada Lovelace', 'AL1815')", (case_id,))
        conn.execute("INSERT INTO case_forms(case_id, form_json) VALUES (?, '{}')",
                     (case_id,))
        assert conn.scalar("SELECT count(*) FROM cases_search WHERE cases_search "
                           "MATCH 'lovelace'") == 1
    finally:
        conn.close()
    with LocalStore(paths, vault=vault) as store:
        conn = store.conn
        assert schema.user_version(conn) == SEALED_LIST_VERSION
        tables = {str(r[0]) for r in conn.query_all("SELECT name FROM sqlite_master")}
        assert not any(name.startswith("cases_search") for name in tables)
        assert {"list_sequence", "list_removed"} <= tables
        row = conn.query_one("SELECT applicant_name, applicant_sealed, reference_sealed, "
                             "id_number_sealed FROM cases WHERE id = ?", (case_id,))
        assert row == ("Ada Lovelace", None, None, None)   # the state the migration finds
        assert _names(store, "lovelace") == {"Ada Lovelace"}
        assert _names(store, "AL18") == {"Ada Lovelace"}
        assert store.load_case(case_id).reference_number == "REF-OLD-1"
        # The encrypting migration's step for one case: seal, clear the old column.
        sealed = store.vault.seal_text("Ada King", case_id=case_id, field="applicant_name")
        conn.execute("UPDATE cases SET applicant_sealed = ?, applicant_name = NULL "
                     "WHERE id = ?", (sealed, case_id))
        assert _names(store, "lovelace") == set()
        assert _names(store, "king") == {"Ada King"}
        # New values are written sealed only.
        store.run(SaveForm(case_id, {}, applicant_name="Ada Byron", id_number="AB1"))
        assert conn.query_one("SELECT applicant_name, id_number FROM cases WHERE id = ?",
                              (case_id,)) == (None, None)
        assert _names(store, "byron") == {"Ada Byron"}


def test_the_writer_thread_writes_the_snapshot_in_the_background(
        qtbot: object, paths: DataPaths, vault: Vault,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from kycdesk.persistence import writer as writer_module
    from kycdesk.persistence.writer import WriterThread

    monkeypatch.setattr(writer_module, "SNAPSHOT_DELAY_MS", 50)
    thread = WriterThread(paths, vault=vault)
    thread.start()
    try:
        assert thread.writer.wait_open() is None
        case_id = thread.writer.call(CreateCase())
        thread.writer.call(SaveForm(case_id, {}, applicant_name="Written Later"))

        def in_snapshot() -> list[tuple[object, ...]]:
            data = list_snapshot.read(paths, vault)
            if data is None:
                return []
            index = list_index.ListIndex(paths, vault)
            try:
                assert index._restore(data, 10**9)
                with index.reading(None) as db:
                    return db.execute("SELECT applicant_name FROM cases").fetchall()
            finally:
                index.close()

        qtbot.waitUntil(lambda: in_snapshot() == [("Written Later",)],  # type: ignore[attr-defined]
                        timeout=10_000)
    finally:
        thread.stop()


def test_stopping_the_writer_writes_the_last_snapshot_in_its_thread(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    from kycdesk.persistence.writer import WriterThread

    thread = WriterThread(paths, vault=vault)  # the snapshot timer (a minute) never fires
    thread.start()
    try:
        assert thread.writer.wait_open() is None
        case_id = thread.writer.call(CreateCase())
        thread.writer.call(SaveForm(case_id, {}, applicant_name="Saved At Quit"))
        reader = ReadStore(paths, vault=vault)
        assert _names(reader, "at quit") == {"Saved At Quit"}
    finally:
        thread.stop()
    try:
        assert not reader.list_index.dirty()  # the writer wrote it; closing has nothing to do
    finally:
        reader.close()
    with LocalStore(paths, vault=vault) as store:
        assert not store.list_index.rebuilt
        assert store.list_index.read_at_load == 0
        assert _names(store, "at quit") == {"Saved At Quit"}


def test_a_stop_a_few_changes_behind_leaves_them_to_the_next_sign_in(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    """A lock waits for the writer's stop in the GUI thread: with a snapshot on disk and
    only a few changes since, the stop does not rewrite it (85 MB at 100,000 cases);
    the next open re-reads just those rows from their sealed columns."""
    from kycdesk.persistence.writer import WriterThread

    def session(name: str) -> None:
        thread = WriterThread(paths, vault=vault)
        thread.start()
        try:
            assert thread.writer.wait_open() is None
            case_id = thread.writer.call(CreateCase())
            thread.writer.call(SaveForm(case_id, {}, applicant_name=name))
        finally:
            thread.stop()

    session("First Session")  # no snapshot yet: written at the stop
    snapshot = paths.list_snapshot
    written = snapshot.read_bytes()
    session("Second Session")
    assert snapshot.read_bytes() == written  # not rewritten for a couple of changes
    with LocalStore(paths, vault=vault) as store:
        assert not store.list_index.rebuilt
        assert store.list_index.read_at_load == 1
        assert _names(store, "session") == {"First Session", "Second Session"}


def test_a_snapshot_write_cut_by_a_crash_leaves_the_old_one_and_its_temp_goes(
        qapp: object, paths: DataPaths, vault: Vault) -> None:
    import os

    with LocalStore(paths, vault=vault) as store:
        _add_people(store)
        assert len(store.list_cases()) == 3
    old = paths.list_snapshot.read_bytes()
    stale = paths.list_snapshot_temp("4242-deadbeef")   # a write killed before its rename
    stale.write_bytes(old[: len(old) // 3])
    young = paths.list_snapshot_temp("4343-cafebabe")   # another process writing now
    young.write_bytes(b"")
    an_hour_ago = stale.stat().st_mtime - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    with LocalStore(paths, vault=vault) as store:
        assert not store.list_index.rebuilt and store.list_index.read_at_load == 0
        assert not stale.exists() and young.exists()


def test_a_snapshot_of_another_history_of_the_store_is_rebuilt(
        qapp: object, paths: DataPaths, vault: Vault, tmp_path: Path) -> None:
    """Restored from a copy, then changed by a process that did not list (the command
    line): the sequence has passed the snapshot's again, but the cases differ."""
    _restore_under_a_newer_snapshot(paths, vault, tmp_path, "Lost With The Restore")
    with LocalStore(paths, vault=vault) as store:  # changes that load no index
        for n in range(4):
            store.run(SetReferenceNumber(store.conn.scalar(
                "SELECT id FROM cases ORDER BY id LIMIT 1"), f"KYC-AGAIN-{n}"))
    with LocalStore(paths, vault=vault) as store:
        assert store.list_index.rebuilt
        assert _names(store) == {name for name, _r, _i in PEOPLE}
