"""The clear store from before sign-in becomes the first verifier's encrypted store:
nothing lost, no clear byte left in any file of the data folder, and a SIGKILL at any
step (a real child process) finished by the next start."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from kycdesk.cli import main
from kycdesk.paths import TabletPaths
from kycdesk.verifiers.migration import (
    MigrationProgress,
    MigrationRefusedError,
    Phase,
    has_legacy_store,
    marker_file,
    migrate_legacy_store,
    should_migrate_for,
)
from kycdesk.verifiers.shred import shred_file
from tests import raw_bytes
from tests.crash.harness import REPO_ROOT
from tests.legacy_store import LegacyStore, build_legacy_store
from tests.protect_checks import read_store
from tests.schema_level import needs_sealed_values
from tests.tablets import make_tablet, pin_on_stdin, vault_for
from tests.vaults import make_vault

CASES = 20
TEST_VERIFIER = "00ab00ab00ab00ab"  # hex, as the registry makes them (TabletPaths.store)


def _tablet(root: Path) -> TabletPaths:
    return TabletPaths(root=root, log_dir=root / "logs")


@pytest.fixture
def legacy(qapp: object, tmp_path: Path) -> LegacyStore:
    return build_legacy_store(tmp_path / "tablet", cases=CASES)


def assert_nothing_lost(legacy: LegacyStore, tablet: TabletPaths) -> None:
    """Every case of the clear store, with its answers (the pending keystroke too) and
    its photos (same bytes), opens under the verifier's keys."""
    held = read_store(tablet.store(TEST_VERIFIER), make_vault(TEST_VERIFIER))
    assert sorted(held) == sorted(c.case_id for c in legacy.cases)
    for case in legacy.cases:
        form, photos = held[case.case_id]
        assert form == case.expected_form()
        assert photos == {p.client_image_id: p.data for p in case.photos}


def assert_no_clear_byte(legacy: LegacyStore, root: Path, tmp_path: Path) -> None:
    copy = raw_bytes.copy_as_found(root, tmp_path / "copied-disk")
    scanned = raw_bytes.files_scanned(copy)
    assert any(name.endswith("kycdesk.sqlite3") for name in scanned)
    hits = raw_bytes.scan(copy, legacy.needles())
    assert hits == [], raw_bytes.summary(hits)


def test_the_scan_finds_everything_in_a_clear_store(legacy: LegacyStore) -> None:
    """The proof can fail: before the migration every kind of clear copy is found."""
    hits = raw_bytes.scan(legacy.paths.root, legacy.needles())
    places = {h.file.split("/")[0] for h in hits}
    assert {"kycdesk.sqlite3", "cases", "lost+found", "captures", "downloads"} <= places
    labels = " ".join(h.label for h in hits)
    for kind in ("name", "identity.document_number", "employment.annual_income",
                 "SHA-256 (hex)", "JPEG signature", "PNG signature (base64)"):
        assert kind in labels


@needs_sealed_values
def test_migration_keeps_every_case_and_leaves_no_clear_byte(
        legacy: LegacyStore, tmp_path: Path) -> None:
    tablet = _tablet(legacy.paths.root)
    seen: list[MigrationProgress] = []
    report = migrate_legacy_store(tablet.legacy_store(), tablet.store(TEST_VERIFIER),
                                  make_vault(TEST_VERIFIER), progress=seen.append, batch_size=7)
    assert report.cases == CASES and report.sealed_cases == CASES
    sealing = [p.done for p in seen if p.phase is Phase.SEALING]
    assert sealing == [0, 7, 14, 20] and seen[-1].phase is Phase.DONE
    assert "20 of 20 cases" in next(p.message for p in seen if p.done == CASES
                                    and p.phase is Phase.SEALING)
    assert not marker_file(tablet.legacy_store()).exists()
    assert not tablet.legacy_store().database.exists()
    assert_nothing_lost(legacy, tablet)
    assert_no_clear_byte(legacy, tablet.root, tmp_path)
    # A second start finds nothing to do.
    assert not should_migrate_for(tablet.legacy_store(), TEST_VERIFIER)


def _run_child(root: Path, kill_after: int, delay_s: float) -> bool:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.crash.migration_child", str(root), TEST_VERIFIER,
         "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO_ROOT, env=env, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []
    killed = False
    for line in proc.stdout:
        lines.append(line.strip())
        if len(lines) > kill_after and not killed:
            time.sleep(delay_s)  # fault injection: lands inside a copy, a shred, a commit
            proc.send_signal(signal.SIGKILL)
            killed = True
    errors = proc.stderr.read()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    assert killed or lines[-1:] == ["DONE"], errors
    return killed


@needs_sealed_values
@pytest.mark.slow
@pytest.mark.parametrize("round_", range(8))
def test_migration_killed_at_any_step_finishes_at_the_next_start(
        legacy: LegacyStore, tmp_path: Path, round_: int) -> None:
    rng = random.Random(1800 + round_)
    tablet = _tablet(legacy.paths.root)
    # READY, copying, 11 sealing lines (batches of 2), then the phases that remove.
    killed = _run_child(tablet.root, kill_after=rng.randrange(1, 17),
                        delay_s=rng.uniform(0, 0.03))
    assert killed
    if has_legacy_store(tablet.legacy_store()):  # the kill may land after the last step
        # What the crash left is claimed by this verifier: nobody else may take it.
        assert should_migrate_for(tablet.legacy_store(), TEST_VERIFIER)
        assert not should_migrate_for(tablet.legacy_store(), "ffff0000ffff0000")
    report = migrate_legacy_store(tablet.legacy_store(), tablet.store(TEST_VERIFIER),
                                  make_vault(TEST_VERIFIER), batch_size=2)
    assert report.sealed_cases <= CASES
    assert_nothing_lost(legacy, tablet)
    assert_no_clear_byte(legacy, tablet.root, tmp_path)


def test_a_second_verifier_does_not_take_a_started_migration(legacy: LegacyStore) -> None:
    tablet = _tablet(legacy.paths.root)
    assert should_migrate_for(tablet.legacy_store(), TEST_VERIFIER)
    killed = _run_child(tablet.root, kill_after=2, delay_s=0)
    assert killed
    other = "ffff0000ffff0000"
    assert not should_migrate_for(tablet.legacy_store(), other)
    with pytest.raises(MigrationRefusedError, match="another verifier"):
        migrate_legacy_store(tablet.legacy_store(), tablet.store(other),
                             make_vault(other))


def test_a_verifier_wiped_mid_migration_frees_it_for_the_next(legacy: LegacyStore) -> None:
    """The verifier a migration belonged to is wiped (removed, or locked out with
    nothing unsent) before it finished: their folder is overwritten, not only removed
    (it may hold clear photos moved in), and the migration's marker goes, so the next
    verifier to sign in is not refused the rest (found by review)."""
    from kycdesk.verifiers.migration import MARKER_FILENAME
    from kycdesk.verifiers.wipe import LEGACY_MIGRATION_MARKER, WipeOrder, remove_files

    assert LEGACY_MIGRATION_MARKER == MARKER_FILENAME

    tablet = _tablet(legacy.paths.root)
    assert _run_child(tablet.root, kill_after=2, delay_s=0)
    other = "ffff0000ffff0000"
    assert not should_migrate_for(tablet.legacy_store(), other)
    assert remove_files(tablet, WipeOrder(frozenset({TEST_VERIFIER}), False))
    assert not tablet.store(TEST_VERIFIER).root.exists()
    assert not marker_file(tablet.legacy_store()).exists()
    assert should_migrate_for(tablet.legacy_store(), other)


def test_refuses_to_merge_into_a_folder_with_cases(legacy: LegacyStore,
                                                   tmp_path: Path) -> None:
    tablet = _tablet(legacy.paths.root)
    other = build_legacy_store(tmp_path / "elsewhere", cases=1)
    target = tablet.store(TEST_VERIFIER)
    target.root.mkdir(parents=True)
    os.rename(other.paths.database, target.database)
    with pytest.raises(MigrationRefusedError, match="already has cases"):
        migrate_legacy_store(tablet.legacy_store(), target, make_vault(TEST_VERIFIER))
    assert tablet.legacy_store().database.exists()  # nothing changed
    assert not marker_file(tablet.legacy_store()).exists()


def test_shred_overwrites_the_blocks_before_unlinking(tmp_path: Path) -> None:
    """Another name for the same file (a hard link) sees zeros: the bytes were
    overwritten in place, not only unlinked."""
    clear = tmp_path / "img_1.jpg"
    clear.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(300_000))
    other_name = tmp_path / "same-inode"
    os.link(clear, other_name)
    assert shred_file(clear)
    assert not clear.exists()
    assert other_name.read_bytes() == bytes(300_004)
    assert not shred_file(clear)  # already gone: idempotent


def test_demo_answers_survive_an_id_issued_on_a_leap_day() -> None:
    """The demo (and so this file's clear store) once failed on days whose random issue
    date was 29 February: ten years later has no such day."""
    from datetime import date

    from kycdesk.demo import years_later

    assert years_later(date(2024, 2, 29), 10) == date(2034, 2, 28)
    assert years_later(date(2024, 2, 28), 10) == date(2034, 2, 28)
    assert years_later(date(2028, 2, 29), 4) == date(2032, 2, 29)


@needs_sealed_values
def test_the_command_line_migrates_at_the_first_sign_in(
        legacy: LegacyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`kycdesk case list --user … --pin-stdin` on an upgraded tablet: the first verifier
    to sign in gets the older cases (progress on stderr), encrypted; nobody else does."""
    signed = make_tablet(legacy.paths.root)
    pin_on_stdin(monkeypatch)
    assert main(["case", "list", "--json", *signed.cli_args()]) == 0
    out, err = capsys.readouterr()
    assert "Protecting cases: 20 of 20 cases" in err
    assert {c["id"] for c in json.loads(out)} == {c.case_id for c in legacy.cases}
    held = read_store(signed.paths, vault_for(signed.paths))
    assert held[legacy.cases[0].case_id][0] == legacy.cases[0].expected_form()
    hits = raw_bytes.scan(legacy.paths.root, legacy.needles())
    assert hits == [], raw_bytes.summary(hits)
    second = make_tablet(legacy.paths.root, user="Other")
    assert not should_migrate_for(second.tablet.legacy_store(), second.session.verifier_id)


def test_the_sign_in_screen_moves_the_older_cases_in_with_progress(
        legacy: LegacyStore, qtbot: QtBot, tmp_path: Path) -> None:
    """The app's door (the registry it uses in `run_app`): the first verifier created on
    an upgraded tablet sees the progress, then their list holds the 20 older cases."""
    from kycdesk.app import KycDeskApp, MigrationNotice
    from kycdesk.gate import Gate
    from kycdesk.models.signin import Door, SignedIn
    from kycdesk.settings import Settings
    from kycdesk.verifiers.migration import MigratingRegistry
    from kycdesk.verifiers.registry import Registry
    from tests.fakes import FakeCamera, always_yes
    from tests.tablets import CHEAP_PARAMS

    tablet = _tablet(legacy.paths.root)
    notice = MigrationNotice()
    said: list[str] = []
    notice.said.connect(said.append)

    def desk(session: SignedIn) -> KycDeskApp:
        return KycDeskApp(session.paths, vault=session.vault, actor=session.name,
                          camera_factory=FakeCamera, confirm=always_yes)

    gate = Gate(lambda: MigratingRegistry(Registry.open(tablet, pin_params=CHEAP_PARAMS),
                                          tablet, progress=notice.report),
                desk_factory=desk, settings=Settings(tmp_path / "settings.ini"))
    notice.said.connect(gate.model.show_progress)
    qtbot.addWidget(gate.screen)
    try:
        gate.start()
        qtbot.waitUntil(lambda: gate.model.door is Door.FIRST_USE)
        gate.screen.new_name.setText("Ana")
        gate.screen.new_pin.setText("blue kettle on the train")
        gate.screen.new_repeat.setText("blue kettle on the train")
        gate.screen.create_button.click()
        qtbot.waitUntil(lambda: gate.desk is not None and gate.desk.reader is not None,
                        timeout=30_000)
        assert gate.desk is not None
        qtbot.waitUntil(lambda: gate.desk is not None and gate.desk.model.total() == CASES,
                        timeout=30_000)
        assert "Protecting cases: 20 of 20 cases" in said
        assert not tablet.legacy_store().database.exists()
    finally:
        gate.shutdown()


def test_the_legacy_tables_are_the_sealed_schemas_tables() -> None:
    """`legacy_sealing.LEGACY_TABLES` seals each table as the store's writer does:
    same sealed column, same clear columns emptied to the same values, every table."""
    sealed = pytest.importorskip("kycdesk.persistence.sealed")
    from kycdesk.verifiers.legacy_sealing import LEGACY_TABLES

    assert {t.table: t.sealed_column for t in LEGACY_TABLES} == sealed.SEALED_COLUMNS
    assert {t.table: t.emptied for t in LEGACY_TABLES} == sealed.CLEAR_COLUMNS
    for spec in LEGACY_TABLES:
        assert spec.field(("k",) * 6) in (sealed.field_name(spec.table),
                                            sealed.field_name(spec.table, "k"),
                                            sealed.field_name(spec.table, "k/k"))
