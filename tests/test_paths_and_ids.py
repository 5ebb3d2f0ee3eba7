from __future__ import annotations

import stat
from pathlib import Path

import pytest

from kycdesk.core.errors import InvalidCaseIdError
from kycdesk.core.ids import new_id, validate_case_id
from kycdesk.paths import DATA_DIR_ENV, ensure_private_dir, resolve


def test_explicit_data_dir_wins_over_environment(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "env"))
    assert resolve(tmp_path / "flag").root == (tmp_path / "flag").resolve()
    assert resolve().root == (tmp_path / "env").resolve()


def test_overridden_data_dir_keeps_logs_inside(tmp_path: Path) -> None:
    paths = resolve(tmp_path)
    assert paths.log_dir == tmp_path.resolve() / "logs"


def test_default_location_is_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV)
    paths = resolve()
    assert "kycdesk" in paths.root.parts
    assert "kycdesk" in str(paths.log_dir)


def test_private_dirs_are_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    ensure_private_dir(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700


def test_stored_paths_are_relative_and_portable(tmp_path: Path) -> None:
    paths = resolve(tmp_path)
    case_id = new_id()
    file = paths.case_dir(case_id) / "img_1.jpg"
    stored = paths.relative(file)
    assert stored == f"cases/{case_id}/img_1.jpg"
    moved = resolve(tmp_path / "elsewhere")
    assert moved.absolute(stored) == moved.root / "cases" / case_id / "img_1.jpg"


def test_canonical_uuid_is_accepted() -> None:
    case_id = new_id()
    assert validate_case_id(case_id) == case_id


@pytest.mark.parametrize("bad", [
    "", "..", "../etc/passwd", "../../x", "/etc/passwd", "a/b", "C:\\Windows",
    "0c4b1a1e-5b1f-4d5e-9d7e-1f1f1f1f1f1f/../x",
    "{0c4b1a1e-5b1f-4d5e-9d7e-1f1f1f1f1f1f}",        # braces: not canonical
    "0C4B1A1E-5B1F-4D5E-9D7E-1F1F1F1F1F1F",          # upper case: another folder name
    "0c4b1a1e5b1f4d5e9d7e1f1f1f1f1f1f",              # no hyphens
    "urn:uuid:0c4b1a1e-5b1f-4d5e-9d7e-1f1f1f1f1f1f",
    "0c4b1a1e-5b1f-4d5e-9d7e-1f1f1f1f1f1f\n",
    "0c4b1a1e-5b1f-4d5e-9d7e-1f1f1f1f1f1f\x00",
])
def test_path_traversal_and_non_canonical_ids_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidCaseIdError):
        validate_case_id(bad)
