"""`kycdesk case …`: new, attach, show, list, discard, export and import, run through the
real command line against real data folders."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from kycdesk.core.states import CaseStatus, Change
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import SaveForm, Transition
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.store import LocalStore
from tests.exif_builder import with_exif
from tests.tablets import (
    TEST_PIN,
    main_signed_in,
    make_tablet,
    signed_in_args,
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)

Capture = pytest.CaptureFixture[str]


def case(paths: DataPaths, capsys: Capture, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main_signed_in(["case", *argv], paths)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_case(paths: DataPaths, capsys: Capture) -> str:
    code, out, _ = case(paths, capsys, "new", "--json")
    assert code == 0
    case_id: str = json.loads(out)["id"]
    return case_id


def test_new_prints_the_id_and_the_case_is_a_draft(qapp: object, paths: DataPaths,
                                                   capsys: Capture) -> None:
    code, out, _ = case(paths, capsys, "new", "--reference", "KYC-CLI-1")
    assert code == 0
    case_id = out.strip()
    with LocalStore(paths, vault=vault_for(paths)) as store:
        record = store.load_case(case_id)
        assert record.status == CaseStatus.DRAFT
        assert record.reference_number == "KYC-CLI-1"
    assert json.loads(case(paths, capsys, "new", "--json")[1]).keys() == {"id"}


def test_attach_fills_slots_in_order_and_reports_each_file(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture) -> None:
    case_id = new_case(paths, capsys)
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    photo, photo2 = image_dir / "photo.jpg", image_dir / "photo2.jpg"
    code, out, _ = case(paths, capsys, "attach", case_id, str(photo), str(bad), str(photo2),
                        str(photo))
    assert code == 1  # one was rejected
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["accepted", "rejected", "accepted", "accepted"]
    assert "not a photo" in lines[1]
    shown = json.loads(case(paths, capsys, "show", case_id, "--json")[1])
    # id_front holds two, so the third accepted photo goes to id_back.
    assert [p["slot"] for p in shown["photos"]] == ["id_front", "id_front", "id_back"]
    assert [p["sha256"] for p in shown["photos"]] == [sha256(photo), sha256(photo2),
                                                     sha256(photo)]
    assert (shown["photos"][0]["width"], shown["photos"][0]["height"]) == (800, 600)
    assert case(paths, capsys, "attach", case_id, str(photo), "--slot", "selfie")[0] == 0
    code, out, _ = case(paths, capsys, "attach", case_id, str(photo), "--slot", "selfie")
    assert code == 1 and "no photo slot has room" in out
    code, _, err = case(paths, capsys, "attach", case_id, str(photo), "--slot", "passport")
    assert code == 1 and "no photo slot 'passport'" in err and "id_front" in err


def test_show_gives_the_displayed_size_location_and_time_source(
        qapp: object, paths: DataPaths, jpeg: Path, tmp_path: Path, capsys: Capture) -> None:
    case_id = new_case(paths, capsys)
    rotated = with_exif(jpeg, tmp_path / "upright.jpg", lat=48.8584, lon=2.2945,
                        accuracy=8.0, taken="2026:11:20 09:00:00", orientation=6)
    assert case(paths, capsys, "attach", case_id, str(rotated))[0] == 0
    shown = json.loads(case(paths, capsys, "show", case_id, "--json")[1])
    photo = shown["photos"][0]
    assert (photo["width"], photo["height"]) == (600, 800)  # portrait, as displayed
    assert photo["latitude"] == pytest.approx(48.8584, abs=1e-4)
    assert photo["longitude"] == pytest.approx(2.2945, abs=1e-4)
    assert photo["accuracy"] == pytest.approx(8.0)
    assert photo["captured_at"].startswith("2026-11-20T09:00:00")
    assert photo["captured_at_source"] == "exif"
    assert shown["status"] == "DRAFT" and isinstance(shown["form"], dict)


def test_list_filters_by_view_and_discard_removes_the_draft(
        qapp: object, paths: DataPaths, jpeg: Path, capsys: Capture) -> None:
    draft, ready = new_case(paths, capsys), new_case(paths, capsys)
    with LocalStore(paths, vault=vault_for(paths)) as store:
        store.run(Transition(ready, Change.SUBMIT))
    listed = json.loads(case(paths, capsys, "list", "--json")[1])
    assert {c["id"] for c in listed} == {draft, ready}
    drafts = json.loads(case(paths, capsys, "list", "--status", "drafts", "--json")[1])
    assert [c["id"] for c in drafts] == [draft]
    waiting = json.loads(case(paths, capsys, "list", "--status", "waiting", "--json")[1])
    assert [c["id"] for c in waiting] == [ready]
    assert case(paths, capsys, "attach", draft, str(jpeg))[0] == 0
    folder = paths.case_dir(draft)
    assert any(folder.iterdir())
    code, out, _ = case(paths, capsys, "discard", draft)
    assert code == 0 and draft in out
    assert [c["id"] for c in json.loads(case(paths, capsys, "list", "--json")[1])] == [ready]
    assert not folder.exists()
    code, _, err = case(paths, capsys, "discard", ready)
    assert code == 1 and "error:" in err  # only a draft can be discarded


def _filled_case(paths: DataPaths, capsys: Capture, image_dir: Path) -> str:
    case_id = new_case(paths, capsys)
    with LocalStore(paths, vault=vault_for(paths)) as store:
        form = {"applicant.first_name": "Mwajuma", "applicant.last_name": "Okonkwo-Haddad",
                "address.city": "Mombasa"}
        store.run(SaveForm(case_id, form, None, "Mwajuma Okonkwo-Haddad"))
    assert case(paths, capsys, "attach", case_id, str(image_dir / "photo.jpg"),
                str(image_dir / "photo2.jpg"))[0] == 0
    return case_id


def test_export_then_import_on_another_device_is_the_same_case(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture, system_temp: Path) -> None:
    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.zip"
    code, out, _ = case(paths, capsys, "export", "--clear", case_id, "-o", str(archive))
    assert code == 0 and "2 photo(s)" in out
    before = json.loads(case(paths, capsys, "show", case_id, "--json")[1])

    other = make_tablet(tmp_path / "other-device").paths
    code, out, _ = case(other, capsys, "import", str(archive))
    assert code == 0, out
    after = json.loads(case(other, capsys, "show", case_id, "--json")[1])
    assert after["form"] == before["form"]
    assert after["reference_number"] == before["reference_number"]
    facts = ("client_image_id", "slot", "sha256", "width", "height", "captured_at",
             "captured_at_source", "latitude", "longitude")
    assert [{k: p[k] for k in facts} for p in after["photos"]] == \
        [{k: p[k] for k in facts} for p in before["photos"]]
    listed = json.loads(case(other, capsys, "list", "--json")[1])
    assert listed[0]["applicant_name"] == "Mwajuma Okonkwo-Haddad"
    with LocalStore(other, vault=vault_for(other)) as store:
        assert store.check().has_problems is False
    # The archive's photos (ID documents) were unpacked in the data folder, not the
    # system's temp folder, and are gone once imported.
    assert list(other.captures_dir.iterdir()) == [] and not system_temp.exists()

    # The same archive again: this device already has that revision, nothing changes.
    code, _, err = case(other, capsys, "import", str(archive))
    assert code == 1 and "not imported" in err
    assert len(json.loads(case(other, capsys, "show", case_id, "--json")[1])["photos"]) == 2


def _with_stdin(lines: str, run: Callable[[], tuple[int, str, str]]) -> tuple[int, str, str]:
    """`case` reads the PIN and then the archive's passphrase from stdin (the PIN line is
    the test verifier's, given by main_signed_in: here the whole stdin is replaced)."""
    saved = sys.stdin
    sys.stdin = io.StringIO(lines)
    try:
        return run()
    finally:
        sys.stdin = saved


def test_an_export_is_sealed_with_a_passphrase_and_opens_only_with_it(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """By default an archive is sealed (docs/security.md, *Exports*): no answer, no
    JPEG signature and no photo hash in its bytes; a wrong passphrase imports nothing;
    the right one brings the same case. Without a passphrase and not at a terminal, the
    export refuses rather than write a clear file."""
    from kycdesk.cli import main

    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.kyca"
    passphrase = "a long archive passphrase"
    args = signed_in_args(paths)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["case", *argv, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    refused = _with_stdin(f"{TEST_PIN}\n", lambda: run("export", case_id, "-o", str(archive)))
    assert refused[0] == 1 and "--passphrase-stdin" in refused[2] and not archive.exists()
    short = _with_stdin(f"{TEST_PIN}\nshort\n", lambda: run(
        "export", case_id, "-o", str(archive), "--passphrase-stdin"))
    assert short[0] == 1 and "at least 12" in short[2] and not archive.exists()
    code, out, err = _with_stdin(f"{TEST_PIN}\n{passphrase}\n", lambda: run(
        "export", case_id, "-o", str(archive), "--passphrase-stdin"))
    assert code == 0 and "sealed" in out, err
    raw = archive.read_bytes()
    assert archive.stat().st_mode & 0o777 == 0o600  # owner-only from its first byte
    shown = json.loads(case(paths, capsys, "show", case_id, "--json")[1])
    needles = [b"Mwajuma", b"Okonkwo", b"\xff\xd8\xff", b"PK\x03\x04",
               *(p["sha256"].encode() for p in shown["photos"]),
               *(bytes.fromhex(p["sha256"]) for p in shown["photos"])]
    assert [n for n in needles if n in raw] == []

    other = make_tablet(tmp_path / "other-device").paths
    other_args = signed_in_args(other)

    def run_other(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["case", *argv, *other_args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    wrong = _with_stdin(f"{TEST_PIN}\nnot the passphrase at all\n", lambda: run_other(
        "import", str(archive), "--passphrase-stdin"))
    assert wrong[0] == 1 and "passphrase is wrong" in wrong[2]
    assert json.loads(case(other, capsys, "list", "--json")[1]) == []
    right = _with_stdin(f"{TEST_PIN}\n{passphrase}\n", lambda: run_other(
        "import", str(archive), "--passphrase-stdin"))
    assert right[0] == 0, right[2]
    after = json.loads(case(other, capsys, "show", case_id, "--json")[1])
    assert after["form"] == shown["form"]
    assert [p["sha256"] for p in after["photos"]] == [p["sha256"] for p in shown["photos"]]


def test_import_never_overwrites_a_newer_local_revision(
        qapp: object, paths: DataPaths, image_dir: Path, tmp_path: Path,
        capsys: Capture) -> None:
    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.zip"
    assert case(paths, capsys, "export", "--clear", case_id, "-o", str(archive))[0] == 0
    with LocalStore(paths, vault=vault_for(paths)) as store:
        store.run(SaveForm(case_id, {"applicant.first_name": "Newer"}, None, None))
    code, _, err = case(paths, capsys, "import", str(archive))
    assert code == 1 and "not imported" in err
    shown = json.loads(case(paths, capsys, "show", case_id, "--json")[1])
    assert shown["form"]["applicant.first_name"] == "Newer"


def _rewrite(archive: Path, target: Path, change: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            dst.writestr(item.filename, change.get(item.filename, src.read(item.filename)))
    return target


@pytest.mark.parametrize("damage", ["photo", "manifest", "not-a-zip", "escaping-name"])
def test_a_damaged_archive_imports_nothing(qapp: object, paths: DataPaths, image_dir: Path,
                                          tmp_path: Path, capsys: Capture,
                                          damage: str, system_temp: Path) -> None:
    case_id = _filled_case(paths, capsys, image_dir)
    archive = tmp_path / "case.zip"
    assert case(paths, capsys, "export", "--clear", case_id, "-o", str(archive))[0] == 0
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        manifest = opened.read("manifest.json")
    photo_name = next(n for n in names if n.startswith("photos/"))
    if damage == "photo":
        bad = _rewrite(archive, tmp_path / "bad.zip", {photo_name: b"\xff\xd8tampered"})
        expected = "does not match its SHA-256"
    elif damage == "manifest":
        edited = manifest.replace(b"Mwajuma", b"Mallory")
        bad = _rewrite(archive, tmp_path / "bad.zip", {"manifest.json": edited})
        expected = "manifest was changed or damaged"
    elif damage == "not-a-zip":
        bad = tmp_path / "bad.zip"
        bad.write_bytes(archive.read_bytes()[:200])
        expected = "cannot be read"
    else:
        edited = manifest.replace(photo_name.encode(), b"photos/../../evil.jpg")
        bad = _rewrite(archive, tmp_path / "bad.zip", {
            "manifest.json": edited,
            "manifest.sha256": hashlib.sha256(edited).hexdigest().encode()})
        expected = "unexpected file name"
    other = make_tablet(tmp_path / "other-device").paths
    code, _, err = case(other, capsys, "import", str(bad))
    assert code == 1 and expected in err and "nothing was imported" in err
    assert json.loads(case(other, capsys, "list", "--json")[1]) == []
    assert not (tmp_path / "evil.jpg").exists()
    assert list(other.captures_dir.iterdir()) == [] and not system_temp.exists()


def test_case_commands_refuse_while_the_app_holds_the_folder(
        qapp: object, paths: DataPaths, capsys: Capture) -> None:
    paths.root.mkdir(parents=True, exist_ok=True)
    lock = DataDirLock(paths.lock_file)
    lock.acquire()
    try:
        code, _, err = case(paths, capsys, "new")
    finally:
        lock.release()
    assert code == 2 and "already running" in err


def test_unknown_cases_and_unwritable_targets_get_a_sentence(
        qapp: object, paths: DataPaths, tmp_path: Path, capsys: Capture) -> None:
    code, _, err = case(paths, capsys, "show", "nonsense", "--json")
    assert code == 1 and "not a valid case id" in err
    missing = "03ac0ab2-d8fe-4988-84a1-a711eeec35d5"
    code, _, err = case(paths, capsys, "show", missing, "--json")
    assert code == 1 and "does not exist" in err
    case_id = new_case(paths, capsys)
    code, _, err = case(paths, capsys, "export", "--clear", case_id, "-o",
                        str(tmp_path / "no-such-folder" / "case.zip"))
    assert code == 1 and "could not be written" in err
    assert not list(tmp_path.glob("**/.case.zip.tmp"))


def test_attach_of_a_located_photo_shows_its_place_and_a_photo_without_gps_none(
        qapp: object, paths: DataPaths, jpeg: Path, tmp_path: Path, capsys: Capture) -> None:
    case_id = new_case(paths, capsys)
    nairobi = with_exif(jpeg, tmp_path / "site.jpg", lat=-1.2864, lon=36.8172,
                        accuracy=12.0, taken="2026:11:20 09:00:00")
    assert case(paths, capsys, "attach", case_id, str(nairobi), str(jpeg))[0] == 0
    located, unlocated = json.loads(case(paths, capsys, "show", case_id, "--json")[1])["photos"]
    assert located["address"] == "near Nairobi, Nairobi Area, Kenya"
    assert located["address_source"] == "nearest place, under 1 km"
    assert unlocated["latitude"] is None
    assert unlocated["address"] is None and unlocated["address_source"] is None
