"""The per-user Windows installer (installer/kycdesk.nsi), compiled here with NSIS's real
makensis over a small bundle-shaped folder (and over the real bundle when CI built one:
KYCDESK_BUNDLE_DIR), then opened with 7-Zip to read what it would install. The Windows
workflow installs and uninstalls it for real on a Windows runner (.github/workflows)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.build_installer import (
    InstallerError,
    InstallerInputs,
    build,
    choose_version,
    four_part,
    makensis_command,
    source_version,
)


def fake_bundle(folder: Path, exe: str = "kycdesk.exe") -> Path:
    bundle = folder / "kycdesk"
    (bundle / "_internal" / "PySide6").mkdir(parents=True)
    (bundle / exe).write_bytes(b"MZ not really an exe")
    (bundle / "_internal" / "python311.dll").write_bytes(b"dll")
    (bundle / "_internal" / "PySide6" / "Qt6Core.dll").write_bytes(b"qt")
    return bundle


def seven_zip() -> str:
    found = shutil.which("7zz") or shutil.which("7z")
    assert found, "7-Zip is not installed (Debian: apt-get install 7zip; dev.py test does)"
    return found


def contents(installer: Path) -> set[str]:
    """The paths the installer would write, as 7-Zip reads them out of the NSIS archive."""
    listed = subprocess.run([seven_zip(), "l", "-slt", str(installer)], capture_output=True,
                            text=True, check=True).stdout
    return {line.removeprefix("Path = ").replace("\\", "/") for line in listed.splitlines()
            if line.startswith("Path = ") and line != f"Path = {installer}"}


def is_pe(path: Path) -> bool:
    data = path.read_bytes()
    if data[:2] != b"MZ":
        return False
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return data[offset:offset + 4] == b"PE\0\0"


def test_installer_lays_out_launcher_versions_and_update_folder(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    (tmp_path / "kycdesk-launcher.exe").write_bytes(b"launcher")  # beside the bundle
    root = tmp_path / "1.root.json"
    root.write_text('{"signed": {}}', encoding="utf-8")
    out = build(InstallerInputs(bundle=bundle, out=tmp_path / "out" / "kycdesk-setup.exe",
                                version="1.4.0", launcher=tmp_path / "kycdesk-launcher.exe",
                                root_json=root, update_url="https://updates.example/kycdesk/",
                                compress=False))
    assert is_pe(out)
    files = contents(out)
    assert {"versions/1.4.0/kycdesk.exe", "versions/1.4.0/_internal/python311.dll",
            "versions/1.4.0/_internal/PySide6/Qt6Core.dll", "kycdesk-launcher.exe",
            "update/metadata/root.json", "uninstall.exe"} <= files
    # Nothing outside the install folder but NSIS's own plug-ins (the data is the user's).
    assert all(not name.startswith("$") or name.startswith("$PLUGINSDIR/") for name in files)


def test_plain_bundle_without_launcher_installs_only_the_version(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path, exe="kycdesk")  # Linux CI's bundle: no .exe suffix
    out = build(InstallerInputs(bundle=bundle, out=tmp_path / "kycdesk-setup.exe",
                                version="0.1.0", compress=True))
    assert is_pe(out)
    files = contents(out)
    assert "versions/0.1.0/kycdesk" in files
    assert not any(name.startswith(("update/", "kycdesk-launcher")) for name in files)


def test_sign_command_signs_the_uninstaller_and_then_the_installer(tmp_path: Path) -> None:
    log = tmp_path / "signed.txt"
    signer = tmp_path / "sign.py"
    signer.write_text("import sys, pathlib\n"
                      f"with pathlib.Path({str(log)!r}).open('a') as f:\n"
                      "    f.write(sys.argv[1] + '\\n')\n", encoding="utf-8")
    out = build(InstallerInputs(bundle=fake_bundle(tmp_path), out=tmp_path / "setup-1.exe",
                                version="1.0", compress=False,
                                sign_command=f'"{sys.executable}" "{signer}" "%1"'))
    signed = log.read_text(encoding="utf-8").splitlines()
    assert len(signed) == 2  # the uninstaller (a temporary file), then the installer
    assert Path(signed[1]).resolve() == out.resolve()
    assert Path(signed[0]).resolve() != out.resolve()


def test_a_folder_that_is_not_a_bundle_is_refused_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "kycdesk").mkdir()
    with pytest.raises(InstallerError, match="not a one-dir bundle"):
        makensis_command(InstallerInputs(bundle=tmp_path / "kycdesk",
                                         out=tmp_path / "x.exe", version="1.0"))
    bundle = fake_bundle(tmp_path / "b")
    with pytest.raises(InstallerError, match="%1"):
        makensis_command(InstallerInputs(bundle=bundle, out=tmp_path / "x.exe",
                                         version="1.0", sign_command="signtool sign"))
    for version in ('1.0" & del', "1.2.rc1", "9/../.."):  # the launcher takes numbers only
        with pytest.raises(InstallerError, match="version"):
            makensis_command(InstallerInputs(bundle=bundle, out=tmp_path / "x.exe",
                                             version=version))
    with pytest.raises(InstallerError, match="https"):
        makensis_command(InstallerInputs(bundle=bundle, out=tmp_path / "x.exe",
                                         version="1.0", update_url="http://plain.example/"))


def test_the_script_refuses_to_compile_without_its_defines(tmp_path: Path) -> None:
    """Compiled by hand without the tool, the script stops and says how."""
    makensis = shutil.which("makensis")
    assert makensis, "NSIS is not installed (Debian: apt-get install nsis; dev.py test does)"
    script = Path(__file__).resolve().parents[1] / "installer" / "kycdesk.nsi"
    done = subprocess.run([makensis, "-DVERSION=1", str(script)], capture_output=True,
                          text=True, check=False, cwd=tmp_path)
    assert done.returncode != 0
    assert "tools/build_installer.py" in done.stdout + done.stderr


def test_windows_version_fields_have_four_numbers() -> None:
    assert four_part("1.4.0") == "1.4.0.0"
    assert four_part("2.0rc1") == "2.0.0.0"
    assert four_part("1.2.3.4.5+local") == "1.2.3.4"
    assert four_part("3") == "3.0.0.0"
    assert four_part(source_version()).count(".") == 3


def test_installer_over_the_built_bundle(tmp_path: Path) -> None:
    """CI's real bundle (`dev.py bundle`, exported as KYCDESK_BUNDLE_DIR): every file of it
    lands under versions/<version>/ (stored uncompressed: a few seconds)."""
    given = os.environ.get("KYCDESK_BUNDLE_DIR")
    assert given or not os.environ.get("CI"), \
        "CI must export KYCDESK_BUNDLE_DIR after `dev.py bundle` (.ci/run does)"
    if not given:
        pytest.skip("KYCDESK_BUNDLE_DIR is not set (CI sets it after `dev.py bundle`); the "
                    "fake-bundle tests above still compile the script")
    bundle = Path(given)
    out = build(InstallerInputs(bundle=bundle, out=tmp_path / "kycdesk-setup.exe",
                                version="9.9.9", compress=False))
    assert is_pe(out)
    files = contents(out)
    expected = {f"versions/9.9.9/{p.relative_to(bundle).as_posix()}"
                for p in bundle.rglob("*") if p.is_file()}
    assert expected <= files


def test_the_version_comes_from_the_bundle_stamp_and_must_agree(tmp_path: Path) -> None:
    bundle = fake_bundle(tmp_path)
    assert choose_version(bundle, None) == source_version()  # no stamp: the source's
    (bundle / "kycdesk-release.json").write_text('{"version": "2.3.0"}', encoding="utf-8")
    assert choose_version(bundle, None) == "2.3.0"
    assert choose_version(bundle, "2.3.0") == "2.3.0"
    with pytest.raises(InstallerError, match=r"stamped 2\.3\.0"):
        choose_version(bundle, "2.4.0")
    (bundle / "kycdesk-release.json").write_text("[]", encoding="utf-8")
    with pytest.raises(InstallerError, match="not a release stamp"):
        choose_version(bundle, None)
