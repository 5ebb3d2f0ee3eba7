"""Every setting the app keeps, in one schema, read and written only here.

A setting is a key, a type, a default, bounds where a number has them, and a sentence
saying what it is for (`SCHEMA`). Opening the settings (`Settings()`) first renames keys
an older version wrote (`RENAMED`), then checks every stored value against the schema:
one of the wrong type or out of bounds is removed — so its default applies — with one
log line naming the key (never the value: a profile is personal). Reads and writes go
through `Settings.get` / `Settings.set`, typed by the setting.

Secrets are not settings: the device token is kept sealed for its verifier
(`kycdesk.sync.credentials`), never here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from kycdesk import APP_NAME

log = logging.getLogger(__name__)

T = TypeVar("T")


def _text(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"text expected, found {type(raw).__name__}")
    return raw


def _bytes(raw: object) -> bytes:
    if isinstance(raw, QByteArray):
        return bytes(raw.data())
    if isinstance(raw, bytes):
        return raw
    raise ValueError(f"bytes expected, found {type(raw).__name__}")


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"  # INI files give booleans back as text
    raise ValueError(f"true or false expected, found {type(raw).__name__}")


N = TypeVar("N", int, float)


def _number(kind: Callable[[str], N]) -> Callable[[object], N]:
    def parse(raw: object) -> N:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ValueError(f"a number expected, found {type(raw).__name__}")
        return kind(str(raw))  # INI files give numbers back as text

    return parse


@dataclass(frozen=True)
class Setting(Generic[T]):
    key: str
    default: T
    parse: Callable[[object], T]  # a stored value -> T; ValueError if it is not one
    description: str
    low: float | None = None
    high: float | None = None

    def check(self, raw: object) -> T:
        value = self.parse(raw)
        if isinstance(value, int | float) and (
                (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)):
            raise ValueError(f"out of bounds [{self.low}, {self.high}]")
        return value


SERVER_URL = Setting("sync/server_url", "", _text, "the sync server's address")
CA_BUNDLE = Setting("sync/ca_bundle", "", _text,
                    "a PEM file of a private CA for the server's certificate ('' = the "
                    "system's certificates)")
PARALLEL_UPLOADS = Setting("sync/parallel_uploads", 3, _number(int),
                           "photos of a case sent at once", low=1, high=8)
STALL_SECONDS = Setting("sync/stall_seconds", 30.0, _number(float),
                        "no data moved this long: drop the request and resume",
                        low=5.0, high=600.0)
RETENTION_DAYS = Setting("retention/days", 30.0, _number(float),
                         "synced cases keep their data this long after the receipt",
                         low=1.0, high=36_500.0)
VERIFIER_NAME = Setting("profile/verifier_name", "", _text,
                        "the verifier's name, prefilled in a new case's declaration")
EMPLOYEE_ID = Setting("profile/employee_id", "", _text,
                      "the verifier's employee ID, prefilled in a new case's declaration")
IDLE_LOCK_MINUTES = Setting("security/idle_lock_minutes", 5.0, _number(float),
                            "no touch, key or pointer input this long: the app locks and "
                            "drops the verifier's keys", low=0.05, high=240.0)
KIOSK_MODE = Setting("security/kiosk_mode", False, _flag,
                     "full-screen on the open case for the applicant; leaving it needs "
                     "the verifier's PIN")
UPDATE_QUIET_HOUR = Setting("updates/quiet_hour", 3, _number(int),
                            "kiosks: the local hour a downloaded, self-tested update "
                            "restarts the app into the new version (when no sync runs and "
                            "no case has unsaved edits); -1: only at the next start",
                            low=-1, high=23)
WINDOW_GEOMETRY = Setting("window/geometry", b"", _bytes,
                          "the main window's size and place (QWidget.saveGeometry)")

SCHEMA: tuple[Setting[Any], ...] = (
    SERVER_URL, CA_BUNDLE, PARALLEL_UPLOADS, STALL_SECONDS, RETENTION_DAYS, VERIFIER_NAME,
    EMPLOYEE_ID, IDLE_LOCK_MINUTES, KIOSK_MODE, UPDATE_QUIET_HOUR, WINDOW_GEOMETRY)

# Keys an older version wrote -> their key now (moved once, when the settings open).
RENAMED = {
    "profile/name": VERIFIER_NAME.key,  # "name" alone did not say whose
}


class Settings:
    """The app's settings (QSettings underneath: the registry, a plist or an INI file,
    as the platform keeps them). `file` opens an INI file instead (tests, tools)."""

    def __init__(self, file: Path | None = None) -> None:
        if file is not None:
            self._store = QSettings(str(file), QSettings.Format.IniFormat)
        else:
            self._store = QSettings(QSettings.defaultFormat(), QSettings.Scope.UserScope,
                                    APP_NAME, APP_NAME)
        self._migrate()
        self._reset_bad_values()

    def get(self, setting: Setting[T]) -> T:
        raw = self._store.value(setting.key)
        if raw is None:
            return setting.default
        try:
            return setting.check(raw)
        except ValueError:  # written by another process since we opened: same rule
            self._reset(setting, "changed since the settings were opened")
            return setting.default

    def set(self, setting: Setting[T], value: T) -> None:
        setting.check(value)  # a caller's bug, not a stored value: raises
        stored: object = QByteArray(value) if isinstance(value, bytes) else value
        self._store.setValue(setting.key, stored)

    def sync(self) -> None:
        """Write what was set to the platform's store now (it also happens by itself)."""
        self._store.sync()

    def _migrate(self) -> None:
        for old, new in RENAMED.items():
            if not self._store.contains(old):
                continue
            if not self._store.contains(new):
                self._store.setValue(new, self._store.value(old))
            self._store.remove(old)
            log.info("setting %s is now %s", old, new)

    def _reset_bad_values(self) -> None:
        for setting in SCHEMA:
            raw = self._store.value(setting.key)
            if raw is None:
                continue
            try:
                setting.check(raw)
            except ValueError as exc:
                self._reset(setting, str(exc))

    def _reset(self, setting: Setting[Any], reason: str) -> None:
        self._store.remove(setting.key)
        log.warning("setting %s: the stored value was refused (%s); its default %r "
                    "applies", setting.key, reason, setting.default)
