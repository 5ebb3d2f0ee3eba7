"""Headless, isolated tests: every data dir is a tmp dir, Qt runs offscreen."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest

from kycdesk.demo import render_photo
from kycdesk.paths import DATA_DIR_ENV, DataPaths, resolve
from kycdesk.persistence.store import LocalStore
from tests.real_parts import Postgres, S3Server, start_postgres, start_s3
from tests.sync_support import ServerHandle, start_server


@pytest.fixture(autouse=True)
def _collect_cycles_in_the_main_thread() -> Iterator[None]:
    """As the app does (kycdesk.gc_guard): automatic collection off, so a cycle holding a
    widget is never freed — and the widget destroyed — in a writer or sync thread."""
    gc.disable()
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever touches the real user profile, even if it forgets --data-dir."""
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path_factory.mktemp("default-data")))
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("settings")))


@pytest.fixture
def paths(tmp_path: Path) -> DataPaths:
    return resolve(tmp_path / "data")


@pytest.fixture
def store(qapp: object, paths: DataPaths) -> Iterator[LocalStore]:
    with LocalStore(paths) as opened:
        yield opened


@pytest.fixture(scope="session")
def image_dir(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    render_photo(folder / "photo.jpg", label="ID FRONT", subtitle="Test Person", seed=1,
                 size=(800, 600))
    render_photo(folder / "photo2.jpg", label="SELFIE", subtitle="Test Person", seed=2,
                 size=(640, 480))
    return folder


@pytest.fixture
def jpeg(image_dir: Path) -> Path:
    return image_dir / "photo.jpg"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerHandle]:
    """The reference sync server as a real child process on 127.0.0.1 (free port)."""
    handle = start_server(tmp_path / "server")
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster for the session (tests/real_parts.py)."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server for the session (tests/real_parts.py)."""
    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()
