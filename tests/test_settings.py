"""The one settings schema (kycdesk/settings.py): defaults, bounds, bad stored values
reset with one log line, old keys moved."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kycdesk.settings import (
    PARALLEL_UPLOADS,
    RETENTION_DAYS,
    SCHEMA,
    SERVER_URL,
    STALL_SECONDS,
    VERIFIER_NAME,
    WINDOW_GEOMETRY,
    Settings,
)


def _ini(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "kycdesk.ini"
    file.write_text(text, encoding="utf-8")
    return file


def test_nothing_stored_means_every_default(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "empty.ini")
    assert [settings.get(setting) for setting in SCHEMA] == [s.default for s in SCHEMA]
    assert settings.get(PARALLEL_UPLOADS) == 3 and settings.get(STALL_SECONDS) == 30.0


def test_every_kind_of_value_survives_a_round_trip(tmp_path: Path) -> None:
    file = tmp_path / "s.ini"
    first = Settings(file)
    first.set(SERVER_URL, "https://kyc.example.org")
    first.set(PARALLEL_UPLOADS, 5)
    first.set(STALL_SECONDS, 45.5)
    first.set(WINDOW_GEOMETRY, b"\x01\xd9\xd0\xcb\x00")
    first.sync()
    again = Settings(file)
    assert again.get(SERVER_URL) == "https://kyc.example.org"
    assert again.get(PARALLEL_UPLOADS) == 5 and again.get(STALL_SECONDS) == 45.5
    assert again.get(WINDOW_GEOMETRY) == b"\x01\xd9\xd0\xcb\x00"


def test_a_value_out_of_bounds_is_refused_when_set(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "s.ini")
    with pytest.raises(ValueError, match="out of bounds"):
        settings.set(PARALLEL_UPLOADS, 50)
    assert settings.get(PARALLEL_UPLOADS) == 3


def test_bad_stored_values_are_reset_to_their_default_with_one_log_line_each(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = _ini(tmp_path, "[sync]\nparallel_uploads=many\nstall_seconds=1\n"
                          "server_url=https://kyc.example.org\n[retention]\ndays=90\n")
    with caplog.at_level(logging.WARNING, logger="kycdesk.settings"):
        settings = Settings(file)
    assert settings.get(PARALLEL_UPLOADS) == 3  # not a number
    assert settings.get(STALL_SECONDS) == 30.0  # below its bound of 5 s
    assert settings.get(SERVER_URL) == "https://kyc.example.org"  # good values are kept
    assert settings.get(RETENTION_DAYS) == 90.0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("setting sync/parallel_uploads: the stored value was refused")
    assert "sync/stall_seconds" in lines[1] and "out of bounds" in lines[1]
    settings.sync()
    assert "many" not in file.read_text(encoding="utf-8")  # reset in the file too


def test_an_old_key_is_moved_to_its_new_name(tmp_path: Path) -> None:
    file = _ini(tmp_path, "[profile]\nname=Ngozi Adeyemi\n")
    settings = Settings(file)
    assert settings.get(VERIFIER_NAME) == "Ngozi Adeyemi"
    settings.sync()
    text = file.read_text(encoding="utf-8")
    assert "verifier_name=Ngozi Adeyemi" in text and "\nname=" not in text


def test_every_setting_says_what_it_is_for_and_keys_are_unique() -> None:
    assert len({setting.key for setting in SCHEMA}) == len(SCHEMA)
    assert all(setting.description for setting in SCHEMA)
    for setting in SCHEMA:
        setting.check(setting.default)  # every default is within its own bounds
