"""Third-party licences: what kycdesk contains and under which licences (shown by Help →
About and `kycdesk --licenses`).

In the bundle the notices were written at build time from what is actually inside it
(`tools/notices.py`) and are read from `licenses/` beside the executable. From a source
checkout they are made on request from the installed distributions kycdesk depends on.
"""

from __future__ import annotations

import platform
import sys
import sysconfig
from pathlib import Path

from kycdesk.notices.packages import (
    LicenceText,
    PackageLicence,
    normalise,
    parse_requirement,
    read_package,
    requirement_closure,
)
from kycdesk.notices.render import Notices, render_text

NOTICES_FOLDER = "licenses"
NOTICES_FILE = "THIRD-PARTY-NOTICES.txt"
SBOM_SUFFIX = ".cdx.json"  # dist/kycdesk.cdx.json beside dist/kycdesk/
PRODUCT = "kycdesk"
# What the bundle carries beyond the app's own dependencies (kycdesk.spec: the ID
# document reader is bundled).
BUNDLED_EXTRAS = frozenset({"documents"})


class NoticesMissingError(Exception):
    """A bundle without its notices (built without tools/notices.py): said plainly."""


def bundled_notices_path() -> Path | None:
    """Where a frozen bundle keeps its notices; None when running from source."""
    if not getattr(sys, "frozen", False):
        return None
    return Path(sys.executable).resolve().parent / NOTICES_FOLDER / NOTICES_FILE


def notices_text() -> str:
    """The notices: the bundle's file, or made now from the installed packages. Reads
    files (and, from source, every dependency's metadata): call it off the GUI thread."""
    path = bundled_notices_path()
    if path is None:
        return render_text(installed_notices())
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NoticesMissingError(f"This installation's licence notices are missing ({path}): "
                             "reinstall kycdesk or ask IT for a complete copy.") from exc


def installed_notices(names: list[str] | None = None) -> Notices:
    """Notices for `names` (installed distributions; default: kycdesk's dependencies with
    the bundled extras), with the Python runtime and kycdesk's own licence."""
    if names is None:
        names = [name for name in requirement_closure(project_requirements())
                 if normalise(name) != PRODUCT]
    packages = tuple(sorted((read_package(name) for name in names),
                            key=lambda package: package.name.lower()))
    return Notices(product_licence(), runtime_licence(), packages)


def project_requirements(extras: frozenset[str] = BUNDLED_EXTRAS) -> list[str]:
    """kycdesk's requirements with `extras`: from pyproject.toml in a checkout (an
    editable install's metadata can be older than the checkout), else the installed
    metadata."""
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
        optional = project.get("optional-dependencies", {})
        found = list(project.get("dependencies", []))
        for extra in sorted(extras):
            found += optional.get(extra, [])
        return [r for r in found if normalise(parse_requirement(r)[0]) != PRODUCT]
    from importlib import metadata

    return [f"{PRODUCT}[{','.join(sorted(extras))}]" if extras else PRODUCT] + [
        r for r in metadata.requires(PRODUCT) or [] if "extra" not in r]


def product_licence() -> PackageLicence:
    from kycdesk import __version__

    source_licence = Path(__file__).resolve().parents[2] / "LICENSE"
    if source_licence.is_file():  # a checkout: the file itself, whatever was installed
        texts: tuple[LicenceText, ...] = (
            LicenceText("LICENSE", source_licence.read_text(encoding="utf-8")),)
        return PackageLicence(PRODUCT, __version__, _product_expression(), texts, None)
    installed = read_package(PRODUCT)
    return PackageLicence(PRODUCT, __version__, installed.expression, installed.texts, None)


def _product_expression() -> str:
    """pyproject.toml's `license` (the one place it is written)."""
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["license"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return read_package(PRODUCT).expression or "Apache-2.0"


def runtime_licence() -> PackageLicence:
    """The Python interpreter and standard library inside the bundle: the PSF licence,
    whose file also carries the licences of the code CPython includes (OpenSSL, expat,
    libffi, zlib, …)."""
    candidates = [Path(sysconfig.get_path("stdlib")) / "LICENSE.txt",
                  Path(sys.base_prefix) / "LICENSE.txt",
                  Path(f"/usr/share/doc/python{sys.version_info[0]}.{sys.version_info[1]}")
                  / "copyright"]
    texts = tuple(LicenceText(path.name, path.read_text(encoding="utf-8", errors="replace"))
                  for path in candidates[:3] if path.is_file())[:1]
    return PackageLicence("Python", platform.python_version(), "PSF-2.0", texts,
                          "https://www.python.org/")


__all__ = ["NOTICES_FILE", "NOTICES_FOLDER", "SBOM_SUFFIX", "NoticesMissingError", "notices_text"]
