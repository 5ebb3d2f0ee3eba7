"""The notices as people read them (one plain-text file) and as machines read them (a
CycloneDX 1.6 SBOM in JSON), from the same list of components."""

from __future__ import annotations

import json
import textwrap
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from kycdesk.notices.packages import LicenceText, PackageLicence
from kycdesk.notices.policy import chosen
from kycdesk.notices.qt import is_qt, qt_section

RULE = "=" * 78
CYCLONEDX_VERSION = "1.6"


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library the bundler copied from the build machine's operating system (not
    from a wheel): which files, which OS package they came from, and its copyright file."""

    files: tuple[str, ...]
    package: str | None          # e.g. the Debian package, None when not found
    version: str | None
    copyright: str | None        # the OS package's copyright/licence text
    origin: str                  # how it was found, said in words

    @property
    def purl(self) -> str | None:
        if self.package is None or self.version is None:
            return None
        return f"pkg:deb/debian/{self.package}@{self.version}"


@dataclass(frozen=True)
class Notices:
    product: PackageLicence          # kycdesk itself
    runtime: PackageLicence          # the Python interpreter and standard library
    packages: tuple[PackageLicence, ...]
    libraries: tuple[SystemLibrary, ...] = ()

    def third_party(self) -> tuple[PackageLicence, ...]:
        return (self.runtime, *self.packages)


def render_text(notices: Notices) -> str:
    product = notices.product
    lines = [
        f"{product.name} {product.version}: licences", RULE,
        textwrap.fill(
            f"{product.name} is licensed under the {product.expression} licence (its text "
            "is at the end of this file). It contains the third-party components below, "
            "each under its own licence; in an installed bundle this list was made at build "
            "time from what is actually inside it.", 78),
        "", "Contents", "--------",
    ]
    for package in notices.third_party():
        lines.append(f"  {package.name} {package.version}: {_licence_label(package)}")
    for library in notices.libraries:
        what = f"{library.package} {library.version}" if library.package else library.origin
        lines.append(f"  {what}: system library ({', '.join(library.files)})")
    qt = [package for package in notices.packages if is_qt(package.name)]
    if qt:
        lines += ["", RULE, "Qt and Qt for Python: the LGPL-3.0", RULE,
                  qt_section(qt[0].version, [package.name for package in qt])]
    printed: dict[str, str] = {}  # a text printed once, referred to afterwards
    for package in notices.third_party():
        lines += ["", RULE, f"{package.name} {package.version}", RULE,
                  f"Licence: {_licence_label(package)}"]
        if package.home:
            lines.append(f"Home: {package.home}")
        lines += _texts(package.texts, package.name, printed)
    if notices.libraries:
        lines += ["", RULE, "Libraries from the build machine's operating system", RULE,
                  textwrap.fill(
                      "The bundler copied these shared libraries from the system the bundle "
                      "was built on; each is listed with the operating-system package it "
                      "came from and that package's copyright file (which names each "
                      "licence).", 78)]
        for library in notices.libraries:
            title = f"{library.package} {library.version}" if library.package \
                else "from outside the OS packages"
            lines += ["", "-" * 78, f"{title}: {', '.join(library.files)}",
                      f"Found: {library.origin}"]
            if library.copyright:
                key = library.copyright
                if key in printed:
                    lines.append(f"(The same copyright file as {printed[key]}.)")
                else:
                    printed[key] = library.package or ", ".join(library.files)
                    lines += ["", library.copyright.rstrip()]
    lines += ["", RULE, f"{product.name}'s own licence", RULE]
    lines += [text.text.rstrip() for text in product.texts]
    return "\n".join(lines) + "\n"


def _licence_label(package: PackageLicence) -> str:
    expression = package.expression or "no licence declared"
    taken = chosen(expression) if package.expression else expression
    return expression if taken == expression else f"{taken} (chosen from {expression})"


def _texts(texts: tuple[LicenceText, ...], owner: str, printed: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for text in texts:
        if text.digest in printed:
            lines += ["", f"--- {text.name}: the same text as under {printed[text.digest]} ---"]
            continue
        printed[text.digest] = owner
        lines += ["", f"--- {text.name} ---", text.text.rstrip()]
    return lines


def render_sbom(notices: Notices, built: datetime | None = None) -> str:
    """CycloneDX 1.6 (https://cyclonedx.org/docs/1.6/json/): the product, then every
    component with its licence expression and package URL. The serial number is derived
    from the content, so the same bundle gives the same SBOM (give `built` for the
    timestamp: SOURCE_DATE_EPOCH in reproducible builds)."""
    components: list[dict[str, object]] = []
    for package in notices.third_party():
        component: dict[str, object] = {
            "type": "library" if package is not notices.runtime else "platform",
            "bom-ref": package.purl, "name": package.name, "version": package.version,
            "purl": package.purl,
        }
        if package is notices.runtime:
            component["bom-ref"] = f"runtime:python@{package.version}"
            del component["purl"]
        if package.expression:
            component["licenses"] = [{"expression": package.expression}]
        if package.home:
            component["externalReferences"] = [{"type": "website", "url": package.home}]
        components.append(component)
    for library in notices.libraries:
        ref = library.purl or f"file:{library.files[0]}"
        entry: dict[str, object] = {"type": "library", "bom-ref": ref,
                                    "name": library.package or library.files[0]}
        if library.version:
            entry["version"] = library.version
        if library.purl:
            entry["purl"] = library.purl
        entry["properties"] = [{"name": "kycdesk:bundled-file", "value": name}
                               for name in library.files]
        components.append(entry)
    product = notices.product
    body = {"components": components}
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "kycdesk-sbom:" + json.dumps(body, sort_keys=True))
    stamp = (built or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": CYCLONEDX_VERSION,
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": stamp,
            "tools": {"components": [{"type": "application", "name": "kycdesk notices",
                                      "version": product.version}]},
            "component": {"type": "application", "bom-ref": product.purl,
                          "name": product.name, "version": product.version,
                          "purl": product.purl,
                          "licenses": [{"expression": product.expression or "NOASSERTION"}]},
        },
        "components": components,
        "dependencies": [{"ref": product.purl,
                          "dependsOn": [str(c["bom-ref"]) for c in components]}],
    }
    return json.dumps(bom, indent=2) + "\n"
