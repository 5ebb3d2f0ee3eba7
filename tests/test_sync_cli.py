"""`kycdesk sync --once` as a real process: progress, exit codes, and SIGKILL at random
points during a multi-photo sync followed by a restart: no duplicates, all SYNCED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    ServerHandle,
    assert_server_holds_exactly,
    make_ready_cases,
    photo_sources,
)


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_sources(tmp_path_factory.mktemp("cli-sources"), count=3, size=(2400, 1800))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KYCDESK_TOKEN", "KYCDESK_SERVER")}
    # No OS keyring in tests: the "no backend" path is what CI machines have.
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    return env


def _sync_args(paths: DataPaths, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kycdesk", "sync", "--once", "--data-dir", str(paths.root),
            *extra]


def _run(paths: DataPaths, *extra: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_sync_args(paths, *extra), capture_output=True, text=True,
                          timeout=120, env=env or _env(), check=False)


def test_sync_once_sends_everything_and_shows_progress(qapp: object, paths: DataPaths,
                                                       server: ServerHandle,
                                                       sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        ids = make_ready_cases(store, sources, cases=2, images_per_case=2)
    result = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KYC-SYNC-0 (1 of 2) · sending photos · 0 of 2 photos" in result.stdout
    assert "synced 2 case(s), 4 photo(s)" in result.stdout
    with LocalStore(paths) as store:
        assert_server_holds_exactly(server, store, ids)


def test_token_from_the_environment(qapp: object, paths: DataPaths, server: ServerHandle,
                                    sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    env = dict(_env(), KYCDESK_TOKEN=TOKEN, KYCDESK_SERVER=server.base_url)
    result = _run(paths, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_token_without_keyring_says_what_to_do(qapp: object, paths: DataPaths,
                                                       server: ServerHandle) -> None:
    result = _run(paths, "--server", server.base_url)
    assert result.returncode == 3
    assert "No secure key store" in result.stdout and "KYCDESK_TOKEN" in result.stdout


def test_wrong_token_and_unreachable_server_have_their_own_exit_codes(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    refused = _run(paths, "--server", server.base_url, "--token", "nope")
    assert refused.returncode == 3 and "token" in refused.stdout
    server.stop()
    offline = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert offline.returncode == 4 and "cannot be reached" in offline.stdout


def test_failed_case_makes_the_exit_code_non_zero(qapp: object, paths: DataPaths,
                                                  server: ServerHandle,
                                                  sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    server.set_faults([{"endpoint": "submit", "action": "status", "status": 503,
                        "count": 1}])
    first = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert first.returncode == 1 and "FAILED" in first.stdout
    waiting = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert waiting.returncode == 0 and "synced 0 case(s)" in waiting.stdout  # backoff
    forced = _run(paths, "--server", server.base_url, "--token", TOKEN, "--now")
    assert forced.returncode == 0 and "synced 1 case(s)" in forced.stdout


def test_until_done_keeps_going_through_a_refusal_and_says_what_it_did(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        make_ready_cases(store, sources, cases=2, images_per_case=1)
    server.set_faults([{"endpoint": "submit", "action": "status", "status": 503,
                        "retry_after": 1, "count": 1}])
    result = subprocess.run(
        [sys.executable, "-m", "kycdesk", "sync", "--until-done", "--deadline", "60",
         "--data-dir", str(paths.root), "--server", server.base_url, "--token", TOKEN],
        capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "synced 2 case(s), 2 photo(s)" in result.stdout
    assert server.state()["injected"]["submit:status"] == 1  # it did have to come back


def test_until_done_stops_at_its_deadline_when_the_server_is_unreachable(
        qapp: object, paths: DataPaths, sources: list[Path]) -> None:
    with LocalStore(paths) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    result = subprocess.run(
        [sys.executable, "-m", "kycdesk", "sync", "--until-done", "--deadline", "2",
         "--data-dir", str(paths.root), "--server", "http://127.0.0.1:9", "--token", TOKEN],
        capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert result.returncode == 4, result.stdout
    assert "could not be reached" in result.stdout
