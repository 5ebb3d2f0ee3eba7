"""Licences: the policy on what may ship, the notices made from the real installed
distributions (every one with its licence text, Qt's LGPL offer), the CycloneDX SBOM
checked by CycloneDX's own validator, `kycdesk --licenses`, and — when CI hands over a
built bundle (KYCDESK_BUNDLE_DIR) — the notices inside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from kycdesk.notices import (
    NOTICES_FILE,
    NOTICES_FOLDER,
    installed_notices,
    project_requirements,
)
from kycdesk.notices.packages import normalise, read_package, requirement_closure
from kycdesk.notices.policy import Verdict, chosen, judge
from kycdesk.notices.render import render_sbom, render_text

REPO = Path(__file__).resolve().parents[1]
# What the bundle carries beyond the app's requirements: PyInstaller's bootloader and
# its runtime hooks (tools/notices.py BUILD_TOOLS).
BUILD_TOOLS = ["pyinstaller", "pyinstaller-hooks-contrib"]


@pytest.mark.parametrize(("expression", "verdict"), [
    ("MIT", Verdict.ALLOWED),
    ("Apache-2.0 OR BSD-3-Clause", Verdict.ALLOWED),
    ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", Verdict.ALLOWED),
    ("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only", Verdict.ALLOWED),  # Qt: LGPL taken
    ("LGPL-2.1-or-later", Verdict.ALLOWED),
    ("GPL-2.0-or-later WITH Bootloader-exception", Verdict.ALLOWED),  # PyInstaller
    ("GPL-3.0-or-later WITH GCC-exception-3.1", Verdict.ALLOWED),     # libgfortran
    ("GPL-3.0-only", Verdict.COPYLEFT),
    ("GPL-2.0-or-later", Verdict.COPYLEFT),
    ("AGPL-3.0-only", Verdict.COPYLEFT),
    ("MIT AND GPL-3.0-only", Verdict.COPYLEFT),
    ("(MIT OR GPL-3.0-only) AND AGPL-3.0-or-later", Verdict.COPYLEFT),
    ("GPL-3.0-only WITH Some-made-up-exception", Verdict.COPYLEFT),
    ("MIT OR AGPL-3.0-only", Verdict.ALLOWED),
    (None, Verdict.UNKNOWN),
    ("", Verdict.UNKNOWN),
    ("UNKNOWN", Verdict.UNKNOWN),
    ("LicenseRef-Proprietary", Verdict.UNKNOWN),
    ("BSD License", Verdict.UNKNOWN),                 # a classifier's words, no SPDX id
    ("MIT AND (Apache-2.0", Verdict.UNKNOWN),         # broken expression
    ("GPLv2-or-later with a special exception", Verdict.UNKNOWN),
])
def test_the_policy_on_licence_expressions(expression: str | None, verdict: Verdict) -> None:
    assert judge(expression).verdict is verdict, judge(expression).reason


def test_kycdesk_s_own_licence_is_declared_in_pyproject_and_shipped() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"  # PEP 639: an SPDX expression
    assert project["license-files"] == ["LICENSE"]
    assert judge(project["license"]).verdict is Verdict.ALLOWED
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "Apache License 2.0" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_notices_name_the_alternative_taken() -> None:
    assert chosen("LGPL-3.0-only OR GPL-2.0-only OR GPL-3.0-only") == "LGPL-3.0-only"
    assert chosen("Apache-2.0 OR BSD-3-Clause") == "Apache-2.0"
    assert chosen("MIT") == "MIT"


def _bundle_packages() -> list[str]:
    app = requirement_closure(project_requirements())
    return [name for name in app if normalise(name) != "kycdesk"] + BUILD_TOOLS


def test_every_package_the_bundle_carries_has_an_allowed_licence_and_its_text() -> None:
    """The installed distributions of the app's requirements (with the bundled document
    reader) and PyInstaller's bootloader: each needs a licence we can name that is not
    GPL/AGPL, and a licence text to ship. Adding a GPL dependency fails here."""
    names = _bundle_packages()
    assert {"PySide6-Essentials", "numpy", "cryptography", "pillow"} <= \
        {read_package(name).name.replace("_", "-") for name in names} | set(names)
    refused = []
    for name in names:
        package = read_package(name)
        if package.judgement.verdict is not Verdict.ALLOWED:
            refused.append(f"{package.name} {package.version}: {package.judgement.reason} "
                           f"({package.expression})")
    assert refused == []


def _fake_distribution(site: Path, name: str, fields: dict[str, str],
                       licence: str | None) -> None:
    """A real installed distribution's metadata on disk (a .dist-info folder)."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", "Version: 1.0"]
    lines += [f"{key}: {value}" for key, value in fields.items()]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = [f"{info.name}/METADATA,,"]
    if licence is not None:
        (info / "licenses").mkdir()
        (info / "licenses" / "LICENSE").write_text(licence, encoding="utf-8")
        record.append(f"{info.name}/licenses/LICENSE,,")
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")


@pytest.mark.parametrize(("fields", "licence", "verdict", "reason"), [
    ({"License-Expression": "GPL-3.0-only"}, "GNU GPL v3 text", Verdict.COPYLEFT, "GPL"),
    ({"License-Expression": "AGPL-3.0-or-later"}, "AGPL text", Verdict.COPYLEFT, "GPL"),
    ({}, "some licence", Verdict.UNKNOWN, "no licence declared"),
    ({"License": "Free for non-commercial use"}, "text", Verdict.UNKNOWN, "no licence"),
    ({"License-Expression": "MIT"}, None, Verdict.UNKNOWN, "no licence text"),
    ({"License-Expression": "MIT"}, "Permission is hereby granted", Verdict.ALLOWED,
     "allowed"),
    ({"License": "MIT"}, "Permission is hereby granted", Verdict.ALLOWED, "allowed"),
])
def test_an_installed_package_is_judged_from_its_own_metadata(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fields: dict[str, str],
        licence: str | None, verdict: Verdict, reason: str) -> None:
    _fake_distribution(tmp_path, "bundled_thing", fields, licence)
    monkeypatch.syspath_prepend(str(tmp_path))
    package = read_package("bundled_thing")
    assert package.judgement.verdict is verdict
    assert reason in package.judgement.reason


def test_the_notices_carry_every_package_its_texts_and_the_qt_offer() -> None:
    notices = installed_notices()
    text = render_text(notices)
    for package in notices.third_party():
        assert f"{package.name} {package.version}" in text
        for licence in package.texts:  # printed once, referred to when repeated
            assert licence.text.strip()[:200] in text
    assert "Written offer" in text and "GNU LESSER GENERAL PUBLIC LICENSE" in text
    qt = read_package("PySide6-Essentials").version
    assert f"https://download.qt.io/official_releases/qt/{qt.rsplit('.', 1)[0]}/{qt}/" in text
    assert "one-dir" in text and "libQt6*.so.6" in text and "Qt6*.dll" in text
    assert "PSF-2.0" in text                         # the Python runtime
    assert text.rstrip().endswith((REPO / "LICENSE").read_text().rstrip()[-200:])


def test_the_sbom_passes_cyclonedx_s_own_schema_validation() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    validator = JsonStrictValidator(SchemaVersion.V1_6)
    notices = installed_notices()
    sbom = render_sbom(notices)
    assert validator.validate_str(sbom) is None
    bom = json.loads(sbom)
    purls = {component.get("purl") for component in bom["components"]}
    assert f"pkg:pypi/numpy@{read_package('numpy').version}" in purls
    assert bom["metadata"]["component"]["licenses"] == [{"expression": "Apache-2.0"}]
    assert sbom == render_sbom(notices, _stamp(bom)), "the same content, the same SBOM"
    broken = dict(bom, specVersion="1.6", components=[{"name": "no type"}])
    assert validator.validate_str(json.dumps(broken)) is not None  # the validator bites


def _stamp(bom: dict[str, object]) -> datetime:
    metadata = bom["metadata"]
    assert isinstance(metadata, dict)
    return datetime.fromisoformat(str(metadata["timestamp"]).replace("Z", "+00:00"))


def test_the_command_line_prints_the_licences(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO), KYCDESK_DATA_DIR=str(tmp_path / "data"))
    shown = subprocess.run([sys.executable, "-m", "kycdesk", "--licenses"], env=env,
                           capture_output=True, timeout=120, check=False, cwd=REPO)
    assert shown.returncode == 0, shown.stderr.decode()[-2000:]
    text = shown.stdout.decode("utf-8")
    assert text.startswith("kycdesk ") and "Written offer" in text
    assert "PySide6" in text and "numpy" in text


def test_a_bundle_without_its_notices_says_so(tmp_path: Path) -> None:
    """A frozen kycdesk reads the notices beside its executable; without them it says
    what is missing (it does not make them up from whatever is installed)."""
    script = ("import sys; sys.frozen = True; sys.executable = sys.argv[1]\n"
              "from kycdesk.cli import main; raise SystemExit(main(['--licenses']))")
    env = dict(os.environ, PYTHONPATH=str(REPO), KYCDESK_DATA_DIR=str(tmp_path / "data"))
    exe = tmp_path / "kycdesk"
    missing = subprocess.run([sys.executable, "-c", script, str(exe)], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == 1
    assert "licence notices are missing" in missing.stderr
    (tmp_path / NOTICES_FOLDER).mkdir()
    (tmp_path / NOTICES_FOLDER / NOTICES_FILE).write_text("the bundle's own notices\n")
    present = subprocess.run([sys.executable, "-c", script, str(exe)], env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert (present.returncode, present.stdout) == (0, "the bundle's own notices\n")


BUNDLE = os.environ.get("KYCDESK_BUNDLE_DIR")


@pytest.mark.skipif(not BUNDLE, reason="no built bundle handed over (KYCDESK_BUNDLE_DIR)")
def test_the_built_bundle_carries_notices_for_everything_inside_it() -> None:
    """The SBOM and notices written at build time (by the bundle's own venv) name every
    distribution whose code is in the bundle, each under an allowed licence."""
    from tools import notices

    bundle = Path(str(BUNDLE))
    bom = json.loads(notices.sbom_path(bundle).read_text(encoding="utf-8"))
    shipped = (bundle / NOTICES_FOLDER / NOTICES_FILE).read_text(encoding="utf-8")
    listed = {normalise(str(c["name"])): c for c in bom["components"]}
    inside, orphans = notices.bundled_distributions(bundle)
    assert orphans == []
    assert {normalise(name) for name in inside} <= set(listed)
    for name in inside:
        component = listed[normalise(name)]
        expression = component["licenses"][0]["expression"]
        assert judge(expression).verdict is Verdict.ALLOWED, (name, expression)
        assert f"{component['name']} {component['version']}" in shipped


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs a Debian-like build host")
def test_system_libraries_are_traced_to_their_debian_package(tmp_path: Path) -> None:
    """A library the bundler copied from the OS is listed with its Debian package and that
    package's copyright file; the interpreter's library counts as the Python runtime; a
    file no package owns is reported, not passed over."""
    from tools import notices

    internal = tmp_path / "kycdesk" / "_internal"
    internal.mkdir(parents=True)
    zlib = next(Path(p) for p in ("/lib/x86_64-linux-gnu/libz.so.1",
                                  "/usr/lib/x86_64-linux-gnu/libz.so.1",
                                  "/lib/aarch64-linux-gnu/libz.so.1") if Path(p).exists())
    shutil.copyfile(zlib, internal / "libz.so.1")
    (internal / "libpython3.11.so.1.0").write_bytes(b"\x7fELF")
    (internal / "libnobody-owns-this.so.3").write_bytes(b"\x7fELF")
    (internal / "numpy").mkdir()
    (internal / "libQt6Core.so.6").symlink_to("numpy")  # a wheel's library: a link
    (internal / "_cffi_backend.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    libraries = {library.files: library
                 for library in notices.system_libraries(tmp_path / "kycdesk")}
    assert set(libraries) == {("libz.so.1",), ("libpython3.11.so.1.0",),
                              ("libnobody-owns-this.so.3",)}
    assert libraries[("libz.so.1",)].package == "zlib1g"
    assert "zlib" in (libraries[("libz.so.1",)].copyright or "").lower()
    assert libraries[("libpython3.11.so.1.0",)].origin == notices.RUNTIME_ORIGIN
    assert libraries[("libnobody-owns-this.so.3",)].package is None
    assert notices.folder_top_names(tmp_path / "kycdesk") == {"numpy", "_cffi_backend"}


def test_windows_runtime_libraries_are_named_and_strangers_reported(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where no Debian package database exists (a Windows build), the DLLs that come with
    Python and Microsoft's C runtime are named; anything else is reported for a person."""
    from tools import notices

    internal = tmp_path / "kycdesk" / "_internal"
    internal.mkdir(parents=True)
    for name in ("python311.dll", "VCRUNTIME140.dll", "VCRUNTIME140_1.dll",
                 "libcrypto-3.dll", "libssl-3.dll", "libffi-8.dll", "_ssl.pyd",
                 "mystery.dll"):
        (internal / name).write_bytes(b"MZ")
    monkeypatch.setattr(shutil, "which", lambda _name: None)  # the module notices uses
    libraries = {library.files[0]: library
                 for library in notices.system_libraries(tmp_path / "kycdesk")}
    assert "_ssl.pyd" not in libraries  # an extension module of the standard library
    assert libraries["python311.dll"].origin == notices.RUNTIME_ORIGIN
    assert "OpenSSL" in libraries["libcrypto-3.dll"].origin
    assert "Visual C++" in libraries["VCRUNTIME140_1.dll"].origin
    assert libraries["mystery.dll"].origin == "not identified"
