"""`kycdesk sync --once` as a real process: progress, exit codes, and SIGKILL at random
points during a multi-photo sync followed by a restart: no duplicates, all SYNCED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pytestqt.qtbot import QtBot

from kycdesk.exit_codes import ExitCode
from kycdesk.paths import DataPaths, resolve_tablet
from kycdesk.persistence.store import LocalStore
from kycdesk.verifiers.registry import Registry
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    ServerHandle,
    assert_server_holds_exactly,
    make_ready_cases,
    photo_sources,
)
from tests.tablets import (
    TEST_PIN,
    signed_in_args,
    vault_for,
    verifier_paths,  # noqa: F401  (the `paths` fixture)
)


@pytest.fixture(scope="module")
def sources(qapp: object, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return photo_sources(tmp_path_factory.mktemp("cli-sources"), count=3, size=(2400, 1800))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KYCDESK_TOKEN", "KYCDESK_SERVER")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO_ROOT))
    return env


def _sync_args(paths: DataPaths, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kycdesk", "sync", "--once", *signed_in_args(paths),
            *extra]


def _run(paths: DataPaths, *extra: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_sync_args(paths, *extra), capture_output=True, text=True,
                          input=f"{TEST_PIN}\n", timeout=120, env=env or _env(),
                          check=False)


def test_sync_once_sends_everything_and_shows_progress(qapp: object, paths: DataPaths,
                                                       server: ServerHandle,
                                                       sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        ids = make_ready_cases(store, sources, cases=2, images_per_case=2)
    result = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KYC-SYNC-0 (1 of 2) · sending photos · 0 of 2 photos" in result.stdout
    assert "synced 2 case(s), 4 photo(s)" in result.stdout
    with LocalStore(paths, vault=vault_for(paths)) as store:
        assert_server_holds_exactly(server, store, ids)


def test_token_from_the_environment(qapp: object, paths: DataPaths, server: ServerHandle,
                                    sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    env = dict(_env(), KYCDESK_TOKEN=TOKEN, KYCDESK_SERVER=server.base_url)
    result = _run(paths, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_token_says_what_to_do(qapp: object, paths: DataPaths,
                                       server: ServerHandle) -> None:
    result = _run(paths, "--server", server.base_url)
    assert result.returncode == 3
    assert "not enrolled" in result.stdout and "KYCDESK_TOKEN" in result.stdout


def test_wrong_token_and_unreachable_server_have_their_own_exit_codes(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    refused = _run(paths, "--server", server.base_url, "--token", "nope")
    assert refused.returncode == 3 and "token" in refused.stdout
    server.stop()
    offline = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert offline.returncode == 4 and "cannot be reached" in offline.stdout


def test_failed_case_makes_the_exit_code_non_zero(qapp: object, paths: DataPaths,
                                                  server: ServerHandle,
                                                  sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    # Retry-After 600: the second run comes while the case still backs off, however long
    # a loaded machine takes to start it (the default first backoff is 2.5-5 s).
    server.set_faults([{"endpoint": "submit", "action": "status", "status": 503,
                        "retry_after": 600, "count": 1}])
    first = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert first.returncode == 1 and "FAILED" in first.stdout
    waiting = _run(paths, "--server", server.base_url, "--token", TOKEN)
    assert waiting.returncode == 0 and "synced 0 case(s)" in waiting.stdout  # backoff
    forced = _run(paths, "--server", server.base_url, "--token", TOKEN, "--now")
    assert forced.returncode == 0 and "synced 1 case(s)" in forced.stdout


def test_until_done_keeps_going_through_a_refusal_and_says_what_it_did(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        make_ready_cases(store, sources, cases=2, images_per_case=1)
    server.set_faults([{"endpoint": "submit", "action": "status", "status": 503,
                        "retry_after": 1, "count": 1}])
    result = subprocess.run(
        [sys.executable, "-m", "kycdesk", "sync", "--until-done", "--deadline", "60",
         *signed_in_args(paths), "--server", server.base_url, "--token", TOKEN],
        capture_output=True, text=True, input=f"{TEST_PIN}\n", timeout=120, env=_env(),
        check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "synced 2 case(s), 2 photo(s)" in result.stdout
    assert server.state()["injected"]["submit:status"] == 1  # it did have to come back


def test_until_done_stops_at_its_deadline_when_the_server_is_unreachable(
        qapp: object, paths: DataPaths, sources: list[Path]) -> None:
    with LocalStore(paths, vault=vault_for(paths)) as store:
        make_ready_cases(store, sources, cases=1, images_per_case=1)
    result = subprocess.run(
        [sys.executable, "-m", "kycdesk", "sync", "--until-done", "--deadline", "2",
         *signed_in_args(paths), "--server", "http://127.0.0.1:9", "--token", TOKEN],
        capture_output=True, text=True, input=f"{TEST_PIN}\n", timeout=120, env=_env(),
        check=False)
    assert result.returncode == 4, result.stdout
    assert "could not be reached" in result.stdout


def _issue_code(server: ServerHandle) -> str:
    issued = subprocess.run([sys.executable, "-m", "kycdesk_server", "enrol-code",
                             "--data-dir", str(server.data_dir)], capture_output=True,
                            text=True, timeout=60, cwd=REPO_ROOT, check=True)
    return issued.stdout.strip()


def test_a_verifier_enrols_with_a_code_and_syncs_as_itself_with_the_kept_credential(
        qapp: object, paths: DataPaths, server: ServerHandle, sources: list[Path],
        tmp_path: Path) -> None:
    """`kycdesk enrol --user … --pin-stdin`: the verifier's store becomes a device of its
    own; the credential is kept sealed under their PIN (no --token needed afterwards),
    and its text is in no file of the data folder."""
    code = _issue_code(server)
    env = dict(_env(), XDG_CONFIG_HOME=str(tmp_path / "config"))
    enrol = [sys.executable, "-m", "kycdesk", "enrol", *signed_in_args(paths),
             "--server", server.base_url, "--code", code, "--name", "tablet 3"]
    enrolled = subprocess.run(enrol, capture_output=True, text=True, timeout=60, env=env,
                              input=f"{TEST_PIN}\n", check=False)
    assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
    device_id = enrolled.stdout.split(" is enrolled as ", 1)[1].split(";")[0]
    with LocalStore(paths, vault=vault_for(paths)) as store:
        ids = make_ready_cases(store, sources, cases=1, images_per_case=1)
    result = _run(paths, "--server", server.base_url, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    revisions = subprocess.run([sys.executable, "-m", "kycdesk_server", "revisions",
                                "--data-dir", str(server.data_dir), ids[0]],
                               capture_output=True, text=True, timeout=60, cwd=REPO_ROOT,
                               check=True)
    assert f"device {device_id}" in revisions.stdout  # the server's idea of who sent it
    tablet = resolve_tablet(paths.root.parent.parent)
    registry = Registry.open(tablet)
    kept = registry.credential(registry.sign_in(paths.root.name, TEST_PIN))
    assert kept is not None and kept.startswith("kyd_")
    again = subprocess.run(enrol, capture_output=True, text=True, timeout=60, env=env,
                           input=f"{TEST_PIN}\n", check=False)
    assert again.returncode == ExitCode.AUTH and "Not enrolled" in again.stdout
    assert "already used" in again.stdout or "expired" in again.stdout
    # The credential (and its base64) is in no file of the data folder, in clear.
    import base64

    needles = [kept.encode(), base64.b64encode(kept.encode()), kept[4:20].encode()]
    for path in tablet.root.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert not any(needle in raw for needle in needles), path


def test_settings_enrol_the_device_with_a_code(qtbot: QtBot, server: ServerHandle,
                                               tmp_path: Path) -> None:
    from kycdesk.app import enrol_with_code
    from kycdesk.core.protocol import Health
    from kycdesk.settings import Settings
    from kycdesk.views.settings_dialog import SettingsDialog

    def unused(_url: str, _token: str, _ca: str | None) -> Health:
        raise AssertionError("not called")

    settings = Settings(tmp_path / "s.ini")
    dialog = SettingsDialog(settings, unused, enrol=enrol_with_code)
    qtbot.addWidget(dialog)
    saved: list[tuple[str, str, str]] = []
    dialog.saved.connect(lambda *args: saved.append(args))
    dialog.url.setText(server.base_url)
    dialog.code.setText("WRONG-CODE-1234")
    dialog.save()  # a background task: the dialog answers when the server has
    assert not dialog.isEnabled()  # (nothing typed into it meanwhile)
    qtbot.waitUntil(lambda: "Not enrolled" in dialog.result_label.text())
    assert saved == [] and dialog.isEnabled()
    dialog.code.setText(_issue_code(server))
    dialog.save()
    qtbot.waitUntil(lambda: len(saved) == 1)
    assert saved[0][1].startswith("kyd_")
    assert dialog.code.text() == ""  # a used code is not left in the form
    health = httpx.get(f"{server.base_url}/v1/health",
                       headers={"Authorization": f"Bearer {saved[0][1]}"})
    assert health.status_code == 200
