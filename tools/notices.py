"""Bundle-time licence notices and SBOM, from what is actually inside a built bundle.

    python tools/notices.py dist/kycdesk        (tools/build_bundle.py calls `write`)

Finds every Python distribution whose code is in the bundle (the modules in PyInstaller's
archive and the folders and extension modules in `_internal/`, mapped to the installed
distributions that provide them), plus PyInstaller's bootloader and runtime hooks, the
Python runtime, and the shared libraries the bundler copied from the build machine's
operating system (Debian: the package each came from and its copyright file). Writes:

    <bundle>/licenses/THIRD-PARTY-NOTICES.txt   read by `kycdesk --licenses` and Help → About
    <bundle>/licenses/LICENSE.txt               kycdesk's own licence
    <bundle>.cdx.json                           the CycloneDX SBOM, beside the bundle folder

Exit code 1 (and `write` returns the problems) when a component has no known licence, a
GPL/AGPL one (kycdesk.notices.policy), or code that no installed distribution provides.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from kycdesk.notices import (  # noqa: E402
    NOTICES_FILE,
    NOTICES_FOLDER,
    SBOM_SUFFIX,
    installed_notices,
)
from kycdesk.notices.packages import normalise  # noqa: E402
from kycdesk.notices.policy import Verdict  # noqa: E402
from kycdesk.notices.render import Notices, SystemLibrary, render_sbom, render_text  # noqa: E402

# Always in a bundle: PyInstaller's bootloader (the executable) and its runtime hooks.
BUILD_TOOLS = ("pyinstaller", "pyinstaller-hooks-contrib")
# Top-level names that are the bundle's own or PyInstaller's, not a distribution's.
OWN_NAMES = {"kycdesk", "resources", "base_library", "python3", "licenses", "__main__",
             "struct"}
OWN_PREFIXES = ("pyimod", "pyiboot", "pyi_rth", "_pyi_rth", "python3", "python",
                "_sysconfigdata")  # the standard library's build-time configuration
# Windows: DLLs that come with the Python installation (covered by Python's licence file,
# which lists OpenSSL, libffi, SQLite, …) and Microsoft's C runtime (redistributable).
WINDOWS_RUNTIME = {
    "python": "CPython for Windows (Python's licence, above)",
    "libcrypto": "OpenSSL from the Python installation (Python's licence, above)",
    "libssl": "OpenSSL from the Python installation (Python's licence, above)",
    "libffi": "libffi from the Python installation (Python's licence, above)",
    "sqlite3": "SQLite from the Python installation (public domain)",
    "vcruntime140": "Microsoft Visual C++ Redistributable (redistributable by its licence)",
    "msvcp140": "Microsoft Visual C++ Redistributable (redistributable by its licence)",
    "ucrtbase": "Microsoft Universal C Runtime (redistributable by its licence)",
    "api-ms-win": "Microsoft Universal C Runtime (redistributable by its licence)",
}


RUNTIME_LIBRARIES = ("libpython", "python3")
RUNTIME_ORIGIN = "the Python runtime the bundle was built with (Python's licence, above)"


@dataclass(frozen=True)
class Report:
    notices: Notices
    problems: list[str]
    warnings: list[str]


def internal_dir(bundle: Path) -> Path:
    internal = bundle / "_internal"
    return internal if internal.is_dir() else bundle


def executable(bundle: Path) -> Path:
    return bundle / ("kycdesk.exe" if os.name == "nt" else "kycdesk")


def archived_top_names(bundle: Path) -> set[str]:
    """Top-level module names in the PYZ archive PyInstaller appended to the executable."""
    from PyInstaller.archive.readers import CArchiveReader  # type: ignore[import-untyped]

    archive = CArchiveReader(str(executable(bundle)))
    names: set[str] = set()
    for entry in archive.toc:
        if entry.endswith(".pyz"):
            names |= {name.split(".")[0] for name in archive.open_embedded_archive(entry).toc}
        else:
            names.add(entry.split(".")[0])
    return names


def folder_top_names(bundle: Path) -> set[str]:
    """Packages and extension modules laid out in `_internal/` (not the system libraries)."""
    names: set[str] = set()
    for entry in internal_dir(bundle).iterdir():
        # A link points into a package folder counted under its own name (libpyside6).
        if entry.name.endswith((".dist-info", ".libs", ".egg-info")) or entry.is_symlink() \
                or entry.name == "licenses":
            continue
        if entry.is_dir():
            names.add(entry.name)
        elif ".cpython-" in entry.name or ".abi3." in entry.name or entry.suffix == ".pyd":
            names.add(entry.name.split(".")[0])
    return names


def bundled_distributions(bundle: Path) -> tuple[list[str], list[str]]:
    """(distributions whose code is in the bundle, top-level names nobody provides)."""
    provided = metadata.packages_distributions()
    found: dict[str, str] = {}
    orphans: list[str] = []
    stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    for name in sorted(archived_top_names(bundle) | folder_top_names(bundle)):
        if name in stdlib or name in OWN_NAMES or name.startswith(OWN_PREFIXES):
            continue
        dists = provided.get(name)
        if not dists:
            orphans.append(name)
            continue
        for dist in dists:
            if normalise(dist) != "kycdesk":
                found.setdefault(normalise(dist), dist)
    for tool in BUILD_TOOLS:
        with contextlib.suppress(metadata.PackageNotFoundError):  # not from PyInstaller
            found.setdefault(tool, metadata.distribution(tool).metadata["Name"] or tool)
    return sorted(found.values(), key=str.lower), orphans


def system_libraries(bundle: Path) -> list[SystemLibrary]:
    """Shared libraries directly in `_internal/` that are real files (a wheel's libraries
    are links into its package folder there) and no Python extension module."""
    files = sorted(entry.name for entry in internal_dir(bundle).iterdir()
                   if entry.is_file() and not entry.is_symlink() and _is_shared_library(entry))
    # The interpreter's own library comes from the Python that built the bundle (pyenv,
    # python.org, a distribution: whichever), whatever package owns a file of that name.
    runtime = [name for name in files if name.lower().startswith(RUNTIME_LIBRARIES)]
    files = [name for name in files if name not in runtime]
    found = [SystemLibrary(tuple(runtime), None, None, None, RUNTIME_ORIGIN)] if runtime else []
    if files and shutil.which("dpkg-query"):
        return found + _debian_libraries(files)
    return found + [_windows_library(name) for name in files]


def _is_shared_library(path: Path) -> bool:
    name = path.name.lower()
    if ".cpython-" in name or ".abi3." in name or name.endswith(".pyd"):
        return False
    return name.endswith((".dll", ".dylib")) or ".so" in name


def _debian_libraries(files: list[str]) -> list[SystemLibrary]:
    owners: dict[str, str] = {}
    search = subprocess.run(["dpkg-query", "-S", *[f"*/{name}" for name in files]],
                            capture_output=True, text=True, check=False)
    for line in search.stdout.splitlines():
        package, _, path = line.partition(": ")
        name = Path(path.strip()).name
        if name in files and "," not in package:
            owners.setdefault(name, package.split(":")[0])
    by_package: dict[str, list[str]] = {}
    unknown: list[SystemLibrary] = []
    for name in files:
        if name in owners:
            by_package.setdefault(owners[name], []).append(name)
        else:
            unknown.append(SystemLibrary((name,), None, None, None,
                                         "no Debian package owns a file of this name"))
    libraries = []
    for package, names in sorted(by_package.items()):
        version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                                 capture_output=True, text=True, check=False).stdout.strip()
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        text = copyright_file.read_text(encoding="utf-8", errors="replace") \
            if copyright_file.is_file() else None
        libraries.append(SystemLibrary(tuple(names), package, version or None, text,
                                       f"Debian package {package} ({copyright_file})"))
    return libraries + unknown


def _windows_library(name: str) -> SystemLibrary:
    lowered = name.lower()
    origin = next((what for prefix, what in WINDOWS_RUNTIME.items()
                   if lowered.startswith(prefix)), None)
    return SystemLibrary((name,), None, None, None, origin or "not identified")


def collect(bundle: Path) -> Report:
    names, orphans = bundled_distributions(bundle)
    notices = installed_notices(names)
    notices = Notices(notices.product, notices.runtime, notices.packages,
                      tuple(system_libraries(bundle)))
    problems = [f"{package.name} {package.version}: {package.judgement.reason} "
                f"({package.expression or 'no expression'})"
                for package in notices.third_party()
                if package.judgement.verdict is not Verdict.ALLOWED]
    problems += [f"{name}: in the bundle, but no installed distribution provides it"
                 for name in orphans]
    warnings = [f"{', '.join(library.files)}: {library.origin}"
                for library in notices.libraries
                if library.origin == "not identified"
                or library.origin.startswith("no Debian package")]
    return Report(notices, problems, warnings)


def sbom_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + SBOM_SUFFIX)


def write(bundle: Path) -> Report:
    """Write the notices and the SBOM into (and beside) `bundle`; the report says what is
    wrong, if anything (the files are written either way, for a person to read)."""
    report = collect(bundle)
    folder = bundle / NOTICES_FOLDER
    folder.mkdir(exist_ok=True)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    built = datetime.fromtimestamp(int(epoch), UTC) if epoch else None
    sbom = render_sbom(report.notices, built)
    (folder / NOTICES_FILE).write_text(render_text(report.notices), encoding="utf-8")
    (folder / "LICENSE.txt").write_text(report.notices.product.texts[0].text, encoding="utf-8")
    sbom_path(bundle).write_text(sbom, encoding="utf-8")
    return report


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    bundle = Path(argv[0])
    report = write(bundle)
    size = sum(p.stat().st_size for p in (bundle / NOTICES_FOLDER).iterdir())
    print(f"notices: {len(report.notices.third_party())} packages, "
          f"{len(report.notices.libraries)} system library packages, "
          f"{size / 1024:.0f} kB in {bundle / NOTICES_FOLDER}")
    for warning in report.warnings:
        print(f"notices: warning: {warning}")
    for problem in report.problems:
        print(f"notices: PROBLEM: {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
