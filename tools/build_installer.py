"""Compile the per-user Windows installer (installer/kycdesk.nsi) over a built bundle.

    python tools/build_installer.py --bundle dist/kycdesk --out dist/kycdesk-setup.exe
        [--version V] [--launcher dist/kycdesk-launcher.exe] [--root-json 1.root.json]
        [--update-url URL] [--no-compress] [--sign-command 'signtool sign ... "%1"']

`--bundle` is PyInstaller's one-dir folder (`kycdesk.exe` or, for Linux CI's layout check,
`kycdesk`, beside `_internal/`). The launcher is taken from `--launcher`, else from
`kycdesk-launcher(.exe)` beside or inside the bundle folder; without one the installer's
Start-menu entry starts the bundle's exe (docs/deploy-windows.md). The version defaults to
the bundle's release stamp (`kycdesk-release.json`), else the one kycdesk/__init__.py
states.

Needs NSIS's `makensis` 3.08+ (Debian/Ubuntu: `apt-get install nsis`, which
`dev.py test` does as root; Windows: the NSIS installer or `choco install nsis`).
Exit code 0 and the installer's path on success; 1 with the reason otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "installer" / "kycdesk.nsi"
LAUNCHER_NAMES = ("kycdesk-launcher.exe", "kycdesk-launcher")
APP_NAMES = ("kycdesk.exe", "kycdesk")
RELEASE_STAMP = "kycdesk-release.json"


class InstallerError(Exception):
    """A reason the installer cannot be built, said to the person building it."""


@dataclass(frozen=True)
class InstallerInputs:
    bundle: Path
    out: Path
    version: str
    launcher: Path | None = None
    root_json: Path | None = None
    update_url: str | None = None
    compress: bool = True
    sign_command: str | None = None


def source_version() -> str:
    """kycdesk's version as the source states it (read, not imported: this tool runs with
    any Python, outside the venv that has kycdesk installed)."""
    text = (ROOT / "kycdesk" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise InstallerError("kycdesk/__init__.py states no __version__")
    return found.group(1)


def stamped_version(bundle: Path) -> str | None:
    """The release stamp a bundle carries (`kycdesk-release.json`, docs/updates.md), if any."""
    stamp = bundle / RELEASE_STAMP
    if not stamp.is_file():
        return None
    try:
        version = json.loads(stamp.read_text(encoding="utf-8"))["version"]
    except (ValueError, KeyError, TypeError) as error:
        raise InstallerError(f"{stamp} is not a release stamp ({error})") from error
    if not isinstance(version, str):
        raise InstallerError(f"{stamp}: the version is not a string")
    return version


def choose_version(bundle: Path, given: str | None) -> str:
    """--version, else the bundle's stamp, else the source's; a --version that contradicts
    the bundle's own stamp is refused (the installed folder and the stamp would disagree,
    and the updater compares with the stamp)."""
    stamped = stamped_version(bundle)
    if given is not None and stamped is not None and given != stamped:
        raise InstallerError(f"--version {given} but the bundle is stamped {stamped} "
                             f"({RELEASE_STAMP})")
    return given or stamped or source_version()


def find_makensis() -> str:
    found = shutil.which("makensis")
    if found:
        return found
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES")):
        if base and (candidate := Path(base) / "NSIS" / "makensis.exe").is_file():
            return str(candidate)
    raise InstallerError("makensis (NSIS) is not installed: Debian/Ubuntu `apt-get install "
                         "nsis`, Windows `choco install nsis` or nsis.sourceforge.io")


def app_exe(bundle: Path) -> str:
    """The bundle's executable: refuse a folder that is not a PyInstaller one-dir bundle
    (an installer of the wrong folder would install and then fail to start)."""
    if not (bundle / "_internal").is_dir():
        raise InstallerError(f"{bundle} is not a one-dir bundle (no _internal folder): "
                             "build it with `python dev.py bundle` first")
    for name in APP_NAMES:
        if (bundle / name).is_file():
            return name
    raise InstallerError(f"{bundle} has no kycdesk executable (kycdesk.exe or kycdesk)")


def find_launcher(bundle: Path) -> Path | None:
    for folder in (bundle.parent, bundle):
        for name in LAUNCHER_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def four_part(version: str) -> str:
    """Windows' file-version field takes exactly four numbers: 1.4.0rc2 → 1.4.0.0,
    2.1 → 2.1.0.0."""
    release = re.match(r"\d+(\.\d+)*", version)  # the release segment (PEP 440)
    if release is None:
        raise InstallerError(f"version {version!r} does not start with a number")
    numbers = [int(n) for n in release.group(0).split(".")[:4]]
    numbers += [0] * (4 - len(numbers))
    return ".".join(str(min(n, 65535)) for n in numbers)


def check_version(version: str) -> str:
    # It becomes a folder name and goes into the NSIS script's strings, and the launcher
    # and updater accept only numbers (kycdesk.update.pointer.valid_version: a version
    # they refuse would make the installed pointer unreadable).
    if not re.fullmatch(r"\d+(\.\d+){0,3}", version):
        raise InstallerError(f"version {version!r}: use 1 to 4 numbers with dots, "
                             "e.g. 1.4.0")
    return version


def makensis_command(inputs: InstallerInputs) -> list[str]:
    exe = app_exe(inputs.bundle)
    defines = {
        "VERSION": check_version(inputs.version),
        "VI_VERSION": four_part(inputs.version),
        "BUNDLE_DIR": str(inputs.bundle.resolve()),
        "APP_EXE": exe,
        "OUTFILE": str(inputs.out.resolve()),
    }
    if inputs.launcher is not None:
        defines["LAUNCHER"] = str(inputs.launcher.resolve())
    if inputs.root_json is not None:
        defines["ROOT_JSON"] = str(inputs.root_json.resolve())
    if inputs.update_url is not None:
        if not re.fullmatch(r"https://[^\s\"'$`]+", inputs.update_url):
            raise InstallerError(f"update address {inputs.update_url!r}: an https:// URL "
                                 "without quotes, spaces or $")
        defines["UPDATE_URL"] = inputs.update_url
    if not inputs.compress:
        defines["NO_COMPRESS"] = "1"
    if inputs.sign_command is not None:
        if "%1" not in inputs.sign_command:
            raise InstallerError("--sign-command must contain %1 (the file to sign)")
        if "`" in inputs.sign_command:  # the script quotes it with backticks
            raise InstallerError("--sign-command cannot contain a backtick")
        defines["SIGN_COMMAND"] = inputs.sign_command
    # -INPUTCHARSET: the script is UTF-8 on every OS; -V2: warnings and errors only;
    # -WX: a warning (an unused define, a missing file) fails the build.
    return [find_makensis(), "-INPUTCHARSET", "UTF8", "-V2", "-WX",
            *(f"-D{name}={value}" for name, value in defines.items()), str(SCRIPT)]


def build(inputs: InstallerInputs) -> Path:
    command = makensis_command(inputs)
    inputs.out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not inputs.out.is_file():
        output = (done.stdout + done.stderr).strip()
        raise InstallerError(f"makensis failed (exit {done.returncode}):\n{output[-4000:]}")
    return inputs.out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "kycdesk")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "kycdesk-setup.exe")
    parser.add_argument("--version",
                        help="default: the bundle's kycdesk-release.json, else the source's")
    parser.add_argument("--launcher", type=Path)
    parser.add_argument("--root-json", type=Path)
    parser.add_argument("--update-url")
    parser.add_argument("--no-compress", action="store_true",
                        help="store files uncompressed (CI's layout check: much faster)")
    parser.add_argument("--sign-command")
    args = parser.parse_args(argv)
    try:
        out = build(InstallerInputs(
            bundle=args.bundle, out=args.out, version=choose_version(args.bundle, args.version),
            launcher=args.launcher or find_launcher(args.bundle), root_json=args.root_json,
            update_url=args.update_url, compress=not args.no_compress,
            sign_command=args.sign_command))
    except InstallerError as error:
        print(f"installer: {error}", file=sys.stderr)
        return 1
    print(f"installer: {out} ({out.stat().st_size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
