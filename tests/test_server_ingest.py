"""`kycdesk-server ingest ARCHIVE`: a case exported by the app (`kycdesk case export`)
enters the server through the same idempotent path as a sync."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import httpx
import pytest

from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from tests.sync_support import REPO_ROOT, TOKEN, make_ready_cases, photo_sources, start_server
from tests.tablets import (
    TEST_PIN,
    main_signed_in,
    signed_in_args,
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)


def _server_cli(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kycdesk_server", args[0], "--data-dir",
                           str(data), *args[1:]], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, check=False)


@pytest.fixture
def archive(qapp: object, paths: DataPaths, tmp_path: Path) -> tuple[str, Path]:
    """A READY case with two photos, exported by the app's own command."""
    sources = photo_sources(tmp_path / "sources", count=2, size=(800, 600))
    with LocalStore(paths, vault=vault_for(paths)) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=2)
    target = tmp_path / "case.zip"
    assert main_signed_in(["case", "export", "--clear", case_id, "-o", str(target)], paths) == 0
    return case_id, target


def test_a_sealed_archive_is_ingested_with_its_passphrase_only(
        qapp: object, paths: DataPaths, tmp_path: Path) -> None:
    """The app's default export is sealed (kycdesk/security/sealed_archive.py): the office
    ingests it with the passphrase handed over apart; without it or with a wrong one,
    nothing is stored and the reason is said."""
    import io

    from kycdesk.cli import main

    sources = photo_sources(tmp_path / "sources", count=1, size=(640, 480))
    with LocalStore(paths, vault=vault_for(paths)) as store:
        [case_id] = make_ready_cases(store, sources, cases=1, images_per_case=1)
    target = tmp_path / "case.kyca"
    saved = sys.stdin
    sys.stdin = io.StringIO(f"{TEST_PIN}\nhanded over apart\n")
    try:
        assert main(["case", "export", case_id, "-o", str(target), "--passphrase-stdin",
                     *signed_in_args(paths)]) == 0
    finally:
        sys.stdin = saved
    data = tmp_path / "server"
    _server_cli(data, "migrate")
    without = _server_cli(data, "ingest", str(target))
    assert without.returncode == 1 and "--passphrase-stdin" in without.stdout
    wrong = subprocess.run([sys.executable, "-m", "kycdesk_server", "ingest", "--data-dir",
                            str(data), str(target), "--passphrase-stdin"],
                           input="not the passphrase\n", capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=60, check=False)
    assert wrong.returncode == 1 and "passphrase is wrong" in wrong.stdout
    right = subprocess.run([sys.executable, "-m", "kycdesk_server", "ingest", "--data-dir",
                            str(data), str(target), "--passphrase-stdin"],
                           input="handed over apart\n", capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=60, check=False)
    assert right.returncode == 0 and right.stdout.startswith("ingested:"), right.stdout


def test_an_exported_case_is_ingested_once(archive: tuple[str, Path], tmp_path: Path) -> None:
    case_id, path = archive
    data = tmp_path / "server"
    _server_cli(data, "migrate")
    first = _server_cli(data, "ingest", str(path))
    assert first.returncode == 0 and first.stdout.startswith("ingested:"), first.stdout
    again = _server_cli(data, "ingest", str(path))
    assert again.returncode == 0 and again.stdout.startswith("already held:"), again.stdout
    receipt = first.stdout.split("receipt ")[1].split(",")[0]
    assert receipt in again.stdout  # the same receipt: nothing stored twice
    with sqlite3.connect(data / "server.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM images WHERE case_id = ?",
                          (case_id,)).fetchone() == (2,)
        assert db.execute("SELECT count(*) FROM submission_revisions WHERE case_id = ?",
                          (case_id,)).fetchone() == (1,)
        owner = db.execute("SELECT device_id FROM case_owners WHERE case_id = ?",
                           (case_id,)).fetchone()
    assert owner == ("archive-ingest",)
    assert len(list((data / "images" / case_id).iterdir())) == 2


def test_a_running_server_then_answers_for_the_ingested_case(
        archive: tuple[str, Path], tmp_path: Path) -> None:
    case_id, path = archive
    server = start_server(tmp_path / "server")
    try:
        ingested = _server_cli(server.data_dir, "ingest", str(path), "--device",
                               "lab-nonexistent")
        assert ingested.returncode == 1 and "no device" in ingested.stdout
        ingested = _server_cli(server.data_dir, "ingest", str(path))
        assert ingested.returncode == 0, ingested.stdout + ingested.stderr
        # The case is the ingest device's now: a tablet with another credential may not
        # read or overwrite it.
        reply = httpx.get(f"{server.base_url}/v1/cases/{case_id}/submission",
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert reply.status_code == 403
    finally:
        server.stop()


def test_a_damaged_or_unsubmitted_archive_stores_nothing(
        archive: tuple[str, Path], tmp_path: Path) -> None:
    _, path = archive
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("photos/"):
                data = data[:-10] + b"x" * 10  # one photo changed on the way
            target.writestr(item, data)
    data_dir = tmp_path / "server"
    _server_cli(data_dir, "migrate")
    refused = _server_cli(data_dir, "ingest", str(damaged))
    assert refused.returncode == 1 and "does not match its SHA-256" in refused.stdout
    with sqlite3.connect(data_dir / "server.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM images").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM case_owners").fetchone() == (0,)
    from kycdesk.persistence.commands import CreateCase

    with LocalStore(resolve_paths(path), vault=vault_for(resolve_paths(path))) as store:
        draft = store.run(CreateCase(reference_number="DRAFT-1"))
    exported = tmp_path / "draft.zip"
    assert main_signed_in(["case", "export", "--clear", draft, "-o", str(exported)],
                          resolve_paths(path)) == 0
    refused = _server_cli(data_dir, "ingest", str(exported))
    assert refused.returncode == 1 and "was not submitted" in refused.stdout


def resolve_paths(archive: Path) -> DataPaths:
    """The verifier's store the fixture exported from (its tablet beside the archive)."""
    from kycdesk.paths import resolve_tablet
    from kycdesk.verifiers.registry import Registry

    tablet = resolve_tablet(archive.parent / "data")
    [verifier] = Registry.open(tablet).verifiers()
    return tablet.store(verifier.verifier_id)
