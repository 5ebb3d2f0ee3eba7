"""What an installed Python distribution says about its licence: the SPDX expression and
the licence files it ships (read with importlib.metadata, the standard library).

Metadata comes in three generations: PEP 639's `License-Expression` (best), the older
free-text `License` field (used when it is a valid SPDX expression), and trove
classifiers (too vague: "BSD License" names no clause count). Where a package's metadata
cannot be read as SPDX, `DECLARED` gives its licence by name, checked by a person against
the package's own licence file — never guessed from a classifier.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from kycdesk.notices.policy import Judgement, Verdict, judge

# Read from the package's COPYING.txt: "GPLv2-or-later with a special exception which
# allows to use PyInstaller to build and distribute non-free programs" (its bootloader
# is inside every bundle; SPDX names that exception).
DECLARED = {
    "pyinstaller": "GPL-2.0-or-later WITH Bootloader-exception",
    # Its LICENSE: hooks GPL-2.0-or-later (build time only), runtime hooks — the only files
    # that go into a bundle (pyi_rth_*) — Apache-2.0.
    "pyinstaller-hooks-contrib": "Apache-2.0",
}
# Packages whose wheels carry no licence file: the licence's own text, kept beside this
# module in texts/ (the LGPL-3.0 is a set of permissions on top of the GPL-3.0, so both
# are needed to read it). Read only when notices are made (the build, a source checkout):
# a bundle carries them inside its notices file, not as data.
FALLBACK_TEXTS = {
    "LGPL-3.0-only": ("LGPL-3.0.txt", "GPL-3.0.txt"),
}
_LICENCE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS|COPYRIGHT)", re.IGNORECASE)


@dataclass(frozen=True)
class LicenceText:
    name: str       # the file's name as the package ships it (or the fallback's)
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class PackageLicence:
    name: str             # the distribution's name as published (PySide6-Essentials)
    version: str
    expression: str | None
    texts: tuple[LicenceText, ...]
    home: str | None
    judgement: Judgement = field(init=False)

    def __post_init__(self) -> None:
        judgement = judge(self.expression)
        if judgement.verdict is Verdict.ALLOWED and not self.texts:
            judgement = Judgement(Verdict.UNKNOWN, "no licence text shipped or kept")
        object.__setattr__(self, "judgement", judgement)

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{normalise(self.name)}@{self.version}"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_package(name: str) -> PackageLicence:
    """One installed distribution's licence (PackageNotFoundError if not installed)."""
    dist = metadata.distribution(name)
    meta = dist.metadata
    published = meta["Name"] or name
    expression = DECLARED.get(normalise(published)) or _field(meta, "License-Expression")
    if not expression:
        legacy = (_field(meta, "License") or "").strip()
        if legacy and "\n" not in legacy and judge(legacy).verdict is not Verdict.UNKNOWN:
            expression = legacy
    texts = _shipped_texts(dist) or _fallback_texts(expression)
    return PackageLicence(published, dist.version, expression, texts, _home(meta))


def _shipped_texts(dist: metadata.Distribution) -> tuple[LicenceText, ...]:
    texts: dict[str, LicenceText] = {}
    for file in dist.files or ():
        parts = file.parts
        in_info = len(parts) >= 2 and parts[0].endswith(".dist-info")
        named = _LICENCE_FILE.match(file.name) is not None
        if not in_info or not (named or "licenses" in parts[1:-1]):
            continue
        try:
            text = Path(str(file.locate())).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        label = "/".join(parts[2:] if parts[1] == "licenses" else parts[1:])
        entry = LicenceText(label, text)
        texts.setdefault(entry.digest, entry)
    return tuple(sorted(texts.values(), key=lambda entry: _text_order(entry.name)))


def _text_order(name: str) -> tuple[int, str]:
    return (name.count("/"), name.lower())  # the package's own licence before vendored ones


def _fallback_texts(expression: str | None) -> tuple[LicenceText, ...]:
    if expression is None:
        return ()
    from kycdesk.notices.policy import chosen

    names = FALLBACK_TEXTS.get(chosen(expression), ())
    texts = Path(__file__).resolve().parent / "texts"
    return tuple(LicenceText(file, (texts / file).read_text(encoding="utf-8"))
                 for file in names)


def _field(meta: metadata.PackageMetadata, key: str) -> str | None:
    return str(meta[key]) if key in meta else None  # a missing key warns on 3.12+


def _home(meta: metadata.PackageMetadata) -> str | None:
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("homepage", "home", "source", "source code",
                                     "repository", "code"):
            return url.strip()
    return _field(meta, "Home-page")


_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def parse_requirement(requirement: str) -> tuple[str, frozenset[str], str]:
    """(name, extras, marker) of a PEP 508 string; enough for installed metadata."""
    spec, _, marker = requirement.partition(";")
    match = _REQUIREMENT.match(spec)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    extras = frozenset(e.strip() for e in (match.group(2) or "").split(",") if e.strip())
    return match.group(1), extras, marker


def requirement_closure(requirements: list[str]) -> list[str]:
    """The installed distributions `requirements` need, recursively, by published name.
    Platform markers are not evaluated: a requirement not installed here is skipped, one
    that is installed is counted (this runs on the machine that builds or runs the app)."""
    seen: dict[str, str] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    todo = [parse_requirement(requirement)[:2] for requirement in requirements]
    while todo:
        name, extras = todo.pop()
        if (normalise(name), extras) in done:
            continue
        done.add((normalise(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[normalise(name)] = dist.metadata["Name"] or name
        for requirement in dist.requires or []:
            sub, sub_extras, marker = parse_requirement(requirement)
            extra = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", marker)
            if extra is None or extra.group(1) in extras:
                todo.append((sub, sub_extras))
    return sorted(seen.values(), key=str.lower)
