"""Headless, isolated tests: every data dir is a tmp dir, Qt runs offscreen.

Every test gets one tier mark (tests/tiers.py) here, at collection; `pytest -m unit` runs
with Qt refused, so nothing at this file's top level may load Qt: the fixtures that need
the app's Qt-based store import it themselves.
"""

from __future__ import annotations

import gc
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kycdesk.paths import DATA_DIR_ENV, DataPaths, resolve
from kycdesk.security.vault import Vault
from tests import leaks, tiers
from tests.vaults import make_vault, share_with_cli

if TYPE_CHECKING:
    from kycdesk.persistence.store import LocalStore
    from tests.real_parts import Postgres, S3Server
    from tests.sync_support import ServerHandle


def _unit_only(config: pytest.Config) -> bool:
    return str(config.getoption("markexpr", "")).strip() == "unit"


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """pytest-qt loads Qt when it starts, so the unit tier runs without it
    (`-p no:pytest-qt`); its settings in pyproject.toml must stay known then."""
    if not pluginmanager.has_plugin("pytest-qt"):
        parser.addini("qt_api", "pytest-qt's (not loaded)")
        parser.addini("qt_log_level_fail", "pytest-qt's (not loaded)")
        parser.addini("qt_log_ignore", "pytest-qt's (not loaded)", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    if _unit_only(config):
        if config.pluginmanager.has_plugin("pytest-qt"):
            raise pytest.UsageError("the unit tier runs without Qt, and pytest-qt loads it: "
                                    "pytest -m unit -p no:pytest-qt")
        tiers.refuse_qt()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`-m unit` does not even import the modules that load Qt (they could not load)."""
    if not _unit_only(config) or collection_path.suffix != ".py":
        return None
    module = tiers.module_name_of(collection_path)
    return True if module is not None and tiers.imports_qt(module) else None


_LEAK_BASELINE = pytest.StashKey[leaks.Baseline]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    item.stash[_LEAK_BASELINE] = leaks.baseline()  # before any of its fixtures
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """After every fixture of the test is finalized (and pytest-qt closed its widgets):
    nothing the test started may still run (tests/leaks.py)."""
    result = yield
    before = item.stash.get(_LEAK_BASELINE, None)
    problems = leaks.check(before) if before is not None else []
    if problems:
        pytest.fail("left running after the test: " + "; ".join(problems), pytrace=False)
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, tiers.tier_of(item)))


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
    if tiers.qt_refused():
        return  # `-m unit`: Qt cannot be loaded, so QSettings cannot be reached either
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                      str(tmp_path_factory.mktemp("settings")))


@pytest.fixture
def system_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temp folder made unusable, for tests that check personal data
    (captures, an archive's photos) never goes there: it points at a folder that does not
    exist, so writing anything there fails the test, and the test checks it still does
    not exist (nothing created it)."""
    folder = tmp_path / "system-temp"
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def paths(tmp_path: Path) -> DataPaths:
    """A data folder whose interim key is the test key (tests/vaults.py), so a command or
    the app started on it opens what the test wrote with `make_vault()`."""
    data = resolve(tmp_path / "data")
    share_with_cli(data)
    return data


@pytest.fixture
def vault() -> Vault:
    """The test verifier's keys (tests/vaults.py): the same as `make_vault()`."""
    return make_vault()


@pytest.fixture
def store(qapp: object, paths: DataPaths, vault: Vault) -> Iterator[LocalStore]:
    from kycdesk.persistence.store import LocalStore

    with LocalStore(paths, vault=vault) as opened:
        yield opened


@pytest.fixture(scope="session")
def image_dir(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kycdesk.demo import render_photo

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
    from tests.sync_support import start_server

    handle = start_server(tmp_path / "server")
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster for the session (tests/real_parts.py)."""
    from tests.real_parts import start_postgres

    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A SeaweedFS S3 server for the session (tests/real_parts.py)."""
    from tests.real_parts import start_s3

    server = start_s3(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()
