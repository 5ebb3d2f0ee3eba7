"""The command line: demo data, version, and the process-level contract."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kycdesk import __version__
from kycdesk.cli import main as cli_main
from kycdesk.core.states import CaseStatus
from kycdesk.paths import DataPaths
from kycdesk.persistence.store import LocalStore
from tests.tablets import SignedTablet, make_tablet, pin_on_stdin, vault_for


@pytest.fixture
def tablet(tmp_path: Path) -> SignedTablet:
    return make_tablet(tmp_path / "data")


@pytest.fixture
def paths(tablet: SignedTablet) -> DataPaths:
    """The signed-in verifier's store: the one the commands below open."""
    return tablet.paths


def test_demo_data_creates_realistic_cases_with_photos(
        qapp: object, paths: DataPaths, tablet: SignedTablet, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    pin_on_stdin(monkeypatch)
    code = cli_main(["demo-data", *tablet.cli_args(), "--cases", "10",
                     "--images-per-case", "2", "--status", "mixed", "--image-size", "320x240"])
    assert code == 0
    assert "created 10 cases with 20 photos" in capsys.readouterr().out
    with LocalStore(paths, vault=vault_for(paths)) as store:
        cases = store.list_cases(limit=50)
        assert len(cases) == 10
        assert {c.status for c in cases} == {s.value for s in CaseStatus}
        assert all(c.reference_number and c.reference_number.startswith("KYC-")
                   for c in cases)
        first = store.load_case(cases[0].id)
        assert first.form["applicant.first_name"]
        images = store.list_images(cases[0].id)
        assert len(images) == 2 and all(i.width == 320 for i in images)
        assert store.check().has_problems is False
    pin_on_stdin(monkeypatch)
    assert cli_main(["doctor", *tablet.cli_args()]) == 0


def test_demo_data_fills_the_newest_form_completely_with_a_signature(
        qapp: object, paths: DataPaths, tablet: SignedTablet, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Demo cases are what a verifier would submit today: the newest form version, every
    required answer, the applicant's signature (strokes + the PNG its digest names)."""
    import base64
    import hashlib

    from kycdesk.core.signature import signature_problem
    from kycdesk.core.validation import validate_form
    from kycdesk.models.form_registry import FormRegistry

    newest = FormRegistry.load().latest("individual_kyc")
    pin_on_stdin(monkeypatch)
    assert cli_main(["demo-data", *tablet.cli_args(), "--cases", "12",
                     "--images-per-case", "5", "--status", "mixed",
                     "--image-size", "320x240"]) == 0
    capsys.readouterr()
    with LocalStore(paths, vault=vault_for(paths)) as store:
        for listed in store.list_cases(limit=50):
            case = store.load_case(listed.id)
            assert (case.form_id, case.form_version) == ("individual_kyc", newest.version)
            counts: dict[str, int] = {}
            for image in store.list_images(case.id):
                counts[image.slot or ""] = counts.get(image.slot or "", 0) + 1
            assert validate_form(newest, case.form, counts) == {}
            signature = case.form["declarations.applicant_signature"]
            assert signature_problem(signature) is None
            png = base64.b64decode(signature["png"])
            assert png.startswith(b"\x89PNG")
            assert hashlib.sha256(png).hexdigest() == signature["png_sha256"]


def test_demo_data_with_bad_size_says_so(qapp: object, tablet: SignedTablet,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    pin_on_stdin(monkeypatch)
    assert cli_main(["demo-data", *tablet.cli_args(), "--image-size", "big"]) == 1
    assert "--image-size" in capsys.readouterr().out


def test_console_entry_point_runs_as_a_process(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kycdesk", "--version", "--data-dir",
                             str(tmp_path)], capture_output=True, text=True, check=True,
                            timeout=60)
    assert result.stdout.splitlines()[0] == f"kycdesk {__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "kycdesk", "doctor", "--data-dir", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "no kycdesk database" in result.stdout


def test_version_names_forms_qt_python_and_data_dir(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kycdesk", "--version", "--data-dir",
                             str(tmp_path)], capture_output=True, text=True, check=True,
                            timeout=60)
    lines = result.stdout.splitlines()
    assert lines[0] == f"kycdesk {__version__}"
    assert "individual_kyc v1/2" in result.stdout
    assert "Qt 6." in result.stdout and "Python 3." in result.stdout
    assert f"data folder: {tmp_path.resolve()}" in result.stdout


def test_self_test_passes_from_source(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "kycdesk", "--self-test"],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "KYCDESK_DATA_DIR": str(tmp_path),
                                 "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stdout + result.stderr
    checks = [ln for ln in result.stdout.splitlines() if ln.startswith(("ok", "FAIL"))]
    assert len(checks) == 12 and all(ln.startswith("ok") for ln in checks)
    assert "ok    locale text: collation and locale-aware case mapping (Turkish i → İ)" in checks
    assert any(ln.startswith("ok    numpy and ID document reader: numpy ")
               and "zxing-cpp loaded" in ln for ln in checks)
    assert any(ln.startswith("ok    place names:") for ln in checks)
    assert "ok    touch keyboard: none used on this platform (Windows only)" in checks \
        or sys.platform == "win32"
    # The camera: its plugin loads where PySide6-Addons is installed (the bundle extra);
    # without it the check says so and passes (photos come from files).
    [camera] = [ln for ln in checks if ln.startswith("ok    camera: ")]
    if importlib.util.find_spec("PySide6.QtMultimedia") is None:
        assert "camera support not installed" in camera
    else:
        assert "multimedia plugin loaded" in camera and "cameras: " in camera
    assert result.stdout.rstrip().endswith("self-test passed")


def test_startup_check_opens_the_window_and_exits(tmp_path: Path) -> None:
    """Nobody signed in: the check stops at the sign-in screen. With --user and the PIN
    on stdin it signs in (argon2 on the sign-in lane) and stops once the store is open."""
    def kycdesk(*args: str, pin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kycdesk", *args,
                               "--data-dir", str(tmp_path)], input=pin, capture_output=True,
                              text=True, timeout=120, check=False,
                              env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})

    result = kycdesk("--startup-check")
    assert result.returncode == 0, result.stderr
    assert "startup-check: sign-in shown, 0 verifier(s)" in result.stdout
    assert kycdesk("user", "add", "Ana", "--pin-stdin",
                   pin="blue kettle on the train\n").returncode == 0
    result = kycdesk("--startup-check", "--user", "Ana", "--pin-stdin",
                     pin="blue kettle on the train\n")
    assert result.returncode == 0, result.stderr
    assert "startup-check: window shown, store open, 0 case(s) listed" in result.stdout
    # ... and it waits for the rest of startup (forms, sync, network), then says how
    # long the GUI thread was kept from answering at worst meanwhile.
    finished = [line for line in result.stdout.splitlines()
                if line.startswith("startup-check: rows painted at +")]
    assert len(finished) == 1 and "startup finished at +" in finished[0], result.stdout
    assert re.search(r"longest GUI stall \d+ ms", finished[0])


def test_every_command_line_option_says_what_it_does() -> None:
    import argparse

    from kycdesk.cli import build_parser

    def undocumented(parser: argparse.ArgumentParser, name: str) -> list[str]:
        missing = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    missing += undocumented(sub, f"{name} {sub_name}")
            elif not action.help and action.dest != "help":
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
        return missing

    assert undocumented(build_parser(), "kycdesk") == []
    from kycdesk_server import cli as server_cli

    server_parser = server_cli.build_parser()
    assert undocumented(server_parser, "kycdesk-server") == []


def test_missing_x11_libraries_are_named_with_their_packages(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes.util

    from kycdesk import platform_check

    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr("kycdesk.platform_check.sys.platform", "linux")
    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library",
                        lambda name: None if name in ("xcb-cursor", "xcb-icccm") else real(name))
    missing = platform_check.missing_packages()
    assert {"libxcb-cursor0", "libxcb-icccm4"} <= set(missing)
    assert "sudo apt-get install libxcb-cursor0" in platform_check.explain(missing)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # no X11 needed: nothing to say
    assert platform_check.missing_packages() == []
